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
from typing import Any, Literal, cast

import numpy as np
from scipy.linalg import blas

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import model_matrix
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, psu_totals
from nhanes_mg.survey.mi import ImputationDesigns
from nhanes_mg.survey.results import SurveyResult, wald
from nhanes_mg.survey.terms import ModelTerms

_SURV = re.compile(r"^\s*Surv\(\s*([^,()]+?)\s*,\s*([^,()]+?)\s*\)\s*~(.*)$", re.S)


@dataclass
class _Slots:
    """Per-slot and per-row quantities at one beta (what the score residuals need, too)."""

    loglik: float
    score: np.ndarray
    info: np.ndarray
    r: np.ndarray  # exp(eta), per row
    xbar: np.ndarray  # weighted covariate means of the risk sets, per slot
    h: np.ndarray  # hazard increment, per slot
    a_row: np.ndarray  # cumulative hazard of each row (Efron-adjusted for its own deaths)


class _CoxData:
    """Time-sorted data and the slot structure, which do not depend on beta.

    Rows are sorted by time (deaths before censorings at a tie). Risk-set sums are sums of
    the segments between consecutive death times, cumulated from the last segment back:
    a vectorized segment sum plus a short cumulative sum over death times, instead of a
    cumulative sum over all rows (5x faster). Sums over the deaths and the slots of a death
    time are segment sums too (the rows and slots of a time are contiguous).
    """

    def __init__(
        self, time: np.ndarray, event: np.ndarray, X: np.ndarray, w: np.ndarray, ties: str
    ) -> None:
        order = _time_order(time, event)
        self.order = order
        self.time = time[order]
        self.event = event[order]
        n, p = X.shape
        self.X = np.empty((n, p), order="F")  # columns contiguous for the segment sums
        for j in range(p):
            np.take(X[:, j], order, out=self.X[:, j], mode="clip")
        self.w = w[order]
        dead = self.event == 1
        # first row (in sorted order) with time >= t: risk set of t is rows first..n-1
        dead_times = self.time[dead]  # sorted
        if dead_times.size == 0:
            raise EstimationError("svycoxph: no events among the model's rows")
        new_time = np.concatenate(([True], dead_times[1:] != dead_times[:-1]))
        first_death = np.flatnonzero(new_time)
        death_times = dead_times[first_death]
        d_count = np.diff(np.append(first_death, dead_times.size))
        self.group_first = np.searchsorted(self.time, death_times, side="left")
        # the group index of each row's own death time (for deaths), -1 otherwise
        gi = np.searchsorted(death_times, self.time)
        gi_clipped = np.minimum(gi, death_times.size - 1)
        is_death_time = death_times[gi_clipped] == self.time
        row_group = np.where(dead & is_death_time, gi_clipped, -1)
        # number of groups with death time <= row time (slots open for the row)
        row_ngroups = np.searchsorted(death_times, self.time, side="right")
        g = death_times.size
        self.dead_rows = np.flatnonzero(dead)
        # the deaths of a death time are contiguous among the (time-sorted) dead rows
        self.dead_starts = np.searchsorted(row_group[self.dead_rows], np.arange(g))
        self.w_dead = self.w[self.dead_rows]
        self.X_dead = np.asfortranarray(self.X[self.dead_rows])
        self.score_dead = (self.w_dead[:, None] * self.X_dead).sum(axis=0)
        death_w = np.add.reduceat(self.w_dead, self.dead_starts)
        slot_group: np.ndarray
        if ties == "efron":
            slot_group = np.repeat(np.arange(g), d_count)
            starts = np.repeat(np.cumsum(d_count) - d_count, d_count)
            slot_k = np.arange(slot_group.size) - starts
            self.slot_frac = (slot_k / d_count[slot_group]).astype(float)
            self.slot_weight = (death_w / d_count)[slot_group]
            self.slot_count = d_count
        elif ties == "breslow":
            slot_group = np.arange(g)
            self.slot_frac = np.zeros(g)
            self.slot_weight = death_w.astype(float)
            self.slot_count = np.ones(g, dtype=np.int64)
        else:
            raise EstimationError(f"svycoxph: ties must be 'efron' or 'breslow', not {ties!r}")
        self.slot_group = slot_group
        self.slot_starts = np.searchsorted(slot_group, np.arange(g))
        self.n_groups = g
        self.d_count = d_count
        # slots open for each row: all slots of groups with death time <= its time
        group_last_slot = np.cumsum(np.bincount(slot_group, minlength=g)) - 1
        self.last = np.where(row_ngroups > 0, group_last_slot[row_ngroups - 1] + 1, 0)
        self.has_own = row_group >= 0
        self.own = np.maximum(row_group, 0)
        self.n = n

    def evaluate(self, beta: np.ndarray) -> _Slots:
        X, w = self.X, self.w
        eta = X @ beta
        r = np.exp(eta)
        wr = w * r
        # risk-set sums at each death time: the segments from its first row to the next
        # death time's first row, cumulated from the last death time back
        s0 = np.cumsum(np.add.reduceat(wr, self.group_first)[::-1])[::-1]
        s1 = np.cumsum(np.add.reduceat(X * wr[:, None], self.group_first, axis=0)[::-1], axis=0)
        s1 = s1[::-1]
        wr_dead = wr[self.dead_rows]
        d0 = np.add.reduceat(wr_dead, self.dead_starts)
        d1 = np.add.reduceat(self.X_dead * wr_dead[:, None], self.dead_starts, axis=0)
        sg, f, a = self.slot_group, self.slot_frac, self.slot_weight
        dens = s0[sg] - f * d0[sg]
        if np.any(dens <= 0):
            raise EstimationError("svycoxph: an empty risk set (non-positive denominator)")
        xbar = (s1[sg] - f[:, None] * d1[sg]) / dens[:, None]
        loglik = float((self.w_dead * eta[self.dead_rows]).sum() - (a * np.log(dens)).sum())
        score = self.score_dead - (a[:, None] * xbar).sum(axis=0)
        # hazard increments per slot and their cumulative sums over slots (time order)
        h = a / dens
        cum_h = np.concatenate([[0.0], np.cumsum(h)])
        hf_g = np.add.reduceat(h * f, self.slot_starts)
        a_row = cum_h[self.last] - np.where(self.has_own, hf_g[self.own], 0.0)
        c = wr * a_row
        info = _crossprod_weighted(X, c) - (xbar * a[:, None]).T @ xbar
        return _Slots(loglik, score, info, r, xbar, h, a_row)

    def residuals(self, at: _Slots) -> np.ndarray:
        """Score residuals (n x p, unweighted, time order) at the beta of ``at``."""
        X = self.X
        p = X.shape[1]
        xbar, h, f = at.xbar, at.h, self.slot_frac
        cum_hx = np.vstack([np.zeros(p), np.cumsum(h[:, None] * xbar, axis=0)])
        hfx_g = np.add.reduceat((h * f)[:, None] * xbar, self.slot_starts, axis=0)
        xbar_mean = np.add.reduceat(xbar, self.slot_starts, axis=0) / self.slot_count[:, None]
        dead, own = self.dead_rows, self.own[self.dead_rows]
        # resid = [X - xbar_mean(own time), deaths only] - r (X a_row - b_row), with
        # b_row = cum_hx[last] - [hfx_g(own time), deaths only]
        b_row = cum_hx.take(self.last, axis=0)
        b_row[dead] -= hfx_g[own]
        resid = np.multiply(X, at.a_row[:, None], order="F")
        resid -= b_row
        resid *= -at.r[:, None]
        resid[dead] += self.X_dead - xbar_mean[own]
        return resid


def _time_order(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Rows by time, deaths before censorings at a tie (``lexsort((-event, time))``)."""
    deaths_first = np.concatenate((np.flatnonzero(event == 1), np.flatnonzero(event != 1)))
    key = time[deaths_first]
    if key.size and key.min() >= 0 and key.max() < 32768 and np.array_equal(key, np.floor(key)):
        key = key.astype(np.int16)  # whole months or days: numpy sorts 16-bit keys by radix
    return cast(np.ndarray, deaths_first[np.argsort(key, kind="stable")])


def _crossprod_weighted(X: np.ndarray, c: np.ndarray) -> np.ndarray:
    """``X' diag(c) X`` (BLAS gemm on Fortran-ordered columns)."""
    if X.flags.f_contiguous:
        return cast(np.ndarray, blas.dgemm(1.0, X * c[:, None], X, trans_a=1))
    return cast(np.ndarray, (X * c[:, None]).T @ X)


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
    formula: str | ModelTerms,
    design: SurveyDesign | ImputationDesigns,
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
    formula : str or ModelTerms
        ``"Surv(time, event) ~ x1 + x2 + ..."``; ``event`` is 1 for a death, 0 for censoring;
        the right-hand side is as in :func:`svyglm` (no intercept is fitted). Or the columns
        as :class:`~nhanes_mg.survey.terms.ModelTerms` with ``time`` set.
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
    if isinstance(design, ImputationDesigns):  # each imputation, combined (Rubin's rules)
        return design.fit(  # type: ignore[return-value]
            lambda d: svycoxph(formula, d, ties=ties, reference=reference, level=level, df=df,  # type: ignore[arg-type]
                               eps=eps, maxit=maxit)
        )  # fmt: skip
    rhs_terms: str | ModelTerms
    if isinstance(formula, ModelTerms):
        if formula.time is None or formula.outcome is None or not formula.columns:
            raise EstimationError(f"svycoxph: {formula} needs a time, an event and columns")
        time_col, event_col = formula.time, formula.outcome
        rhs_terms, formula = ModelTerms(None, formula.columns), formula.formula
    else:
        m = _SURV.match(formula)
        if not m:
            raise EstimationError(
                f"svycoxph: formula must look like 'Surv(time, event) ~ x1 + x2', got {formula!r}"
            )
        time_col, event_col, rhs = m.group(1), m.group(2), m.group(3)
        if not rhs.strip():
            raise EstimationError("svycoxph: the formula has no covariates")
        rhs_terms = "~" + rhs
    data = model_matrix.build(
        design, rhs_terms, reference=reference, extra=(time_col, event_col), intercept=False
    )
    idx_all = data.index  # frame row of each model row
    w_all = design.weights.take(idx_all)
    pos = w_all > 0  # R fits coxph on the rows with positive weight
    all_pos = bool(pos.all())
    X = data.X if all_pos else data.X[pos]
    time = data.extra[time_col] if all_pos else data.extra[time_col][pos]
    event = data.extra[event_col] if all_pos else data.extra[event_col][pos]
    if X.shape[1] == 0:
        raise EstimationError("svycoxph: the formula has no covariates")
    if not np.all((event == 0) | (event == 1)):
        raise EstimationError(f"svycoxph: {event_col!r} must be 0/1 (1 = event)")
    if np.any(time < 0):
        raise EstimationError(f"svycoxph: {time_col!r} has negative times")
    model_matrix.check_rank(X, data.columns, "svycoxph")
    _check_monotone(X, event, data.columns)
    w_pos = w_all if all_pos else w_all[pos]
    w = w_pos / w_pos.mean()
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
    final = cur  # the last evaluation is at the estimate
    inv_info = np.linalg.inv(final.info)
    # dfbeta = weighted score residuals @ inv_info (R's resid(fit, "dfbeta", weighted =
    # TRUE)): PSU totals of the weighted residuals first (rows of zero weight add nothing),
    # then the p x p product
    scores = cd.residuals(final)
    scores *= cd.w[:, None]
    psu_all = design.psu_index.take(idx_all) if data.psu is None else data.psu
    psu = (psu_all if all_pos else psu_all[pos]).take(cd.order)
    totals = psu_totals(scores, psu, design.n_psu) @ inv_info
    vcov = design.variance_of_totals(totals, idx_all)
    se = np.sqrt(np.diag(vcov))
    df_res = float(design.degf(idx_all) + 1 - p)
    ddf = df_res if df == "design" else float(df)
    stat, pval, lo, hi = wald(beta, se, ddf, level)
    if np.any(np.abs(beta) * cd.X.std(axis=0) > 15):  # (centred X: the same SDs)
        warnings.warn(
            "svycoxph: a hazard ratio per SD exceeds e^15; the coefficient may be infinite",
            SurveyWarning,
            stacklevel=2,
        )
    n = int(np.count_nonzero(pos))
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
