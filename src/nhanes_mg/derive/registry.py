# ruff: noqa: E501  (a table of variables: a rule sentence a line reads best)
"""The analytic dataset's variables, each declared once: the registry.

One :class:`Variable` per column of ``analytic.parquet``, in column order, says everything about
it: its type, unit, label, group and the sentence the data dictionary prints, and how it is
made — exactly one of

* ``source=`` a CDC column as published (one name per cycle where CDC renamed it, with the
  variable's own missing-value codes): ``var("bmi", F64, …, source=cdc("BMX", "BMXBMI"))``;
* ``expr=`` a polars expression over other variables, and over intermediate CDC columns it
  declares in ``columns=`` (named ``_x``: read and cleaned like a source, never in the dataset);
  a callable taking the build :class:`Options` when the rule has a setting;
* ``step=`` a named function of :mod:`nhanes_mg.derive.steps` for the few that need code
  (supplement products × ingredient database, linked mortality, the energy adjustment).

Everything else is derived from these declarations: the tables the build reads and ``fetch``
gets (:data:`COMPONENTS`), the order the build computes the expressions in, the lineage that
decides a variable's NHANES subsample (:data:`DERIVED_FROM`, :data:`EXTRA_COMPONENTS`, read by
:mod:`nhanes_mg.derive.lineage`), the data dictionary (:mod:`nhanes_mg.derive.dictionary`), the
synthetic demo tables (:mod:`nhanes_mg.derive.demo`) and the dataset's :func:`schema`.

Adding an ordinary variable is one entry in the group it belongs to, e.g. in "Covariates"::

    var("waist_cm", F64, "cm", "Waist circumference",
        "Waist circumference at the iliac crest.", source=cdc("BMX", "BMXWAIST")),

or, computed from variables already here::

    var("obese", BOOL, "", "Obesity", "bmi ≥ 30.", expr=pl.col("bmi") >= 30),

Examples
--------
>>> schema()["vitd_25oh_nmol"], schema()["smoking"]
(Float64, Enum(categories=['never', 'former', 'current']))
>>> labels()["mg_total"], units()["mg_total"]
('Total magnesium intake', 'mg/day')
>>> DERIVED_FROM["mg_total"]
('mg_food', 'mg_supp')
>>> [s.column_for("B") for s in REGISTRY.sources_of("DR1TOT") if s.name == "_mg_d1"]
['DRXTMAGN']
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.derive import rules, supplements
from nhanes_mg.derive.sources import FROM_E, NOT_B, Q1, Source, cdc
from nhanes_mg.derive.steps import (
    CYCLE_LABEL,
    ENERGY_ADJUSTMENT,
    LINKED_MORTALITY,
    SUPP_DSQ2_YEARS,
    SUPPLEMENTS_DSQ2,
    CycleStep,
    FrameStep,
    Step,
)

KEY = "SEQN"  # the join key every table carries; ``seqn`` is its copy in the dataset

F64, BOOL, I8, I64 = pl.Float64(), pl.Boolean(), pl.Int8(), pl.Int64()


def _enum(levels: Sequence[str]) -> pl.Enum:
    return pl.Enum(list(levels))


@dataclass(frozen=True)
class Options:
    """The build's settings a rule may depend on (``build_analytic`` keywords)."""

    vitd_cutpoints: tuple[float, float] = (30.0, 50.0)


Rule = pl.Expr | Callable[[Options], pl.Expr]
DType = pl.DataType | Callable[[Sequence[str]], pl.DataType]  # callable: of the cycles built


class RegistryError(ValueError):
    """The declarations contradict themselves (a programming error, raised on import)."""


@dataclass(frozen=True, eq=False)
class Variable:
    """One declared column. Names starting with ``_`` are the build's helpers (outputs of a
    named function that a rule combines), never in the dataset. Use :func:`var`."""

    name: str
    dtype: DType
    unit: str = ""
    label: str = ""
    rule: str = ""  # the sentence the data dictionary prints
    group: str = ""
    source: tuple[Source, ...] = ()  # the variable is this CDC column (several: by cycle)
    columns: tuple[Source, ...] = ()  # intermediate CDC columns its expression (or others') uses
    expr: Rule | None = None
    step: Step | None = None
    derived_from: tuple[str, ...] = ()  # a step's inputs (expressions: found in the expression)
    reads: tuple[str, ...] = ()  # tables a step reads beyond any Source (DSQ2, DSPI, DSII)
    cited: str = ""  # those tables (or files) as the data dictionary names them

    @property
    def public(self) -> bool:
        return not self.name.startswith("_")

    def expression(self, options: Options | None = None) -> pl.Expr | None:
        if self.expr is None or isinstance(self.expr, pl.Expr):
            return self.expr
        return self.expr(options or Options())

    def dtype_for(self, cycles: Sequence[str]) -> pl.DataType:
        return self.dtype(cycles) if callable(self.dtype) else self.dtype


def var(
    name: str,
    dtype: DType,
    unit: str = "",
    label: str = "",
    rule: str = "",
    *,
    source: Source | Iterable[Source] | None = None,
    columns: Mapping[str, Source | Iterable[Source]] | None = None,
    expr: Rule | None = None,
    step: Step | None = None,
    derived_from: tuple[str, ...] = (),
    reads: tuple[str, ...] = (),
    cited: str = "",
) -> Variable:
    """A :class:`Variable`, its sources named (``source`` after the variable, ``columns`` after
    their keys)."""

    def named(key: str, value: Source | Iterable[Source]) -> tuple[Source, ...]:
        items = (value,) if isinstance(value, Source) else tuple(value)
        return tuple(replace(s, name=key) for s in items)

    own = () if source is None else named(name, source)
    helpers = tuple(s for key, value in (columns or {}).items() for s in named(key, value))
    return Variable(
        name, dtype, unit, label, rule, "", own, helpers, expr, step, derived_from, reads, cited
    )


def internal(
    name: str, dtype: pl.DataType, step: Step, *, reads: tuple[str, ...] = (), cited: str = ""
) -> Variable:
    """A helper column a named function adds for a rule to combine (never in the dataset)."""
    if not name.startswith("_"):
        raise RegistryError(f"internal column {name!r} must start with '_'")
    return Variable(name, dtype, step=step, reads=reads, cited=cited)


def group(title: str, *variables: Variable) -> tuple[Variable, ...]:
    """The variables of one section of the data dictionary, in column order."""
    return tuple(replace(v, group=title) if v.public else v for v in variables)


@dataclass(frozen=True)
class Lineage:
    """What a variable is made of, read off its declaration: the CDC sources it reads (its own
    column, or the intermediate columns its rule uses), the dataset variables it is computed
    from, the tables read beyond its sources and their names in the dictionary."""

    sources: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    reads: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()


# --------------------------------------------------------------------------- declarations

c = pl.col
WEEKEND = [1.0, 6.0, 7.0]  # DR1DAY: 1 Sunday … 6 Friday, 7 Saturday
# Ever told of congestive heart failure, coronary heart disease, angina, heart attack, stroke.
CVD_ITEMS = ("_mcq160b", "_mcq160c", "_mcq160d", "_mcq160e", "_mcq160f")
SUPPLEMENT_TOTALS_SOURCE = (
    "mg_supp/ca_supp/vitd_supp and the totals use the 30-day questionnaire in every cycle "
    "(DSQ2 × DSII 2001-2006, DSQTOT 2007+): the only source available in all cycles, so totals "
    "are comparable across 2001-2018; the 24-h DS1TOT/DS2TOT amounts (2007+) are separate "
    "columns (*_supp_d1, *_supp_d2) for recall-day totals."
)
DSQ2_SRC = "DSQ2_B/C/D (DSDSUPID, DSD103, DSD122Q, DSD122U) × DSPI (DSDSUPID→DSDPID, DSDSERVQ, DSDSERVU) × DSII (DSDINGR, DSDQTY, DSDUNIT) × DSBI, 2001-2006"
DSQ2_TABLES = ("DSQ2", "DSPI", "DSII", "DSBI")


def _from_dsq2(column: str, non_user: object, later: pl.Expr | None = None) -> pl.Expr:
    """A per-participant value of the 2001-2006 DSQ2 derivation (``column``) for those who
    reported products, ``non_user`` for those who reported none (DSD010 = 2); from 2007
    ``later`` (null when None: CDC's DSQTOT totals cannot give it)."""
    dsq2 = (
        pl.when(pl.col("ds_products").is_not_null())
        .then(pl.col(column))
        .when(pl.col("supp_user").not_())
        .then(pl.lit(non_user))
    )
    in_dsq2 = pl.when(pl.col("cycle").is_in(list(SUPP_DSQ2_YEARS))).then(dsq2)
    return in_dsq2 if later is None else in_dsq2.otherwise(later)


def _supp_nutrient_user(key: str) -> pl.Expr:
    """Took a product holding the nutrient: 2001-2006 from the DSQ2 derivation (false for
    non-users, DSD010 = 2); 2007+ an amount above 0 in CDC's totals."""
    return _from_dsq2(f"_dsq2_{key}_user", False, pl.col(f"{key}_supp") > 0)


def _antacid_part(key: str) -> pl.Expr:
    """A nutrient's amount from antacids, 2001-2006 (DSQ2 products reported at the antacid
    question; 0 for those who reported none); null from 2007 (DSQTOT combines supplements
    and antacids)."""
    return _from_dsq2(f"_dsq2_{key}_antacid", 0.0)


def _supp_user_excl_antacid(key: str) -> pl.Expr:
    """Took a product holding the nutrient reported as a supplement (not an antacid),
    2001-2006; false for non-users (DSD010 = 2); null from 2007."""
    return _from_dsq2(f"_dsq2_{key}_user_excl_antacid", False)


MORT_SRC = "NHANES_{cycle}_MORT_{release}_PUBLIC.dat"


def _recode(column: str, mapping: dict[float, str], levels: Sequence[str]) -> pl.Expr:
    return rules.recode(c(column), mapping, levels)


def _yes_no_true_false(column: str) -> pl.Expr:
    """1 → true, 2 → false, anything else null (a boolean kept as it was asked)."""
    return pl.when(c(column) == 1).then(True).when(c(column) == 2).then(False)


def _recall(day: int) -> Mapping[str, Source]:
    """The intermediate columns of a recall day's nutrient totals (DRXTOT_B names on day 1)."""
    if day == 1:
        return {
            "_mg_d1": cdc("DR1TOT", {"B": "DRXTMAGN", NOT_B: "DR1TMAGN"}),
            "_ca_d1": cdc("DR1TOT", {"B": "DRXTCALC", NOT_B: "DR1TCALC"}),
            "_kcal_d1": cdc("DR1TOT", {"B": "DRXTKCAL", NOT_B: "DR1TKCAL"}),
            "_vitd_d1": cdc("DR1TOT", "DR1TVD", letters=FROM_E),
            "_alco_d1": cdc("DR1TOT", {"B": "DRXTALCO", NOT_B: "DR1TALCO"}),
        }
    return {
        "_mg_d2": cdc("DR2TOT", "DR2TMAGN", letters=NOT_B),
        "_ca_d2": cdc("DR2TOT", "DR2TCALC", letters=NOT_B),
        "_kcal_d2": cdc("DR2TOT", "DR2TKCAL", letters=NOT_B),
        "_vitd_d2": cdc("DR2TOT", "DR2TVD", letters=FROM_E),
        "_alco_d2": cdc("DR2TOT", "DR2TALCO", letters=NOT_B),
    }


_DAY1, _DAY2 = _recall(1), _recall(2)


def _one(columns: Mapping[str, Source], key: str) -> dict[str, Source]:
    return {key: columns[key]}


_PA_POS = pl.any_horizontal(
    [(c(v) == 1).fill_null(False) for v in ("_pad200", "_pad320", "_paq650", "_paq665")]
)
_PA_NEG = (c("_pad200").is_in([2.0, 3.0]) & c("_pad320").is_in([2.0, 3.0])).fill_null(False) | (
    (c("_paq650") == 2) & (c("_paq665") == 2)
).fill_null(False)
_DM_POS = pl.any_horizontal(
    (c("_diq010") == 1).fill_null(False),
    (c("hba1c") >= 6.5).fill_null(False),
    (c("_diq050") == 1).fill_null(False),
    (c("_diq070") == 1).fill_null(False),
)
_DM_KNOWN = c("_diq010").is_in([1.0, 2.0, 3.0]) | c("hba1c").is_not_null()
_SMOKING = (
    pl.when(c("_smq020") == 2)
    .then(pl.lit("never"))
    .when((c("_smq020") == 1) & c("_smq040").is_in([1.0, 2.0]))
    .then(pl.lit("current"))
    .when((c("_smq020") == 1) & (c("_smq040") == 3))
    .then(pl.lit("former"))
    .cast(_enum(rules.SMOKING_LEVELS))
)


def _supp_user_day(day: int) -> pl.Expr:
    ok, ds = c(f"recall_ok_d{day}"), c(f"_ds{day}ds")
    return pl.when(ok & (ds == 1)).then(True).when(ok & (ds == 2)).then(False)


ENTRIES: tuple[Variable, ...] = (
    *group(
        "Design and weights",
        var("seqn", I64, "", "Respondent sequence number", "Respondent sequence number (unique across cycles).",
            expr=c(KEY), cited="DEMO.SEQN"),
        var("cycle", lambda cycles: _enum(cycles), "", "Survey cycle", 'Survey cycle, e.g. "2005-2006".',
            step=CYCLE_LABEL),
        var("sdmvstra", I64, "", "Pseudo-stratum", "Masked variance pseudo-stratum.",
            source=cdc("DEMO", "SDMVSTRA")),
        var("sdmvpsu", I64, "", "Pseudo-PSU", "Masked variance pseudo-PSU (nested in strata).",
            source=cdc("DEMO", "SDMVPSU")),
        var("wt_int", F64, "", "Interview weight", "Two-year interview weight as published (everyone interviewed, examined or not). Combining k cycles (2001+): divide by k in the design layer.",
            source=cdc("DEMO", "WTINT2YR")),
        var("wt_mec", F64, "", "MEC exam weight", "Two-year MEC exam weight as published (0 for interview-only participants). Combining k cycles (2001+): divide by k in the design layer.",
            source=cdc("DEMO", "WTMEC2YR")),
        var("wt_diet1", F64, "", "Day-1 dietary weight", "Two-year day-1 dietary weight as published (null/0 without a reliable day-1 recall).",
            source=cdc("DR1TOT", "WTDRD1")),
        var("wt_diet2", F64, "", "Two-day dietary weight", "Two-year two-day dietary weight as published (0 without both recalls); none in 2001-2002 (no day 2).",
            source=cdc("DR1TOT", "WTDR2D", letters=NOT_B)),
        var("examined", BOOL, "", "MEC-examined", "Interviewed and MEC-examined (RIDSTATR == 2).",
            columns={"_ridstatr": cdc("DEMO", "RIDSTATR")}, expr=c("_ridstatr") == 2),
    ),
    *group(
        "Demographics",
        var("age", F64, "years", "Age", "Age at screening; top-coded at 85 (2001-2006) and 80 (2007+).",
            source=cdc("DEMO", "RIDAGEYR")),
        var("sex", _enum(rules.SEX_LEVELS), "", "Sex", '1 → "male", 2 → "female".',
            columns={"_riagendr": cdc("DEMO", "RIAGENDR")},
            expr=_recode("_riagendr", {1.0: "male", 2.0: "female"}, rules.SEX_LEVELS)),
        var("race_eth", _enum(rules.RACE_ETH_LEVELS), "", "Race and Hispanic origin", "Harmonized across all cycles from RIDRETH1: 1 mexican_american, 2 other_hispanic, 3 nh_white, 4 nh_black, 5 other (includes non-Hispanic Asian and multiracial).",
            columns={"_ridreth1": cdc("DEMO", "RIDRETH1")},
            expr=_recode("_ridreth1", dict(zip([1.0, 2.0, 3.0, 4.0, 5.0], rules.RACE_ETH_LEVELS, strict=True)), rules.RACE_ETH_LEVELS)),
        var("race_eth6", _enum(rules.RACE_ETH6_LEVELS), "", "Race and Hispanic origin (with non-Hispanic Asian)", 'RIDRETH3, 2011+ only (null before): as race_eth plus 6 → "nh_asian"; 7 → "other".',
            columns={"_ridreth3": cdc("DEMO", "RIDRETH3", letters="GHIJ")},
            expr=_recode("_ridreth3", {1.0: "mexican_american", 2.0: "other_hispanic", 3.0: "nh_white", 4.0: "nh_black", 6.0: "nh_asian", 7.0: "other"}, rules.RACE_ETH6_LEVELS)),
        var("pir", F64, "ratio", "Family income to poverty ratio", "Family income to poverty ratio, 0–5 (5 = 5 or more, a value not a code).",
            source=cdc("DEMO", "INDFMPIR")),
        var("education", _enum(rules.EDUCATION_LEVELS), "", "Education (adults 20+)", 'Adults 20+: 1–2 → "lt_high_school", 3 → "high_school", 4 → "some_college", 5 → "college_grad"; 7/9 → null.',
            columns={"_dmdeduc2": cdc("DEMO", "DMDEDUC2", Q1)},
            expr=_recode("_dmdeduc2", {1.0: "lt_high_school", 2.0: "lt_high_school", 3.0: "high_school", 4.0: "some_college", 5.0: "college_grad"}, rules.EDUCATION_LEVELS)),
        var("pregnant", BOOL, "", "Pregnant at exam", "Pregnancy at exam: 1 → true, 2 → false, 3 (cannot ascertain) → null; null for men, children and out-of-range ages.",
            columns={"_ridexprg": cdc("DEMO", "RIDEXPRG")}, expr=_yes_no_true_false("_ridexprg")),
        var("exam_season", _enum(rules.SEASON_LEVELS), "", "Exam season", '6-month exam period: 1 → "nov_apr", 2 → "may_oct".',
            columns={"_ridexmon": cdc("DEMO", "RIDEXMON")},
            expr=_recode("_ridexmon", {1.0: "nov_apr", 2.0: "may_oct"}, rules.SEASON_LEVELS)),
    ),
    *group(
        "Food intake (24-h recalls)",
        var("recall_ok_d1", BOOL, "", "Reliable day-1 recall", "Day-1 recall reliable and complete (status == 1); false otherwise (incl. breast-fed infants, status 4).",
            columns={"_drstz_d1": cdc("DR1TOT", {"B": "DRDDRSTZ", NOT_B: "DR1DRSTZ"})},
            expr=(c("_drstz_d1") == 1).fill_null(False)),
        var("recall_ok_d2", BOOL, "", "Reliable day-2 recall", "Day-2 recall reliable (DR2DRSTZ == 1); false in 2001-2002 (no day 2).",
            columns={"_drstz_d2": cdc("DR2TOT", "DR2DRSTZ", letters=NOT_B)},
            expr=(c("_drstz_d2") == 1).fill_null(False)),
        var("recall_status_d1", I8, "", "Day-1 recall status", "Day-1 recall status as CDC codes it: 1 reliable, 2 not reliable, 4 breast-fed infant (reliable but breast milk not quantified; such children keep a dietary weight), 5 not done.",
            expr=c("_drstz_d1").cast(pl.Int8)),
        var("recall_status_d2", I8, "", "Day-2 recall status", "As recall_status_d1, day 2 (2003+).",
            expr=c("_drstz_d2").cast(pl.Int8)),
        var("n_recall_days", I8, "days", "Reliable recall days", "Number of reliable recall days (0, 1, 2).",
            expr=c("recall_ok_d1").cast(pl.Int8) + c("recall_ok_d2").cast(pl.Int8)),
        var("recall_dow_d1", I8, "1–7", "Day-1 recall day of the week", "Day of the week of the day-1 recall intake day, CDC coding 1 = Sunday … 7 = Saturday.",
            columns={"_dow_d1": cdc("DR1TOT", {"B": "DRDDAY", NOT_B: "DR1DAY"})},
            expr=c("_dow_d1").cast(pl.Int8)),
        var("recall_dow_d2", I8, "1–7", "Day-2 recall day of the week", "As recall_dow_d1, day 2.",
            columns={"_dow_d2": cdc("DR2TOT", "DR2DAY", letters=NOT_B)},
            expr=c("_dow_d2").cast(pl.Int8)),
        var("weekend_d1", BOOL, "", "Day-1 recall on a weekend", "Day-1 intake day is Friday, Saturday or Sunday (dow 6, 7, 1).",
            expr=c("_dow_d1").is_in(WEEKEND)),
        var("weekend_d2", BOOL, "", "Day-2 recall on a weekend", "As weekend_d1, day 2.",
            expr=c("_dow_d2").is_in(WEEKEND)),
        var("mg_food_d1", F64, "mg/day", "Magnesium from food, day 1", "Magnesium from foods and beverages, day 1; null unless recall_ok_d1.",
            columns=_one(_DAY1, "_mg_d1"), expr=rules.recall_day("_mg_d1", 1)),
        var("ca_food_d1", F64, "mg/day", "Calcium from food, day 1", "Calcium from foods and beverages, day 1; null unless recall_ok_d1.",
            columns=_one(_DAY1, "_ca_d1"), expr=rules.recall_day("_ca_d1", 1)),
        var("kcal_d1", F64, "kcal/day", "Energy, day 1", "Energy, day 1; null unless recall_ok_d1.",
            columns=_one(_DAY1, "_kcal_d1"), expr=rules.recall_day("_kcal_d1", 1)),
        var("vitd_food_d1", F64, "µg/day", "Vitamin D from food, day 1", "Vitamin D (D2 + D3) from foods, day 1; 2007+ only (not in the food files before).",
            columns=_one(_DAY1, "_vitd_d1"), expr=rules.recall_day("_vitd_d1", 1)),
        var("alcohol_g_d1", F64, "g/day", "Alcohol, day 1", "Alcohol from the day-1 recall; null unless recall_ok_d1.",
            columns=_one(_DAY1, "_alco_d1"), expr=rules.recall_day("_alco_d1", 1)),
        var("mg_food_d2", F64, "mg/day", "Magnesium from food, day 2", "As mg_food_d1, day 2 (2003+).",
            columns=_one(_DAY2, "_mg_d2"), expr=rules.recall_day("_mg_d2", 2)),
        var("ca_food_d2", F64, "mg/day", "Calcium from food, day 2", "As ca_food_d1, day 2 (2003+).",
            columns=_one(_DAY2, "_ca_d2"), expr=rules.recall_day("_ca_d2", 2)),
        var("kcal_d2", F64, "kcal/day", "Energy, day 2", "As kcal_d1, day 2 (2003+).",
            columns=_one(_DAY2, "_kcal_d2"), expr=rules.recall_day("_kcal_d2", 2)),
        var("vitd_food_d2", F64, "µg/day", "Vitamin D from food, day 2", "As vitd_food_d1, day 2 (2007+).",
            columns=_one(_DAY2, "_vitd_d2"), expr=rules.recall_day("_vitd_d2", 2)),
        var("alcohol_g_d2", F64, "g/day", "Alcohol, day 2", "As alcohol_g_d1, day 2.",
            columns=_one(_DAY2, "_alco_d2"), expr=rules.recall_day("_alco_d2", 2)),
        var("mg_food", F64, "mg/day", "Magnesium from food", "Mean of the reliable recall days (both when both are reliable, else the one that is). Strict two-day analyses: n_recall_days == 2 with wt_diet2.",
            expr=rules.day_mean("mg_food_d1", "mg_food_d2")),
        var("ca_food", F64, "mg/day", "Calcium from food", "As mg_food, calcium.",
            expr=rules.day_mean("ca_food_d1", "ca_food_d2")),
        var("kcal", F64, "kcal/day", "Energy", "As mg_food, energy.",
            expr=rules.day_mean("kcal_d1", "kcal_d2")),
        var("vitd_food", F64, "µg/day", "Vitamin D from food", "As mg_food, vitamin D from foods (2007+).",
            expr=rules.day_mean("vitd_food_d1", "vitd_food_d2")),
        var("alcohol_g", F64, "g/day", "Alcohol", "As mg_food, alcohol.",
            expr=rules.day_mean("alcohol_g_d1", "alcohol_g_d2")),
        var("mg_food_eadj", F64, "mg/day", "Magnesium from food, energy-adjusted", "Energy-adjusted mg_food (residual method): mg_food − β·(kcal − mean kcal), β the unweighted OLS slope of mg_food on kcal among adults ≥ 18 with both values, pooled over the cycles built (so it depends on them); null for children.",
            step=ENERGY_ADJUSTMENT, derived_from=("mg_food", "kcal", "age")),
        var("ca_food_eadj", F64, "mg/day", "Calcium from food, energy-adjusted", "As mg_food_eadj, calcium.",
            step=ENERGY_ADJUSTMENT, derived_from=("ca_food", "kcal", "age")),
    ),
    *group(
        "Supplements",
        var("supp_user", BOOL, "", "Supplement use, past 30 days", "Any dietary supplement in the past 30 days (DSD010: 1 → true, 2 → false, 7/9 → null).",
            columns={"_dsd010": (cdc("DSQ1", "DSD010", Q1, letters="BCD"), cdc("DSQTOT", "DSD010", Q1, letters=FROM_E))},
            expr=_yes_no_true_false("_dsd010")),
        internal("_dsq2_mg", F64, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        internal("_dsq2_ca", F64, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        internal("_dsq2_vitd", F64, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        internal("_dsq2_quality", supplements.SUPP_QUALITY, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        internal("_dsq2_mg_user", BOOL, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        internal("_dsq2_ca_user", BOOL, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        *(internal(f"_dsq2_{k}_{what}", dtype, SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC)
          for k in supplements.ANTACID_KEYS
          for what, dtype in (("antacid", F64), ("user_excl_antacid", BOOL))),
        var("mg_supp", F64, "mg/day", "Magnesium from supplements and antacids", "Magnesium from supplements and antacids, 30-day average. 2001-2006: Σ over DSQ2 products of DSD103 × DSD122Q (converted to the label's serving unit) × (DSII amount of elemental Mg per serving, compounds such as antacids' magnesium hydroxide converted with NCHS's fractions) ÷ DSPI serving quantity ÷ 30 (module nhanes_mg.derive.supplements); 0 for non-users; null when a Mg product's days, quantity or unit cannot be known or its daily servings exceed 10 (see supp_quality). 2007+: DSQTMAGN, 0 for respondents with no Mg product, null when DSD010 is missing.",
            columns={"_dsd010an": (cdc("DSQ1", "DSD010AN", Q1, letters="CD"), cdc("DSQTOT", "DSD010AN", Q1, letters=FROM_E)),
                     "_dsq_mg": cdc("DSQTOT", "DSQTMAGN", letters=FROM_E)},
            expr=rules.supplement_30day("mg", SUPP_DSQ2_YEARS)),
        var("ca_supp", F64, "mg/day", "Calcium from supplements and antacids", "As mg_supp, calcium (DSII ingredient CALCIUM in mg; DSQTCALC).",
            columns={"_dsq_ca": cdc("DSQTOT", "DSQTCALC", letters=FROM_E)},
            expr=rules.supplement_30day("ca", SUPP_DSQ2_YEARS)),
        var("vitd_supp", F64, "µg/day", "Vitamin D from supplements", "As mg_supp, vitamin D (DSII ingredient VITAMIN D in IU ÷ 40; DSQTVD).",
            columns={"_dsq_vitd": cdc("DSQTOT", "DSQTVD", letters=FROM_E)},
            expr=rules.supplement_30day("vitd", SUPP_DSQ2_YEARS)),
        var("ds_products", pl.UInt32(), "count", "Supplement products reported", "2001-2006: number of DSQ2 product rows (supplements and antacids) of the participant.",
            step=SUPPLEMENTS_DSQ2, reads=("DSQ2",), cited="DSQ2"),
        var("ds_unmatched_products", I64, "count", "Supplement products not in DSPI", "2001-2006: DSQ2 products not found in DSPI (composition unknown, counted as contributing nothing).",
            step=SUPPLEMENTS_DSQ2, reads=("DSQ2", "DSPI"), cited="DSQ2 × DSPI"),
        var("ds_unquantified_products", I64, "count", "Supplement products with an unknown amount", "2001-2006: DSQ2 products holding Mg, Ca or vitamin D without a usable amount (only in a blend, unit unknown, or a compound without a published elemental fraction): counted as contributing nothing.",
            step=SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        var("ds_implausible_products", I64, "count", "Supplement products above 10 servings a day", "2001-2006: DSQ2 products taken at more than 10 label servings a day (our limit; NCHS has none): their amounts are null.",
            step=SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        var("ds_unreconciled_products", I64, "count", "Supplement products in an unconvertible unit", "2001-2006: DSQ2 products whose reported unit (DSD122U) cannot be converted to the label's serving unit (DSDSERVU): their amounts are null.",
            step=SUPPLEMENTS_DSQ2, reads=DSQ2_TABLES, cited=DSQ2_SRC),
        var("supp_quality", supplements.SUPP_QUALITY, "", "Quality of the 2001-2006 supplement amounts", "2001-2006: the most severe issue among the participant's products (complete < ingredient_unquantified < product_unmatched: amounts are lower bounds; quantity_implausible < unit_unreconciled < usage_unknown: amounts are null); complete for non-users (DSD010 = 2); null from 2007 (CDC's DSQTOT totals) and when DSD010 is unknown.",
            expr=pl.when(pl.col("cycle").is_in(list(SUPP_DSQ2_YEARS))).then(
                pl.when(pl.col("ds_products").is_not_null()).then(pl.col("_dsq2_quality"))
                .when(pl.col("supp_user").not_()).then(pl.lit("complete", supplements.SUPP_QUALITY))
            ).cast(supplements.SUPP_QUALITY)),
        var("vitd_supp_extreme", BOOL, "", "Vitamin D from supplements above 250 µg/day", f"vitd_supp above {supplements.VITD_SUPP_EXTREME_UG:g} µg/day (10,000 IU; the IOM 2011 no-observed-adverse-effect level) as a 30-day average: likely a weekly or monthly dose reported as daily. Kept in vitd_supp, flagged so that an analysis can leave it out (population = \"NOT vitd_supp_extreme\"); the build summary shows what it does to the mean. Null when vitd_supp is.",
            expr=pl.col("vitd_supp") > supplements.VITD_SUPP_EXTREME_UG),
        var("antacid_user", BOOL, "", "Antacid use, past 30 days", "Took an antacid in the past 30 days (DSD010AN: 1 → true, 2 → false, 7/9 → null); 2003+ (2001-2002 did not ask it: null).",
            expr=_yes_no_true_false("_dsd010an")),
        var("mg_antacid", F64, "mg/day", "Magnesium from antacids", "The part of mg_supp from products reported at the antacid question (DSQ2 DSDANTA = 2), 30-day average, same rules; 0 for those who took none. 2001-2006 only: from 2007 CDC's DSQTOT totals combine supplements and antacids and the product file (DSQIDS) is not fetched, so null.",
            expr=_antacid_part("mg")),
        var("ca_antacid", F64, "mg/day", "Calcium from antacids", "As mg_antacid, calcium (Tums, Rolaids: calcium carbonate converted to elemental calcium).",
            expr=_antacid_part("ca")),
        var("mg_supp_user_excl_antacid", BOOL, "", "Took a supplement (not an antacid) with magnesium", "Took a product holding magnesium that was reported as a dietary supplement, not at the antacid question (DSQ2 DSDANTA ≠ 2). 2001-2006 only (null from 2007, as mg_antacid).",
            expr=_supp_user_excl_antacid("mg")),
        var("ca_supp_user_excl_antacid", BOOL, "", "Took a supplement (not an antacid) with calcium", "As mg_supp_user_excl_antacid, calcium: the definition of a calcium-supplement user that leaves antacids out.",
            expr=_supp_user_excl_antacid("ca")),
        var("mg_supp_user", BOOL, "", "Took a supplement or antacid with magnesium", "Took a product holding magnesium in the past 30 days, a dietary supplement or an antacid (its amount may be unknown; mg_supp_user_excl_antacid leaves antacids out). 2001-2006: from DSQ2 × DSII, false for non-users (DSD010 = 2); 2007+: mg_supp > 0.",
            expr=_supp_nutrient_user("mg")),
        var("ca_supp_user", BOOL, "", "Took a supplement or antacid with calcium", "As mg_supp_user, calcium (2007+: ca_supp > 0); antacids count (Tums), also for people who answered no to the supplement question.",
            expr=_supp_nutrient_user("ca")),
        var("supp_user_d1", BOOL, "", "Supplement use, recall day 1", "Any supplement on recall day 1 (DS1DS), 2007+; null without a reliable day-1 recall.",
            columns={"_ds1ds": cdc("DS1TOT", "DS1DS", Q1, letters=FROM_E)}, expr=_supp_user_day(1)),
        var("supp_user_d2", BOOL, "", "Supplement use, recall day 2", "As supp_user_d1, day 2 (DS2DS).",
            columns={"_ds2ds": cdc("DS2TOT", "DS2DS", Q1, letters=FROM_E)}, expr=_supp_user_day(2)),
        var("mg_supp_d1", F64, "mg/day", "Magnesium from supplements, day 1", "Magnesium from supplements on recall day 1 (24 h), 2007+; 0 for non-users; null unless recall_ok_d1.",
            columns={"_ds1_mg": cdc("DS1TOT", "DS1TMAGN", letters=FROM_E)}, expr=rules.supplement_24h("mg", 1)),
        var("ca_supp_d1", F64, "mg/day", "Calcium from supplements, day 1", "As mg_supp_d1, calcium.",
            columns={"_ds1_ca": cdc("DS1TOT", "DS1TCALC", letters=FROM_E)}, expr=rules.supplement_24h("ca", 1)),
        var("vitd_supp_d1", F64, "µg/day", "Vitamin D from supplements, day 1", "As mg_supp_d1, vitamin D.",
            columns={"_ds1_vitd": cdc("DS1TOT", "DS1TVD", letters=FROM_E)}, expr=rules.supplement_24h("vitd", 1)),
        var("mg_supp_d2", F64, "mg/day", "Magnesium from supplements, day 2", "As mg_supp_d1, day 2.",
            columns={"_ds2_mg": cdc("DS2TOT", "DS2TMAGN", letters=FROM_E)}, expr=rules.supplement_24h("mg", 2)),
        var("ca_supp_d2", F64, "mg/day", "Calcium from supplements, day 2", "As ca_supp_d1, day 2.",
            columns={"_ds2_ca": cdc("DS2TOT", "DS2TCALC", letters=FROM_E)}, expr=rules.supplement_24h("ca", 2)),
        var("vitd_supp_d2", F64, "µg/day", "Vitamin D from supplements, day 2", "As vitd_supp_d1, day 2.",
            columns={"_ds2_vitd": cdc("DS2TOT", "DS2TVD", letters=FROM_E)}, expr=rules.supplement_24h("vitd", 2)),
    ),
    *group(
        "Totals and ratios",
        var("mg_total", F64, "mg/day", "Total magnesium intake", "mg_food + mg_supp (30-day supplement average; null if either is null). " + SUPPLEMENT_TOTALS_SOURCE,
            expr=rules.add_nullable("mg_food", "mg_supp")),
        var("ca_total", F64, "mg/day", "Total calcium intake", "ca_food + ca_supp (as mg_total).",
            expr=rules.add_nullable("ca_food", "ca_supp")),
        var("vitd_total", F64, "µg/day", "Total vitamin D intake", "vitd_food + vitd_supp; 2007+ only (no food vitamin D before).",
            expr=rules.add_nullable("vitd_food", "vitd_supp")),
        var("mg_total_d1", F64, "mg/day", "Total magnesium intake, day 1", "mg_food_d1 + mg_supp_d1 (24-h supplements, 2007+).",
            expr=rules.add_nullable("mg_food_d1", "mg_supp_d1")),
        var("ca_total_d1", F64, "mg/day", "Total calcium intake, day 1", "ca_food_d1 + ca_supp_d1 (2007+).",
            expr=rules.add_nullable("ca_food_d1", "ca_supp_d1")),
        var("mg_total_d2", F64, "mg/day", "Total magnesium intake, day 2", "mg_food_d2 + mg_supp_d2 (2007+).",
            expr=rules.add_nullable("mg_food_d2", "mg_supp_d2")),
        var("ca_total_d2", F64, "mg/day", "Total calcium intake, day 2", "ca_food_d2 + ca_supp_d2 (2007+).",
            expr=rules.add_nullable("ca_food_d2", "ca_supp_d2")),
        var("ca_mg_ratio_food", F64, "ratio", "Ca:Mg intake ratio, food", "ca_food / mg_food (individual ratio; null when mg_food is null or 0).",
            expr=rules.ratio("ca_food", "mg_food")),
        var("ca_mg_ratio_total", F64, "ratio", "Ca:Mg intake ratio, total", "ca_total / mg_total (as ca_mg_ratio_food).",
            expr=rules.ratio("ca_total", "mg_total")),
    ),
    *group(
        "Adequacy",
        var("mg_ear", F64, "mg/day", "Magnesium EAR", "Magnesium EAR for age and sex (IOM 1997): 1–3 65, 4–8 110, 9–13 200, boys 14–18 340, girls 300, men 19–30 330, women 255, men 31+ 350, women 265; null under 1 year; non-pregnant values for everyone.",
            expr=rules.mg_ear()),
        var("mg_rda", F64, "mg/day", "Magnesium RDA", "Magnesium RDA (IOM 1997): 80, 130, 240, 410/360, 400/310, 420/320 (same groups as mg_ear).",
            expr=rules.mg_rda()),
        var("ca_ear", F64, "mg/day", "Calcium EAR", "Calcium EAR (IOM 2011): 1–3 500, 4–8 800, 9–18 1100, 19–50 800, men 51–70 800, women 51+ and men 71+ 1000.",
            expr=rules.ca_ear()),
        var("ca_rda", F64, "mg/day", "Calcium RDA", "Calcium RDA (IOM 2011): 700, 1000, 1300, 1000, 1000, 1200 (same groups as ca_ear).",
            expr=rules.ca_rda()),
        var("mg_food_below_ear", BOOL, "", "Magnesium from food below the EAR", "mg_food < mg_ear (from 1–2 recall days, not usual intake: overstates the share below the EAR).",
            expr=rules.below("mg_food", "mg_ear")),
        var("mg_food_below_rda", BOOL, "", "Magnesium from food below the RDA", "mg_food < mg_rda.",
            expr=rules.below("mg_food", "mg_rda")),
        var("mg_total_below_ear", BOOL, "", "Total magnesium below the EAR", "mg_total < mg_ear.",
            expr=rules.below("mg_total", "mg_ear")),
        var("mg_total_below_rda", BOOL, "", "Total magnesium below the RDA", "mg_total < mg_rda.",
            expr=rules.below("mg_total", "mg_rda")),
        var("ca_food_below_ear", BOOL, "", "Calcium from food below the EAR", "ca_food < ca_ear.",
            expr=rules.below("ca_food", "ca_ear")),
        var("ca_food_below_rda", BOOL, "", "Calcium from food below the RDA", "ca_food < ca_rda.",
            expr=rules.below("ca_food", "ca_rda")),
        var("ca_total_below_ear", BOOL, "", "Total calcium below the EAR", "ca_total < ca_ear.",
            expr=rules.below("ca_total", "ca_ear")),
        var("ca_total_below_rda", BOOL, "", "Total calcium below the RDA", "ca_total < ca_rda.",
            expr=rules.below("ca_total", "ca_rda")),
    ),
    *group(
        "Vitamin D status",
        var("vitd_25oh_nmol", F64, "nmol/L", "Serum 25(OH)D", "Serum 25(OH)D, LC-MS/MS-equivalent values (CDC's recommended series for all cycles).",
            source=cdc("VID", {"BCD": "LBDVIDMS", FROM_E: "LBXVIDMS"})),
        var("vitd_25oh_ngml", F64, "ng/mL", "Serum 25(OH)D (ng/mL)", "vitd_25oh_nmol / 2.496.",
            expr=c("vitd_25oh_nmol") / rules.NMOL_PER_NGML),
        var("vitd_status", _enum(rules.VITD_STATUS_LEVELS), "", "Vitamin D status", 'Default cut points: < 30 "deficient", 30–< 50 "insufficient", ≥ 50 nmol/L "sufficient" (configurable: build_analytic(vitd_cutpoints=…); the build metadata records the ones used).',
            expr=lambda options: rules.vitd_status("vitd_25oh_nmol", options.vitd_cutpoints)),
    ),
    *group(
        "Covariates",
        var("bmi", F64, "kg/m²", "Body mass index", "Body mass index.", source=cdc("BMX", "BMXBMI")),
        var("smoking", _enum(rules.SMOKING_LEVELS), "", "Smoking status", 'SMQ020 == 2 → "never"; SMQ020 == 1 and SMQ040 1/2 (every/some days) → "current"; SMQ020 == 1 and SMQ040 == 3 → "former"; 7/9 → null (adults 18+; 20+ in 2001-2002).',
            columns={"_smq020": cdc("SMQ", "SMQ020", Q1), "_smq040": cdc("SMQ", "SMQ040", Q1)},
            expr=_SMOKING),
        var("alq_drinks_per_day", F64, "drinks/day", "Drinks per drinking day", "Average drinks on drinking days, past 12 months (ALQ130); 77/99 (2001-2004) and 777/999 (2005+) → null.",
            source=cdc("ALQ", "ALQ130", {"BC": (77.0, 99.0), "DEFGHIJ": (777.0, 999.0)})),
        var("phys_active", BOOL, "", "Leisure-time physical activity", "Any leisure-time activity. 2001-2006: vigorous (PAD200) or moderate (PAD320) activity in past 30 days == 1 → true; both 2/3 → false. 2007+ (GPAQ): vigorous (PAQ650) or moderate (PAQ665) recreational activity == 1 → true; both 2 → false. The questionnaires differ: compare within the 2001-2006 and 2007+ blocks.",
            columns={"_pad200": cdc("PAQ", "PAD200", Q1, letters="BCD"), "_pad320": cdc("PAQ", "PAD320", Q1, letters="BCD"),
                     "_paq650": cdc("PAQ", "PAQ650", Q1, letters=FROM_E), "_paq665": cdc("PAQ", "PAQ665", Q1, letters=FROM_E)},
            expr=pl.when(_PA_POS).then(True).when(_PA_NEG).then(False)),
        var("diabetes", BOOL, "", "Diabetes", "True if doctor-diagnosed (DIQ010 == 1), HbA1c ≥ 6.5 %, insulin now (DIQ050 == 1) or diabetic pills now (DIQ070/DID070 == 1); false when none holds and DIQ010 (1–3) or HbA1c is known; borderline (DIQ010 == 3) counts as no.",
            columns={"_diq010": cdc("DIQ", "DIQ010", Q1), "_diq050": cdc("DIQ", "DIQ050", Q1),
                     "_diq070": cdc("DIQ", {"BC": "DIQ070", "DE": "DID070", "FGHIJ": "DIQ070"}, Q1)},
            expr=pl.when(_DM_POS).then(True).when(_DM_KNOWN).then(False)),
        var("diabetes_diagnosed", BOOL, "", "Diagnosed diabetes", "Knows they have diabetes: doctor told (DIQ010 == 1) → true; no or borderline (DIQ010 2/3) → false; 7/9 → null. Self-report only (unlike diabetes: no HbA1c, no medication), for sensitivity analyses excluding people who may have changed their diet after diagnosis. Asked from age 1; null under 1.",
            expr=rules.yes_no("_diq010", no=(2.0, 3.0))),  # 3 borderline → no
        var("cvd_history", BOOL, "", "History of cardiovascular disease", "Ever told by a doctor of congestive heart failure (MCQ160B), coronary heart disease (MCQ160C), angina (MCQ160D), heart attack (MCQ160E) or stroke (MCQ160F): any == 1 → true; all five answered 1/2 with none == 1 → false; otherwise null (7/9 or unanswered items and no yes). Asked of adults 20+; null for younger participants.",
            columns={item: cdc("MCQ", item[1:].upper(), Q1) for item in CVD_ITEMS},
            expr=rules.any_yes(CVD_ITEMS)),
        var("cancer_history", BOOL, "", "History of cancer", "Ever told by a doctor of cancer or a malignancy of any kind (MCQ220): 1 → true, 2 → false, 7/9 → null. Asked of adults 20+; null for younger participants.",
            columns={"_mcq220": cdc("MCQ", "MCQ220", Q1)}, expr=rules.yes_no("_mcq220")),
        var("hba1c", F64, "%", "HbA1c", "Glycohemoglobin.", source=cdc("GHB", "LBXGH")),
        var("egfr", F64, "mL/min/1.73 m²", "eGFR (CKD-EPI 2021)", "CKD-EPI 2021 (race-free) creatinine equation, adults ≥ 18; serum creatinine of 2005-2006 recalibrated by CDC's equation −0.016 + 0.978·Scr, other cycles as published (2007+ IDMS-traceable).",
            columns={"_scr": cdc("BIOPRO", {"B": "LBDSCR", NOT_B: "LBXSCR"})},
            expr=rules.egfr_ckd_epi_2021(rules.recalibrated_creatinine("_scr"))),
        var("ckd", BOOL, "", "Chronic kidney disease (eGFR < 60)", "egfr < 60 (no albuminuria criterion: urine albumin is not among the fetched tables).",
            expr=c("egfr") < 60),
        var("ca_serum", F64, "mg/dL", "Serum calcium", "Total serum calcium (standard biochemistry).",
            source=cdc("BIOPRO", "LBXSCA")),
        var("pth", F64, "pg/mL", "Parathyroid hormone", "Intact parathyroid hormone, 2005-2006 only.",
            source=cdc("PTH", "LBXPT21", letters="D")),
    ),
    *group(
        "Mortality",
        internal("_mort_file", BOOL, LINKED_MORTALITY, cited=MORT_SRC),
        internal("_mort_eligible", BOOL, LINKED_MORTALITY, cited=MORT_SRC),
        var("mort_eligible", BOOL, "", "Eligible for mortality linkage", "ELIGSTAT == 1 (adults eligible for linkage); false for other participants of a cycle with a linked file; null when no file for the cycle is present.",
            expr=pl.when(c("_mort_file")).then(c("_mort_eligible").fill_null(False))),
        var("mort_status", I8, "", "Vital status", "MORTSTAT among eligible: 0 assumed alive, 1 assumed deceased.",
            step=LINKED_MORTALITY, cited=MORT_SRC),
        var("mort_cause", _enum(rules.MORT_CAUSE_LEVELS), "", "Underlying cause of death", 'Deceased only: UCOD_LEADING 001/005 → "cvd", 002 → "cancer", other codes → "other" (colorectal cancer is not separable in the public files); null for the rare death the public file gives no cause for.',
            step=LINKED_MORTALITY, cited=MORT_SRC),
        var("mort_ucod_leading", pl.String(), "", "Leading underlying cause of death (UCOD_LEADING)", 'UCOD_LEADING as published ("001" … "010"), deceased only.',
            step=LINKED_MORTALITY, cited=MORT_SRC),
        var("followup_months_exam", F64, "months", "Follow-up from exam", "PERMTH_EXM: months from the MEC exam to death or end of follow-up.",
            step=LINKED_MORTALITY, cited=MORT_SRC),
        var("followup_months_int", F64, "months", "Follow-up from interview", "PERMTH_INT: months from the interview.",
            step=LINKED_MORTALITY, cited=MORT_SRC),
        var("mortality_release", pl.Int16(), "year", "Linked-mortality release", "Release of the linked file used (2019 preferred, else 2015, else 2011); null when none is present.",
            step=LINKED_MORTALITY, cited=MORT_SRC),
    ),
)  # fmt: skip


# ------------------------------------------------------------------------------- registry


@dataclass(frozen=True, eq=False)
class Registry:
    """The declarations and what follows from them; checked on construction."""

    entries: tuple[Variable, ...]
    _by_name: dict[str, Variable] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name: dict[str, Variable] = {}
        for entry in self.entries:
            for name in dict.fromkeys((entry.name, *(s.name for s in entry.columns))):
                if name in by_name or name == KEY:
                    raise RegistryError(f"{name!r} is declared twice")
                by_name[name] = entry
            kinds = [bool(entry.source), entry.expr is not None, entry.step is not None]
            if sum(kinds) != 1:
                raise RegistryError(f"{entry.name}: give exactly one of source=, expr=, step=")
            if entry.public and not (entry.label and entry.rule and entry.group):
                raise RegistryError(f"{entry.name}: a dataset variable needs label, rule, group")
            for source in (*entry.source, *entry.columns):
                catalog.has_component(source.component, catalog.CYCLES[0])  # known component
                if not set(source.letters) <= {cy.letter for cy in catalog.CYCLES}:
                    raise RegistryError(f"{source.name}: unknown cycle letters {source.letters}")
        object.__setattr__(self, "_by_name", by_name)
        # computing the lineage and the stages checks every name a rule uses, and for cycles
        _ = self.lineage, self.stages

    def extended(self, *entries: Variable) -> Registry:
        """This registry with more variables (appended to the dataset's columns)."""
        return Registry(self.entries + entries)

    # ---------------------------------------------------------------------- the dataset

    @cached_property
    def variables(self) -> tuple[Variable, ...]:
        """The dataset's columns, in order."""
        return tuple(v for v in self.entries if v.public)

    def get(self, name: str) -> Variable:
        """The declaration of a dataset column (KeyError naming the known ones)."""
        entry = self._by_name.get(name)
        if entry is None or entry.name != name or not entry.public:
            raise KeyError(f"{name!r} is not a variable of the analytic dataset")
        return entry

    def column_order(self) -> list[str]:
        return [v.name for v in self.variables]

    def schema(self, cycles: Iterable[str] | None = None) -> dict[str, pl.DataType]:
        """Column → polars dtype of the dataset (``cycle`` an Enum of ``cycles``, by default
        2001-2002 … 2017-2018)."""
        years = _years(cycles)
        return {v.name: v.dtype_for(years) for v in self.variables}

    def labels(self) -> dict[str, str]:
        return {v.name: v.label for v in self.variables}

    def units(self) -> dict[str, str]:
        return {v.name: v.unit for v in self.variables}

    def level_labels(self) -> dict[str, dict[str, str]]:
        return {
            v.name: LEVEL_LABELS[tuple(v.dtype.categories.to_list())]
            for v in self.variables
            if isinstance(v.dtype, pl.Enum) and v.name != "cycle"
        }

    # ------------------------------------------------------------------------- sources

    @cached_property
    def sources(self) -> tuple[Source, ...]:
        """Every CDC source (a variable's own column and the intermediate ones), named."""
        return tuple(s for v in self.entries for s in (*v.source, *v.columns))

    def sources_of(self, component: str) -> tuple[Source, ...]:
        return tuple(s for s in self.sources if s.component == component)

    @cached_property
    def components(self) -> tuple[str, ...]:
        """The table components the build reads, in the order they are joined onto DEMO."""
        read = [s.component for s in self.sources]
        read += [t for v in self.entries for t in v.reads if t not in catalog.INGREDIENT_TABLES]
        return tuple(dict.fromkeys(["DEMO", *read]))

    # ------------------------------------------------------------------------- lineage

    @cached_property
    def lineage(self) -> dict[str, Lineage]:
        """Of every dataset variable: sources read, derived variables used, extra tables."""
        source_names = {s.name for s in self.sources}
        out: dict[str, Lineage] = {}

        def direct(entry: Variable, seen: tuple[str, ...]) -> Lineage:
            if entry.name in seen:
                raise RegistryError(f"{' → '.join((*seen, entry.name))}: a rule uses itself")
            if entry.source:
                return Lineage((entry.name,), (), entry.reads, _texts(entry.cited))
            roots = entry.derived_from
            expr = entry.expression()
            if expr is not None:
                roots = tuple(dict.fromkeys(expr.meta.root_names()))
            sources: list[str] = []
            parents: list[str] = []
            reads, cited = list(entry.reads), list(_texts(entry.cited))
            for root in roots:
                used = self._by_name.get(root)
                if root == KEY:
                    continue
                if used is not None and used.name == root and used.public:
                    parents.append(root)  # a dataset variable, published or computed
                elif root in source_names:
                    sources.append(root)  # an intermediate CDC column
                elif used is None:
                    raise RegistryError(f"{entry.name}: unknown column {root!r}")
                else:  # a helper column of a named function
                    inner = direct(used, (*seen, entry.name))
                    sources += inner.sources
                    parents += inner.derived_from
                    reads += inner.reads
                    cited += inner.cited
            sources = sorted(set(sources), key=order.index)  # as declared
            return Lineage(*(tuple(dict.fromkeys(x)) for x in (sources, parents, reads, cited)))

        order = list(dict.fromkeys(s.name for s in self.sources))
        for entry in self.variables:
            out[entry.name] = direct(entry, ())
        return out

    @cached_property
    def derived_from(self) -> dict[str, tuple[str, ...]]:
        """Variable → the dataset variables it is computed from (where there are any)."""
        return {k: v.derived_from for k, v in self.lineage.items() if v.derived_from}

    @cached_property
    def extra_components(self) -> dict[str, tuple[str, ...]]:
        """Variable → tables read beyond its sources (DSQ2, DSPI, DSII)."""
        return {k: v.reads for k, v in self.lineage.items() if v.reads}

    # ------------------------------------------------------------------------ the build

    @cached_property
    def stages(self) -> tuple[tuple[Variable, ...], ...]:
        """The expressions in the order the build computes them: each stage only uses
        columns read, made by a cycle step or computed in an earlier stage."""
        level: dict[str, int] = {}
        exprs = {v.name: v for v in self.entries if v.expr is not None}
        after_frame = {v.name for v in self.entries if isinstance(v.step, FrameStep)}

        def depth(name: str, seen: tuple[str, ...]) -> int:
            if name in level:
                return level[name]
            if name in seen:
                raise RegistryError(f"{' → '.join((*seen, name))}: a rule uses itself")
            expr = exprs[name].expression()
            assert expr is not None
            roots = set(expr.meta.root_names()) - {name}
            late = sorted(roots & after_frame)
            if late:
                raise RegistryError(f"{name} uses {late}, made after every expression")
            deps = [depth(r, (*seen, name)) for r in roots if r in exprs]
            level[name] = 1 + max(deps, default=0)
            return level[name]

        for name in exprs:
            depth(name, ())
        top = max(level.values(), default=0)
        return tuple(
            tuple(v for v in exprs.values() if level[v.name] == k) for k in range(1, top + 1)
        )

    @cached_property
    def cycle_steps(self) -> tuple[CycleStep, ...]:
        steps = [v.step for v in self.entries if isinstance(v.step, CycleStep)]
        return tuple(dict.fromkeys(steps))

    @cached_property
    def frame_steps(self) -> tuple[FrameStep, ...]:
        steps = [v.step for v in self.entries if isinstance(v.step, FrameStep)]
        return tuple(dict.fromkeys(steps))


def _texts(text: str) -> tuple[str, ...]:
    return (text,) if text else ()


def _years(cycles: Iterable[str] | None) -> list[str]:
    if cycles is None:
        return [cy.years for cy in catalog.parse_cycles(None)]
    return [catalog.get_cycle(cy).years for cy in cycles]


REGISTRY = Registry(ENTRIES)

# What other modules read (nhanes_mg.derive.lineage, nhanes_mg.study.weights through it, the dictionary).
SOURCES: tuple[Source, ...] = REGISTRY.sources
COMPONENTS: tuple[str, ...] = REGISTRY.components
# Fetched by default although no variable of the analytic dataset reads them: a
# specification's own variables may.
FETCHED_UNREAD: tuple[str, ...] = ("BPQ", "KIQ_U")


def fetched_components() -> tuple[str, ...]:
    """The components ``fetch`` gets by default, in catalog order: the ones the analytic
    dataset is built from and :data:`FETCHED_UNREAD`. The data stage fetches what it is
    asked; this is what the study asks.

    >>> fetched_components()[:4]
    ('DEMO', 'VID', 'BMX', 'SMQ')
    """
    wanted = {*REGISTRY.components, *FETCHED_UNREAD}  # at call time: a test may extend it
    return tuple(c for c in catalog.KNOWN_COMPONENTS if c in wanted)


DERIVED_FROM: dict[str, tuple[str, ...]] = REGISTRY.derived_from
EXTRA_COMPONENTS: dict[str, tuple[str, ...]] = REGISTRY.extra_components


def schema(cycles: Iterable[str] | None = None) -> dict[str, pl.DataType]:
    """The analytic dataset's columns and polars dtypes, in order, before any data is read.

    ``cycle`` is an Enum of the cycles built (``cycles``; default 2001-2002 … 2017-2018); the
    other categorical columns are Enums of fixed levels. No helper (``_``) column is listed.

    >>> s = schema(["2005-2006", "2007-2008"])
    >>> s["cycle"], s["age"], s["diabetes"]
    (Enum(categories=['2005-2006', '2007-2008']), Float64, Boolean)
    """
    return REGISTRY.schema(cycles)


def labels() -> dict[str, str]:
    """Column → short human-readable label (axis titles, messages)."""
    return REGISTRY.labels()


def level_words(value: object) -> str:
    """A level of a categorical column in words, whichever column it is of (a code two columns
    share, "other", takes the first one's: race and Hispanic origin), else as text. With the
    column known, :func:`level_label` is exact.

    >>> level_words("nh_black"), level_words("female"), level_words(True)
    ('Non-Hispanic Black', 'Female', 'True')
    """
    text = str(value)
    for words in REGISTRY.level_labels().values():
        if text in words:
            return words[text]
    return text


def units() -> dict[str, str]:
    """Column → unit ("" for codes, flags and categories)."""
    return REGISTRY.units()


# a categorical column's level words, found by its levels (its Enum's categories)
LEVEL_LABELS: dict[tuple[str, ...], dict[str, str]] = {
    tuple(words): words
    for words in (
        rules.SEX_LABELS,
        rules.RACE_ETH_LABELS,
        rules.RACE_ETH6_LABELS,
        rules.EDUCATION_LABELS,
        rules.SMOKING_LABELS,
        rules.VITD_STATUS_LABELS,
        rules.SEASON_LABELS,
        rules.MORT_CAUSE_LABELS,
        supplements.SUPP_QUALITY_LABELS,
    )
}


def level_labels() -> dict[str, dict[str, str]]:
    """Categorical column → {level: its words}, for every categorical column but ``cycle``.

    >>> level_labels()["race_eth"]["nh_white"]
    'Non-Hispanic White'
    """
    return REGISTRY.level_labels()


def level_label(column: str, level: object) -> str:
    """What a reader sees for one level of a column: the registry's words for a registry
    column, else the level as the specification wrote it.

    >>> level_label("exam_season", "nov_apr"), level_label("my_group", "low Mg")
    ('November–April', 'low Mg')
    """
    return REGISTRY.level_labels().get(column, {}).get(str(level), str(level))


def column_order() -> list[str]:
    """The analytic dataset's columns, in order."""
    return REGISTRY.column_order()


def sources_of(component: str) -> tuple[Source, ...]:
    """The CDC sources read from one table component."""
    return REGISTRY.sources_of(component)
