"""The regression table of a model: every term in words, as gtsummary's ``tbl_regression``.

One row per exposure category or per-unit exposure term, per numeric covariate (per unit of
it, the unit beside its name) and per level of a categorical covariate, the reference levels
as rows of their own (estimate 1 or 0, no CI), each with its estimate and 95% CI on the
model's scale (odds or hazard ratio, or difference) and its Wald P. The intercept is left
out, as gtsummary does. A spline exposure's rows are its contrast, as the analysis reports
it (its basis coefficients mean nothing alone).

Examples
--------
>>> tidy = pl.DataFrame({"term": ["Intercept", "_e1", "age", "sex[T.female]"],
...     "estimate": [0.1, 0.8, 1.01, 1.2], "std_error": [0.1] * 4, "p_value": [0.5] * 4,
...     "conf_low": [0.05, 0.6, 1.0, 1.0], "conf_high": [0.2, 0.9, 1.02, 1.4]})
>>> exposure = tidy.filter(pl.col("term") == "_e1").with_columns(term=pl.lit("Q2"))
>>> t = regression_rows(tidy, exposure, {"_e1"}, "Q1", {"sex": ["male", "female"]},
...     {"age": ("Age", "years"), "sex": ("Sex", "")}, "odds ratio")
>>> t.select("label", "level_label", "reference").rows()  # doctest: +NORMALIZE_WHITESPACE
[('exposure', 'Q1', True), ('exposure', 'Q2', False), ('Age (years)', None, False),
 ('Sex', 'Male', True), ('Sex', 'Female', False)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import polars as pl

from nhanes_mg.derive.registry import level_label

REGRESSION_SCHEMA: dict[str, pl.DataType] = {
    "variable": pl.String(),  # the column (the exposure: "exposure")
    "label": pl.String(),  # in words, with the unit of a per-unit term
    "level": pl.String(),  # a category's code (null for a numeric term)
    "level_label": pl.String(),  # … in words
    "reference": pl.Boolean(),
    "estimate": pl.Float64(),
    "conf_low": pl.Float64(),
    "conf_high": pl.Float64(),
    "p_value": pl.Float64(),
    "scale": pl.String(),
}
EXPOSURE = "exposure"
_LEVEL = re.compile(r"^(?P<variable>[^\[]+)\[T\.(?P<level>.*)\]$")


def regression_rows(
    tidy: pl.DataFrame,
    exposure: pl.DataFrame,
    exposure_columns: set[str],
    exposure_reference: str | None,
    levels: Mapping[str, Sequence[str]],
    words: Mapping[str, tuple[str, str]],
    scale: str,
    exposure_label: str = EXPOSURE,
) -> pl.DataFrame:
    """The table from a fit's tidy rows (on the reported scale).

    ``exposure`` holds the exposure's rows as the analysis reports them (``term``: a
    category, the per-unit term or a spline's contrast), ``exposure_columns`` the model's
    columns they come from (left out of the rest); ``levels`` gives each categorical
    covariate's levels present in the analysed sample, in order (the first is the
    reference); ``words`` each column's (label, unit). The covariates follow in the model's
    order; terms beyond them (a modifier, interaction columns) are named by ``words``.
    """
    null = 1.0 if "ratio" in scale else 0.0
    rows: list[dict[str, object]] = []

    def add(variable: str, label: str, level: str | None, words_: str | None,
            row: Mapping[str, object] | None) -> None:  # fmt: skip
        empty: dict[str, object] = dict(estimate=null, conf_low=None, conf_high=None, p_value=None)
        values = empty if row is None else {k: row[k] for k in empty}
        rows.append(dict(variable=variable, label=label, level=level, level_label=words_,
                         reference=row is None, scale=scale, **values))  # fmt: skip

    if exposure_reference is not None:
        add(EXPOSURE, exposure_label, exposure_reference, exposure_reference, None)
    for row in exposure.iter_rows(named=True):
        add(EXPOSURE, exposure_label, row["term"], row["term"], row)
    by_term = {r["term"]: r for r in tidy.iter_rows(named=True)}
    shown = {"Intercept", *exposure_columns}
    for term, row in by_term.items():
        if term in shown:
            continue
        match = _LEVEL.match(term)
        if match is None:  # a numeric covariate (per unit), a modifier, an interaction
            label, unit = words.get(term, (term, ""))
            with_unit = f"{label} ({unit})" if unit and unit != "ratio" else label  # per 1 unit
            add(term, with_unit, None, None, row)
            continue
        variable = match["variable"]
        label = words.get(variable, (variable, ""))[0]
        present = list(levels.get(variable, ()))
        if not present:  # levels not given: the model's own, no reference row
            add(variable, label, match["level"], level_label(variable, match["level"]), row)
            continue
        for level in present:  # all its levels at its first term, the reference first
            key = f"{variable}[T.{level}]"
            add(variable, label, level, level_label(variable, level), by_term.get(key))
            shown.add(key)
    return pl.DataFrame(rows, schema=REGRESSION_SCHEMA)
