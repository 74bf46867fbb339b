"""Run a model specification on the analytic dataset: design → estimates → tidy tables → verdict.

Every analysis keeps the full survey design of the cycles it pools and restricts to its
population as a domain (never by dropping rows first). Models are complete-case within the
domain: rows missing the outcome, the exposure or a covariate leave the domain, not the design.

Examples
--------
>>> from nhanes_mg.spec import load_shipped_specs
>>> spec = load_shipped_specs()[2]
>>> describe_model(spec, spec.analyses[0]).startswith("survey logistic")
True
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg import catalog
from nhanes_mg.errors import EstimationError, NhanesError, SpecError
from nhanes_mg.spec import Analysis, Spec
from nhanes_mg.survey import (
    SurveyDesign,
    regtermtest,
    svyciprop,
    svycoxph,
    svyglm,
    svymean,
    svyquantile,
    svyratio,
)
from nhanes_mg.survey.design import SurveyWarning
from nhanes_mg.survey.results import SurveyResult

TABLE_COLUMNS = (
    "analysis", "term", "estimate", "std_error", "statistic", "p_value", "conf_low",
    "conf_high", "df", "n", "scale", "stratum", "outcome", "model",
)  # fmt: skip
SCALES = {
    "logistic": "odds ratio",
    "cox": "hazard ratio",
    "linear": "difference",
}
VERDICTS = ("consistent", "weaker", "not reproduced", "contradicted")
_Y, _EXPO, _TREND, _MOD, _TIME = "_y", "_expo", "_trend", "_mod", "_time"


@dataclass
class Verdict:
    """How our estimate compares with the claim: one of :data:`VERDICTS`, with the reason."""

    verdict: str
    why: str
    ours: str
    published: str


@dataclass
class SpecResult:
    """The outcome of one specification: its tidy table, per-analysis notes and the verdict."""

    spec: Spec
    table: pl.DataFrame
    notes: list[str] = field(default_factory=list)
    exposure_cuts: dict[str, list[float]] = field(default_factory=dict)
    verdict: Verdict | None = None
    domain_n: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    usual_cache: dict[tuple[object, ...], pl.DataFrame] = field(default_factory=dict, repr=False)


def describe_model(spec: Spec, analysis: Analysis) -> str:
    """One sentence on the model of an analysis, for the report."""
    kind = model_of(spec, analysis)
    if kind == "descriptive":
        by = f" by {', '.join(analysis.by)}" if analysis.by else ""
        what = {
            "ratio": f"ratio of means {analysis.variable} / {analysis.denominator}",
            "mean": f"mean of {analysis.variable}",
            "quantile": f"{analysis.q:.0%} quantile of {analysis.variable}",
            "proportion": f"share with {analysis.variable}",
            "usual_below_ear": f"share below the {analysis.variable} EAR from usual intake "
            f"({analysis.basis}; NCI method, Fay-BRR SEs) beside day 1, domain "
            f"'{analysis.domain}'",
        }[analysis.statistic or "mean"]
        return f"survey-weighted {what}{by}"
    words = {"logistic": "survey logistic regression", "linear": "survey linear regression",
             "cox": "survey Cox proportional-hazards model (Efron ties)"}[kind]  # fmt: skip
    expo = analysis.exposure
    if analysis.exposure_type == "quantiles":
        expo = f"weighted quantiles ({analysis.quantiles}) of {expo} in the domain"
    elif analysis.exposure_type == "cutpoints":
        expo = f"{expo} cut at {', '.join(f'{c:g}' for c in analysis.cutpoints)}"
    elif analysis.per != 1:
        expo = f"{expo} per {analysis.per:g}"
    covs = ", ".join(analysis.covariates) if analysis.covariates else "none (crude)"
    extra = f"; effect modifier {analysis.modifier}" if analysis.modifier else ""
    outcome = analysis.outcome_label or analysis.outcome
    return f"{words} of {outcome} on {expo}; adjusted for {covs}{extra}"


def model_of(spec: Spec, analysis: Analysis) -> str:
    return analysis.model or spec.model


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


def run_spec(spec: Spec, analytic: pl.DataFrame) -> SpecResult:
    """Run every analysis of a specification; errors of one analysis are recorded, not raised."""
    frame = _cycle_frame(spec, analytic)
    tables: list[pl.DataFrame] = []
    result = SpecResult(spec=spec, table=pl.DataFrame())
    for analysis in spec.analyses:
        where = f"{spec.path or spec.id}: analysis {analysis.name!r}"
        try:
            if model_of(spec, analysis) == "descriptive":
                table = _descriptive(spec, analysis, frame, result, where)
            else:
                table = _model(spec, analysis, frame, result, where)
        except SpecError:
            raise
        except NhanesError as exc:
            result.notes.append(f"{analysis.name}: not estimated — {exc}")
            continue
        tables.append(table)
    if tables:
        result.table = pl.concat(tables, how="diagonal_relaxed").select(TABLE_COLUMNS)
    result.verdict = judge(spec, result.table)
    return result


def _cycle_frame(spec: Spec, analytic: pl.DataFrame) -> pl.DataFrame:
    """The pooled cycles of a specification (the design of those cycles, every row)."""
    wanted = [c.years for c in spec.cycles]
    frame = analytic.filter(pl.col("cycle").cast(pl.String).is_in(wanted))
    if spec.model == "cox" or any(a.model == "cox" for a in spec.analyses):
        # Only cycles with a linked-mortality file can enter a survival analysis: pooling
        # weights over cycles without follow-up would misstate the population.
        with_mort = (
            frame.filter(pl.col("mort_eligible").is_not_null())["cycle"].cast(pl.String).unique()
        )
        frame = frame.filter(pl.col("cycle").cast(pl.String).is_in(with_mort.to_list()))
    if frame.height == 0:
        raise EstimationError(f"{spec.id}: no participants in cycles {spec.cycles_text}")
    return frame


# ---------------------------------------------------------------------------------- descriptive


def _descriptive(
    spec: Spec, analysis: Analysis, frame: pl.DataFrame, result: SpecResult, where: str
) -> pl.DataFrame:
    if analysis.statistic == "usual_below_ear":
        return _usual_below_ear(analysis, frame, result)
    population = _flag(frame, spec.population, f"{where}: population") & _flag(
        frame, analysis.population, f"{where}: population"
    )
    variable = _sql(frame, analysis.variable or "", f"{where}: variable")
    columns = {"_v": variable, "_dom": population}
    if analysis.statistic == "ratio":
        columns["_den"] = _sql(frame, analysis.denominator or "", f"{where}: denominator")
    for name, text in analysis.groups.items():
        columns[name] = _sql(frame, text, f"{where}: groups.{name}")
    work = frame.with_columns(**columns)
    if analysis.statistic == "proportion":
        if work["_v"].dtype != pl.Boolean:
            raise SpecError(f"{where}: variable {analysis.variable!r} is not a condition")
        work = work.with_columns(pl.col("_v").cast(pl.Float64))
    design = _design(work, spec.weight)
    groups = _groups(work, analysis.by, where)
    rows = []
    for key, mask in groups:
        domain = design.subset(pl.col("_dom") & mask & pl.col("_v").is_not_null())
        if analysis.statistic == "ratio":
            domain = domain.subset(pl.col("_den").is_not_null())
        if not domain.domain.any():
            continue
        est = _statistic(analysis, domain)
        row = est.tidy().row(0, named=True)
        row["term"] = key
        # a test of "estimate = 0" means nothing for a mean, share or ratio
        row["statistic"] = row["p_value"] = None
        rows.append(row)
    if not rows:
        raise EstimationError("the population is empty")
    table = pl.DataFrame(rows).with_columns(
        analysis=pl.lit(analysis.name),
        scale=pl.lit(analysis.statistic),
        stratum=pl.lit(None, pl.String),
        outcome=pl.lit(analysis.label or analysis.variable),
        model=pl.lit("descriptive"),
    )
    result.domain_n[analysis.name] = int(table["n"].sum())
    if analysis.trend and analysis.by and analysis.by[0] == "cycle":
        table = pl.concat([table, _cycle_trend(table, analysis)], how="diagonal_relaxed")
    return table


def _usual_below_ear(analysis: Analysis, frame: pl.DataFrame, result: SpecResult) -> pl.DataFrame:
    """Share below the EAR from usual intake (NCI method, Fay-BRR SEs) beside day 1, by cycle.

    The usual-intake module defines its own population (reliable recalls, ages ≥ 1, the
    person's EAR); ``domain`` picks one of its subgroups. Intervals: estimate ± 1.96 BRR SE.
    """
    from nhanes_mg.usual_intake import estimate_usual_intake

    present = set(frame["cycle"].cast(pl.String).unique().to_list())
    cycles = [c for c in (analysis.cycles or sorted(present)) if c in present]
    if not cycles:
        raise EstimationError(f"none of the cycles {', '.join(analysis.cycles)} is in the data")
    key = (tuple(cycles), analysis.variable or "mg", analysis.brr)
    if key not in result.usual_cache:  # food and food+supplements come from one estimation
        result.usual_cache[key] = estimate_usual_intake(
            frame, cycles=cycles, nutrients=(key[1],), pools={}, n_brr=analysis.brr, n_jobs=1
        ).table
    rows = result.usual_cache[key].filter(
        (pl.col("basis") == analysis.basis) & (pl.col("domain") == analysis.domain)
    )
    if rows.is_empty():
        raise EstimationError(f"the usual-intake results have no domain {analysis.domain!r}")
    table = rows.select(
        term=pl.col("population") + " · " + pl.col("method").replace({"day1": "day 1"}),
        estimate=pl.col("pct_below_ear") / 100,
        std_error=pl.col("pct_below_ear_se") / 100,
        n=pl.col("n").cast(pl.Int64),
    ).with_columns(
        statistic=pl.lit(None, pl.Float64),
        p_value=pl.lit(None, pl.Float64),
        conf_low=pl.col("estimate") - 1.959964 * pl.col("std_error"),
        conf_high=pl.col("estimate") + 1.959964 * pl.col("std_error"),
        df=pl.lit(math.inf),
        analysis=pl.lit(analysis.name),
        scale=pl.lit("proportion"),
        stratum=pl.lit(None, pl.String),
        outcome=pl.lit(analysis.label or analysis.variable),
        model=pl.lit("descriptive"),
    )
    result.domain_n[analysis.name] = int(rows.filter(pl.col("method") == "usual")["n"].sum())
    return table.sort("term")


def _statistic(analysis: Analysis, domain: SurveyDesign) -> SurveyResult:
    if analysis.statistic == "mean":
        return svymean("_v", domain, na_rm=True)
    if analysis.statistic == "proportion":
        return svyciprop("_v", domain, method="logit", na_rm=True)
    if analysis.statistic == "quantile":
        return svyquantile("_v", domain, [analysis.q], na_rm=True)
    return svyratio("_v", "_den", domain, na_rm=True)


def _groups(frame: pl.DataFrame, by: tuple[str, ...], where: str) -> list[tuple[str, pl.Expr]]:
    if not by:
        return [("all", pl.lit(True))]
    absent = [b for b in by if b not in frame.columns]
    if absent:
        raise SpecError(f"{where}: by: no column {', '.join(absent)} in the analytic dataset")
    combos = frame.select(by).drop_nulls().unique().sort(by).rows()
    out = []
    for combo in combos:
        mask = pl.lit(True)
        for col, value in zip(by, combo, strict=True):
            mask = mask & (pl.col(col) == value)
        out.append((" · ".join(str(v) for v in combo), mask))
    return out


def _cycle_trend(table: pl.DataFrame, analysis: Analysis) -> pl.DataFrame:
    """Linear trend across cycles: weighted least squares of the cycle estimates on the cycle
    midpoint (weights 1/SE²), z test of the slope per decade. Cycles are independent samples,
    so their estimates are independent and this is the GLS test of a linear trend."""
    parts = table["term"].str.split(" · ")
    work = table.with_columns(
        _cycle=parts.list.get(0),
        _rest=parts.list.slice(1).list.join(" · "),
    )
    rows = []
    for rest, sub in work.group_by("_rest", maintain_order=True):
        sub = sub.filter(pl.col("std_error") > 0)
        if sub.height < 3:
            continue
        x = np.array([catalog.get_cycle(c).begin + 0.5 for c in sub["_cycle"]]) / 10.0
        y = sub["estimate"].to_numpy()
        w = 1.0 / sub["std_error"].to_numpy() ** 2
        xbar = np.sum(w * x) / np.sum(w)
        sxx = np.sum(w * (x - xbar) ** 2)
        slope = float(np.sum(w * (x - xbar) * y) / sxx)
        se = float(1.0 / math.sqrt(sxx))
        z = slope / se
        from scipy.stats import norm

        label = f"trend per decade{' · ' + rest[0] if rest[0] else ''}"
        rows.append({
            "term": label, "estimate": slope, "std_error": se, "statistic": z,
            "p_value": float(2 * norm.sf(abs(z))), "conf_low": slope - 1.959964 * se,
            "conf_high": slope + 1.959964 * se, "df": math.inf, "n": int(sub["n"].sum()),
        })  # fmt: skip
    if not rows:
        return pl.DataFrame()
    return pl.DataFrame(rows).with_columns(
        analysis=pl.lit(analysis.name),
        scale=pl.lit("trend (change per 10 years)"),
        stratum=pl.lit(None, pl.String),
        outcome=pl.lit(analysis.label or analysis.variable),
        model=pl.lit("descriptive"),
    )


# ---------------------------------------------------------------------------------- models


def _model(
    spec: Spec, analysis: Analysis, frame: pl.DataFrame, result: SpecResult, where: str
) -> pl.DataFrame:
    kind = model_of(spec, analysis)
    covariates = list(analysis.covariates)
    absent = [c for c in covariates if c not in frame.columns]
    if absent:
        raise SpecError(f"{where}: covariates: no column {', '.join(absent)} in the dataset")
    outcome = _sql(frame, analysis.outcome or "", f"{where}: outcome")
    if outcome.dtype == pl.Boolean:
        outcome = outcome.cast(pl.Float64)
    exposure = _sql(frame, analysis.exposure or "", f"{where}: exposure")
    if exposure.dtype == pl.Boolean:
        exposure = exposure.cast(pl.Float64)
    work = frame.with_columns(
        [_as_model_column(frame[c]).alias(c) for c in covariates]
        + [outcome.alias(_Y), exposure.cast(pl.Float64).alias("_x")]
    )
    if kind == "cox":
        work = work.with_columns(_sql(frame, analysis.time or "", f"{where}: time").alias(_TIME))
    needed = [_Y, "_x", *covariates] + ([_TIME] if kind == "cox" else [])
    complete = pl.all_horizontal([pl.col(c).is_not_null() for c in needed])
    domain_flag = (
        _flag(work, spec.population, f"{where}: population")
        & _flag(work, analysis.population, f"{where}: population")
        & work.select(complete.alias("_"))["_"]
    )
    modifier_names: tuple[str, str] = ("", "")
    if analysis.modifier:
        modifier, modifier_names = _modifier(work, domain_flag, analysis, spec, where)
        work = work.with_columns(modifier.alias(_MOD))
        domain_flag = domain_flag & modifier.is_not_null()
    work = work.with_columns(domain_flag.alias("_dom"))
    design = _design(work, spec.weight)
    domain = design.subset(pl.col("_dom"))
    if not domain.domain.any():
        raise EstimationError("the population is empty")
    result.domain_n[analysis.name] = int(domain.domain.sum())

    # Exposure coding: categories from weighted quantiles in the domain, or fixed cut points.
    labels: list[str] = []
    if analysis.exposure_type in ("quantiles", "cutpoints"):
        if analysis.exposure_type == "quantiles":
            k = analysis.quantiles
            cuts = _weighted_quantiles(domain, "_x", [i / k for i in range(1, k)])
            if len(set(cuts)) < len(cuts):
                raise EstimationError(
                    f"exposure {analysis.exposure} has tied quantile cut points {cuts}"
                )
            labels = [f"Q{i + 1}" for i in range(k)]
        else:
            cuts = list(analysis.cutpoints)
            edges = [f"{c:g}" for c in cuts]
            labels = [f"≤ {edges[0]}"]
            labels += [f"{a}–{b}" for a, b in itertools.pairwise(edges)]
            labels.append(f"> {edges[-1]}")
        result.exposure_cuts[analysis.name] = cuts
        # right-closed intervals: (−∞, c1], (c1, c2], …
        category: Any = pl.when(pl.col("_x").is_null()).then(None)
        for cut, label in zip(cuts, labels, strict=False):
            category = category.when(pl.col("_x") <= cut).then(pl.lit(label))
        category = category.otherwise(pl.lit(labels[-1]))
        work = work.with_columns(category.alias(_EXPO))
        design = _design(work, spec.weight)
        domain = design.subset(pl.col("_dom"))
        medians = _category_medians(domain, labels)
        work = work.with_columns(pl.col(_EXPO).replace_strict(medians, default=None,
                                                              return_dtype=pl.Float64)
                                 .alias(_TREND))  # fmt: skip
        design = _design(work, spec.weight)
        domain = design.subset(pl.col("_dom"))
        exposure_term = f"C({_EXPO})"
        reference = {_EXPO: labels[0]}
    else:
        work = work.with_columns((pl.col("_x") / analysis.per).alias(_EXPO))
        design = _design(work, spec.weight)
        domain = design.subset(pl.col("_dom"))
        exposure_term = _EXPO
        reference = {}

    rhs = " + ".join([exposure_term, *covariates])
    fit = _fit(kind, rhs, domain, reference)
    rows = [_exposure_rows(fit, kind, analysis, labels, stratum=None)]

    if analysis.trend and labels:
        trend_rhs = " + ".join([_TREND, *covariates])
        trend_fit = _fit(kind, trend_rhs, domain, {})
        t = trend_fit.tidy().filter(pl.col("term") == _TREND)
        rows.append(_label(t.with_columns(term=pl.lit("P for trend")), kind, analysis, None,
                           exponentiate=False))  # fmt: skip
    if analysis.modifier:
        inter_rhs = " + ".join([f"{exposure_term} * {_MOD}", *covariates])
        inter_fit = _fit(kind, inter_rhs, domain, reference)
        term_columns: dict[str, list[int]] = getattr(inter_fit, "term_columns", None) or {}
        terms = [t for t in term_columns if ":" in t and _MOD in t]
        test = regtermtest(inter_fit, terms)
        p_value = float(np.asarray(getattr(test, "p_value", np.nan)).ravel()[0])
        stat = float(np.asarray(getattr(test, "statistic", np.nan)).ravel()[0])
        rows.append(pl.DataFrame({
            "term": ["P for interaction"], "estimate": [math.nan], "std_error": [math.nan],
            "statistic": [stat], "p_value": [p_value], "conf_low": [math.nan],
            "conf_high": [math.nan], "df": [float(np.asarray(getattr(test, "df", [math.nan]))
                                              .ravel()[-1])],
            "n": [int(domain.domain.sum())],
        }).with_columns(analysis=pl.lit(analysis.name), scale=pl.lit("Wald F test"),
                        stratum=pl.lit(None, pl.String),
                        outcome=pl.lit(analysis.outcome_label or analysis.outcome),
                        model=pl.lit(kind)))  # fmt: skip
        for level, name in zip((1.0, 0.0), modifier_names, strict=True):
            stratum = domain.subset(pl.col(_MOD) == level)
            try:
                sfit = _fit(kind, rhs, stratum, reference)
            except EstimationError as exc:
                result.notes.append(f"{analysis.name} [{name}]: not estimated — {exc}")
                continue
            rows.append(_exposure_rows(sfit, kind, analysis, labels, stratum=name))
    return pl.concat(rows, how="diagonal_relaxed")


def _modifier(
    work: pl.DataFrame, domain_flag: pl.Series, analysis: Analysis, spec: Spec, where: str
) -> tuple[pl.Series, tuple[str, str]]:
    """The effect modifier as 0/1 (null where unknown) and the names of its two strata."""
    text = analysis.modifier or ""
    values = _sql(work, text, f"{where}: modifier")
    if analysis.modifier_cut is None:
        if values.dtype != pl.Boolean:
            raise SpecError(f"{where}: modifier {text!r} is not a condition (give modifier_cut)")
        return values.cast(pl.Float64), (text, f"not ({text})")
    values = values.cast(pl.Float64)
    if analysis.modifier_cut == "median":
        # the weighted median in the analysis domain, as the claim's "below vs above median"
        flagged = work.with_columns(
            values.alias("_m"), (domain_flag & values.is_not_null()).alias("_mdom")
        )
        design = _design(flagged, spec.weight).subset(pl.col("_mdom"))
        cut = _weighted_quantiles(design, "_m", [0.5])[0]
    else:
        cut = float(analysis.modifier_cut)
    return (values >= cut).cast(pl.Float64), (f"{text} ≥ {cut:.4g}", f"{text} < {cut:.4g}")


def _category_medians(domain: SurveyDesign, labels: list[str]) -> dict[str, float]:
    out = {}
    for label in labels:
        sub = domain.subset(pl.col(_EXPO) == label)
        if sub.domain.any():
            out[label] = _weighted_quantiles(sub, "_x", [0.5])[0]
    return out


def _fit(kind: str, rhs: str, domain: SurveyDesign, reference: dict[str, str]) -> SurveyResult:
    if kind == "cox":
        return svycoxph(f"Surv({_TIME}, {_Y}) ~ {rhs}", domain, reference=reference)
    family = "quasibinomial" if kind == "logistic" else "gaussian"
    return svyglm(f"{_Y} ~ {rhs}", domain, family=family, reference=reference)  # type: ignore[arg-type]


def _exposure_rows(
    fit: SurveyResult, kind: str, analysis: Analysis, labels: list[str], stratum: str | None
) -> pl.DataFrame:
    tidy = fit.tidy(exponentiate=kind in ("logistic", "cox"))
    if labels:
        prefix = f"C({_EXPO})[T."
        tidy = tidy.filter(pl.col("term").str.starts_with(prefix)).with_columns(
            term=pl.col("term").str.strip_prefix(prefix).str.strip_suffix("]")
        )
        reference_row = pl.DataFrame({"term": [labels[0]], "estimate": [
            1.0 if kind in ("logistic", "cox") else 0.0]})  # fmt: skip
        tidy = pl.concat([reference_row, tidy], how="diagonal_relaxed")
    else:
        per = f" per {analysis.per:g}" if analysis.per != 1 else ""
        tidy = tidy.filter(pl.col("term") == _EXPO).with_columns(
            term=pl.lit(f"{analysis.exposure}{per}")
        )
    return _label(tidy, kind, analysis, stratum, exponentiate=True)


def _label(
    tidy: pl.DataFrame, kind: str, analysis: Analysis, stratum: str | None, exponentiate: bool
) -> pl.DataFrame:
    scale = SCALES[kind] if exponentiate else "coefficient (log scale)" if kind != "linear" else (
        "coefficient")  # fmt: skip
    return tidy.with_columns(
        analysis=pl.lit(analysis.name),
        scale=pl.lit(scale),
        stratum=pl.lit(stratum, pl.String),
        outcome=pl.lit(analysis.outcome_label or analysis.outcome),
        model=pl.lit(kind),
    )


# ---------------------------------------------------------------------------------- verdicts


def judge(spec: Spec, table: pl.DataFrame) -> Verdict | None:
    """Turn our estimate into a verdict by the specification's rule (see spec.VERDICT_RULES)."""
    rule = spec.verdict
    if not rule:
        return None
    published = str(spec.reference.get("text", "")) or "—"
    if table.is_empty():
        return Verdict("not reproduced", "the analysis could not be estimated", "—", published)
    rows = table.filter(
        (pl.col("analysis") == rule["analysis"])
        & (pl.col("term") == rule["term"])
        & pl.col("stratum").is_null()
    )
    if rows.is_empty():
        return Verdict("not reproduced", f"no estimate for {rule['analysis']} / {rule['term']}",
                       "—", published)  # fmt: skip
    row = rows.row(0, named=True)
    est, lo, hi, p = row["estimate"], row["conf_low"], row["conf_high"], row["p_value"]
    kind = rule["rule"]
    if kind == "p_below":
        ours = f"P {_p(p, eq=True)}"
        if p >= rule["value"]:
            return Verdict("not reproduced", f"P {_p(p, eq=True)} ≥ {rule['value']}", ours,
                           published)  # fmt: skip
        stronger = rule.get("stronger_in")
        if stronger:
            strata = _stratum_effects(table, rule["analysis"])
            if len(strata) == 2:
                (name_hi, eff_hi), (name_lo, eff_lo) = strata
                expected_hi = stronger == "modifier"
                ours += f"; effect {_fmt(eff_hi)} [{name_hi}] vs {_fmt(eff_lo)} [{name_lo}]"
                hi_stronger = _strength(eff_hi, row["scale"]) > _strength(eff_lo, row["scale"])
                if hi_stronger != expected_hi:
                    return Verdict("contradicted", f"P {_p(p, eq=True)}, but the effect is "
                                   f"stronger in the other stratum than claimed", ours,
                                   published)  # fmt: skip
        return Verdict("consistent", f"P {_p(p, eq=True)} < {rule['value']}", ours, published)
    if row["scale"] == "proportion":
        ours = f"{est:.1%} ({lo:.1%}–{hi:.1%})"
    else:
        ours = f"{_fmt(est)} ({_fmt(lo)}–{_fmt(hi)})"
    if kind in ("above", "below"):
        value = float(rule["value"])
        sign = 1 if kind == "above" else -1
        lo_s, hi_s = sorted((sign * lo, sign * hi))
        word = "above" if kind == "above" else "below"
        if lo_s > sign * value:
            return Verdict("consistent", f"estimate and whole CI {word} {value:g}", ours, published)
        if sign * est > sign * value:
            return Verdict("weaker", f"estimate {word} {value:g} but the CI reaches it", ours,
                           published)  # fmt: skip
        if hi_s >= sign * value:
            return Verdict("not reproduced", f"estimate not {word} {value:g}; CI includes it",
                           ours, published)  # fmt: skip
        return Verdict("contradicted", f"whole CI on the other side of {value:g}", ours, published)
    # effect_below_1 / effect_above_1 on a ratio scale
    sign = 1 if kind == "effect_above_1" else -1
    direction = "above" if sign == 1 else "below"
    pub_lo, pub_hi = spec.reference.get("conf_low"), spec.reference.get("conf_high")
    if sign * math.log(lo if sign == 1 else hi) > 0:
        overlap = pub_lo is None or (lo <= pub_hi and hi >= pub_lo)
        if overlap:
            return Verdict("consistent", f"CI entirely {direction} 1 and overlapping the "
                           "published CI", ours, published)  # fmt: skip
        return Verdict("weaker", f"CI {direction} 1 but the effect is weaker than published",
                       ours, published)  # fmt: skip
    if lo <= 1 <= hi:
        return Verdict("not reproduced", "CI includes 1", ours, published)
    return Verdict("contradicted", f"CI entirely on the other side of 1 (expected {direction})",
                   ours, published)  # fmt: skip


def _stratum_effects(table: pl.DataFrame, analysis: str) -> list[tuple[str, float]]:
    """(stratum, effect) of the last exposure term in each modifier stratum, modifier first."""
    rows = table.filter(
        (pl.col("analysis") == analysis)
        & pl.col("stratum").is_not_null()
        & pl.col("conf_low").is_not_null()
        & ~pl.col("term").str.starts_with("P for")
    )
    out = []
    for (stratum,), sub in rows.group_by("stratum", maintain_order=True):
        out.append((str(stratum), float(sub["estimate"][-1])))
    return out


def _strength(effect: float, scale: str) -> float:
    """Distance from no effect: |log ratio| on ratio scales, |difference| otherwise."""
    if scale in ("odds ratio", "hazard ratio"):
        return abs(math.log(effect))
    return abs(effect)


def _fmt(x: float) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.2f}" if abs(x) < 100 else f"{x:.0f}"


def _p(p: float, eq: bool = False) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    if p < 0.001:
        return "< 0.001"
    return f"= {p:.3f}" if eq else f"{p:.3f}"
