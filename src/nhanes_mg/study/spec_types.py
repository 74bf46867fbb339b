"""The typed form of a specification: its analyses, references, comparators, verdict rules and
statements, as :func:`nhanes_mg.study.spec.parse_spec` makes them, and the questions asked of
them (which analyses a statement's curve holds, which rows it judges)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.standard_populations import (
    US2000_ADULT,
    US2000_ADULT_BOUNDS,
    US2000_STANDARD,
    US2000_STANDARD_BOUNDS,
)
from nhanes_mg.study.spec_fields import _fail, _get
from nhanes_mg.study.verdicts import Direction, RuleKind

MODELS = ("descriptive", "linear", "logistic", "cox")
EXPOSURE_TYPES = ("continuous", "quantiles", "cutpoints", "spline")
STATISTICS = ("mean", "quantile", "proportion", "ratio")
USUAL_STATISTICS = ("usual_below_ear", "usual_below_rda", "usual_mean")
USUAL_BASES = ("food", "food+supplements")
WEIGHTS = ("auto", "wt_int", "wt_mec", "wt_diet1", "wt_diet2")


@dataclass(frozen=True)
class AgeStandard:
    """A standard population for direct age standardization: age groups and their sizes.

    ``bounds`` are the lower age bounds (years) of the groups, increasing; each group runs to
    the next bound and the last is open. ``population`` gives each group's size in any unit
    (only the proportions count). An estimate is standardized over the groups present in its
    domain, their population renormalised to sum to one (:attr:`description` says so).

    >>> std = NAMED_STANDARDS["adult"]
    >>> std.labels, round(std.proportions()["20-39"], 6)
    (('20-39', '40-59', '60+'), 0.396579)
    >>> AgeStandard("mine", (1, 6, 12), (5.0, 6.0, 9.0)).labels
    ('1-5', '6-11', '12+')
    """

    name: str
    bounds: tuple[float, ...]
    population: tuple[float, ...]
    source: str = ""  # what the numbers are, for the report

    @property
    def labels(self) -> tuple[str, ...]:
        """Each group as ``"lo-hi"`` (whole years, inclusive), the last ``"lo+"``."""
        out = []
        for lo, hi in itertools.zip_longest(self.bounds, self.bounds[1:]):
            if hi is None:
                out.append(f"{lo:g}+")
            else:
                out.append(f"{lo:g}" if hi - lo == 1 else f"{lo:g}-{hi - 1:g}")
        return tuple(out)

    def proportions(self, groups: tuple[str, ...] | None = None) -> dict[str, float]:
        """The standard's share of each group, over ``groups`` (default: all) renormalised."""
        sizes = dict(zip(self.labels, self.population, strict=True))
        chosen = self.labels if groups is None else tuple(g for g in self.labels if g in groups)
        total = sum(sizes[g] for g in chosen)
        return {g: sizes[g] / total for g in chosen}

    def group(self, age: str = "age") -> pl.Expr:
        """The group label of an age (null below the first bound or when age is null)."""
        a = pl.col(age)
        expr: Any = pl.when(a.is_null() | (a < self.bounds[0])).then(pl.lit(None, pl.String))
        for label, upper in zip(self.labels, self.bounds[1:], strict=False):
            expr = expr.when(a < upper).then(pl.lit(label))
        return expr.otherwise(pl.lit(self.labels[-1]))

    @property
    def description(self) -> str:
        """The standard in words, as the report prints it."""
        groups = ", ".join(self.labels)
        return (
            f"{self.source or self.name} (age groups {groups} years; over the groups present "
            "in each domain, renormalised)"
        )


NAMED_STANDARDS: dict[str, AgeStandard] = {
    "adult": AgeStandard(
        "adult", US2000_ADULT_BOUNDS, tuple(map(float, US2000_ADULT.values())),
        "the 2000 U.S. standard population, NCHS adult groups",
    ),
    "all_ages": AgeStandard(
        "all_ages", US2000_STANDARD_BOUNDS, tuple(map(float, US2000_STANDARD.values())),
        "the 2000 U.S. standard population, the 11 NCHS groups",
    ),
}  # fmt: skip
"""The standards a specification names (``age_standardize = "adult"``); sources in
:mod:`nhanes_mg.survey.standardize`."""


@dataclass(frozen=True)
class _Common:
    name: str
    label: str = ""
    population: str | None = None
    cycles: tuple[catalog.Cycle, ...] = ()  # empty: the specification's
    weight: str = "auto"
    sensitivity: str | None = None  # the sensitivity analysis this is (None: the main one)
    sensitivity_label: str = ""
    verdict_term: str | None = None  # a sensitivity's own row for the verdict rule
    verdict_direction: Direction | None = None  # … and the claimed side, when it differs
    # the rows a statement judges here and what their source published (None: the statement's
    # own row and reference; a sensitivity analysis inherits its analysis's unless it sets one)
    compare: tuple[Comparator, ...] | None = None
    # what a sensitivity analysis changes of its analysis's estimand (population, exposure,
    # outcome, cycles) without a comparator of its own: it then inherits no published number
    estimand_changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupContrast:
    """Differences between groups of a descriptive or usual-intake analysis (``contrast``).

    ``variable`` is the ``by`` column whose levels are compared (descriptive), or ``""`` for
    a usual-intake analysis, whose groups are its domains (by label). ``pairs`` are
    ``(level, reference)``: each difference is level − reference. Empty ``pairs`` (only for
    a ``by`` column, whose levels are known from the data): each level against the first.

    >>> GroupContrast("sex").words
    'each level of sex against the first'
    >>> GroupContrast("", (("women", "men"),)).words
    'women − men'
    """

    variable: str
    pairs: tuple[tuple[str, str], ...] = ()

    @property
    def words(self) -> str:
        if not self.pairs:
            return f"each level of {self.variable} against the first"
        return ", ".join(f"{a} − {b}" for a, b in self.pairs)


@dataclass(frozen=True)
class DescriptiveAnalysis(_Common):
    """Survey-weighted means, shares, ratios of means or quantiles, optionally by group."""

    statistic: str = "mean"
    variable: str = ""
    denominator: str | None = None
    q: float = 0.5
    by: tuple[str, ...] = ()
    groups: dict[str, str] = field(default_factory=dict)
    trend: bool = False
    age_standardize: AgeStandard | None = None  # beside the crude estimate
    contrast: GroupContrast | None = None  # differences between the levels of a `by` column
    kind: Literal["descriptive"] = "descriptive"

    @property
    def model(self) -> str:
        return "descriptive"


@dataclass(frozen=True)
class ModelAnalysis(_Common):
    """A survey regression: linear, logistic (quasibinomial) or Cox."""

    model: str = "logistic"
    outcome: str = ""
    outcome_label: str = ""
    exposure: str = ""
    exposure_label: str = ""
    exposure_unit: str = ""
    exposure_type: str = "continuous"
    quantiles: int = 4
    cutpoints: tuple[float, ...] = ()
    reference_category: str | None = None
    per: float = 1.0
    covariates: tuple[str, ...] = ()
    modifier: str | None = None
    modifier_cut: str | float | None = None
    modifier_labels: tuple[str, str] | None = None  # (holds, complement); "{cut}" is replaced
    trend: bool = False
    time: str | None = None
    spline: bool = False  # a continuous exposure's dose–response curve (quantiles: always)
    contrast: tuple[float, float] | None = None  # exposure_type = "spline": (low, high) values
    exposure_error: str = "none"  # "regression_calibration": usual intake, not the recalls
    missing: str = "complete_case"  # "impute": missing covariates multiply imputed
    imputations: int = 20
    kind: Literal["model"] = "model"

    @property
    def exposure_term(self) -> str:
        """The term of a continuous or spline exposure: ``total Mg intake, per 100 mg/day``,
        ``vitamin D intake, 25 vs 2.5 µg/day``."""
        name = self.exposure_label or self.exposure
        if self.exposure_type == "spline" and self.contrast:
            low, high = self.contrast
            return f"{name}, {high:g} vs {low:g} {self.exposure_unit}".rstrip()
        if self.per == 1 and not self.exposure_unit:
            return name
        return f"{name}, per {self.per:g} {self.exposure_unit}".rstrip()

    def strata(self, cut: float | None) -> tuple[str, str]:
        """Labels of the modifier's strata: (where it holds, the complement); ``cut`` is the
        number a continuous modifier is split at ("{cut}" in the labels)."""
        text = self.modifier or ""
        if self.modifier_labels:
            value = "" if cut is None else f"{cut:.3g}"
            holds, other = self.modifier_labels
            return holds.replace("{cut}", value), other.replace("{cut}", value)
        if cut is None:
            return text, f"not ({text})"
        return f"{text} ≥ {cut:.4g}", f"{text} < {cut:.4g}"

    @property
    def terms(self) -> list[str]:
        """The terms of its estimate rows: the exposure's categories, or its one term."""
        labels = category_labels(self.exposure_type, self.quantiles, self.cutpoints)
        return labels or [self.exposure_term]


@dataclass(frozen=True)
class UsualIntakeAnalysis(_Common):
    """Share of usual intake (NCI method) below the EAR or the RDA, or mean usual intake,
    beside day 1, by cycle (or pooled), in each of ``domains`` ((label, SQL condition) pairs,
    each a domain within the population; ``domain`` is the first one's label)."""

    statistic: str = "usual_below_ear"
    variable: str = "mg"
    basis: str = "food"
    domain: str = "all"
    brr: int | None = None
    domains: tuple[tuple[str, str], ...] = (("all", "TRUE"),)
    pool: bool = False  # the cycles pooled into one estimate
    contrast: GroupContrast | None = None  # differences between domains (by label)
    kind: Literal["usual_intake"] = "usual_intake"

    @property
    def model(self) -> str:
        return "descriptive"


Analysis = DescriptiveAnalysis | ModelAnalysis | UsualIntakeAnalysis


@dataclass(frozen=True)
class ReferencePoint:
    """A published value to draw on a trend figure (a range when ``low`` and ``high`` differ)."""

    label: str
    year: float
    low: float | None
    high: float | None


@dataclass(frozen=True)
class Reference:
    """The published evidence: its words, and its number when there is one."""

    text: str = ""
    estimate: float | None = None
    conf_low: float | None = None
    conf_high: float | None = None
    points: tuple[ReferencePoint, ...] = ()
    cycles: tuple[str, ...] = ()  # the NHANES cycles the source's estimate is from


@dataclass(frozen=True)
class Comparator:
    """One row of an analysis that a statement judges, and what its source published for it.

    ``term``, ``cycle`` and ``group`` pick the row (unset: the statement's own); ``estimate``
    (with its CI when published) is the number our estimate is held against, ``text`` the
    source's words or why there is no number. ``statistic`` and ``basis`` state the estimand
    the source reported; the specification is refused when they differ from the analysis's,
    so that a share below the EAR is never held against one below the RDA.
    """

    text: str = ""
    estimate: float | None = None
    conf_low: float | None = None
    conf_high: float | None = None
    term: str | None = None
    cycle: str | None = None
    group: str | None = None
    statistic: str | None = None
    basis: str | None = None
    stratum: str | None = None  # a joint model's effect in this stratum of its modifier
    p_value: float | None = None  # a published P for interaction …
    p_below: bool = False  # … given only as a bound ("P < 0.001": 0.001, True)
    cycles: tuple[str, ...] = ()  # the NHANES cycles the source's estimate is from

    @property
    def p_text(self) -> str:
        """The published P as the source gave it: ``< 0.001``, ``= 0.03``."""
        return "" if self.p_value is None else f"{'<' if self.p_below else '='} {self.p_value:g}"

    @property
    def published(self) -> Reference:
        return Reference(
            self.text, self.estimate, self.conf_low, self.conf_high, cycles=self.cycles
        )


@dataclass(frozen=True)
class VerdictRule:
    """Which row of which analysis the verdict reads, and what the claim says about it.

    ``smallest_effect`` (optional) is the smallest effect the claim would care about, on the
    estimate's scale and on the claimed side (an odds ratio of 1.2, a difference of 5 nmol/L):
    a CI that includes no effect but excludes every effect of that size reads "no effect of
    the claimed size", not "inconclusive".
    """

    analysis: str
    kind: RuleKind
    direction: Direction
    term: str | None = None
    cycle: str | None = None
    group: str | None = None
    value: float | None = None
    stronger_in: Literal["modifier", "complement"] | None = None
    smallest_effect: float | None = None


@dataclass(frozen=True)
class Statement:
    """One judged statement of a claim: its verdict rule, its source's estimate, and the
    analyses whose estimates make its specification curve.

    A claim with one statement has ``name`` ""; a claim that says two things (C4: Deng's
    reported interaction, and the documents' mechanism) has one statement each, with its own
    verdict, comparator and limits. ``analyses`` lists the analyses of its curve (each with
    its sensitivity analyses); the verdict's analysis comes first.
    """

    name: str
    text: str
    verdict: VerdictRule
    reference: Reference
    analyses: tuple[str, ...]
    limits: str = ""
    secondary: bool = False


@dataclass(frozen=True)
class Outputs:
    """What a specification's model analyses show beside their estimates (all on by default)."""

    sample_flow: bool = True  # the exclusion cascade and the missingness table
    table1: bool = True  # characteristics by exposure category, with design-based P values
    table1_extra: tuple[str, ...] = ()  # characteristics beside the outcome and covariates
    margins: bool = True  # predictive margins by exposure category (logistic, linear)
    dose_response: bool = True  # spline curve beside quantile analyses (and spline = true)
    survival_curves: bool = True  # unadjusted survival curves by category (Cox)
    evalues: bool = True  # E-values of the verdict's odds or hazard ratio
    regression_table: bool = True  # every term of each main model, in words (tbl_regression)


OUTPUT_FIELDS = {f for f in Outputs.__dataclass_fields__}


@dataclass(frozen=True)
class DeclaredVariable:
    """A variable a specification brings: a CDC column of a table, or an expression.

    Exactly one of (``table``, ``column``) and ``expr`` is set; ``missing`` holds the codes of
    the column that mean "no answer" (refused, don't know) and become null.
    """

    name: str
    table: str | None = None
    column: str | None = None
    missing: tuple[float, ...] = ()
    expr: str | None = None
    unit: str = ""
    label: str = ""
    columns_by_cycle: tuple[tuple[str, str], ...] = ()  # (cycle years, column) where it differs

    def column_for(self, years: str) -> str | None:
        """The CDC column in a cycle (``column`` unless that cycle names it otherwise)."""
        return dict(self.columns_by_cycle).get(years, self.column)

    @property
    def source_text(self) -> str:
        """Where the values come from, as the report prints it."""
        if self.expr is not None:
            return self.expr
        codes = f" ({', '.join(f'{c:g}' for c in self.missing)} → missing)" if self.missing else ""
        columns = sorted(set(dict(self.columns_by_cycle).values()) | {str(self.column)} - {"None"})
        return f"{self.table}.{'/'.join(columns)}{codes}"


@dataclass(frozen=True)
class Spec:
    """A validated model specification (see the module docstring for the fields)."""

    id: str
    title: str
    claim: str
    source: str
    citation: str
    cycles: tuple[catalog.Cycle, ...]
    weight: str
    population: str
    model: str
    analyses: tuple[Analysis, ...]
    sensitivities: tuple[Analysis, ...] = ()
    reference: Reference = field(default_factory=Reference)
    verdict: VerdictRule | None = None  # the first statement's (the claim's primary verdict)
    notes: str = ""
    limits: str = ""
    path: str = ""
    variables: tuple[DeclaredVariable, ...] = ()
    outputs: Outputs = field(default_factory=Outputs)
    statements: tuple[Statement, ...] = ()  # judged statements; empty without a verdict

    @property
    def cycles_text(self) -> str:
        return cycles_text(self.cycles)

    def analysis(self, name: str) -> Analysis:
        return next(a for a in self.analyses if a.name == name)

    def cycles_of(self, analysis: Analysis) -> tuple[catalog.Cycle, ...]:
        """The cycles an analysis asks for (its own, else the specification's)."""
        return analysis.cycles or self.cycles


def cycles_text(cycles: tuple[catalog.Cycle, ...] | list[catalog.Cycle]) -> str:
    """``2001-2002 … 2017-2018`` for a run of consecutive cycles, else a list."""
    if not cycles:
        return ""
    years = [c.years for c in cycles]
    order = [c.years for c in catalog.CYCLES]
    idx = [order.index(y) for y in years if y in order]
    if len(idx) == len(years) and len(years) > 2 and idx == list(range(idx[0], idx[-1] + 1)):
        return f"{years[0]} … {years[-1]}"
    return ", ".join(years)


def category_labels(exposure_type: str, quantiles: int, cutpoints: tuple[float, ...]) -> list[str]:
    """The exposure categories' labels, lowest first (``Q1`` …, or ``≤ 1.7``, ``1.7–2.8`` …).

    >>> category_labels("cutpoints", 4, (1.7, 2.8))
    ['≤ 1.7', '1.7–2.8', '> 2.8']
    """
    if exposure_type == "quantiles":
        return [f"Q{i + 1}" for i in range(quantiles)]
    if exposure_type == "cutpoints":
        edges = [f"{c:g}" for c in cutpoints]
        middle = [f"{a}–{b}" for a, b in itertools.pairwise(edges)]
        return [f"≤ {edges[0]}", *middle, f"> {edges[-1]}"]
    return []


def _members(
    raw: dict[str, Any], rule: VerdictRule, analyses: tuple[Analysis, ...], path: str, where: str
) -> tuple[str, ...]:
    """A statement's ``analyses`` (the members of its curve), the verdict's analysis first."""
    names = [a.name for a in analyses]
    members = _get(raw, "analyses", list, path, where, False, [])
    for m in members:
        if m not in names:
            raise _fail(path, where + "analyses", f"{m!r} is not one of: {', '.join(names)}")
    return (rule.analysis, *dict.fromkeys(m for m in members if m != rule.analysis))


def curve_members(spec: Spec, statement: Statement) -> list[Analysis]:
    """A statement's specification curve: each of its analyses, then that analysis's
    sensitivity analyses, in the specification's order."""
    out: list[Analysis] = []
    for name in statement.analyses:
        out.append(spec.analysis(name))
        out += [s for s in spec.sensitivities if s.name == name]
    return out


def judged_rows(statement: Statement, analysis: Analysis) -> list[Comparator]:
    """The rows a statement judges in one analysis of its curve, each as its comparator: the
    analysis's own, else the statement's reference (for the verdict's analysis) or nothing to
    compare (for the others).

    An analysis with ``compare`` entries judges each entry's row (unset selectors: the
    statement's); one without judges the statement's row.
    """
    rule = statement.verdict
    term, cycle, group = analysis.verdict_term or rule.term, rule.cycle, rule.group
    if analysis.compare:
        rows = [
            replace(
                c,
                term=c.term if c.term is not None else term,
                cycle=c.cycle if c.cycle is not None else cycle,
                group=c.group if c.group is not None else group,
            )
            for c in analysis.compare
        ]
        return [_inherited(c, analysis) for c in rows]
    ref = statement.reference if analysis.name == rule.analysis else Reference(NOTHING_PUBLISHED)
    if analysis.compare is not None:  # compare = []: nothing comparable was published
        ref = Reference()
    base = Comparator(
        ref.text, ref.estimate, ref.conf_low, ref.conf_high, term, cycle, group, cycles=ref.cycles
    )
    return [_inherited(base, analysis)]


NOTHING_PUBLISHED = "nothing published for this analysis"


def _inherited(comparator: Comparator, analysis: Analysis) -> Comparator:
    """A comparator as a sensitivity analysis inherits it: without its published numbers when
    the sensitivity changes the estimand (its population, exposure, outcome or cycles) and
    sets no comparator of its own — an odds ratio among supplement non-users is not held
    against one of all adults.

    >>> c = Comparator("Deng 2013: OR 0.34", estimate=0.34)
    >>> changed = ModelAnalysis("x", sensitivity="non_users", estimand_changes=("population",))
    >>> _inherited(c, changed).text
    "not comparable (this analysis changes the population); the main analysis's: Deng 2013: OR 0.34"
    """
    changes = analysis.estimand_changes
    if not changes or (comparator.estimate is None and comparator.p_value is None):
        return comparator
    text = f"not comparable (this analysis changes the {' and '.join(changes)})"
    if comparator.text:
        text += f"; the main analysis's: {comparator.text}"
    return replace(
        comparator, text=text, estimate=None, conf_low=None, conf_high=None, p_value=None
    )


def producible(spec: Spec, analysis: Analysis) -> dict[str, list[str] | None]:
    """The terms, cycles and groups of the rows an analysis can produce (None: known only
    from the data, such as the values of a ``by`` column)."""
    years = [c.years for c in spec.cycles_of(analysis)]
    if isinstance(analysis, UsualIntakeAnalysis):
        cycles = [catalog.pool_label(years)] if analysis.pool else years
        groups = [label for label, _ in analysis.domains] if len(analysis.domains) > 1 else []
        return {"term": ["usual intake", "day 1"], "cycle": cycles, "group": groups, "stratum": []}
    if isinstance(analysis, DescriptiveAnalysis):
        by_cycle = "cycle" in analysis.by
        return {
            "term": None if analysis.by else ["all"],
            "cycle": years if by_cycle else ([] if not analysis.by else None),
            "group": None if len(analysis.by) > int(by_cycle) else [],
            "stratum": [],
        }
    strata: list[str] | None = []
    if analysis.modifier:  # a cut from the data ("median" in "{cut}") is known only then
        named = analysis.modifier_labels or ("",)
        fixed = analysis.modifier_cut is None or not any("{cut}" in x for x in named)
        strata = list(analysis.strata(None)) if fixed else None
    return {"term": analysis.terms, "cycle": [], "group": [], "stratum": strata}


def expressions_of(spec: Spec, analysis: Analysis) -> list[str | None]:
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
