"""svycontrast against R's survey (golden.csv) and its own rules.

Golden cases (``make_golden.R``, section E), compared at a relative tolerance of 1e-6 on
estimate, SE, statistic, p-value, interval and df, and on the covariance between contrasts:
the stratum-specific effects of a joint model with an interaction —

- ``contrast_logit_mg100_sex``: quasibinomial ``svyglm`` of vitamin D < 50 nmol/L on
  magnesium/100 mg × sex (+ age, race, BMI), effect per 100 mg in women and in men;
- ``contrast_logit_mgcat_sex``: the same with magnesium categories q1..q4 × sex: Q4 vs Q1 in
  women (``b[q4] + b[q4:sex2]``) and in men, and Q4 vs Q2 in women;
- ``contrast_cox_vitd10_sex``: ``svycoxph`` of mortality on vitamin D/10 × sex.

R's interval is ``confint(svycontrast(...), df = fit$df.residual)`` for ``svyglm`` and
``df = Inf`` for ``svycoxph``: the fit's own df, which is what ``svycontrast`` uses.
The unit tests need no mirror.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import (
    SurveyDesign,
    regtermtest,
    svycontrast,
    svycoxph,
    svyglm,
    svymean,
)

from golden_data import Golden

REL = 1e-6
REF = {"race": "3"}


def _assert_vcov(golden: Golden, case: str, con) -> float:
    """The covariances between contrasts (``<case>:vcov`` rows, term ``a|b``) within REL."""
    worst = 0.0
    expected = golden.case(case + ":vcov")
    assert len(expected) == len(con.terms) * (len(con.terms) - 1) // 2
    for key, row in expected.items():
        a, b = key.split("|")
        got = con.vcov[con.terms.index(a), con.terms.index(b)]
        assert got == pytest.approx(row["estimate"], rel=REL, abs=0), f"{case} {key}"
        worst = max(worst, abs(got - row["estimate"]) / abs(row["estimate"]))
    return worst


# ------------------------------------------------------------------ golden (real mirror)


@pytest.mark.mirror
def test_contrast_continuous_exposure_by_sex(diet: SurveyDesign, golden: Golden) -> None:
    fit = svyglm(
        "vitd_lt50 ~ mg100 * sex + age + race + bmi", diet, family="quasibinomial", reference=REF
    )
    golden.assert_matches("glm_logit_mg100_sex", fit.tidy(), rel=REL)
    con = svycontrast(
        fit,
        {
            "effect_in_women": {"mg100": 1, "mg100:sex[T.2]": 1},
            "effect_in_men": {"mg100": 1},
        },
    )
    golden.assert_matches("contrast_logit_mg100_sex", con.tidy(), rel=REL)
    _assert_vcov(golden, "contrast_logit_mg100_sex", con)
    assert con.method == "contrast"
    assert con.df[0] == fit.df_residual == 36


@pytest.mark.mirror
def test_contrast_categorical_exposure_by_sex(diet: SurveyDesign, golden: Golden) -> None:
    fit = svyglm(
        "vitd_lt50 ~ mg_cat * sex + age + race + bmi + age:bmi",
        diet,
        family="quasibinomial",
        reference=REF,
    )
    golden.assert_matches("glm_logit_interaction", fit.tidy(), rel=REL)
    q2, q4 = "mg_cat[T.q2]", "mg_cat[T.q4]"
    con = svycontrast(
        fit,
        {
            "q4_in_women": {q4: 1, f"{q4}:sex[T.2]": 1},
            "q4_in_men": {q4: 1},
            "q4_vs_q2_in_women": {q4: 1, q2: -1, f"{q4}:sex[T.2]": 1, f"{q2}:sex[T.2]": -1},
        },
    )
    golden.assert_matches("contrast_logit_mgcat_sex", con.tidy(), rel=REL)
    _assert_vcov(golden, "contrast_logit_mgcat_sex", con)
    ors = con.tidy(exponentiate=True)
    assert np.allclose(ors["estimate"], np.exp(con.estimate), rtol=1e-15)
    assert np.allclose(ors["conf_high"], np.exp(con.conf_high), rtol=1e-15)


@pytest.mark.mirror
def test_contrast_cox_by_sex(mortality: pl.DataFrame, golden: Golden) -> None:
    design = SurveyDesign.pooled(mortality, cycle_col="cycle", weights="wt_mec")
    adults = design.subset((pl.col("age") >= 20) & pl.col("eligible"))
    fit = svycoxph("Surv(months, died) ~ vitd10 * sex + age + race + bmi", adults, reference=REF)
    golden.assert_matches("cox_efron_vitd10_sex", fit.tidy(), rel=REL)
    con = svycontrast(
        fit,
        {
            "vitd10_in_women": {"vitd10": 1, "vitd10:sex[T.2]": 1},
            "vitd10_in_men": {"vitd10": 1},
        },
    )
    golden.assert_matches("contrast_cox_vitd10_sex", con.tidy(), rel=REL)
    _assert_vcov(golden, "contrast_cox_vitd10_sex", con)
    assert math.isinf(con.df[0])


# ------------------------------------------------------------------ unit tests (synthetic)


@pytest.fixture(scope="module")
def toy() -> SurveyDesign:
    rng = np.random.default_rng(11)
    n = 600
    x = rng.normal(size=n)
    women = rng.integers(0, 2, n).astype(float)
    age = rng.uniform(20, 80, n)
    t = rng.exponential(1 / np.exp(-6 + 0.04 * age + 0.3 * x))
    frame = pl.DataFrame(
        {
            "sdmvstra": np.repeat(np.arange(1, 11), 60),
            "sdmvpsu": np.tile([1, 2], 300),
            "wt_mec": rng.uniform(1, 3, n),
            "x": x,
            "women": women,
            "age": age,
            "grp": rng.choice(["a", "b", "c"], n),
            "y": (x * (1 + women) + rng.normal(size=n)) > 0,
            "months": np.minimum(np.ceil(t), 120),
            "died": (t <= 120).astype(int),
        }
    )
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


@pytest.fixture(scope="module")
def logit(toy: SurveyDesign):
    return svyglm("y ~ x * women + age + grp", toy, family="quasibinomial")


def _row(frame: pl.DataFrame, i: int) -> dict[str, object]:
    row = frame.row(i, named=True)
    row.pop("term")
    return row


@pytest.mark.parametrize("exponentiate", [False, True])
def test_one_coefficient_reproduces_the_tidy_row_exactly(logit, exponentiate: bool) -> None:
    tidy = logit.tidy(exponentiate=exponentiate)
    for j, term in enumerate(logit.terms):
        con = svycontrast(logit, {term: {term: 1.0}})
        assert _row(con.tidy(exponentiate=exponentiate), 0) == _row(tidy, j), term
        unit = [0.0] * len(logit.terms)
        unit[j] = 1.0
        assert _row(svycontrast(logit, unit).tidy(exponentiate=exponentiate), 0) == _row(tidy, j)


def test_one_coefficient_cox_and_mean(toy: SurveyDesign) -> None:
    for df in (math.inf, "design"):
        cox = svycoxph("Surv(months, died) ~ x + age", toy, df=df)  # type: ignore[arg-type]
        con = svycontrast(cox, {"x": {"x": 1}})
        assert _row(con.tidy(), 0) == _row(cox.tidy(), 0)
    mean = svymean(["x", "age"], toy)
    con = svycontrast(mean, {"age": {"age": 1}})
    assert _row(con.tidy(), 0) == _row(mean.tidy(), 1)


def test_mapping_and_vector_forms_agree(logit) -> None:
    terms = logit.terms
    women = [1.0 if t in ("x", "x:women") else 0.0 for t in terms]
    by_name = svycontrast(logit, {"in_women": {"x": 1, "x:women": 1}, "men": {"x": 1}})
    by_vector = svycontrast(logit, {"in_women": women, "men": np.eye(len(terms))[1]})
    assert by_name.tidy().equals(by_vector.tidy())
    L = np.array([women, np.eye(len(terms))[1]])
    assert np.allclose(by_name.vcov, L @ logit.vcov @ L.T, rtol=1e-14, atol=0)
    assert np.allclose(by_name.estimate, L @ logit.estimate, rtol=1e-14, atol=0)
    assert by_name.vcov.shape == (2, 2)
    assert np.array_equal(by_name.extra["weights"], L)
    single = svycontrast(logit, women)
    assert single.terms == ["contrast"]  # R names an unnamed contrast "contrast"
    assert single.tidy()["estimate"][0] == by_name.tidy()["estimate"][0]
    assert list(by_name.n) == [logit.n[0]] * 2
    assert by_name.method == "contrast"


def test_level_defaults_to_the_fits(toy: SurveyDesign) -> None:
    fit = svyglm("y ~ x + women", toy, family="quasibinomial", level=0.9)
    con = svycontrast(fit, {"x": {"x": 1}})
    assert con.level == 0.9 and con.conf_low[0] == fit.conf_low[1]
    wide = svycontrast(fit, {"x": {"x": 1}}, level=0.99)
    assert wide.conf_low[0] < con.conf_low[0] and wide.conf_high[0] > con.conf_high[0]


def test_unknown_term_is_named(logit) -> None:
    with pytest.raises(EstimationError, match="'x:men'") as info:
        svycontrast(logit, {"bad": {"x": 1, "x:men": 1}})
    message = str(info.value)
    assert "\n" not in message
    assert "x:women" in message and "grp[T.b]" in message  # lists the known terms


def test_wrong_vector_length_raises(logit) -> None:
    p = len(logit.terms)
    with pytest.raises(EstimationError, match=f"{p - 1} weights but the fit has {p} terms"):
        svycontrast(logit, [1.0] * (p - 1))
    with pytest.raises(EstimationError, match="'named'"):
        svycontrast(logit, {"named": [1.0] * (p + 1)})


def test_bad_inputs_raise(logit, toy: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="no covariance"):
        svycontrast(regtermtest(logit, "grp"), [1.0])
    with pytest.raises(EstimationError, match="no contrasts"):
        svycontrast(logit, {})
    with pytest.raises(EstimationError, match="not a number"):
        svycontrast(logit, {"c": {"x": "one"}})  # type: ignore[dict-item]
    with pytest.raises(EstimationError, match="mapping or a weight vector"):
        svycontrast(logit, "x")  # type: ignore[arg-type]
