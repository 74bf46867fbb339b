"""Monte Carlo usual-intake distribution from a fitted amount model (the DISTRIB step).

For each person ``i`` the between-person effect is drawn ``M`` times, ``u_ik = σ_u s_ik``, and
the person's usual intake at that draw is the expected daily amount given ``u``::

    U_ik = Σ_d π_d ∫ T⁻¹(x_i(d)'β + u_ik + ε) φ(ε; 0, σ_e²) dε

with the sequence (day-2) effect removed (``x`` is a day-1 row) and the day types weekday /
weekend (Fri-Sun) weighted ``π = (4/7, 3/7)``. The integral over within-person error is done by
a 9-point Gauss-Hermite rule — the macros' 9-point approximation of the back-transformation.
Each pseudo-person carries weight ``w_i / M``.

The standard normal draws ``s_ik`` are stratified (``Φ⁻¹((k + U_ik)/M)``, ``U`` uniform):
still Monte Carlo, but each person's ``M`` draws cover the normal evenly, which cuts the
simulation error; and the same draws are reused for every BRR replicate (common random
numbers), so replicate differences reflect the design, not simulation noise.

Examples
--------
>>> import numpy as np
>>> s = standard_draws(3, 4, np.random.default_rng(0))
>>> s.shape, bool(np.all(np.diff(s, axis=1) > 0))
((3, 4), True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray
from scipy import special

from nhanes_mg.errors import EstimationError
from nhanes_mg.usual_intake.model import AmountFit, inverse_boxcox

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

N_QUADRATURE = 9
_GH_NODES, _GH_WEIGHTS = hermegauss(N_QUADRATURE)
_GH_WEIGHTS = _GH_WEIGHTS / np.sqrt(2.0 * np.pi)  # now a rule for E[f(Z)], Z ~ N(0, 1)
WEEKEND_SHARE = 3.0 / 7.0  # Friday, Saturday, Sunday
PERCENTILES = (5, 10, 25, 50, 75, 90, 95)
GRID_SIZE = 4097
BRACKET_POINTS = 1024


def standard_draws(n: int, n_sim: int, rng: np.random.Generator) -> FloatArray:
    """Stratified standard-normal draws, shape ``(n, n_sim)``, sorted within each row."""
    u = rng.random((n, n_sim))
    k = np.arange(n_sim)[None, :]
    return np.asarray(special.ndtri((k + u) / n_sim))


def usual_intake_draws(
    fit: AmountFit,
    X_weekday: FloatArray,
    X_weekend: FloatArray,
    draws: FloatArray,
    weekend_share: float = WEEKEND_SHARE,
) -> FloatArray:
    """Usual intakes ``(n, M)`` for the persons whose day-1 design rows are given.

    Parameters
    ----------
    fit : AmountFit
    X_weekday, X_weekend : (n, p) arrays
        Day-1 design rows (day-2 indicator 0) with the weekend indicator set to 0 and 1.
    draws : (n, M) array
        Standard normal draws (see :func:`standard_draws`).
    weekend_share : float
        Weight of the weekend day type (3/7).

    Examples
    --------
    >>> from nhanes_mg.usual_intake.model import AmountFit
    >>> fit = AmountFit(0.0, np.array([5.0]), 0.0, 0.25, ("intercept",), 0.0, 1, 1)
    >>> X = np.ones((1, 1))
    >>> u = usual_intake_draws(fit, X, X, np.zeros((1, 1)))
    >>> round(float(u[0, 0]), 2) == round(float(np.exp(5 + 0.25 / 2)), 2)  # lognormal mean
    True
    """
    sd_u = np.sqrt(max(fit.sigma_u2, 0.0))
    between = sd_u * draws  # (n, M)
    etas = [
        (X @ fit.beta, share)
        for X, share in ((X_weekday, 1.0 - weekend_share), (X_weekend, weekend_share))
        if share > 0.0
    ]
    lo = min(float(eta.min()) for eta, _ in etas) + float(between.min())
    hi = max(float(eta.max()) for eta, _ in etas) + float(between.max())
    grid, log_g = _log_backtransform_grid(fit, lo, hi)
    # linear interpolation on the uniform grid by direct indexing (no binary search): in grid
    # units ``pos``, interval ``i`` holds the line ``log_g[i] + (pos - i) slope[i]``, kept as
    # ``start[i] + pos slope[i]`` (one pass less over the draws, no integer-to-float copy)
    inv_h = (len(grid) - 1) / (grid[-1] - grid[0])
    slope = np.diff(log_g)
    start = log_g[:-1] - np.arange(len(slope)) * slope
    out = np.zeros(draws.shape, dtype=np.float64)
    for eta, share in etas:
        pos = between + (eta - grid[0])[:, None]
        pos *= inv_h
        i = pos.astype(np.int64)
        np.clip(i, 0, len(slope) - 1, out=i)
        value = np.take(slope, i)
        value *= pos
        value += np.take(start, i)
        np.exp(value, out=value)
        value *= share
        out += value
    return out


def _log_backtransform_grid(
    fit: AmountFit, lo: float, hi: float, size: int = GRID_SIZE
) -> tuple[FloatArray, FloatArray]:
    """``log g(s)`` on a grid, ``g(s) = Σ_q ω_q T⁻¹(s + σ_e z_q)`` (9-point rule).

    The back-transform depends on the person only through the linear predictor plus the
    random effect ``s``, so it is evaluated once on a fine grid of ``s`` and interpolated
    (linearly in ``log g``, which is exact at λ = 0 and nearly linear otherwise): this costs
    ``size × 9`` powers instead of ``n × M × 9`` and changes results by < 1e-6 relative.
    """
    pad = 1e-6 + 1e-3 * (hi - lo)
    grid = np.linspace(lo - pad, hi + pad, size)
    eps = np.sqrt(fit.sigma_e2) * _GH_NODES
    g = inverse_boxcox(grid[:, None] + eps[None, :], fit.lam) @ _GH_WEIGHTS
    return grid, np.log(np.maximum(g, 1e-300))


def weighted_quantiles(
    values: FloatArray, weights: FloatArray, probs: Sequence[float]
) -> FloatArray:
    """Weighted quantiles: the smallest value whose cumulative weight share reaches p.

    >>> weighted_quantiles(np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0, 2.0]), [0.25, 0.5])
    array([1., 2.])
    """
    order = np.argsort(values, kind="stable")
    v, cw = values[order], np.cumsum(weights[order])
    idx = np.searchsorted(cw, np.asarray(probs) * cw[-1] * (1 - 1e-12), side="left")
    return np.asarray(v[np.minimum(idx, len(v) - 1)])


_PERSON_BITS = 21  # up to 2,097,151 persons in one call
_VALUE_BITS = 31  # a non-negative float32's bit pattern, order-preserving as an integer
_CELL_SHIFT = _PERSON_BITS + _VALUE_BITS  # 52: up to 2^11 cells


def domain_summaries(
    values: FloatArray,
    weights: FloatArray,
    cells: NDArray[np.int64],
    domains: Mapping[str, Sequence[int]],
    cut: FloatArray | None = None,
    percentiles: Sequence[int] = PERCENTILES,
    *,
    cuts: Mapping[str, FloatArray] | None = None,
    above: Mapping[str, FloatArray] | None = None,
) -> dict[str, dict[str, float]]:
    """Mean, percentiles and % below (or above) person-specific cut-points, per domain.

    ``values`` is ``(n, M)``: M draws per person, each with weight ``w_i / M`` (a one-column
    array for one-day data); values must be non-negative. Every person belongs to one *cell*
    (``cells``; -1 leaves the person out) and a domain is a set of cells. Percentiles are
    exact weighted quantiles (the smallest value whose cumulative weight share reaches p) of
    the values rounded to float32 (7 significant digits).

    Cut-points: ``cuts`` maps a name to an ``(n,)`` array of each person's cut-point and gives
    ``pct_below_{name}`` per domain (``cut`` alone is ``cuts={"cut": cut}``, reported as
    ``pct_below_cut``). All cut-points are evaluated in the same pass over the draws. "Below"
    is strict ``<`` on the full-precision values: the weighted share of a domain's draws
    under the person's own cut-point. A person whose cut-point is NaN counts as not below
    (but stays in the domain's total). What the share *means* depends on the cut-point: below
    the EAR it is the prevalence of inadequacy (cut-point method); below the RDA it only
    describes the intake distribution (the share not meeting the RDA). ``above`` works the
    same way with a strict ``>`` and gives ``pct_above_{name}`` (e.g. above a fixed intake).

    How it stays fast: each draw becomes one 64-bit integer key (cell, float32 bits of the
    value, person), so one integer ``np.sort`` orders all draws by cell and value and carries
    the person along. A domain's weighted CDF at a value is a sum over its cells of one
    ``searchsorted`` each; all domains' and percentiles' quantiles are found together by
    bisection over the integer value bits (bracketed first on a coarse grid), which ends on
    the exact data value. Cost: one sort plus O(cells · domains · percentiles · log² N).

    Examples
    --------
    >>> v = np.array([[1.0, 3.0], [2.0, 4.0]])
    >>> out = domain_summaries(v, np.ones(2), np.array([0, 1]), {"all": [0, 1], "one": [0]},
    ...                        np.full(2, 2.5))
    >>> out["all"]["mean"], out["all"]["pct_below_cut"], out["all"]["p50"], out["one"]["p95"]
    (2.5, 50.0, 2.0, 3.0)
    >>> two = domain_summaries(v, np.ones(2), np.array([0, 1]), {"all": [0, 1]},
    ...                        cuts={"ear": np.full(2, 2.5), "rda": np.array([3.5, 4.5])})
    >>> two["all"]["pct_below_ear"], two["all"]["pct_below_rda"]
    (50.0, 100.0)
    """
    named: dict[str, FloatArray] = {} if cut is None else {"cut": np.asarray(cut, np.float64)}
    for name, arr in (cuts or {}).items():
        if name in named:
            raise EstimationError(f"domain summaries: cut-point {name!r} given twice")
        named[name] = np.asarray(arr, dtype=np.float64)
    upper = {name: np.asarray(arr, dtype=np.float64) for name, arr in (above or {}).items()}
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    for name, arr in (*named.items(), *upper.items()):
        if arr.shape != values.shape[:1]:
            raise EstimationError(
                f"domain summaries: cut-point {name!r} has shape {arr.shape}, "
                f"expected ({values.shape[0]},)"
            )
    cells = np.asarray(cells, dtype=np.int64)
    keep = cells >= 0
    out: dict[str, dict[str, float]] = {}
    if not keep.any():
        return out
    n_cells = max(
        [int(cells.max()) + 1, *(int(max(cs, default=-1)) + 1 for cs in domains.values())]
    )
    vals, w, c = values[keep], np.asarray(weights, dtype=np.float64)[keep], cells[keep]
    n, m = vals.shape
    if n >= 1 << _PERSON_BITS or n_cells >= 1 << (64 - _CELL_SHIFT):
        raise EstimationError("domain summaries: too many persons or cells for the packed sort")
    if np.any(vals < 0) or not np.all(np.isfinite(vals)):
        raise EstimationError("domain summaries: values must be finite and non-negative")
    cell_w = np.bincount(c, weights=w, minlength=n_cells)
    cell_n = np.bincount(c, minlength=n_cells).astype(np.float64)
    cell_sum = np.bincount(c, weights=w * vals.mean(axis=1), minlength=n_cells)
    # every cut-point in one pass: (K, n, M) comparisons, then one bincount over K × cells
    cut_names = [f"pct_below_{k}" for k in named] + [f"pct_above_{k}" for k in upper]
    cell_below: FloatArray = np.zeros((len(cut_names), n_cells))
    if cut_names:
        shares = []
        if named:
            cut_arr = np.stack([named[k][keep] for k in named])  # (K, n)
            shares.append(np.count_nonzero(vals[None, :, :] < cut_arr[:, :, None], axis=2) / m)
        if upper:
            cut_arr = np.stack([upper[k][keep] for k in upper])
            shares.append(np.count_nonzero(vals[None, :, :] > cut_arr[:, :, None], axis=2) / m)
        share = np.concatenate(shares)  # (K, n)
        slot = (c[None, :] + n_cells * np.arange(len(cut_names))[:, None]).ravel()
        cell_below = np.asarray(
            np.bincount(
                slot, weights=(w[None, :] * share).ravel(), minlength=len(cut_names) * n_cells
            ),
            dtype=np.float64,
        ).reshape(len(cut_names), n_cells)

    names = [d for d in domains if cell_w[list(domains[d])].sum() > 0]
    member = np.zeros((len(names), n_cells))
    for i, d in enumerate(names):
        member[i, list(domains[d])] = 1.0
    member *= cell_w > 0
    total = member @ cell_w  # (D,)
    quant = np.zeros((len(names), 0))
    if percentiles:  # the one sort is for the percentiles: shares and means need none
        quant = _percentiles(vals, w, c, n_cells, member, total, percentiles)
    for i, d in enumerate(names):
        cells_d = list(domains[d])
        row: dict[str, float] = {
            "n": float(cell_n[cells_d].sum()),
            "mean": float(cell_sum[cells_d].sum() / total[i]),
        }
        for k, p in enumerate(percentiles):
            row[f"p{p}"] = float(quant[i, k])
        for k, name in enumerate(cut_names):
            row[name] = float(100.0 * cell_below[k, cells_d].sum() / total[i])
        out[d] = row
    return out


def _percentiles(
    vals: FloatArray,
    w: FloatArray,
    c: NDArray[np.int64],
    n_cells: int,
    member: FloatArray,
    total: FloatArray,
    percentiles: Sequence[int],
) -> FloatArray:
    """Each domain's weighted percentiles of the draws, ``(D, P)`` (see
    :func:`domain_summaries`: one packed integer sort, then bisection on the value bits)."""
    n, m = vals.shape
    keys = vals.astype(np.float32).view(np.uint32).astype(np.uint64)  # (n, M) value bits
    keys <<= np.uint64(_PERSON_BITS)
    keys |= (c.astype(np.uint64) << np.uint64(_CELL_SHIFT))[:, None]
    keys |= np.arange(n, dtype=np.uint64)[:, None]
    keys = keys.ravel()
    keys.sort()
    person_sorted = (keys & np.uint64((1 << _PERSON_BITS) - 1)).view(np.int64)
    cw = np.concatenate([[0.0], np.cumsum((w / m)[person_sorted])])
    cell_base = np.arange(n_cells, dtype=np.uint64) << np.uint64(_CELL_SHIFT)
    starts = np.searchsorted(keys, cell_base, side="left")
    fill = np.uint64((1 << _PERSON_BITS) - 1)

    probs = np.asarray(percentiles, dtype=np.float64) / 100.0
    target = probs[None, :] * total[:, None] * (1 - 1e-12)  # (D, P)

    # (domain, cell) pairs with weight: each CDF evaluation queries only these
    pair_d, pair_c = np.nonzero(member)
    seg = np.searchsorted(pair_d, np.arange(len(member)))
    base_pairs = cw[starts[pair_c]][:, None]
    cell_pairs = cell_base[pair_c][:, None]

    def cdf(b: NDArray[np.int64]) -> FloatArray:
        """Weight of the draws with value bits ≤ b, per domain: b (D, P) → (D, P)."""
        q = cell_pairs | (b[pair_d].astype(np.uint64) << np.uint64(_PERSON_BITS)) | fill
        pos = np.searchsorted(keys, q, side="right")
        return np.asarray(np.add.reduceat(cw[pos] - base_pairs, seg, axis=0))

    # bracket on a grid of observed value bits, then bisect on the integers
    sample = keys[:: max(1, len(keys) // BRACKET_POINTS)]
    grid = np.unique(
        ((sample >> np.uint64(_PERSON_BITS)) & np.uint64((1 << _VALUE_BITS) - 1)).astype(np.int64)
    )
    q_grid = cell_base[:, None] | (grid.astype(np.uint64)[None, :] << np.uint64(_PERSON_BITS))
    pos_grid = np.searchsorted(keys, q_grid | fill, side="right")  # (C, G)
    grid_cdf = member @ (cw[pos_grid] - cw[starts][:, None])  # (D, G)
    at = np.stack([np.searchsorted(grid_cdf[i], target[i]) for i in range(len(member))]).astype(
        np.int64
    )
    lo = np.where(at > 0, grid[np.maximum(at - 1, 0)], -1)  # F(lo) < target
    hi = np.where(at < len(grid), grid[np.minimum(at, len(grid) - 1)], (1 << _VALUE_BITS) - 1)
    while np.any(hi - lo > 1):
        mid = (lo + hi) // 2
        reach = cdf(mid) >= target
        hi = np.where(reach, mid, hi)
        lo = np.where(reach, lo, mid)
    return np.asarray(hi.astype(np.uint32).view(np.float32).astype(np.float64))
