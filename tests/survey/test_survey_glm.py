"""svyglm (logistic, linear, poisson) and regtermtest against R's survey (golden.csv)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import NhanesError
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


def test_a_start_at_the_fit_gives_the_same_fit_and_a_wrong_one_is_refused(
    diet: SurveyDesign, logit_fit
) -> None:
    """R's ``svyglm(start = )``: IRLS started at the fitted coefficients (as a replicate refit
    starts) stops at the same limit, within the convergence rule; a start of the wrong
    length is a typed error naming the model's columns."""
    again = svyglm(LOGIT, diet, family="quasibinomial", reference=REF, start=logit_fit.estimate)
    np.testing.assert_allclose(again.estimate, logit_fit.estimate, rtol=1e-7, atol=1e-9)
    # the same within the convergence rule (R's epsilon 1e-8 on the deviance's change)
    np.testing.assert_allclose(again.tidy()["std_error"], logit_fit.tidy()["std_error"], rtol=1e-4)
    moved = np.asarray(logit_fit.estimate) * 1.02  # a start near it (a replicate's): the same
    farther = svyglm(LOGIT, diet, family="quasibinomial", reference=REF, start=moved)
    np.testing.assert_allclose(farther.estimate, logit_fit.estimate, rtol=1e-6, atol=1e-8)
    with pytest.raises(NhanesError, match=r"start has 3 coefficient\(s\); the model .* has 20"):
        svyglm(LOGIT, diet, family="quasibinomial", reference=REF, start=np.zeros(3))


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


def test_an_sql_condition_as_the_outcome() -> None:
    """``"x < 30 ~ …"`` fits the 0/1 outcome a precomputed column gives (null stays missing),
    shows the user's formula, and is checked as every specification expression is."""
    rng = np.random.default_rng(3)
    n = 600
    x = rng.normal(40, 15, n)
    x[:25] = np.nan  # unknown 25(OH)D: the outcome is missing, not "not deficient"
    frame = pl.DataFrame(
        {
            "s": np.repeat(np.arange(1, 7), n // 6),
            "p": np.tile(np.repeat([1, 2], n // 12), 6),
            "w": rng.uniform(1, 3, n),
            "age": rng.uniform(20, 80, n),
            "vitd": x,
        }
    ).with_columns(pl.col("vitd").fill_nan(None))
    design = SurveyDesign(frame, strata="s", psu="p", weights="w")
    by_condition = svyglm("vitd < 30 ~ age", design, family="quasibinomial")
    column = design.update(low=pl.col("vitd") < 30)
    by_column = svyglm("low ~ age", column, family="quasibinomial")
    assert by_condition.coef == by_column.coef and by_condition.se == by_column.se
    assert int(by_condition.n[0]) == n - 25
    assert by_condition.formula == "vitd < 30 ~ age"
    words = svyglm("age between 20 and 50 ~ vitd", design, family="quasibinomial")
    mid = design.update(mid=pl.col("age").is_between(20, 50))
    assert words.coef == svyglm("mid ~ vitd", mid, family="quasibinomial").coef  # any case
    with pytest.raises(NhanesError, match=r"the function read_csv\(\) is not allowed"):
        svyglm("read_csv('x') = 1 ~ age", design, family="quasibinomial")
    as_formulaic = svyglm("I(age > 50) ~ vitd", design, family="quasibinomial")
    assert len(as_formulaic.terms) == 2


def test_an_enum_column_is_a_factor_in_its_levels_order(diet: SurveyDesign, logit_fit) -> None:
    """An Enum (the analytic dataset's categories) fitted on a domain is R's factor: its
    first level the reference. It used to fail with an IndexError on a domain."""
    levels = ["3", *sorted(set(diet.frame["race"].drop_nulls().to_list()) - {"3"})]
    enum = diet.update(race=diet.frame["race"].cast(pl.Enum(levels)))
    fit = svyglm(LOGIT, enum, family="quasibinomial")
    ours, golden_matched = fit.tidy(), logit_fit.tidy()
    joined = golden_matched.join(ours, on="term", suffix="_enum")
    assert joined.height == golden_matched.height == ours.height
    for column in ("estimate", "std_error"):
        assert np.allclose(joined[column], joined[f"{column}_enum"], rtol=1e-12, atol=0)
