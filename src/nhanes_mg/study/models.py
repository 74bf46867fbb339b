"""Model analyses: survey logistic, linear and Cox models of an outcome on an exposure (continuous,
quantiles, cut points or a natural spline), with trend tests, effect modification in one joint
model, the sample flow, Table 1, margins, dose–response and survival curves."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import polars as pl

from nhanes_mg import numbers
from nhanes_mg.derive import registry as derive_registry
from nhanes_mg.errors import (
    EstimationError,
    NhanesError,
    SpecError,
)
from nhanes_mg.expressions import Condition
from nhanes_mg.study.analysis_frame import (
    CONTRAST_SCALES,
    DOMAIN_COL,
    EXPOSURE_COL,
    MODIFIER_COL,
    OUTCOME_COL,
    SCALES,
    SPLINE_BOUNDARY,
    SPLINE_KNOTS,
    TIME_COL,
    TREND_COL,
    as_model_column,
    design_for,
    flag,
    sql_series,
    tidy_rows,
    weighted_quantiles,
)
from nhanes_mg.study.calibrated import CalibratedChain, calibrated_chain
from nhanes_mg.study.flow import Needed, sample_flow
from nhanes_mg.study.imputation import Imputed, impute_covariates
from nhanes_mg.study.plan import AnalysisPlan, ModelPlan
from nhanes_mg.study.regression_table import regression_rows
from nhanes_mg.study.results import (
    CONTRAST_RATIO_SCALES,
    RATIO_SCALES,
    SURVIVAL_ESTIMATOR,
    FitInfo,
    SpecResult,
)
from nhanes_mg.study.spec_types import ModelAnalysis, Outputs, Spec
from nhanes_mg.study.table1 import OVERALL, TABLE1_SCHEMA, table_one
from nhanes_mg.study.weights import CDC_NAME
from nhanes_mg.study.words import column_words, words_list
from nhanes_mg.survey import (
    SurveyDesign,
    regtermtest,
    svycontrast,
    svycoxph,
    svyglm,
)
from nhanes_mg.survey.design import SurveyWarning
from nhanes_mg.survey.km import svykm
from nhanes_mg.survey.mi import micombine
from nhanes_mg.survey.predmeans import svypredmeans
from nhanes_mg.survey.results import SurveyResult
from nhanes_mg.survey.spline_curve import spline_curve, spline_nonlinearity
from nhanes_mg.survey.splines import NaturalSpline
from nhanes_mg.survey.terms import ModelTerms

# ---------------------------------------------------------------------------------- models


def estimate_model(
    spec: Spec, item: AnalysisPlan, frame: pl.DataFrame, result: SpecResult
) -> tuple[pl.DataFrame, FitInfo]:
    """Estimate a model analysis as its plan says, on the rows of the cycles it keeps."""
    analysis, plan, where, weight = item.analysis, item.model, item.where, item.weight
    assert isinstance(analysis, ModelAnalysis) and plan is not None
    kind = analysis.model
    covariates = list(plan.covariates)
    outcome = sql_series(frame, plan.outcome, f"{where}: outcome")
    if outcome.dtype == pl.Boolean:
        outcome = outcome.cast(pl.Float64)
    exposure = sql_series(frame, plan.exposure, f"{where}: exposure")
    if exposure.dtype == pl.Boolean:
        exposure = exposure.cast(pl.Float64)
    work = frame.with_columns(
        [as_model_column(frame[c]).alias(c) for c in covariates]
        + [outcome.alias(OUTCOME_COL), exposure.cast(pl.Float64).alias(EXPOSURE_COL)]
    )
    if plan.time is not None:
        work = work.with_columns(sql_series(frame, plan.time, f"{where}: time").alias(TIME_COL))
    needed = [OUTCOME_COL, EXPOSURE_COL, *covariates] + ([TIME_COL] if kind == "cox" else [])
    imputing = plan.missing == "impute"  # then missing covariates are imputed, not dropped
    required = [c for c in needed if not (imputing and c in covariates)]
    complete = work.select(pl.all_horizontal([pl.col(c).is_not_null() for c in required]))
    domain_flag = complete.to_series()
    for population in item.populations:
        domain_flag = flag(work, population, f"{where}: population") & domain_flag
    # One design of the analysis's cycles; every variable added later is an update() of it,
    # which shares the strata, PSU and weight encodings instead of rebuilding them.
    sample = design_for(work, weight.weight)
    strata: tuple[str, str] | None = None
    added: dict[str, pl.Series] = {}
    if plan.modifier is not None:
        modifier, strata = _modifier(work, domain_flag, analysis, plan.modifier, sample, where)
        added[MODIFIER_COL] = modifier.alias(MODIFIER_COL)
        domain_flag = domain_flag & modifier.is_not_null()
    chain: CalibratedChain | None = None
    if plan.calibration is not None:  # the exposure: usual intake given recalls and covariates
        nutrient, basis = plan.calibration
        with_modifier = work.with_columns(*added.values())
        chain = calibrated_chain(
            with_modifier, domain_flag.to_numpy(), nutrient, basis,
            [*covariates, *added], weight.weight,
        )  # fmt: skip
        work = work.with_columns(chain.exposure().alias(EXPOSURE_COL))
        domain_flag = domain_flag & work[EXPOSURE_COL].is_not_null()
        sample = design_for(work, weight.weight)
    imputed: Imputed | None = None
    if imputing:
        eligible = domain_flag & (work[weight.weight].fill_null(0.0) > 0)
        imputed = impute_covariates(
            work.with_columns(*added.values()), eligible.to_numpy(), covariates,
            [c for c in (OUTCOME_COL, EXPOSURE_COL, TIME_COL, *added) if c in needed or c in added],
            weight.weight, plan.imputations,
        )  # fmt: skip
        domain_flag = eligible
    design = sample.update(**added, **{DOMAIN_COL: domain_flag.alias(DOMAIN_COL)})
    in_domain = design.subset(pl.col(DOMAIN_COL))
    if spec.outputs.sample_flow:
        _record_flow(result, item, work, added.get(MODIFIER_COL))

    # Exposure coding (the plan's columns, so that coefficient names are ours): one 0/1
    # column per non-reference category, the spline basis, or the exposure per `per` units.
    labels: list[str] = list(plan.labels)
    cuts: list[float] = []
    medians: dict[str, float] = {}  # each category's weighted median (the trend's score)
    columns = dict(plan.columns)  # model column → category label (or the exposure's term)
    reference = plan.reference
    if labels:
        if plan.coding == "quantiles":
            k = analysis.quantiles
            cuts = weighted_quantiles(in_domain, EXPOSURE_COL, [i / k for i in range(1, k)])
            if len(set(cuts)) < len(cuts):
                raise EstimationError(
                    f"exposure {analysis.exposure} has tied quantile cut points {cuts}"
                )
        else:
            cuts = list(analysis.cutpoints)
        # right-closed intervals: (−∞, c1], (c1, c2], …
        bounds = [-math.inf, *cuts, math.inf]
        in_category = {
            lab: (pl.col(EXPOSURE_COL) > lo) & (pl.col(EXPOSURE_COL) <= hi)
            for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True)
        }
        medians = _category_medians(in_domain, in_category)
        trend = pl.lit(None, pl.Float64)
        for lab, cond in in_category.items():
            trend = pl.when(cond).then(pl.lit(medians.get(lab))).otherwise(trend)
        dummies = {
            column: pl.when(pl.col(EXPOSURE_COL).is_null())
            .then(None)
            .otherwise(in_category[lab].cast(pl.Float64))
            for column, lab in columns.items()
        }
        coded: dict[str, pl.Expr | pl.Series] = {**dummies, TREND_COL: trend}
    elif plan.coding == "spline":
        splined, weights_of = spline_exposure(analysis, in_domain, work[EXPOSURE_COL])
        assert list(splined) == list(columns)  # the plan's basis columns
        coded = dict(splined)
    else:
        coded = {c: pl.col(EXPOSURE_COL) / analysis.per for c in columns}
    design = design.update(**coded)
    # what each estimate row is: a weighted sum of model columns (one column, weight 1, for
    # categories and a linear exposure; the spline's basis differences for a spline contrast)
    combos: dict[str, dict[str, float]] = (
        {analysis.exposure_term: weights_of}
        if analysis.exposure_type == "spline"
        else {lab: {c: 1.0} for c, lab in columns.items()}
    )
    if plan.modifier is not None:  # after the exposure columns (update sees the old frame)
        design = design.update(**_interactions(plan))
    domain = design.subset(pl.col(DOMAIN_COL))
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
    y = work[OUTCOME_COL].to_numpy()
    events = int(np.nansum(y[used])) if kind in ("logistic", "cox") else None
    # the weighted share with the outcome decides whether it is rare (E-values)
    w = np.asarray(design.weights)[used]
    share = float(np.sum(w * y[used]) / np.sum(w)) if events is not None else None

    exponentiate = kind in ("logistic", "cox")
    base = dict(
        analysis=analysis.name, outcome=analysis.outcome_label or analysis.outcome, model=kind
    )

    def variant(key: tuple[str, int]) -> SurveyDesign:
        """The domain design of another version of the data: a replicate of the calibration
        chain (its exposure and weights) or an imputation (its covariates), coded alike.

        Made from the analysis's own domain design, so that its strata, PSUs, domain and
        the encodings of every column this version leaves alone are shared, not rebuilt
        (:meth:`SurveyDesign.update`). Built when needed and dropped after its fits (dozens
        of designs would not fit in memory together)."""
        if key[0] == "replicate":
            assert chain is not None
            d = domain.reweighted(chain.weights(key[1])).update(
                **{EXPOSURE_COL: chain.exposure(key[1])}
            )
        else:
            assert imputed is not None
            d = domain.update(**imputed.columns(work, key[1]))
        # the exposure's columns coded again from this version's values (update() evaluates
        # on the frame it is given: the coding first, then the products that use it)
        d = d.update(**coded)
        if plan.modifier is not None:
            d = d.update(**_interactions(plan))
        return d

    def fit_all(models: list[ModelTerms]) -> list[SurveyResult]:
        """Each model fitted: on the domain; or over the calibration chain's replicates; or
        on every imputation, combined by Rubin's rules (Barnard–Rubin df on the design's)."""
        if chain is None and imputed is None:
            return [_fit(kind, t, domain) for t in models]
        keys = (
            [("replicate", r) for r in range(chain.n_replicates)]
            if chain is not None
            else [("imputation", i) for i in range(imputed.m)]  # type: ignore[union-attr]
        )
        # the columns every version shares, encoded once on the domain's rows: by the
        # full-sample fits of a chain (its variance needs them), else here
        full = [_fit(kind, t, domain) for t in models] if chain is not None else []
        if chain is None:
            for column in {c for t in models for c in (t.outcome, *t.columns) if c}:
                domain.domain_encoded(column)
        per_variant: list[list[SurveyResult]] = [[] for _ in models]
        with warnings.catch_warnings():  # the full-sample fit says it, not every variant
            if chain is not None:
                warnings.simplefilter("ignore", SurveyWarning)
            for key in keys:
                d = variant(key)
                for j, t in enumerate(models):
                    per_variant[j].append(_fit(kind, t, d, full[j] if full else None))
        if chain is not None:
            return [
                chain.combine(full[j], [f.estimate for f in per_variant[j]])
                for j in range(len(models))
            ]
        combined: list[SurveyResult] = []
        for fits in per_variant:
            df_complete = float(getattr(fits[0], "df_residual", math.inf))
            combined.append(micombine(fits, df_complete))
        return combined

    models = [plan.terms]
    if plan.trend is not None:
        models.append(plan.trend)
    if plan.joint is not None and strata is not None:
        models.append(plan.joint)
    fitted = dict(zip(map(id, models), fit_all(models), strict=True))
    fit = fitted[id(plan.terms)]
    if analysis.exposure_type == "spline":
        tidy = svycontrast(fit, combos).tidy(exponentiate=exponentiate)
    else:
        tidy = fit.tidy(exponentiate=exponentiate).filter(pl.col("term").is_in(list(columns)))
        tidy = tidy.with_columns(term=pl.col("term").replace_strict(columns))
    if analysis.sensitivity is None and spec.outputs.regression_table:
        result.regression = _append(
            result.regression,
            _regression(spec, analysis, plan, fit, tidy, reference, domain, exponentiate),
        )
    tables = []
    if reference is not None:
        tables.append(
            tidy_rows(
                pl.DataFrame({"estimate": [1.0 if exponentiate else 0.0], "n": [n]}),
                role="reference",
                term=reference,
                scale=SCALES[kind],
                **base,
            )
        )
    tables.append(tidy_rows(tidy, role="estimate", scale=SCALES[kind], **base))
    if labels:  # restore the categories' order, the reference among them
        order = {lab: i for i, lab in enumerate(labels)}
        tables = [pl.concat(tables).sort(pl.col("term").replace_strict(order, default=99))]

    if plan.trend is not None:
        trend_fit = fitted[id(plan.trend)]
        t = trend_fit.tidy().filter(pl.col("term") == TREND_COL)
        unit = analysis.exposure_unit or "unit"
        scale = "coefficient (log scale)" if kind != "linear" else "coefficient"
        scale += f" per {unit} of the category medians"  # the trend test's score
        tables.append(tidy_rows(t, role="trend", term="P for trend", scale=scale, **base))
    if plan.joint is not None and strata is not None:
        tables += _joint(plan, combos, fitted[id(plan.joint)], strata, n, base)
    info = item.fit_info(n=n, events=events, strata=strata, cuts=tuple(cuts), outcome_share=share)
    if imputed is not None:
        info = _with_imputation(info, imputed, fit, list(columns))
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
    unit: str | None = f" {analysis.exposure_unit}" if analysis.exposure_unit else ""
    if not categorical:
        seen = (
            in_domain.frame.filter(pl.Series(in_domain.domain))[EXPOSURE_COL].drop_nulls().unique()
        )
        if seen.len() <= 2 and set(seen.to_list()) <= {0.0, 1.0}:
            # a yes/no exposure: its two groups (and margins by them, as for categories)
            labels, cuts, categorical = ["no", "yes"], [0.5], True
            unit = None  # its groups are no and yes, not ranges
    if not categorical:
        labels = [f"Q{i}" for i in range(1, 5)]
        cuts = weighted_quantiles(in_domain, EXPOSURE_COL, [0.25, 0.5, 0.75])
        if len(set(cuts)) < len(cuts):
            return
    bounds = [-math.inf, *cuts, math.inf]
    category = pl.lit(None, pl.String)
    for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True):
        category = (
            pl.when((pl.col(EXPOSURE_COL) > lo) & (pl.col(EXPOSURE_COL) <= hi))
            .then(pl.lit(lab))
            .otherwise(category)
        )
    order = {OVERALL: -1} | {lab: i for i, lab in enumerate(labels)}
    g = numbers.given
    ranges = {} if unit is None else {
        lab: (f"≤ {g(hi)}{unit}" if lo == -math.inf else f"> {g(lo)}{unit}"
              if hi == math.inf else f"{g(lo)}–{g(hi)}{unit}")
        for lab, lo, hi in zip(labels, bounds[:-1], bounds[1:], strict=True)
    }  # fmt: skip
    keys: dict[str, pl.Expr] = dict(
        analysis=pl.lit(analysis.name),
        exposure=pl.lit(analysis.exposure_label or analysis.exposure),
        group_order=pl.col("group").replace_strict(order, default=99, return_dtype=pl.Int64),
        range=pl.col("group").replace_strict(ranges, default=None, return_dtype=pl.String),
    )
    # the characteristics as the dataset holds them (the model's copies are recoded: yes/no
    # as 0/1), the outcome as yes/no for a logistic or Cox model
    outcome = work[OUTCOME_COL]
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
        columns = dict(zip(values, [analysis.outcome, *shown], strict=True))
        words = [  # each level in words, the level itself kept as the data's code
            None if level is None else derive_registry.level_label(columns[v], level)
            for v, level in table.select("variable", "level").iter_rows()
        ]
        table = table.with_columns(
            variable=pl.col("variable").replace_strict(columns),
            level_label=pl.Series(words, dtype=pl.String),
        )
        if analysis.model == "cox":
            deaths = _deaths_and_person_years(described, labels)
            table = pl.concat([table, deaths], how="diagonal_relaxed")
        result.table1 = _append(result.table1, table.with_columns(**keys))
    # the curve a cut point could hide: beside quantile analyses, or asked for (spline = true)
    if outputs.dose_response and (analysis.exposure_type == "quantiles" or analysis.spline):
        _record_dose_response(result, analysis, in_domain, domain, (labels, cuts, medians), keys)
    if analysis.model == "cox" and outputs.survival_curves:
        by_stratum: list[tuple[str | None, SurveyDesign]] = [(None, domain)]
        if strata is not None:  # the claim's strata of the modifier, each its own curves
            by_stratum = [
                (name, domain.subset(pl.col(MODIFIER_COL) == value))
                for name, value in zip(strata, (1.0, 0.0), strict=True)
            ]
        for name, part in by_stratum:
            curves = svykm(
                TIME_COL, OUTCOME_COL, part.update(_cat=category), group="_cat", se=True
            ).tidy()
            curves = curves.with_columns(
                pl.col("group").cast(pl.String),
                stratum=pl.lit(name, pl.String),
                estimator=pl.lit(f"unadjusted; {SURVIVAL_ESTIMATOR}"),
            )
            result.survival = _append(result.survival, curves.with_columns(**keys))
    elif categorical and analysis.model != "cox" and outputs.margins:
        margins = _margins(analysis, domain.update(_cat=category))
        if margins is not None:
            result.margins = _append(result.margins, margins.with_columns(**keys))


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
    knots = weighted_quantiles(in_domain, EXPOSURE_COL, probs)
    inner, (lo, hi) = knots[:3], knots[3:]
    if len(set(knots)) < len(knots):
        return
    covariates = list(analysis.covariates)
    inner_text = ", ".join(map(repr, inner))
    term = f"ns({EXPOSURE_COL}, knots=[{inner_text}], Boundary.knots=[{lo!r}, {hi!r}])"
    labels, cuts, medians = categories
    if not medians:  # quartiles made here for a continuous exposure: their medians too
        bounds = [-math.inf, *cuts, math.inf]
        in_category = {
            lab: (pl.col(EXPOSURE_COL) > a) & (pl.col(EXPOSURE_COL) <= b)
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
        curve = spline_curve(
            fit, EXPOSURE_COL, grid, reference, exponentiate=exponentiate, design=domain
        )
        nonlinear = float(spline_nonlinearity(fit, EXPOSURE_COL).p_value[0])
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


def _deaths_and_person_years(described: SurveyDesign, labels: list[str]) -> pl.DataFrame:
    """Unweighted deaths and person-years (follow-up in months / 12) by category, among the
    analysed (in the domain, in the weight's subsample), in the order of ``labels``."""
    analysed = pl.Series(described.domain & (np.asarray(described.weights) > 0))
    rows = (
        described.frame.filter(analysed & pl.col("_cat").is_not_null())
        .group_by("_cat")
        .agg(
            deaths=(pl.col(OUTCOME_COL) == 1).sum().cast(pl.Float64),
            person_years=(pl.col(TIME_COL) / 12).sum(),
            n=pl.len().cast(pl.Int64),
        )
        # the categories' order, every run (group_by's is not fixed; "≤ 1.7" sorts last)
        .sort(pl.col("_cat").replace_strict(labels, list(range(len(labels)))))
    )
    overall = rows.select(
        pl.lit(OVERALL).alias("_cat"), pl.sum("deaths"), pl.sum("person_years"), pl.sum("n")
    )
    rows = pl.concat([overall, rows])
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
                n_missing=pl.lit(0, pl.Int64),
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
        adjusted_for=pl.lit(words_list(analysis.covariates) or "nothing"),
    )


def _record_flow(
    result: SpecResult, item: AnalysisPlan, work: pl.DataFrame, modifier: pl.Series | None
) -> None:
    """The analysis's sample flow and missingness, added to the result's tables."""
    analysis, weight = item.analysis, item.weight
    assert isinstance(analysis, ModelAnalysis)
    needed = [
        Needed(analysis.outcome_label or analysis.outcome, "outcome", work[OUTCOME_COL]),
        Needed(analysis.exposure_label or analysis.exposure, "exposure", work[EXPOSURE_COL]),
    ]
    if analysis.model == "cox":
        needed.append(Needed(f"follow-up time ({analysis.time})", "time", work[TIME_COL]))
    imputing = analysis.missing == "impute"
    needed += [Needed(c, "covariate", work[c], imputing) for c in analysis.covariates]
    if modifier is not None:
        needed.append(Needed(f"modifier ({analysis.modifier})", "modifier", modifier))
    flow, missing, note = sample_flow(
        work,
        item.populations,
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


def _with_imputation(
    info: FitInfo, imputed: Imputed, fit: SurveyResult, columns: list[str]
) -> FitInfo:
    """What a multiply imputed analysis's FitInfo says of it."""
    fmi = getattr(fit, "missing_information", None)
    worst = (
        max(float(fmi[fit.terms.index(c)]) for c in columns if c in fit.terms)
        if fmi is not None and any(c in fit.terms for c in columns)
        else None
    )
    return replace(
        info,
        imputed=tuple(imputed.imputations.counts.items()),
        imputed_rows=imputed.rows_imputed,
        imputations=imputed.m,
        missing_information=worst,
    )


def _regression(
    spec: Spec,
    analysis: ModelAnalysis,
    plan: ModelPlan,
    fit: SurveyResult,
    exposure: pl.DataFrame,
    reference: str | None,
    domain: SurveyDesign,
    exponentiate: bool,
) -> pl.DataFrame:
    """The main model's regression table (:mod:`nhanes_mg.study.regression_table`)."""
    analysed = pl.Series(domain.domain & (np.asarray(domain.weights) > 0))
    sample = domain.frame.filter(analysed)
    levels: dict[str, list[str]] = {}
    for c in plan.covariates:
        dtype = sample[c].dtype
        if isinstance(dtype, pl.Enum) or dtype == pl.String:
            present = set(sample[c].drop_nulls().cast(pl.String).to_list())
            order = dtype.categories.to_list() if isinstance(dtype, pl.Enum) else sorted(present)
            levels[c] = [v for v in order if v in present]
    registry_labels, registry_units = derive_registry.labels(), derive_registry.units()
    words = {n: (lab, registry_units.get(n, "")) for n, lab in registry_labels.items()}
    words |= {v.name: (v.label or v.name, v.unit) for v in spec.variables}
    if analysis.modifier:
        modifier = column_words(analysis.modifier)
        words[MODIFIER_COL] = (modifier, "")
        words |= {
            i: (f"{plan.columns[c]} × {modifier}", "")
            for c, i in zip(plan.columns, plan.interactions, strict=True)
        }
    table = regression_rows(
        fit.tidy(exponentiate=exponentiate),
        exposure,
        set(plan.columns),
        reference,
        levels,
        words,
        SCALES[analysis.model],
        analysis.exposure_label or analysis.exposure,
    )
    return table.with_columns(analysis=pl.lit(analysis.name))


def _interactions(plan: ModelPlan) -> dict[str, pl.Expr]:
    """Each exposure column times the modifier (the joint model's interaction terms)."""
    pairs = zip(plan.columns, plan.interactions, strict=True)
    return {i: pl.col(c) * pl.col(MODIFIER_COL) for c, i in pairs}


def _joint(
    plan: ModelPlan,
    combos: dict[str, dict[str, float]],
    joint: SurveyResult,
    strata: tuple[str, str],
    n: int,
    base: dict[str, str],
) -> list[pl.DataFrame]:
    """One joint model with exposure × modifier terms: the interaction test, the exposure's
    effect in each stratum and their contrast (linear combinations of its coefficients).

    ``combos`` names each effect as a weighted sum of the exposure's model columns (a
    category's dummy, or a spline contrast's basis differences); where the modifier holds,
    each column's interaction term adds to it.
    """
    kind = plan.kind
    test = regtermtest(joint, list(plan.interactions))
    out = [
        tidy_rows(
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
    out.append(tidy_rows(est, role="stratum effect", scale=SCALES[kind], **base))
    contrasts = {
        label: {f"{c}_m": w for c, w in weights.items()} for label, weights in combos.items()
    }
    diff = svycontrast(joint, contrasts).tidy(exponentiate=exponentiate)
    out.append(tidy_rows(diff, role="modification contrast", scale=CONTRAST_SCALES[kind], **base))
    return out


def spline_exposure(
    analysis: ModelAnalysis, in_domain: SurveyDesign, x: pl.Series
) -> tuple[dict[str, pl.Series], dict[str, float]]:
    """A natural cubic spline of the exposure (knots at its weighted 10th, 50th and 90th
    percentiles in the domain, boundary knots at the 5th and 95th, as the dose–response
    curves), and the weights that turn its coefficients into the contrast between the
    specification's two exposure values."""
    knots = weighted_quantiles(in_domain, EXPOSURE_COL, [*SPLINE_KNOTS, *SPLINE_BOUNDARY])
    if len(set(knots)) < len(knots):
        raise EstimationError(f"exposure {analysis.exposure}: tied spline knots {knots}")
    ns = NaturalSpline(EXPOSURE_COL, tuple(knots[:3]), (knots[3], knots[4]), False, "_s")
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
    parsed: Condition,
    sample: SurveyDesign,
    where: str,
) -> tuple[pl.Series, tuple[str, str]]:
    """The effect modifier as 0/1 (null where unknown) and the names of its two strata."""
    text = parsed.text
    values = sql_series(work, parsed, f"{where}: modifier")
    if analysis.modifier_cut is None:
        if values.dtype != pl.Boolean:
            raise SpecError(f"{where}: modifier {text!r} is not a condition (give modifier_cut)")
        return values.cast(pl.Float64), analysis.strata(None)
    values = values.cast(pl.Float64)
    if analysis.modifier_cut == "median":
        # the weighted median in the analysis domain, as the claim's "below vs above median"
        domain = sample.update(_m=values).subset(domain_flag & values.is_not_null())
        cut = weighted_quantiles(domain, "_m", [0.5])[0]
    else:
        cut = float(analysis.modifier_cut)
    return (values >= cut).cast(pl.Float64), analysis.strata(cut)


def _category_medians(domain: SurveyDesign, categories: dict[str, pl.Expr]) -> dict[str, float]:
    out = {}
    for label, cond in categories.items():
        sub = domain.subset(cond)
        if sub.domain.any():
            out[label] = weighted_quantiles(sub, EXPOSURE_COL, [0.5])[0]
    return out


def _fit(
    kind: str,
    terms: str | ModelTerms,
    domain: SurveyDesign,
    start: SurveyResult | None = None,
) -> SurveyResult:
    """A model of the plan's columns (:class:`ModelTerms`) or of a formula's right-hand side
    (the dose–response spline, written as an ``ns()`` term); ``start``: the same model's
    full-sample fit, whose coefficients start a replicate's IRLS (as R's replicate
    ``svyglm`` starts each replicate; a Cox fit starts from zero)."""
    if kind == "cox":
        rhs = (
            terms if isinstance(terms, ModelTerms) else f"Surv({TIME_COL}, {OUTCOME_COL}) ~ {terms}"
        )
        return svycoxph(rhs, domain)
    family = "quasibinomial" if kind == "logistic" else "gaussian"
    model = terms if isinstance(terms, ModelTerms) else f"{OUTCOME_COL} ~ {terms}"
    first = None if start is None else np.asarray(start.estimate)
    return svyglm(model, domain, family=family, start=first)  # type: ignore[arg-type]
