"""The one place usual intake gets its replicate weights from.

:func:`replicate_design` takes a design's rows — stratum, PSU and full-sample weight of every
row of the cycles estimated together (the whole design, not only the persons summarised) — and
returns :class:`ReplicateWeights`: the full weights, the ``n × R`` replicate-weight matrix, the
variance function that turns replicate estimates into a variance, and the design degrees of
freedom. Nothing else in :mod:`nhanes_mg.usual_intake` builds replicates.

The construction is the survey engine's (:func:`nhanes_mg.survey.as_svrepdesign`, R's
``as.svrepdesign(design, type = "Fay", fay.rho = 0.3)``): Fay's balanced repeated replication
with ρ = 0.3, one Hadamard assignment (R's ``hadamard()``: 16 replicates for 15 strata, 20 for
2007-2008's 16, 32 for two pooled cycles) over all the strata given — for pooled cycles, the
strata of every cycle (their codes are distinct across cycles; the caller makes them so).
Strata with three PSUs (2009-2012) are split into two half-samples, the first PSU against the
others (R's ``large = "merge"``). Variances are R's ``svrVar`` with ``mse = TRUE``: centred on
the full-sample estimate, ``Σ_r (θ_r - θ)² / (R (1 - ρ)²)``, as the NCI macros' BRR. Degrees
of freedom: R's ``degf()`` of the replicate design (the rank of the replicate weights minus 1;
the number of strata for two PSUs per stratum).

Examples
--------
>>> strata = np.array([1, 1, 2, 2]); psu = np.array([1, 2, 1, 2])
>>> rw = replicate_design(strata, psu, np.ones(4))
>>> rw.n_replicates, rw.df, rw.repweights.shape
(4, 2.0, (4, 4))
>>> float(rw.variance(np.array([1.0]), np.array([[1.7], [0.3], [1.0], [1.0]]))[0])
0.5
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from nhanes_mg.errors import DesignError
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning
from nhanes_mg.survey.replicate import as_svrepdesign

FloatArray = NDArray[np.float64]
FAY_RHO = 0.3


@dataclass(frozen=True)
class ReplicateWeights:
    """Full-sample weights ``weights`` (n,), replicate weights ``repweights`` (n, R), the
    ``variance(estimate (S,), replicates (R, S)) -> (S,)`` function (``covariance``: the
    full S x S matrix) and the design ``df``."""

    weights: FloatArray
    repweights: FloatArray
    variance: Callable[[FloatArray, FloatArray], FloatArray]
    df: float
    fay_rho: float
    method: str
    # (estimate (S,), replicates (R, S)) -> the S x S covariance (R's svrVar, mse = TRUE)
    covariance: Callable[[FloatArray, FloatArray], FloatArray] | None = None

    @property
    def n_replicates(self) -> int:
        return int(self.repweights.shape[1])


def replicate_design(
    strata: NDArray[np.generic],
    psu: NDArray[np.generic],
    weights: FloatArray,
    *,
    n_replicates: int | None = None,
    fay_rho: float = FAY_RHO,
) -> ReplicateWeights:
    """Fay-BRR replicate weights of one design (see the module docstring).

    ``n_replicates``: ``None`` for the design's own number, ``0`` for none (point estimates
    only; ``df`` is then NaN); any other number must be the design's.
    """

    w = np.nan_to_num(np.asarray(weights, dtype=np.float64))
    if n_replicates == 0:

        def none(estimate: FloatArray, replicates: FloatArray) -> FloatArray:
            return np.full(np.shape(estimate), np.nan)

        return ReplicateWeights(w, np.zeros((len(w), 0)), none, float("nan"), fay_rho, "none")
    frame = pl.DataFrame(
        {
            "stratum": np.asarray(strata, dtype=np.float64),
            "psu": np.asarray(psu, dtype=np.float64),
            "weight": w,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SurveyWarning)
        base = SurveyDesign(
            frame, strata="stratum", psu="psu", weights="weight", allow_zero_weights=True
        )
        design = as_svrepdesign(base, type="Fay", fay_rho=fay_rho, mse=True, large="merge")
    if n_replicates is not None and n_replicates != design.n_replicates:
        raise DesignError(
            f"the design's Fay-BRR replicates are {design.n_replicates} (R's Hadamard order for "
            f"its {base.n_strata} strata), not {n_replicates}: leave the number of replicates "
            "to the design, or give 0 for none"
        )

    def variance(estimate: FloatArray, replicates: FloatArray) -> FloatArray:
        return np.diag(design.replicate_variance(estimate, replicates)).copy()

    def covariance(estimate: FloatArray, replicates: FloatArray) -> FloatArray:
        return np.asarray(design.replicate_variance(estimate, replicates), dtype=np.float64)

    return ReplicateWeights(
        w,
        np.ascontiguousarray(design.replicate_weights),
        variance,
        float(design.df),
        fay_rho,
        "Fay BRR (survey.as_svrepdesign)",
        covariance,
    )
