"""svyglm (logistic, linear, poisson) and regtermtest against R's survey (golden.csv)."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.survey import SurveyDesign, regtermtest, svyglm

from golden_data import Golden

pytestmark = pytest.mark.mirror

LOGIT = "vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 + cycle"
REF = {"race": "3"}


@pytest.fixture(scope="module")
def logit_fit(diet: SurveyDesign):
    return svyglm(LOGIT, diet, family="quasibinomial", reference=REF)


def test_logistic_15_terms(logit_fit, golden: Golden) -> None:
    assert len(logit_fit.terms) == 20
    assert logit_fit.n[0] > 11000
    golden.assert_matches("glm_logit_pooled", logit_fit.tidy())


def test_binomial_equals_quasibinomial(diet: SurveyDesign, logit_fit) -> None:
    fit = svyglm(LOGIT, diet, family="binomial", reference=REF)
    assert fit.tidy().equals(logit_fit.tidy())


def test_odds_ratios(logit_fit) -> None:
    import numpy as np

    tidy = logit_fit.tidy()
    ors = logit_fit.tidy(exponentiate=True)
    assert np.allclose(ors["estimate"], np.exp(tidy["estimate"]))
    assert np.allclose(ors["conf_low"], np.exp(tidy["conf_low"]))
    assert ors["std_error"].equals(tidy["std_error"])


def test_linear_and_poisson(diet: SurveyDesign, golden: Golden) -> None:
    lin = svyglm("vitd ~ mg_cat + age + sex + race + bmi", diet, reference=REF)
    golden.assert_matches("glm_linear_pooled", lin.tidy())
    pois = svyglm("vitd_lt50 ~ mg_cat + age + sex", diet, family="quasipoisson")
    golden.assert_matches("glm_poisson_pooled", pois.tidy())


def test_domain_model(diet: SurveyDesign, golden: Golden) -> None:
    women = diet.subset(pl.col("sex") == "2")
    fit = svyglm(
        "vitd_lt50 ~ mg_cat + age + race + bmi", women, family="quasibinomial", reference=REF
    )
    golden.assert_matches("glm_logit_pooled_women", fit.tidy())


def test_regtermtest(logit_fit, golden: Golden) -> None:
    expected = golden.case("regtermtest_logit_pooled")
    for terms in (["mg_cat"], ["race"], ["educ"], ["mg_cat", "educ"]):
        test = regtermtest(logit_fit, terms)
        exp = expected[" + ".join(terms)]
        assert test.f_stat == pytest.approx(exp["statistic"], rel=1e-6)
        assert test.p_value[0] == pytest.approx(exp["p_value"], rel=1e-6)
        assert test.den_df == exp["df"]
        assert test.num_df == exp["n"]
        tidy = test.tidy()
        assert tidy.columns == [
            "term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
            "df", "n",
        ]  # fmt: skip
        assert tidy["estimate"].null_count() == 1


def test_interaction_and_p_for_interaction(diet: SurveyDesign, golden: Golden) -> None:
    """Interactions go through formulaic; names map to R's and the joint Wald F matches."""
    fit = svyglm(
        "vitd_lt50 ~ mg_cat * sex + age + race + bmi + age:bmi",
        diet,
        family="quasibinomial",
        reference=REF,
    )
    golden.assert_matches("glm_logit_interaction", fit.tidy())
    test = regtermtest(fit, "mg_cat:sex")
    exp = golden.case("regtermtest_interaction")["mg_cat:sex"]
    assert test.f_stat == pytest.approx(exp["statistic"], rel=1e-6)
    assert test.p_value[0] == pytest.approx(exp["p_value"], rel=1e-6)
    assert (test.num_df, test.den_df) == (exp["n"], exp["df"])
