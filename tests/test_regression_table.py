"""The regression table of a model: every term in words, reference levels as rows, the
exposure's rows those of the analysis's own table."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.derive import registry
from nhanes_mg.report import document as report
from nhanes_mg.study.regression_table import EXPOSURE
from run_support import ShippedResult

pytestmark = pytest.mark.mirror


def test_every_term_in_words_with_its_reference_level(shipped_result: ShippedResult) -> None:
    result = shipped_result("C3")
    table = result.regression.filter(pl.col("analysis") == "deficiency_adjusted")
    exposure = table.filter(pl.col("variable") == EXPOSURE)
    assert exposure["level"].to_list() == ["Q1", "Q2", "Q3", "Q4"]
    assert exposure["reference"].to_list() == [True, False, False, False]
    own = result.table.filter(
        pl.col("analysis") == "deficiency_adjusted",
        pl.col("sensitivity").is_null(),
        pl.col("role").is_in(["estimate", "reference"]),
    )
    assert exposure["estimate"].to_list() == pytest.approx(own["estimate"].to_list(), rel=1e-12)
    # categorical covariates: R's factor order, the first level the reference
    references = dict(table.filter(pl.col("reference")).select("variable", "level_label").rows())
    assert references == {
        EXPOSURE: "Q1",
        "sex": "Male",
        "race_eth": "Mexican American",
        "education": "Less than high school",
        "smoking": "Never",
        "exam_season": "November–April",
    }
    # every covariate is there, in the model's order, and nothing is a raw code or column
    analysis = result.spec.analysis("deficiency_adjusted")
    assert analysis.kind == "model"
    shown = table["variable"].unique(maintain_order=True).to_list()
    assert shown == [EXPOSURE, *analysis.covariates]
    codes = {c for words in registry.level_labels().values() for c in words if "_" in c}
    assert not set(table["level_label"].drop_nulls()) & codes
    assert not set(table["label"]) & set(registry.labels())  # labels, not column names
    assert table.filter(pl.col("variable") == "bmi")["label"].to_list() == [
        "Body mass index (kg/m²)"
    ]
    assert table.filter(~pl.col("reference"))["p_value"].is_between(0, 1).all()


def test_the_report_prints_it_as_tbl_regression(shipped_result: ShippedResult) -> None:
    name, headers, rows = report.regression_table_rows(shipped_result("C3"))
    assert name == "deficiency_adjusted"
    assert headers == ["Characteristic", "OR (95% CI)", "P"]
    labels = [r[0] for r in rows]
    sex = labels.index("Sex")
    assert rows[sex] == ["Sex", "", ""]  # the variable's own row, its levels under it
    assert rows[sex + 1] == [report.INDENT + "Male", "— (reference)", ""]
    assert rows[sex + 2][0] == report.INDENT + "Female" and "(" in rows[sex + 2][1]
