"""Table 1: weighted characteristics by exposure category, with design-based P values."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.study.table1 import OVERALL, table_one
from nhanes_mg.survey import SurveyDesign, regtermtest, svyglm, svymean
from run_support import ShippedResult


@pytest.fixture(scope="module")
def exam_2005(analytic_frame: pl.DataFrame) -> SurveyDesign:
    frame = analytic_frame.filter(pl.col("cycle") == "2005-2006", pl.col("wt_mec") > 0)
    frame = frame.with_columns(
        bmi_group=pl.when(pl.col("bmi") >= 30).then(pl.lit("obese")).otherwise(pl.lit("not"))
    )
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


@pytest.mark.mirror
def test_cells_are_domain_means_of_the_full_design(exam_2005: SurveyDesign) -> None:
    adults = exam_2005.subset((pl.col("age") >= 20) & pl.col("bmi").is_not_null())
    table = table_one(adults, "bmi_group", [("vitd_25oh_nmol", "25(OH)D"), ("sex", "sex")])
    cell = table.filter(pl.col("variable") == "vitd_25oh_nmol", pl.col("group") == "obese")
    direct = svymean(
        "vitd_25oh_nmol",
        exam_2005.subset(
            (pl.col("age") >= 20) & (pl.col("bmi") >= 30) & pl.col("vitd_25oh_nmol").is_not_null()
        ),
        na_rm=True,
    )
    assert cell["estimate"][0] == pytest.approx(float(direct.estimate[0]), rel=1e-12)
    assert cell["std_error"][0] == pytest.approx(float(direct.std_error[0]), rel=1e-12)
    # the P value is the Wald F of a survey regression on the groups
    work = adults.subset(pl.col("vitd_25oh_nmol").is_not_null())
    wald = regtermtest(svyglm("vitd_25oh_nmol ~ bmi_group", work), "bmi_group")
    assert cell["p_value"][0] == pytest.approx(float(wald.p_value[0]), rel=1e-12)
    sex = table.filter(pl.col("variable") == "sex")
    assert sex["level"].unique(maintain_order=True).to_list() == ["male", "female"]  # Enum order
    shares = sex.group_by("group").agg(pl.col("estimate").sum())["estimate"]
    assert shares.to_list() == pytest.approx([100.0] * 3)  # % of each group and overall
    # the overall column is the whole domain's mean; the groups' n add up to its n
    overall = table.filter(pl.col("variable") == "vitd_25oh_nmol", pl.col("group") == OVERALL)
    whole = svymean("vitd_25oh_nmol", work, na_rm=True)
    assert overall["estimate"][0] == pytest.approx(float(whole.estimate[0]), rel=1e-12)
    assert overall["std_error"][0] == pytest.approx(float(whole.std_error[0]), rel=1e-12)
    by_group = table.filter(pl.col("variable") == "vitd_25oh_nmol", pl.col("group") != OVERALL)
    assert by_group["n"].sum() == overall["n"][0]
    missing = int(
        adults.frame.filter(pl.Series(adults.domain))["vitd_25oh_nmol"].null_count()
    )  # the domain's participants without a value, all of them with a positive weight
    assert overall["n_missing"][0] == missing > 0


@pytest.mark.mirror
def test_a_model_analysis_gets_its_table_one(shipped_result: ShippedResult) -> None:
    result = shipped_result("C3")
    t1 = result.table1.filter(pl.col("analysis") == "deficiency_adjusted")
    groups = t1["group"].unique(maintain_order=True).to_list()
    assert groups == [OVERALL, "Q1", "Q2", "Q3", "Q4"]  # the stored order: overall first
    fit = result.fit("deficiency_adjusted")
    assert fit is not None
    first = t1.filter(pl.col("variable") == t1["variable"][0])
    assert first.filter(pl.col("group") != OVERALL)["n"].sum() == fit.n  # the analysed sample
    assert first.filter(pl.col("group") == OVERALL)["n"][0] == fit.n
    ranges = t1.filter(pl.col("group") != OVERALL)["range"].unique(maintain_order=True)
    assert ranges.to_list()[0].startswith("≤ ") and ranges.to_list()[0].endswith(" mg/day")
    expected = {"Age (years)", "Sex", "Family income to poverty ratio"}  # labels beside columns
    assert set(t1["label"]) >= expected | {"25(OH)D < 30 nmol/L (deficiency)"}
    assert {"age", "sex", "pir"} <= set(t1["variable"])
    assert t1.filter(pl.col("group") != OVERALL)["p_value"].null_count() == 0
