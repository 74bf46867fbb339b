"""The SQL expressions of specifications, checked before anything evaluates them.

Polars' SQL accepts sub-queries and table functions: ``(SELECT … FROM read_csv('/etc/passwd'))``
reads the file, and ``read_csv('https://…')`` reaches the network, while the expression is
being *parsed* by ``pl.sql_expr``. A specification (or a ``--domain``, ``--population``) is
data that someone else may have written, so its expressions may hold only column names,
literals, arithmetic, comparisons, boolean logic, ``IN``, ``BETWEEN``, ``IS [NOT] NULL``,
``CASE``, ``CAST`` and the scalar functions of :data:`FUNCTIONS`, and they are bounded in size.

sqlglot (a maintained SQL parser, already the parser of the sample flow's clauses) parses the
text; the tree is walked against an allow-list of node types, and anything else (a
sub-query, a table function, an unknown function, a star, a parameter) is refused with one
line naming it, before polars ever sees the text. Written by hand: no library offers an
allow-list of SQL expression nodes.

Examples
--------
>>> sql_expr("age >= 20 AND NOT coalesce(pregnant, false)").meta.root_names()
['age', 'pregnant']
>>> check_sql("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0")
Traceback (most recent call last):
...
nhanes_mg.expressions.UnsafeExpressionError: a sub-query (SELECT …) is not allowed in an expression
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl
import sqlglot
from sqlglot import exp

from nhanes_mg.errors import SpecError

MAX_LENGTH = 20_000  # characters: a condition is a line or two, not a program
MAX_NODES = 2_000  # parse-tree nodes: polars' cost grows steeply with the number of clauses

# scalar functions an expression may call (sqlglot's node type → the name users write)
FUNCTIONS: dict[type[exp.Expression], str] = {
    exp.Coalesce: "coalesce",
    exp.Abs: "abs",
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Ln: "ln",
    exp.Log: "log",
    exp.Exp: "exp",
    exp.Sqrt: "sqrt",
    exp.Pow: "power",
    exp.Least: "least",
    exp.Greatest: "greatest",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Nullif: "nullif",
}
_NODES: tuple[type[exp.Expression], ...] = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.Tuple,  # the list of IN (…)
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.Case,
    exp.If,
    exp.Cast,
    exp.DataType,
    *FUNCTIONS,
)
_WORDS: dict[type[exp.Expression], str] = {
    exp.Subquery: "a sub-query (SELECT …)",
    exp.Select: "a sub-query (SELECT …)",
    exp.Union: "a sub-query (SELECT …)",
    exp.Table: "a table",
    exp.Star: "*",
    exp.Placeholder: "a parameter",
    exp.Parameter: "a parameter",
}


class UnsafeExpressionError(SpecError):
    """An expression holds something a specification's expression may not (one line)."""


def check_sql(text: str) -> None:
    """Refuse ``text`` unless it is an expression of the allowed kinds (module docstring).

    Raises :class:`UnsafeExpressionError` naming what is not allowed (never echoing data)."""
    if not isinstance(text, str) or not text.strip():
        raise UnsafeExpressionError("an expression must be non-empty text")
    if len(text) > MAX_LENGTH:
        raise UnsafeExpressionError(
            f"the expression is {len(text):,} characters long (at most {MAX_LENGTH:,})"
        )
    try:
        tree = sqlglot.parse_one(text)
    except RecursionError:
        raise UnsafeExpressionError(
            "the expression is nested too deeply (parentheses, CASE or functions within "
            "one another); write it with fewer levels"
        ) from None
    except (sqlglot.errors.ParseError, sqlglot.errors.TokenError) as exc:
        found = getattr(exc, "errors", None) or [{}]
        col = found[0].get("col")
        where = f" near character {col}" if isinstance(col, int) else ""
        raise UnsafeExpressionError(f"cannot parse it as an SQL expression{where}") from None
    nodes = 0
    for node in tree.walk():
        nodes += 1
        if nodes > MAX_NODES:
            raise UnsafeExpressionError(
                f"the expression has more than {MAX_NODES:,} parts: split the analysis"
            )
        if isinstance(node, _NODES):
            continue
        what = next((w for t, w in _WORDS.items() if isinstance(node, t)), None)
        if what is None and isinstance(node, exp.Func):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
            what = f"the function {name.lower()}()"
        if what is None:
            what = f"{type(node).__name__} ({node.sql()[:40]!r})"
        raise UnsafeExpressionError(
            f"{what} is not allowed in an expression"
            + (
                f" (functions allowed: {', '.join(sorted(set(FUNCTIONS.values())))})"
                if what.startswith("the function")
                else ""
            )
        )


def sql_expr(text: str) -> pl.Expr:
    """``pl.sql_expr(text)`` once :func:`check_sql` has passed: the only way the package
    turns a specification's text into an expression.

    Raises :class:`UnsafeExpressionError` when the text is refused or polars cannot parse it
    (polars' own parser has a lower nesting limit than sqlglot's), in one line.

    >>> sql_expr("NOT " * 60 + "(age > 3)")
    Traceback (most recent call last):
    ...
    nhanes_mg.expressions.UnsafeExpressionError: polars cannot parse it (invalid expression ...
    """
    check_sql(text)
    try:
        return pl.sql_expr(text)
    except Exception as exc:  # polars raises several error types for bad SQL
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(first) > 120:
            first = first[:117] + "..."
        raise UnsafeExpressionError(
            f"polars cannot parse it ({first}); if it is nested deeply, use fewer levels"
        ) from None


def variables_of(expressions: Iterable[str | None]) -> list[str]:
    """The dataset columns that SQL expressions (or plain column names) refer to, in order.

    >>> variables_of(["age >= 20 AND sex = 'female'", None, "age"])
    ['age', 'sex']
    """
    out: list[str] = []
    for text in expressions:
        if text:
            out += sql_expr(text).meta.root_names()
    return list(dict.fromkeys(out))
