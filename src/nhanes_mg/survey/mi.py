"""Multiple-imputation inference: results fitted on each of ``M`` imputed datasets combined by
Rubin's rules, as R's ``mitools::MIcombine`` (with ``survey``: ``with(svydesign(…, data =
imputationList(…)), svyglm(…))`` then ``MIcombine``).

For ``M`` results with coefficients ``q_m`` and design-based covariances ``U_m`` (Taylor or
replicate: whatever each result carries)::

    q̄ = mean(q_m),   W = mean(U_m),   B = cov(q_m) (divisor M - 1),
    T = W + (1 + 1/M) B,
    r = (1 + 1/M) B / W      (per coefficient: the diagonals),
    ν = (M - 1) (1 + 1/r)²   (Rubin 1987),
    λ = (r + 2/(ν + 3)) / (r + 1)   (the fraction of missing information, MIcombine's),

and, given the complete-data degrees of freedom ``df_complete`` (Barnard & Rubin 1999, as
``MIcombine(…, df.complete = …)`` computes it: ``ν_obs = (ν_c + 1)/(ν_c + 3) ν_c W/(W + B)``,
with ``B`` — not ``(1 + 1/M) B`` — in that ratio, as mitools has it), ``1/ν ← 1/ν + 1/ν_obs``.
Written here because no Python survey library combines imputations with design-based
variances; the formulas follow mitools' code so that results agree with R to rounding.

Examples
--------
>>> import numpy as np
>>> fits = [SurveyResult(["b"], np.array([v]), np.array([0.1]), np.zeros(1), np.zeros(1),
...         np.zeros(1), np.zeros(1), np.array([30.0]), np.array([100]),
...         vcov=np.array([[0.01]])) for v in (1.0, 1.2, 1.1)]
>>> combined = micombine(fits)
>>> float(combined.estimate[0]), round(float(combined.std_error[0]), 4)
(1.1, 0.1528)
>>> round(float(combined.missing_information[0]), 3)
0.665
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign
from nhanes_mg.survey.replicate import ReplicateDesign
from nhanes_mg.survey.results import SurveyResult, wald


@dataclass(repr=False)
class MIResult(SurveyResult):
    """Combined estimates (:class:`SurveyResult`) plus, per term, the fraction of missing
    information, the between- and within-imputation variances and the number of
    imputations."""

    missing_information: np.ndarray | None = None
    between: np.ndarray | None = None
    within: np.ndarray | None = None
    n_imputations: int = 0
    df_complete: float = math.inf
    # for regtermtest: a test of several terms uses the smallest of their df (conservative;
    # Li, Raghunathan and Rubin's D1 has its own); the fits' columns by term
    df_residual: float = math.inf
    term_columns: dict[str, list[int]] | None = None


def micombine(results: Sequence[SurveyResult], df_complete: float = math.inf) -> MIResult:
    """Combine one result per imputed dataset by Rubin's rules (R: ``MIcombine``).

    Parameters
    ----------
    results : sequence of SurveyResult
        The same model fitted on each imputation (same terms, each with its ``vcov``).
    df_complete : float
        The complete-data degrees of freedom (the design's, say) for Barnard and Rubin's
        small-sample df; ``inf`` (the default, as MIcombine's) for Rubin's.

    Returns
    -------
    MIResult
        Estimates, SEs from the total variance, t intervals on the combined df per term,
        and the fraction of missing information.
    """
    m = len(results)
    if m < 2:
        raise EstimationError(f"micombine: at least 2 imputations are needed, got {m}")
    terms = list(results[0].terms)
    for r in results[1:]:
        if list(r.terms) != terms:
            raise EstimationError("micombine: the results do not have the same terms")
    if any(r.vcov is None for r in results):
        raise EstimationError("micombine: every result needs its covariance matrix (vcov)")
    coefs = np.vstack([np.asarray(r.estimate, dtype=float) for r in results])
    qbar = coefs.mean(axis=0)
    vbar = np.mean([np.asarray(r.vcov, dtype=float) for r in results], axis=0)
    between = np.atleast_2d(np.cov(coefs, rowvar=False, ddof=1))
    total = vbar + between * (m + 1) / m
    w, b = np.diag(vbar), np.diag(between)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (1 + 1 / m) * b / w
        df = (m - 1) * (1 + 1 / ratio) ** 2
        if math.isfinite(df_complete):
            observed = (df_complete + 1) / (df_complete + 3) * df_complete * w / (w + b)
            df = 1 / (1 / observed + 1 / df)
        missing = (ratio + 2 / (df + 3)) / (ratio + 1)
    se = np.sqrt(np.diag(total))
    level = results[0].level
    stat = np.empty(len(terms))
    p = np.empty(len(terms))
    lo = np.empty(len(terms))
    hi = np.empty(len(terms))
    for j in range(len(terms)):  # each term on its own df
        s, pv, a, z = wald(qbar[j : j + 1], se[j : j + 1], float(df[j]), level)
        stat[j], p[j], lo[j], hi[j] = s[0], pv[0], a[0], z[0]
    n = np.asarray(results[0].n)
    return MIResult(
        terms=terms, estimate=qbar, std_error=se, statistic=stat, p_value=p, conf_low=lo,
        conf_high=hi, df=np.asarray(df, dtype=float), n=n, vcov=total, level=level,
        method=f"MIcombine of {m} imputations ({results[0].method})",
        missing_information=missing, between=b, within=w, n_imputations=m,
        df_complete=df_complete, df_residual=float(np.min(df)),
        term_columns=getattr(results[0], "term_columns", None),
    )  # fmt: skip


@dataclass(frozen=True)
class ImputationDesigns:
    """One design per imputed dataset, as R's ``svydesign(…, data = imputationList(…))``.

    :meth:`fit` is R's ``with(designs, …)`` followed by ``MIcombine``; :func:`svyglm`,
    :func:`svycoxph` and :func:`svymean` take an ``ImputationDesigns`` directly and return
    the combined :class:`MIResult` (``tidy``, ``confint``, ``coef`` as for one fit).

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import svymean
    >>> frames = [pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
    ...     "wt_mec": [1.0, 2.0, 1.0, 1.0], "x": [1.0, 2.0, 3.0, x4]}) for x4 in (4.0, 6.0)]
    >>> designs = ImputationDesigns.from_frames(frames, strata="sdmvstra", psu="sdmvpsu",
    ...                                         weights="wt_mec")
    >>> combined = svymean("x", designs)
    >>> round(float(combined.estimate[0]), 6), combined.n_imputations
    (2.6, 2)
    """

    designs: tuple[SurveyDesign | ReplicateDesign, ...]

    @classmethod
    def from_frames(cls, frames: Sequence[Any], **design: Any) -> ImputationDesigns:
        """A :class:`SurveyDesign` (``design``: its arguments) of each completed frame."""
        return cls(tuple(SurveyDesign(frame, **design) for frame in frames))

    def subset(self, condition: Any) -> ImputationDesigns:
        """The same domain of every imputation (``design.subset``)."""
        return ImputationDesigns(tuple(d.subset(condition) for d in self.designs))

    def fit(
        self,
        estimator: Callable[[SurveyDesign | ReplicateDesign], SurveyResult],
        df_complete: float = math.inf,
    ) -> MIResult:
        """``estimator`` on every imputation, combined by :func:`micombine`."""
        return micombine([estimator(d) for d in self.designs], df_complete)
