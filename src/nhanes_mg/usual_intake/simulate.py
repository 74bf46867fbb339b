"""A simulated two-recall sample for examples and tests of the usual-intake estimation (no NHANES
file needed)."""

from __future__ import annotations

import numpy as np
import polars as pl


def simulate_frame(
    n: int = 4000,
    *,
    seed: int = 0,
    cycle: str = "2005-2006",
    lam: float = 0.25,
    mu: float = 12.4,
    sd_between: float = 1.2,
    sd_within: float = 1.6,
    p_day2: float = 0.9,
    n_strata: int = 15,
) -> pl.DataFrame:
    """A synthetic analytic frame whose usual Mg intake is known (Box-Cox-normal model).

    On the Box-Cox(λ) scale ``T(y_ij) = mu + u_i + e_ij``; every person's usual intake is
    ``E[T⁻¹(mu + u_i + e)]`` over ``e``, stored in ``mg_usual_true`` (computed by fine
    quadrature). The defaults give a Mg-like distribution (usual mean ≈ 280 mg/day, between-
    and within-person CVs ≈ 30% and 40%). Weights are unequal but not informative;
    ``mg_ear`` is a constant 250 and ``mg_rda`` a constant 310 (ages are drawn 19-80).
    ``ca`` columns repeat ``mg``.

    >>> simulate_frame(n=10).height
    10
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, sd_between, n)
    e = rng.normal(0.0, sd_within, (n, 2))
    t = mu + u[:, None] + e
    y = np.power(np.maximum(1.0 + lam * t, 1e-9), 1.0 / lam)
    # true usual intake: E over e of the back-transform, by 200-point Gauss-Hermite
    from numpy.polynomial.hermite_e import hermegauss

    nodes, wq = hermegauss(200)
    wq = wq / wq.sum()
    tt = mu + u[:, None] + sd_within * nodes[None, :]
    true_usual = np.power(np.maximum(1.0 + lam * tt, 0.0), 1.0 / lam) @ wq
    two = rng.random(n) < p_day2
    strata = rng.integers(1, n_strata + 1, n)
    psu = rng.integers(1, 3, n)
    male = rng.random(n) < 0.5
    age = rng.integers(19, 81, n).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n) * 1000.0
    frame = pl.DataFrame(
        {
            "seqn": np.arange(1, n + 1),
            "cycle": [cycle] * n,
            "sdmvstra": strata.astype(np.float64),
            "sdmvpsu": psu.astype(np.float64),
            "wt_diet1": w,
            "age": age,
            "sex": np.where(male, "male", "female"),
            "recall_ok_d1": np.ones(n, dtype=bool),
            "recall_ok_d2": two,
            "weekend_d1": rng.random(n) < 3 / 7,  # no true weekend effect
            "weekend_d2": rng.random(n) < 3 / 7,
            "mg_food_d1": y[:, 0],
            "mg_food_d2": np.where(two, y[:, 1], np.nan),
            "mg_ear": np.full(n, 250.0),
            "mg_rda": np.full(n, 310.0),
            "mg_usual_true": true_usual,
        }
    )
    return frame.with_columns(
        pl.col("mg_food_d1").alias("ca_food_d1"),
        pl.col("mg_food_d2").alias("ca_food_d2"),
        pl.col("mg_ear").alias("ca_ear"),
        pl.col("mg_rda").alias("ca_rda"),
    )
