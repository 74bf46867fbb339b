"""Result objects shared by every survey estimator; all have ``.tidy()``."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import special

TIDY_SCHEMA: dict[str, pl.DataType] = {
    "term": pl.String(),
    "estimate": pl.Float64(),
    "std_error": pl.Float64(),
    "statistic": pl.Float64(),
    "p_value": pl.Float64(),
    "conf_low": pl.Float64(),
    "conf_high": pl.Float64(),
    "df": pl.Float64(),
    "n": pl.Int64(),
}
TIDY_COLUMNS: tuple[str, ...] = tuple(TIDY_SCHEMA)


def critical_value(level: float, df: float) -> float:
    """Two-sided critical value: Student t with ``df`` degrees of freedom (normal if infinite)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    alpha = (1 - level) / 2
    if math.isinf(df):
        return float(-special.ndtri(alpha))
    return float(-special.stdtrit(df, alpha))


def wald(
    estimate: np.ndarray, std_error: np.ndarray, df: float, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Wald statistic, two-sided p-value and CI with a t (design df) or normal reference."""
    est = np.asarray(estimate, dtype=float)
    se = np.asarray(std_error, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    if df <= 0:
        nan = np.full_like(est, np.nan)
        return stat, nan, nan, nan
    p = 2 * (special.ndtr(-np.abs(stat)) if math.isinf(df) else special.stdtr(df, -np.abs(stat)))
    q = critical_value(level, df)
    return stat, p, est - q * se, est + q * se


@dataclass
class SurveyResult:
    """Estimates with design-based standard errors and intervals.

    Attributes
    ----------
    terms : list of str
        One name per estimate.
    estimate, std_error, statistic, p_value, conf_low, conf_high : ndarray
        Per term. ``statistic`` is the Wald t (or z when ``df`` is infinite) of H0: value = 0.
    df : ndarray
        Degrees of freedom of the t reference, per term (``inf`` = normal).
    n : ndarray
        Unweighted number of observations behind each term.
    vcov : ndarray or None
        Design-based covariance matrix of the estimates.
    level : float
        Confidence level of the intervals.
    method : str
        Which estimator made it (``"mean"``, ``"total"``, ``"ciprop-logit"``, …).
    """

    terms: list[str]
    estimate: np.ndarray
    std_error: np.ndarray
    statistic: np.ndarray
    p_value: np.ndarray
    conf_low: np.ndarray
    conf_high: np.ndarray
    df: np.ndarray
    n: np.ndarray
    vcov: np.ndarray | None = None
    level: float = 0.95
    method: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    def tidy(self, exponentiate: bool = False) -> pl.DataFrame:
        """One row per term with the columns ``term, estimate, std_error, statistic, p_value,
        conf_low, conf_high, df, n``.

        With ``exponentiate=True`` the estimate and the interval are exponentiated (odds or
        hazard ratios, for model coefficients on the log scale); ``std_error`` stays on the
        original (log) scale, as in R's ``broom::tidy``.
        """
        est = np.asarray(self.estimate, dtype=float)
        lo = np.asarray(self.conf_low, dtype=float)
        hi = np.asarray(self.conf_high, dtype=float)
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        return pl.DataFrame(
            {
                "term": list(self.terms),
                "estimate": est,
                "std_error": np.asarray(self.std_error, dtype=float),
                "statistic": np.asarray(self.statistic, dtype=float),
                "p_value": np.asarray(self.p_value, dtype=float),
                "conf_low": lo,
                "conf_high": hi,
                "df": np.asarray(self.df, dtype=float),
                "n": np.asarray(self.n, dtype=np.int64),
            },
            schema=TIDY_SCHEMA,
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.method})\n{self.tidy()}"


def make_result(
    terms: list[str],
    estimate: np.ndarray,
    vcov: np.ndarray,
    df: float,
    n: int | np.ndarray,
    level: float,
    method: str,
    **extra: object,
) -> SurveyResult:
    """A :class:`SurveyResult` with Wald statistics from an estimate and its covariance."""
    est = np.asarray(estimate, dtype=float)
    se = np.sqrt(np.clip(np.diag(vcov), 0, None))
    stat, p, lo, hi = wald(est, se, df, level)
    k = len(est)
    return SurveyResult(
        terms=list(terms),
        estimate=est,
        std_error=se,
        statistic=stat,
        p_value=p,
        conf_low=lo,
        conf_high=hi,
        df=np.full(k, float(df)),
        n=np.broadcast_to(np.asarray(n, dtype=np.int64), (k,)).copy(),
        vcov=vcov,
        level=level,
        method=method,
        extra=dict(extra),
    )
