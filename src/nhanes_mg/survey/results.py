"""Result objects shared by every survey estimator; all have ``.tidy()``."""

from __future__ import annotations

import dataclasses
import html
import math
from dataclasses import dataclass, field
from typing import Self

import numpy as np
import polars as pl
from scipy import special

from nhanes_mg.errors import EstimationError

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


def f_sf(statistic: float, ndf: float, ddf: float) -> float:
    """P(F > ``statistic``) for F with (``ndf``, ``ddf``) degrees of freedom: scipy.stats'
    ``f.sf``, from scipy.special as it computes it (importing scipy.stats costs each process a
    third of a second), with its value 1 below 0.

    >>> round(f_sf(3.0, 2, 30), 6), f_sf(-1e-12, 2, 30)
    (0.064905, 1.0)
    """
    return float(special.fdtrc(ndf, ddf, 0.0 if statistic < 0 else statistic))


def chi2_sf(statistic: float, df: float) -> float:
    """P(X² > ``statistic``) with ``df`` degrees of freedom: scipy.stats' ``chi2.sf`` (see
    :func:`f_sf`), 1 below 0 and undefined for ``df`` ≤ 0.

    >>> round(chi2_sf(3.84, 1), 4), chi2_sf(2.0, 0)
    (0.05, nan)
    """
    if not df > 0:
        return math.nan
    return float(special.chdtrc(df, 0.0 if statistic < 0 else statistic))


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

    @property
    def coef(self) -> dict[str, float]:
        """The estimates by term (R's ``coef``, statsmodels' ``params``)."""
        return dict(zip(self.terms, np.asarray(self.estimate, dtype=float).tolist(), strict=True))

    @property
    def se(self) -> dict[str, float]:
        """The design-based standard errors by term (R's ``SE``, statsmodels' ``bse``)."""
        return dict(zip(self.terms, np.asarray(self.std_error, dtype=float).tolist(), strict=True))

    def with_covariance(self, vcov: np.ndarray, df: float, method: str) -> Self:
        """The same estimates with another covariance (e.g. from replicates of a whole
        estimation chain) and ``df``: SEs, Wald statistics, P values and intervals
        recomputed; contrasts and Wald tests of the result then use them.

        >>> r = SurveyResult(["a"], np.array([1.0]), np.array([0.5]), np.array([2.0]),
        ...     np.array([0.05]), np.array([0.0]), np.array([2.0]), np.array([10.0]),
        ...     np.array([50]), vcov=np.array([[0.25]]))
        >>> float(r.with_covariance(np.array([[1.0]]), 10.0, "replicates").std_error[0])
        1.0
        """
        vcov = np.asarray(vcov, dtype=float)
        se = np.sqrt(np.diag(vcov))
        stat, p, lo, hi = wald(self.estimate, se, df, self.level)
        changes: dict[str, object] = dict(
            std_error=se, statistic=stat, p_value=p, conf_low=lo, conf_high=hi,
            df=np.full(len(se), df), vcov=vcov, method=method,
        )  # fmt: skip
        if hasattr(self, "df_residual"):
            changes["df_residual"] = df
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def confint(self, level: float | None = None) -> pl.DataFrame:
        """The confidence intervals by term (R's ``confint``): ``term, conf_low, conf_high``.

        At the estimator's own ``level`` these are its intervals (a logit interval for
        ``svyciprop``, Woodruff's for ``svyquantile``). At another level, Wald intervals
        ``estimate ± t(df) × std_error`` are computed when the estimator's intervals are Wald
        intervals; otherwise ask the estimator again with ``level=…``.

        >>> r = make_result(["x"], np.array([2.0]), np.array([[0.25]]), 15.0, 100, 0.95, "mean")
        >>> [round(v, 6) for v in r.confint(0.9).row(0)[1:]]  # 2 ± t(0.95; 15) × 0.5
        [1.123475, 2.876525]
        """
        if level is None or level == self.level:
            low, high = self.conf_low, self.conf_high
        else:
            est = np.asarray(self.estimate, dtype=float)
            se = np.asarray(self.std_error, dtype=float)
            df = np.asarray(self.df, dtype=float)
            q_own = np.array([critical_value(self.level, d) for d in df])
            wald_like = np.allclose(self.conf_low, est - q_own * se, rtol=1e-9, equal_nan=True)
            if not wald_like or not np.allclose(self.conf_high, est + q_own * se, rtol=1e-9):
                raise EstimationError(
                    f"the intervals of {self.method or 'this estimate'} are not Wald intervals: "
                    f"ask the estimator again with level={level}"
                )
            q = np.array([critical_value(level, d) for d in df])
            low, high = est - q * se, est + q * se
        return pl.DataFrame(
            {
                "term": list(self.terms),
                "conf_low": np.asarray(low, dtype=float),
                "conf_high": np.asarray(high, dtype=float),
            }
        )

    def summary(self) -> str:
        """A printed table as R's ``summary`` prints coefficients: estimate, standard error,
        t (or z) value, P value and the interval, with the design's degrees of freedom."""
        tidy = self.tidy()
        width = max([len("term"), *(len(t) for t in self.terms)])
        df = np.asarray(self.df, dtype=float)
        reference = "z" if np.isinf(df).all() else "t"
        pct = f"{100 * self.level:g}%"
        lines = [
            f"{type(self).__name__} ({self.method or 'survey estimate'}); df "
            + ", ".join(sorted({"inf" if np.isinf(d) else f"{d:g}" for d in df}))
            + f"; {pct} intervals",
            f"{'term':<{width}}  {'Estimate':>11}  {'Std. Error':>11}  {reference + ' value':>8}"
            f"  {'Pr(>|' + reference + '|)':>9}  {'low':>11}  {'high':>11}",
        ]
        for row in tidy.iter_rows(named=True):
            lines.append(
                f"{row['term']:<{width}}  {row['estimate']:>11.5g}  {row['std_error']:>11.5g}"
                f"  {row['statistic']:>8.3f}  {_p_text(row['p_value']):>9}"
                f"  {row['conf_low']:>11.5g}  {row['conf_high']:>11.5g}"
            )
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.method})\n{self.tidy()}"

    def _repr_html_(self) -> str:
        """A notebook shows the tidy table under the estimator's name."""
        table = self.tidy()._repr_html_()
        return f"<p><b>{type(self).__name__}</b> ({html.escape(self.method)})</p>{table}"


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "NA"
    return "< 2e-16" if p < 2e-16 else f"{p:.3g}"


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
