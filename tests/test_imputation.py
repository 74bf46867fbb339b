"""study/imputation.py: MICE with predictive mean matching under the design. A simulation in
which a covariate is missing at random given the outcome: the complete-case slope is biased,
the multiply imputed one (micombine of svyglm fits) is not; the same seed gives the same
imputations; categories stay categories; bad input is one line."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.study.imputation import impute
from nhanes_mg.survey import SurveyDesign, micombine, svyglm
from run_support import ShippedResult


def _simulate(rng: np.random.Generator, n: int = 3000) -> pl.DataFrame:
    x = rng.normal(0, 1, n)
    z = 0.5 * x + rng.normal(0, 1, n)
    y = 1 + 2 * x + 0.5 * z + rng.normal(0, 1.5, n)
    # x missing at random given the outcome: mostly where y is high
    p_missing = 1 / (1 + np.exp(-(y - 2.5)))
    x_seen = np.where(rng.random(n) < p_missing, np.nan, x)
    group = np.where(z > 0.3, "high", np.where(z < -0.5, "low", "mid"))
    group_seen = np.where(rng.random(n) < 0.1, None, group)
    return pl.DataFrame(
        {
            "y": y, "x": pl.Series(x_seen).fill_nan(None), "z": z, "group": group_seen,
            "sdmvstra": np.repeat(np.arange(1, 11), n // 10), "sdmvpsu": np.tile([1, 2], n // 2),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )  # fmt: skip


def _slope(frame: pl.DataFrame) -> float:
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
    return svyglm("y ~ x + z", design).coef["x"]


def test_imputation_removes_the_bias_of_complete_cases() -> None:
    rng = np.random.default_rng(5)
    complete_case, imputed, fmi = [], [], []
    for i in range(8):
        frame = _simulate(rng)
        complete_case.append(_slope(frame))
        imps = impute(frame, ["x"], predictors=["y", "z"], weight="w", m=10, seed=i)
        design = [SurveyDesign(f, strata="sdmvstra", psu="sdmvpsu", weights="w")
                  for f in imps.frames]  # fmt: skip
        combined = micombine([svyglm("y ~ x + z", d) for d in design])
        imputed.append(combined.coef["x"])
        assert combined.missing_information is not None
        fmi.append(float(combined.missing_information[1]))
    assert abs(np.mean(complete_case) - 2.0) > 0.15  # selection on the outcome biases it
    assert abs(np.mean(imputed) - 2.0) < 0.06  # tolerance: 3% of the true slope
    assert 0.05 < np.mean(fmi) < 0.6


def test_same_seed_same_imputations_and_categories_stay_categories() -> None:
    frame = _simulate(np.random.default_rng(6), 1000)
    first = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=42)
    again = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=42)
    other = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=43)
    assert all(a.equals(b) for a, b in zip(first.frames, again.frames, strict=True))
    assert not first.frames[0].equals(other.frames[0])
    assert not first.frames[0].equals(first.frames[1])  # independent chains
    assert first.counts == {"x": frame["x"].null_count(), "group": frame["group"].null_count()}
    for f in first.frames:
        assert f["group"].null_count() == 0 and set(f["group"].unique()) <= {"high", "low", "mid"}
        observed = frame["x"].drop_nulls().to_numpy()
        assert np.isin(f["x"].to_numpy(), observed).all()  # PMM: values someone reported
        # the observed values are untouched
        seen = frame["x"].is_not_null().to_numpy()
        np.testing.assert_array_equal(f["x"].to_numpy()[seen], frame["x"].to_numpy()[seen])


def test_bad_input_is_one_line() -> None:
    frame = _simulate(np.random.default_rng(7), 200)
    with pytest.raises(EstimationError, match="no column nope"):
        impute(frame, ["nope"], weight="w")
    with pytest.raises(EstimationError, match="x must be complete"):
        impute(frame, ["group"], predictors=["x"], weight="w")
    with pytest.raises(EstimationError, match="m must be at least 2"):
        impute(frame, ["x"], weight="w", m=1)
    with pytest.raises(EstimationError, match="no observed value"):
        impute(frame.with_columns(x=pl.lit(None, pl.Float64)), ["x"], weight="w")


@pytest.mark.mirror
def test_shipped_imputed_sensitivity_analyses(shipped_result: ShippedResult) -> None:
    """C4's joint model with its covariates multiply imputed: more participants than the
    complete cases, who was imputed said, the fraction of missing information in (0, 1), the
    combined df (Barnard–Rubin) below the design's."""
    result = shipped_result("C4")
    main = result.fit("deficiency_interaction")
    imputed = result.fit("deficiency_interaction", "imputed")
    assert main is not None and imputed is not None and imputed.error is None
    assert imputed.n > main.n and imputed.imputations == 20
    assert imputed.imputed_rows == imputed.n - main.n  # exactly the incomplete cases
    assert dict(imputed.imputed)["pir"] > 0
    assert imputed.missing_information is not None and 0 < imputed.missing_information < 1
    words = "participants with imputed values (family income to poverty ratio"
    assert words in imputed.imputed_text
    rows = result.table.filter(
        (pl.col("sensitivity") == "imputed") & (pl.col("role") == "stratum effect")
    )
    assert rows.height == 2 and (rows["df"] < 90).all() and (rows["df"] % 1 != 0).any()
