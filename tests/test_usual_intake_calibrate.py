"""Regression calibration (usual_intake/calibrate.py) by simulation: true usual intakes, two
recalls with known day-to-day error on the log scale (within- to between-person variance
ratio 2.25, about magnesium's), an outcome that depends on the true intake. The calibrated
slope recovers the true slope while the naive slope (day-1 recall) is attenuated by the
attenuation factor λ = cov(T, R | Z) / var(R | Z). Linear and logistic outcomes."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import SurveyDesign, svyglm
from nhanes_mg.usual_intake.calibrate import calibrate_intake, calibration_data

SD_BETWEEN, SD_WITHIN = 0.30, 0.45  # log scale: ratio of variances 2.25


def _simulate(rng: np.random.Generator, n: int, outcome: str, slope: float) -> pl.DataFrame:
    z = rng.normal(0, 1, n)  # a covariate of the outcome model, related to intake
    log_usual = 5.55 + 0.1 * z + rng.normal(0, SD_BETWEEN, n)
    usual = np.exp(log_usual)  # median ~ 257 mg/day
    # recalls: unbiased for usual intake on the original scale (E[R | T] = T)
    errors = rng.normal(-(SD_WITHIN**2) / 2, SD_WITHIN, (n, 2))
    recalls = usual[:, None] * np.exp(errors)
    signal = slope * (usual - 257.0) / 100 + 0.3 * z
    if outcome == "linear":
        y = 10 + signal + rng.normal(0, 1.0, n)
    else:
        y = (rng.random(n) < 1 / (1 + np.exp(-(-1.0 + signal)))).astype(float)
    return pl.DataFrame(
        {
            "seqn": np.arange(n),
            "sdmvstra": np.repeat(np.arange(1, 16), -(-n // 15))[:n],
            "sdmvpsu": np.tile([1, 2], -(-n // 2))[:n],
            "wt_diet1": rng.uniform(0.5, 1.5, n),
            "recall_ok_d1": np.ones(n, bool),
            "recall_ok_d2": rng.random(n) < 0.85,  # some persons with one recall only
            "weekend_d1": rng.random(n) < 3 / 7,
            "weekend_d2": rng.random(n) < 3 / 7,
            "mg_food_d1": recalls[:, 0],
            "mg_food_d2": recalls[:, 1],
            "z": z,
            "usual": usual,
            "y": y,
        }
    )


def _slopes(frame: pl.DataFrame, family: str) -> tuple[float, float, float]:
    """Naive (day-1 recall), calibrated and true-exposure slopes per 100 mg/day."""
    cal = calibrate_intake(frame, "mg", ["z"], basis="food")
    frame = frame.with_columns(
        naive=pl.col("mg_food_d1") / 100,
        calibrated=pl.Series(cal.full_length(frame.height)) / 100,
        true=pl.col("usual") / 100,
    )
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1")
    return tuple(  # type: ignore[return-value]
        svyglm(f"y ~ {x} + z", design, family=family).coef[x]  # type: ignore[arg-type]
        for x in ("naive", "calibrated", "true")
    )


def _attenuation(frame: pl.DataFrame) -> float:
    """λ = cov(T, R | Z) / var(R | Z), from the simulated truth (least squares on Z)."""
    z = np.column_stack([np.ones(frame.height), frame["z"].to_numpy()])
    resid = {}
    for c in ("usual", "mg_food_d1"):
        v = frame[c].to_numpy()
        resid[c] = v - z @ np.linalg.lstsq(z, v, rcond=None)[0]
    return float(np.cov(resid["usual"], resid["mg_food_d1"])[0, 1] / np.var(resid["mg_food_d1"]))


@pytest.mark.parametrize(("family", "slope", "tolerance"), [
    ("gaussian", 2.0, 0.05), ("quasibinomial", -0.6, 0.10)])  # fmt: skip
def test_calibrated_slope_recovers_the_true_slope(
    family: str, slope: float, tolerance: float
) -> None:
    rng = np.random.default_rng(20261207)
    naive, calibrated, attenuation = [], [], []
    for _ in range(12):
        frame = _simulate(rng, 4000, "linear" if family == "gaussian" else "logistic", slope)
        n, c, _ = _slopes(frame, family)
        naive.append(n)
        calibrated.append(c)
        attenuation.append(_attenuation(frame))
    lam = float(np.mean(attenuation))
    assert 0.25 < lam < 0.5  # day-to-day variation as large as magnesium's
    # calibrated: no bias beyond the tolerance (relative, mean over 12 simulated samples)
    assert abs(np.mean(calibrated) / slope - 1) < tolerance, (np.mean(calibrated), slope)
    # naive: attenuated by about λ
    assert abs(np.mean(naive) / slope - lam) < 0.05 + tolerance / 2, (np.mean(naive), lam)


def test_calibrated_intakes_shrink_toward_the_mean_and_keep_it() -> None:
    frame = _simulate(np.random.default_rng(7), 5000, "linear", 1.0)
    cal = calibrate_intake(frame, "mg", ["z"], basis="food")
    predicted = cal.full_length(frame.height)
    w = frame["wt_diet1"].to_numpy()
    day1 = frame["mg_food_d1"].to_numpy()
    assert np.var(predicted) < np.var(day1)
    # the weighted mean of E[T | data] is the weighted mean of the recalls (both ≈ E[T])
    assert abs(np.average(predicted, weights=w) / np.average(day1, weights=w) - 1) < 0.03
    assert set(cal.data.columns) == {"intercept", "day2", "weekend", "z"}


def test_supplements_are_added_and_missing_covariates_leave_persons_out() -> None:
    frame = _simulate(np.random.default_rng(8), 2000, "linear", 1.0).with_columns(
        mg_supp=pl.when(pl.col("seqn") % 4 == 0).then(100.0).otherwise(0.0),
        z=pl.when(pl.col("seqn") == 5).then(None).otherwise(pl.col("z")),
    )
    food = calibrate_intake(frame, "mg", ["z"], basis="food")
    total = calibrate_intake(frame, "mg", ["z"], basis="food+supplements")
    assert 5 not in food.frame()["seqn"].to_list() and food.data.n == 1999
    diff = total.predicted - food.predicted
    np.testing.assert_allclose(diff, np.where(food.data.seqn % 4 == 0, 100.0, 0.0))


def test_categorical_covariates_are_indicators_and_bad_input_is_one_line() -> None:
    frame = _simulate(np.random.default_rng(9), 1500, "linear", 1.0).with_columns(
        sex=pl.when(pl.col("seqn") % 2 == 0).then(pl.lit("female")).otherwise(pl.lit("male"))
    )
    data = calibration_data(frame, "mg", ["z", "sex"], basis="food")
    assert data.columns[-1] == "sex[male]"
    with pytest.raises(EstimationError, match="no column mg_supp"):
        calibration_data(frame, "mg", basis="food+supplements")
    with pytest.raises(EstimationError, match="basis must be one of"):
        calibration_data(frame, "mg", basis="usual")


def test_closed_form_on_the_model_scale() -> None:
    """With λ = 1 (no transform) and two recalls each, E[T | R] is the linear shrinkage of the
    mean recall toward the mean, by k = σu² / (σu² + σe²/2): the calibrated slope of a linear
    outcome is the naive slope on the mean recall divided by k — the closed-form regression
    calibration — to rounding."""
    from nhanes_mg.usual_intake.calibrate import predict
    from nhanes_mg.usual_intake.model import AmountFit

    rng = np.random.default_rng(11)
    n = 3000
    frame = _simulate(rng, n, "linear", 1.0).with_columns(
        recall_ok_d2=pl.lit(True), weekend_d1=pl.lit(False), weekend_d2=pl.lit(False)
    )
    data = calibration_data(frame, "mg", basis="food")
    assert data.columns == ("intercept", "day2")
    su2, se2 = 900.0, 25.0  # small enough that nothing reaches the transform's floor at 0
    fit = AmountFit(1.0, np.array([250.0, 0.0]), su2, se2, data.columns, 0.0, n, n)
    predicted = predict(data, fit)
    mean_recall = data.y.mean(axis=1)
    k = su2 / (su2 + se2 / 2)
    # g(R) = R - 1 at λ = 1, so E[T | R] = 1 + 250 + k (mean R - 1 - 250)
    np.testing.assert_allclose(predicted, 251.0 + k * (mean_recall - 251.0), rtol=1e-9)
    y = frame["y"].to_numpy()[data.rows]
    naive = np.polyfit(mean_recall, y, 1)[0]
    calibrated = np.polyfit(predicted, y, 1)[0]
    assert calibrated == pytest.approx(naive / k, rel=1e-10)


@pytest.mark.parametrize("spread", [1.0, 4.0, 16.0])
def test_the_quadrature_agrees_with_eighty_nodes(monkeypatch, spread) -> None:
    """E[T | R] with :data:`N_NODES` Gauss–Hermite nodes equals the 80-node rule to ~1e-14,
    for the fitted variances and for variances 4 and 16 times larger."""
    from nhanes_mg.usual_intake import calibrate as module

    frame = _simulate(np.random.default_rng(5), 3000, "linear", 1.0)
    cal = calibrate_intake(frame, "mg", ["z"], basis="food")
    fit = replace(cal.fit, sigma_u2=cal.fit.sigma_u2 * spread, sigma_e2=cal.fit.sigma_e2 * spread)
    ours = module.predict(cal.data, fit)
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    monkeypatch.setattr(module, "_NODES", nodes)
    monkeypatch.setattr(module, "_WEIGHTS", weights / np.sqrt(2 * np.pi))
    np.testing.assert_allclose(ours, module.predict(cal.data, fit), rtol=1e-13)
    assert module.N_NODES == 20
