"""Descriptive analyses: a mean, quantile, proportion or ratio by cycle and group, crude or
age-standardized, with a test of trend over cycles."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.errors import (
    EstimationError,
    SpecError,
)
from nhanes_mg.study.analysis_frame import (
    DOMAIN_COL,
    TABLE_SCHEMA,
    Z95,
    design_for,
    flag,
    sql_series,
    tidy_rows,
)
from nhanes_mg.study.contrasts import (
    GROUP_COL,
    descriptive_contrast_rows,
    levels_in_order,
    resolve_pairs,
)
from nhanes_mg.study.plan import AnalysisPlan
from nhanes_mg.study.spec_types import AgeStandard, DescriptiveAnalysis, Spec
from nhanes_mg.survey import (
    SurveyDesign,
    svyciprop,
    svymean,
    svyquantile,
    svyratio,
)
from nhanes_mg.survey.results import SurveyResult
from nhanes_mg.survey.standardize import svystandardize

# ---------------------------------------------------------------------------------- descriptive


def estimate_descriptive(
    spec: Spec, item: AnalysisPlan, frame: pl.DataFrame
) -> tuple[pl.DataFrame, int]:
    """A descriptive analysis as its plan says, on the rows of the cycles it keeps."""
    analysis, where, weight = item.analysis, item.where, item.weight.weight
    assert isinstance(analysis, DescriptiveAnalysis)
    population = pl.Series([True] * frame.height)
    for parsed in item.populations:
        population = population & flag(frame, parsed, f"{where}: population")
    columns = {
        "_v": sql_series(frame, analysis.variable, f"{where}: variable"),
        DOMAIN_COL: population,
    }
    if analysis.statistic == "ratio":
        columns["_den"] = sql_series(frame, analysis.denominator or "", f"{where}: denominator")
    for name, text in analysis.groups.items():
        columns[name] = sql_series(frame, text, f"{where}: groups.{name}")
    standard = analysis.age_standardize
    if standard is not None:
        columns["_agecat"] = frame.select(standard.group("age"))[:, 0]
    work = frame.with_columns(**columns)
    if analysis.contrast is not None:  # the compared column, as text
        work = work.with_columns(
            pl.col(analysis.contrast.variable).cast(pl.String).alias(GROUP_COL)
        )
    if analysis.statistic == "proportion" and work["_v"].dtype != pl.Boolean:
        raise SpecError(f"{where}: variable {analysis.variable!r} is not a condition")
    if work["_v"].dtype == pl.Boolean:
        work = work.with_columns(pl.col("_v").cast(pl.Float64))
    design = design_for(work, weight)
    rows = []
    for key, mask in _groups(work, analysis.by, where):
        domain = design.subset(pl.col(DOMAIN_COL) & mask & pl.col("_v").is_not_null())
        if analysis.statistic == "ratio":
            domain = domain.subset(pl.col("_den").is_not_null())
        if not domain.domain.any():
            continue
        tidy = _statistic(analysis, domain).tidy()
        # a test of "estimate = 0" means nothing for a mean, share or ratio
        tidy = tidy.with_columns(
            statistic=pl.lit(None, pl.Float64), p_value=pl.lit(None, pl.Float64)
        )
        cycle = key.get("cycle")
        others = [str(v) for k, v in key.items() if k != "cycle"]
        term = " · ".join(str(v) for v in key.values()) or "all"
        rows.append(
            tidy_rows(
                tidy,
                analysis=analysis.name,
                role="estimate",
                term=term,
                cycle=cycle,
                group=others[0] if others else None,
                subgroup=" · ".join(others[1:]) or None,
                scale=analysis.statistic,
                outcome=analysis.label or analysis.variable,
                model="descriptive",
            )
        )
        if standard is not None:
            rows.append(_standardized(analysis, domain, standard, rows[-1]))
    if not rows:
        raise EstimationError("the population is empty")
    table = pl.concat(rows)
    # the design's n: each participant once (a standardized row repeats its crude row's)
    n = int(table.filter(pl.col("role") == "estimate")["n"].sum())
    if analysis.trend and analysis.by and analysis.by[0] == "cycle":
        crude = table.filter(pl.col("role") == "estimate")
        table = pl.concat([table, _cycle_trend(crude, analysis)])
    if analysis.contrast is not None:
        table = pl.concat([table, _contrasts(analysis, design, work, where)])
    return table, n


def _contrasts(
    analysis: DescriptiveAnalysis, design: SurveyDesign, work: pl.DataFrame, where: str
) -> pl.DataFrame:
    """The group differences and the test of the ``contrast`` column's levels, within each
    combination of the other ``by`` columns (:mod:`nhanes_mg.study.contrasts`)."""
    contrast = analysis.contrast
    assert contrast is not None
    known = pl.col(DOMAIN_COL) & pl.col("_v").is_not_null() & pl.col(GROUP_COL).is_not_null()
    if analysis.statistic == "ratio":
        known = known & pl.col("_den").is_not_null()
    positive = work.filter(known & (pl.col(design.weights_col) > 0))
    levels = levels_in_order(positive[contrast.variable])
    pairs = resolve_pairs(contrast, levels, where)
    others = tuple(b for b in analysis.by if b != contrast.variable)
    parts = []
    for key, mask in _groups(work, others, where):
        values = [str(v) for k, v in key.items() if k != "cycle"]
        parts.append(
            descriptive_contrast_rows(
                analysis,
                design.subset(known & mask),
                pairs,
                levels,
                cycle=key.get("cycle"),
                group=values[0] if values else None,
                subgroup=" · ".join(values[1:]) or None,
                outcome=analysis.label or analysis.variable,
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=TABLE_SCHEMA)


def _standardized(
    analysis: DescriptiveAnalysis,
    domain: SurveyDesign,
    standard: AgeStandard,
    crude: pl.DataFrame,
) -> pl.DataFrame:
    """The estimate of ``crude``'s row directly age-standardized (R: svystandardize(design,
    by = ~agecat, over = ~1, population)), role "age-standardized".

    The standard population is taken over the age groups present in the domain, renormalised
    (a domain of ages ≥ 1 has no "under 1" group; NHANES top-codes age at 80, so no "85+"):
    R's svystandardize with the population vector of those groups. Ages outside every group
    (below the first bound) leave the standardized estimate. No group present: no row.
    """
    in_ages = domain.subset(pl.col("_agecat").is_not_null())
    present = tuple(in_ages.frame.filter(pl.Series(in_ages.domain))["_agecat"].unique())
    population = standard.proportions(present)
    if not population:
        return crude.clear()
    std = svystandardize(in_ages, by="_agecat", over=None, population=population)
    tidy = _statistic(analysis, std).tidy()
    return crude.with_columns(
        role=pl.lit("age-standardized"),
        estimate=pl.lit(tidy["estimate"][0]),
        std_error=pl.lit(tidy["std_error"][0]),
        conf_low=pl.lit(tidy["conf_low"][0]),
        conf_high=pl.lit(tidy["conf_high"][0]),
        df=pl.lit(tidy["df"][0]).cast(crude.schema["df"]),
        n=pl.lit(tidy["n"][0]).cast(crude.schema["n"]),
    )


def _statistic(analysis: DescriptiveAnalysis, domain: SurveyDesign) -> SurveyResult:
    if analysis.statistic == "mean":
        return svymean("_v", domain, na_rm=True)
    if analysis.statistic == "proportion":
        return svyciprop("_v", domain, method="logit", na_rm=True)
    if analysis.statistic == "quantile":
        return svyquantile("_v", domain, [analysis.q], na_rm=True)
    return svyratio("_v", "_den", domain, na_rm=True)


def _groups(
    frame: pl.DataFrame, by: tuple[str, ...], where: str
) -> list[tuple[dict[str, Any], pl.Expr]]:
    """Each combination of the ``by`` columns' values, as a mapping and a row condition."""
    if not by:
        return [({}, pl.lit(True))]
    absent = [b for b in by if b not in frame.columns]
    if absent:
        raise SpecError(f"{where}: by: no column {', '.join(absent)} in the analytic dataset")
    keys = frame.select([pl.col(b).cast(pl.String) if b == "cycle" else pl.col(b) for b in by])
    out = []
    for combo in keys.drop_nulls().unique().sort(by).rows():
        mask = pl.lit(True)
        for col, value in zip(by, combo, strict=True):
            mask = mask & (
                pl.col(col).cast(pl.String) == value if col == "cycle" else pl.col(col) == value
            )
        out.append((dict(zip(by, combo, strict=True)), mask))
    return out


def _cycle_trend(table: pl.DataFrame, analysis: DescriptiveAnalysis) -> pl.DataFrame:
    """Linear trend across cycles: weighted least squares of the cycle estimates on the cycle
    midpoint (weights 1/SE²), z test of the slope per decade. Cycles are independent samples,
    so their estimates are independent and this is the GLS test of a linear trend."""
    from scipy.special import ndtr  # the normal's sf is ndtr(-z), as scipy.stats computes it

    rows = []
    keyed = table.with_columns(pl.col("group").fill_null(""), pl.col("subgroup").fill_null(""))
    for (group, subgroup), sub in keyed.group_by(["group", "subgroup"], maintain_order=True):
        sub = sub.filter(pl.col("std_error") > 0)
        if sub.height < 3:
            continue
        x = np.array([catalog.get_cycle(c).begin + 0.5 for c in sub["cycle"]]) / 10.0
        y = sub["estimate"].to_numpy()
        w = 1.0 / sub["std_error"].to_numpy() ** 2
        xbar = np.sum(w * x) / np.sum(w)
        sxx = np.sum(w * (x - xbar) ** 2)
        slope = float(np.sum(w * (x - xbar) * y) / sxx)
        se = float(1.0 / math.sqrt(sxx))
        z = slope / se
        rows.append(
            pl.DataFrame(
                {
                    "estimate": [slope],
                    "std_error": [se],
                    "statistic": [z],
                    "p_value": [float(2 * ndtr(-abs(z)))],
                    "conf_low": [slope - Z95 * se],
                    "conf_high": [slope + Z95 * se],
                    "df": [math.inf],
                    "n": [int(sub["n"].sum())],
                }
            )
        )
        rows[-1] = tidy_rows(
            rows[-1],
            analysis=analysis.name,
            role="trend",
            term="trend per decade",
            group=group or None,
            subgroup=subgroup or None,
            scale="trend (change per 10 years)",
            outcome=analysis.label or analysis.variable,
            model="descriptive",
        )
    return pl.concat(rows) if rows else pl.DataFrame(schema=TABLE_SCHEMA)
