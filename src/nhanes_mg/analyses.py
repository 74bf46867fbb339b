"""Run a specification on the analytic dataset: design → estimates → tidy table → verdict.

Each analysis (and each sensitivity analysis) runs on its own cycles: those it asks for in
which every variable it uses was measured and its weight exists (a Cox model needs linked
mortality, a two-day intake needs the two-day weight; a cross-sectional analysis beside them
keeps all its cycles). Its weight is the weight of the smallest subsample among the variables
it uses (:mod:`nhanes_mg.weights`) unless the specification sets one. The design is the full
design of those cycles, restricted to the population as a domain (never by dropping rows
first); models are complete-case within the domain.

Effect modification is estimated in one joint model (exposure × modifier): the stratum-specific
effects and their difference are linear combinations of its coefficients with design-based
variance (:func:`nhanes_mg.survey.svycontrast`), and the interaction is tested jointly
(:func:`nhanes_mg.survey.regtermtest`).

The tidy table keeps structure in columns: ``role`` (``estimate``, ``reference``, ``trend``,
``interaction``, ``stratum effect``, ``modification contrast``), ``sensitivity`` (null for the
main analyses), ``cycle``, ``group``, ``subgroup``, ``stratum``.

Examples
--------
>>> from nhanes_mg.spec import load_shipped_specs
>>> spec = load_shipped_specs()[2]
>>> describe_model(spec.analyses[0]).startswith("survey logistic")
True
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg import catalog, verdicts
from nhanes_mg.declared import subsamples as declared_subsamples
from nhanes_mg.errors import EstimationError, IncompleteDataError, NhanesError, SpecError
from nhanes_mg.lineage import affected_by
from nhanes_mg.results import RATIO_SCALES, FitInfo, SpecResult, VariantVerdict, Verdict
from nhanes_mg.spec import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    Spec,
    UsualIntakeAnalysis,
    category_labels,
)
from nhanes_mg.survey import (
    SurveyDesign,
    regtermtest,
    svyciprop,
    svycontrast,
    svycoxph,
    svyglm,
    svymean,
    svyquantile,
    svyratio,
)
from nhanes_mg.survey.design import SurveyWarning
from nhanes_mg.survey.results import TIDY_SCHEMA, SurveyResult
from nhanes_mg.weights import CDC_NAME, WeightChoice, choose_weight, variables_of

# The tidy table: structure columns, then a survey result's tidy columns, then what they are.
_STRUCTURE = ("analysis", "sensitivity", "role", "term", "cycle", "group", "subgroup", "stratum")
_SCHEMA: dict[str, Any] = {
    **{c: pl.String for c in _STRUCTURE},
    **{c: t for c, t in TIDY_SCHEMA.items() if c != "term"},
    **{c: pl.String for c in ("scale", "outcome", "model")},
}
TABLE_COLUMNS: tuple[str, ...] = tuple(_SCHEMA)  # the tidy table's columns, in order
ROLES = ("estimate", "reference", "trend", "interaction", "stratum effect", "modification contrast")
SCALES = {"logistic": "odds ratio", "cox": "hazard ratio", "linear": "difference"}
CONTRAST_SCALES = {
    "logistic": "ratio of odds ratios",
    "cox": "ratio of hazard ratios",
    "linear": "difference of differences",
}
_Y, _X, _TREND, _MOD, _TIME, _DOM = "_y", "_x", "_trend", "_mod", "_time", "_dom"
Z95 = 1.959963984540054


def describe_model(analysis: Analysis) -> str:
    """One sentence on what an analysis estimates, for the report."""
    if isinstance(analysis, UsualIntakeAnalysis):
        cut = "EAR" if analysis.statistic == "usual_below_ear" else "RDA"
        return (
            f"share below the {analysis.variable.capitalize()} {cut} from usual intake "
            f"({analysis.basis}; NCI method, Fay-BRR SEs, normal 95% CI) beside day 1, "
            f"domain '{analysis.domain}'"
        )
    if isinstance(analysis, DescriptiveAnalysis):
        by = f" by {', '.join(analysis.by)}" if analysis.by else ""
        what = {
            "ratio": f"ratio of means ({analysis.variable}) / ({analysis.denominator})",
            "mean": f"mean of {analysis.variable}",
            "quantile": f"{analysis.q:.0%} quantile of {analysis.variable}",
            "proportion": f"share with {analysis.variable}",
        }[analysis.statistic]
        return f"survey-weighted {what}{by}"
    words = {
        "logistic": "survey logistic regression",
        "linear": "survey linear regression",
        "cox": "survey Cox proportional-hazards model (Efron ties)",
    }[analysis.model]
    expo = analysis.exposure_label or analysis.exposure
    if analysis.exposure_type == "quantiles":
        expo = f"weighted quantiles ({analysis.quantiles}) of {expo} in the domain"
    elif analysis.exposure_type == "cutpoints":
        expo = f"{expo} cut at {', '.join(f'{c:g}' for c in analysis.cutpoints)}"
    elif analysis.per != 1:
        expo = f"{expo} per {analysis.per:g} {analysis.exposure_unit}".rstrip()
    if analysis.reference_category:
        expo += f" (reference {analysis.reference_category})"
    covs = ", ".join(analysis.covariates) if analysis.covariates else "none (crude)"
    extra = ""
    if analysis.modifier:
        extra = (
            f"; effect modifier {analysis.modifier}: joint model with exposure × modifier "
            "terms, stratum effects as linear contrasts"
        )
    outcome = analysis.outcome_label or analysis.outcome
    return f"{words} of {outcome} on {expo}; adjusted for {covs}{extra}"


# ---------------------------------------------------------------------------------- helpers


def _sql(frame: pl.DataFrame, text: str, where: str) -> pl.Series:
    try:
        return frame.select(pl.sql_expr(text).alias("_"))["_"]
    except Exception as exc:
        raise SpecError(
            f"{where}: cannot evaluate {text!r} on the analytic dataset ({exc})"
        ) from exc


def _flag(frame: pl.DataFrame, text: str | None, where: str) -> pl.Series:
    if not text:
        return pl.Series([True] * frame.height)
    values = _sql(frame, text, where)
    if values.dtype != pl.Boolean:
        raise SpecError(f"{where}: {text!r} is not a condition (it gives {values.dtype})")
    return values.fill_null(False)


def _design(frame: pl.DataFrame, weight: str) -> SurveyDesign:
    # People outside the weight's subsample (null weight) are in the sample with weight 0:
    # they stay in the design, as in R, and contribute to no estimate.
    frame = frame.with_columns(pl.col(weight).fill_null(0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SurveyWarning)
        return SurveyDesign.pooled(
            frame, weights=weight, allow_zero_weights=True, lonely_psu="adjust"
        )


def _as_model_column(series: pl.Series) -> pl.Series:
    """Enums → text (categorical in formulas), booleans → 0/1."""
    if isinstance(series.dtype, pl.Enum) or series.dtype == pl.Categorical:
        return series.cast(pl.String)
    if series.dtype == pl.Boolean:
        return series.cast(pl.Float64)
    return series


def _weighted_quantiles(design: SurveyDesign, column: str, probs: list[float]) -> list[float]:
    res = svyquantile(column, design, probs, na_rm=True)
    return [float(v) for v in res.estimate]


def _expressions(spec: Spec, analysis: Analysis) -> list[str | None]:
    """Every expression an analysis evaluates (for its variables, weight and cycles)."""
    common = [spec.population, analysis.population]  # last: the weight's reason names an
    if isinstance(analysis, ModelAnalysis):  # exposure or outcome before a population flag
        return [
            analysis.exposure,
            analysis.outcome,
            analysis.modifier,
            analysis.time,
            *analysis.covariates,
            *common,
        ]
    if isinstance(analysis, DescriptiveAnalysis):
        return [
            analysis.variable,
            analysis.denominator,
            *analysis.groups.values(),
            *(b for b in analysis.by if b != "cycle" and b not in analysis.groups),
            *common,
        ]
    nut = analysis.variable  # usual intake: both recall days, the cut points, supplements
    supp = [f"{nut}_supp"] if analysis.basis != "food" else []
    return [f"{nut}_food_d1", f"{nut}_food_d2", f"{nut}_ear", f"{nut}_rda", *supp, *common]


def _frame_for(
    spec: Spec,
    analysis: Analysis,
    analytic: pl.DataFrame,
    weight: WeightChoice,
    where: str,
    skip: dict[str, str] | None = None,
) -> tuple[pl.DataFrame, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The rows of the cycles this analysis can use, and the cycles it cannot (with why)."""
    variables = variables_of(_expressions(spec, analysis))
    absent = [v for v in variables if v not in analytic.columns]
    if absent:
        raise SpecError(f"{where}: no column {', '.join(absent)} in the analytic dataset")
    if weight.weight not in analytic.columns:
        raise SpecError(f"{where}: no weight column {weight.weight} in the analytic dataset")
    wanted = [c.years for c in spec.cycles_of(analysis)]
    frame = analytic.filter(pl.col("cycle").cast(pl.String).is_in(wanted))
    present = (
        frame.group_by(pl.col("cycle").cast(pl.String))
        .agg(
            (pl.col(weight.weight) > 0).any().alias("__w"),
            *[pl.col(v).is_not_null().any().alias(v) for v in variables],
        )
        .rows_by_key("cycle", named=True, unique=True)
    )
    kept, dropped = [], []
    for cycle in wanted:
        have = present.get(cycle)
        if skip and cycle in skip:
            dropped.append((cycle, skip[cycle]))
            continue
        if have is None:
            dropped.append((cycle, "not in the analytic dataset"))
            continue
        why = [] if have["__w"] else [f"no {CDC_NAME.get(weight.weight, weight.weight)} weight"]
        missing = [v for v in variables if not have[v]]
        if any(v.startswith(("mort_", "followup_")) for v in missing):
            why.append("no linked mortality file")
        other = [v for v in missing if not v.startswith(("mort_", "followup_"))]
        if other:
            why.append(f"no {', '.join(other)}")
        if why:
            dropped.append((cycle, "; ".join(why)))
        else:
            kept.append(cycle)
    if not kept:
        reasons = "; ".join(f"{c}: {why}" for c, why in dropped)
        raise EstimationError(f"no cycle has every variable and the weight ({reasons})")
    return frame.filter(pl.col("cycle").cast(pl.String).is_in(kept)), tuple(kept), tuple(dropped)


def _rows(tidy: pl.DataFrame, **columns: Any) -> pl.DataFrame:
    """A tidy survey result with the table's remaining columns set."""
    out = tidy.with_columns(**{k: pl.lit(v, _SCHEMA[k]) for k, v in columns.items()})
    return out.with_columns(
        [pl.lit(None, _SCHEMA[c]).alias(c) for c in TABLE_COLUMNS if c not in out.columns]
    ).select([pl.col(c).cast(_SCHEMA[c]) for c in TABLE_COLUMNS])


# ---------------------------------------------------------------------------------- run


def run_spec(
    spec: Spec,
    analytic: pl.DataFrame,
    gaps: list[dict[str, object]] | None = None,
    allow_incomplete: bool = False,
) -> SpecResult:
    """Run every analysis and sensitivity analysis; one that cannot be estimated is recorded
    (in ``notes`` and its :class:`FitInfo`), not raised. A malformed spec raises SpecError.

    ``gaps`` are the build's missing tables and columns (``BuildResult.gaps``). An analysis
    that needs one of them in one of its cycles is not estimated (never silently estimated
    on the other cycles) unless ``allow_incomplete``, and then its fit says what it lacks.
    """
    result = SpecResult(spec=spec, table=pl.DataFrame(schema=_SCHEMA))
    tables: list[pl.DataFrame] = []
    for analysis in (*spec.analyses, *spec.sensitivities):
        where = f"{spec.path or spec.id}: analysis {analysis.name!r}"
        if analysis.sensitivity:
            where += f" (sensitivity {analysis.sensitivity!r})"
        label = analysis.sensitivity_label or analysis.label or analysis.name
        try:
            table, info = _run_analysis(
                spec, analysis, analytic, result, where, gaps or [], allow_incomplete
            )
        except SpecError:
            raise
        except NhanesError as exc:
            name = analysis.name + (f" [{analysis.sensitivity}]" if analysis.sensitivity else "")
            result.notes.append(f"{name}: not estimated — {exc}")
            result.fits.append(
                FitInfo(
                    analysis.name,
                    analysis.sensitivity,
                    label,
                    describe_model(analysis),
                    error=str(exc),
                    missing_data=isinstance(exc, IncompleteDataError),
                )
            )
            continue
        tables.append(table.with_columns(sensitivity=pl.lit(analysis.sensitivity, pl.String)))
        result.fits.append(info)
    if tables:
        result.table = pl.concat([t.select(TABLE_COLUMNS) for t in tables], how="vertical")
    result.verdict = judge(spec, result)
    return result


def _run_analysis(
    spec: Spec,
    analysis: Analysis,
    analytic: pl.DataFrame,
    result: SpecResult,
    where: str,
    gaps: list[dict[str, object]],
    allow_incomplete: bool,
) -> tuple[pl.DataFrame, FitInfo]:
    label = analysis.sensitivity_label or analysis.label or analysis.name
    wanted = [c.years for c in spec.cycles_of(analysis)]
    hits = affected_by(gaps, variables_of(_expressions(spec, analysis)), wanted)
    missing = tuple(dict.fromkeys(f"{table} ({cycle})" for table, cycle, _ in hits))
    if hits and not allow_incomplete:
        needed = sorted({v for *_, found in hits for v in found})
        raise IncompleteDataError(f"{', '.join(missing)} missing — needed for {', '.join(needed)}")
    skip = {cycle: f"{table} missing (--allow-incomplete)" for table, cycle, _ in hits}
    if isinstance(analysis, UsualIntakeAnalysis):
        cycles = [c for c in wanted if c not in skip]
        table, n = _usual_intake(analysis, cycles, analytic, result)
        info = FitInfo(
            analysis.name,
            analysis.sensitivity,
            label,
            describe_model(analysis),
            cycles=tuple(table["cycle"].unique(maintain_order=True).to_list()),
            dropped=tuple(skip.items()),
            n=n,
            weight="wt_diet1",
            weight_reason="NCI method: both recall days in the mixed model, weighted by the "
            "day-1 dietary weight WTDRD1 (as MIXTRAN); Fay-BRR replicates",
            incomplete=missing,
        )
        return table, info
    weight = choose_weight(
        _expressions(spec, analysis), analysis.weight, declared_subsamples(spec.variables)
    )
    frame, kept, dropped = _frame_for(spec, analysis, analytic, weight, where, skip)
    if isinstance(analysis, DescriptiveAnalysis):
        table, n = _descriptive(spec, analysis, frame, weight.weight, where)
        info = FitInfo(
            analysis.name,
            analysis.sensitivity,
            label,
            describe_model(analysis),
            kept,
            dropped,
            n,
            None,
            weight.weight,
            weight.reason,
            incomplete=missing,
        )
        return table, info
    table, info = _model(spec, analysis, frame, weight, where, kept, dropped, label)
    return table, replace(info, incomplete=missing)


# ---------------------------------------------------------------------------------- descriptive


def _descriptive(
    spec: Spec, analysis: DescriptiveAnalysis, frame: pl.DataFrame, weight: str, where: str
) -> tuple[pl.DataFrame, int]:
    population = _flag(frame, spec.population, f"{where}: population") & _flag(
        frame, analysis.population, f"{where}: population"
    )
    columns = {"_v": _sql(frame, analysis.variable, f"{where}: variable"), _DOM: population}
    if analysis.statistic == "ratio":
        columns["_den"] = _sql(frame, analysis.denominator or "", f"{where}: denominator")
    for name, text in analysis.groups.items():
        columns[name] = _sql(frame, text, f"{where}: groups.{name}")
    work = frame.with_columns(**columns)
    if analysis.statistic == "proportion" and work["_v"].dtype != pl.Boolean:
        raise SpecError(f"{where}: variable {analysis.variable!r} is not a condition")
    if work["_v"].dtype == pl.Boolean:
        work = work.with_columns(pl.col("_v").cast(pl.Float64))
    design = _design(work, weight)
    rows = []
    for key, mask in _groups(work, analysis.by, where):
        domain = design.subset(pl.col(_DOM) & mask & pl.col("_v").is_not_null())
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
            _rows(
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
    if not rows:
        raise EstimationError("the population is empty")
    table = pl.concat(rows)
    n = int(table["n"].sum())
    if analysis.trend and analysis.by and analysis.by[0] == "cycle":
        table = pl.concat([table, _cycle_trend(table, analysis)])
    return table, n


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
    from scipy.stats import norm

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
                    "p_value": [float(2 * norm.sf(abs(z)))],
                    "conf_low": [slope - Z95 * se],
                    "conf_high": [slope + Z95 * se],
                    "df": [math.inf],
                    "n": [int(sub["n"].sum())],
                }
            )
        )
        rows[-1] = _rows(
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
    return pl.concat(rows) if rows else pl.DataFrame(schema=_SCHEMA)


# ---------------------------------------------------------------------------------- usual intake


def _usual_intake(
    analysis: UsualIntakeAnalysis, wanted: list[str], analytic: pl.DataFrame, result: SpecResult
) -> tuple[pl.DataFrame, int]:
    """Share below the EAR or the RDA from usual intake (NCI method) beside day 1, by cycle.

    The usual-intake module defines its own population (reliable recalls, ages ≥ 1, the
    person's EAR and RDA); ``domain`` picks one of its subgroups. Intervals: estimate ± 1.96
    BRR SE.
    """
    from nhanes_mg.usual_intake import estimate_usual_intake

    present = set(analytic["cycle"].cast(pl.String).unique().to_list())
    cycles = [c for c in wanted if c in present]
    if not cycles:
        raise EstimationError(f"none of the cycles {', '.join(wanted)} is in the data")
    key = (tuple(cycles), analysis.variable, analysis.brr)
    if key not in result.usual_cache:  # every basis, domain and cut from one estimation
        # the whole frame: a cycle without second recalls borrows from its donor cycle
        result.usual_cache[key] = estimate_usual_intake(
            analytic,
            cycles=cycles,
            nutrients=(analysis.variable,),
            pools={},
            n_brr=analysis.brr,
            n_jobs=1,
        ).table
    rows = result.usual_cache[key].filter(
        (pl.col("basis") == analysis.basis) & (pl.col("domain") == analysis.domain)
    )
    if rows.is_empty():
        raise EstimationError(f"the usual-intake results have no domain {analysis.domain!r}")
    stat = "pct_below_ear" if analysis.statistic == "usual_below_ear" else "pct_below_rda"
    table = rows.select(
        cycle=pl.col("population"),
        term=pl.col("method").replace({"day1": "day 1", "usual": "usual intake"}),
        estimate=pl.col(stat) / 100,
        std_error=pl.col(f"{stat}_se") / 100,
        n=pl.col("n").cast(pl.Int64),
    ).with_columns(
        conf_low=pl.col("estimate") - Z95 * pl.col("std_error"),
        conf_high=pl.col("estimate") + Z95 * pl.col("std_error"),
        df=pl.lit(math.inf),
    )
    table = _rows(
        table,
        analysis=analysis.name,
        role="estimate",
        scale="proportion",
        outcome=analysis.label or analysis.name,
        model="usual intake",
    )
    n = int(rows.filter(pl.col("method") == "usual")["n"].sum())
    return table.sort("cycle", "term"), n


# ---------------------------------------------------------------------------------- models


def _model(
    spec: Spec,
    analysis: ModelAnalysis,
    frame: pl.DataFrame,
    weight: WeightChoice,
    where: str,
    cycles: tuple[str, ...],
    dropped: tuple[tuple[str, str], ...],
    label: str,
) -> tuple[pl.DataFrame, FitInfo]:
    kind = analysis.model
    covariates = list(analysis.covariates)
    outcome = _sql(frame, analysis.outcome, f"{where}: outcome")
    if outcome.dtype == pl.Boolean:
        outcome = outcome.cast(pl.Float64)
    exposure = _sql(frame, analysis.exposure, f"{where}: exposure")
    if exposure.dtype == pl.Boolean:
        exposure = exposure.cast(pl.Float64)
    work = frame.with_columns(
        [_as_model_column(frame[c]).alias(c) for c in covariates]
        + [outcome.alias(_Y), exposure.cast(pl.Float64).alias(_X)]
    )
    if kind == "cox":
        work = work.with_columns(_sql(frame, analysis.time or "", f"{where}: time").alias(_TIME))
    needed = [_Y, _X, *covariates] + ([_TIME] if kind == "cox" else [])
    complete = work.select(pl.all_horizontal([pl.col(c).is_not_null() for c in needed]))
    domain_flag = (
        _flag(work, spec.population, f"{where}: population")
        & _flag(work, analysis.population, f"{where}: population")
        & complete.to_series()
    )
    # One design of the analysis's cycles; every variable added later is an update() of it,
    # which shares the strata, PSU and weight encodings instead of rebuilding them.
    sample = _design(work, weight.weight)
    strata: tuple[str, str] | None = None
    added: dict[str, pl.Series] = {}
    if analysis.modifier:
        modifier, strata = _modifier(work, domain_flag, analysis, sample, where)
        added[_MOD] = modifier.alias(_MOD)
        domain_flag = domain_flag & modifier.is_not_null()
    design = sample.update(**added, **{_DOM: domain_flag.alias(_DOM)})
    in_domain = design.subset(pl.col(_DOM))

    # Exposure coding, by hand so that coefficient names are ours (no parsing of formula
    # names): one 0/1 column per non-reference category, or the exposure per `per` units.
    labels: list[str] = []
    cuts: list[float] = []
    columns: dict[str, str] = {}  # model column → category label (or the exposure's term)
    if analysis.exposure_type in ("quantiles", "cutpoints"):
        labels = category_labels(analysis.exposure_type, analysis.quantiles, analysis.cutpoints)
        if analysis.exposure_type == "quantiles":
            k = analysis.quantiles
            cuts = _weighted_quantiles(in_domain, _X, [i / k for i in range(1, k)])
            if len(set(cuts)) < len(cuts):
                raise EstimationError(
                    f"exposure {analysis.exposure} has tied quantile cut points {cuts}"
                )
        else:
            cuts = list(analysis.cutpoints)
        reference = analysis.reference_category or labels[0]
        # right-closed intervals: (−∞, c1], (c1, c2], …
        bounds = [-math.inf, *cuts, math.inf]
        in_category = {
            lab: (pl.col(_X) > lo) & (pl.col(_X) <= hi)
            for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True)
        }
        medians = _category_medians(in_domain, in_category)
        trend = pl.lit(None, pl.Float64)
        for lab, cond in in_category.items():
            trend = pl.when(cond).then(pl.lit(medians.get(lab))).otherwise(trend)
        dummies = {}
        for j, lab in enumerate(labels):
            if lab != reference:
                columns[f"_e{j}"] = lab
                dummies[f"_e{j}"] = (
                    pl.when(pl.col(_X).is_null())
                    .then(None)
                    .otherwise(in_category[lab].cast(pl.Float64))
                )
        design = design.update(**dummies, **{_TREND: trend})
    else:
        columns["_e0"] = exposure_term(analysis)
        design = design.update(_e0=pl.col(_X) / analysis.per)
        reference = None
    if analysis.modifier:  # after the exposure columns it multiplies (update sees the old frame)
        design = design.update(**{f"{c}_m": pl.col(c) * pl.col(_MOD) for c in columns})
    domain = design.subset(pl.col(_DOM))
    used = domain.domain & (np.asarray(design.weights) > 0)  # in the domain, in the subsample
    n = int(used.sum())
    if n == 0:
        raise EstimationError("the population is empty (or has no positive weight)")
    y = work[_Y].to_numpy()
    events = int(np.nansum(y[used])) if kind in ("logistic", "cox") else None

    exponentiate = kind in ("logistic", "cox")
    base = dict(
        analysis=analysis.name, outcome=analysis.outcome_label or analysis.outcome, model=kind
    )
    fit = _fit(kind, " + ".join([*columns, *covariates]), domain)
    tidy = fit.tidy(exponentiate=exponentiate).filter(pl.col("term").is_in(list(columns)))
    tables = []
    if reference is not None:
        tables.append(
            _rows(
                pl.DataFrame({"estimate": [1.0 if exponentiate else 0.0], "n": [n]}),
                role="reference",
                term=reference,
                scale=SCALES[kind],
                **base,
            )
        )
    tables.append(
        _rows(
            tidy.with_columns(term=pl.col("term").replace_strict(columns)),
            role="estimate",
            scale=SCALES[kind],
            **base,
        )
    )
    if labels:  # restore the categories' order, the reference among them
        order = {lab: i for i, lab in enumerate(labels)}
        tables = [pl.concat(tables).sort(pl.col("term").replace_strict(order, default=99))]

    if analysis.trend and labels:
        trend_fit = _fit(kind, " + ".join([_TREND, *covariates]), domain)
        t = trend_fit.tidy().filter(pl.col("term") == _TREND)
        scale = "coefficient (log scale)" if kind != "linear" else "coefficient"
        tables.append(_rows(t, role="trend", term="P for trend", scale=scale, **base))
    if analysis.modifier and strata is not None:
        tables += _joint(kind, columns, covariates, domain, strata, n, base)
    info = FitInfo(
        analysis.name,
        analysis.sensitivity,
        label,
        describe_model(analysis),
        cycles,
        dropped,
        n,
        events,
        weight.weight,
        weight.reason,
        strata,
        tuple(cuts),
    )
    return pl.concat(tables), info


def _joint(
    kind: str,
    columns: dict[str, str],
    covariates: list[str],
    domain: SurveyDesign,
    strata: tuple[str, str],
    n: int,
    base: dict[str, str],
) -> list[pl.DataFrame]:
    """One joint model with exposure × modifier terms: the interaction test, the exposure's
    effect in each stratum and their contrast (linear combinations of its coefficients)."""
    inter = [f"{c}_m" for c in columns]
    joint = _fit(kind, " + ".join([*columns, _MOD, *inter, *covariates]), domain)
    test = regtermtest(joint, inter)
    out = [
        _rows(
            pl.DataFrame(
                {
                    "statistic": [float(np.asarray(test.statistic).ravel()[0])],
                    "p_value": [float(np.asarray(test.p_value).ravel()[0])],
                    "df": [float(np.asarray(test.df).ravel()[-1])],
                    "n": [n],
                }
            ),
            role="interaction",
            term="P for interaction",
            scale="Wald F test",
            **base,
        )
    ]
    exponentiate = kind in ("logistic", "cox")
    effects: dict[str, dict[str, float]] = {}
    term_of: dict[str, str] = {}
    stratum_of: dict[str, str] = {}
    for i, (c, label) in enumerate(columns.items()):
        for holds, stratum in zip((True, False), strata, strict=True):
            name = f"effect{i}{'m' if holds else 'c'}"
            # the effect where the modifier holds adds the interaction coefficient
            effects[name] = {c: 1.0, f"{c}_m": 1.0} if holds else {c: 1.0}
            term_of[name], stratum_of[name] = label, stratum
    est = svycontrast(joint, effects).tidy(exponentiate=exponentiate)
    est = est.with_columns(
        stratum=pl.col("term").replace_strict(stratum_of),
        term=pl.col("term").replace_strict(term_of),
    )
    out.append(_rows(est, role="stratum effect", scale=SCALES[kind], **base))
    diff = svycontrast(joint, {c: {f"{c}_m": 1.0} for c in columns}).tidy(exponentiate=exponentiate)
    out.append(
        _rows(
            diff.with_columns(term=pl.col("term").replace_strict(columns)),
            role="modification contrast",
            scale=CONTRAST_SCALES[kind],
            **base,
        )
    )
    return out


def _modifier(
    work: pl.DataFrame,
    domain_flag: pl.Series,
    analysis: ModelAnalysis,
    sample: SurveyDesign,
    where: str,
) -> tuple[pl.Series, tuple[str, str]]:
    """The effect modifier as 0/1 (null where unknown) and the names of its two strata."""
    text = analysis.modifier or ""
    values = _sql(work, text, f"{where}: modifier")
    if analysis.modifier_cut is None:
        if values.dtype != pl.Boolean:
            raise SpecError(f"{where}: modifier {text!r} is not a condition (give modifier_cut)")
        return values.cast(pl.Float64), analysis_strata(analysis, None)
    values = values.cast(pl.Float64)
    if analysis.modifier_cut == "median":
        # the weighted median in the analysis domain, as the claim's "below vs above median"
        domain = sample.update(_m=values).subset(domain_flag & values.is_not_null())
        cut = _weighted_quantiles(domain, "_m", [0.5])[0]
    else:
        cut = float(analysis.modifier_cut)
    return (values >= cut).cast(pl.Float64), analysis_strata(analysis, cut)


def exposure_term(analysis: ModelAnalysis) -> str:
    """The term of a continuous exposure: ``total Mg intake, per 100 mg/day``."""
    name = analysis.exposure_label or analysis.exposure
    if analysis.per == 1 and not analysis.exposure_unit:
        return name
    return f"{name}, per {analysis.per:g} {analysis.exposure_unit}".rstrip()


def analysis_strata(analysis: ModelAnalysis, cut: float | None) -> tuple[str, str]:
    """Labels of the modifier's strata: (where it holds, the complement)."""
    text = analysis.modifier or ""
    if analysis.modifier_labels:
        value = "" if cut is None else f"{cut:.3g}"
        holds, other = analysis.modifier_labels
        return holds.replace("{cut}", value), other.replace("{cut}", value)
    if cut is None:
        return text, f"not ({text})"
    return f"{text} ≥ {cut:.4g}", f"{text} < {cut:.4g}"


def _category_medians(domain: SurveyDesign, categories: dict[str, pl.Expr]) -> dict[str, float]:
    out = {}
    for label, cond in categories.items():
        sub = domain.subset(cond)
        if sub.domain.any():
            out[label] = _weighted_quantiles(sub, _X, [0.5])[0]
    return out


def _fit(kind: str, rhs: str, domain: SurveyDesign) -> SurveyResult:
    if kind == "cox":
        return svycoxph(f"Surv({_TIME}, {_Y}) ~ {rhs}", domain)
    family = "quasibinomial" if kind == "logistic" else "gaussian"
    return svyglm(f"{_Y} ~ {rhs}", domain, family=family)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- verdicts


def judge(spec: Spec, result: SpecResult) -> Verdict | None:
    """The specification's verdict rule applied to the main analysis and to each sensitivity
    analysis of the same analysis (rules: :mod:`nhanes_mg.verdicts`)."""
    rule = spec.verdict
    if rule is None:
        return None
    ref = spec.reference
    published = ref.text or "—"
    pub = (
        verdicts.Published(ref.estimate, ref.conf_low, ref.conf_high)
        if ref.estimate is not None
        else None
    )
    main = _judge_variant(spec, result, None, pub)
    others = [
        _judge_variant(spec, result, s, pub) for s in spec.sensitivities if s.name == rule.analysis
    ]
    row = ", ".join(x for x in (rule.analysis, rule.term, rule.cycle, rule.group) if x)
    null, ratio = _null_of(spec, result)
    return Verdict(main.verdict, main.why, main.ours, published, row, main, others, null, ratio)


def _null_of(spec: Spec, result: SpecResult) -> tuple[float | None, bool]:
    rule = spec.verdict
    assert rule is not None
    if rule.kind == "threshold":
        return rule.value, False
    rows = result.table.filter(
        (pl.col("analysis") == rule.analysis) & (pl.col("role") == "estimate")
    )
    ratio = bool(rows.height and rows["scale"][0] in RATIO_SCALES)
    return (1.0 if ratio else 0.0), ratio


def _select(
    table: pl.DataFrame,
    spec: Spec,
    sensitivity: str | None,
    role: str,
    stratum: str | None = None,
    term: str | None = None,
) -> pl.DataFrame:
    """The rows the verdict reads: by analysis, variant, role and the rule's term/cycle/group.

    A sensitivity analysis that changes a continuous exposure renames its one estimate row;
    it is then that row.
    """
    rule = spec.verdict
    assert rule is not None
    same = (
        pl.col("sensitivity").is_null()
        if sensitivity is None
        else pl.col("sensitivity") == sensitivity
    )
    rows = table.filter(
        (pl.col("analysis") == rule.analysis)
        & same
        & (pl.col("role") == role)
        & (pl.col("stratum").is_null() if stratum is None else pl.col("stratum") == stratum)
    )
    picked = rows
    for col in ("term", "cycle", "group"):
        want = term if col == "term" and term is not None else getattr(rule, col)
        if want is not None:
            picked = picked.filter(pl.col(col) == want)
    if picked.is_empty() and rule.term is not None and rows["term"].n_unique() == 1:
        picked = rows.filter(pl.col("term") == rows["term"][0])
        for col in ("cycle", "group"):
            if getattr(rule, col) is not None:
                picked = picked.filter(pl.col(col) == getattr(rule, col))
    return picked


def _judge_variant(
    spec: Spec, result: SpecResult, variant: Analysis | None, pub: verdicts.Published | None
) -> VariantVerdict:
    """The rule applied to the main analysis (``variant`` None) or to a sensitivity one."""
    rule = spec.verdict
    assert rule is not None
    sensitivity = variant.sensitivity if variant else None
    label = variant.sensitivity_label if variant else "main analysis"
    term = variant.verdict_term if variant else None
    direction = (variant.verdict_direction if variant else None) or rule.direction
    info = result.fit(rule.analysis, sensitivity)
    if info is None or info.error:
        why = info.error if info and info.error else "the analysis was not estimated"
        return VariantVerdict(sensitivity, label, verdicts.NOT_ESTIMATED, why, "—")
    table = result.table
    role = "modification contrast" if rule.kind == "modification" else "estimate"
    rows = _select(table, spec, sensitivity, role, term=term)
    if rows.height != 1:
        what = f"{rule.analysis} / {rule.term or ''} {rule.cycle or ''} {rule.group or ''}".strip()
        return VariantVerdict(
            sensitivity, label, verdicts.NOT_ESTIMATED, f"{rows.height} rows match {what}", "—"
        )
    row = rows.row(0, named=True)
    est, lo, hi = row["estimate"], row["conf_low"], row["conf_high"]
    ratio = row["scale"] in RATIO_SCALES or row["scale"] in (
        "ratio of odds ratios",
        "ratio of hazard ratios",
    )
    percent = row["scale"] == "proportion"
    if rule.kind == "threshold":
        null = float(rule.value or 0.0)
        r = verdicts.Rule("threshold", direction, null, False)
        show = (lambda x: f"{100 * x:.3g}%") if percent else "{:g}".format
        judgement = verdicts.judge_estimate(verdicts.Estimate(est, lo, hi), r, pub, show)
        ours = verdicts.format_interval(est, lo, hi, null=null, percent=percent)
        return VariantVerdict(
            sensitivity, label, judgement.verdict, judgement.why, ours, est, lo, hi
        )
    null = 1.0 if ratio else 0.0
    if rule.kind == "effect":
        r = verdicts.Rule("effect", direction, null, ratio)
        judgement = verdicts.judge_estimate(verdicts.Estimate(est, lo, hi), r, pub)
        ours = verdicts.format_interval(est, lo, hi, null=null)
        return VariantVerdict(
            sensitivity, label, judgement.verdict, judgement.why, ours, est, lo, hi
        )
    # modification: the contrast oriented as "claimed stratum vs the other"
    assert info.strata is not None
    claimed, other = info.strata if rule.stronger_in == "modifier" else info.strata[::-1]
    if rule.stronger_in == "complement":
        est, lo, hi = (1 / est, 1 / hi, 1 / lo) if ratio else (-est, -hi, -lo)
    effect_rows = {
        s: _select(table, spec, sensitivity, "stratum effect", s, term) for s in (claimed, other)
    }
    if any(r.height != 1 for r in effect_rows.values()):
        return VariantVerdict(
            sensitivity,
            label,
            verdicts.NOT_ESTIMATED,
            "no stratum effects for the rule's term",
            "—",
        )
    eff = {s: r.row(0, named=True) for s, r in effect_rows.items()}
    r = verdicts.Rule("modification", direction, null, ratio)
    judgement = verdicts.judge_modification(
        verdicts.Estimate(est, lo, hi),
        verdicts.Estimate(
            eff[claimed]["estimate"], eff[claimed]["conf_low"], eff[claimed]["conf_high"]
        ),
        r,
        pub,
    )
    p = table.filter(
        (pl.col("analysis") == rule.analysis)
        & (pl.col("role") == "interaction")
        & (
            pl.col("sensitivity").is_null()
            if sensitivity is None
            else pl.col("sensitivity") == sensitivity
        )
    )
    p_text = _p(p["p_value"][0]) if p.height == 1 else "—"
    fmt = verdicts.format_interval
    a, b = (
        fmt(e["estimate"], e["conf_low"], e["conf_high"], null) for e in (eff[claimed], eff[other])
    )
    ours = (
        f"{a} [{claimed}] vs {b} [{other}]; {row['scale']} {fmt(est, lo, hi, null)}; "
        f"P-interaction {p_text}"
    )
    return VariantVerdict(sensitivity, label, judgement.verdict, judgement.why, ours, est, lo, hi)


def _p(p: float | None) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"= {p:.3f}"
