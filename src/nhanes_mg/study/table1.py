"""Table 1: weighted characteristics of an analysis domain by exposure category.

What R users get from ``gtsummary::tbl_svysummary(..., by = exposure) |> add_p()``: for each
characteristic, the survey-weighted mean (SE) of a numeric variable or the % (SE) of each
level of a categorical or yes/no one, overall and in each exposure category, with the
unweighted n (known and missing), and a
design-based P value for the difference between categories — the Wald F test of a survey
linear regression on the categories for a numeric variable (``regTermTest``), and the
Rao–Scott second-order F test (``svychisq``) for a categorical one.

Every estimate is a domain estimate of the full design (the categories are domains), so the
standard errors are those of R's ``svyby``.

Examples
--------
>>> from nhanes_mg.survey import SurveyDesign
>>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 1, 2, 2, 2, 2], "sdmvpsu": [1, 2] * 4,
...     "w": [1.0] * 8, "group": ["a", "b"] * 4,
...     "age": [30.0, 40, 50, 60, 35, 45, 55, 65], "smoker": [True, False] * 4})
>>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
>>> t = table_one(design, "group", [("age", "age, years"), ("smoker", "smoker")])
>>> t.filter(pl.col("variable") == "age")["estimate"].to_list()  # overall, a, b
[47.5, 42.5, 52.5]
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import polars as pl

from nhanes_mg.errors import NhanesError
from nhanes_mg.study.results import OVERALL
from nhanes_mg.survey import SurveyDesign, regtermtest, svyglm
from nhanes_mg.survey.chisq import svychisq
from nhanes_mg.survey.design import SurveyWarning

TABLE1_SCHEMA: dict[str, pl.DataType] = {
    "variable": pl.String(),
    "label": pl.String(),
    "level": pl.String(),  # a categorical variable's level; null for a numeric one
    "group": pl.String(),  # the exposure category
    "statistic": pl.String(),  # mean | percent
    "estimate": pl.Float64(),
    "std_error": pl.Float64(),
    "n": pl.Int64(),  # unweighted participants in the group with the variable known
    "n_missing": pl.Int64(),  # … and with it missing
    "p_value": pl.Float64(),  # the same on every row of a variable
    "test": pl.String(),
}


def _kind(series: pl.Series) -> str:
    if series.dtype == pl.Boolean:
        return "yes/no"
    if series.dtype.is_numeric():
        return "numeric"
    return "categorical"


def table_one(
    domain: SurveyDesign, group: str, variables: Sequence[tuple[str, str]]
) -> pl.DataFrame:
    """Characteristics ``(column, label)`` of a domain by its ``group`` column (tidy rows).

    ``domain`` is a domain of the full design (``design.subset(...)``) whose frame holds
    ``group`` (null outside any category) and the variables.
    """
    frame = domain.frame
    in_domain = np.asarray(domain.domain, dtype=bool)
    weights = np.asarray(domain.weights, dtype=float)
    group_values = frame[group].cast(pl.String)
    groups = sorted(g for g in group_values.filter(pl.Series(in_domain)).unique().to_list() if g)
    in_group = {g: (group_values == g).fill_null(False).to_numpy() for g in groups}
    in_group[OVERALL] = group_values.is_not_null().to_numpy()
    rows: list[dict[str, object]] = []
    for column, label in variables:
        series = frame[column]
        kind = _kind(series)
        levels: list[object] = [None] if kind == "numeric" else [True]
        if kind == "categorical":
            in_rows = series.filter(pl.Series(in_domain)).drop_nulls().cast(pl.String)
            present = set(in_rows.unique().to_list())  # not one Python object per row
            order = (  # an Enum's own order (ordered categories stay in order), else sorted
                series.dtype.categories.to_list()
                if isinstance(series.dtype, pl.Enum)
                else sorted(present)
            )
            levels = [v for v in order if v in present]
            series = series.cast(pl.String)
        known = series.is_not_null().to_numpy()
        p_value, test = _p_value(domain, column, group, kind, series)
        # one column per level: the value (numeric) or the 0/1 indicator of the level
        values = np.column_stack(
            [
                series.cast(pl.Float64).fill_null(0.0).to_numpy()
                if level is None
                else (series == level).fill_null(False).to_numpy().astype(float)
                for level in levels
            ]
        )
        scale = 1.0 if levels == [None] else 100.0
        cells = [in_domain & known & in_group[g] for g in [OVERALL, *groups]]
        estimates, ses = _cell_means(domain, values, cells, weights)
        for g, cell, estimate, se in zip([OVERALL, *groups], cells, estimates, ses, strict=True):
            n = int((cell & (weights > 0)).sum())
            n_missing = int((in_domain & ~known & in_group[g] & (weights > 0)).sum())
            for j, level in enumerate(levels):
                rows.append(
                    dict(
                        variable=column,
                        label=label,
                        level=None if level is None or kind == "yes/no" else str(level),
                        group=str(g),
                        statistic="mean" if level is None else "percent",
                        estimate=scale * estimate[j],
                        std_error=scale * se[j],
                        n=n,
                        n_missing=n_missing,
                        p_value=p_value,
                        test=test,
                    )
                )
    return pl.DataFrame(rows, schema=TABLE1_SCHEMA)


def _cell_means(
    design: SurveyDesign, values: np.ndarray, cells: Sequence[np.ndarray], weights: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Domain means of the columns of ``values`` over each of the ``cells`` (row masks) and
    their linearization SEs — what ``svymean(x, design.subset(cell), na_rm=True)`` computes,
    without building a domain's design object for every cell (the table has hundreds).

    Only the rows of some cell are read, and the influence values of all cells go side by
    side into one PSU total (cell by cell only where the variance depends on the rows:
    :attr:`SurveyDesign.variance_needs_rows`)."""
    k = values.shape[1]
    nan = np.full(k, np.nan)
    index = np.flatnonzero(np.logical_or.reduce(cells))  # the rows of any cell, in order
    x = values[index]
    inside = np.column_stack([c[index] for c in cells])  # (m, G)
    w = np.where(inside, weights[index][:, None], 0.0)  # each cell's weights
    totals = w.sum(axis=0)
    means = [nan] * len(cells)
    ses = [nan] * len(cells)
    blocks: dict[int, np.ndarray] = {}  # the influence values of each cell with weight
    for g in np.flatnonzero(totals > 0).tolist():
        means[g] = (w[:, g] @ x) / totals[g]
        blocks[g] = w[:, g][:, None] * (x - means[g]) / totals[g]
    if blocks and design.variance_needs_rows:
        for g, z in blocks.items():
            rows = inside[:, g]
            ses[g] = np.sqrt(np.diag(design.variance(z[rows], index[rows])))
    elif blocks:
        together = np.sqrt(np.diag(design.variance(np.hstack(list(blocks.values())), index)))
        for i, g in enumerate(blocks):
            ses[g] = together[i * k : (i + 1) * k]
    return means, ses


def _p_value(
    domain: SurveyDesign, column: str, group: str, kind: str, series: pl.Series
) -> tuple[float | None, str | None]:
    """The design-based test of a difference between the groups."""
    if kind != "numeric":
        return _chisq(domain, column, group)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SurveyWarning)
            work = domain.update(_v=series.cast(pl.Float64))
            fit = svyglm(f"_v ~ {group}", work.subset(pl.col("_v").is_not_null()))
            test = regtermtest(fit, group)
    except NhanesError:
        return None, None
    return float(test.p_value[0]), "design-based Wald F (regTermTest)"


def _chisq(domain: SurveyDesign, column: str, group: str) -> tuple[float | None, str | None]:
    """Rao–Scott second-order F for a categorical variable."""
    try:
        res = svychisq([column, group], domain)
    except NhanesError:
        return None, None
    return float(res.p_value), "Rao–Scott F (svychisq)"
