"""The NCI one-part ("amount") model: Box-Cox transform + linear mixed model, weighted ML.

For person ``i`` and recall day ``j`` (one or two recalls per person)::

    T_λ(y_ij) = x_ij'β + u_i + ε_ij,   u_i ~ N(0, σ_u²),   ε_ij ~ N(0, σ_e²)

with ``T_λ(y) = (y^λ - 1)/λ`` (``log y`` at λ = 0). Like the MIXTRAN macro, each person's
log-likelihood contribution (including the Box-Cox Jacobian) is multiplied by the person's
survey weight (a pseudo-likelihood).

Closed forms used for speed
---------------------------
With at most two recalls per person the random effect integrates out analytically. For a
two-recall person rotate the pair into ``m = (z1 + z2)/√2`` and ``d = (z1 - z2)/√2``: they are
independent, ``m ~ N(x_m'β, σ_e²(1 + 2ρ))`` and ``d ~ N(x_d'β, σ_e²)``, with ``ρ = σ_u²/σ_e²``
and ``x_m, x_d`` the same rotation of the two design rows. A one-recall person contributes
``z1 ~ N(x1'β, σ_e²(1 + ρ))``. So, for fixed (λ, ρ), the model is a weighted least-squares
problem: β and σ_e² have closed forms and the log-likelihood is profiled down to (λ, ρ).
For fixed λ every quantity needed is a p×p cross-product, so optimising ρ costs O(p³) per
step; only a change of λ touches the data (O(n·p)). ρ is the root of the profile's
analytic slope in log ρ, found from the ρ of the λ before (a secant iteration: 3–4 steps). λ is
searched on a grid (the "grid start"), then refined by a bounded scalar search of the profile
likelihood — which is the joint maximum likelihood over (λ, β, σ_u², σ_e²).

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> n = 2000
>>> u = rng.normal(0, 0.3, n)
>>> y = np.exp(5.5 + u[:, None] + rng.normal(0, 0.4, (n, 2)))
>>> X = np.ones((n, 2, 1))
>>> fit = fit_amount_model(y, X, np.ones(n), ("intercept",))
>>> round(fit.lam, 1), round(fit.sigma_u2, 2), round(fit.sigma_e2, 2)
(0.0, 0.09, 0.16)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy import optimize
from scipy.linalg.lapack import dgesv as _gesv

from nhanes_mg.errors import EstimationError

FloatArray = NDArray[np.float64]

LAMBDA_BOUNDS = (0.0, 1.0)  # MIXTRAN searches Box-Cox λ in [0, 1]
LAMBDA_GRID = np.linspace(0.0, 1.0, 21)
LOG_RHO_BOUNDS = (-12.0, 6.0)  # ρ = σ_u²/σ_e² from ~6e-6 (no between-person spread) to ~400
_SQRT2 = np.sqrt(2.0)


def boxcox(y: FloatArray, lam: float) -> FloatArray:
    """Box-Cox transform ``(y^λ - 1)/λ``, ``log y`` at λ = 0 (stable near 0 via expm1).

    >>> boxcox(np.array([1.0, np.e]), 0.0).tolist()
    [0.0, 1.0]
    >>> boxcox(np.array([4.0]), 0.5).tolist()
    [2.0]
    """
    return boxcox_of_log(np.log(y), lam)


def boxcox_of_log(logy: FloatArray, lam: float) -> FloatArray:
    """:func:`boxcox` from ``log y`` (for callers that transform the same ``y`` under many
    λ: computed once, not once per λ)."""
    if abs(lam) < 1e-10:
        return logy
    return np.expm1(lam * logy) / lam


def inverse_boxcox(t: FloatArray, lam: float) -> FloatArray:
    """Inverse of :func:`boxcox`; values below the transform's range map to 0.

    >>> inverse_boxcox(np.array([2.0]), 0.5).tolist()
    [4.0]
    """
    if abs(lam) < 1e-10:
        return np.exp(t)
    base = np.maximum(1.0 + lam * t, 0.0)
    return np.power(base, 1.0 / lam)


@dataclass(frozen=True)
class AmountFit:
    """A fitted amount model on the Box-Cox scale.

    ``beta`` is ordered as ``columns``; ``rho = sigma_u2 / sigma_e2``. ``borrowed`` says
    λ and ρ were taken from a donor fit (a cycle without second recalls).
    """

    lam: float
    beta: FloatArray
    sigma_u2: float
    sigma_e2: float
    columns: tuple[str, ...]
    loglik: float
    n_persons: int
    n_two_day: int
    borrowed: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rho(self) -> float:
        return self.sigma_u2 / self.sigma_e2


class RotatedRecalls:
    """The recalls and design rows rotated once (what does not depend on λ, ρ or the weights):
    refits of one model under many weights (BRR replicates) build this once and pass it to
    :func:`fit_amount_model` as ``rotated``.

    Rows of the stacked problem: block "m" (two-day means), "d" (two-day differences),
    "s" (one-day persons). ``kept``: the persons with a day-1 recall (those a fit uses when
    every one of them has a positive weight).
    """

    def __init__(self, y: FloatArray, X: FloatArray) -> None:
        y = np.asarray(y, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
        self.shape = (y.shape, X.shape)
        self.kept = ~np.isnan(y[:, 0])
        y, X = y[self.kept], X[self.kept]
        observed = y[~np.isnan(y)]
        if np.any(observed <= 0):
            raise EstimationError("amount model: amounts must be positive (replace zeros first)")
        two = ~np.isnan(y[:, 1])
        self.two, self.one = two, ~two
        # log y once: every λ's Box-Cox transform is expm1(λ log y)/λ
        self.log1_two = np.log(y[two, 0])
        self.log2_two = np.log(y[two, 1])
        self.log1_one = np.log(y[self.one, 0])
        Xa, Xb = X[two, 0, :], X[two, 1, :]
        self.Xm = (Xa + Xb) / _SQRT2
        self.Xd = (Xa - Xb) / _SQRT2
        self.Xs = X[self.one, 0, :]
        self.n_two = int(two.sum())
        self.n = len(y)

    def matches(self, y: FloatArray, X: FloatArray, keep: NDArray[np.bool_]) -> bool:
        """These are ``y`` and ``X``'s rotation for the persons ``keep`` (same shapes, same
        persons): the caller's promise that the arrays are the ones rotated is checked for
        shape and rows (the values are not compared: that would cost the rotation's time)."""
        return self.shape == (y.shape, X.shape) and bool(np.array_equal(keep, self.kept))


class _Prepared:
    """The rotated data with one set of weights: the per-block cross-products of the design
    (only the response's cross-products change with λ)."""

    def __init__(self, rotated: RotatedRecalls, w: FloatArray) -> None:
        r = rotated
        self.rotated = r
        self.wt = w[r.two]
        self.ws = w[r.one]
        self.wt_sum = float(self.wt.sum())
        self.ws_sum = float(self.ws.sum())
        self.W_total = 2.0 * self.wt_sum + self.ws_sum  # Σ of weights over observations
        self.Gm = (r.Xm * self.wt[:, None]).T @ r.Xm
        self.Gd = (r.Xd * self.wt[:, None]).T @ r.Xd
        self.Gs = (r.Xs * self.ws[:, None]).T @ r.Xs
        self.sum_wlogy = float(self.wt @ (r.log1_two + r.log2_two) + self.ws @ r.log1_one)
        self.n_two = r.n_two
        self.n = r.n

    def cross_products(self, lam: float) -> tuple[FloatArray, ...]:
        """X'Wz and z'Wz per block for the Box-Cox scale λ."""
        r = self.rotated
        z1 = boxcox_of_log(r.log1_two, lam)
        z2 = boxcox_of_log(r.log2_two, lam)
        zm = (z1 + z2) / _SQRT2
        zd = (z1 - z2) / _SQRT2
        zs = boxcox_of_log(r.log1_one, lam)
        bm = r.Xm.T @ (self.wt * zm)
        bd = r.Xd.T @ (self.wt * zd)
        bs = r.Xs.T @ (self.ws * zs)
        cm = np.array([self.wt @ (zm * zm)])
        cd = np.array([self.wt @ (zd * zd)])
        cs = np.array([self.ws @ (zs * zs)])
        return bm, bd, bs, cm, cd, cs


def _at_rho(
    prep: _Prepared, rho: float, cp: tuple[FloatArray, ...]
) -> tuple[float, float, FloatArray, float]:
    """The weighted least squares at ρ: the blocks' weights ``fm = 1/(1 + 2ρ)`` and
    ``fs = 1/(1 + ρ)``, β and the weighted residual sum of squares Σ (w/c)(z - Xβ)² (at
    least 1e-300)."""
    bm, bd, bs, cm, cd, cs = cp
    fm, fs = 1.0 / (1.0 + 2.0 * rho), 1.0 / (1.0 + rho)
    G = prep.Gm * fm + prep.Gd + prep.Gs * fs
    b = bm * fm + bd + bs * fs
    # LAPACK's solver called directly: numpy's wrapper costs 5x the solve of a p×p system,
    # and this runs ~10⁵ times per usual-intake estimation
    _, _, beta, info = _gesv(G, b)
    if info != 0:  # singular: least squares, as before
        beta = np.linalg.lstsq(G, b, rcond=None)[0]
    return fm, fs, beta, max(float(cm[0] * fm + cd[0] + cs[0] * fs - beta @ b), 1e-300)


def _profile(
    prep: _Prepared, lam: float, rho: float, cp: tuple[FloatArray, ...]
) -> tuple[float, FloatArray, float]:
    """Profiled weighted log-likelihood at (λ, ρ): returns (loglik, β, σ_e²)."""
    _, _, beta, rss = _at_rho(prep, rho, cp)
    sigma_e2 = rss / prep.W_total
    # Σ w log c over observations: block m has c = 1 + 2ρ, block d c = 1, block s c = 1 + ρ
    log_c = prep.wt_sum * math.log1p(2.0 * rho) + prep.ws_sum * math.log1p(rho)
    ll = (
        -0.5 * prep.W_total * (math.log(2.0 * math.pi * sigma_e2) + 1.0)
        - 0.5 * log_c
        + (lam - 1.0) * prep.sum_wlogy
    )
    return ll, beta, sigma_e2


def _rho_slope(prep: _Prepared, log_rho: float, cp: tuple[FloatArray, ...]) -> float:
    """The profile's slope in ``log ρ``: ``d loglik / d log ρ`` at ``ρ = exp(log_rho)``.

    β and σ_e² are at their optimum, so (envelope theorem) only the blocks' weights
    ``fm = 1/(1 + 2ρ)`` and ``fs = 1/(1 + ρ)`` move with ρ: ``d rss/dρ = -2 fm² rss_m - fs²
    rss_s``, with ``rss_m`` and ``rss_s`` the two blocks' weighted residual sums of squares."""
    rho = math.exp(log_rho)
    bm, _, bs, cm, _, cs = cp
    fm, fs, beta, rss = _at_rho(prep, rho, cp)
    rss_m = float(cm[0] - beta @ (2.0 * bm - prep.Gm @ beta))
    rss_s = float(cs[0] - beta @ (2.0 * bs - prep.Gs @ beta))
    d_rss = -2.0 * fm * fm * rss_m - fs * fs * rss_s
    return rho * (-0.5 * prep.W_total * d_rss / rss - prep.wt_sum * fm - 0.5 * prep.ws_sum * fs)


_LOG_RHO_TOL = 1e-7  # the root of the slope, in log ρ


def _best_rho(
    prep: _Prepared,
    lam: float,
    cp: tuple[FloatArray, ...],
    start: float | None,
    near: float | None = None,
) -> float:
    """ρ maximising the profile at λ: the root of its slope in log ρ.

    The search is bracketed in ``log ρ`` by :data:`LOG_RHO_BOUNDS`, or by ±2 around
    ``start`` (a replicate's warm start). ``near``, the ρ found at a nearby λ, starts a
    secant iteration, which lands in 3–4 slopes where Brent's root finder over the bracket
    needs about ten; if it leaves the bracket or stalls, that bracketed search decides.
    Where the slope keeps one sign over the bracket the maximum is at an end of it: at a
    bound of :data:`LOG_RHO_BOUNDS` that bound, else (a warm bracket too narrow) the search
    over the full bounds.
    """
    if prep.n_two == 0:
        raise EstimationError("the variance ratio needs second recalls; none in this fit")

    def slope(log_rho: float) -> float:
        return _rho_slope(prep, log_rho, cp)

    lo, hi = LOG_RHO_BOUNDS
    warm = start is not None
    if start is not None:
        s = math.log(max(start, 1e-12))
        lo, hi = max(lo, s - 2.0), min(hi, s + 2.0)
    if near is not None:
        x0 = math.log(max(near, 1e-12))
        if lo < x0 < hi:
            g0 = slope(x0)
            x1 = min(max(x0 + (1e-2 if g0 > 0 else -1e-2), lo), hi)
            g1 = slope(x1)
            for _ in range(12):
                if g1 == g0:
                    break
                x2 = x1 - g1 * (x1 - x0) / (g1 - g0)
                if not lo < x2 < hi:
                    break
                x0, g0, x1, g1 = x1, g1, x2, slope(x2)
                if abs(x1 - x0) < _LOG_RHO_TOL:
                    if (g1 - g0) / (x1 - x0) < 0 or g1 == 0.0:  # a maximum, not a minimum
                        return math.exp(x1)
                    break
    at_lo, at_hi = slope(lo), slope(hi)
    if at_lo <= 0.0 or at_hi >= 0.0:  # no interior maximum in the bracket
        edge = lo if at_lo <= 0.0 else hi
        if warm and edge not in LOG_RHO_BOUNDS:
            return _best_rho(prep, lam, cp, None)
        return math.exp(edge)
    return math.exp(float(optimize.brentq(slope, lo, hi, xtol=_LOG_RHO_TOL)))


def fit_amount_model(
    y: FloatArray,
    X: FloatArray,
    w: FloatArray,
    columns: tuple[str, ...],
    *,
    start: AmountFit | None = None,
    fixed_lam_rho: tuple[float, float] | None = None,
    rotated: RotatedRecalls | None = None,
) -> AmountFit:
    """Fit the Box-Cox linear mixed model by weighted maximum likelihood.

    Parameters
    ----------
    y : (n, 2) array
        Positive amounts on recall days 1 and 2 (``nan`` where a person has no day-2 recall).
        Zeros must already be replaced (see :func:`replace_zeros`).
    X : (n, 2, p) array
        Design rows for day 1 and day 2 (the day-2 row of a one-recall person is ignored).
    w : (n,) array
        Survey weights; they are rescaled to mean 1 (the estimates do not depend on scale).
    columns : tuple of str
        Names of the p columns of ``X``.
    start : AmountFit, optional
        A previous fit (e.g. the full-sample fit when fitting a BRR replicate): λ is then
        searched in ±0.1 around ``start.lam`` without the grid, and ρ near ``start.rho``.
    fixed_lam_rho : (λ, ρ), optional
        Fix λ and ρ (borrowed from a donor fit) and estimate only β and σ_e²: the way to fit
        data that have no second recalls.
    rotated : RotatedRecalls, optional
        ``RotatedRecalls(y, X)`` made once by a caller that refits these ``y`` and ``X`` under
        many weights; used when the persons with a positive weight are the ones it holds
        (else the data are rotated anew).

    Returns
    -------
    AmountFit

    Raises
    ------
    EstimationError
        Non-positive amounts, no positive weight, a singular design, or no second recalls
        without ``fixed_lam_rho``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = (10 + rng.gamma(4, 1, (500, 1)) + rng.normal(0, 1, (500, 2))).clip(0.5)
    >>> fit = fit_amount_model(y, np.ones((500, 2, 1)), np.ones(500), ("intercept",))
    >>> bool(0.0 <= fit.lam <= 1.0 and fit.sigma_u2 > 0)
    True
    """
    y = np.asarray(y, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if y.ndim != 2 or y.shape[1] != 2 or X.shape[:2] != y.shape or X.shape[2] != len(columns):
        raise EstimationError("amount model: y must be (n, 2) and X (n, 2, p) with p names")
    keep = (w > 0) & ~np.isnan(y[:, 0])
    reuse = rotated is not None and rotated.matches(y, X, keep)
    w = w[keep]
    if len(w) == 0:
        raise EstimationError("amount model: no person with a positive weight and a recall")
    if not reuse:  # the kept persons' data (a reused rotation holds them already)
        y, X = y[keep], X[keep]
        rotated = RotatedRecalls(y, X)
    assert rotated is not None
    w = w / w.mean()
    prep = _Prepared(rotated, w)
    G_all = prep.Gm + prep.Gd + prep.Gs
    if np.linalg.matrix_rank(G_all) < len(columns):
        raise EstimationError(
            f"amount model: the design ({', '.join(columns)}) is singular in this subgroup"
        )

    if fixed_lam_rho is not None:
        lam, rho = fixed_lam_rho
        cp = prep.cross_products(lam)
        ll, beta, s2 = _profile(prep, lam, rho, cp)
        return AmountFit(lam, beta, rho * s2, s2, columns, ll, prep.n, prep.n_two, borrowed=True)
    if prep.n_two < 2:
        raise EstimationError(
            "amount model: fewer than two persons with two recalls: within-person variance "
            "cannot be estimated (borrow λ and ρ from a donor with fixed_lam_rho)"
        )

    rho_start = start.rho if start is not None else None
    cache: dict[float, tuple[float, float]] = {}
    last = rho_start  # the ρ of the last λ: where the next λ's search starts

    def neg_profile(lam: float) -> float:
        nonlocal last
        cp = prep.cross_products(lam)
        rho = last = _best_rho(prep, lam, cp, rho_start, last)
        ll = _profile(prep, lam, rho, cp)[0]
        cache[lam] = (ll, rho)
        return -ll

    lo_b, hi_b = LAMBDA_BOUNDS
    if start is None:
        grid = [(neg_profile(float(g)), float(g)) for g in LAMBDA_GRID]
        centre = min(grid)[1]
        step = float(LAMBDA_GRID[1] - LAMBDA_GRID[0])
    else:
        centre, step = start.lam, 0.1
    lo, hi = max(lo_b, centre - step), min(hi_b, centre + step)
    # λ to 1e-4 on the full sample; 5e-4 suffices for a BRR replicate started at λ̂
    res = optimize.minimize_scalar(
        neg_profile,
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-4 if start is None else 5e-4},
    )
    lam = float(res.x)
    # the bounded search never evaluates the ends: check the boundary of [0, 1] explicitly
    for edge in (lo_b, hi_b):
        if abs(lam - edge) < 2e-3 and neg_profile(edge) <= res.fun:
            lam = edge
    if (
        start is not None
        and (abs(lam - lo) < 2e-3 or abs(lam - hi) < 2e-3)
        and lam
        not in (
            lo_b,
            hi_b,
        )
    ):
        # the warm bracket was too narrow: the full search, on the kept persons
        return fit_amount_model(y[keep] if reuse else y, X[keep] if reuse else X, w, columns)
    cp = prep.cross_products(lam)
    rho = cache[lam][1] if lam in cache else _best_rho(prep, lam, cp, rho_start, last)
    ll, beta, s2 = _profile(prep, lam, rho, cp)
    if not np.all(np.isfinite(beta)) or not np.isfinite(s2):
        raise EstimationError("amount model: the fit did not converge (non-finite estimates)")
    return AmountFit(lam, beta, rho * s2, s2, columns, ll, prep.n, prep.n_two)


def replace_zeros(amounts: FloatArray) -> tuple[FloatArray, float]:
    """Replace zero amounts by half the smallest positive amount (as MIXTRAN does).

    Returns the new array and the value used. ``nan`` (no recall) stays ``nan``.

    >>> replace_zeros(np.array([0.0, 4.0, 2.0, np.nan]))[0].tolist()
    [1.0, 4.0, 2.0, nan]
    """
    a = np.asarray(amounts, dtype=np.float64).copy()
    positive = a[(a > 0) & ~np.isnan(a)]
    if len(positive) == 0:
        raise EstimationError("no positive amount: the amount model needs daily consumers")
    half_min = float(positive.min()) / 2.0
    a[(a <= 0) & ~np.isnan(a)] = half_min
    return a, half_min
