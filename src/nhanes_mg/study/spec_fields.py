"""Reading a specification's TOML fields: the fields each table allows, and typed getters that
raise one :class:`~nhanes_mg.errors.SpecError` naming the file and the field."""

from __future__ import annotations

import math
import re
from typing import Any

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.errors import CatalogError, SpecError
from nhanes_mg.expressions import UnsafeExpressionError, sql_expr

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")  # a name: analyses, statements, variables

# Old rule names (before the verdict vocabulary): rule -> (kind, direction)
_OLD_RULES: dict[str, tuple[str, str]] = {
    "above": ("threshold", "above"),
    "below": ("threshold", "below"),
    "effect_below_1": ("effect", "below"),
    "effect_above_1": ("effect", "above"),
}

MISSING_DATA = ("complete_case", "impute")  # a model analysis's `missing`

TOP_FIELDS = {
    "id",
    "title",
    "claim",
    "source",
    "citation",
    "cycles",
    "weight",
    "population",
    "model",
    "notes",
    "limits",
    "covariate_sets",
    "variables",
    "outputs",
    "analysis",
    "sensitivity",
    "reference",
    "verdict",
    "statement",
}
COMMON_FIELDS = {"name", "label", "model", "population", "cycles", "weight", "compare"}
MODEL_FIELDS = COMMON_FIELDS | {
    "outcome",
    "outcome_label",
    "exposure",
    "exposure_label",
    "exposure_unit",
    "exposure_type",
    "quantiles",
    "cutpoints",
    "reference_category",
    "per",
    "covariates",
    "modifier",
    "modifier_cut",
    "modifier_labels",
    "trend",
    "time",
    "spline",
    "contrast",
    "exposure_error",
    "missing",
    "imputations",
}
DESCRIPTIVE_FIELDS = COMMON_FIELDS | {
    "statistic",
    "variable",
    "denominator",
    "q",
    "by",
    "groups",
    "trend",
    "age_standardize",
    "contrast",
}
USUAL_FIELDS = COMMON_FIELDS | {
    "statistic",
    "variable",
    "basis",
    "domain",
    "domains",
    "brr",
    "pool",
    "contrast",
}
SENSITIVITY_FIELDS = {
    "name",
    "label",
    "analysis",
    "add_covariates",
    "term",
    "direction",
    "comparable",
} | (MODEL_FIELDS | DESCRIPTIVE_FIELDS | USUAL_FIELDS) - {"name"}
VARIABLE_FIELDS = {"table", "column", "missing", "expr", "unit", "label"}
REFERENCE_FIELDS = {"text", "estimate", "conf_low", "conf_high", "points", "cycles"}
VERDICT_FIELDS = {
    "analysis",
    "term",
    "cycle",
    "group",
    "rule",
    "direction",
    "value",
    "stronger_in",
    "smallest_effect",
    "analyses",
}
STATEMENT_FIELDS = {"name", "text", "limits", "secondary", "analyses", "reference", "verdict"}
COMPARE_FIELDS = {
    "text",
    "estimate",
    "conf_low",
    "conf_high",
    "term",
    "cycle",
    "group",
    "statistic",
    "basis",
    "p_value",
    "stratum",
    "cycles",
}


def _fail(path: str, where: str, message: str) -> SpecError:
    return SpecError(f"{path}: field '{where}': {message}")


def _get(
    table: dict[str, Any],
    key: str,
    kind: type | tuple[type, ...],
    path: str,
    where: str,
    required: bool = True,
    default: Any = None,
) -> Any:
    if key not in table:
        if required:
            raise _fail(path, f"{where}{key}", "is required")
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(path, f"{where}{key}", f"must be {names}, not {value!r}")
    return value


def _choice(value: str, allowed: tuple[str, ...] | dict[str, Any], path: str, where: str) -> str:
    if value not in allowed:
        raise _fail(path, where, f"{value!r} is not one of: {', '.join(allowed)}")
    return value


def _number(table: dict[str, Any], key: str, path: str, where: str) -> float | None:
    value = _get(table, key, (int, float), path, where, False, None)
    if value is not None and not math.isfinite(value):
        raise _fail(path, f"{where}{key}", f"must be a finite number, not {value}")
    return None if value is None else float(value)


def _known_fields(
    raw: dict[str, Any], allowed: set[str], path: str, where: str, kind: str = ""
) -> None:
    """Raise :class:`SpecError` on the first field not in ``allowed``, listing those."""
    unknown = set(raw) - allowed
    if unknown:
        what = f"unknown field for a {kind} analysis" if kind else "unknown field"
        raise _fail(
            path, where + sorted(unknown)[0], f"{what}; allowed: {', '.join(sorted(allowed))}"
        )


def check_expression(text: str, path: str, where: str) -> pl.Expr:
    """Parse an SQL expression, or raise :class:`SpecError` naming the field; anything but
    columns, literals, operators and the allowed functions is refused before polars parses
    it (:mod:`nhanes_mg.expressions`)."""
    try:
        return sql_expr(text)
    except UnsafeExpressionError as exc:
        raise _fail(path, where, str(exc)) from None


def _cycles(value: Any, path: str, where: str) -> tuple[catalog.Cycle, ...]:
    """A cycles field: a range/list string or a list of cycles."""
    try:
        if isinstance(value, str):
            return catalog.parse_cycles(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(catalog.get_cycle(v) for v in value)
    except CatalogError as exc:
        raise _fail(path, where, str(exc)) from exc
    raise _fail(path, where, f"must be a range or a list of cycles, not {value!r}")


def _covariates(
    raw: dict[str, Any], key: str, sets: dict[str, list[str]], path: str, where: str
) -> tuple[str, ...]:
    covariates = raw.get(key, [])
    if isinstance(covariates, str):
        if not covariates.startswith("@") or covariates[1:] not in sets:
            raise _fail(
                path,
                where + key,
                f"{covariates!r} names no covariate set; sets: "
                f"{', '.join('@' + s for s in sets) or '(none)'}",
            )
        covariates = sets[covariates[1:]]
    if not isinstance(covariates, list) or not all(isinstance(c, str) for c in covariates):
        raise _fail(path, where + key, "must be a list of column names or '@set'")
    return tuple(covariates)
