"""Model specifications: each claim is a TOML file, validated here into typed records.

The shipped specifications live in ``nhanes_mg/specs/*.toml``; users pass their own with
``nhanes-mg run --spec my.toml``. A malformed file raises :class:`SpecError` naming the file, the
field and what is allowed. Populations, outcomes, exposures and groups are SQL expressions over
the analytic dataset's columns (polars' SQL dialect: ``age >= 20 AND NOT pregnant``).

An analysis is one of three kinds (a tagged union, :data:`Analysis`):
:class:`DescriptiveAnalysis` (survey means, shares, ratios, quantiles), :class:`ModelAnalysis`
(linear, logistic or Cox regression) and :class:`UsualIntakeAnalysis` (NCI usual intake).

A specification, field by field::

    id = "C3"                              # short id, used for file names
    title = "…"                            # one line
    claim = "…"                            # the document's sentence
    source = "seed 001"                    # which document makes the claim
    citation = "Deng X et al. BMC Med 2013;11:187"
    cycles = "2001-2006"                   # as --cycles: a range or a list
    weight = "auto"                        # auto (default) | wt_mec | wt_diet1 | wt_diet2
    population = "age >= 20 AND recall_ok_d1"   # the domain (the design keeps every row)
    model = "logistic"                     # default kind: descriptive | linear | logistic | cox
    notes = "…"                            # what differs from the publication
    limits = "…"                           # what this analysis cannot test, in plain words

    [covariate_sets]                       # named covariate lists, used as "@name"
    adjusted = ["age", "sex", "race_eth"]

    [variables]                            # optional: NHANES columns the build does not derive
    waist_cm = { table = "BMX", column = "BMXWAIST", unit = "cm", label = "waist circumference" }
    serum_ca = { table = "BIOPRO", column = "LBXSCA", missing = [], unit = "mg/dL" }
    phosphorus = { table = "BIOPRO", column = { "2001-2002" = "LBDSPH", "2003-2018" = "LBXSPH" } }
    high_waist = { expr = "waist_cm >= 102 AND sex = 'male' OR waist_cm >= 88 AND sex = 'female'" }
    # table: a catalog component (its per-cycle file names are the catalog's, e.g. L40_B for
    # BIOPRO in 2001-2002); column: the CDC variable (or one per cycles, where CDC renamed
    # it); missing: codes that become null;
    # expr: an SQL expression over the analytic columns and the variables declared above it.

    [outputs]                              # optional: what model analyses show (all true)
    sample_flow = true                     # exclusion cascade + missingness (tables/{id}_flow.csv)
    table1 = true                          # characteristics by exposure category, design P
    table1_extra = ["supp_user"]           # characteristics beside outcome and covariates
    margins = true                         # predictive margins by category (logistic, linear)
    dose_response = true                   # spline curve beside quantile analyses
    survival_curves = true                 # unadjusted survey survival curves by category (Cox)
    evalues = true                         # E-values of the verdict's odds or hazard ratio

    [[analysis]]                           # one or more
    name = "deficiency_adjusted"
    model = "logistic"                     # optional: overrides the spec's model
    cycles = "2003-2006"                   # optional: this analysis's cycles (default: spec's)
    weight = "wt_diet1"                    # optional: overrides the weight rule
    population = "…"                       # optional, AND-ed with the spec's population
    # models:
    outcome = "vitd_25oh_nmol < 30"        # column or SQL condition
    outcome_label = "25(OH)D < 30 nmol/L"
    exposure = "mg_total"                  # column or SQL expression
    exposure_label = "total Mg intake"
    exposure_unit = "mg/day"               # continuous: "total Mg intake, per 100 mg/day"
    exposure_type = "quantiles"            # continuous | quantiles | cutpoints
    quantiles = 4                          # weighted quantiles computed in the domain
    cutpoints = [1.7, 2.8]                 # for exposure_type = "cutpoints"
    reference_category = "1.7–2.8"         # optional: the comparison category (default first)
    per = 25.0                             # continuous: effect per this many units
    covariates = "@adjusted"               # a list of columns or "@set"
    modifier = "mg_total >= 300"           # effect modifier (condition), or a column with
    modifier_cut = "median"                # … a cut: "median" (weighted, in the domain) or a number
    modifier_labels = ["Mg ≥ {cut} mg/day", "Mg < {cut} mg/day"]   # the strata's names
    trend = true                           # P for trend over the exposure categories
    time = "followup_months_exam"          # cox: follow-up time
    spline = true                          # continuous: its dose–response curve too
    # descriptive analyses:
    statistic = "mean"                     # mean | quantile | proportion | ratio
    variable = "ca_food_d1"                # column or expression (proportion: a condition)
    denominator = "mg_food_d1"             # statistic = "ratio"
    q = 0.5                                # statistic = "quantile"
    by = ["cycle", "sex"]                  # estimates per group (domains of the full design)
    groups = { age_group = "CASE WHEN age < 20 THEN 'young' ELSE 'adult' END" }
    age_standardize = "adult"              # beside the crude: directly age-standardized to
                                           # the 2000 US standard (adult: 20-39, 40-59, 60+;
                                           # all_ages: the 11 NCHS groups); mean or proportion
    # usual intake (NCI method):
    statistic = "usual_below_ear"          # or "usual_below_rda", "usual_mean" (mg/day)
    variable = "mg"                        # nutrient: mg | ca
    basis = "food+supplements"             # food | food+supplements
    domains = ["age >= 19", { label = "women 51+", where = "sex = 'female' AND age >= 51" }]
                                           # SQL conditions (label: the text) or {label, where};
                                           # each AND-ed with the population; one row per domain
                                           # (in `group` when there are several). Default: the
                                           # whole population. Old form: domain = "age 19+" (a
                                           # built-in label of nhanes_mg.usual_intake.domains, or
                                           # one condition)
    brr = 0                                # 0: no replicate SEs (default: the design's Fay BRR)
    cycles = ["2005-2006", "2017-2018"]    # each cycle estimated on its own …
    pool = true                            # … or all pooled into one estimate ("2011-2014")

    [[sensitivity]]                        # optional: a variant of one analysis
    name = "vitd_intake"                   # unique among the sensitivity analyses
    label = "+ vitamin D intake"           # shown in the robustness plot
    analysis = "deficiency_adjusted"       # the analysis it varies
    population = "NOT supp_user"           # AND-ed with the analysis's population
    add_covariates = ["vitd_supp"]         # appended to the analysis's covariates
    term = "> 75"                          # the verdict's row here, if it differs
    direction = "above"                    # the claimed side here, if it differs (a new scale)
    # … and any field of [[analysis]] above, which replaces the analysis's value

    [reference]                            # the published estimate
    text = "OR 0.34 (0.21–0.56), highest vs lowest quartile"
    estimate = 0.34                        # optional: no number means nothing to compare
    conf_low = 0.21
    conf_high = 0.56
    [[reference.points]]                   # optional: published values drawn on a trend figure
    label = "1977 (range over age-sex groups)"
    year = 1977.0
    low = 2.3
    high = 2.9

    [verdict]                              # how our estimate becomes a verdict (verdicts.py)
    analysis = "deficiency_adjusted"
    term = "Q4"                            # the row: term, and/or cycle, group
    rule = "effect"                        # threshold | effect | modification
    direction = "below"                    # the side of the null (or threshold) the claim states
    value = 2.8                            # threshold only
    stronger_in = "modifier"               # modification: where the effect should be stronger

Examples
--------
>>> specs = load_shipped_specs()
>>> [s.id for s in specs][:3]
['C1', 'C2', 'C3']
>>> type(specs[2].analyses[0]).__name__, specs[2].analyses[0].model
('ModelAnalysis', 'logistic')
"""

from __future__ import annotations

import itertools
import math
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.errors import CatalogError, SpecError
from nhanes_mg.expressions import UnsafeExpressionError, sql_expr
from nhanes_mg.study import spec_columns
from nhanes_mg.study.verdicts import DIRECTIONS, RULE_KINDS, Direction, RuleKind
from nhanes_mg.usual_intake.domains import domain_of

MODELS = ("descriptive", "linear", "logistic", "cox")
EXPOSURE_TYPES = ("continuous", "quantiles", "cutpoints", "spline")
STATISTICS = ("mean", "quantile", "proportion", "ratio")
USUAL_STATISTICS = ("usual_below_ear", "usual_below_rda", "usual_mean")
USUAL_BASES = ("food", "food+supplements")
WEIGHTS = ("auto", "wt_mec", "wt_diet1", "wt_diet2")
# Old rule names (before the verdict vocabulary): rule -> (kind, direction)
_OLD_RULES: dict[str, tuple[str, str]] = {
    "above": ("threshold", "above"),
    "below": ("threshold", "below"),
    "effect_below_1": ("effect", "below"),
    "effect_above_1": ("effect", "above"),
}

_TOP_FIELDS = {
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
_COMMON_FIELDS = {"name", "label", "model", "population", "cycles", "weight", "compare"}
_MODEL_FIELDS = _COMMON_FIELDS | {
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
}
_DESCRIPTIVE_FIELDS = _COMMON_FIELDS | {
    "statistic",
    "variable",
    "denominator",
    "q",
    "by",
    "groups",
    "trend",
    "age_standardize",
}
_USUAL_FIELDS = _COMMON_FIELDS | {
    "statistic",
    "variable",
    "basis",
    "domain",
    "domains",
    "brr",
    "pool",
}
_SENSITIVITY_FIELDS = {"name", "label", "analysis", "add_covariates", "term", "direction"} | (
    _MODEL_FIELDS | _DESCRIPTIVE_FIELDS | _USUAL_FIELDS
) - {"name"}
_VARIABLE_FIELDS = {"table", "column", "missing", "expr", "unit", "label"}
_REFERENCE_FIELDS = {"text", "estimate", "conf_low", "conf_high", "points", "cycles"}
_VERDICT_FIELDS = {
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
_STATEMENT_FIELDS = {"name", "text", "limits", "secondary", "analyses", "reference", "verdict"}
_COMPARE_FIELDS = {
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
    age_standardize: str | None = None  # "adult" | "all_ages": beside the crude estimate
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
    kind: Literal["usual_intake"] = "usual_intake"

    @property
    def model(self) -> str:
        return "descriptive"


def _usual_domains(raw: dict[str, Any], path: str, where: str) -> tuple[tuple[str, str], ...]:
    """A usual-intake analysis's ``domains`` (a list of conditions or {label, where} tables)
    or its old ``domain`` (a built-in label or one condition), as (label, condition) pairs."""
    if "domain" in raw and "domains" in raw:
        raise _fail(path, where + "domains", "give domain (one) or domains (a list), not both")
    if "domains" in raw:
        items = _get(raw, "domains", list, path, where)
        if not items:
            raise _fail(path, where + "domains", "needs at least one domain")
        fields = [f"{where}domains[{i}]" for i in range(len(items))]
    else:
        items = [_get(raw, "domain", str, path, where, False, "all")]
        fields = [f"{where}domain"]
    out: list[tuple[str, str]] = []
    for item, name in zip(items, fields, strict=True):
        d = domain_of(item, f"{path}: field '{name}'")
        check_expression(d.where, path, name)
        if d.label in (label for label, _ in out):
            raise _fail(path, name, f"the label {d.label!r} is given twice")
        out.append((d.label, d.where))
    return tuple(out)


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


_OUTPUT_FIELDS = {f for f in Outputs.__dataclass_fields__}


def _outputs(raw: dict[str, Any], path: str) -> Outputs:
    _known_fields(raw, _OUTPUT_FIELDS, path, "outputs.")
    flags = {
        k: _get(raw, k, bool, path, "outputs.", False, True)
        for k in _OUTPUT_FIELDS
        if k != "table1_extra"
    }
    extra = _get(raw, "table1_extra", list, path, "outputs.", False, [])
    if not all(isinstance(c, str) for c in extra):
        raise _fail(path, "outputs.table1_extra", "must be a list of column names")
    return Outputs(**flags, table1_extra=tuple(extra))


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


def _compare(raw: dict[str, Any], path: str, where: str) -> tuple[Comparator, ...] | None:
    """An analysis's ``compare``: one table or a list of them (``[]``: nothing to compare)."""
    if "compare" not in raw:
        return None
    value = raw["compare"]
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise _fail(path, where + "compare", "must be a table or a list of tables")
    out = []
    for j, item in enumerate(items):
        at = f"{where}compare[{j}]."
        if not isinstance(item, dict):
            raise _fail(path, at[:-1], "must be a table, e.g. { estimate = 0.48, cycle = … }")
        _known_fields(item, _COMPARE_FIELDS, path, at)
        text = {k: _get(item, k, str, path, at, False, None) for k in _COMPARE_TEXT}
        comparator = Comparator(
            text=text["text"] or "",
            estimate=_number(item, "estimate", path, at),
            conf_low=_number(item, "conf_low", path, at),
            conf_high=_number(item, "conf_high", path, at),
            **_published_p(item, path, at),
            cycles=_source_cycles(item, path, at),
            **{k: v for k, v in text.items() if k != "text"},
        )
        _published_numbers(comparator.published, path, at)
        if comparator.statistic is not None:
            _choice(comparator.statistic, STATISTICS + USUAL_STATISTICS, path, at + "statistic")
        if comparator.basis is not None:
            _choice(comparator.basis, USUAL_BASES, path, at + "basis")
        out.append(comparator)
    return tuple(out)


_COMPARE_TEXT = ("text", "term", "cycle", "group", "statistic", "basis", "stratum")


def _source_cycles(item: dict[str, Any], path: str, at: str) -> tuple[str, ...]:
    """The cycles a source's estimate is from (``cycles = "2001-2006"``), as years."""
    if "cycles" not in item:
        return ()
    return tuple(c.years for c in _cycles(item["cycles"], path, at + "cycles"))


def _published_p(item: dict[str, Any], path: str, at: str) -> dict[str, Any]:
    """``p_value = 0.03`` or ``p_value = "< 0.001"`` (a bound, as sources print it)."""
    value = _get(item, "p_value", (int, float, str), path, at, False, None)
    if value is None:
        return {}
    below = isinstance(value, str)
    if below:
        text = str(value).replace(" ", "")
        if not text.startswith("<"):
            raise _fail(path, at + "p_value", f'must be a number or "< number", not {value!r}')
        try:
            value = float(text[1:])
        except ValueError:
            raise _fail(
                path, at + "p_value", f'must be a number or "< number", not {item["p_value"]!r}'
            ) from None
    if not 0 < float(value) <= 1:
        raise _fail(path, at + "p_value", f"must lie in (0, 1], not {value}")
    return {"p_value": float(value), "p_below": below}


def _check_estimand(analysis: Analysis, path: str, where: str) -> None:
    """Refuse a comparator whose stated estimand (statistic, basis) is not the analysis's."""
    for j, c in enumerate(analysis.compare or ()):
        at = f"{where}compare[{j}]."
        for key in ("statistic", "basis"):
            stated = getattr(c, key)
            ours = getattr(analysis, key, None)
            if stated is not None and stated != ours:
                raise _fail(
                    path,
                    at + key,
                    f"the source reported {key} {stated!r}, but this analysis estimates "
                    f"{ours!r}: a comparator must report the analysis's own estimand",
                )


def _analysis(
    raw: dict[str, Any], where: str, top_model: str, sets: dict[str, list[str]], path: str
) -> Analysis:
    analysis = _analysis_of_kind(raw, where, top_model, sets, path)
    _check_estimand(analysis, path, where)
    return analysis


def _analysis_of_kind(
    raw: dict[str, Any], where: str, top_model: str, sets: dict[str, list[str]], path: str
) -> Analysis:
    model = top_model
    if "model" in raw:
        model = _choice(_get(raw, "model", str, path, where), MODELS, path, where + "model")
    statistic = raw.get("statistic")
    usual = model == "descriptive" and statistic in USUAL_STATISTICS
    allowed = (
        _USUAL_FIELDS
        if usual
        else (_DESCRIPTIVE_FIELDS if model == "descriptive" else _MODEL_FIELDS)
    )
    kind = "usual-intake" if usual else "descriptive" if model == "descriptive" else model
    _known_fields(raw, allowed, path, where, kind)
    name = _get(raw, "name", str, path, where)
    weight = _choice(
        _get(raw, "weight", str, path, where, False, "auto"), WEIGHTS, path, where + "weight"
    )
    cycles = _cycles(raw["cycles"], path, where + "cycles") if "cycles" in raw else ()
    population = _get(raw, "population", str, path, where, False, None)
    if population is not None:
        check_expression(population, path, where + "population")
    common: dict[str, Any] = dict(
        name=name,
        label=_get(raw, "label", str, path, where, False, ""),
        population=population,
        cycles=cycles,
        weight=weight,
        compare=_compare(raw, path, where),
    )
    if usual:
        domains = _usual_domains(raw, path, where)
        return UsualIntakeAnalysis(
            statistic=str(statistic),
            variable=_choice(
                _get(raw, "variable", str, path, where), ("mg", "ca"), path, where + "variable"
            ),
            basis=_choice(
                _get(raw, "basis", str, path, where, False, "food"),
                USUAL_BASES,
                path,
                where + "basis",
            ),
            domain=domains[0][0],
            domains=domains,
            brr=_get(raw, "brr", int, path, where, False, None),
            pool=_get(raw, "pool", bool, path, where, False, False),
            **common,
        )
    if model == "descriptive":
        statistic = _choice(
            _get(raw, "statistic", str, path, where),
            STATISTICS + USUAL_STATISTICS,
            path,
            where + "statistic",
        )
        variable = _get(raw, "variable", str, path, where)
        check_expression(variable, path, where + "variable")
        denominator = _get(raw, "denominator", str, path, where, statistic == "ratio")
        if denominator is not None:
            check_expression(denominator, path, where + "denominator")
        groups = _get(raw, "groups", dict, path, where, False, {})
        for key, text in groups.items():
            if not isinstance(text, str):
                raise _fail(path, f"{where}groups.{key}", "must be an SQL expression (text)")
            check_expression(text, path, f"{where}groups.{key}")
        q = float(_get(raw, "q", (int, float), path, where, False, 0.5))
        if not 0 < q < 1:
            raise _fail(path, where + "q", f"must lie strictly between 0 and 1, not {q}")
        by = _get(raw, "by", list, path, where, False, [])
        if not all(isinstance(b, str) for b in by):
            raise _fail(path, where + "by", "must be a list of column names")
        return DescriptiveAnalysis(
            statistic=statistic,
            variable=variable,
            denominator=denominator,
            q=q,
            by=tuple(by),
            groups=groups,
            trend=bool(_get(raw, "trend", bool, path, where, False, False)),
            age_standardize=_age_standard(raw, statistic, path, where),
            **common,
        )
    for key in ("outcome", "exposure", "modifier"):
        if key in raw:
            check_expression(_get(raw, key, str, path, where), path, where + key)
    exposure_type = _choice(
        _get(raw, "exposure_type", str, path, where, False, "continuous"),
        EXPOSURE_TYPES,
        path,
        where + "exposure_type",
    )
    cutpoints = tuple(
        float(c)
        for c in _get(raw, "cutpoints", list, path, where, exposure_type == "cutpoints", [])
    )
    if not all(math.isfinite(c) for c in cutpoints):
        raise _fail(path, where + "cutpoints", "must be finite numbers")
    if exposure_type == "cutpoints" and list(cutpoints) != sorted(set(cutpoints)):
        raise _fail(path, where + "cutpoints", "must be distinct and increasing")
    quantiles = int(_get(raw, "quantiles", int, path, where, False, 4))
    if exposure_type == "quantiles" and not 2 <= quantiles <= 10:
        raise _fail(path, where + "quantiles", f"must be 2 … 10, not {quantiles}")
    reference_category = _get(raw, "reference_category", str, path, where, False, None)
    if reference_category is not None:
        labels = category_labels(exposure_type, quantiles, cutpoints)
        _choice(reference_category, tuple(labels), path, where + "reference_category")
    modifier_cut = raw.get("modifier_cut")
    if (
        modifier_cut is not None
        and modifier_cut != "median"
        and (isinstance(modifier_cut, bool) or not isinstance(modifier_cut, int | float))
    ):
        raise _fail(
            path, where + "modifier_cut", f"must be 'median' or a number, not {modifier_cut!r}"
        )
    modifier_labels = _get(raw, "modifier_labels", list, path, where, False, None)
    if modifier_labels is not None and (
        len(modifier_labels) != 2 or not all(isinstance(x, str) for x in modifier_labels)
    ):
        raise _fail(path, where + "modifier_labels", "must be two names: [holds, complement]")
    per = float(_get(raw, "per", (int, float), path, where, False, 1.0))
    if not math.isfinite(per) or per <= 0:
        raise _fail(path, where + "per", f"must be positive, not {per:g}")
    contrast = _get(raw, "contrast", list, path, where, exposure_type == "spline", None)
    if contrast is not None:
        if exposure_type != "spline":
            raise _fail(path, where + "contrast", 'only for exposure_type = "spline"')
        if (
            len(contrast) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in contrast)
            or not all(math.isfinite(x) for x in contrast)
            or not contrast[0] < contrast[1]
        ):
            raise _fail(path, where + "contrast", "must be two increasing numbers: [low, high]")
    return ModelAnalysis(
        model=model,
        outcome=_get(raw, "outcome", str, path, where),
        outcome_label=_get(raw, "outcome_label", str, path, where, False, ""),
        exposure=_get(raw, "exposure", str, path, where),
        exposure_label=_get(raw, "exposure_label", str, path, where, False, ""),
        exposure_unit=_get(raw, "exposure_unit", str, path, where, False, ""),
        exposure_type=exposure_type,
        quantiles=quantiles,
        cutpoints=cutpoints,
        reference_category=reference_category,
        per=per,
        covariates=_covariates(raw, "covariates", sets, path, where),
        modifier=raw.get("modifier"),
        modifier_cut=modifier_cut,
        modifier_labels=tuple(modifier_labels) if modifier_labels else None,
        trend=bool(_get(raw, "trend", bool, path, where, False, False)),
        time=_get(raw, "time", str, path, where, model == "cox"),
        spline=bool(_get(raw, "spline", bool, path, where, False, False)),
        contrast=(float(contrast[0]), float(contrast[1])) if contrast else None,
        **common,
    )


AGE_STANDARDS = ("adult", "all_ages")


def _age_standard(raw: dict[str, Any], statistic: str, path: str, where: str) -> str | None:
    value = _get(raw, "age_standardize", str, path, where, False, None)
    if value is None:
        return None
    _choice(value, AGE_STANDARDS, path, where + "age_standardize")
    if statistic not in ("mean", "proportion"):
        raise _fail(path, where + "age_standardize", "only a mean or a proportion is standardized")
    return str(value)


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


def _sensitivity(
    raw: dict[str, Any],
    i: int,
    analyses_raw: list[dict[str, Any]],
    names: list[str],
    top_model: str,
    sets: dict[str, list[str]],
    path: str,
) -> Analysis:
    """A sensitivity analysis: the named analysis with some fields replaced."""
    where = f"sensitivity[{i}]."
    if not isinstance(raw, dict):
        raise _fail(path, f"sensitivity[{i}]", "must be a table ([[sensitivity]])")
    _known_fields(raw, _SENSITIVITY_FIELDS, path, where)
    name = _get(raw, "name", str, path, where)
    target = _get(raw, "analysis", str, path, where)
    if target not in names:
        raise _fail(path, where + "analysis", f"{target!r} is not one of: {', '.join(names)}")
    base = dict(analyses_raw[names.index(target)])
    own = ("name", "label", "analysis", "add_covariates", "term", "direction")
    overrides = {k: v for k, v in raw.items() if k not in own}
    if "population" in overrides and "population" in base:
        overrides["population"] = f"({base['population']}) AND ({overrides['population']})"
    merged = {**base, **overrides}
    if "add_covariates" in raw:
        extra = _covariates(raw, "add_covariates", sets, path, where)
        merged["covariates"] = [*_covariates(merged, "covariates", sets, path, where), *extra]
    analysis = _analysis(merged, where, top_model, sets, path)
    label = _get(raw, "label", str, path, where, False, name.replace("_", " "))
    direction = raw.get("direction")
    if direction is not None:
        _choice(_get(raw, "direction", str, path, where), DIRECTIONS, path, where + "direction")
    return replace(
        analysis,
        sensitivity=name,
        sensitivity_label=label,
        verdict_term=_get(raw, "term", str, path, where, False, None),
        verdict_direction=direction,
    )


_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# A specification's id names its output files (tables/{id}.csv, figures/{id}_curve.png …): an
# identifier, never a path, and never the name of a file the package writes itself.
SPEC_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
RESERVED_IDS = frozenset({"verdicts", "validation", "supplement_seam", "usual_intake", "report"})


def check_id(value: str, path: str) -> str:
    """A specification's ``id``: letters, digits, _ and -, starting with a letter, at most 64
    characters, and not one of the package's own output names (case ignored)."""
    if not SPEC_ID.match(value):
        raise _fail(
            path,
            "id",
            f"{value[:70]!r} is not an id: a letter, then letters, digits, _ or - (at most "
            "64 characters); it names the output files",
        )
    if value.lower() in RESERVED_IDS:
        raise _fail(
            path, "id", f"{value!r} is the name of an output of the package itself; choose another"
        )
    return value


def check_distinct_ids(specs: list[Spec]) -> None:
    """Specifications run together must not write each other's files: no two ids alike (case
    ignored), and no id that is another's followed by ``_`` (``C3`` and ``C3_fits``)."""
    for a in specs:
        for b in specs:
            if a is b:
                continue
            x, y = a.id.lower(), b.id.lower()
            if x == y or y.startswith(x + "_"):
                raise SpecError(
                    f"{b.path or b.id}: field 'id': {b.id!r} would write over the files of "
                    f"{a.path or a.id} (id {a.id!r}); give each specification its own id"
                )


def _variables(raw: dict[str, Any], path: str) -> tuple[DeclaredVariable, ...]:
    """The ``[variables]`` table: each a (table, column) or an expression, in order."""
    out: list[DeclaredVariable] = []
    for name, entry in raw.items():
        where = f"variables.{name}"
        if not _NAME.match(name):
            raise _fail(path, where, "a variable name is lower case letters, digits and _")
        if not isinstance(entry, dict):
            raise _fail(path, where, 'must be a table, e.g. { table = "BMX", column = "BMXWAIST" }')
        _known_fields(entry, _VARIABLE_FIELDS, path, where + ".")
        expr = _get(entry, "expr", str, path, where + ".", False, None)
        table = _get(entry, "table", str, path, where + ".", False, None)
        column = _get(entry, "column", (str, dict), path, where + ".", False, None)
        by_cycle: list[tuple[str, str]] = []
        if isinstance(column, dict):  # { "2001-2002" = "LBDSPH", "2003-2018" = "LBXSPH" }
            for cycles_key, name_in in column.items():
                if not isinstance(name_in, str):
                    raise _fail(path, f"{where}.column.{cycles_key}", "must be a column name")
                for cycle in _cycles(cycles_key, path, f"{where}.column"):
                    by_cycle.append((cycle.years, name_in.upper()))
            column = ""
        if (expr is None) == (table is None and column is None):
            raise _fail(path, where, "needs either table and column, or expr (not both)")
        if expr is None and (table is None or column is None):
            raise _fail(path, where, "needs both table and column")
        if table is not None:
            try:
                catalog.has_component(table, catalog.CYCLES[0])  # raises for an unknown one
            except CatalogError as exc:
                raise _fail(path, where + ".table", str(exc)) from exc
            if table in catalog.FASTING_COMPONENTS:
                raise _fail(
                    path,
                    where + ".table",
                    f"{table} is measured in the morning fasting subsample, whose weight "
                    "(WTSAF2YR) the analytic dataset does not carry; no weight here would be "
                    "right for it",
                )
        if expr is not None:
            check_expression(expr, path, where + ".expr")
        missing = _get(entry, "missing", list, path, where + ".", False, [])
        if not all(isinstance(c, int | float) and not isinstance(c, bool) for c in missing):
            raise _fail(path, where + ".missing", "must be a list of numeric codes")
        out.append(
            DeclaredVariable(
                name=name,
                table=table,
                column=column.upper() if column else None,
                columns_by_cycle=tuple(by_cycle),
                missing=tuple(float(c) for c in missing),
                expr=expr,
                unit=_get(entry, "unit", str, path, where + ".", False, ""),
                label=_get(entry, "label", str, path, where + ".", False, ""),
            )
        )
    return tuple(out)


def _reference(raw: dict[str, Any], path: str, where: str = "reference.") -> Reference:
    _known_fields(raw, _REFERENCE_FIELDS, path, where)
    points = []
    for j, p in enumerate(_get(raw, "points", list, path, where, False, [])):
        pw = f"{where}points[{j}]."
        if not isinstance(p, dict):
            raise _fail(path, pw[:-1], "must be a table")
        low, high = _number(p, "low", path, pw), _number(p, "high", path, pw)
        if low is None and high is None:
            raise _fail(path, pw + "high", "a point needs low or high (or both)")
        points.append(
            ReferencePoint(
                _get(p, "label", str, path, pw),
                float(_get(p, "year", (int, float), path, pw)),
                low,
                high,
            )
        )
    ref = Reference(
        text=_get(raw, "text", str, path, where, False, ""),
        estimate=_number(raw, "estimate", path, where),
        conf_low=_number(raw, "conf_low", path, where),
        conf_high=_number(raw, "conf_high", path, where),
        points=tuple(points),
        cycles=_source_cycles(raw, path, where),
    )
    _published_numbers(ref, path, where)
    return ref


def _published_numbers(ref: Reference, path: str, where: str) -> None:
    if (ref.conf_low is None) != (ref.conf_high is None):
        raise _fail(path, where + "conf_high", "give both conf_low and conf_high, or neither")
    if ref.conf_low is not None and ref.estimate is None:
        raise _fail(path, where + "estimate", "is required with conf_low/conf_high")
    low, high, estimate = ref.conf_low, ref.conf_high, ref.estimate
    if (
        low is not None
        and high is not None
        and estimate is not None
        and not low <= estimate <= high
    ):
        raise _fail(
            path,
            where + "conf_low",
            f"the published interval {low:g}–{high:g} must hold the estimate {estimate:g} "
            "(low ≤ estimate ≤ high)",
        )


def _verdict(
    raw: dict[str, Any], analyses: tuple[Analysis, ...], path: str, where: str = "verdict."
) -> VerdictRule:
    _known_fields(raw, _VERDICT_FIELDS, path, where)
    rule = _get(raw, "rule", str, path, where)
    if rule == "p_below":
        raise _fail(
            path,
            where + "rule",
            "'p_below' is retired: a P value alone does not make "
            "a verdict; use rule = 'modification' with direction and stronger_in",
        )
    direction = raw.get("direction")
    if rule in _OLD_RULES:
        rule, implied = _OLD_RULES[rule]
        direction = direction or implied
    _choice(rule, RULE_KINDS, path, where + "rule")
    if direction is None:
        raise _fail(
            path,
            where + "direction",
            "is required: 'above' or 'below' (the side of "
            "no effect, or of the threshold, that the claim states)",
        )
    _choice(
        _get(raw, "direction", str, path, where, False, direction),
        DIRECTIONS,
        path,
        where + "direction",
    )
    names = [a.name for a in analyses]
    target = _get(raw, "analysis", str, path, where)
    if target not in names:
        raise _fail(path, where + "analysis", f"{target!r} is not one of: {', '.join(names)}")
    analysis = analyses[names.index(target)]
    value = _number(raw, "value", path, where)
    if rule == "threshold" and value is None:
        raise _fail(path, where + "value", "is required for rule = 'threshold'")
    stronger_in = raw.get("stronger_in")
    if rule == "modification":
        if not isinstance(analysis, ModelAnalysis) or not analysis.modifier:
            raise _fail(path, where + "analysis", f"{target!r} has no modifier to judge")
        if stronger_in is None:
            raise _fail(
                path,
                where + "stronger_in",
                "is required for rule = 'modification': "
                "'modifier' (where the modifier holds) or 'complement'",
            )
        _choice(
            _get(raw, "stronger_in", str, path, where),
            ("modifier", "complement"),
            path,
            where + "stronger_in",
        )
    elif stronger_in is not None:
        raise _fail(path, where + "stronger_in", "only for rule = 'modification'")
    selectors = {k: _get(raw, k, str, path, where, False, None) for k in ("term", "cycle", "group")}
    if not any(selectors.values()):
        raise _fail(path, where + "term", "is required (or cycle / group): which row to judge")
    smallest = _number(raw, "smallest_effect", path, where)
    if smallest is not None and rule == "threshold":
        raise _fail(path, where + "smallest_effect", "only for an effect or a modification")
    return VerdictRule(
        analysis=target,
        kind=rule,
        direction=direction,  # type: ignore[arg-type]
        value=value,
        stronger_in=stronger_in,
        smallest_effect=smallest,
        **selectors,
    )


def _statements(
    raw: dict[str, Any], analyses: tuple[Analysis, ...], claim: str, path: str
) -> tuple[Statement, ...]:
    """The judged statements: ``[[statement]]`` tables, or the one of ``[verdict]`` and
    ``[reference]`` (both optional: a specification without a verdict only estimates)."""
    listed = _get(raw, "statement", list, path, "", False, None)
    verdict_raw = _get(raw, "verdict", dict, path, "", False, None)
    reference = _reference(_get(raw, "reference", dict, path, "", False, {}), path)
    if listed is None:
        if not verdict_raw:
            return ()
        rule = _verdict(verdict_raw, analyses, path)
        members = _members(verdict_raw, rule, analyses, path, "verdict.")
        return (Statement("", claim, rule, reference, members),)
    if verdict_raw is not None:
        raise _fail(path, "verdict", "give [verdict] (one statement) or [[statement]], not both")
    if not listed:
        raise _fail(path, "statement", "needs at least one [[statement]] table")
    out: list[Statement] = []
    for i, item in enumerate(listed):
        where = f"statement[{i}]."
        if not isinstance(item, dict):
            raise _fail(path, where[:-1], "must be a table ([[statement]])")
        _known_fields(item, _STATEMENT_FIELDS, path, where)
        name = _get(item, "name", str, path, where)
        if not _NAME.match(name):
            raise _fail(path, where + "name", "a statement name is lower case letters, digits, _")
        if name in (s.name for s in out):
            raise _fail(path, where + "name", f"{name!r} is given twice")
        raw_rule = _get(item, "verdict", dict, path, where)
        if "analyses" in raw_rule:
            raise _fail(path, where + "verdict.analyses", "give it as the statement's analyses")
        rule = _verdict(raw_rule, analyses, path, where + "verdict.")
        ordered = _members(item, rule, analyses, path, where)
        out.append(
            Statement(
                name=name,
                text=_get(item, "text", str, path, where),
                verdict=rule,
                reference=_reference(
                    _get(item, "reference", dict, path, where, False, {}),
                    path,
                    where + "reference.",
                ),
                analyses=ordered,
                limits=_get(item, "limits", str, path, where, False, ""),
                secondary=bool(_get(item, "secondary", bool, path, where, False, False)),
            )
        )
    if out[0].secondary:
        raise _fail(
            path, "statement[0].secondary", "the first statement is the claim's primary one"
        )
    return tuple(out)


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
        return [
            replace(
                c,
                term=c.term if c.term is not None else term,
                cycle=c.cycle if c.cycle is not None else cycle,
                group=c.group if c.group is not None else group,
            )
            for c in analysis.compare
        ]
    ref = statement.reference if analysis.name == rule.analysis else Reference()
    if analysis.compare is not None:  # compare = []: nothing comparable was published
        ref = Reference()
    base = Comparator(
        ref.text, ref.estimate, ref.conf_low, ref.conf_high, term, cycle, group, cycles=ref.cycles
    )
    return [base]


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


def _check_source_cycles(
    spec: Spec, analysis: Analysis, comparator: Comparator, where: str, whose: str
) -> None:
    """A published number is held only against estimates from the source's own cycles."""
    if comparator.estimate is None or not comparator.cycles:
        return
    ours = [comparator.cycle] if comparator.cycle else [c.years for c in spec.cycles_of(analysis)]
    outside = [c for c in ours if c not in comparator.cycles]
    if outside:
        raise _fail(
            spec.path,
            where,
            f"{whose} estimates on {', '.join(outside)}, outside the cycles of the estimate it "
            f"is compared with ({', '.join(comparator.cycles)}): give it its own comparator "
            "(compare = { text = … }) or the source's cycles",
        )


def _check_rows(spec: Spec) -> None:
    """Every row a statement judges exists among the rows its analysis can produce; a miss
    lists them (a verdict that would read "not estimated" for a typo is refused here)."""
    for i, statement in enumerate(spec.statements):
        where = f"statement[{i}]" if statement.name else "verdict"
        for analysis in curve_members(spec, statement):
            rows = producible(spec, analysis)
            whose = analysis.name + (f" [{analysis.sensitivity}]" if analysis.sensitivity else "")
            for comparator in judged_rows(statement, analysis):
                _check_source_cycles(spec, analysis, comparator, f"{where}.cycles", whose)
                for key, known in rows.items():
                    want = getattr(comparator, key)
                    if want is None or known is None or want in known:
                        continue
                    if key == "term" and len(known) == 1:
                        continue  # a renamed single exposure term: it is that row (judge.py)
                    if not known and key != "term":
                        detail = f"{whose} has no {key} column"
                    else:
                        detail = f"{whose} gives {', '.join(repr(k) for k in known)}"
                    raise _fail(spec.path, f"{where}.{key}", f"{want!r} matches no row: {detail}")


def parse_spec(raw: dict[str, Any], path: str = "<spec>", check_columns: bool = True) -> Spec:
    """Validate a parsed TOML table into a :class:`Spec` (raises :class:`SpecError`).

    With ``check_columns`` every expression's columns are checked against the analytic
    dataset's schema plus the specification's ``[variables]`` (:mod:`nhanes_mg.study.spec_columns`).
    """
    _known_fields(raw, _TOP_FIELDS, path, "")
    model = _choice(_get(raw, "model", str, path, ""), MODELS, path, "model")
    weight = _choice(_get(raw, "weight", str, path, "", False, "auto"), WEIGHTS, path, "weight")
    cycles = _cycles(_get(raw, "cycles", str, path, ""), path, "cycles")
    population = _get(raw, "population", str, path, "")
    check_expression(population, path, "population")
    sets = _get(raw, "covariate_sets", dict, path, "", False, {})
    analyses_raw = _get(raw, "analysis", list, path, "")
    if not analyses_raw:
        raise _fail(path, "analysis", "needs at least one [[analysis]] table")
    if weight != "auto":  # the spec's weight is every analysis's default
        analyses_raw = [{"weight": weight, **a} if isinstance(a, dict) else a for a in analyses_raw]
    for i, a in enumerate(analyses_raw):
        if not isinstance(a, dict):
            raise _fail(path, f"analysis[{i}]", "must be a table ([[analysis]])")
    analyses = tuple(
        _analysis(a, f"analysis[{i}].", model, sets, path) for i, a in enumerate(analyses_raw)
    )
    names = [a.name for a in analyses]
    if len(set(names)) != len(names):
        raise _fail(path, "analysis.name", "names must be unique within a specification")
    sens_raw = _get(raw, "sensitivity", list, path, "", False, [])
    sensitivities = tuple(
        _sensitivity(s, i, analyses_raw, names, model, sets, path) for i, s in enumerate(sens_raw)
    )
    sens_names = [s.sensitivity for s in sensitivities]
    if len(set(sens_names)) != len(sens_names):
        raise _fail(path, "sensitivity.name", "names must be unique within a specification")
    statements = _statements(raw, analyses, _get(raw, "claim", str, path, ""), path)
    top_reference = _reference(_get(raw, "reference", dict, path, "", False, {}), path)
    spec = Spec(
        id=check_id(_get(raw, "id", str, path, ""), path),
        title=_get(raw, "title", str, path, ""),
        claim=_get(raw, "claim", str, path, ""),
        source=_get(raw, "source", str, path, "", False, ""),
        citation=_get(raw, "citation", str, path, ""),
        cycles=cycles,
        weight=weight,
        population=population,
        model=model,
        analyses=analyses,
        sensitivities=sensitivities,
        reference=(
            top_reference if "reference" in raw or not statements else statements[0].reference
        ),
        verdict=statements[0].verdict if statements else None,
        statements=statements,
        notes=_get(raw, "notes", str, path, "", False, ""),
        limits=_get(raw, "limits", str, path, "", False, ""),
        path=path,
        variables=_variables(_get(raw, "variables", dict, path, "", False, {}), path),
        outputs=_outputs(_get(raw, "outputs", dict, path, "", False, {}), path),
    )
    _check_rows(spec)
    if check_columns:
        spec_columns.check_columns(spec)  # every column named exists, before any data is read
    return spec


def load_spec(path: str | Path) -> Spec:
    """Read and validate one TOML specification file."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: specification file not found")
    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a specification file (.toml)")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: is not valid TOML ({exc})") from exc
    return parse_spec(raw, str(path))


def shipped_spec_paths() -> list[Path]:
    """The specifications shipped with the package, in claim order."""
    folder = resources.files("nhanes_mg") / "specs"
    return sorted(Path(str(p)) for p in folder.iterdir() if p.name.endswith(".toml"))


def load_shipped_specs() -> list[Spec]:
    return [load_spec(p) for p in shipped_spec_paths()]
