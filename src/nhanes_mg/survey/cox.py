"""Design-based Cox proportional hazards models (R's ``svycoxph``).

The fit maximizes the weighted partial likelihood (Efron ties by default, Breslow optional) by
Newton-Raphson as ``survival::coxph``; the variance is the design-based linearization of the
weighted score (dfbeta) residuals, summed to PSUs within strata — R's
``svyrecvar(resid(fit, "dfbeta", weighted = TRUE), ...)``.

Everything is vectorized over "death slots": a time with d tied deaths gives d slots under
Efron (the k-th removes k/d of the tied deaths' risk from the denominator) and one under
Breslow; risk-set sums are reverse cumulative sums over the time-sorted rows.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import _formula
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning
from nhanes_mg.survey.results import SurveyResult, wald

_SURV = re.compile(r"^\s*Surv\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*~(.*)$", re.S)


@dataclass
class _Slots:
    """Per-slot and per-row quantities at one beta."""

    loglik: float
    score: np.ndarray
    info: np.ndarray
    resid: np.ndarray | None  # score residuals (n x p), unweighted, when asked


class _CoxData:
    """Time-sorted data and the slot structure, which do not depend on beta."""

    def __init__(
        self, time: np.ndarray, event: np.ndarray, X: np.ndarray, w: np.ndarray, ties: str
    ) -> None:
        order = np.lexsort((-event, time))
        self.order = order
        self.time = time[order]
        self.event = event[order]
        self.X = X[order]
        self.w = w[order]
        n = len(time)
        # first row (in sorted order) with time >= t: risk set of t is rows first..n-1
        death_times, d_count = np.unique(self.time[self.event == 1], return_counts=True)
        if death_times.size == 0:
            raise EstimationError("svycoxph: no events among the model's rows")
        self.group_first = np.searchsorted(self.time, death_times, side="left")
        # the group index of each row's own death time (for deaths), -1 otherwise
        gi = np.searchsorted(death_times, self.time)
        gi_clipped = np.minimum(gi, death_times.size - 1)
        is_death_time = death_times[gi_clipped] == self.time
        self.row_group = np.where((self.event == 1) & is_death_time, gi_clipped, -1)
        # number of groups with death time <= row time (slots open for the row)
        self.row_ngroups = np.searchsorted(death_times, self.time, side="right")
        g = death_times.size
        death_w = np.bincount(
            self.row_group[self.event == 1], weights=self.w[self.event == 1], minlength=g
        )
        slot_group: np.ndarray
        if ties == "efron":
            slot_group = np.repeat(np.arange(g), d_count)
            starts = np.repeat(np.cumsum(d_count) - d_count, d_count)
            slot_k = np.arange(slot_group.size) - starts
            self.slot_frac = (slot_k / d_count[slot_group]).astype(float)
            self.slot_weight = (death_w / d_count)[slot_group]
        elif ties == "breslow":
            slot_group = np.arange(g)
            self.slot_frac = np.zeros(g)
            self.slot_weight = death_w.astype(float)
        else:
            raise EstimationError(f"svycoxph: ties must be 'efron' or 'breslow', not {ties!r}")
        self.slot_group = slot_group
        self.n_groups = g
        self.d_count = d_count
        # the last slot of each group, for cumulative sums "slots with time <= t"
        self.group_last_slot = np.cumsum(np.bincount(slot_group, minlength=g)) - 1
        self.n = n

    def evaluate(self, beta: np.ndarray, residuals: bool = False) -> _Slots:
        X, w, ev = self.X, self.w, self.event
        eta = X @ beta
        r = np.exp(eta)
        wr = w * r
        # risk-set sums at each death time: reverse cumulative sums
        cs0 = np.cumsum(wr[::-1])[::-1]
        cs1 = np.cumsum((X * wr[:, None])[::-1], axis=0)[::-1]
        s0 = cs0[self.group_first]
        s1 = cs1[self.group_first]
        dead = ev == 1
        g = self.n_groups
        d0 = np.bincount(self.row_group[dead], weights=wr[dead], minlength=g)
        d1 = np.zeros((g, X.shape[1]))
        np.add.at(d1, self.row_group[dead], X[dead] * wr[dead, None])
        sg, f, a = self.slot_group, self.slot_frac, self.slot_weight
        dens = s0[sg] - f * d0[sg]
        if np.any(dens <= 0):
            raise EstimationError("svycoxph: an empty risk set (non-positive denominator)")
        xbar = (s1[sg] - f[:, None] * d1[sg]) / dens[:, None]
        loglik = float((w[dead] * eta[dead]).sum() - (a * np.log(dens)).sum())
        score = (w[dead, None] * X[dead]).sum(axis=0) - (a[:, None] * xbar).sum(axis=0)
        # hazard increments per slot and their cumulative sums over slots (time order)
        h = a / dens
        cum_h = np.concatenate([[0.0], np.cumsum(h)])
        cum_hx = np.vstack([np.zeros(X.shape[1]), np.cumsum(h[:, None] * xbar, axis=0)])
        # slots open for each row: all slots of groups with death time <= its time
        last = np.where(self.row_ngroups > 0, self.group_last_slot[self.row_ngroups - 1] + 1, 0)
        hf_g = np.bincount(sg, weights=h * f, minlength=g)
        hfx_g = np.zeros((g, X.shape[1]))
        np.add.at(hfx_g, sg, (h * f)[:, None] * xbar)
        own = self.row_group
        has_own = own >= 0
        a_row = cum_h[last] - np.where(has_own, hf_g[np.maximum(own, 0)], 0.0)
        c = wr * a_row
        info = (X * c[:, None]).T @ X - (xbar * a[:, None]).T @ xbar
        resid = None
        if residuals:
            b_row = cum_hx[last] - np.where(has_own[:, None], hfx_g[np.maximum(own, 0)], 0.0)
            xbar_mean = np.zeros((g, X.shape[1]))
            np.add.at(xbar_mean, sg, xbar)
            xbar_mean /= np.bincount(sg, minlength=g)[:, None]
            event_part = np.where(has_own[:, None], X - xbar_mean[np.maximum(own, 0)], 0.0)
            resid = event_part - r[:, None] * (X * a_row[:, None] - b_row)
        return _Slots(loglik, score, info, resid)


@dataclass(repr=False)
class SvyCoxResult(SurveyResult):
    """A fitted :func:`svycoxph`. ``tidy(exponentiate=True)`` gives hazard ratios.

    Attributes (beyond :class:`SurveyResult`)
    -----------------------------------------
    formula, ties : str
    columns : list of str; term_columns : dict (for :func:`regtermtest`)
    df_residual : float
        ``degf(design) + 1 - p`` (R's ``degf.resid``; used by :func:`regtermtest`).
    inv_info : ndarray
        Model-based inverse information (R's ``inv.info``).
    loglik : tuple of float
        Partial log-likelihood at beta = 0 and at the estimate.
    n_events : int; converged : bool; iterations : int
    """

    formula: str = ""
    ties: str = "efron"
    columns: list[str] | None = None
    term_columns: dict[str, list[int]] | None = None
    df_residual: float = math.inf
    inv_info: np.ndarray | None = None
    loglik: tuple[float, float] = (math.nan, math.nan)
    n_events: int = 0
    converged: bool = True
    iterations: int = 0


def svycoxph(
    formula: str,
    design: SurveyDesign,
    *,
    ties: Literal["efron", "breslow"] = "efron",
    reference: Mapping[str, Any] | None = None,
    level: float = 0.95,
    df: float | Literal["design"] = math.inf,
    eps: float = 1e-9,
    maxit: int = 20,
) -> SvyCoxResult:
    """Cox model with survey weights and design-based variance (R: ``svycoxph``).

    Parameters
    ----------
    formula : str
        ``"Surv(time, event) ~ x1 + x2 + ..."``; ``event`` is 1 for a death, 0 for censoring;
        the right-hand side is as in :func:`svyglm` (no intercept is fitted).
    design : SurveyDesign
        Full design or a domain of it.
    ties : {"efron", "breslow"}
        Tie handling (R's default is Efron).
    reference : mapping, optional
        Reference levels of categorical variables, as in :func:`svyglm`.
    level : float
        Confidence level.
    df : float or "design"
        Reference distribution of Wald statistics: ``math.inf`` (normal, what R's
        ``summary(svycoxph)`` prints) or ``"design"`` for t with ``df_residual`` = design
        df + 1 − p.
    eps, maxit : float, int
        ``coxph.control(eps, iter.max)``: convergence when the relative change of the partial
        log-likelihood is below ``eps``.

    Raises
    ------
    EstimationError
        No events, empty domain, rank-deficient covariates, non-convergence, or a 0/1
        covariate with no events in one of its groups (infinite hazard ratio).

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svycoxph
    >>> rng = np.random.default_rng(2)
    >>> n = 400
    >>> age = rng.uniform(20, 80, n)
    >>> t = rng.exponential(1 / np.exp(-6 + 0.05 * age))
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat([1, 2, 3, 4], 100), "sdmvpsu": np.tile([1, 2], 200),
    ...     "wt_mec": rng.uniform(1, 3, n), "age": age,
    ...     "months": np.minimum(np.ceil(t), 120), "died": (t <= 120).astype(int)})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> fit = svycoxph("Surv(months, died) ~ age", d)
    >>> fit.tidy(exponentiate=True)["term"].to_list()
    ['age']
    """
    m = _SURV.match(formula)
    if not m:
        raise EstimationError(
            f"svycoxph: formula must look like 'Surv(time, event) ~ x1 + x2', got {formula!r}"
        )
    time_col, event_col, rhs = m.group(1), m.group(2), m.group(3)
    if not rhs.strip():
        raise EstimationError("svycoxph: the formula has no covariates")
    data = _formula.build(
        design, "~" + rhs, reference=reference, extra=(time_col, event_col), intercept=False
    )
    rows_all = data.rows
    w_all = design.weights[rows_all]
    pos = w_all > 0  # R fits coxph on the rows with positive weight
    rows = rows_all.copy()
    rows[np.flatnonzero(rows_all)[~pos]] = False
    X = data.X[pos]
    time = data.extra[time_col][pos]
    event = data.extra[event_col][pos]
    if X.shape[1] == 0:
        raise EstimationError("svycoxph: the formula has no covariates")
    if not np.all((event == 0) | (event == 1)):
        raise EstimationError(f"svycoxph: {event_col!r} must be 0/1 (1 = event)")
    if np.any(time < 0):
        raise EstimationError(f"svycoxph: {time_col!r} has negative times")
    _formula.check_rank(X, data.columns, "svycoxph")
    _check_monotone(X, event, data.columns)
    w = w_all[pos] / w_all[pos].mean()
    # centre covariates (as coxph does) so that exp(X beta) stays in range
    centre = (w[:, None] * X).sum(axis=0) / w.sum()
    cd = _CoxData(time, event, X - centre, w, ties)
    p = X.shape[1]
    beta = np.zeros(p)
    cur = cd.evaluate(beta)
    loglik0 = cur.loglik
    converged = False
    it = 0
    for it in range(1, maxit + 1):  # noqa: B007
        try:
            step = np.linalg.solve(cur.info, cur.score)
        except np.linalg.LinAlgError as exc:
            raise EstimationError(f"svycoxph: singular information matrix ({exc})") from exc
        new_beta = beta + step
        new = cd.evaluate(new_beta)
        halvings = 0
        while (
            not math.isfinite(new.loglik) or new.loglik < cur.loglik - 1e-12 * abs(cur.loglik)
        ) and halvings < 30:
            new_beta = (beta + new_beta) / 2
            new = cd.evaluate(new_beta)
            halvings += 1
        done = abs(1 - cur.loglik / new.loglik) <= eps and halvings == 0
        beta, cur = new_beta, new
        if done:
            converged = True
            break
    if not converged:
        raise EstimationError(
            f"svycoxph: Newton-Raphson did not converge in {maxit} iterations "
            "(possibly an infinite coefficient)"
        )
    final = cd.evaluate(beta, residuals=True)
    inv_info = np.linalg.inv(final.info)
    assert final.resid is not None
    dfbeta_sorted = (final.resid * cd.w[:, None]) @ inv_info
    dfbeta = np.empty_like(dfbeta_sorted)
    dfbeta[cd.order] = dfbeta_sorted
    influence = np.zeros((int(rows_all.sum()), p))  # rows of the model (zero weight: 0)
    influence[pos] = dfbeta
    vcov = design.variance(influence, rows_all)
    se = np.sqrt(np.diag(vcov))
    df_res = float(design.degf(rows_all) + 1 - p)
    ddf = df_res if df == "design" else float(df)
    stat, pval, lo, hi = wald(beta, se, ddf, level)
    if np.any(np.abs(beta) * X.std(axis=0) > 15):
        warnings.warn(
            "svycoxph: a hazard ratio per SD exceeds e^15; the coefficient may be infinite",
            SurveyWarning,
            stacklevel=2,
        )
    n = int(rows.sum())
    return SvyCoxResult(
        terms=list(data.columns),
        estimate=beta,
        std_error=se,
        statistic=stat,
        p_value=pval,
        conf_low=lo,
        conf_high=hi,
        df=np.full(p, ddf),
        n=np.full(p, n, dtype=np.int64),
        vcov=vcov,
        level=level,
        method=f"svycoxph-{ties}",
        formula=formula,
        ties=ties,
        columns=list(data.columns),
        term_columns={k: v for k, v in data.term_columns.items() if k != "1"},
        df_residual=df_res,
        inv_info=inv_info,
        loglik=(loglik0, final.loglik),
        n_events=int(event.sum()),
        converged=converged,
        iterations=it,
    )


def _check_monotone(X: np.ndarray, event: np.ndarray, columns: list[str]) -> None:
    binary = np.all((X == 0) | (X == 1), axis=0)
    for j in np.flatnonzero(binary):
        on = X[:, j] == 1
        if on.all() or not on.any():
            continue
        if event[on].sum() == 0 or event[~on].sum() == 0:
            raise EstimationError(
                f"svycoxph: no events among rows with {columns[j]} = "
                f"{1 if event[on].sum() == 0 else 0}; its hazard ratio is infinite "
                "(merge categories or drop the term)"
            )
