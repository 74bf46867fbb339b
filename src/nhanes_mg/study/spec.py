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
    weight = "auto"                        # auto (default) | wt_int | wt_mec | wt_diet1 | wt_diet2
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
    regression_table = true                # each main model's terms (tables/{id}_regression.csv)

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
                                           # all_ages: the 11 NCHS groups); mean or proportion;
                                           # or your own: { ages = [1, 20, 60], population =
                                           # [60, 120, 45], label = "…" } (lower bounds; the
                                           # groups present in a domain, renormalised)
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
    # group differences (descriptive and usual intake; spec_contrast.py):
    contrast = "sex"                       # descriptive: a `by` column, each level − the first,
                                           # within each cycle (or [["female", "male"]]: pairs
                                           # level, reference), with the design-based test
    contrast = [["women 51+", "age >= 19"]]   # usual intake: pairs of domain labels (or true:
                                           # each domain − the first), BRR SEs

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
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from nhanes_mg.data import catalog
from nhanes_mg.errors import CatalogError, SpecError
from nhanes_mg.study import spec_columns
from nhanes_mg.study.exposure_error import EXPOSURE_ERRORS, intake_of
from nhanes_mg.study.spec_claims import (
    _check_estimand,
    _check_rows,
    _compare,
    _reference,
    _statements,
)
from nhanes_mg.study.spec_contrast import descriptive_contrast, usual_contrast
from nhanes_mg.study.spec_fields import (
    _NAME,
    DESCRIPTIVE_FIELDS,
    MISSING_DATA,
    MODEL_FIELDS,
    SENSITIVITY_FIELDS,
    TOP_FIELDS,
    USUAL_FIELDS,
    VARIABLE_FIELDS,
    _choice,
    _covariates,
    _cycles,
    _fail,
    _get,
    _known_fields,
    check_expression,
)
from nhanes_mg.study.spec_types import (
    EXPOSURE_TYPES,
    MODELS,
    NAMED_STANDARDS,
    OUTPUT_FIELDS,
    STATISTICS,
    USUAL_BASES,
    USUAL_STATISTICS,
    WEIGHTS,
    AgeStandard,
    Analysis,
    DeclaredVariable,
    DescriptiveAnalysis,
    ModelAnalysis,
    Outputs,
    Spec,
    UsualIntakeAnalysis,
    category_labels,
)
from nhanes_mg.study.verdicts import DIRECTIONS


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
    # lazy: the domains module brings numpy, which reading a specification does not need
    from nhanes_mg.usual_intake.domains import domain_of

    out: list[tuple[str, str]] = []
    for item, name in zip(items, fields, strict=True):
        d = domain_of(item, f"{path}: field '{name}'")
        check_expression(d.where, path, name)
        if d.label in (label for label, _ in out):
            raise _fail(path, name, f"the label {d.label!r} is given twice")
        out.append((d.label, d.where))
    return tuple(out)


def _outputs(raw: dict[str, Any], path: str) -> Outputs:
    _known_fields(raw, OUTPUT_FIELDS, path, "outputs.")
    flags = {
        k: _get(raw, k, bool, path, "outputs.", False, True)
        for k in OUTPUT_FIELDS
        if k != "table1_extra"
    }
    extra = _get(raw, "table1_extra", list, path, "outputs.", False, [])
    if not all(isinstance(c, str) for c in extra):
        raise _fail(path, "outputs.table1_extra", "must be a list of column names")
    return Outputs(**flags, table1_extra=tuple(extra))


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
        USUAL_FIELDS if usual else (DESCRIPTIVE_FIELDS if model == "descriptive" else MODEL_FIELDS)
    )
    kind = "usual-intake" if usual else "descriptive" if model == "descriptive" else model
    _known_fields(raw, allowed, path, where, kind)
    name = _name(raw, path, where)
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
            contrast=usual_contrast(raw, domains, path, where),
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
            contrast=descriptive_contrast(raw, statistic, tuple(by), groups, path, where),
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
    if "contrast" in raw and (exposure_type != "spline" or not isinstance(raw["contrast"], list)):
        raise _fail(
            path,
            where + "contrast",
            "in a model analysis: the two exposure values [low, high] of exposure_type = "
            '"spline"; group differences (contrast = "sex") are for descriptive and '
            "usual-intake analyses",
        )
    contrast = _get(raw, "contrast", list, path, where, exposure_type == "spline", None)
    if contrast is not None and (
        len(contrast) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in contrast)
        or not all(math.isfinite(x) for x in contrast)
        or not contrast[0] < contrast[1]
    ):
        raise _fail(path, where + "contrast", "must be two increasing numbers: [low, high]")
    exposure_error = _choice(
        _get(raw, "exposure_error", str, path, where, False, "none"),
        EXPOSURE_ERRORS,
        path,
        where + "exposure_error",
    )
    if exposure_error == "regression_calibration":
        _check_calibrated(raw, exposure_type, path, where)
    missing = _choice(
        _get(raw, "missing", str, path, where, False, "complete_case"),
        MISSING_DATA,
        path,
        where + "missing",
    )
    imputations = int(_get(raw, "imputations", int, path, where, False, 20))
    if not 2 <= imputations <= 200:
        raise _fail(path, where + "imputations", f"must be 2 … 200, not {imputations}")
    if missing == "impute" and exposure_error != "none":
        raise _fail(
            path,
            where + "missing",
            "multiple imputation and regression calibration together are not supported yet: "
            "give each its own sensitivity analysis",
        )
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
        exposure_error=exposure_error,
        missing=missing,
        imputations=imputations,
        **common,
    )


def _check_calibrated(raw: dict[str, Any], exposure_type: str, path: str, where: str) -> None:
    """Regression calibration needs a continuous exposure that is one nutrient's intake."""
    at = where + "exposure_error"
    if exposure_type != "continuous":
        raise _fail(
            path,
            at,
            f"regression calibration needs a continuous exposure, not {exposure_type!r}: "
            "calibrated usual intakes are not to be cut into categories (NCI); set "
            'exposure_type = "continuous" (with per = 100.0, say)',
        )
    if intake_of(str(raw.get("exposure", ""))) is None:
        raise _fail(
            path,
            at,
            f"regression calibration needs an exposure that is one nutrient's intake "
            f"(mg_food_d1, mg_food_d1 + mg_supp, mg_total, ca_total …), not "
            f"{raw.get('exposure')!r}",
        )


def _age_standard(raw: dict[str, Any], statistic: str, path: str, where: str) -> AgeStandard | None:
    """``age_standardize``: a named standard, or ``{ ages, population, label }`` declared."""
    value = raw.get("age_standardize")
    if value is None:
        return None
    field = where + "age_standardize"
    if statistic not in ("mean", "proportion"):
        raise _fail(path, field, "only a mean or a proportion is standardized")
    if isinstance(value, str):
        return NAMED_STANDARDS[_choice(value, tuple(NAMED_STANDARDS), path, field)]
    if not isinstance(value, dict):
        raise _fail(
            path, field, f"must be one of {', '.join(NAMED_STANDARDS)} or a table "
            "{ ages = [lower bounds], population = [sizes], label = \"…\" }",
        )  # fmt: skip
    _known_fields(value, {"ages", "population", "label"}, path, field + ".")
    numbers = {}
    for key in ("ages", "population"):
        items = value.get(key)
        if (
            not isinstance(items, list)
            or not items
            or not all(
                isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
                for x in items
            )
        ):
            raise _fail(path, f"{field}.{key}", "must be a non-empty list of finite numbers")
        numbers[key] = tuple(float(x) for x in items)
    ages, population = numbers["ages"], numbers["population"]
    if len(ages) != len(population):
        raise _fail(
            path, f"{field}.population",
            f"has {len(population)} values for {len(ages)} age groups",
        )  # fmt: skip
    if ages[0] < 0 or any(b <= a for a, b in itertools.pairwise(ages)):
        raise _fail(path, f"{field}.ages", "lower bounds must be ≥ 0 and increasing")
    if any(x <= 0 for x in population):
        raise _fail(path, f"{field}.population", "every group's population must be > 0")
    label = _get(value, "label", str, path, field + ".", False, "")
    return AgeStandard("declared", ages, population, label or "a declared standard population")


# the fields whose change makes a sensitivity analysis estimate something else
ESTIMAND_FIELDS = ("population", "exposure", "outcome", "cycles")


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
    _known_fields(raw, SENSITIVITY_FIELDS, path, where)
    name = _name(raw, path, where)
    target = _get(raw, "analysis", str, path, where)
    if target not in names:
        raise _fail(path, where + "analysis", f"{target!r} is not one of: {', '.join(names)}")
    base = dict(analyses_raw[names.index(target)])
    own = ("name", "label", "analysis", "add_covariates", "term", "direction", "comparable")
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
    # a published number is for its analysis's estimand: one that changes it compares with
    # nothing unless it says what (compare = …)
    comparable = _get(raw, "comparable", bool, path, where, False, False)
    keeps = comparable or "compare" in raw
    changed = () if keeps else tuple(k for k in ESTIMAND_FIELDS if k in overrides)
    return replace(
        analysis,
        sensitivity=name,
        sensitivity_label=label,
        estimand_changes=changed,
        verdict_term=_get(raw, "term", str, path, where, False, None),
        verdict_direction=direction,
    )


# A specification's id names its output files (tables/{id}.csv, figures/{id}_curve.png …): an
# identifier, never a path, and never the name of a file the package writes itself.
SPEC_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
RESERVED_IDS = frozenset({"verdicts", "validation", "supplement_seam", "usual_intake", "report"})


def check_id(value: str, path: str) -> str:
    """A specification's ``id``: letters, digits, _ and -, starting with a letter, at most 64
    characters, and not one of the package's own output names (case ignored)."""
    if not SPEC_ID.fullmatch(value):
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


def _name(raw: dict[str, Any], path: str, where: str) -> str:
    """An analysis's or sensitivity analysis's name: an identifier (lower case letters,
    digits and _), never text that could break a table, a heading or a file name."""
    name = _get(raw, "name", str, path, where)
    if not _NAME.fullmatch(name):
        raise _fail(path, where + "name", f"{name!r}: a name is lower case letters, digits and _")
    return name


def _variables(raw: dict[str, Any], path: str) -> tuple[DeclaredVariable, ...]:
    """The ``[variables]`` table: each a (table, column) or an expression, in order."""
    out: list[DeclaredVariable] = []
    for name, entry in raw.items():
        where = f"variables.{name}"
        if not _NAME.fullmatch(name):
            raise _fail(path, where, "a variable name is lower case letters, digits and _")
        if not isinstance(entry, dict):
            raise _fail(path, where, 'must be a table, e.g. { table = "BMX", column = "BMXWAIST" }')
        _known_fields(entry, VARIABLE_FIELDS, path, where + ".")
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


def parse_spec(raw: dict[str, Any], path: str = "<spec>", check_columns: bool = True) -> Spec:
    """Validate a parsed TOML table into a :class:`Spec` (raises :class:`SpecError`).

    With ``check_columns`` every expression's columns are checked against the analytic
    dataset's schema plus the specification's ``[variables]`` (:mod:`nhanes_mg.study.spec_columns`).
    """
    _known_fields(raw, TOP_FIELDS, path, "")
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
    if len(analyses_raw) + len(sens_raw) > MAX_ANALYSES:
        raise _fail(
            path,
            "analysis",
            f"{len(analyses_raw)} analyses and {len(sens_raw)} sensitivity analyses: at most "
            f"{MAX_ANALYSES} in one specification (split it into several files)",
        )
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


# bounds on what one specification may ask for (a file someone sent is untrusted input: checking
# 20,000 analyses would take a minute before any error)
MAX_SPEC_BYTES = 256 * 1024
MAX_ANALYSES = 200


def load_spec(path: str | Path) -> Spec:
    """Read and validate one TOML specification file."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: specification file not found")
    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a specification file (.toml)")
    size = path.stat().st_size
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            f"{path}: {size:,} bytes; a specification is at most {MAX_SPEC_BYTES:,} (the shipped "
            "ones are under 20,000)"
        )
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
