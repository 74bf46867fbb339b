"""Run a specification on the analytic dataset: design → estimates → tidy table → verdict.

Each analysis (and each sensitivity analysis) runs on its own cycles: those it asks for in
which every variable it uses was measured and its weight exists (a Cox model needs linked
mortality, a two-day intake needs the two-day weight; a cross-sectional analysis beside them
keeps all its cycles). Its weight is the weight of the smallest subsample among the variables
it uses (:mod:`nhanes_mg.study.weights`) unless the specification sets one. The design is the full
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
>>> from nhanes_mg.study.spec import load_shipped_specs
>>> spec = load_shipped_specs()[2]
>>> describe_model(spec.analyses[0]).startswith("survey logistic")
True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.derive import registry as derive_registry
from nhanes_mg.derive.lineage import affected_by
from nhanes_mg.errors import (
    EstimationError,
    IncompleteDataError,
    NhanesError,
    OutsideCyclesError,
    SpecError,
)
from nhanes_mg.expressions import sql_expr, variables_of
from nhanes_mg.study.declared import subsamples as declared_subsamples
from nhanes_mg.study.flow import Needed, sample_flow
from nhanes_mg.study.judge import judge
from nhanes_mg.study.results import CONTRAST_RATIO_SCALES, RATIO_SCALES, FitInfo, SpecResult
from nhanes_mg.study.spec import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    Outputs,
    Spec,
    UsualIntakeAnalysis,
    category_labels,
)
from nhanes_mg.study.table1 import TABLE1_SCHEMA, table_one
from nhanes_mg.study.weights import CDC_NAME, WeightChoice, choose_weight
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
from nhanes_mg.survey.km import svykm
from nhanes_mg.survey.predmeans import svypredmeans
from nhanes_mg.survey.results import TIDY_SCHEMA, SurveyResult
from nhanes_mg.survey.spline_curve import spline_curve, spline_nonlinearity
from nhanes_mg.survey.splines import NaturalSpline
from nhanes_mg.survey.standardize import (
    US2000_ADULT,
    US2000_STANDARD,
    nchs_adult_age_group,
    nchs_age_group,
    svystandardize,
)
from nhanes_mg.usual_intake import estimate_usual_intake
from nhanes_mg.usual_intake.domains import Domain, and_population, check_domains

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
        labels = ", ".join(f"'{label}'" for label, _ in analysis.domains)
        what = (
            f"mean usual intake of {analysis.variable.capitalize()}"
            if analysis.statistic == "usual_mean"
            else f"share below the {analysis.variable.capitalize()} {cut} from usual intake"
        )
        return (
            f"{what} "
            f"({analysis.basis}; NCI method, Fay-BRR replicate SEs, 95% CI from t on the "
            f"design df) beside day 1, domain{'s' if len(analysis.domains) > 1 else ''} "
            f"{labels} of the population"
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
    expression = sql_expr(text)  # refused before anything evaluates it (expressions.py)
    try:
        return frame.select(expression.alias("_"))["_"]
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
    domains = [where for _, where in analysis.domains]
    return [
        f"{nut}_food_d1",
        f"{nut}_food_d2",
        f"{nut}_ear",
        f"{nut}_rda",
        *supp,
        *domains,
        *common,
    ]


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
        if all(why == "not in the analytic dataset" for _, why in dropped):
            raise OutsideCyclesError(
                f"none of its cycles ({', '.join(wanted)}) is among the cycles built (--cycles)"
            )
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
                    outside_cycles=isinstance(exc, OutsideCyclesError),
                )
            )
            continue
        tables.append(table.with_columns(sensitivity=pl.lit(analysis.sensitivity, pl.String)))
        result.fits.append(info)
    if tables:
        result.table = pl.concat([t.select(TABLE_COLUMNS) for t in tables], how="vertical")
    result.verdicts = judge(spec, result)
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
        table, n, used = _usual_intake(spec, analysis, cycles, analytic, result, where, skip)
        weight_name = _usual_weight(analysis)
        reason = (
            "NCI method: both recall days in the mixed model, weighted by the day-1 dietary "
            "weight WTDRD1 (as MIXTRAN)"
            if analysis.weight == "auto"
            else "set by the specification (the NCI method's default: WTDRD1)"
        )
        info = FitInfo(
            analysis.name,
            analysis.sensitivity,
            label,
            describe_model(analysis),
            cycles=used,
            dropped=tuple(skip.items()),
            n=n,
            weight=weight_name,
            weight_reason=f"{reason}; Fay-BRR replicates of the full design, the population "
            "and domains as domains of it",
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
    table, info = _model(spec, analysis, frame, weight, where, kept, dropped, label, result)
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
    standard = STANDARDS.get(analysis.age_standardize or "")
    if standard is not None:
        columns["_agecat"] = frame.select(standard[0]("age"))[:, 0]
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
        if standard is not None:
            rows.append(_standardized(analysis, domain, standard, rows[-1]))
    if not rows:
        raise EstimationError("the population is empty")
    table = pl.concat(rows)
    n = int(table["n"].sum())
    if analysis.trend and analysis.by and analysis.by[0] == "cycle":
        crude = table.filter(pl.col("role") == "estimate")
        table = pl.concat([table, _cycle_trend(crude, analysis)])
    return table, n


# Direct age standardization (spec: age_standardize): the age groups and the 2000 U.S.
# standard population NCHS uses (sources in nhanes_mg.survey.standardize).
STANDARDS: dict[str, tuple[Callable[[str], pl.Expr], dict[str, int]]] = {
    "adult": (nchs_adult_age_group, US2000_ADULT),
    "all_ages": (nchs_age_group, US2000_STANDARD),
}


def _standardized(
    analysis: DescriptiveAnalysis,
    domain: SurveyDesign,
    standard: tuple[Callable[[str], pl.Expr], dict[str, int]],
    crude: pl.DataFrame,
) -> pl.DataFrame:
    """The estimate of ``crude``'s row directly age-standardized to the 2000 U.S. standard
    (R: svystandardize(design, by = ~agecat, over = ~1, population)), role
    "age-standardized"."""
    in_ages = domain.subset(pl.col("_agecat").is_not_null())
    present = set(in_ages.frame.filter(pl.Series(in_ages.domain))["_agecat"].drop_nulls())
    if present != set(standard[1]):  # a standard needs every age group in the domain
        return crude.clear()
    std = svystandardize(in_ages, by="_agecat", over=None, population=standard[1])
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


def _usual_weight(analysis: UsualIntakeAnalysis) -> str:
    """The NCI method weights by the day-1 weight (as MIXTRAN) unless the spec sets one."""
    return "wt_diet1" if analysis.weight == "auto" else analysis.weight


def _usual_domains(spec: Spec, analysis: UsualIntakeAnalysis, where: str) -> list[Any]:
    """The analysis's domains within the spec's and the analysis's population, each labelled
    by its full condition (unique: the key of its rows in the shared estimate)."""
    own = [Domain(label, cond, f"{where}: domain {label!r}") for label, cond in analysis.domains]
    within = and_population(and_population(own, analysis.population), spec.population)
    return [Domain(d.where, d.where, d.source) for d in within]


def _usual_intake(
    spec: Spec,
    analysis: UsualIntakeAnalysis,
    wanted: list[str],
    analytic: pl.DataFrame,
    result: SpecResult,
    where: str,
    skip: dict[str, str],
) -> tuple[pl.DataFrame, int, tuple[str, ...]]:
    """Share below the EAR or the RDA from usual intake (NCI method) beside day 1, by cycle
    (or for the cycles pooled, ``pool = true``), in each of the analysis's domains.

    The model is fitted on the full design of each cycle (everyone aged ≥ 1 with a reliable
    day-1 recall, with the analysis's weight); the spec's and the analysis's population and
    each domain select, as domains, whose usual intakes are summarised. One estimation serves
    every usual-intake analysis of the specification with the same cycles, nutrient, weight
    and replicates (every basis, cut and domain). Intervals: t on the design df.
    """

    present = set(analytic["cycle"].cast(pl.String).unique().to_list())
    cycles = [c for c in wanted if c in present]
    if not cycles:
        raise EstimationError(f"none of the cycles {', '.join(wanted)} is in the data")
    weight = _usual_weight(analysis)
    if weight not in analytic.columns:
        raise SpecError(f"{where}: no weight column {weight} in the analytic dataset")
    mine = _usual_domains(spec, analysis, where)
    for text in (spec.population, analysis.population):
        if text:
            for name in variables_of([text]):
                if name not in analytic.columns:
                    raise SpecError(
                        f"{where}: population: no column {name} in the analytic dataset"
                    )
    check_domains(mine, analytic.columns)
    key = ("usual", tuple(cycles), analysis.variable, analysis.brr, weight, analysis.pool)
    needed = {d.label: d for d in mine}
    for other in (*spec.analyses, *spec.sensitivities):  # the specification's other analyses
        if (
            not isinstance(other, UsualIntakeAnalysis)
            or (other.variable, other.brr, _usual_weight(other), other.pool) != key[2:]
            or [
                c.years for c in spec.cycles_of(other) if c.years in present and c.years not in skip
            ]
            != cycles
        ):
            continue
        try:
            theirs = _usual_domains(spec, other, where)
            check_domains(theirs, analytic.columns)
        except SpecError:
            continue  # that analysis reports its own error
        for d in theirs:
            needed.setdefault(d.label, d)
    cached = result.usual_cache.get(key)
    if cached is None or not set(d.label for d in mine) <= set(cached["domain"]):
        if cached is not None:  # keep what was estimated before (labels are conditions)
            for text in cached["domain"].unique().to_list():
                needed.setdefault(text, Domain(text, text, where))
        cached = estimate_usual_intake(
            analytic,
            cycles=[] if analysis.pool else cycles,
            nutrients=(analysis.variable,),
            pools={catalog.pool_label(cycles): tuple(cycles)} if analysis.pool else {},
            domains=list(needed.values()),
            weight=weight,
            n_brr=analysis.brr,
            n_jobs=1,
        ).table
        result.usual_cache[key] = cached
    labels = {d.label: label for d, (label, _) in zip(mine, analysis.domains, strict=True)}
    rows = cached.filter(
        (pl.col("basis") == analysis.basis)
        & pl.col("domain").is_in(list(labels))
        & (pl.col("n") > 0)
    )
    if rows.is_empty():
        raise EstimationError(
            f"no one with a usual intake is in the domain{'s' if len(labels) > 1 else ''} "
            f"{', '.join(repr(label) for label, _ in analysis.domains)} of the population"
        )
    stat, per, scale = {
        "usual_below_ear": ("pct_below_ear", 100.0, "proportion"),
        "usual_below_rda": ("pct_below_rda", 100.0, "proportion"),
        "usual_mean": ("mean", 1.0, "mean"),
    }[analysis.statistic]
    several = len(analysis.domains) > 1
    table = rows.select(
        cycle=pl.col("population"),
        term=pl.col("method").replace({"day1": "day 1", "usual": "usual intake"}),
        group=pl.col("domain").replace_strict(labels) if several else pl.lit(None, pl.String),
        estimate=pl.col(stat) / per,
        std_error=pl.col(f"{stat}_se") / per,
        conf_low=pl.col(f"{stat}_low") / per,
        conf_high=pl.col(f"{stat}_high") / per,
        df=pl.col("df"),
        n=pl.col("n").cast(pl.Int64),
    )
    table = _rows(
        table,
        analysis=analysis.name,
        role="estimate",
        scale=scale,
        outcome=analysis.label or analysis.name,
        model="usual intake",
    )
    usual = rows.filter(pl.col("method") == "usual")
    n = int(usual.group_by("population").agg(pl.col("n").max())["n"].sum())
    order = {label: i for i, (label, _) in enumerate(analysis.domains)}
    table = table.sort(
        "cycle", pl.col("group").replace_strict(order, default=0, return_dtype=pl.Int64), "term"
    )
    return table, n, tuple(cycles)


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
    result: SpecResult,
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
    if spec.outputs.sample_flow:
        _record_flow(result, spec, analysis, work, weight, added.get(_MOD))

    # Exposure coding, by hand so that coefficient names are ours (no parsing of formula
    # names): one 0/1 column per non-reference category, or the exposure per `per` units.
    labels: list[str] = []
    cuts: list[float] = []
    medians: dict[str, float] = {}  # each category's weighted median (the trend's score)
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
    elif analysis.exposure_type == "spline":
        reference = None
        splined, weights_of = _spline_exposure(analysis, in_domain, work[_X])
        design = design.update(**splined)
        columns.update({c: analysis.exposure_term for c in splined})
    else:
        columns["_e0"] = analysis.exposure_term
        design = design.update(_e0=pl.col(_X) / analysis.per)
        reference = None
    # what each estimate row is: a weighted sum of model columns (one column, weight 1, for
    # categories and a linear exposure; the spline's basis differences for a spline contrast)
    combos: dict[str, dict[str, float]] = (
        {analysis.exposure_term: weights_of}
        if analysis.exposure_type == "spline"
        else {lab: {c: 1.0} for c, lab in columns.items()}
    )
    if analysis.modifier:  # after the exposure columns it multiplies (update sees the old frame)
        design = design.update(**{f"{c}_m": pl.col(c) * pl.col(_MOD) for c in columns})
    domain = design.subset(pl.col(_DOM))
    if not analysis.sensitivity:
        _describe_sample(
            result,
            spec.outputs,
            analysis,
            in_domain,
            domain,
            (labels, cuts, medians),
            frame,
            work,
            strata,
        )
    used = domain.domain & (np.asarray(design.weights) > 0)  # in the domain, in the subsample
    n = int(used.sum())
    if n == 0:
        raise EstimationError("the population is empty (or has no positive weight)")
    y = work[_Y].to_numpy()
    events = int(np.nansum(y[used])) if kind in ("logistic", "cox") else None
    # the weighted share with the outcome decides whether it is rare (E-values)
    w = np.asarray(design.weights)[used]
    share = float(np.sum(w * y[used]) / np.sum(w)) if events is not None else None

    exponentiate = kind in ("logistic", "cox")
    base = dict(
        analysis=analysis.name, outcome=analysis.outcome_label or analysis.outcome, model=kind
    )
    fit = _fit(kind, " + ".join([*columns, *covariates]), domain)
    if analysis.exposure_type == "spline":
        tidy = svycontrast(fit, combos).tidy(exponentiate=exponentiate)
    else:
        tidy = fit.tidy(exponentiate=exponentiate).filter(pl.col("term").is_in(list(columns)))
        tidy = tidy.with_columns(term=pl.col("term").replace_strict(columns))
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
    tables.append(_rows(tidy, role="estimate", scale=SCALES[kind], **base))
    if labels:  # restore the categories' order, the reference among them
        order = {lab: i for i, lab in enumerate(labels)}
        tables = [pl.concat(tables).sort(pl.col("term").replace_strict(order, default=99))]

    if analysis.trend and labels:
        trend_fit = _fit(kind, " + ".join([_TREND, *covariates]), domain)
        t = trend_fit.tidy().filter(pl.col("term") == _TREND)
        scale = "coefficient (log scale)" if kind != "linear" else "coefficient"
        tables.append(_rows(t, role="trend", term="P for trend", scale=scale, **base))
    if analysis.modifier and strata is not None:
        tables += _joint(kind, combos, list(columns), covariates, domain, strata, n, base)
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
        outcome_share=share,
    )
    table = pl.concat(tables)
    _refuse_separation(table, analysis)
    return table, info


# |log ratio| beyond this is no association any data could estimate (an odds ratio above
# 22,000 or below 1/22,000): the outcome is (almost) perfectly predicted, as R warns
SEPARATION_LOG_RATIO = 10.0


def _refuse_separation(table: pl.DataFrame, analysis: ModelAnalysis) -> None:
    """Raise :class:`EstimationError` naming the term when a ratio is infinite or absurdly
    far from 1: (quasi-)complete separation, which a survey logistic or Cox model reports as
    an odds ratio of 10⁹ rather than an error."""
    ratios = table.filter(
        pl.col("scale").is_in([*RATIO_SCALES, *CONTRAST_RATIO_SCALES])
        & pl.col("role").is_in(["estimate", "stratum effect", "modification contrast"])
    )
    for row in ratios.iter_rows(named=True):
        value = row["estimate"]
        if (
            value is None
            or not (0 < value < math.inf)
            or abs(math.log(value)) > SEPARATION_LOG_RATIO
        ):
            where = f" [{row['stratum']}]" if row["stratum"] else ""
            raise EstimationError(
                f"the outcome {analysis.outcome_label or analysis.outcome!r} is (almost) "
                f"perfectly predicted by {row['term']}{where}: its {row['scale']} "
                f"({'none' if value is None else f'{value:.3g}'}) cannot be estimated; merge "
                "categories or drop the term"
            )


def _describe_sample(
    result: SpecResult,
    outputs: Outputs,
    analysis: ModelAnalysis,
    in_domain: SurveyDesign,
    domain: SurveyDesign,
    categories: tuple[list[str], list[float], dict[str, float]],
    frame: pl.DataFrame,
    work: pl.DataFrame,
    strata: tuple[str, str] | None = None,
) -> None:
    """What a main model analysis's sample looks like by exposure category (quartiles, in the
    domain, for a continuous exposure): Table 1, the adjusted margins of a logistic or linear
    model with categories, and for a Cox model the survival curves (within each stratum of
    its modifier, when it has one), deaths and person-years. ``categories``: the model's
    category labels, cut points and weighted medians (empty for a continuous exposure)."""
    labels, cuts, medians = categories
    categorical = bool(labels)
    if not categorical:
        seen = in_domain.frame.filter(pl.Series(in_domain.domain))[_X].drop_nulls().unique()
        if seen.len() <= 2 and set(seen.to_list()) <= {0.0, 1.0}:
            # a yes/no exposure: its two groups (and margins by them, as for categories)
            labels, cuts, categorical = ["no", "yes"], [0.5], True
    if not categorical:
        labels = [f"Q{i}" for i in range(1, 5)]
        cuts = _weighted_quantiles(in_domain, _X, [0.25, 0.5, 0.75])
        if len(set(cuts)) < len(cuts):
            return
    bounds = [-math.inf, *cuts, math.inf]
    category = pl.lit(None, pl.String)
    for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True):
        category = (
            pl.when((pl.col(_X) > lo) & (pl.col(_X) <= hi)).then(pl.lit(lab)).otherwise(category)
        )
    order = {lab: i for i, lab in enumerate(labels)}
    keys: dict[str, pl.Expr] = dict(
        analysis=pl.lit(analysis.name),
        exposure=pl.lit(analysis.exposure_label or analysis.exposure),
        group_order=pl.col("group").replace_strict(order, default=99, return_dtype=pl.Int64),
    )
    # the characteristics as the dataset holds them (the model's copies are recoded: yes/no
    # as 0/1), the outcome as yes/no for a logistic or Cox model
    outcome = work[_Y]
    if analysis.model in ("logistic", "cox"):
        outcome = outcome == 1
    registry_labels, registry_units = derive_registry.labels(), derive_registry.units()
    units = {n: (lab, registry_units.get(n, "")) for n, lab in registry_labels.items()}
    units |= {v.name: (v.label or v.name, v.unit) for v in result.spec.variables}
    shown = [
        *analysis.covariates,
        *(c for c in outputs.table1_extra if c not in analysis.covariates),
    ]
    values = {"_t1_y": outcome} | {f"_t1_{i}": frame[c] for i, c in enumerate(shown)}
    names = [analysis.outcome_label or analysis.outcome, *(_words(c, units) for c in shown)]
    described = in_domain.update(_cat=category, **values)
    if outputs.table1:
        table = table_one(described, "_cat", list(zip(values, names, strict=True)))
        table = table.with_columns(
            variable=pl.col("variable").replace_strict(dict(zip(values, names, strict=True)))
        )
        if analysis.model == "cox":
            table = pl.concat([table, _deaths_and_person_years(described, analysis.time or "")])
        result.table1 = _append(result.table1, table.with_columns(**keys))
    # the curve a cut point could hide: beside quantile analyses, or asked for (spline = true)
    if outputs.dose_response and (analysis.exposure_type == "quantiles" or analysis.spline):
        _record_dose_response(result, analysis, in_domain, domain, (labels, cuts, medians), keys)
    if analysis.model == "cox" and outputs.survival_curves:
        unit = f" {analysis.exposure_unit}" if analysis.exposure_unit else ""
        ranges = {
            lab: (f"≤ {hi:.3g}{unit}" if lo == -math.inf else f"> {lo:.3g}{unit}"
                  if hi == math.inf else f"{lo:.3g}–{hi:.3g}{unit}")
            for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True)
        }  # fmt: skip
        by_stratum: list[tuple[str | None, SurveyDesign]] = [(None, domain)]
        if strata is not None:  # the claim's strata of the modifier, each its own curves
            by_stratum = [
                (name, domain.subset(pl.col(_MOD) == value))
                for name, value in zip(strata, (1.0, 0.0), strict=True)
            ]
        for name, part in by_stratum:
            curves = svykm(_TIME, _Y, part.update(_cat=category), group="_cat", se=True).tidy()
            curves = curves.with_columns(
                pl.col("group").cast(pl.String),
                stratum=pl.lit(name, pl.String),
                range=pl.col("group").cast(pl.String).replace_strict(ranges, default=None),
            )
            result.survival = _append(result.survival, curves.with_columns(**keys))
    elif categorical and analysis.model != "cox" and outputs.margins:
        margins = _margins(analysis, domain.update(_cat=category))
        if margins is not None:
            result.margins = _append(result.margins, margins.with_columns(**keys))


SPLINE_KNOTS = (0.10, 0.50, 0.90)  # interior knots: weighted percentiles (Harrell's three)
SPLINE_BOUNDARY = (0.05, 0.95)  # boundary knots, and the range the curve is drawn over


def _record_dose_response(
    result: SpecResult,
    analysis: ModelAnalysis,
    in_domain: SurveyDesign,
    domain: SurveyDesign,
    categories: tuple[list[str], list[float], dict[str, float]],
    keys: dict[str, pl.Expr],
) -> None:
    """The adjusted dose–response curve of a quantile analysis's exposure: a natural cubic
    spline (knots at weighted percentiles) relative to the median of the reference category,
    with pointwise CIs, the quantile estimates beside it and the test of non-linearity."""
    probs = [*SPLINE_KNOTS, *SPLINE_BOUNDARY]
    knots = _weighted_quantiles(in_domain, _X, probs)
    inner, (lo, hi) = knots[:3], knots[3:]
    if len(set(knots)) < len(knots):
        return
    covariates = list(analysis.covariates)
    term = f"ns({_X}, knots=[{', '.join(map(repr, inner))}], Boundary.knots=[{lo!r}, {hi!r}])"
    labels, cuts, medians = categories
    if not medians:  # quartiles made here for a continuous exposure: their medians too
        bounds = [-math.inf, *cuts, math.inf]
        in_category = {
            lab: (pl.col(_X) > a) & (pl.col(_X) <= b)
            for lab, a, b in zip(labels, bounds[:-1], bounds[1:], strict=True)
        }
        medians = _category_medians(in_domain, in_category)
    reference_label = analysis.reference_category or labels[0]
    reference = medians.get(reference_label)
    if reference is None:
        return
    try:
        fit = _fit(analysis.model, " + ".join([term, *covariates]), domain)
        grid = sorted({*np.linspace(lo, hi, 41).tolist(), reference})  # through the reference
        exponentiate = analysis.model in ("logistic", "cox")
        curve = spline_curve(fit, _X, grid, reference, exponentiate=exponentiate, design=domain)
        nonlinear = float(spline_nonlinearity(fit, _X).p_value[0])
    except NhanesError:
        return
    curve = curve.with_columns(role=pl.lit("curve"), group=pl.lit(None, pl.String))
    # each category's weighted median: where its quantile estimate is drawn beside the curve
    placed = pl.DataFrame(
        {"value": list(medians.values()), "group": list(medians.keys())},
        schema={"value": pl.Float64, "group": pl.String},
    ).with_columns(role=pl.lit("category"))
    both = pl.concat([curve, placed], how="diagonal_relaxed").with_columns(
        p_nonlinear=pl.lit(nonlinear),
        reference=pl.lit(reference),
        knots=pl.lit(", ".join(f"{k:.4g}" for k in inner)),
        unit=pl.lit(analysis.exposure_unit),
    )
    result.dose_response = _append(result.dose_response, both.with_columns(**keys))


def _words(column: str, units: Mapping[str, tuple[str, str]]) -> str:
    """A column as a reader knows it: "Body mass index (kg/m²)" (its name if unknown)."""
    label, unit = units.get(column, (column, ""))
    return f"{label} ({unit})" if unit and unit != "ratio" else label


def _append(table: pl.DataFrame, more: pl.DataFrame) -> pl.DataFrame:
    return pl.concat([table, more], how="diagonal_relaxed") if table.width else more


def _deaths_and_person_years(described: SurveyDesign, time: str) -> pl.DataFrame:
    """Unweighted deaths and person-years (follow-up in months / 12) by category, among the
    analysed (in the domain, in the weight's subsample)."""
    analysed = pl.Series(described.domain & (np.asarray(described.weights) > 0))
    rows = (
        described.frame.filter(analysed & pl.col("_cat").is_not_null())
        .group_by("_cat")
        .agg(
            deaths=(pl.col(_Y) == 1).sum().cast(pl.Float64),
            person_years=(pl.col(_TIME) / 12).sum(),
            n=pl.len().cast(pl.Int64),
        )
        .sort("_cat")  # the categories' order, every run (group_by's order is not fixed)
    )
    out = []
    for variable, statistic in (("deaths", "count"), ("person_years", "person-years")):
        out.append(
            rows.select(
                variable=pl.lit("deaths" if variable == "deaths" else "person-years"),
                label=pl.lit(f"{variable.replace('_', '-')} (unweighted)"),
                level=pl.lit(None, pl.String),
                group=pl.col("_cat"),
                statistic=pl.lit(statistic),
                estimate=pl.col(variable),
                std_error=pl.lit(None, pl.Float64),
                n=pl.col("n"),
                p_value=pl.lit(None, pl.Float64),
                test=pl.lit(None, pl.String),
            )
        )
    return pl.concat(out).cast(TABLE1_SCHEMA)  # type: ignore[arg-type]


def _margins(analysis: ModelAnalysis, domain: SurveyDesign) -> pl.DataFrame | None:
    """Predictive margins by category (R's svypredmeans): adjusted prevalences or means."""
    rhs = " + ".join(analysis.covariates) or "1"
    kind = analysis.model
    try:
        fit = _fit(kind, rhs, domain)
        res = svypredmeans(fit, "_cat", domain)  # type: ignore[arg-type]
    except NhanesError:
        return None
    tidy = res.tidy()
    scale = 100.0 if kind == "logistic" else 1.0
    return tidy.select(
        group=pl.col("term"),
        statistic=pl.lit("adjusted prevalence, %" if kind == "logistic" else "adjusted mean"),
        estimate=pl.col("estimate") * scale,
        std_error=pl.col("std_error") * scale,
        conf_low=pl.col("conf_low") * scale,
        conf_high=pl.col("conf_high") * scale,
        adjusted_for=pl.lit(", ".join(analysis.covariates) or "nothing"),
    )


def _record_flow(
    result: SpecResult,
    spec: Spec,
    analysis: ModelAnalysis,
    work: pl.DataFrame,
    weight: WeightChoice,
    modifier: pl.Series | None,
) -> None:
    """The analysis's sample flow and missingness, added to the result's tables."""
    needed = [
        Needed(analysis.outcome_label or analysis.outcome, "outcome", work[_Y]),
        Needed(analysis.exposure_label or analysis.exposure, "exposure", work[_X]),
    ]
    if analysis.model == "cox":
        needed.append(Needed(f"follow-up time ({analysis.time})", "time", work[_TIME]))
    needed += [Needed(c, "covariate", work[c]) for c in analysis.covariates]
    if modifier is not None:
        needed.append(Needed(f"modifier ({analysis.modifier})", "modifier", modifier))
    flow, missing, note = sample_flow(
        work,
        [spec.population, analysis.population],
        work[weight.weight],
        CDC_NAME.get(weight.weight, weight.weight),
        needed,
    )
    keys = dict(analysis=analysis.name, sensitivity=analysis.sensitivity)
    key_columns = [pl.lit(v, pl.String).alias(k) for k, v in keys.items()]
    result.flow = pl.concat(
        [result.flow, flow.select(*key_columns, pl.all())] if result.flow.width else
        [flow.select(*key_columns, pl.all())]
    )  # fmt: skip
    result.missingness = pl.concat(
        [result.missingness, missing.select(*key_columns, pl.all())]
        if result.missingness.width
        else [missing.select(*key_columns, pl.all())]
    )
    if note and not analysis.sensitivity:
        result.cautions.append(f"{analysis.name}: {note}")


def _joint(
    kind: str,
    combos: dict[str, dict[str, float]],
    columns: list[str],
    covariates: list[str],
    domain: SurveyDesign,
    strata: tuple[str, str],
    n: int,
    base: dict[str, str],
) -> list[pl.DataFrame]:
    """One joint model with exposure × modifier terms: the interaction test, the exposure's
    effect in each stratum and their contrast (linear combinations of its coefficients).

    ``combos`` names each effect as a weighted sum of the exposure's model ``columns`` (a
    category's dummy, or a spline contrast's basis differences); where the modifier holds,
    each column's interaction term adds to it.
    """
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
    for i, (label, weights) in enumerate(combos.items()):
        for holds, stratum in zip((True, False), strata, strict=True):
            name = f"effect{i}{'m' if holds else 'c'}"
            effect = dict(weights)
            if holds:  # the effect where the modifier holds adds the interaction terms
                effect.update({f"{c}_m": w for c, w in weights.items()})
            effects[name] = effect
            term_of[name], stratum_of[name] = label, stratum
    est = svycontrast(joint, effects).tidy(exponentiate=exponentiate)
    est = est.with_columns(
        stratum=pl.col("term").replace_strict(stratum_of),
        term=pl.col("term").replace_strict(term_of),
    )
    out.append(_rows(est, role="stratum effect", scale=SCALES[kind], **base))
    contrasts = {
        label: {f"{c}_m": w for c, w in weights.items()} for label, weights in combos.items()
    }
    diff = svycontrast(joint, contrasts).tidy(exponentiate=exponentiate)
    out.append(_rows(diff, role="modification contrast", scale=CONTRAST_SCALES[kind], **base))
    return out


def _spline_exposure(
    analysis: ModelAnalysis, in_domain: SurveyDesign, x: pl.Series
) -> tuple[dict[str, pl.Series], dict[str, float]]:
    """A natural cubic spline of the exposure (knots at its weighted 10th, 50th and 90th
    percentiles in the domain, boundary knots at the 5th and 95th, as the dose–response
    curves), and the weights that turn its coefficients into the contrast between the
    specification's two exposure values."""
    knots = _weighted_quantiles(in_domain, _X, [*SPLINE_KNOTS, *SPLINE_BOUNDARY])
    if len(set(knots)) < len(knots):
        raise EstimationError(f"exposure {analysis.exposure}: tied spline knots {knots}")
    ns = NaturalSpline(_X, tuple(knots[:3]), (knots[3], knots[4]), False, "_s")
    values = x.cast(pl.Float64).to_numpy()
    known = ~np.isnan(values)
    basis = np.full((len(values), ns.df), np.nan)
    basis[known] = ns.basis(values[known])
    assert analysis.contrast is not None
    low, high = ns.basis(list(analysis.contrast))
    columns = {f"_s{j + 1}": pl.Series(f"_s{j + 1}", basis[:, j]) for j in range(ns.df)}
    columns = {c: v.fill_nan(None) for c, v in columns.items()}
    return columns, {c: float(high[j] - low[j]) for j, c in enumerate(columns)}


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
        return values.cast(pl.Float64), analysis.strata(None)
    values = values.cast(pl.Float64)
    if analysis.modifier_cut == "median":
        # the weighted median in the analysis domain, as the claim's "below vs above median"
        domain = sample.update(_m=values).subset(domain_flag & values.is_not_null())
        cut = _weighted_quantiles(domain, "_m", [0.5])[0]
    else:
        cut = float(analysis.modifier_cut)
    return (values >= cut).cast(pl.Float64), analysis.strata(cut)


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
