"""ModelTerms: a model given by its columns fits exactly the model of the same formula, and
both match R's survey (golden values of tests/golden, made by tests/golden/make_golden.R)."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import ModelTerms, SurveyDesign, svycoxph, svyglm

from golden_data import Golden

pytestmark = pytest.mark.mirror

COLUMNS = ("mg_cat", "age", "sex", "race", "educ", "bmi", "pir", "kcal1000", "ca100", "cycle")
REF = {"race": "3"}


def test_glm_of_columns_is_the_glm_of_the_formula(diet: SurveyDesign, golden: Golden) -> None:
    terms = ModelTerms("vitd_lt50", COLUMNS)
    fit = svyglm(terms, diet, family="quasibinomial", reference=REF)
    golden.assert_matches("glm_logit_pooled", fit.tidy())
    by_formula = svyglm(terms.formula, diet, family="quasibinomial", reference=REF)
    assert fit.tidy().equals(by_formula.tidy())  # the same numbers, bit for bit
    assert fit.formula == terms.formula


def test_cox_of_columns(mortality: pl.DataFrame, golden: Golden) -> None:
    design = SurveyDesign.pooled(mortality, cycle_col="cycle", weights="wt_mec")
    adults = design.subset((pl.col("age") >= 20) & pl.col("eligible"))
    terms = ModelTerms("died", ("age", "sex", "race", "bmi", "vitd10"), time="months")
    fit = svycoxph(terms, adults, reference=REF)
    golden.assert_matches("cox_efron_mortality", fit.tidy())
    assert fit.tidy().equals(svycoxph(terms.formula, adults, reference=REF).tidy())


def test_cox_without_time_is_refused(diet: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="needs a time"):
        svycoxph(ModelTerms("vitd_lt50", ("age",)), diet)


def test_a_column_named_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="named twice"):
        ModelTerms("y", ("age", "age"))
