"""One compiled plan per specification: what each analysis will read, on which cycles, with
which weight and model, and what its statements compare it with — decided once, before any
estimate.

:func:`compile` turns a :class:`~nhanes_mg.study.spec_types.Spec` and the :class:`Schema` of the
analytic dataset (which columns each cycle measured, which tables the build lacked) into a
:class:`Plan`. Every expression of the specification is parsed here, once
(:func:`nhanes_mg.expressions.condition`); the population is the specification's and the
analysis's conditions AND-ed as parsed conditions, never as re-joined text. ``nhanes-mg specs
--spec FILE`` prints the plan (:meth:`Plan.text`); ``run`` executes it
(:func:`nhanes_mg.study.analyses.run_plan`), building the model matrices from the plan's
:class:`~nhanes_mg.survey.terms.ModelTerms` rather than from formula texts.

What the plan cannot know before the data is read stays with the estimation: quantile cut
points and spline knots (weighted quantiles in the domain) and a modifier's median.

Examples
--------
>>> import polars as pl
>>> from nhanes_mg.study.spec import load_shipped_specs
>>> spec = next(s for s in load_shipped_specs() if s.id == "C3")
>>> plan = compile(spec, None)  # no dataset at hand: cycles are checked at run time
>>> quartiles = plan.analyses[1]
>>> quartiles.weight.weight, quartiles.model.terms.columns[:3] if quartiles.model else None
('wt_diet1', ('_e1', '_e2', '_e3'))
>>> compile(spec, Schema.of(pl.DataFrame({"cycle": ["2005-2006"], "age": [30]})))
Traceback (most recent call last):
...
nhanes_mg.errors.SpecError: ...: analysis 'deficiency_crude': no column mg_food_d1, ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from nhanes_mg.derive.lineage import affected_by
from nhanes_mg.errors import (
    EstimationError,
    IncompleteDataError,
    NhanesError,
    OutsideCyclesError,
    SpecError,
)
from nhanes_mg.expressions import Condition, condition, variables_of
from nhanes_mg.study.analysis_frame import (
    MODIFIER_COL,
    OUTCOME_COL,
    SPLINE_KNOTS,
    TIME_COL,
    TREND_COL,
    describe_model,
)
from nhanes_mg.study.declared import subsamples as declared_subsamples
from nhanes_mg.study.exposure_error import calibration_words, imputation_words, intake_of
from nhanes_mg.study.results import FitInfo
from nhanes_mg.study.spec_types import (
    Analysis,
    Comparator,
    ModelAnalysis,
    Spec,
    UsualIntakeAnalysis,
    category_labels,
    curve_members,
    expressions_of,
    judged_rows,
)
from nhanes_mg.study.weights import CDC_NAME, WeightChoice, choose_weight
from nhanes_mg.survey.terms import ModelTerms

_MORTALITY = ("mort_", "followup_")


@dataclass(frozen=True)
class Schema:
    """What the analytic dataset holds: its columns, per cycle the columns with at least one
    value and the numeric columns with a positive value (a weight there), and the build's
    gaps (missing tables or columns, ``BuildResult.gaps``).

    >>> frame = pl.DataFrame({"cycle": ["2001-2002", "2003-2004"], "wt_diet2": [None, 2.0]})
    >>> schema = Schema.of(frame)
    >>> sorted(schema.cycles), schema.weighted["2001-2002"]
    (['2001-2002', '2003-2004'], frozenset())
    """

    columns: frozenset[str]
    measured: Mapping[str, frozenset[str]]
    weighted: Mapping[str, frozenset[str]]
    gaps: tuple[dict[str, object], ...] = ()

    @property
    def cycles(self) -> tuple[str, ...]:
        return tuple(self.measured)

    @classmethod
    def of(cls, analytic: pl.DataFrame, gaps: Iterable[dict[str, object]] = ()) -> Schema:
        """The schema of an analytic dataset (one pass over it, grouped by cycle)."""
        columns = [c for c in analytic.columns if c != "cycle"]
        numeric = [c for c in columns if analytic.schema[c].is_numeric()]
        if not columns:
            return cls(frozenset(analytic.columns), {}, {}, tuple(gaps))
        per_cycle = (
            analytic.group_by(pl.col("cycle").cast(pl.String))
            .agg(
                *[pl.col(c).is_not_null().any().alias(c) for c in columns],
                *[(pl.col(c) > 0).any().alias(f"\0{c}") for c in numeric],
            )
            .rows(named=True)
        )
        measured = {str(r["cycle"]): frozenset(c for c in columns if r[c]) for r in per_cycle}
        weighted = {
            str(r["cycle"]): frozenset(c for c in numeric if r[f"\0{c}"]) for r in per_cycle
        }
        return cls(frozenset(analytic.columns), measured, weighted, tuple(gaps))


@dataclass(frozen=True)
class ModelPlan:
    """A model analysis's parsed expressions, exposure coding and model columns.

    ``columns`` maps each exposure model column to the term its row reports (a category's
    label, or the exposure's term); ``terms``, ``trend`` and ``joint`` are the main model,
    the trend model (categories) and the joint exposure × modifier model.
    """

    kind: str
    outcome: Condition
    exposure: Condition
    time: Condition | None
    modifier: Condition | None
    modifier_cut: str | float | None  # a number, "median" (in the domain), or None (a flag)
    covariates: tuple[str, ...]
    coding: str  # continuous | quantiles | cutpoints | spline
    labels: tuple[str, ...]  # the categories, in order (none for one term)
    reference: str | None
    columns: Mapping[str, str]
    terms: ModelTerms
    trend: ModelTerms | None
    joint: ModelTerms | None
    calibration: tuple[str, str] | None = None  # (nutrient, basis): regression calibration
    missing: str = "complete_case"  # or "impute"
    imputations: int = 20

    @property
    def interactions(self) -> tuple[str, ...]:
        return tuple(f"{c}_m" for c in self.columns)

    @property
    def modifier_words(self) -> str:
        """The modifier as the model has it: its condition, or its column and cut."""
        modifier = self.modifier.text if self.modifier else ""
        if self.modifier_cut is not None:
            modifier = f"{modifier} ≥ {self.modifier_cut}"
        return modifier

    def words(self, terms: ModelTerms) -> str:
        """A model in words: its outcome, then each column as the report names it."""
        modifier = self.modifier_words
        named = {
            OUTCOME_COL: self.outcome.text,
            TIME_COL: self.time.text if self.time else "",
            MODIFIER_COL: modifier,
            TREND_COL: "category median (trend)",
        }
        for column, term in self.columns.items():
            named[column] = term
            named[f"{column}_m"] = f"{term} × {modifier}"
        if self.coding == "spline":
            named.update({c: f"{t} (basis {c[2:]})" for c, t in self.columns.items()})
            named.update({f"{c}_m": f"{t} (basis {c[2:]}) × {modifier}"
                          for c, t in self.columns.items()})  # fmt: skip
        rhs = " + ".join(named.get(c, c) for c in terms.columns)
        if terms.time is not None:
            return f"Surv({named[TIME_COL]}, {named[OUTCOME_COL]}) ~ {rhs}"
        return f"{named[OUTCOME_COL]} ~ {rhs}"


@dataclass(frozen=True)
class AnalysisPlan:
    """One analysis (or sensitivity analysis) as it will run.

    ``error`` is why it cannot be estimated (then nothing else need be complete): a missing
    table it needs, none of its cycles built, or no cycle with every variable and the weight.
    """

    analysis: Analysis
    where: str  # names it in error messages
    label: str
    description: str
    populations: tuple[Condition, ...]  # the specification's, then the analysis's
    variables: tuple[str, ...]
    weight: WeightChoice
    cycles: tuple[str, ...]  # asked for
    kept: tuple[str, ...] = ()
    dropped: tuple[tuple[str, str], ...] = ()  # (cycle, why it is left out)
    incomplete: tuple[str, ...] = ()  # missing tables estimated without (--allow-incomplete)
    model: ModelPlan | None = None
    judged: tuple[tuple[str, Comparator], ...] = ()  # (statement, the row it judges here)
    error: NhanesError | None = None

    @property
    def population(self) -> Condition | None:
        """The specification's and the analysis's populations, AND-ed (parsed, not text)."""
        if not self.populations:
            return None
        first, *rest = self.populations
        return first.and_(*rest) if rest else first

    def fit_info(self, **fields: Any) -> FitInfo:
        """What was fitted, as the report states it: this plan's analysis, cycles, weight and
        missing tables, with the estimation's ``fields`` (``n``, ``events`` …) added or set."""
        analysis = self.analysis
        planned: dict[str, Any] = dict(
            cycles=self.kept,
            dropped=self.dropped,
            weight=self.weight.weight,
            weight_reason=self.weight.reason,
            incomplete=self.incomplete,
        )
        return FitInfo(
            analysis.name, analysis.sensitivity, self.label, self.description,
            **{**planned, **fields},
        )  # fmt: skip

    @property
    def name(self) -> str:
        sens = self.analysis.sensitivity
        return self.analysis.name + (f" [{sens}]" if sens else "")


@dataclass(frozen=True)
class Plan:
    """A specification compiled against a dataset's schema: one :class:`AnalysisPlan` per
    analysis and sensitivity analysis, in the specification's order."""

    spec: Spec
    analyses: tuple[AnalysisPlan, ...] = field(default=())
    checked: bool = True  # False: cycles decided at run time (no dataset at hand)

    def text(self) -> str:
        """The plan in words, as ``nhanes-mg specs --spec`` prints it."""
        lines = [f"{self.spec.id}: {self.spec.title}"]
        for item in self.analyses:
            lines.append("")
            lines.append(f"  {item.name} — {item.label}")
            lines.append(f"    what: {item.description}")
            if item.population is not None:
                lines.append(f"    population: {' AND '.join(item.population.clauses)}")
            lines.append(f"    weight: {CDC_NAME.get(item.weight.weight, item.weight.weight)}"
                         f" — {item.weight.reason}")  # fmt: skip
            if not self.checked:
                lines.append(f"    cycles asked for: {', '.join(item.cycles)} (checked "
                             "against the data at run time)")  # fmt: skip
            else:
                lines.append(f"    cycles: {', '.join(item.kept) or 'none'}")
                for cycle, why in item.dropped:
                    lines.append(f"    left out: {cycle} — {why}")
            if item.model is not None:
                m = item.model
                lines.append(f"    model: {m.words(m.joint or m.terms)}")
                coding = {
                    "quantiles": f"{len(m.labels)} weighted quantiles in the domain",
                    "cutpoints": "categories at the cut points",
                }.get(m.coding, m.coding)
                lines.append(f"    exposure: {coding}"
                             + (f", reference {m.reference}" if m.reference else ""))  # fmt: skip
                if m.calibration is not None:
                    nutrient, basis = m.calibration
                    inputs = [*m.covariates, *([m.modifier_words] if m.modifier else [])]
                    words = calibration_words(nutrient, basis, inputs)
                    lines.append(f"    exposure error: {words}")
                if m.trend is not None:
                    lines.append(f"    trend: {m.words(m.trend)}")
                if m.missing == "impute":
                    lines.append(f"    missing covariates: {imputation_words(m.imputations)}")
            for statement, comp in item.judged:
                row = ", ".join(
                    f"{k} {v!r}"
                    for k, v in (("term", comp.term), ("cycle", comp.cycle), ("group", comp.group))
                    if v
                )
                published = comp.text or "nothing comparable published"
                by = f"statement {statement!r}" if statement else "the verdict"
                lines.append(f"    judged by {by}: {row or 'its row'} vs {published}")
            if item.error is not None:
                lines.append(f"    not estimated: {item.error}")
        return "\n".join(lines)


def compile(
    spec: Spec,
    schema: Schema | None,
    allow_incomplete: bool = False,
) -> Plan:
    """Compile ``spec`` against ``schema`` (None: no dataset at hand — cycles are not
    checked, weights and models still are).

    Raises :class:`SpecError` for what no dataset could fix (an expression that is not a
    condition where one is needed, a column the dataset lacks); an analysis that cannot be
    estimated on this dataset gets its ``error`` instead.
    """
    items = []
    for analysis in (*spec.analyses, *spec.sensitivities):
        where = f"{spec.path or spec.id}: analysis {analysis.name!r}"
        if analysis.sensitivity:
            where += f" (sensitivity {analysis.sensitivity!r})"
        items.append(_compile_one(spec, analysis, where, schema, allow_incomplete))
    return Plan(spec, tuple(items), checked=schema is not None)


def _compile_one(
    spec: Spec,
    analysis: Analysis,
    where: str,
    schema: Schema | None,
    allow_incomplete: bool,
) -> AnalysisPlan:
    label = analysis.sensitivity_label or analysis.label or analysis.name
    texts = expressions_of(spec, analysis)
    variables = tuple(variables_of(texts))
    if isinstance(analysis, UsualIntakeAnalysis):
        weight = usual_weight(analysis)
    else:
        weight = choose_weight(texts, analysis.weight, declared_subsamples(spec.variables))
    populations = [condition(t) for t in (spec.population, analysis.population) if t]
    item = AnalysisPlan(
        analysis=analysis,
        where=where,
        label=label,
        description=describe_model(analysis),
        populations=tuple(populations),
        variables=variables,
        weight=weight,
        cycles=tuple(c.years for c in spec.cycles_of(analysis)),
        model=_model_plan(analysis) if isinstance(analysis, ModelAnalysis) else None,
        judged=tuple(
            (s.name, comp)
            for s in spec.statements
            if any(m is analysis for m in curve_members(spec, s))
            for comp in judged_rows(s, analysis)
        ),
    )
    if schema is None:
        return item
    try:
        return _cycles(item, schema, allow_incomplete)
    except SpecError:
        raise
    except NhanesError as exc:
        return replace(item, error=exc)


def usual_weight(analysis: UsualIntakeAnalysis) -> WeightChoice:
    """The NCI method weights by the day-1 weight (as MIXTRAN) unless the spec sets one."""
    if analysis.weight == "auto":
        reason = (
            "NCI method: both recall days in the mixed model, weighted by the day-1 dietary "
            "weight WTDRD1 (as MIXTRAN)"
        )
        return WeightChoice("wt_diet1", "diet1", reason)
    reason = "set by the specification (the NCI method's default: WTDRD1)"
    return WeightChoice(analysis.weight, "diet1", reason, explicit=True)


def _cycles(item: AnalysisPlan, schema: Schema, allow_incomplete: bool) -> AnalysisPlan:
    """The cycles kept and left out (with why), or the error that leaves none."""
    wanted = list(item.cycles)
    hits = affected_by(list(schema.gaps), list(item.variables), wanted)
    missing = tuple(dict.fromkeys(f"{table} ({cycle})" for table, cycle, _ in hits))
    if hits and not allow_incomplete:
        needed = sorted({v for *_, found in hits for v in found})
        raise IncompleteDataError(f"{', '.join(missing)} missing — needed for {', '.join(needed)}")
    skip = {cycle: f"{table} missing (--allow-incomplete)" for table, cycle, _ in hits}
    item = replace(item, incomplete=missing)
    if isinstance(item.analysis, UsualIntakeAnalysis):
        usual = tuple(c for c in wanted if c not in skip and c in schema.measured)
        return replace(item, kept=usual, dropped=tuple(skip.items()))
    absent = [v for v in item.variables if v not in schema.columns]
    if absent:
        raise SpecError(f"{item.where}: no column {', '.join(absent)} in the analytic dataset")
    weight = item.weight.weight
    if weight not in schema.columns:
        raise SpecError(f"{item.where}: no weight column {weight} in the analytic dataset")
    kept: list[str] = []
    dropped: list[tuple[str, str]] = []
    for cycle in wanted:
        if cycle in skip:
            dropped.append((cycle, skip[cycle]))
            continue
        if cycle not in schema.measured:
            dropped.append((cycle, "not in the analytic dataset"))
            continue
        why = (
            []
            if weight in schema.weighted[cycle]
            else [f"no {CDC_NAME.get(weight, weight)} weight"]
        )
        lacking = [v for v in item.variables if v not in schema.measured[cycle]]
        if any(v.startswith(_MORTALITY) for v in lacking):
            why.append("no linked mortality file")
        other = [v for v in lacking if not v.startswith(_MORTALITY)]
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
    return replace(item, kept=tuple(kept), dropped=tuple(dropped))


def _model_plan(analysis: ModelAnalysis) -> ModelPlan:
    """The exposure coding and model columns of a model analysis: one 0/1 column per
    non-reference category (``_e{j}``), the spline basis (``_s1`` …) or the exposure per
    ``per`` units (``_e0``); then the covariates as they are named."""
    labels = tuple(category_labels(analysis.exposure_type, analysis.quantiles, analysis.cutpoints))
    reference = None
    columns: dict[str, str] = {}
    if labels:
        reference = analysis.reference_category or labels[0]
        columns = {f"_e{j}": lab for j, lab in enumerate(labels) if lab != reference}
    elif analysis.exposure_type == "spline":
        df = len(SPLINE_KNOTS) + 1  # a natural spline without intercept: interior knots + 1
        columns = {f"_s{j + 1}": analysis.exposure_term for j in range(df)}
    else:
        columns = {"_e0": analysis.exposure_term}
    cox = analysis.model == "cox"
    covariates = tuple(analysis.covariates)

    def terms(cols: Sequence[str]) -> ModelTerms:
        return ModelTerms(OUTCOME_COL, (*cols, *covariates), time=TIME_COL if cox else None)

    inter = [f"{c}_m" for c in columns]
    return ModelPlan(
        kind=analysis.model,
        outcome=condition(analysis.outcome),
        exposure=condition(analysis.exposure),
        time=condition(analysis.time) if analysis.time else None,
        modifier=condition(analysis.modifier) if analysis.modifier else None,
        modifier_cut=analysis.modifier_cut,
        covariates=covariates,
        coding=analysis.exposure_type,
        labels=labels,
        reference=reference,
        columns=columns,
        terms=terms(list(columns)),
        trend=terms([TREND_COL]) if analysis.trend and labels else None,
        joint=terms([*columns, MODIFIER_COL, *inter]) if analysis.modifier else None,
        calibration=(
            intake_of(analysis.exposure)
            if analysis.exposure_error == "regression_calibration"
            else None
        ),
        missing=analysis.missing,
        imputations=analysis.imputations,
    )
