"""A model analysis on a regression-calibrated exposure, with the variance of the whole chain.

The exposure is replaced by each person's expected usual intake given the recalls and the
outcome model's covariates (:mod:`nhanes_mg.usual_intake.calibrate`). Its uncertainty is part
of the estimate's, so the variance comes from Fay-BRR replicates (ρ = 0.3, the survey engine's
``as_svrepdesign``) of the **whole chain**: for each replicate weight the measurement-error
model is refitted, the intakes predicted again and the outcome model refitted; the covariance
of the coefficients is R's ``svrVar`` of the replicates (``mse = TRUE``), the intervals use
the design's degrees of freedom (``degf + 1 − p``, as ``svyglm`` on a replicate design).

Examples
--------
See :func:`calibrated_chain`; the study layer uses it through
:func:`nhanes_mg.study.models.estimate_model` (``exposure_error = "regression_calibration"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from nhanes_mg.survey.results import SurveyResult
from nhanes_mg.usual_intake.calibrate import Calibration, calibrate, calibrate_intake
from nhanes_mg.usual_intake.replicates import ReplicateWeights, replicate_design


@dataclass
class CalibratedChain:
    """A calibration and its replicates: ``exposure(r)`` is the calibrated intake at every
    row of the analysis frame under replicate ``r`` (None: the full sample), ``weights(r)``
    that replicate's weights (every row of the frame, unpooled); :meth:`combine` gives a
    result with the chain's covariance."""

    calibration: Calibration
    replicates: ReplicateWeights
    height: int
    _exposures: dict[int | None, np.ndarray] = field(default_factory=dict)

    @property
    def n_replicates(self) -> int:
        return self.replicates.n_replicates

    def exposure(self, r: int | None = None) -> pl.Series:
        if r not in self._exposures:
            assert r is not None
            data = self.calibration.data
            weights = self.replicates.repweights[data.rows, r]
            refit = calibrate(data, weights, start=self.calibration.fit)
            self._exposures[r] = refit.full_length(self.height)
        return pl.Series(self._exposures[r]).fill_nan(None)

    def weights(self, r: int) -> np.ndarray:
        return np.asarray(self.replicates.repweights[:, r])

    def combine(self, full: SurveyResult, replicates: Sequence[np.ndarray]) -> SurveyResult:
        """The full-sample result with the covariance of its estimates over the replicates
        (one estimate vector per replicate, in order)."""
        assert self.replicates.covariance is not None
        vcov = self.replicates.covariance(full.estimate, np.vstack(replicates))
        df = self.replicates.df + 1 - len(full.estimate)
        return full.with_covariance(vcov, df, f"{full.method}, regression calibration (BRR)")


def calibrated_chain(
    work: pl.DataFrame,
    rows: np.ndarray,
    nutrient: str,
    basis: str,
    covariates: Sequence[str],
    weight: str,
) -> CalibratedChain:
    """Calibrate ``nutrient`` for the ``rows`` of ``work`` (the outcome model's sample) with
    its ``covariates``, weighted as the outcome model, and the Fay-BRR replicates of the
    design of ``work`` (strata ``sdmvstra``, PSUs ``sdmvpsu``)."""
    calibration = calibrate_intake(
        work, nutrient, covariates, basis=basis, weight=weight, rows=rows
    )
    replicates = replicate_design(
        work["sdmvstra"].to_numpy(),
        work["sdmvpsu"].to_numpy(),
        work[weight].cast(pl.Float64).fill_null(0.0).to_numpy(),
    )
    chain = CalibratedChain(calibration, replicates, work.height)
    chain._exposures[None] = calibration.full_length(work.height)
    return chain
