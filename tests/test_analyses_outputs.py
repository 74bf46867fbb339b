"""What model analyses show beside their estimates, on the real mirror: Table 1, predictive
margins, dose–response splines, survival curves, age-standardized prevalences, and the
[outputs] switches."""

from __future__ import annotations

import tomllib
from typing import Any

import polars as pl
import pytest

from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.results import SpecResult
from nhanes_mg.study.spec import parse_spec, shipped_spec_paths
from nhanes_mg.study.table1 import OVERALL
from nhanes_mg.survey import SurveyDesign, svyciprop
from nhanes_mg.survey.standardize import US2000_ADULT, nchs_adult_age_group
from run_support import ShippedResult

pytestmark = pytest.mark.mirror


def _raw(name: str) -> dict[str, Any]:
    path = next(p for p in shipped_spec_paths() if p.name.startswith(name))
    return tomllib.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def c3(shipped_result: ShippedResult) -> SpecResult:
    return shipped_result("C3")


def test_crude_margins_are_the_category_prevalences(c3: SpecResult) -> None:
    margins = c3.margins.filter(pl.col("analysis") == "deficiency_crude").sort("group")
    table1 = c3.table1.filter(
        pl.col("analysis") == "deficiency_crude",
        pl.col("label").str.starts_with("25(OH)D"),
        pl.col("group") != OVERALL,
    ).sort("group")
    assert margins["group"].to_list() == ["Q1", "Q2", "Q3", "Q4"]
    # a model with nothing to adjust for predicts each category's weighted prevalence
    assert margins["estimate"].to_list() == pytest.approx(table1["estimate"].to_list(), rel=1e-6)
    adjusted = c3.margins.filter(pl.col("analysis") == "deficiency_adjusted")
    assert adjusted["adjusted_for"][0].startswith("age; sex; race and Hispanic origin")


def test_table_one_shows_who_fills_the_top_quartile(c3: SpecResult) -> None:
    users = c3.table1.filter(
        pl.col("analysis") == "deficiency_adjusted",
        pl.col("label") == "Supplement use, past 30 days",
        pl.col("group") != OVERALL,
    ).sort("group")
    shares = users["estimate"].to_list()
    assert shares == sorted(shares) and shares[-1] > 60  # [outputs] table1_extra
    assert users["p_value"][0] < 0.001


def test_the_dose_response_curve_is_anchored_at_its_reference(c3: SpecResult) -> None:
    curve = c3.dose_response.filter(
        pl.col("analysis") == "deficiency_adjusted", pl.col("role") == "curve"
    )
    reference = curve["reference"][0]
    at_reference = curve.filter(pl.col("value") == reference)
    assert curve.height == 42 and 0 < curve["p_nonlinear"][0] < 1  # 41 points + the reference
    placed = c3.dose_response.filter(
        pl.col("analysis") == "deficiency_adjusted", pl.col("role") == "category"
    )
    assert sorted(placed["group"].to_list()) == ["Q1", "Q2", "Q3", "Q4"]
    assert at_reference["estimate"].to_list() == pytest.approx([1.0])  # the curve's anchor
    assert (curve["conf_low"] <= curve["estimate"]).all()


def test_cox_analyses_get_survival_curves_deaths_and_person_years(
    shipped_result: ShippedResult,
) -> None:
    result = shipped_result("C5")
    curves = result.survival.filter(pl.col("analysis") == "cvd_per25")
    assert sorted(curves["group"].unique().to_list()) == ["Q1", "Q2", "Q3", "Q4"]
    assert curves["survival"].is_between(0.0, 1.0).all()
    deaths = result.table1.filter(pl.col("analysis") == "cvd_per25", pl.col("variable") == "deaths")
    fit = result.fit("cvd_per25")
    overall = deaths.filter(pl.col("group") == OVERALL)["estimate"][0]
    categories = deaths.filter(pl.col("group") != OVERALL)
    assert fit is not None and categories["estimate"].sum() == fit.events == overall
    assert categories["group"].to_list() == ["Q1", "Q2", "Q3", "Q4"]  # category order, every run
    assert result.margins.height == 0  # no margins for a Cox model


def test_age_standardized_prevalence_by_hand(
    analytic_frame: pl.DataFrame, shipped_result: ShippedResult
) -> None:
    result = shipped_result("C6")
    rows = result.table.filter(
        pl.col("analysis") == "diabetes_prevalence_by_cycle", pl.col("sensitivity").is_null()
    )
    std = rows.filter(pl.col("role") == "age-standardized", pl.col("cycle") == "2017-2018")
    # Σ_a P_a × (weighted prevalence in age group a), the direct standardization
    fit = result.fit("diabetes_prevalence_by_cycle")
    assert fit is not None and fit.weight == "wt_diet1"  # the day-1 recall flag decides
    frame = analytic_frame.filter(pl.col("cycle") == "2017-2018").with_columns(
        nchs_adult_age_group("age"), pl.col(fit.weight).fill_null(0.0)
    )
    design = SurveyDesign(
        frame, strata="sdmvstra", psu="sdmvpsu", weights=fit.weight, allow_zero_weights=True
    )
    base = (
        (pl.col("age") >= 20)
        & pl.col("recall_ok_d1")
        & ~pl.col("pregnant").fill_null(False)
        & pl.col("diabetes").is_not_null()
    )
    total = sum(US2000_ADULT.values())
    by_hand = sum(
        share
        / total
        * float(
            svyciprop(
                pl.col("diabetes").cast(pl.Float64),
                design.subset(base & (pl.col("agecat") == group)),
                na_rm=True,
            ).estimate[0]
        )
        for group, share in US2000_ADULT.items()
    )
    assert std["estimate"][0] == pytest.approx(by_hand, rel=1e-9)
    crude = rows.filter(pl.col("role") == "estimate", pl.col("cycle") == "2017-2018")
    assert std["estimate"][0] < crude["estimate"][0]  # an older population than in 2000


def test_outputs_can_be_switched_off(analytic_frame: pl.DataFrame) -> None:
    raw = _raw("C3")
    raw["outputs"] = {
        "sample_flow": False, "table1": False, "margins": False, "dose_response": False,
        "evalues": False,
    }  # fmt: skip
    raw["analysis"] = raw["analysis"][:1]
    raw["sensitivity"] = []
    raw.pop("statement")  # the analyses the statements read are gone with the others
    result = run_spec(parse_spec(raw, "C3.toml"), analytic_frame)
    assert result.table.height > 0
    for frame in (result.flow, result.table1, result.margins, result.dose_response):
        assert frame.height == 0
