"""Model specifications: each analysis of a claim is a TOML file, validated here.

The shipped specifications live in ``nhanes_mg/specs/*.toml``; users pass their own with
``nhanes-mg run --spec my.toml``. A malformed file raises :class:`SpecError` naming the file, the
field and what is allowed. Population filters and outcomes are SQL expressions over the analytic
dataset's columns (polars' SQL dialect: ``age >= 20 AND NOT pregnant``).

A specification, field by field::

    id = "C3"                              # short id, used for file names
    title = "…"                            # one line
    claim = "…"                            # the document's sentence
    source = "seed 001"                    # which document makes the claim
    citation = "Deng X et al. BMC Med 2013;11:187"
    cycles = "2001-2006"                   # as --cycles: a range or a list
    weight = "wt_diet1"                    # 2-year weight column; ÷ number of cycles pooled
    population = "age >= 20 AND recall_ok_d1"   # the domain (the design keeps every row)
    model = "logistic"                     # descriptive | linear | logistic | cox
    notes = "…"                            # optional: what differs from the publication

    [covariate_sets]                       # optional named covariate lists, used as "@name"
    adjusted = ["age", "sex", "race_eth"]

    [[analysis]]                           # one or more
    name = "deficiency_adjusted"
    outcome = "vitd_25oh_nmol < 30"        # column or SQL expression (models)
    outcome_label = "25(OH)D < 30 nmol/L"
    exposure = "mg_total"                  # column
    exposure_type = "quantiles"            # continuous | quantiles | cutpoints
    quantiles = 4                          # weighted quantiles computed in the domain
    cutpoints = [1.7, 2.8]                 # for exposure_type = "cutpoints"
    per = 25.0                             # continuous: effect per this many units
    covariates = "@adjusted"               # a list of columns or "@set"
    population = "…"                       # optional, AND-ed with the spec's population
    modifier = "mg_total >= 300"           # optional effect modifier (column or expression)
    trend = true                           # P for trend over the exposure categories
    time = "followup_months_exam"          # cox: follow-up time
    # descriptive analyses instead give:
    statistic = "mean"                     # mean | quantile | proportion | ratio |
                                           # usual_below_ear (NCI usual intake; variable =
                                           # "mg" | "ca", basis = "food" | "food+supplements",
                                           # domain = "all" | "age 19+" | "male" …, brr = 16,
                                           # cycles = ["2005-2006", …])
    variable = "ca_mg_ratio_food"          # column or expression (proportion: a condition)
    denominator = "mg_food"                # statistic = "ratio"
    q = 0.5                                # statistic = "quantile"
    by = ["cycle", "sex"]                  # estimates per group (domains of the full design)

    [reference]                            # the published estimate
    text = "OR 0.34 (0.21–0.56), highest vs lowest quartile"
    estimate = 0.34
    conf_low = 0.21
    conf_high = 0.56

    [verdict]                              # how our estimate becomes a verdict
    rule = "effect_below_1"                # see VERDICT_RULES
    analysis = "deficiency_adjusted"
    term = "Q4"                            # row of that analysis's table
    value = 2.8                            # for above / below / p_below
    stronger_in = "modifier"               # p_below with a modifier: where the effect should
                                           # be stronger ("modifier" true, or "complement")

Examples
--------
>>> specs = load_shipped_specs()
>>> [s.id for s in specs][:3]
['C1', 'C2', 'C3']
>>> specs[2].analyses[0].exposure
'mg_total'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from nhanes_mg import catalog
from nhanes_mg.errors import CatalogError, SpecError

MODELS = ("descriptive", "linear", "logistic", "cox")
EXPOSURE_TYPES = ("continuous", "quantiles", "cutpoints")
STATISTICS = ("mean", "quantile", "proportion", "ratio", "usual_below_ear")
USUAL_BASES = ("food", "food+supplements")
VERDICT_RULES = {
    "above": "our estimate should exceed `value` (consistent: CI above it; weaker: estimate "
    "above, CI crosses; not reproduced: estimate at or below, CI crosses; contradicted: CI "
    "below it)",
    "below": "mirror image of `above`",
    "effect_below_1": "an odds/hazard ratio should be < 1 (consistent: CI below 1 and overlapping "
    "the published CI; weaker: CI below 1 but closer to 1 than published; not reproduced: CI "
    "includes 1; contradicted: CI above 1)",
    "effect_above_1": "mirror image of `effect_below_1`",
    "p_below": "a P value (trend or interaction) should be below `value` (consistent: it is; "
    "not reproduced: it is not)",
}
WEIGHTS = ("wt_mec", "wt_diet1", "wt_diet2")

_TOP_FIELDS = {
    "id", "title", "claim", "source", "citation", "cycles", "weight", "population", "model",
    "notes", "covariate_sets", "analysis", "reference", "verdict",
}  # fmt: skip
_ANALYSIS_FIELDS = {
    "name", "outcome", "outcome_label", "exposure", "exposure_type", "quantiles", "cutpoints",
    "per", "covariates", "population", "modifier", "trend", "time", "statistic", "variable",
    "denominator", "q", "by", "label", "model", "modifier_cut", "groups",
    "basis", "domain", "brr", "cycles",
}  # fmt: skip


@dataclass(frozen=True)
class Analysis:
    """One model fit or one set of descriptive estimates of a specification."""

    name: str
    label: str = ""
    outcome: str | None = None
    outcome_label: str = ""
    exposure: str | None = None
    exposure_type: str = "continuous"
    quantiles: int = 4
    cutpoints: tuple[float, ...] = ()
    per: float = 1.0
    covariates: tuple[str, ...] = ()
    population: str | None = None
    modifier: str | None = None
    trend: bool = False
    time: str | None = None
    statistic: str | None = None
    variable: str | None = None
    denominator: str | None = None
    q: float = 0.5
    by: tuple[str, ...] = ()
    model: str | None = None
    modifier_cut: str | float | None = None
    groups: dict[str, str] = field(default_factory=dict)
    basis: str = "food"
    domain: str = "all"
    brr: int | None = None
    cycles: tuple[str, ...] = ()


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
    reference: dict[str, Any] = field(default_factory=dict)
    verdict: dict[str, Any] = field(default_factory=dict)
    notes: str = ""
    path: str = ""

    @property
    def cycles_text(self) -> str:
        return f"{self.cycles[0].years} … {self.cycles[-1].years}" if self.cycles else ""


def _fail(path: str, where: str, message: str) -> SpecError:
    return SpecError(f"{path}: field '{where}': {message}")


def _get(table: dict[str, Any], key: str, kind: type | tuple[type, ...], path: str, where: str,
         required: bool = True, default: Any = None) -> Any:  # fmt: skip
    if key not in table:
        if required:
            raise _fail(path, f"{where}{key}", "is required")
        return default
    value = table[key]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _fail(path, f"{where}{key}", f"must be {names}, not {value!r}")
    return value


def _choice(value: str, allowed: tuple[str, ...] | dict[str, str], path: str, where: str) -> str:
    if value not in allowed:
        raise _fail(path, where, f"{value!r} is not one of: {', '.join(allowed)}")
    return value


def check_expression(text: str, path: str, where: str) -> pl.Expr:
    """Parse an SQL expression, or raise :class:`SpecError` naming the field."""
    try:
        return pl.sql_expr(text)
    except Exception as exc:  # polars raises several error types for bad SQL
        raise _fail(path, where, f"cannot parse {text!r} as an expression ({exc})") from exc


def _analysis(raw: dict[str, Any], i: int, top_model: str, sets: dict[str, list[str]],
              path: str) -> Analysis:  # fmt: skip
    where = f"analysis[{i}]."
    spec_model = top_model
    if "model" in raw:
        spec_model = _choice(_get(raw, "model", str, path, where), MODELS, path, where + "model")
    unknown = set(raw) - _ANALYSIS_FIELDS
    if unknown:
        raise _fail(path, where + sorted(unknown)[0],
                    f"unknown field; allowed: {', '.join(sorted(_ANALYSIS_FIELDS))}")  # fmt: skip
    name = _get(raw, "name", str, path, where)
    covariates = raw.get("covariates", [])
    if isinstance(covariates, str):
        if not covariates.startswith("@") or covariates[1:] not in sets:
            raise _fail(path, where + "covariates",
                        f"{covariates!r} names no covariate set; sets: "
                        f"{', '.join('@' + s for s in sets) or '(none)'}")  # fmt: skip
        covariates = sets[covariates[1:]]
    if not isinstance(covariates, list) or not all(isinstance(c, str) for c in covariates):
        raise _fail(path, where + "covariates", "must be a list of column names or '@set'")
    for key in ("population", "modifier", "outcome", "variable"):
        if key in raw and raw.get("statistic") != "usual_below_ear":
            check_expression(_get(raw, key, str, path, where), path, where + key)
    groups = _get(raw, "groups", dict, path, where, False, {})
    for key, text in groups.items():
        if not isinstance(text, str):
            raise _fail(path, f"{where}groups.{key}", "must be an SQL expression (text)")
        check_expression(text, path, f"{where}groups.{key}")
    modifier_cut = raw.get("modifier_cut")
    if (
        modifier_cut is not None
        and modifier_cut != "median"
        and (isinstance(modifier_cut, bool) or not isinstance(modifier_cut, int | float))
    ):
        raise _fail(path, where + "modifier_cut",
                    f"must be 'median' or a number, not {modifier_cut!r}")  # fmt: skip
    common = dict(
        name=name,
        model=raw.get("model"),
        groups=groups,
        label=_get(raw, "label", str, path, where, False, ""),
        population=raw.get("population"),
        covariates=tuple(covariates),
        by=tuple(_get(raw, "by", list, path, where, False, [])),
    )
    if spec_model == "descriptive":
        statistic = _choice(_get(raw, "statistic", str, path, where), STATISTICS, path,
                            where + "statistic")  # fmt: skip
        variable = _get(raw, "variable", str, path, where)
        denominator = _get(raw, "denominator", str, path, where, statistic == "ratio")
        if statistic == "usual_below_ear":
            # NCI usual intake (nhanes_mg.usual_intake): variable names the nutrient
            _choice(variable, ("mg", "ca"), path, where + "variable")
            cycles = tuple(_get(raw, "cycles", list, path, where, False, []))
            for cyc in cycles:
                try:
                    catalog.get_cycle(cyc)
                except CatalogError as exc:
                    raise _fail(path, where + "cycles", str(exc)) from exc
            return Analysis(
                statistic=statistic, variable=variable, cycles=cycles,
                basis=_choice(_get(raw, "basis", str, path, where, False, "food"), USUAL_BASES,
                              path, where + "basis"),
                domain=_get(raw, "domain", str, path, where, False, "all"),
                brr=_get(raw, "brr", int, path, where, False, None),
                **common,  # type: ignore[arg-type]
            )  # fmt: skip
        q = float(_get(raw, "q", (int, float), path, where, False, 0.5))
        if not 0 < q < 1:
            raise _fail(path, where + "q", f"must lie strictly between 0 and 1, not {q}")
        return Analysis(statistic=statistic, variable=variable, denominator=denominator, q=q,
                        trend=bool(_get(raw, "trend", bool, path, where, False, False)),
                        **common)  # type: ignore[arg-type]  # fmt: skip
    exposure_type = _choice(_get(raw, "exposure_type", str, path, where, False, "continuous"),
                            EXPOSURE_TYPES, path, where + "exposure_type")  # fmt: skip
    cutpoints = tuple(float(c) for c in _get(raw, "cutpoints", list, path, where,
                                             exposure_type == "cutpoints", []))  # fmt: skip
    if exposure_type == "cutpoints" and list(cutpoints) != sorted(set(cutpoints)):
        raise _fail(path, where + "cutpoints", "must be distinct and increasing")
    quantiles = int(_get(raw, "quantiles", int, path, where, False, 4))
    if exposure_type == "quantiles" and not 2 <= quantiles <= 10:
        raise _fail(path, where + "quantiles", f"must be 2 … 10, not {quantiles}")
    time = _get(raw, "time", str, path, where, spec_model == "cox")
    return Analysis(
        outcome=_get(raw, "outcome", str, path, where),
        outcome_label=_get(raw, "outcome_label", str, path, where, False, ""),
        exposure=_get(raw, "exposure", str, path, where),
        exposure_type=exposure_type,
        quantiles=quantiles,
        cutpoints=cutpoints,
        per=float(_get(raw, "per", (int, float), path, where, False, 1.0)),
        modifier=raw.get("modifier"),
        modifier_cut=modifier_cut,
        trend=bool(_get(raw, "trend", bool, path, where, False, False)),
        time=time,
        **common,  # type: ignore[arg-type]
    )


def parse_spec(raw: dict[str, Any], path: str = "<spec>") -> Spec:
    """Validate a parsed TOML table into a :class:`Spec` (raises :class:`SpecError`)."""
    unknown = set(raw) - _TOP_FIELDS
    if unknown:
        raise _fail(path, sorted(unknown)[0],
                    f"unknown field; allowed: {', '.join(sorted(_TOP_FIELDS))}")  # fmt: skip
    model = _choice(_get(raw, "model", str, path, ""), MODELS, path, "model")
    weight = _choice(_get(raw, "weight", str, path, ""), WEIGHTS, path, "weight")
    try:
        cycles = catalog.parse_cycles(_get(raw, "cycles", str, path, ""))
    except CatalogError as exc:
        raise _fail(path, "cycles", str(exc)) from exc
    population = _get(raw, "population", str, path, "")
    check_expression(population, path, "population")
    sets = _get(raw, "covariate_sets", dict, path, "", False, {})
    analyses_raw = _get(raw, "analysis", list, path, "")
    if not analyses_raw:
        raise _fail(path, "analysis", "needs at least one [[analysis]] table")
    analyses = tuple(_analysis(a, i, model, sets, path) for i, a in enumerate(analyses_raw))
    names = [a.name for a in analyses]
    if len(set(names)) != len(names):
        raise _fail(path, "analysis.name", "names must be unique within a specification")
    verdict = _get(raw, "verdict", dict, path, "", False, {})
    if verdict:
        _choice(_get(verdict, "rule", str, path, "verdict."), VERDICT_RULES, path, "verdict.rule")
        target = _get(verdict, "analysis", str, path, "verdict.")
        if target not in names:
            raise _fail(path, "verdict.analysis", f"{target!r} is not one of: {', '.join(names)}")
        _get(verdict, "term", str, path, "verdict.")
        if "stronger_in" in verdict:
            _choice(_get(verdict, "stronger_in", str, path, "verdict."), ("modifier", "complement"),
                    path, "verdict.stronger_in")  # fmt: skip
        if verdict["rule"] in ("above", "below", "p_below"):
            _get(verdict, "value", (int, float), path, "verdict.")
    return Spec(
        id=_get(raw, "id", str, path, ""),
        title=_get(raw, "title", str, path, ""),
        claim=_get(raw, "claim", str, path, ""),
        source=_get(raw, "source", str, path, "", False, ""),
        citation=_get(raw, "citation", str, path, ""),
        cycles=cycles,
        weight=weight,
        population=population,
        model=model,
        analyses=analyses,
        reference=_get(raw, "reference", dict, path, "", False, {}),
        verdict=verdict,
        notes=_get(raw, "notes", str, path, "", False, ""),
        path=path,
    )


def load_spec(path: str | Path) -> Spec:
    """Read and validate one TOML specification file."""
    path = Path(path)
    if not path.exists():
        raise SpecError(f"{path}: specification file not found")
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
