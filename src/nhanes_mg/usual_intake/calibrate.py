"""Regression calibration: each person's expected usual intake given their recalls and the
outcome model's covariates, E[T | recalls, Z], from the NCI measurement-error model — the
exposure a diet–outcome model uses instead of one or two 24-hour recalls.

The model is the NCI amount model of :mod:`nhanes_mg.usual_intake.model` (Box-Cox λ, person
effect u, day-to-day error ε), for person ``i`` and recall ``j``::

    g_λ(R_ij) = x_ij'β + u_i + ε_ij,   u_i ~ N(0, σ_u²),   ε_ij ~ N(0, σ_e²)

with ``x_ij`` the intercept, a day-2 indicator, a weekend indicator and **every covariate of
the outcome model** (NCI's requirement: a calibration model without them biases the
calibrated slope). Given the parameters the person effect's posterior is normal, so nothing
needs quadrature over u: with ``r_ij = g_λ(R_ij) - x_ij'β`` over the ``n_i`` recalls,

    u_i | R_i ~ N(m_i, v_i),  m_i = σ_u² Σ_j r_ij / (n_i σ_u² + σ_e²),
                              v_i = σ_u² σ_e² / (n_i σ_u² + σ_e²).

Usual intake is the long-run mean over days, ``T_i = E_ε[g⁻¹(η_i + u_i + ε)]`` (``η_i`` the
day-1 row, weekdays and weekend days weighted 4/7 and 3/7 as the usual-intake distribution
is), so

    E[T_i | R_i, Z_i] = E[g⁻¹(η_i + m_i + √(v_i + σ_e²) W)],   W ~ N(0, 1),

a one-dimensional Gauss–Hermite integral (:data:`N_NODES` nodes) — the integral of NCI's
INDIVINT macro, exact in u. For a total intake the person's supplement average is added to the
calibrated food intake, as the usual-intake distribution does. Written here because no Python
library fits the NCI model (NCI's own tools are SAS macros and the R package ``ncimultivar``).

For the variance the whole chain — this model, the predictions and the outcome model — is
refitted for every replicate weight (:func:`calibrate` with ``start``, from
:mod:`nhanes_mg.study.models`), so the calibration model's uncertainty is in the SE.

Examples
--------
>>> rng = np.random.default_rng(3)
>>> n = 4000
>>> usual = rng.lognormal(5.6, 0.3, n)                       # true usual intake
>>> recalls = usual[:, None] * rng.lognormal(-0.08, 0.4, (n, 2))
>>> frame = pl.DataFrame({
...     "seqn": np.arange(n), "wt_diet1": np.ones(n), "recall_ok_d1": np.ones(n, bool),
...     "recall_ok_d2": np.ones(n, bool), "weekend_d1": np.zeros(n, bool),
...     "weekend_d2": np.zeros(n, bool), "mg_food_d1": recalls[:, 0],
...     "mg_food_d2": recalls[:, 1]})
>>> cal = calibrate_intake(frame, "mg", basis="food")
>>> predicted = cal.frame()["mg_usual_rc"].to_numpy()
>>> bool(np.var(predicted) < np.var(recalls[:, 0]))         # shrunk toward the mean
True
>>> round(float(np.corrcoef(predicted, usual)[0, 1]), 2) > round(
...     float(np.corrcoef(recalls[:, 0], usual)[0, 1]), 2)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import polars as pl
from numpy.typing import NDArray

from nhanes_mg.errors import EstimationError
from nhanes_mg.usual_intake.distrib import WEEKEND_SHARE
from nhanes_mg.usual_intake.model import (
    AmountFit,
    RotatedRecalls,
    boxcox_of_log,
    fit_amount_model,
    inverse_boxcox,
    replace_zeros,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

# Gauss–Hermite nodes of the one-dimensional integral: 20 agree with 80 to ~1e-14 relative
# (tests/test_usual_intake_calibrate.py; Mg on the mirror too). Where the transform's floor at
# 0 kinks the integrand (Ca on the food basis) no rule gets much past 1e-8: there 40 and 80
# nodes differ by 1.5e-8, 20 and 40 by 4.5e-8.
N_NODES = 20
_NODES, _WEIGHTS = np.polynomial.hermite_e.hermegauss(N_NODES)
_WEIGHTS = _WEIGHTS / np.sqrt(2.0 * np.pi)  # a rule for E[f(W)], W ~ N(0, 1)
BASES = ("food", "food+supplements")
PREDICTED = "{nutrient}_usual_rc"  # the column of the calibrated usual intake


@dataclass(frozen=True)
class CalibrationData:
    """Everything the calibration needs that does not change with the weights: the persons
    (``rows`` of the frame), their recalls ``y`` (n, 2; nan without day 2), the design rows
    ``X`` (n, 2, p) of the measurement-error model and the supplement averages."""

    nutrient: str
    basis: str
    covariates: tuple[str, ...]
    columns: tuple[str, ...]
    rows: NDArray[np.int64]
    seqn: NDArray[np.int64]
    y: FloatArray
    X: FloatArray
    supplement: FloatArray

    @property
    def n(self) -> int:
        return len(self.rows)

    @cached_property
    def log_y(self) -> FloatArray:
        """``log y`` once for every prediction (the replicates change only the fit)."""
        return np.log(self.y)

    @cached_property
    def rotated(self) -> RotatedRecalls:
        """The recalls rotated once for every refit (the replicates change only weights)."""
        return RotatedRecalls(self.y, self.X)


@dataclass(frozen=True)
class Calibration:
    """A fitted calibration: the model (:class:`~nhanes_mg.usual_intake.model.AmountFit`)
    and each person's E[usual intake | recalls, covariates] (``predicted``, the unit of the
    recalls per day; food plus supplements for that basis)."""

    data: CalibrationData
    fit: AmountFit
    predicted: FloatArray

    def frame(self) -> pl.DataFrame:
        """``seqn`` and the calibrated intake (``mg_usual_rc``), one row per person."""
        name = PREDICTED.format(nutrient=self.data.nutrient)
        return pl.DataFrame({"seqn": self.data.seqn, name: self.predicted})

    def full_length(self, height: int) -> FloatArray:
        """The predictions at their frame rows (nan for persons without one)."""
        out = np.full(height, np.nan)
        out[self.data.rows] = self.predicted
        return out


def calibration_data(
    frame: pl.DataFrame,
    nutrient: str = "mg",
    covariates: Sequence[str] = (),
    *,
    basis: str = "food+supplements",
    weight: str = "wt_diet1",
    rows: BoolArray | None = None,
) -> CalibrationData:
    """The persons of ``frame`` with a reliable day-1 recall, a positive ``weight`` and every
    covariate known (within ``rows`` when given), and the model's design.

    Covariates: numeric (and boolean) columns enter as they are, centred; text and
    categorical columns as indicators of each level but the first.
    """
    if basis not in BASES:
        raise EstimationError(f"calibration: basis must be one of {', '.join(BASES)}")
    need = [f"{nutrient}_food_d1", f"{nutrient}_food_d2", "recall_ok_d1", "recall_ok_d2",
            "weekend_d1", "weekend_d2", weight, "seqn", *covariates]  # fmt: skip
    if basis == "food+supplements":
        need.append(f"{nutrient}_supp")
    absent = [c for c in need if c not in frame.columns]
    if absent:
        raise EstimationError(f"calibration: the frame has no column {', '.join(absent)}")
    keep = (
        pl.col("recall_ok_d1").fill_null(False)
        & pl.col(f"{nutrient}_food_d1").is_not_null()
        & (pl.col(weight).fill_null(0.0) > 0)
    )
    for c in covariates:
        keep = keep & pl.col(c).is_not_null()
    mask = frame.select(keep.alias("_k"))["_k"].to_numpy()
    if rows is not None:
        mask = mask & np.asarray(rows, dtype=bool)
    index = np.flatnonzero(mask)
    if len(index) < 10:
        raise EstimationError(f"calibration: only {len(index)} persons with a reliable recall")
    sub = frame[index]
    d1 = sub[f"{nutrient}_food_d1"].cast(pl.Float64).to_numpy()
    ok2 = sub["recall_ok_d2"].fill_null(False).to_numpy()
    d2 = np.where(
        ok2, sub[f"{nutrient}_food_d2"].cast(pl.Float64).fill_null(np.nan).to_numpy(), np.nan
    )
    y, _ = replace_zeros(np.column_stack([d1, d2]))
    weekend = np.column_stack([
        sub["weekend_d1"].fill_null(False).cast(pl.Float64).to_numpy(),
        sub["weekend_d2"].fill_null(False).cast(pl.Float64).to_numpy(),
    ])  # fmt: skip
    person, names = _covariate_matrix(sub, covariates)
    has_day2 = bool(np.any(~np.isnan(y[:, 1])))
    base = ["intercept", *(["day2"] if has_day2 else []), "weekend"]
    p = len(base) + person.shape[1]
    X = np.zeros((len(index), 2, p))
    X[:, :, 0] = 1.0
    if has_day2:
        X[:, 1, 1] = 1.0
    X[:, :, len(base) - 1] = weekend
    X[:, :, len(base) :] = person[:, None, :]
    # a column that does not vary among the recalls (no weekend recall, a level nobody has)
    # cannot be estimated: left out
    observed = np.concatenate([X[:, 0, :], X[~np.isnan(y[:, 1]), 1, :]])
    varies = [j == 0 or float(np.ptp(observed[:, j])) > 0 for j in range(p)]
    names = [n for n, keep_it in zip((*base, *names), varies, strict=True) if keep_it]
    X = X[:, :, varies]
    supplement = (
        sub[f"{nutrient}_supp"].cast(pl.Float64).fill_null(0.0).to_numpy()
        if basis == "food+supplements"
        else np.zeros(len(index))
    )
    return CalibrationData(
        nutrient, basis, tuple(covariates), tuple(names), index.astype(np.int64),
        sub["seqn"].cast(pl.Int64).to_numpy(), y, X, supplement,
    )  # fmt: skip


def _covariate_matrix(sub: pl.DataFrame, covariates: Sequence[str]) -> tuple[FloatArray, list[str]]:
    columns: list[FloatArray] = []
    names: list[str] = []
    for c in covariates:
        series = sub[c]
        if series.dtype == pl.Boolean or series.dtype.is_numeric():
            values = series.cast(pl.Float64).to_numpy()
            columns.append(values - values.mean())
            names.append(c)
            continue
        text = series.cast(pl.String)
        levels = sorted(text.unique().to_list())
        for level in levels[1:]:
            columns.append((text == level).cast(pl.Float64).to_numpy())
            names.append(f"{c}[{level}]")
    if not columns:
        return np.zeros((sub.height, 0)), []
    return np.column_stack(columns), names


def predict(data: CalibrationData, fit: AmountFit) -> FloatArray:
    """E[usual intake | recalls, covariates] of each person of ``data`` under ``fit``."""
    z = boxcox_of_log(data.log_y, fit.lam)  # nan stays nan
    eta_days = np.einsum("ndp,p->nd", data.X, fit.beta)
    resid = z - eta_days
    n_i = np.sum(~np.isnan(resid), axis=1)
    total = np.nansum(resid, axis=1)
    su2, se2 = max(fit.sigma_u2, 0.0), fit.sigma_e2
    denom = n_i * su2 + se2
    m = su2 * total / denom
    v = su2 * se2 / denom
    spread = np.sqrt(v + se2)
    day1 = data.X[:, 0, :].copy()
    weekend = data.columns.index("weekend") if "weekend" in data.columns else None
    if "day2" in data.columns:
        day1[:, data.columns.index("day2")] = 0.0
    shares = ((0.0, 1.0 - WEEKEND_SHARE), (1.0, WEEKEND_SHARE)) if weekend else ((0.0, 1.0),)
    out = np.zeros(data.n)
    for value, share in shares:
        if weekend is not None:
            day1[:, weekend] = value
        centre = day1 @ fit.beta + m
        points = centre[:, None] + spread[:, None] * _NODES[None, :]
        out += share * (inverse_boxcox(points, fit.lam) @ _WEIGHTS)
    return out + data.supplement


def calibrate(
    data: CalibrationData, weights: FloatArray, start: AmountFit | None = None
) -> Calibration:
    """Fit the measurement-error model with ``weights`` (one per person of ``data``) and
    predict; ``start``: the full-sample fit, when refitting a replicate."""
    w = np.asarray(weights, dtype=np.float64)
    if not np.any(w > 0):
        raise EstimationError("calibration: no person with a positive weight")
    fit = fit_amount_model(data.y, data.X, w, data.columns, start=start, rotated=data.rotated)
    return Calibration(data, fit, predict(data, fit))


def calibrate_intake(
    frame: pl.DataFrame,
    nutrient: str = "mg",
    covariates: Sequence[str] = (),
    *,
    basis: str = "food+supplements",
    weight: str = "wt_diet1",
    rows: BoolArray | None = None,
) -> Calibration:
    """Regression calibration of a nutrient's intake (see the module docstring).

    Parameters
    ----------
    frame : polars.DataFrame
        The analytic dataset (or any frame with ``seqn``, the two recall days of the
        nutrient, ``recall_ok_d1/d2``, ``weekend_d1/d2``, the weight and the covariates).
    nutrient : str
        ``"mg"`` or ``"ca"`` (any ``{nutrient}_food_d1/d2`` pair).
    covariates : sequence of str
        The outcome model's covariates (all of them: NCI's requirement).
    basis : {"food+supplements", "food"}
        Total usual intake (calibrated food plus the person's supplement average) or food.
    weight : str
        The weight of the measurement-error model (the NCI method's: the day-1 weight).
    rows : boolean array, optional
        Fit and predict only for these rows (the outcome model's sample).

    Returns
    -------
    Calibration
        ``.frame()`` gives ``seqn`` and ``{nutrient}_usual_rc``; ``.fit`` the model.
    """
    data = calibration_data(frame, nutrient, covariates, basis=basis, weight=weight, rows=rows)
    weights = frame[weight].cast(pl.Float64).to_numpy()[data.rows]
    return calibrate(data, weights)
