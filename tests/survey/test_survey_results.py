"""Every estimator's result has the interface R and statsmodels users expect: ``coef``, ``se``,
``vcov``, ``confint(level=…)``, ``summary()``, ``tidy(exponentiate=…)`` and a notebook view."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import SurveyDesign, svyciprop, svyglm, svymean


@pytest.fixture(scope="module")
def design() -> SurveyDesign:
    rng = np.random.default_rng(7)
    n = 480
    frame = pl.DataFrame(
        {
            "sdmvstra": np.repeat(np.arange(1, 7), n // 6),
            "sdmvpsu": np.tile(np.repeat([1, 2], n // 12), 6),
            "wt_mec": rng.uniform(1, 3, n),
            "age": rng.uniform(20, 80, n),
            "sex": rng.choice(["male", "female"], n),
        }
    )
    frame = frame.with_columns(low=(pl.col("age") / 100 + pl.Series(rng.uniform(0, 1, n))) > 0.9)
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def test_coef_se_and_vcov_follow_the_tidy_table(design: SurveyDesign) -> None:
    fit = svyglm("low ~ age + sex", design, family="quasibinomial", reference={"sex": "male"})
    tidy = fit.tidy()
    assert list(fit.coef) == tidy["term"].to_list() == ["Intercept", "age", "sex[T.female]"]
    assert list(fit.coef.values()) == tidy["estimate"].to_list()
    assert list(fit.se.values()) == tidy["std_error"].to_list()
    assert fit.vcov is not None
    assert np.sqrt(np.diag(fit.vcov)) == pytest.approx(tidy["std_error"].to_numpy(), rel=1e-12)


def test_confint_at_another_level_is_the_estimators_own(design: SurveyDesign) -> None:
    """A Wald interval at 90% from a 95% result equals the estimator asked for 90%."""
    mean95 = svymean("age", design)
    mean90 = svymean("age", design, level=0.90)
    assert mean95.confint().equals(mean95.tidy().select("term", "conf_low", "conf_high"))
    again = mean95.confint(0.90)
    assert again["conf_low"][0] == pytest.approx(mean90.conf_low[0], rel=1e-12)
    assert again["conf_high"][0] == pytest.approx(mean90.conf_high[0], rel=1e-12)


def test_a_non_wald_interval_is_not_recomputed_as_one(design: SurveyDesign) -> None:
    """svyciprop's logit interval at another level needs the estimator again: one line."""
    share = svyciprop("low", design)
    assert share.confint()["conf_low"][0] == share.conf_low[0]
    with pytest.raises(EstimationError, match="not Wald intervals: ask the estimator again"):
        share.confint(0.90)


def test_summary_and_the_notebook_view(design: SurveyDesign) -> None:
    fit = svyglm("low ~ age", design, family="quasibinomial")
    text = fit.summary()
    lines = text.splitlines()
    assert "; df 5;" in lines[0] and "95% intervals" in lines[0]
    assert lines[1].split()[:3] == ["term", "Estimate", "Std."]
    assert [line.split()[0] for line in lines[2:]] == ["Intercept", "age"]
    html = fit._repr_html_()
    assert "<table" in html and "age" in html
    assert fit.tidy(exponentiate=True)["estimate"][1] == pytest.approx(
        float(np.exp(fit.coef["age"])), rel=1e-12
    )
