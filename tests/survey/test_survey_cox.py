"""svycoxph (Efron and Breslow ties) on linked mortality against R's survey (golden.csv)."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.survey import SurveyDesign, regtermtest, svycoxph

from golden_data import Golden

pytestmark = pytest.mark.mirror

FORMULA = "Surv(months, died) ~ age + sex + race + bmi + vitd10"
REF = {"race": "3"}


@pytest.fixture(scope="module")
def adults(mortality: pl.DataFrame) -> SurveyDesign:
    design = SurveyDesign.pooled(mortality, cycle_col="cycle", weights="wt_mec")
    return design.subset((pl.col("age") >= 20) & pl.col("eligible"))


def _info(golden: Golden, case: str) -> dict[str, float]:
    return {k: v["estimate"] for k, v in golden.case(case + ":info").items()}


@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cox_matches_r(adults: SurveyDesign, golden: Golden, ties: str) -> None:
    fit = svycoxph(FORMULA, adults, ties=ties, reference=REF)  # type: ignore[arg-type]
    case = f"cox_{ties}_mortality"
    golden.assert_matches(case, fit.tidy())
    info = _info(golden, case)
    assert fit.n_events == info["n_events"]
    assert fit.df_residual == info["degf_resid"]


def test_cox_hazard_ratios(adults: SurveyDesign) -> None:
    import numpy as np

    fit = svycoxph(FORMULA, adults, reference=REF)
    hr = fit.tidy(exponentiate=True)
    assert np.allclose(hr["estimate"], np.exp(fit.estimate))
    assert (hr["conf_low"] < hr["estimate"]).all() and (hr["estimate"] < hr["conf_high"]).all()


def test_cox_domain_and_regtermtest(adults: SurveyDesign, golden: Golden) -> None:
    women = adults.subset(pl.col("sex") == "2")
    fit = svycoxph("Surv(months, died) ~ age + race + vitd10", women, reference=REF)
    golden.assert_matches("cox_efron_mortality_women", fit.tidy())
    full = svycoxph(FORMULA, adults, reference=REF)
    test = regtermtest(full, "race")
    exp = golden.case("regtermtest_cox_race")["race"]
    assert test.f_stat == pytest.approx(exp["statistic"], rel=1e-6)
    assert test.p_value[0] == pytest.approx(exp["p_value"], rel=1e-6)
    assert test.den_df == exp["df"]
