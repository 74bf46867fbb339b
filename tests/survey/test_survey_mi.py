"""micombine (Rubin's rules) against R's mitools::MIcombine on svyglm fits of five imputations
of the 2005-2006 exam frame (tests/golden/survey/make_golden_mi.R, golden_mi.csv): Taylor
designs with Rubin's df and with Barnard–Rubin's (df.complete), and Fay-BRR replicate
designs. Tolerance: 1e-8 relative on estimates, SEs, intervals, statistics, P values, df and
the fraction of missing information."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import SurveyDesign, as_svrepdesign, svycoxph, svyglm, svymean
from nhanes_mg.survey.mi import ImputationDesigns, MIResult, micombine
from nhanes_mg.survey.results import SurveyResult

import golden_data
from golden_data import GOLDEN_DIR, Golden

pytestmark = pytest.mark.mirror

FORMULA = "vitd_lt50 ~ age + sex + pir + bmi"
REL = 1e-8


@pytest.fixture(scope="module")
def golden_mi() -> Golden:
    return Golden(GOLDEN_DIR / "golden_mi.csv")


@pytest.fixture(scope="module")
def imputed(exam: pl.DataFrame, golden_mi: Golden) -> list[pl.DataFrame]:
    """The five imputations of make_golden_mi.R (the same rule, so no engine is involved)."""
    out = []
    for m in range(1, 6):
        seqn = pl.col("seqn")
        out.append(exam.with_columns(
            pir=pl.coalesce("pir", ((seqn * m) % 50) / 10),
            bmi=pl.coalesce("bmi", 18 + ((seqn * (m + 2)) % 25)),
        ))  # fmt: skip
    assert float(out[2]["pir"].sum()) == pytest.approx(golden_mi.check("imputed:sum_pir_m3"))
    assert float(out[4]["bmi"].sum()) == pytest.approx(golden_mi.check("imputed:sum_bmi_m5"))
    return out


def _design(frame: pl.DataFrame) -> SurveyDesign:
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def _check(golden_mi: Golden, case: str, combined: MIResult) -> None:
    golden_mi.assert_matches(case, combined.tidy(), rel=REL)
    expected = golden_mi.case(f"{case}:missinfo")
    for term, value in zip(combined.terms, combined.missing_information, strict=True):  # type: ignore[arg-type]
        assert value == pytest.approx(expected[golden_data.r_name(term)]["estimate"], rel=REL)


def test_taylor_fits_combined_as_micombine(imputed: list[pl.DataFrame], golden_mi: Golden) -> None:
    fits = [svyglm(FORMULA, _design(d).subset(pl.col("age") >= 20), family="quasibinomial")
            for d in imputed]  # fmt: skip
    _check(golden_mi, "mi_glm_taylor", micombine(fits))
    _check(golden_mi, "mi_glm_taylor_dfcomplete", micombine(fits, fits[0].df_residual))


def test_replicate_fits_combined_as_micombine(
    imputed: list[pl.DataFrame], golden_mi: Golden
) -> None:
    fits = []
    for d in imputed:
        replicate = as_svrepdesign(_design(d), type="Fay", fay_rho=0.3)
        fits.append(svyglm(FORMULA, replicate.subset(pl.col("age") >= 20), family="quasibinomial"))
    _check(golden_mi, "mi_glm_fay", micombine(fits))


def _one(value: float, terms: tuple[str, ...] = ("b",)) -> SurveyResult:
    one = np.array([value])
    return SurveyResult(list(terms), one, one, one, one, one, one, one, np.array([10]),
                        vcov=np.eye(1))  # fmt: skip


def test_identical_imputations_have_no_missing_information() -> None:
    combined = micombine([_one(2.0), _one(2.0), _one(2.0)])
    assert combined.between is not None and combined.between[0] == 0
    assert math.isinf(combined.df[0]) and combined.std_error[0] == 1.0


def test_bad_input_is_one_line() -> None:
    with pytest.raises(EstimationError, match="at least 2 imputations"):
        micombine([_one(1.0)])
    with pytest.raises(EstimationError, match="same terms"):
        micombine([_one(1.0), _one(1.0, ("c",))])


def test_cox_fits_combined_as_micombine(mortality: pl.DataFrame, golden_mi: Golden) -> None:
    seqn = pl.col("seqn")
    fits = []
    for m in range(1, 6):
        frame = mortality.with_columns(
            pir=pl.coalesce("pir", ((seqn * m) % 50) / 10),
            bmi=pl.coalesce("bmi", 18 + ((seqn * (m + 2)) % 25)),
        )
        design = SurveyDesign.pooled(frame, cycle_col="cycle", weights="wt_mec")
        adults = design.subset((pl.col("age") >= 20) & pl.col("eligible"))
        fits.append(svycoxph("Surv(months, died) ~ age + sex + pir + bmi", adults))
    _check(golden_mi, "mi_cox_taylor", micombine(fits))


def test_estimators_take_imputation_designs(imputed: list[pl.DataFrame], golden_mi: Golden) -> None:
    """svyglm and svymean on ImputationDesigns: the same combined result as micombine of the
    fits by hand, and R's (a descriptive estimate: the mean BMI of adults)."""
    designs = ImputationDesigns.from_frames(
        imputed, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec"
    ).subset(pl.col("age") >= 20)
    combined = svyglm(FORMULA, designs, family="quasibinomial")
    assert isinstance(combined, MIResult)
    _check(golden_mi, "mi_glm_taylor", combined)
    _check(golden_mi, "mi_mean_bmi", svymean("bmi", designs))  # type: ignore[arg-type]
    assert combined.confint().height == 5 and combined.n_imputations == 5
