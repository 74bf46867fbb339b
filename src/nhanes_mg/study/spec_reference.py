"""The field reference of specifications (``docs/specification.md``), made from the parser.

Which fields each table allows is the parser's (the field sets of :mod:`nhanes_mg.study.spec`); the
default of a field is read from the typed record that holds it (``ModelAnalysis.per`` …).
What a field means, its TOML type and an example are declared here, once. :func:`render`
refuses a field the parser allows but this module does not describe, and a description of a
field the parser does not allow, so the reference cannot drift from the code
(``scripts/make_spec_reference.py`` writes it; a test compares).

Examples
--------
>>> text = render()
>>> "| `smallest_effect` | number |" in text
True
"""

from __future__ import annotations

import dataclasses
from typing import Any

from nhanes_mg.study import spec_fields, spec_types

# section → field → (TOML type, what it means, an example[, its default where the parser's
# differs from the record's: a value the parser fills in, such as the specification's cycles])
Doc = dict[str, tuple[str, ...]]

TOP: Doc = {
    "id": ("text", "Short id, used for file names (tables/{id}.csv).", '"C3"'),
    "title": ("text", "One line: what the specification checks.", '"Mg intake and vitamin D"'),
    "claim": ("text", "The document's sentence, quoted in the report.", '"Most people …"'),
    "source": ("text", "Which document makes the claim.", '"seed document 001"', '""'),
    "citation": ("text", "The evidence the claim rests on.", '"Deng X et al. BMC Med 2013"'),
    "cycles": ("text or list", "NHANES cycles: a range or a list.", '"2001-2006"'),
    "weight": (
        "text",
        "auto (the weight rule) | wt_int | wt_mec | wt_diet1 | wt_diet2: every analysis's weight.",
        '"auto"',
        '"auto"',
    ),
    "population": ("SQL condition", "The domain (the design keeps every row).", '"age >= 20"'),
    "model": ("text", "Default kind: descriptive | linear | logistic | cox.", '"logistic"'),
    "notes": ("text", "What differs from the publication.", '"Day-1 intakes …"'),
    "limits": ("text", "What the analysis cannot test, in plain words.", '"Cross-sectional …"'),
    "covariate_sets": (
        "table of lists",
        "Named covariate lists, used as @name.",
        'adj = ["age", "sex"]',
        "(none)",
    ),
    "variables": (
        "table",
        "NHANES columns the build does not derive ([variables]).",
        "—",
        "(none)",
    ),
    "outputs": ("table", "What model analyses show beside estimates ([outputs]).", "—"),
    "analysis": ("array of tables", "One or more analyses ([[analysis]]).", "—", "required"),
    "sensitivity": (
        "array of tables",
        "Variants of one analysis ([[sensitivity]]).",
        "—",
        "(none)",
    ),
    "reference": ("table", "The published estimate of the claim ([reference]).", "—"),
    "verdict": ("table", "Optional: the claim's one judged statement ([verdict]).", "—"),
    "statement": (
        "array of tables",
        "Several judged statements, instead of [verdict] ([[statement]]).",
        "—",
        "(none)",
    ),
}

COMMON: Doc = {
    "name": ("text", "Unique within the specification.", '"deficiency_adjusted"'),
    "label": ("text", "Its name in tables, figures and the curve.", '"adjusted"'),
    "model": ("text", "Overrides the specification's model.", '"linear"', "the specification's"),
    "population": ("SQL condition", "AND-ed with the specification's.", '"NOT supp_user"'),
    "cycles": ("text or list", "Its own cycles.", '"2007-2018"', "the specification's"),
    "weight": ("text", "Overrides the weight rule.", '"wt_diet2"'),
    "compare": (
        "table or list of tables",
        "The rows a statement judges here and what their source published (see compare); "
        "[] means nothing comparable was published. A sensitivity analysis inherits its "
        "analysis's unless it sets its own.",
        '{ cycle = "2005-2006", estimate = 0.48 }',
        "the statement's row and reference",
    ),
}

MODEL: Doc = {
    "outcome": ("SQL", "A column or a condition.", '"vitd_25oh_nmol < 30"'),
    "outcome_label": ("text", "The outcome in words, with its unit.", '"25(OH)D < 30 nmol/L"'),
    "exposure": ("SQL", "A column or an expression.", '"mg_food_d1 + mg_supp"'),
    "exposure_label": ("text", "The exposure in words.", '"total Mg intake"'),
    "exposure_unit": ("text", "The exposure's unit.", '"mg/day"'),
    "exposure_type": (
        "text",
        "continuous | quantiles | cutpoints | spline (a natural spline, see contrast).",
        '"quantiles"',
    ),
    "quantiles": ("integer", "Weighted quantiles computed in the domain (2 … 10).", "4"),
    "cutpoints": (
        "list of numbers",
        "Increasing cut points (exposure_type = cutpoints).",
        "[1.7, 2.8]",
    ),
    "reference_category": ("text", "The comparison category (default: the first).", '"Q2"'),
    "per": ("number", "A continuous exposure's effect per this many units.", "100.0"),
    "covariates": ("list or @set", "Adjustment covariates.", '"@adjusted"'),
    "modifier": (
        "SQL",
        "An effect modifier (condition, or a column with modifier_cut).",
        '"mg_total"',
    ),
    "modifier_cut": ('"median" or number', "Where a column modifier is split.", '"median"'),
    "modifier_labels": (
        "two texts",
        "The strata's names: [holds, complement]; {cut} is replaced.",
        '["Mg ≥ {cut} mg/day", "Mg < {cut} mg/day"]',
    ),
    "trend": ("boolean", "P for trend over the categories.", "true"),
    "time": ("SQL", "Cox: follow-up time.", '"followup_months_exam"'),
    "spline": ("boolean", "A continuous exposure's dose–response curve too.", "true"),
    "contrast": (
        "two numbers",
        "exposure_type = spline: the estimate is the difference (ratio) between these values. "
        "(In descriptive and usual-intake analyses the same name asks for group differences.)",
        "[2.5, 25.0]",
    ),
    "exposure_error": (
        "text",
        "none | regression_calibration: the exposure (one nutrient's intake, continuous) "
        "replaced by each person's expected usual intake given the recalls and the model's "
        "covariates (NCI measurement-error model), SEs by refitting the chain per replicate.",
        '"regression_calibration"',
    ),
    "missing": (
        "text",
        "complete_case | impute: missing covariates (and modifier) multiply imputed by "
        "chained equations (predictive mean matching, the outcome, exposure, weight and design "
        "in every model), fits combined by Rubin's rules (Barnard–Rubin df).",
        '"impute"',
    ),
    "imputations": ("integer", "missing = impute: the number of imputations m (2 … 200).", "20"),
}

DESCRIPTIVE: Doc = {
    "statistic": ("text", "mean | quantile | proportion | ratio.", '"proportion"'),
    "variable": (
        "SQL",
        "A column or expression (proportion: a condition).",
        '"mg_food_d1 < mg_ear"',
    ),
    "denominator": ("SQL", "statistic = ratio: the ratio of means' denominator.", '"mg_food_d1"'),
    "q": ("number", "statistic = quantile: which one.", "0.5"),
    "by": ("list", "Estimates per group (domains of the full design).", '["cycle", "sex"]'),
    "groups": ("table of SQL", "Group columns defined here.", '{ age_group = "CASE … END" }'),
    "trend": ("boolean", "by starts with cycle: a trend test over cycles.", "true"),
    "age_standardize": (
        "text or table",
        "adult | all_ages (the 2000 U.S. standard) or { ages = [lower bounds], population = "
        "[sizes], label }: directly standardized beside the crude, over the age groups present "
        "in each domain (renormalised).",
        '"adult"',
    ),
    "contrast": (
        "text or list",
        "Group differences (statistic mean, proportion or ratio): a by column — each level "
        "minus the first (an Enum's order), within each combination of the other by columns "
        "(each cycle) — or pairs [level, reference] of the one by column besides cycle; each "
        "with its design-based SE (the groups' joint influence values), t on the design df, "
        "P and 95% CI (role group difference, a share's in proportion units), and the test of "
        "no difference across the levels (role group test): Rao–Scott F for a share, Wald F "
        "for a mean or a ratio. Of the crude estimates.",
        '"sex"',
    ),
}

USUAL: Doc = {
    "statistic": ("text", "usual_below_ear | usual_below_rda | usual_mean.", '"usual_below_ear"'),
    "variable": ("text", "The nutrient: mg | ca.", '"mg"'),
    "basis": ("text", "food | food+supplements.", '"food"'),
    "domain": ("text", "Old form: one built-in label or condition.", '"age 19+"'),
    "domains": (
        "list",
        "Conditions, or {label, where} tables; each AND-ed with the population.",
        '[{ label = "ages ≥ 19", where = "age >= 19" }]',
    ),
    "brr": ("integer", "0: no replicate SEs (default: the design's Fay BRR).", "0"),
    "pool": ("boolean", "The cycles pooled into one estimate.", "true"),
    "contrast": (
        "boolean, text or list",
        "Differences between domains (usual intake): pairs [domain, reference] of domain "
        "labels, true (each domain minus the first) or a label (each other domain minus it); "
        "of usual intake on the analysis's basis (not day 1): the difference in the full "
        "sample and in each BRR replicate of the same fits, SE by the replicate formula, t on "
        "the design df (role group difference).",
        '[["women", "men"]]',
    ),
}

SENSITIVITY: Doc = {
    "name": ("text", "Unique among the sensitivity analyses.", '"non_users"', "required"),
    "label": (
        "text",
        "Its name in the specification curve.",
        '"supplement non-users"',
        "its name, _ as spaces",
    ),
    "analysis": ("text", "The analysis it varies.", '"deficiency_adjusted"', "required"),
    "add_covariates": ("list", "Appended to the analysis's covariates.", '["vitd_supp"]', "[]"),
    "term": ("text", "The verdict's row here, if it differs.", '"> 75"', "(none)"),
    "direction": ("text", "The claimed side here, if it differs.", '"above"', "(none)"),
    "comparable": (
        "boolean",
        "Its estimand is still its analysis's although it changes the population, exposure, "
        "outcome or cycles (e.g. a better measure of the same intake): it keeps the published "
        "numbers, which such a change otherwise drops.",
        "true",
        "false",
    ),
}

VARIABLES: Doc = {
    "table": ("text", "A catalog component.", '"BMX"'),
    "column": ("text or table", "The CDC column (or one per cycles).", '"BMXWAIST"'),
    "missing": ("list of numbers", "Codes that become null.", "[7, 9]"),
    "expr": (
        "SQL",
        "An expression over analytic columns (instead of table, column).",
        '"waist_cm >= 102"',
    ),
    "unit": ("text", "Its unit.", '"cm"'),
    "label": ("text", "Its name in words.", '"waist circumference"'),
}

REFERENCE: Doc = {
    "text": ("text", "The source's words.", '"OR 0.34 (0.21–0.56), Q4 vs Q1"'),
    "estimate": ("number", "The published number (leave out when none is comparable).", "0.34"),
    "conf_low": ("number", "Its CI, when published.", "0.21"),
    "conf_high": ("number", "Its CI, when published.", "0.56"),
    "cycles": (
        "text or list",
        "The cycles the source's estimate is from: it is held only against ours of these.",
        '"2001-2006"',
    ),
    "points": (
        "array of tables",
        "Published values drawn on a trend figure: label, year, low, high.",
        '[{ label = "1977", year = 1977.0, low = 2.3, high = 2.9 }]',
    ),
}

COMPARE: Doc = {
    "text": ("text", "The source's words, or why nothing compares.", '"Rosanoff 2012: 48% …"'),
    "estimate": ("number", "The published number.", "0.48"),
    "conf_low": ("number", "Its CI, when published.", "0.21"),
    "conf_high": ("number", "Its CI, when published.", "0.56"),
    "term": ("text", "The row's term (default: the statement's).", '"Q4"'),
    "cycle": ("text", "The row's cycle.", '"2005-2006"'),
    "group": ("text", "The row's group.", '"ages ≥ 19"'),
    "stratum": (
        "text",
        "Judge a joint model's effect in this stratum of its modifier.",
        '"vitamin D supplement users"',
    ),
    "statistic": (
        "text",
        "The statistic the source reported (must be the analysis's).",
        '"usual_below_ear"',
    ),
    "basis": ("text", "The basis the source reported (must be the analysis's).", '"food"'),
    "cycles": ("text or list", "The source's cycles (as in reference).", '"2005-2006"'),
    "p_value": (
        'number or "< number"',
        "A published P for interaction: the report says whether ours reproduces it.",
        '"< 0.001"',
    ),
}

VERDICT: Doc = {
    "analysis": ("text", "The analysis whose row the verdict reads.", '"deficiency_adjusted"'),
    "term": ("text", "The row: its term …", '"Q4"'),
    "cycle": ("text", "… and/or its cycle …", '"2017-2018"'),
    "group": ("text", "… and/or its group.", '"ages ≥ 19"'),
    "rule": ("text", "threshold | effect | modification.", '"effect"', "required"),
    "direction": ("text", "The side of no effect (or the threshold) the claim states.", '"below"'),
    "value": ("number", "threshold rules: the threshold.", "2.8"),
    "stronger_in": (
        "text",
        "modification: modifier (where it holds) | complement.",
        '"complement"',
    ),
    "smallest_effect": (
        "number",
        "The smallest effect of interest on the claimed side: a CI excluding it and "
        "including no effect reads 'no effect of the claimed size'.",
        "1.2",
    ),
    "analyses": (
        "list",
        "[verdict] only: the specification curve's analyses (default: the verdict's).",
        '["cvd_per25", "all_cause_per25"]',
        "the verdict's analysis",
    ),
}

STATEMENT: Doc = {
    "name": (
        "text",
        "Lower case, digits, _; the statement column of verdicts.csv.",
        '"deficiency"',
    ),
    "text": ("text", "What the statement says.", '"Higher Mg, less deficiency"'),
    "limits": ("text", "What this statement cannot test.", '"Cross-sectional …"'),
    "secondary": ("boolean", "A neighbouring question, labelled as such.", "true"),
    "analyses": (
        "list",
        "Its curve's analyses (the verdict's first).",
        '["a", "b"]',
        "the verdict's analysis",
    ),
    "reference": ("table", "Its source's estimate (as [reference]).", "—", "(empty)"),
    "verdict": ("table", "Its rule (as [verdict], without analyses).", "—"),
}

OUTPUTS: Doc = {
    "sample_flow": ("boolean", "The exclusion cascade and missingness.", "true"),
    "table1": ("boolean", "Characteristics by exposure category, design-based P.", "true"),
    "table1_extra": ("list", "Characteristics beside the outcome and covariates.", '["supp_user"]'),
    "margins": ("boolean", "Predictive margins by exposure category.", "true"),
    "dose_response": ("boolean", "Spline curve beside quantile analyses.", "true"),
    "survival_curves": ("boolean", "Unadjusted survey survival curves (Cox).", "true"),
    "evalues": ("boolean", "E-values of an effect rule's odds or hazard ratios.", "true"),
    "regression_table": ("boolean", "Every term of each main model, in words.", "true"),
}

# (title, what the parser allows, the record holding the defaults, the descriptions)
SECTIONS: tuple[tuple[str, frozenset[str], type | None, Doc], ...] = (
    ("Top level", frozenset(spec_fields.TOP_FIELDS), spec_types.Spec, TOP),
    (
        "[[analysis]]: every kind",
        frozenset(spec_fields.COMMON_FIELDS),
        spec_types.ModelAnalysis,
        COMMON,
    ),
    (
        "[[analysis]]: linear, logistic and Cox models",
        frozenset(spec_fields.MODEL_FIELDS - spec_fields.COMMON_FIELDS),
        spec_types.ModelAnalysis,
        MODEL,
    ),
    (
        "[[analysis]]: descriptive (model = descriptive)",
        frozenset(spec_fields.DESCRIPTIVE_FIELDS - spec_fields.COMMON_FIELDS),
        spec_types.DescriptiveAnalysis,
        DESCRIPTIVE,
    ),
    (
        "[[analysis]]: usual intake (statistic = usual_…)",
        frozenset(spec_fields.USUAL_FIELDS - spec_fields.COMMON_FIELDS),
        spec_types.UsualIntakeAnalysis,
        USUAL,
    ),
    (
        "[[sensitivity]] (and any field of [[analysis]], which replaces the analysis's)",
        frozenset(
            spec_fields.SENSITIVITY_FIELDS
            - (spec_fields.MODEL_FIELDS | spec_fields.DESCRIPTIVE_FIELDS | spec_fields.USUAL_FIELDS)
        )
        | {"name", "label"},
        None,
        SENSITIVITY,
    ),
    (
        "compare (in [[analysis]] or [[sensitivity]])",
        frozenset(spec_fields.COMPARE_FIELDS),
        spec_types.Comparator,
        COMPARE,
    ),
    (
        "[reference], [statement.reference]",
        frozenset(spec_fields.REFERENCE_FIELDS),
        spec_types.Reference,
        REFERENCE,
    ),
    (
        "[verdict], [statement.verdict]",
        frozenset(spec_fields.VERDICT_FIELDS),
        spec_types.VerdictRule,
        VERDICT,
    ),
    ("[[statement]]", frozenset(spec_fields.STATEMENT_FIELDS), spec_types.Statement, STATEMENT),
    ("[outputs]", frozenset(spec_types.OUTPUT_FIELDS), spec_types.Outputs, OUTPUTS),
    (
        "[variables] (each entry)",
        frozenset(spec_fields.VARIABLE_FIELDS),
        spec_types.DeclaredVariable,
        VARIABLES,
    ),
)


def _default(record: type | None, name: str, doc: tuple[str, ...]) -> str:
    """A field's default: the description's where it gives one (the parser fills it in),
    else the record's: ``required``, a value, or ``—`` (not a field of the record)."""
    if len(doc) > 3:
        return doc[3]
    if record is None:
        return "—"
    found = {f.name: f for f in dataclasses.fields(record)}.get(name)
    if found is None:
        return "—"
    if found.default is not dataclasses.MISSING:
        return _toml(found.default)
    if found.default_factory is not dataclasses.MISSING:
        return _toml(found.default_factory())
    return "required"


def _toml(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, tuple | list):
        return "[]" if not value else repr(list(value))
    if dataclasses.is_dataclass(value) or isinstance(value, dict):
        return "(empty)"
    return f"{value:g}" if isinstance(value, float) else str(value)


def render() -> str:
    """The reference as markdown (raises ``ValueError`` when it would drift from the parser)."""
    out = [
        "# Specification fields",
        "",
        "Every field a specification may hold, by table: its TOML type, its default (`required`",
        "when it has none; `—` when the default depends on other fields), what it means and an",
        "example. Generated by `scripts/make_spec_reference.py` from the parser's field lists",
        "and typed records (`nhanes_mg/study/spec_fields.py`, `spec_types.py`); do not edit",
        "by hand. The README's [Writing a model",
        "specification](../README.md#writing-a-model-specification) shows them together.",
    ]
    for title, allowed, record, docs in SECTIONS:
        missing = sorted(allowed - set(docs))
        extra = sorted(set(docs) - allowed)
        if missing or extra:
            raise ValueError(f"{title}: undocumented {missing}, not allowed {extra}")
        out += ["", f"## {title}", "", "| field | type | default | meaning | example |"]
        out.append("| --- | --- | --- | --- | --- |")
        for name in sorted(allowed, key=list(docs).index):
            kind, meaning, example = docs[name][:3]
            cells = [f"`{name}`", kind, _default(record, name, docs[name]), meaning, f"`{example}`"]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"
