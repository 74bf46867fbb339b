"""The SQL expressions of specifications, checked before anything evaluates them.

Polars' SQL accepts sub-queries and table functions: ``(SELECT … FROM read_csv('/etc/passwd'))``
reads the file, and ``read_csv('https://…')`` reaches the network, while the expression is
being *parsed* by ``pl.sql_expr``. A specification (or a ``--domain``, ``--population``) is
data that someone else may have written, so its expressions may hold only column names,
literals, arithmetic, comparisons, boolean logic, ``IN``, ``BETWEEN``, ``IS [NOT] NULL``,
``CASE``, ``CAST`` and the scalar functions of :data:`FUNCTIONS`, and they are bounded in size.

sqlglot (a maintained SQL parser, already the parser of the sample flow's clauses) parses the
text; the tree is walked against an allow-list of node types, and anything else (a
sub-query, a table function, an unknown function, a star, a parameter, a comment) is refused
with one line naming it. **Polars never sees the user's text**: it parses the text sqlglot
generates from the checked tree. Two parsers may read one text differently — a MySQL-style
comment ``/*! … */`` is a comment to sqlglot but code to polars — so what polars parses must
be exactly what was checked. Written by hand: no library offers an allow-list of SQL
expression nodes.

Examples
--------
>>> sql_expr("age >= 20 AND NOT coalesce(pregnant, false)").meta.root_names()
['age', 'pregnant']
>>> check_sql("(SELECT count(*) FROM read_csv('/etc/passwd')) > 0")
Traceback (most recent call last):
...
nhanes_mg.expressions.UnsafeExpressionError: a sub-query (SELECT …) is not allowed in an expression
>>> check_sql("age >= 20 /*! AND (SELECT 1 FROM read_csv('/etc/passwd')) > 0 */")
Traceback (most recent call last):
...
nhanes_mg.expressions.UnsafeExpressionError: a comment (-- … or /* … */) is not allowed ...
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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


_COMMENT = "a comment (-- … or /* … */)"


class UnsafeExpressionError(SpecError):
    """An expression holds something a specification's expression may not (one line)."""


def check_sql(text: str) -> None:
    """Refuse ``text`` unless it is an expression of the allowed kinds (module docstring).

    Raises :class:`UnsafeExpressionError` naming what is not allowed (never echoing data)."""
    _checked_tree(text)


def _checked_tree(text: str) -> Any:  # sqlglot names its node base class per version
    """sqlglot's tree of ``text`` once every node has passed the allow-list."""
    if not isinstance(text, str) or not text.strip():
        raise UnsafeExpressionError("an expression must be non-empty text")
    if len(text) > MAX_LENGTH:
        raise UnsafeExpressionError(
            f"the expression is {len(text):,} characters long (at most {MAX_LENGTH:,})"
        )
    try:
        tokens = sqlglot.tokenize(text)
        if any(token.comments for token in tokens):  # polars may run what sqlglot skips
            raise UnsafeExpressionError(f"{_COMMENT} is not allowed in an expression")
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
    return tree


@dataclass(frozen=True, eq=False)
class Condition:
    """An expression of a specification parsed once: its text, its polars expression, the
    columns it reads and its top-level ``AND`` clauses (each with its own expression, for the
    sample flow). Get one with :func:`condition`, which parses each distinct text once per
    process; combine parsed ones with :meth:`and_`, without text.

    >>> c = condition("age >= 20 AND NOT coalesce(pregnant, false)")
    >>> c.columns, c.clauses
    (('age', 'pregnant'), ('age >= 20', 'NOT COALESCE(pregnant, FALSE)'))
    >>> condition("age >= 20 AND NOT coalesce(pregnant, false)") is c  # parsed once
    True
    >>> both = c.and_(condition("sex = 'female'"))
    >>> both.columns, len(both.clauses)
    (('age', 'pregnant', 'sex'), 3)
    """

    text: str
    expr: pl.Expr
    columns: tuple[str, ...]
    clauses: tuple[str, ...]
    clause_exprs: tuple[pl.Expr, ...]

    def and_(self, *others: Condition) -> Condition:
        """All of these conditions: their expressions AND-ed, their clauses one after another
        (the text, for reading only, is each in parentheses joined by AND)."""
        parts = (self, *others)
        expr = parts[0].expr
        for other in parts[1:]:
            expr = expr & other.expr
        return Condition(
            text=" AND ".join(f"({c.text})" for c in parts),
            expr=expr,
            columns=tuple(dict.fromkeys(col for c in parts for col in c.columns)),
            clauses=tuple(clause for c in parts for clause in c.clauses),
            clause_exprs=tuple(e for c in parts for e in c.clause_exprs),
        )


@functools.lru_cache(maxsize=4096)
def condition(text: str) -> Condition:
    """``text`` checked (:func:`check_sql`) and parsed, once per process for each text.

    Raises :class:`UnsafeExpressionError` when the text is refused or polars cannot parse it
    (polars' own parser has a lower nesting limit than sqlglot's), in one line.

    >>> condition("NOT " * 60 + "(age > 3)")
    Traceback (most recent call last):
    ...
    nhanes_mg.expressions.UnsafeExpressionError: polars cannot parse it (invalid expression ...
    """
    tree = _checked_tree(text)
    expr = _polars(_generated(tree))
    parts = list(tree.flatten()) if isinstance(tree, exp.And) else [tree]
    clauses = tuple(part.sql() for part in parts)
    try:  # each clause must be one polars can evaluate on its own, else the text is one step
        clause_exprs = tuple(condition(c).expr for c in clauses) if len(clauses) > 1 else (expr,)
    except UnsafeExpressionError:
        clauses, clause_exprs = (text,), (expr,)
    return Condition(text, expr, tuple(expr.meta.root_names()), clauses, clause_exprs)


def _generated(tree: Any) -> str:
    """The text polars parses: sqlglot's rendering of the checked tree, comments dropped,
    never the user's own text (module docstring).

    >>> _generated(_checked_tree("age>=20 and sex != 'a''b'"))
    "age >= 20 AND sex <> 'a''b'"
    """
    return str(tree.sql(comments=False))


def _polars(text: str) -> pl.Expr:
    try:
        return pl.sql_expr(text)
    except Exception as exc:  # polars raises several error types for bad SQL
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if len(first) > 120:
            first = first[:117] + "..."
        raise UnsafeExpressionError(
            f"polars cannot parse it ({first}); if it is nested deeply, use fewer levels"
        ) from None


def sql_expr(text: str) -> pl.Expr:
    """The polars expression of ``text`` (:func:`condition`): the only way the package turns
    a specification's text into an expression."""
    return condition(text).expr


def variables_of(expressions: Iterable[str | None]) -> list[str]:
    """The dataset columns that SQL expressions (or plain column names) refer to, in order.

    >>> variables_of(["age >= 20 AND sex = 'female'", None, "age"])
    ['age', 'sex']
    """
    out: list[str] = []
    for text in expressions:
        if text:
            out += condition(text).columns
    return list(dict.fromkeys(out))
