"""Check that a specification names only columns that exist, before any data is read.

Every expression of a specification (populations, outcomes, exposures, modifiers, covariates,
follow-up times, descriptive variables and groups, usual-intake domains, declared variables'
expressions) is parsed with polars' SQL parser and the columns it refers to are compared with
the analytic dataset's schema (the variable registry) plus the variables the specification
declares itself. An unknown column is one :class:`~nhanes_mg.errors.SpecError` line naming the
file, the field and the column, with a "did you mean" drawn from the real column names only.

Examples
--------
>>> unknown_columns("mg_totl >= 300 AND age >= 20", {"mg_total", "age"})
['mg_totl']
>>> suggestion("mg_totl", {"mg_total", "age"})
" (did you mean 'mg_total'?)"
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from nhanes_mg.derive.registry import schema
from nhanes_mg.errors import SpecError
from nhanes_mg.expressions import variables_of


def analytic_columns() -> frozenset[str]:
    """The analytic dataset's public columns (the registry's schema: no helper columns)."""
    return frozenset(schema())


def unknown_columns(text: str, known: Iterable[str]) -> list[str]:
    """The columns an SQL expression refers to that are not in ``known``, in order."""
    known = set(known)
    return [n for n in variables_of([text]) if n not in known]


def suggestion(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest known name, or ``""``."""
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _fields(spec: object) -> Iterator[tuple[str, str, frozenset[str]]]:
    """(field, expression, extra names it may use) for every expression of a specification."""
    none: frozenset[str] = frozenset()
    yield "population", str(getattr(spec, "population", "") or ""), none
    for prefix, analyses in (
        ("analysis", getattr(spec, "analyses", ())),
        ("sensitivity", getattr(spec, "sensitivities", ())),
    ):
        for i, analysis in enumerate(analyses):
            where = f"{prefix}[{i}]."
            groups = getattr(analysis, "groups", {}) or {}
            for key in ("population", "outcome", "exposure", "modifier", "time"):
                value = getattr(analysis, key, None)
                if value:
                    yield where + key, value, none
            if getattr(analysis, "kind", "") == "descriptive":
                for key in ("variable", "denominator"):
                    value = getattr(analysis, key, None)
                    if value:
                        yield where + key, value, none
                for key, text in groups.items():
                    yield f"{where}groups.{key}", text, none
                for column in getattr(analysis, "by", ()):
                    yield where + "by", column, frozenset(groups) | {"cycle"}
            for column in getattr(analysis, "covariates", ()) or ():
                yield where + "covariates", column, none
            for j, domain in enumerate(getattr(analysis, "domains", ()) or ()):
                text = getattr(domain, "where", domain)
                if isinstance(text, str) and text:
                    yield f"{where}domains[{j}]", text, none


def check_columns(spec: object, known: Iterable[str] | None = None) -> None:
    """Raise :class:`SpecError` on the first expression naming an unknown column.

    ``known`` defaults to the analytic dataset's columns; the specification's own declared
    variables are added (an expression variable may use those declared before it).
    """
    path = str(getattr(spec, "path", "") or "<spec>")
    base = frozenset(known) if known is not None else analytic_columns()
    declared: list[str] = []
    for variable in getattr(spec, "variables", ()):
        where = f"variables.{variable.name}"
        if variable.name in base:
            raise SpecError(
                f"{path}: field '{where}': {variable.name!r} is already an analytic column; "
                "choose another name"
            )
        if variable.expr is not None:
            known_here = base | set(declared)
            _check(path, where + ".expr", variable.expr, known_here, known_here)
        declared.append(variable.name)
    known_all = base | set(declared)
    outputs = getattr(spec, "outputs", None)
    for column in getattr(outputs, "table1_extra", ()):
        _check(path, "outputs.table1_extra", column, known_all, known_all)
    for where, text, extra in _fields(spec):
        _check(path, where, text, known_all | extra, known_all | extra)


def _check(path: str, where: str, text: str, known: Iterable[str], real: Iterable[str]) -> None:
    try:
        unknown = unknown_columns(text, known)
    except Exception as exc:  # polars raises several error types for bad SQL
        raise SpecError(f"{path}: field '{where}': cannot parse {text!r} ({exc})") from exc
    if unknown:
        name = unknown[0]
        raise SpecError(f"{path}: field '{where}': unknown column {name!r}{suggestion(name, real)}")
