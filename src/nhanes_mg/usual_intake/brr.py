"""Balanced repeated replication (BRR) with Fay's adjustment for NHANES designs.

How replicates are built (documented rule, tested in ``tests/test_usual_intake.py``)
------------------------------------------------------------------------------------
* Each public NHANES two-year cycle has 14-16 masked variance strata (``SDMVSTRA``) with 2
  masked PSUs each (``SDMVPSU``); 2009-2010 and 2011-2012 have a few strata with 3 PSUs.
* A Sylvester Hadamard matrix ``H`` of order ``R`` (the smallest power of two larger than the
  number of strata, so 16 for cycles with up to 15 strata and 32 for 2007-2008's 16) gives
  the replicates: row ``r`` of ``H`` is replicate ``r``. Within a cycle the strata are sorted by
  their ``SDMVSTRA`` code and the ``k``-th (0-based) takes column ``k + 1``; the all-ones
  column 0 is never used, so every used column is balanced (half +1, half -1) and any two are
  orthogonal — *full orthogonal balance*.
* ``H[r, k+1] = +1`` selects the stratum's first PSU (the lowest ``SDMVPSU`` code) as the
  "kept" half-sample in replicate ``r``; ``-1`` selects the other. Fay's method multiplies the
  kept half's weights by ``2 - ρ`` (1.7 for ρ = 0.3) and the other half's by ``ρ`` (0.3).
  In a stratum with 3 PSUs the second and third PSU form the second half-sample together
  (a collapse that makes the variance slightly conservative in those strata).
* Pooled cycles (e.g. 2003-2006): strata of different cycles are distinct, but each cycle is
  an independent sample, so each cycle keeps its own assignment (its ``k``-th stratum on
  column ``k + 1``) and replicate ``r`` of the pool is the union of replicate ``r`` of each
  cycle. The cross-cycle terms have expectation zero, so the variance estimator of a pooled
  estimate stays (approximately) unbiased with ``R`` replicates instead of a larger Hadamard
  matrix over all pooled strata. A run uses one ``R`` for all its cycles (the largest any
  cycle needs), so replicate ``r`` is defined everywhere.
* Variance: ``v = Σ_r (θ_r - θ)² / (R (1 - ρ)²)``.

Examples
--------
>>> import numpy as np
>>> f = replicate_factors(np.array([1, 1, 2, 2]), np.array([1, 2, 1, 2]), n_replicates=4)
>>> f.shape, sorted(set(f.ravel().round(2).tolist()))
((4, 4), [0.3, 1.7])
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import hadamard

from nhanes_mg.errors import DesignError

FAY_RHO = 0.3


def hadamard_order(n_strata: int) -> int:
    """Smallest power of two strictly larger than ``n_strata`` (column 0 is never used).

    >>> hadamard_order(15), hadamard_order(16), hadamard_order(14)
    (16, 32, 16)
    """
    if n_strata < 1:
        raise DesignError("BRR needs at least one stratum")
    order = 2
    while order <= n_strata:
        order *= 2
    return order


def replicate_factors(
    strata: NDArray[np.generic],
    psu: NDArray[np.generic],
    *,
    n_replicates: int | None = None,
    fay_rho: float = FAY_RHO,
) -> NDArray[np.float64]:
    """Fay-BRR weight factors, shape ``(n_rows, R)``, for one cycle's strata and PSUs.

    Parameters
    ----------
    strata, psu : arrays of length n
        Design stratum and PSU of each row (one cycle).
    n_replicates : int, optional
        ``R``; default :func:`hadamard_order` of the number of strata. Must be a power of two
        larger than the number of strata (so that pooled cycles can share one ``R``).
    fay_rho : float
        Fay's coefficient ρ (0 gives classical BRR).

    Raises
    ------
    DesignError
        Missing design values, a stratum with a single PSU, or too few replicates.

    Examples
    --------
    >>> f = replicate_factors(np.array([5, 5, 9, 9]), np.array([1, 2, 1, 2]))
    >>> f.round(2).tolist()
    [[1.7, 0.3, 1.7, 0.3], [0.3, 1.7, 0.3, 1.7], [1.7, 1.7, 0.3, 0.3], [0.3, 0.3, 1.7, 1.7]]
    """
    strata = np.asarray(strata)
    psu = np.asarray(psu)
    if strata.shape != psu.shape or strata.ndim != 1:
        raise DesignError("strata and PSU must be one-dimensional and of equal length")
    if len(strata) == 0:
        raise DesignError("BRR needs at least one row")
    if np.any(np.isnan(strata.astype(float))) or np.any(np.isnan(psu.astype(float))):
        raise DesignError("missing stratum or PSU values: BRR weights cannot be built")
    if not 0.0 <= fay_rho < 1.0:
        raise DesignError(f"Fay's ρ must lie in [0, 1); got {fay_rho}")
    levels = np.unique(strata)
    order = hadamard_order(len(levels)) if n_replicates is None else int(n_replicates)
    if order & (order - 1) or order <= len(levels):
        raise DesignError(
            f"{len(levels)} strata need a power-of-two number of replicates above "
            f"{len(levels)}; got {order}"
        )
    H = hadamard(order).astype(np.float64)
    k = np.searchsorted(levels, strata)
    first = np.empty(len(strata), dtype=bool)
    for i, level in enumerate(levels):
        rows = k == i
        units = np.unique(psu[rows])
        if len(units) < 2:
            raise DesignError(f"stratum {level} has a single PSU: BRR needs two half-samples")
        first[rows] = psu[rows] == units[0]
    sign = np.where(first, 1.0, -1.0)
    # rows: observations; columns: replicates r → H[r, k + 1]
    selected = H[:, k + 1].T * sign[:, None]
    return np.asarray(1.0 + (1.0 - fay_rho) * selected)


def brr_variance(
    estimate: float | NDArray[np.float64],
    replicates: NDArray[np.float64],
    fay_rho: float = FAY_RHO,
) -> NDArray[np.float64]:
    """Fay-BRR variance ``Σ_r (θ_r - θ)² / (R (1 - ρ)²)``; replicates along axis 0.

    >>> float(brr_variance(1.0, np.array([1.7, 0.3, 1.0, 1.0])))
    0.5
    """
    reps = np.asarray(replicates, dtype=np.float64)
    dev = reps - np.asarray(estimate, dtype=np.float64)
    return np.asarray(np.sum(dev * dev, axis=0) / (reps.shape[0] * (1.0 - fay_rho) ** 2))
