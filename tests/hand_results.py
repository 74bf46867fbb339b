"""Small fixed results made by hand, for the report, figure and CLI unit tests (no mirror).

Two specifications, parsed as the shipped ones are (:func:`nhanes_mg.study.spec.parse_spec`), with
tidy tables and fits written out here and verdicts from the package's own rule
(:func:`nhanes_mg.study.judge.judge`):

- ``T1`` (descriptive): the share below the Mg EAR by cycle (a trend), by sex (groups), a
  threshold verdict (> 50 % in 2017-2018) and one sensitivity analysis that agrees;
- ``T3`` (logistic): Mg quartiles and vitamin D deficiency, crude and adjusted (a forest), an
  effect verdict on Q4 against a published OR, and two sensitivity analyses, one of which does
  not reproduce it.

Every label a figure or the report may show is set, so no column name (``mg_total``,
``mg_food_d1``, ``share_below_ear``) has any business appearing in them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from nhanes_mg.study.analysis_frame import TABLE_COLUMNS, TABLE_SCHEMA
from nhanes_mg.study.judge import judge
from nhanes_mg.study.results import FitInfo, SpecResult
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import Spec

SHARE_SPEC: dict[str, Any] = {
    "id": "T1",
    "title": "Share of adults below the magnesium EAR (hand-made)",
    "claim": "Most American adults eat less magnesium than they need.",
    "source": "a unit test",
    "citation": "Rosanoff A et al. Nutr Rev 2012",
    "cycles": "2015-2018",
    "population": "age >= 20 AND recall_ok_d1",
    "model": "descriptive",
    "limits": "One day of intake overstates the spread of usual intake.",
    "analysis": [
        {"name": "share_below_ear", "label": "share below the EAR, food",
         "statistic": "proportion", "variable": "mg_food_d1 < mg_ear", "by": ["cycle"],
         "trend": True},
        {"name": "share_below_ear_by_sex", "label": "share below the EAR, food, by sex",
         "statistic": "proportion", "variable": "mg_food_d1 < mg_ear", "by": ["sex"]},
    ],
    "sensitivity": [
        {"name": "women", "label": "women only", "analysis": "share_below_ear",
         "population": "sex = 'female'"},
    ],
    "reference": {"text": "about half of adults below the EAR"},
    "verdict": {"rule": "threshold", "direction": "above", "value": 0.5,
                "analysis": "share_below_ear", "cycle": "2017-2018"},
}  # fmt: skip

FOREST_SPEC: dict[str, Any] = {
    "id": "T3",
    "title": "Magnesium intake and vitamin D deficiency (hand-made)",
    "claim": "Higher magnesium intake goes with less vitamin D deficiency.",
    "source": "a unit test",
    "citation": "Deng X et al. BMC Med 2013;11:187",
    "cycles": "2003-2006",
    "population": "age >= 20",
    "model": "logistic",
    "notes": "Day-1 intakes with the day-1 weight.",
    "limits": "Cross-sectional: says nothing about which comes first.",
    "analysis": [
        {"name": "deficiency_crude", "outcome": "vitd_25oh_nmol < 30",
         "outcome_label": "25(OH)D < 30 nmol/L", "exposure": "mg_total",
         "exposure_label": "total Mg intake", "exposure_type": "quantiles", "quantiles": 4,
         "trend": True},
        {"name": "deficiency_adjusted", "outcome": "vitd_25oh_nmol < 30",
         "outcome_label": "25(OH)D < 30 nmol/L", "exposure": "mg_total",
         "exposure_label": "total Mg intake", "exposure_type": "quantiles", "quantiles": 4,
         "covariates": ["age", "sex"], "trend": True},
    ],
    "sensitivity": [
        {"name": "non_users", "label": "supplement non-users", "analysis": "deficiency_adjusted",
         "population": "NOT supp_user"},
        {"name": "two_day", "label": "two-day mean intakes", "analysis": "deficiency_adjusted"},
    ],
    "reference": {"text": "OR 0.34 (0.21–0.56), Q4 vs Q1", "estimate": 0.34,
                  "conf_low": 0.21, "conf_high": 0.56},
    "verdict": {"rule": "effect", "direction": "below", "analysis": "deficiency_adjusted",
                "term": "Q4"},
}  # fmt: skip

# what the column-name checks look for: the analytic columns and analysis names these specs use
COLUMN_NAMES = ("mg_food_d1", "mg_ear", "mg_total", "vitd_25oh_nmol", "supp_user",
                "share_below_ear", "deficiency_adjusted", "deficiency_crude", "_x")  # fmt: skip


def rows(*given: dict[str, Any]) -> pl.DataFrame:
    """A tidy table (the runner's columns and types) from the columns given per row."""
    return pl.DataFrame([{c: r.get(c) for c in TABLE_COLUMNS} for r in given], schema=TABLE_SCHEMA)


def _share(cycle: str | None, est: float, lo: float, hi: float, **more: Any) -> dict[str, Any]:
    return {"analysis": "share_below_ear", "role": "estimate", "term": "share", "cycle": cycle,
            "estimate": est, "conf_low": lo, "conf_high": hi, "std_error": (hi - lo) / 3.92,
            "n": 4000, "scale": "proportion", **more}  # fmt: skip


def share_result() -> SpecResult:
    """``T1``: 54.7 % (51.2–58.3 %) below the EAR in 2017-2018 — above the claimed 50 %."""
    spec = parse_spec(SHARE_SPEC)
    table = rows(
        _share("2015-2016", 0.521, 0.488, 0.554),
        _share("2017-2018", 0.547, 0.512, 0.583),
        {"analysis": "share_below_ear", "role": "trend", "term": "trend", "estimate": 0.013,
         "conf_low": -0.02, "conf_high": 0.046, "p_value": 0.43,
         "scale": "trend (change per 10 years)"},
        _share(None, 0.50, 0.46, 0.54, analysis="share_below_ear_by_sex", group="male"),
        _share(None, 0.59, 0.55, 0.63, analysis="share_below_ear_by_sex", group="female"),
        _share("2015-2016", 0.58, 0.53, 0.63, sensitivity="women"),
        _share("2017-2018", 0.60, 0.55, 0.65, sensitivity="women"),
    )  # fmt: skip
    fits = [
        FitInfo("share_below_ear", None, "", "survey proportion (Taylor linearization)",
                cycles=("2015-2016", "2017-2018"), n=9876, weight="wt_diet1",
                weight_reason="a day-1 intake → WTDRD1"),
        FitInfo("share_below_ear_by_sex", None, "", "survey proportion (Taylor linearization)",
                cycles=("2015-2016", "2017-2018"), n=9876, weight="wt_diet1",
                weight_reason="a day-1 intake → WTDRD1"),
        FitInfo("share_below_ear", "women", "women only", "survey proportion",
                cycles=("2015-2016", "2017-2018"), n=5012, weight="wt_diet1",
                weight_reason="a day-1 intake → WTDRD1"),
    ]  # fmt: skip
    return _judged(spec, table, fits)


def _quartiles(analysis: str, q4: tuple[float, float, float], sensitivity: str | None = None,
               p_trend: float = 0.0004) -> list[dict[str, Any]]:  # fmt: skip
    common = {"analysis": analysis, "sensitivity": sensitivity, "scale": "odds ratio", "n": 4321}
    out: list[dict[str, Any]] = [{**common, "role": "reference", "term": "Q1", "estimate": 1.0}]
    for term, (est, lo, hi) in (("Q2", (0.81, 0.62, 1.06)), ("Q3", (0.62, 0.45, 0.85)),
                                ("Q4", q4)):  # fmt: skip
        out.append({**common, "role": "estimate", "term": term, "estimate": est,
                    "conf_low": lo, "conf_high": hi, "p_value": 0.01})  # fmt: skip
    out.append({**common, "role": "trend", "term": "P for trend", "p_value": p_trend})
    return out


def forest_result() -> SpecResult:
    """``T3``: adjusted Q4 OR 0.40 (0.28–0.57) against the published 0.34 (0.21–0.56)."""
    spec = parse_spec(FOREST_SPEC)
    table = rows(
        *_quartiles("deficiency_crude", (0.30, 0.20, 0.45)),
        *_quartiles("deficiency_adjusted", (0.40, 0.28, 0.57)),
        *_quartiles("deficiency_adjusted", (0.55, 0.33, 0.92), "non_users"),
        *_quartiles("deficiency_adjusted", (0.90, 0.60, 1.35), "two_day", p_trend=0.2),
    )
    cuts = (212.0, 276.5, 351.0)
    fits = [
        FitInfo(name, sensitivity, label, "survey logistic (quasibinomial), quartiles",
                cycles=("2003-2004", "2005-2006"), n=n, events=events, weight="wt_diet1",
                weight_reason="a day-1 intake → WTDRD1", cuts=cuts,
                outcome_share=round(events / n, 3))
        for name, sensitivity, label, n, events in (
            ("deficiency_crude", None, "", 4321, 321),
            ("deficiency_adjusted", None, "", 4321, 321),
            ("deficiency_adjusted", "non_users", "supplement non-users", 2468, 222),
            ("deficiency_adjusted", "two_day", "two-day mean intakes", 3579, 287),
        )
    ]  # fmt: skip
    return _judged(spec, table, fits)


def _judged(spec: Spec, table: pl.DataFrame, fits: list[FitInfo]) -> SpecResult:
    result = SpecResult(spec=spec, table=table, fits=fits)
    result.verdicts = judge(spec, result)
    return result
