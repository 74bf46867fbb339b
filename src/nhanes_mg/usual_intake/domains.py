"""Domains of the usual-intake summaries: SQL conditions over the analytic dataset.

A domain is a label and a condition in the same SQL dialect as a specification's
``population`` (polars' ``pl.sql_expr``: ``age BETWEEN 9 AND 13 AND NOT supp_user``,
``sex = 'male' AND age >= 20``). The model is fitted once for everyone; a domain only selects
whose usual-intake draws (and weights) a summary adds up, within the full design — domain
estimation, never dropping rows before the replicates are built. A person whose condition is
null is outside the domain.

:data:`DEFAULT_DOMAINS` are the 29 built-in domains (everyone, ages 2+, 19+, each sex, the DRI
age groups and sex × age group), written as conditions too; their labels (``"age 19+"``,
``"female 51-70"``) are accepted wherever a domain is (:func:`as_domains`).

This module is light on purpose (polars only): specifications import it to validate
``domain``/``domains`` without loading the numerical core.

Examples
--------
>>> [d.label for d in as_domains(["age 19+", "sex = 'male' AND age >= 20"])]
['age 19+', "sex = 'male' AND age >= 20"]
>>> as_domains([{"label": "men 20+", "where": "sex = 'male' AND age >= 20"}])[0].where
"sex = 'male' AND age >= 20"
>>> parse_domain_option("men 20+: sex = 'male' AND age >= 20")
Domain(label='men 20+', where="sex = 'male' AND age >= 20", source='domain')
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from nhanes_mg.errors import SpecError
from nhanes_mg.expressions import UnsafeExpressionError, sql_expr, variables_of

BoolArray = NDArray[np.bool_]

# The DRI age groups (years); the last is open-ended (200: no upper bound).
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("1-3", 1, 3),
    ("4-8", 4, 8),
    ("9-13", 9, 13),
    ("14-18", 14, 18),
    ("19-30", 19, 30),
    ("31-50", 31, 50),
    ("51-70", 51, 70),
    ("71+", 71, 200),
)
_OPEN_END = 200


@dataclass(frozen=True)
class Domain:
    """A labelled condition; ``source`` names where it came from (a CLI option or a spec
    field), for error messages."""

    label: str
    where: str
    source: str = "domain"


def _age(lo: int, hi: int) -> str:
    return f"age >= {lo}" if hi >= _OPEN_END else f"age BETWEEN {lo} AND {hi}"


def _default_domains() -> tuple[Domain, ...]:
    out = [
        Domain("all", "TRUE"),
        Domain("age 2+", "age >= 2"),
        Domain("age 19+", "age >= 19"),
        Domain("male", "sex = 'male'"),
        Domain("female", "sex = 'female'"),
    ]
    out += [Domain(f"age {name}", _age(lo, hi)) for name, lo, hi in AGE_GROUPS]
    out += [
        Domain(f"{sex} {name}", f"sex = '{sex}' AND {_age(lo, hi)}")
        for sex in ("male", "female")
        for name, lo, hi in AGE_GROUPS
    ]
    return tuple(out)


DEFAULT_DOMAINS: tuple[Domain, ...] = _default_domains()
BUILTIN: dict[str, Domain] = {d.label: d for d in DEFAULT_DOMAINS}


def domain_of(item: Any, source: str = "domain") -> Domain:
    """One domain from a :class:`Domain`, a built-in label, an SQL condition (labelled by
    itself), a ``(label, where)`` pair or a ``{"label": …, "where": …}`` table (label
    optional); :class:`SpecError` (prefixed by ``source``) for anything else."""
    if isinstance(item, Domain):
        return item
    if isinstance(item, str):
        builtin = BUILTIN.get(item.strip())
        if builtin is not None:
            return Domain(builtin.label, builtin.where, source)
        return Domain(item.strip(), item.strip(), source)
    if isinstance(item, tuple) and len(item) == 2 and all(isinstance(x, str) for x in item):
        return Domain(item[0].strip(), item[1].strip(), source)
    if isinstance(item, Mapping) and isinstance(item.get("where"), str):
        unknown = set(item) - {"label", "where"}
        if unknown:
            raise SpecError(
                f"{source}: unknown key {sorted(unknown)[0]!r}; a domain table has 'where' "
                "(an SQL condition) and optionally 'label'"
            )
        label = item.get("label", item["where"])
        if not isinstance(label, str) or not label.strip():
            raise SpecError(f"{source}: label must be non-empty text, not {label!r}")
        return Domain(label.strip(), item["where"].strip(), source)
    raise SpecError(
        f"{source}: a domain is an SQL condition (text) or a table "
        f"{{label = '…', where = '…'}}, not {item!r}"
    )


def as_domains(items: Iterable[Any] | None, source: str = "domain") -> tuple[Domain, ...]:
    """Domains from a list of what :func:`domain_of` takes (or one of them); ``None`` gives
    :data:`DEFAULT_DOMAINS`. Labels must be unique."""
    if items is None:
        return DEFAULT_DOMAINS
    if isinstance(items, str | Domain | Mapping):  # one domain (a pair goes in a list)
        items = [items]
    out = tuple(domain_of(item, source) for item in items)
    labels = [d.label for d in out]
    dupes = sorted({x for x in labels if labels.count(x) > 1})
    if dupes:
        raise SpecError(f"{source}: domain labels must be unique; {dupes[0]!r} is given twice")
    return out


def parse_domain_option(text: str, source: str = "domain") -> Domain:
    """A command-line domain: ``"CONDITION"`` or ``"LABEL: CONDITION"`` (split at the first
    ``": "`` when the text before it has no quote), or a built-in label."""
    head, sep, tail = text.partition(": ")
    if sep and head.strip() and "'" not in head and '"' not in head:
        return Domain(head.strip(), tail.strip(), source)
    return as_domains([text], source)[0]


def parse_condition(text: str, source: str) -> pl.Expr:
    """Parse an SQL condition with the parser every specification expression goes through
    (``pl.sql_expr``, as :func:`nhanes_mg.study.spec.check_expression`), or raise :class:`SpecError`
    naming ``source``."""
    if not text.strip():
        raise SpecError(f"{source}: the condition is empty")
    try:
        return sql_expr(text)
    except UnsafeExpressionError as exc:
        raise SpecError(f"{source} {text[:80]!r}: {exc}") from None


def check_domains(
    domains: Sequence[Domain], columns: Iterable[str] | None = None
) -> dict[str, pl.Expr]:
    """Parse every domain's condition and, given the dataset's ``columns``, check that every
    column it names exists; raise :class:`SpecError` naming the domain's source (e.g.
    ``--domain``) and the column. Returns the parsed expressions by condition text."""

    known = None if columns is None else list(columns)
    parsed: dict[str, pl.Expr] = {}
    for d in domains:
        if d.where in parsed:
            continue
        parsed[d.where] = parse_condition(d.where, d.source)
        if known is None:
            continue
        for name in variables_of([d.where]):
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise SpecError(
                    f"{d.source} {d.where!r}: no column {name!r} in the analytic dataset{hint}"
                )
    return parsed


def evaluate(frame: pl.DataFrame, domain: Domain, expr: pl.Expr | None = None) -> BoolArray:
    """The condition on every row of ``frame`` (null → outside the domain)."""
    expr = parse_condition(domain.where, domain.source) if expr is None else expr
    try:
        values = frame.select(expr.alias("_")).to_series()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise SpecError(
            f"{domain.source} {domain.where!r}: cannot evaluate it on the analytic dataset "
            f"({first})"
        ) from exc
    if values.dtype == pl.Null:
        values = values.cast(pl.Boolean)
    if values.dtype != pl.Boolean:
        raise SpecError(
            f"{domain.source} {domain.where!r}: is not a condition (it gives {values.dtype})"
        )
    if values.len() == 1 and frame.height != 1:  # a literal (TRUE): every row
        values = pl.repeat(values[0], frame.height, eager=True, dtype=pl.Boolean)
    return np.asarray(values.fill_null(False).to_numpy(), dtype=bool)


def and_population(domains: Sequence[Domain], population: str | None) -> tuple[Domain, ...]:
    """Each domain restricted to the population (its condition AND-ed in), labels kept."""
    if not population or population.strip().upper() == "TRUE":
        return tuple(domains)
    return tuple(
        Domain(d.label, f"({population}) AND ({d.where})", d.source)
        if d.where.strip().upper() != "TRUE"
        else Domain(d.label, population, d.source)
        for d in domains
    )
