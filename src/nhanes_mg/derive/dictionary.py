# ruff: noqa: E501  (a table of variables: one variable a line reads best)
"""The analytic dataset's variables: order, type, unit, rule and sources — and the generated
markdown data dictionary (``docs/data_dictionary.md``).

Regenerate the committed file with ``python -m nhanes_mg.derive.dictionary > docs/data_dictionary.md``;
a test checks the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from nhanes_mg import catalog
from nhanes_mg.derive import rules, spec
from nhanes_mg.derive.build import CVD_ITEMS, SUPPLEMENT_TOTALS_SOURCE


@dataclass(frozen=True)
class Variable:
    name: str
    dtype: str
    unit: str
    rule: str
    sources: tuple[str, ...] = ()  # names in spec.SOURCES (their CDC columns are listed per cycle)
    extra_sources: str = ""  # sources not in spec.SOURCES (DSQ2 × DSII, mortality files)
    group: str = ""


DSQ2_SRC = "DSQ2_B/C/D (DSDSUPID, DSD103, DSD122Q) × DSPI (DSDSUPID→DSDPID, DSDSERVQ) × DSII (DSDINGR, DSDQTY, DSDUNIT), 2001-2006"
MORT_SRC = "NHANES_{cycle}_MORT_{release}_PUBLIC.dat"

V = Variable
VARIABLES: tuple[Variable, ...] = (
    # design and weights
    V(
        "seqn",
        "Int64",
        "",
        "Respondent sequence number (unique across cycles).",
        extra_sources="DEMO.SEQN",
        group="Design and weights",
    ),
    V("cycle", "Enum", "", 'Survey cycle, e.g. "2005-2006".', group="Design and weights"),
    V(
        "sdmvstra",
        "Int64",
        "",
        "Masked variance pseudo-stratum.",
        ("sdmvstra",),
        group="Design and weights",
    ),
    V(
        "sdmvpsu",
        "Int64",
        "",
        "Masked variance pseudo-PSU (nested in strata).",
        ("sdmvpsu",),
        group="Design and weights",
    ),
    V(
        "wt_mec",
        "Float64",
        "",
        "Two-year MEC exam weight as published (0 for interview-only participants). Combining k cycles (2001+): divide by k in the design layer.",
        ("wt_mec",),
        group="Design and weights",
    ),
    V(
        "wt_diet1",
        "Float64",
        "",
        "Two-year day-1 dietary weight as published (null/0 without a reliable day-1 recall).",
        ("wt_diet1",),
        group="Design and weights",
    ),
    V(
        "wt_diet2",
        "Float64",
        "",
        "Two-year two-day dietary weight as published (0 without both recalls); none in 2001-2002 (no day 2).",
        ("wt_diet2",),
        group="Design and weights",
    ),
    V(
        "examined",
        "Boolean",
        "",
        "Interviewed and MEC-examined (RIDSTATR == 2).",
        ("_ridstatr",),
        group="Design and weights",
    ),
    # demographics
    V(
        "age",
        "Float64",
        "years",
        "Age at screening; top-coded at 85 (2001-2006) and 80 (2007+).",
        ("age",),
        group="Demographics",
    ),
    V("sex", "Enum", "", '1 → "male", 2 → "female".', ("_riagendr",), group="Demographics"),
    V(
        "race_eth",
        "Enum",
        "",
        "Harmonized across all cycles from RIDRETH1: 1 mexican_american, 2 other_hispanic, 3 nh_white, 4 nh_black, 5 other (includes non-Hispanic Asian and multiracial).",
        ("_ridreth1",),
        group="Demographics",
    ),
    V(
        "race_eth6",
        "Enum",
        "",
        'RIDRETH3, 2011+ only (null before): as race_eth plus 6 → "nh_asian"; 7 → "other".',
        ("_ridreth3",),
        group="Demographics",
    ),
    V(
        "pir",
        "Float64",
        "ratio",
        "Family income to poverty ratio, 0–5 (5 = 5 or more, a value not a code).",
        ("pir",),
        group="Demographics",
    ),
    V(
        "education",
        "Enum",
        "",
        'Adults 20+: 1–2 → "lt_high_school", 3 → "high_school", 4 → "some_college", 5 → "college_grad"; 7/9 → null.',
        ("_dmdeduc2",),
        group="Demographics",
    ),
    V(
        "pregnant",
        "Boolean",
        "",
        "Pregnancy at exam: 1 → true, 2 → false, 3 (cannot ascertain) → null; null for men, children and out-of-range ages.",
        ("_ridexprg",),
        group="Demographics",
    ),
    V(
        "exam_season",
        "Enum",
        "",
        '6-month exam period: 1 → "nov_apr", 2 → "may_oct".',
        ("_ridexmon",),
        group="Demographics",
    ),
    # diet
    V(
        "recall_ok_d1",
        "Boolean",
        "",
        "Day-1 recall reliable and complete (status == 1); false otherwise (incl. breast-fed infants, status 4).",
        ("_drstz_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "recall_ok_d2",
        "Boolean",
        "",
        "Day-2 recall reliable (DR2DRSTZ == 1); false in 2001-2002 (no day 2).",
        ("_drstz_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "recall_status_d1",
        "Int8",
        "",
        "Day-1 recall status as CDC codes it: 1 reliable, 2 not reliable, 4 breast-fed infant (reliable but breast milk not quantified; such children keep a dietary weight), 5 not done.",
        ("_drstz_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "recall_status_d2",
        "Int8",
        "",
        "As recall_status_d1, day 2 (2003+).",
        ("_drstz_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "n_recall_days",
        "Int8",
        "days",
        "Number of reliable recall days (0, 1, 2).",
        group="Food intake (24-h recalls)",
    ),
    V(
        "recall_dow_d1",
        "Int8",
        "1–7",
        "Day of the week of the day-1 recall intake day, CDC coding 1 = Sunday … 7 = Saturday.",
        ("_dow_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "recall_dow_d2",
        "Int8",
        "1–7",
        "As recall_dow_d1, day 2.",
        ("_dow_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "weekend_d1",
        "Boolean",
        "",
        "Day-1 intake day is Friday, Saturday or Sunday (dow 6, 7, 1).",
        ("_dow_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "weekend_d2",
        "Boolean",
        "",
        "As weekend_d1, day 2.",
        ("_dow_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "mg_food_d1",
        "Float64",
        "mg/day",
        "Magnesium from foods and beverages, day 1; null unless recall_ok_d1.",
        ("_mg_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "ca_food_d1",
        "Float64",
        "mg/day",
        "Calcium from foods and beverages, day 1; null unless recall_ok_d1.",
        ("_ca_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "kcal_d1",
        "Float64",
        "kcal/day",
        "Energy, day 1; null unless recall_ok_d1.",
        ("_kcal_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "vitd_food_d1",
        "Float64",
        "µg/day",
        "Vitamin D (D2 + D3) from foods, day 1; 2007+ only (not in the food files before).",
        ("_vitd_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "alcohol_g_d1",
        "Float64",
        "g/day",
        "Alcohol from the day-1 recall; null unless recall_ok_d1.",
        ("_alco_d1",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "mg_food_d2",
        "Float64",
        "mg/day",
        "As mg_food_d1, day 2 (2003+).",
        ("_mg_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "ca_food_d2",
        "Float64",
        "mg/day",
        "As ca_food_d1, day 2 (2003+).",
        ("_ca_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "kcal_d2",
        "Float64",
        "kcal/day",
        "As kcal_d1, day 2 (2003+).",
        ("_kcal_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "vitd_food_d2",
        "Float64",
        "µg/day",
        "As vitd_food_d1, day 2 (2007+).",
        ("_vitd_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "alcohol_g_d2",
        "Float64",
        "g/day",
        "As alcohol_g_d1, day 2.",
        ("_alco_d2",),
        group="Food intake (24-h recalls)",
    ),
    V(
        "mg_food",
        "Float64",
        "mg/day",
        "Mean of the reliable recall days (both when both are reliable, else the one that is). Strict two-day analyses: n_recall_days == 2 with wt_diet2.",
        ("_mg_d1", "_mg_d2"),
        group="Food intake (24-h recalls)",
    ),
    V(
        "ca_food",
        "Float64",
        "mg/day",
        "As mg_food, calcium.",
        ("_ca_d1", "_ca_d2"),
        group="Food intake (24-h recalls)",
    ),
    V(
        "kcal",
        "Float64",
        "kcal/day",
        "As mg_food, energy.",
        ("_kcal_d1", "_kcal_d2"),
        group="Food intake (24-h recalls)",
    ),
    V(
        "vitd_food",
        "Float64",
        "µg/day",
        "As mg_food, vitamin D from foods (2007+).",
        ("_vitd_d1", "_vitd_d2"),
        group="Food intake (24-h recalls)",
    ),
    V(
        "alcohol_g",
        "Float64",
        "g/day",
        "As mg_food, alcohol.",
        ("_alco_d1", "_alco_d2"),
        group="Food intake (24-h recalls)",
    ),
    V(
        "mg_food_eadj",
        "Float64",
        "mg/day",
        "Energy-adjusted mg_food (residual method): mg_food − β·(kcal − mean kcal), β the unweighted OLS slope of mg_food on kcal among adults ≥ 18 with both values, pooled over the cycles built (so it depends on them); null for children.",
        group="Food intake (24-h recalls)",
    ),
    V(
        "ca_food_eadj",
        "Float64",
        "mg/day",
        "As mg_food_eadj, calcium.",
        group="Food intake (24-h recalls)",
    ),
    # supplements
    V(
        "supp_user",
        "Boolean",
        "",
        "Any dietary supplement in the past 30 days (DSD010: 1 → true, 2 → false, 7/9 → null).",
        ("_dsd010",),
        group="Supplements",
    ),
    V(
        "mg_supp",
        "Float64",
        "mg/day",
        "Magnesium from supplements and antacids, 30-day average. 2001-2006: Σ over DSQ2 products of DSD103 × DSD122Q × (DSII amount per serving ÷ DSPI serving quantity) ÷ 30 (see module nhanes_mg.derive.supplements); 0 for non-users; null when a Mg product's days or quantity are unknown. 2007+: DSQTMAGN, 0 for respondents with no Mg product, null when DSD010 is missing.",
        ("_dsd010", "_dsq_mg"),
        extra_sources=DSQ2_SRC,
        group="Supplements",
    ),
    V(
        "ca_supp",
        "Float64",
        "mg/day",
        "As mg_supp, calcium (DSII ingredient CALCIUM in mg; DSQTCALC).",
        ("_dsd010", "_dsq_ca"),
        extra_sources=DSQ2_SRC,
        group="Supplements",
    ),
    V(
        "vitd_supp",
        "Float64",
        "µg/day",
        "As mg_supp, vitamin D (DSII ingredient VITAMIN D in IU ÷ 40; DSQTVD).",
        ("_dsd010", "_dsq_vitd"),
        extra_sources=DSQ2_SRC,
        group="Supplements",
    ),
    V(
        "ds_products",
        "UInt32",
        "count",
        "2001-2006: number of DSQ2 product rows (supplements and antacids) of the participant.",
        extra_sources="DSQ2",
        group="Supplements",
    ),
    V(
        "ds_unmatched_products",
        "Int64",
        "count",
        "2001-2006: DSQ2 products not found in DSPI (composition unknown, counted as contributing nothing).",
        extra_sources="DSQ2 × DSPI",
        group="Supplements",
    ),
    V(
        "supp_user_d1",
        "Boolean",
        "",
        "Any supplement on recall day 1 (DS1DS), 2007+; null without a reliable day-1 recall.",
        ("_ds1ds",),
        group="Supplements",
    ),
    V(
        "supp_user_d2",
        "Boolean",
        "",
        "As supp_user_d1, day 2 (DS2DS).",
        ("_ds2ds",),
        group="Supplements",
    ),
    V(
        "mg_supp_d1",
        "Float64",
        "mg/day",
        "Magnesium from supplements on recall day 1 (24 h), 2007+; 0 for non-users; null unless recall_ok_d1.",
        ("_ds1ds", "_ds1_mg"),
        group="Supplements",
    ),
    V(
        "ca_supp_d1",
        "Float64",
        "mg/day",
        "As mg_supp_d1, calcium.",
        ("_ds1ds", "_ds1_ca"),
        group="Supplements",
    ),
    V(
        "vitd_supp_d1",
        "Float64",
        "µg/day",
        "As mg_supp_d1, vitamin D.",
        ("_ds1ds", "_ds1_vitd"),
        group="Supplements",
    ),
    V(
        "mg_supp_d2",
        "Float64",
        "mg/day",
        "As mg_supp_d1, day 2.",
        ("_ds2ds", "_ds2_mg"),
        group="Supplements",
    ),
    V(
        "ca_supp_d2",
        "Float64",
        "mg/day",
        "As ca_supp_d1, day 2.",
        ("_ds2ds", "_ds2_ca"),
        group="Supplements",
    ),
    V(
        "vitd_supp_d2",
        "Float64",
        "µg/day",
        "As vitd_supp_d1, day 2.",
        ("_ds2ds", "_ds2_vitd"),
        group="Supplements",
    ),
    # totals and ratios
    V(
        "mg_total",
        "Float64",
        "mg/day",
        "mg_food + mg_supp (30-day supplement average; null if either is null). "
        + SUPPLEMENT_TOTALS_SOURCE,
        group="Totals and ratios",
    ),
    V(
        "ca_total",
        "Float64",
        "mg/day",
        "ca_food + ca_supp (as mg_total).",
        group="Totals and ratios",
    ),
    V(
        "vitd_total",
        "Float64",
        "µg/day",
        "vitd_food + vitd_supp; 2007+ only (no food vitamin D before).",
        group="Totals and ratios",
    ),
    V(
        "mg_total_d1",
        "Float64",
        "mg/day",
        "mg_food_d1 + mg_supp_d1 (24-h supplements, 2007+).",
        group="Totals and ratios",
    ),
    V(
        "ca_total_d1",
        "Float64",
        "mg/day",
        "ca_food_d1 + ca_supp_d1 (2007+).",
        group="Totals and ratios",
    ),
    V(
        "mg_total_d2",
        "Float64",
        "mg/day",
        "mg_food_d2 + mg_supp_d2 (2007+).",
        group="Totals and ratios",
    ),
    V(
        "ca_total_d2",
        "Float64",
        "mg/day",
        "ca_food_d2 + ca_supp_d2 (2007+).",
        group="Totals and ratios",
    ),
    V(
        "ca_mg_ratio_food",
        "Float64",
        "ratio",
        "ca_food / mg_food (individual ratio; null when mg_food is null or 0).",
        group="Totals and ratios",
    ),
    V(
        "ca_mg_ratio_total",
        "Float64",
        "ratio",
        "ca_total / mg_total (as ca_mg_ratio_food).",
        group="Totals and ratios",
    ),
    # adequacy
    V(
        "mg_ear",
        "Float64",
        "mg/day",
        "Magnesium EAR for age and sex (IOM 1997): 1–3 65, 4–8 110, 9–13 200, boys 14–18 340, girls 300, men 19–30 330, women 255, men 31+ 350, women 265; null under 1 year; non-pregnant values for everyone.",
        group="Adequacy",
    ),
    V(
        "mg_rda",
        "Float64",
        "mg/day",
        "Magnesium RDA (IOM 1997): 80, 130, 240, 410/360, 400/310, 420/320 (same groups as mg_ear).",
        group="Adequacy",
    ),
    V(
        "ca_ear",
        "Float64",
        "mg/day",
        "Calcium EAR (IOM 2011): 1–3 500, 4–8 800, 9–18 1100, 19–50 800, men 51–70 800, women 51+ and men 71+ 1000.",
        group="Adequacy",
    ),
    V(
        "ca_rda",
        "Float64",
        "mg/day",
        "Calcium RDA (IOM 2011): 700, 1000, 1300, 1000, 1000, 1200 (same groups as ca_ear).",
        group="Adequacy",
    ),
    V(
        "mg_food_below_ear",
        "Boolean",
        "",
        "mg_food < mg_ear (from 1–2 recall days, not usual intake: overstates the share below the EAR).",
        group="Adequacy",
    ),
    V("mg_food_below_rda", "Boolean", "", "mg_food < mg_rda.", group="Adequacy"),
    V("mg_total_below_ear", "Boolean", "", "mg_total < mg_ear.", group="Adequacy"),
    V("mg_total_below_rda", "Boolean", "", "mg_total < mg_rda.", group="Adequacy"),
    V("ca_food_below_ear", "Boolean", "", "ca_food < ca_ear.", group="Adequacy"),
    V("ca_food_below_rda", "Boolean", "", "ca_food < ca_rda.", group="Adequacy"),
    V("ca_total_below_ear", "Boolean", "", "ca_total < ca_ear.", group="Adequacy"),
    V("ca_total_below_rda", "Boolean", "", "ca_total < ca_rda.", group="Adequacy"),
    # vitamin D status
    V(
        "vitd_25oh_nmol",
        "Float64",
        "nmol/L",
        "Serum 25(OH)D, LC-MS/MS-equivalent values (CDC's recommended series for all cycles).",
        ("_vid",),
        group="Vitamin D status",
    ),
    V(
        "vitd_25oh_ngml",
        "Float64",
        "ng/mL",
        "vitd_25oh_nmol / 2.496.",
        ("_vid",),
        group="Vitamin D status",
    ),
    V(
        "vitd_status",
        "Enum",
        "",
        'Default cut points: < 30 "deficient", 30–< 50 "insufficient", ≥ 50 nmol/L "sufficient" (configurable: build_analytic(vitd_cutpoints=…); the build metadata records the ones used).',
        ("_vid",),
        group="Vitamin D status",
    ),
    # covariates
    V("bmi", "Float64", "kg/m²", "Body mass index.", ("bmi",), group="Covariates"),
    V(
        "smoking",
        "Enum",
        "",
        'SMQ020 == 2 → "never"; SMQ020 == 1 and SMQ040 1/2 (every/some days) → "current"; SMQ020 == 1 and SMQ040 == 3 → "former"; 7/9 → null (adults 18+; 20+ in 2001-2002).',
        ("_smq020", "_smq040"),
        group="Covariates",
    ),
    V(
        "alq_drinks_per_day",
        "Float64",
        "drinks/day",
        "Average drinks on drinking days, past 12 months (ALQ130); 77/99 (2001-2004) and 777/999 (2005+) → null.",
        ("alq_drinks_per_day",),
        group="Covariates",
    ),
    V(
        "phys_active",
        "Boolean",
        "",
        "Any leisure-time activity. 2001-2006: vigorous (PAD200) or moderate (PAD320) activity in past 30 days == 1 → true; both 2/3 → false. 2007+ (GPAQ): vigorous (PAQ650) or moderate (PAQ665) recreational activity == 1 → true; both 2 → false. The questionnaires differ: compare within the 2001-2006 and 2007+ blocks.",
        ("_pad200", "_pad320", "_paq650", "_paq665"),
        group="Covariates",
    ),
    V(
        "diabetes",
        "Boolean",
        "",
        "True if doctor-diagnosed (DIQ010 == 1), HbA1c ≥ 6.5 %, insulin now (DIQ050 == 1) or diabetic pills now (DIQ070/DID070 == 1); false when none holds and DIQ010 (1–3) or HbA1c is known; borderline (DIQ010 == 3) counts as no.",
        ("_diq010", "hba1c", "_diq050", "_diq070"),
        group="Covariates",
    ),
    V(
        "diabetes_diagnosed",
        "Boolean",
        "",
        "Knows they have diabetes: doctor told (DIQ010 == 1) → true; no or borderline (DIQ010 2/3) → false; 7/9 → null. Self-report only (unlike diabetes: no HbA1c, no medication), for sensitivity analyses excluding people who may have changed their diet after diagnosis. Asked from age 1; null under 1.",
        ("_diq010",),
        group="Covariates",
    ),
    V(
        "cvd_history",
        "Boolean",
        "",
        "Ever told by a doctor of congestive heart failure (MCQ160B), coronary heart disease (MCQ160C), angina (MCQ160D), heart attack (MCQ160E) or stroke (MCQ160F): any == 1 → true; all five answered 1/2 with none == 1 → false; otherwise null (7/9 or unanswered items and no yes). Asked of adults 20+; null for younger participants.",
        CVD_ITEMS,
        group="Covariates",
    ),
    V(
        "cancer_history",
        "Boolean",
        "",
        "Ever told by a doctor of cancer or a malignancy of any kind (MCQ220): 1 → true, 2 → false, 7/9 → null. Asked of adults 20+; null for younger participants.",
        ("_mcq220",),
        group="Covariates",
    ),
    V("hba1c", "Float64", "%", "Glycohemoglobin.", ("hba1c",), group="Covariates"),
    V(
        "egfr",
        "Float64",
        "mL/min/1.73 m²",
        "CKD-EPI 2021 (race-free) creatinine equation, adults ≥ 18; serum creatinine of 2005-2006 recalibrated by CDC's equation −0.016 + 0.978·Scr, other cycles as published (2007+ IDMS-traceable).",
        ("_scr",),
        group="Covariates",
    ),
    V(
        "ckd",
        "Boolean",
        "",
        "egfr < 60 (no albuminuria criterion: urine albumin is not among the fetched tables).",
        ("_scr",),
        group="Covariates",
    ),
    V(
        "ca_serum",
        "Float64",
        "mg/dL",
        "Total serum calcium (standard biochemistry).",
        ("ca_serum",),
        group="Covariates",
    ),
    V(
        "pth",
        "Float64",
        "pg/mL",
        "Intact parathyroid hormone, 2005-2006 only.",
        ("pth",),
        group="Covariates",
    ),
    # mortality
    V(
        "mort_eligible",
        "Boolean",
        "",
        "ELIGSTAT == 1 (adults eligible for linkage); false for other participants of a cycle with a linked file; null when no file for the cycle is present.",
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "mort_status",
        "Int8",
        "",
        "MORTSTAT among eligible: 0 assumed alive, 1 assumed deceased.",
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "mort_cause",
        "Enum",
        "",
        'Deceased only: UCOD_LEADING 001/005 → "cvd", 002 → "cancer", other codes → "other" (colorectal cancer is not separable in the public files); null for the rare death the public file gives no cause for.',
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "mort_ucod_leading",
        "Utf8",
        "",
        'UCOD_LEADING as published ("001" … "010"), deceased only.',
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "followup_months_exam",
        "Float64",
        "months",
        "PERMTH_EXM: months from the MEC exam to death or end of follow-up.",
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "followup_months_int",
        "Float64",
        "months",
        "PERMTH_INT: months from the interview.",
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
    V(
        "mortality_release",
        "Int16",
        "year",
        "Release of the linked file used (2019 preferred, else 2015, else 2011); null when none is present.",
        extra_sources=MORT_SRC,
        group="Mortality",
    ),
)


# What each derived variable is computed from (variables of this table), where ``sources`` does
# not say: the lineage decides which NHANES subsample a variable needs (see
# nhanes_mg.weights), so a derived variable inherits the subsample of what it is made of.
DERIVED_FROM: dict[str, tuple[str, ...]] = {
    "n_recall_days": ("recall_ok_d1", "recall_ok_d2"),
    "mg_food_eadj": ("mg_food", "kcal"),
    "ca_food_eadj": ("ca_food", "kcal"),
    "mg_total": ("mg_food", "mg_supp"),
    "ca_total": ("ca_food", "ca_supp"),
    "vitd_total": ("vitd_food", "vitd_supp"),
    "mg_total_d1": ("mg_food_d1", "mg_supp_d1"),
    "ca_total_d1": ("ca_food_d1", "ca_supp_d1"),
    "mg_total_d2": ("mg_food_d2", "mg_supp_d2"),
    "ca_total_d2": ("ca_food_d2", "ca_supp_d2"),
    "ca_mg_ratio_food": ("ca_food", "mg_food"),
    "ca_mg_ratio_total": ("ca_total", "mg_total"),
    "mg_ear": ("age", "sex"),
    "mg_rda": ("age", "sex"),
    "ca_ear": ("age", "sex"),
    "ca_rda": ("age", "sex"),
    "mg_food_below_ear": ("mg_food", "mg_ear"),
    "mg_food_below_rda": ("mg_food", "mg_rda"),
    "mg_total_below_ear": ("mg_total", "mg_ear"),
    "mg_total_below_rda": ("mg_total", "mg_rda"),
    "ca_food_below_ear": ("ca_food", "ca_ear"),
    "ca_food_below_rda": ("ca_food", "ca_rda"),
    "ca_total_below_ear": ("ca_total", "ca_ear"),
    "ca_total_below_rda": ("ca_total", "ca_rda"),
}


# Tables a variable is read from beyond its ``sources`` (the 2001-2006 supplement files and the
# 1999-2006 ingredient database): with DERIVED_FROM, what a missing table leaves unmeasured.
EXTRA_COMPONENTS: dict[str, tuple[str, ...]] = {
    "mg_supp": ("DSQ2", "DSPI", "DSII"),
    "ca_supp": ("DSQ2", "DSPI", "DSII"),
    "vitd_supp": ("DSQ2", "DSPI", "DSII"),
    "ds_products": ("DSQ2",),
    "ds_unmatched_products": ("DSQ2", "DSPI"),
}


def column_order() -> list[str]:
    """The analytic dataset's columns, in order."""
    return [v.name for v in VARIABLES]


def _sources_text(v: Variable) -> str:
    by_source = {s.name: s for s in spec.SOURCES}
    parts: list[str] = []
    for name in v.sources:
        for source in (s for s in spec.SOURCES if s.name == name):
            cells = []
            for letters, column in source.columns.items():
                years = [c.years for c in catalog.CYCLES if c.letter in letters]
                span = years[0] if len(years) == 1 else f"{years[0][:4]}-{years[-1][5:]}"
                cells.append(f"{source.component}.{column} ({span})")
            parts.append("; ".join(cells))
        if name not in by_source:
            parts.append(name)
    if v.extra_sources:
        parts.append(v.extra_sources)
    return "; ".join(dict.fromkeys(parts)) or "derived"


def _codes_text(v: Variable) -> str:
    codes = []
    for name in v.sources:
        for s in spec.SOURCES:
            if s.name != name or not s.missing_codes:
                continue
            mc = s.missing_codes
            if isinstance(mc, dict):
                text = ", ".join(f"{'/'.join(f'{x:g}' for x in cs)} ({k})" for k, cs in mc.items())
            else:
                text = "/".join(f"{x:g}" for x in mc)
            col = next(iter(s.columns.values()))
            codes.append(f"{col}: {text}")
    return "; ".join(dict.fromkeys(codes))


def data_dictionary() -> str:
    """The data dictionary as markdown (deterministic: generated from the code, not the data)."""
    lines = [
        "# Analytic dataset: data dictionary",
        "",
        "<!-- generated by nhanes_mg.derive.dictionary.data_dictionary(); do not edit by hand -->",
        "",
        "`nhanes-mg build` writes `analytic.parquet`: one row per DEMO participant of each cycle",
        "2001-2002 … 2017-2018 (nobody is dropped; subpopulations are flags). Two-year weights are",
        "kept as published; combining cycles is the design layer's job. Questionnaire missing codes",
        "(refused / don't know) are nulled per source variable (column *Missing codes*), never by a",
        "blanket rule. Cycle letters: B 2001-2002, C 2003-2004, D 2005-2006, E 2007-2008,",
        "F 2009-2010, G 2011-2012, H 2013-2014, I 2015-2016, J 2017-2018.",
        "Tables are named by component as `nhanes_mg.catalog` does: DR1TOT is DRXTOT_B in",
        "2001-2002, GHB is L10_B/L10_C and BIOPRO is L40_B/L40_C in 2001-2004; otherwise the",
        "table is the component plus the cycle suffix (DEMO_D, VID_J, …).",
        "",
        "**Supplement source of the totals.** " + SUPPLEMENT_TOTALS_SOURCE,
        "",
        f"**Unit conversions.** 25(OH)D: 1 ng/mL = {rules.NMOL_PER_NGML} nmol/L. Vitamin D:"
        f" 1 µg = {rules.IU_PER_UG_VITD:g} IU.",
        "",
    ]
    group = None
    for v in VARIABLES:
        if v.group != group:
            group = v.group
            lines += [
                f"## {group}",
                "",
                "| Variable | Type | Unit | Rule | Sources (per cycle) | Missing codes |",
                "|---|---|---|---|---|---|",
            ]
        cells = [f"`{v.name}`", v.dtype, v.unit, v.rule, _sources_text(v), _codes_text(v)]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        if v is VARIABLES[-1] or VARIABLES[VARIABLES.index(v) + 1].group != group:
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(data_dictionary(), end="")
