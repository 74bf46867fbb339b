"""Replicate-weight designs, as R's ``svrepdesign`` and ``as.svrepdesign`` (survey 4.1).

A :class:`ReplicateDesign` holds the sample (a polars frame), the full-sample weights and an
``n x R`` matrix of replicate (analysis) weights. Every estimator of
:mod:`nhanes_mg.survey` accepts one: it computes its estimate once with the full-sample
weights and once with each replicate column, and the variance is R's ``svrVar``::

    V = scale * sum_r rscales[r] * (theta_r - centre) (theta_r - centre)'

with ``centre`` the mean of the replicates that have ``rscales > 0`` (``mse=False``, R's
default) or the full-sample estimate (``mse=True``). Intervals are Student t on the design
degrees of freedom, which for a replicate design R computes as ``degf.svyrep.design``: the
rank of the analysis weights (LINPACK QR, tolerance 1e-5) minus one, over the rows of the
domain.

Why hand-written
----------------
No Python library builds replicate weights the way R does (samplics and others use their own
Hadamard matrices, PSU order and lonely-PSU rules), and agreement with R to rounding needs
every choice to be R's. This module reproduces R's construction rules, read from the survey
sources (``brrweights``, ``hadamard``, ``paley``, ``jknweights``, ``jk1weights``,
``bootweights``, ``svrepdesign.default``, ``svrVar``, ``degf.svyrep.design``):

Hadamard matrix (BRR, Fay)
    ``survey:::hadamard(n)`` for ``n`` half-sample strata: a precooked 0/1 matrix of order
    4, 16 (Sylvester), 28 or 36 (Sloane's library, stored by survey; reproduced here as
    data) when one is within 4 of ``n``; otherwise the smallest of those orders doubled
    (``rbind(cbind(H, H), cbind(H, 1 - H))``) up to ``n + 1`` rows, or a Paley matrix
    (quadratic residues of a prime ``p = 3 mod 4``, bordered with ones) when that is more
    than 4 rows closer. So 15 strata (NHANES 2005-2006) give 16 replicates, 16 strata
    (2007-2008) a Paley matrix of order 20, and 29 strata (2009-2012 pooled) 32 replicates.
    Row ``k + 1`` of ``H`` (row 1, all ones, is never used) decides stratum ``k`` and
    column ``r`` decides replicate ``r``.
Order of strata (BRR, Fay)
    Strata are sorted by their label *as text* (R's ``as.character``, then ``order``): stratum
    100 comes before stratum 75. Single-PSU strata (``small="split"`` or ``"merge"``) are
    numbered first, then strata with more than two PSUs (``large``), then the two-PSU strata.
First PSU of a pair (BRR, Fay)
    Within a stratum PSUs are ordered by their first row in the frame. The first PSU gets
    factor ``2 - rho`` when its ``H`` entry is 1 and ``rho`` when it is 0; the second PSU
    the other one (``rho = 0`` is BRR: factors 2 and 0).
Strata with 3 PSUs (NHANES 2009-2010 stratum 86, 2011-2012 strata 90-92)
    R's default ``large="split"`` stops for an odd number of PSUs ("Can't split with odd
    numbers of PSUs in a stratum"); so does :func:`as_svrepdesign` with the same default.
    ``large="merge"`` (R's ``as.svrepdesign(..., large = "merge")``) makes the first
    ``n_h %/% 2`` PSUs one half-sample and the others the second half, within one
    Hadamard row; ``large="split"`` splits strata with an even number of PSUs into pairs.
    JKn needs no such rule: a 3-PSU stratum gives 3 replicates with ``rscales`` 2/3.
JKn
    Strata in order of first appearance in the frame, PSUs within a stratum likewise; one
    replicate per PSU, that PSU's factor 0 and the other PSUs of its stratum
    ``n_h / (n_h - 1)``; ``rscales = (n_h - 1) / n_h``, ``scale = 1``. Single-PSU strata
    follow the design's ``lonely_psu`` (R's ``survey.lonely.psu``): ``"fail"`` raises,
    ``"remove"``/``"certainty"`` give no replicate, ``"average"`` also multiplies ``scale`` by
    #PSUs / #replicates, ``"adjust"`` adds R's replicate (the stratum's PSU 0, all others
    ``H / (H - 1)``, ``rscales (H - 1) / H`` for ``H`` strata).
JK1 (one stratum only, as in R)
    Factor ``n / (n - 1)``, the dropped PSU 0; ``scale = (n - 1) / n``, ``rscales = 1``.
Bootstrap
    R's ``bootweights`` draws its resamples with R's random numbers, which cannot be
    reproduced here: each replicate resamples ``n_h`` PSUs with replacement in each stratum
    with a numpy generator (``seed``), the factor is the number of times a PSU is drawn,
    ``scale = h / ((h - 1) (R - 1))`` with ``h`` the harmonic mean number of PSUs per
    stratum, ``rscales = 1`` (R's formulas). Structure and variance formula are R's; the
    numbers agree with R only in distribution.
Scale by type (``svrepdesign``)
    BRR ``1 / R``; Fay ``1 / (R (1 - rho)^2)``; bootstrap ``bootstrap_average / (R - 1)``;
    JK1 ``(R - 1) / R`` if not given; JKn needs ``rscales`` (``(n_h - 1) / n_h``) with
    combined weights; successive-difference and ACS ``4 / R``; JK2 1; other: as given.
Domains
    R's ``subset`` of a ``svyrep.design`` drops the rows outside the domain; estimates then
    use the replicate weights of the domain rows. Here the rows stay and get weight zero in
    every column (the same estimates, and the same degrees of freedom: zero rows do not
    change the rank). Converting a *domain* of a Taylor design is different, in R and here:
    R's subset of a ``svydesign`` drops the other rows, so ``as.svrepdesign`` numbers the
    strata, PSUs and first rows of the domain only (another Hadamard assignment, other
    SEs); :func:`as_svrepdesign` of ``design.subset(...)`` does the same.

Estimates computed outside the engine
-------------------------------------
Any statistic (e.g. a usual-intake distribution simulated by the NCI method) gets an
R-consistent variance from its per-replicate values: compute it with
``design.domain_weights`` and with each column of ``design.domain_replicate_weights``
(n x R, zero outside the domain), or let :meth:`ReplicateDesign.replicate_estimates` loop,
then call :func:`replicate_variance` (``theta_full, theta_replicates, design``), which
applies ``scale``, ``rscales`` and ``mse`` and discards NaN replicates as R does. Pooled
cycles are one design here, as in R (one Hadamard matrix over all pooled strata), not one
assignment per cycle.

Examples
--------
>>> import polars as pl
>>> from nhanes_mg.survey import SurveyDesign, as_svrepdesign, svymean
>>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 1, 2, 2, 2, 2],
...                       "sdmvpsu": [1, 1, 2, 2, 1, 1, 2, 2],
...                       "wt_mec": [1.0, 2.0, 1.5, 1.0, 2.0, 1.0, 1.0, 3.0],
...                       "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
>>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
>>> fay = as_svrepdesign(design, type="Fay", fay_rho=0.3)
>>> fay.n_replicates, fay.df
(4, 2)
>>> round(float(svymean("x", fay).std_error[0]), 6)  # R: SE 0.9418
0.941846
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Literal, cast

import numpy as np
import polars as pl

from nhanes_mg.errors import DesignError, EstimationError
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, Variable, _label

ReplicateType = Literal[
    "BRR", "Fay", "JK1", "JKn", "bootstrap", "successive-difference", "ACS", "JK2", "other"
]
REPLICATE_TYPES: tuple[str, ...] = (
    "BRR", "Fay", "JK1", "JKn", "bootstrap", "successive-difference", "ACS", "JK2", "other",
)  # fmt: skip

# ---------------------------------------------------------------------- Hadamard matrices
# survey's precooked matrices of order 28 and 36 (survey:::hadamard.list[3:4], from Sloane's
# library of Hadamard matrices), one row per number, most significant bit = first column.
_H28 = (
    0xFFFFFFF, 0x9C71C78, 0x83CD378, 0x83B2E66, 0x9A0F8D6, 0x952C5AE, 0x8CD239E, 0x58AA7F0,
    0x45B59D4, 0x46CBCAC, 0x561774A, 0x4B64E9A, 0x5959B26, 0x2D1EAE8, 0x3666B34, 0x2B3B51C,
    0x31D74B2, 0x32F89CA, 0x2CED646, 0xEA545E4, 0xF1632CC, 0xF09CE1C, 0xE54AD52, 0xE6392B2,
    0xE8A792A, 0xDFFE000, 0xBF81F80, 0x7F8007E,
)  # fmt: skip
_H36 = (
    0xFFFFFFFFF, 0x5C7DC8564, 0xB8FB90AC8, 0x71F721592, 0xE3EE42B24, 0xC7DC8564A, 0x8FB90AC96,
    0x1F721592E, 0x3EE42B25C, 0x7DC8564B8, 0xFB90AC970, 0xF721592E2, 0xEE42B25C6, 0xDC8564B8E,
    0xB90AC971E, 0x721592E3E, 0xE42B25C7C, 0xC8564B8FA, 0x90AC971F6, 0x21592E3EE, 0x42B25C7DC,
    0x8564B8FB8, 0x0AC971F72, 0x1592E3EE4, 0x2B25C7DC8, 0x564B8FB90, 0xAC971F720, 0x592E3EE42,
    0xB25C7DC84, 0x64B8FB90A, 0xC971F7214, 0x92E3EE42A, 0x25C7DC856, 0x4B8FB90AC, 0x971F72158,
    0x2E3EE42B2,
)  # fmt: skip
_PRECOOKED_SIZES = (4, 16, 28, 36)
_LARGEST_PRIME = 7919  # survey's paley() knows the primes = 3 (mod 4) up to this one


def _double(h: np.ndarray) -> np.ndarray:
    """R's ``hadamard.doubler``: ``rbind(cbind(H, H), cbind(H, 1 - H))``."""
    return np.block([[h, h], [h, 1 - h]])


@lru_cache(maxsize=4)
def _precooked(i: int) -> np.ndarray:
    """survey's ``hadamard.list[[i + 1]]`` (orders 4 and 16 are Sylvester's, natural order)."""
    if i < 2:
        h = np.ones((1, 1), dtype=np.int8)
        for _ in range(2 if i == 0 else 4):
            h = _double(h)
    else:
        rows, n = (_H28, 28) if i == 2 else (_H36, 36)
        shifts = np.arange(n - 1, -1, -1, dtype=np.uint64)
        h = ((np.array(rows, dtype=np.uint64)[:, None] >> shifts) & np.uint64(1)).astype(np.int8)
    h.flags.writeable = False
    return h


@lru_cache(maxsize=1)
def _small_primes() -> frozenset[int]:
    """The primes p = 3 (mod 4) up to 7919 (survey's ``small.primes`` of ``paley``)."""
    sieve = np.ones(_LARGEST_PRIME + 1, dtype=bool)
    sieve[:2] = False
    for k in range(2, math.isqrt(_LARGEST_PRIME) + 1):
        if sieve[k]:
            sieve[k * k :: k] = False
    primes = np.flatnonzero(sieve)
    return frozenset(int(p) for p in primes[primes % 4 == 3])


def _paley_prime(p: int) -> np.ndarray:
    """The bordered Paley matrix of order ``p + 1`` (0/1), as survey's ``paley(prime = p)``."""
    m = np.add.outer(np.arange(p), np.arange(p)) % p
    residues = {0, 1} | {(i * i) % p for i in range(2, (p - 1) // 2 + 1)}
    core = np.where(np.isin(m, list(residues)), 0, 1).astype(np.int8)
    out = np.ones((p + 1, p + 1), dtype=np.int8)
    out[1:, 1:] = core
    return out


def _paley(n: int, nmax: int) -> np.ndarray | None:
    """survey's ``paley(n, nmax)``: a Paley-type matrix with more than ``n`` rows, or None."""
    primes = _small_primes()
    nceil = nn = n + 4 - (n % 4)
    if (n % 4) + 4 == n % 8:
        while nn % 8 == 0:
            nn //= 2
        if nn - 1 in primes:
            m = _paley_prime(nn - 1)
            while nn < nceil:
                m = _double(m)
                nn *= 2
            return m
    if n > _LARGEST_PRIME:
        return None
    p = min(q for q in primes if q >= n)
    if p + 1 > nceil + 4 and nceil + 4 < nmax:
        return _paley(nceil + 3, 2 * (nceil + 3))
    if p > nmax:
        return None
    return _paley_prime(p)


def hadamard(n: int) -> np.ndarray:
    """The 0/1 Hadamard matrix R's survey uses for ``n`` half-sample strata (``hadamard(n)``).

    It has at least ``n + 1`` rows; its columns are the replicates. See the module notes
    for the construction (precooked orders 4, 16, 28, 36; doubling; Paley).

    Examples
    --------
    >>> from nhanes_mg.survey.replicate import hadamard
    >>> [hadamard(n).shape[0] for n in (2, 7, 15, 16, 29, 45)]
    [4, 8, 16, 20, 32, 48]
    """
    if n < 0:
        raise DesignError(f"hadamard: n must be non-negative, not {n}")
    m = n - n % 4
    sizes = np.array(_PRECOOKED_SIZES)
    precooked = np.flatnonzero((m < sizes) & (m + 4 >= sizes))
    if len(precooked):
        return _precooked(int(precooked.min()))
    if np.all(m < sizes):  # pragma: no cover - R's branch; the one above catches m < 4
        return _precooked(0)
    # log2 of a ratio of doubles, as R's log(x, 2) (exact for powers of two)
    powers = [max(0, math.ceil(math.log2((n + 1) / s))) for s in _PRECOOKED_SIZES]
    orders = [s * 2**k for s, k in zip(_PRECOOKED_SIZES, powers, strict=True)]
    best = int(np.argmin(np.array(orders) - n))  # the first of equal fits, as which.min
    h: np.ndarray | None = None
    if orders[best] - n > 4:
        h = _paley(n, orders[best])
    if h is None:
        h = _precooked(best)
        for _ in range(powers[best]):
            h = _double(h)
    return h


# ---------------------------------------------------------------------- replicate factors
def _psu_order(design: SurveyDesign, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(PSU of each row numbered by first appearance among ``rows``, stratum code of each
    such PSU); rows in a PSU without any of ``rows`` get -1.

    R identifies PSUs (nested in strata) by ``!duplicated(psu)``: in the order of their first
    row in the data, the data being the domain rows for a subset design (R's ``[`` of a
    ``survey.design2`` drops the other rows).
    """
    s = design._structure
    present, first = np.unique(s.psu[rows], return_index=True)  # sorted PSU numbers
    appearance = present[np.argsort(first, kind="stable")]  # PSU numbers by first row
    rank = np.full(len(s.psu_stratum), -1, dtype=np.int64)
    rank[appearance] = np.arange(len(appearance))
    return rank[s.psu], s.psu_stratum[appearance]


def _brr_factors(
    labels: Sequence[str], rho: float, small: str, large: str
) -> tuple[np.ndarray, int]:
    """R's ``brrweights`` at the PSU level: (P x R factors, number of half-sample strata).

    ``labels[u]`` is the stratum (as R's text) of PSU ``u``; PSUs are numbered by first row.
    """
    n_psu = len(labels)
    names = sorted(set(labels))
    size = {s: 0 for s in names}
    for s in labels:
        size[s] += 1
    oo = sorted(range(n_psu), key=lambda u: (labels[u], u))  # order(sunq, match)
    halves = np.full((n_psu, 2), np.nan)
    half_stratum = np.zeros(n_psu, dtype=np.int64)

    def in_oo(strata: set[str]) -> np.ndarray:
        return np.array([u for u in oo if labels[u] in strata], dtype=np.int64)

    upto = 0
    small_strata = [s for s in names if size[s] == 1]
    if small_strata:
        k = len(small_strata)
        if small == "fail":
            raise DesignError(
                f"{k} stratum/strata have a single PSU ({', '.join(small_strata[:10])}); "
                "BRR needs 2 per stratum: pass small='split' or small='merge' (R's "
                "brrweights options) or use type='JKn'"
            )
        if small == "split":
            sel = np.array([u for u in range(n_psu) if size[labels[u]] == 1], dtype=np.int64)
            halves[sel] = 0.5
            half_stratum[sel] = np.arange(1, k + 1)
            upto = k
        else:
            if k == 1:
                raise DesignError("small='merge' cannot merge a single small stratum")
            sel = in_oo(set(small_strata))
            alternate = np.arange(k) % 2
            halves[sel, 0] = alternate
            halves[sel, 1] = 1 - alternate
            pairs = list(range(1, k // 2 + 1)) * 2
            half_stratum[sel] = pairs if k % 2 == 0 else [1, *pairs]
            upto = k // 2
    large_strata = [s for s in names if size[s] > 2]
    if large_strata:
        if large == "fail":
            raise DesignError(
                f"{len(large_strata)} stratum/strata have more than 2 PSUs "
                f"({', '.join(large_strata[:10])}); pass large='merge' or large='split'"
            )
        if large == "split":
            odd = [s for s in large_strata if size[s] % 2]
            if odd:
                raise DesignError(
                    f"cannot split strata with an odd number of PSUs into pairs "
                    f"({', '.join(f'{s}: {size[s]} PSUs' for s in odd[:10])}), as R's "
                    'brrweights ("Can\'t split with odd numbers of PSUs in a stratum"); pass '
                    "large='merge' to make two half-samples of each (R: as.svrepdesign(..., "
                    "large = \"merge\")) or use type='JKn'"
                )
            for s in large_strata:
                sel = in_oo({s})
                n_pairs = size[s] // 2
                halves[sel, 0] = np.tile([0.0, 1.0], n_pairs)
                halves[sel, 1] = np.tile([1.0, 0.0], n_pairs)
                half_stratum[sel] = upto + np.repeat(np.arange(1, n_pairs + 1), 2)
                upto += n_pairs
        else:
            sel = in_oo(set(large_strata))
            first_half = np.concatenate(
                [
                    np.repeat([0.0, 1.0], [size[s] // 2, size[s] - size[s] // 2])
                    for s in large_strata
                ]
            )
            halves[sel, 0] = first_half
            halves[sel, 1] = 1 - first_half
            half_stratum[sel] = upto + np.repeat(
                np.arange(1, len(large_strata) + 1), [size[s] for s in large_strata]
            )
            upto += len(large_strata)
    good = [s for s in names if size[s] == 2]
    if good:
        sel = in_oo(set(good))
        halves[sel, 0] = np.tile([0.0, 1.0], len(good))
        halves[sel, 1] = np.tile([1.0, 0.0], len(good))
        half_stratum[sel] = upto + np.repeat(np.arange(1, len(good) + 1), 2)
        upto += len(good)
    h = hadamard(upto)
    column = h[half_stratum, :]  # row k + 1 of R's H (1-based) for half-sample stratum k
    first = np.where(column == 0, halves[:, :1], halves[:, 1:])
    second = np.where(column == 0, halves[:, 1:], halves[:, :1])
    factors = first * (2 - rho) + second * rho
    return factors, upto


def _jkn_factors(
    psu_stratum: np.ndarray, lonely_psu: str, labels: Sequence[object]
) -> tuple[np.ndarray, np.ndarray, float]:
    """R's ``jknweights`` at the PSU level: (P x R factors, rscales, scale).

    ``psu_stratum[u]`` is the stratum code of PSU ``u`` (PSUs numbered by first row).
    """
    n_psu = len(psu_stratum)
    _, first = np.unique(psu_stratum, return_index=True)
    strata = psu_stratum[np.sort(first)]  # strata in order of first appearance
    n_strata = len(strata)
    columns: list[np.ndarray] = []
    rscales: list[float] = []
    for h in strata:
        members = np.flatnonzero(psu_stratum == h)
        n_h = len(members)
        if n_h == 1:
            if lonely_psu == "fail":
                raise DesignError(
                    f"stratum {_label(labels[int(h)])} has only one PSU: JKn needs a "
                    "lonely_psu rule other than 'fail' on the design"
                )
            if lonely_psu == "adjust":
                col = np.full(n_psu, n_strata / (n_strata - 1))
                col[members] = 0.0
                columns.append(col)
                rscales.append((n_strata - 1) / n_strata)
            continue
        for u in members:
            col = np.ones(n_psu)
            col[members] = n_h / (n_h - 1)
            col[u] = 0.0
            columns.append(col)
            rscales.append((n_h - 1) / n_h)
    if not columns:
        raise DesignError("JKn: no stratum has more than one PSU; no replicate can be made")
    scale = 1.0
    if len(columns) < n_psu and lonely_psu == "average":
        scale = scale * n_psu / len(columns)
    return np.column_stack(columns), np.array(rscales), scale


def _bootstrap_factors(
    psu_stratum: np.ndarray, replicates: int, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """Rao-Wu bootstrap factors (P x R) and R's ``bootweights`` scale."""
    n_psu = len(psu_stratum)
    factors = np.zeros((n_psu, replicates))
    sizes = []
    for h in np.unique(psu_stratum):
        members = np.flatnonzero(psu_stratum == h)
        n_h = len(members)
        sizes.append(n_h)
        draws = rng.multinomial(n_h, np.full(n_h, 1.0 / n_h), size=replicates)  # R x n_h
        factors[members] = draws.T
    per_stratum = 1 / np.mean(1 / np.array(sizes, dtype=float))
    scale = per_stratum / ((per_stratum - 1) * (replicates - 1))
    return factors, float(scale)


# ---------------------------------------------------------------------- the design
class ReplicateDesign:
    """A survey design with replicate weights, as R's ``svyrep.design``.

    Build one with :func:`as_svrepdesign` (from a :class:`SurveyDesign`, R's
    ``as.svrepdesign``) or :func:`svrepdesign` (from replicate-weight columns, R's
    ``svrepdesign``); the constructor takes the arrays directly.

    Parameters
    ----------
    frame : polars.DataFrame
        One row per sampled person (all rows; restrict with :meth:`subset`).
    weights : str or ndarray
        The full-sample weight column, or its values (length ``frame.height``).
    repweights : ndarray, shape (n, R)
        Replicate weights: analysis weights (``combined_weights=True``) or factors that
        multiply ``weights`` (``combined_weights=False``, as ``as.svrepdesign`` makes them).
    type : str
        One of ``REPLICATE_TYPES`` (R's ``type``); informational, the variance uses
        ``scale`` and ``rscales``.
    scale : float
        Overall multiplier of the variance.
    rscales : float or ndarray of length R
        Per-replicate multipliers (a scalar is used for every replicate).
    mse : bool
        Centre the replicates on the full-sample estimate (True) or on their mean (False).
    combined_weights : bool
        Whether ``repweights`` already include the sampling weights.
    fay_rho : float, optional
        Fay's rho (informational; it is in ``scale``).
    repweight_columns : sequence of str
        Frame columns the replicate weights came from (:meth:`update` refuses to replace them).
    weights_name : str, optional
        The name of array ``weights`` (shown by ``repr``; :meth:`update` refuses to replace a
        column of that name).

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import ReplicateDesign, svytotal
    >>> frame = pl.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "x": [1.0, 0.0, 1.0, 1.0]})
    >>> reps = np.array([[2.0, 0.0], [0.0, 2.0], [4.0, 0.0], [0.0, 4.0]])
    >>> d = ReplicateDesign(frame, weights="w", repweights=reps, type="BRR", scale=0.5,
    ...                     rscales=1.0)
    >>> d.n_replicates, d.scale, d.df
    (2, 0.5, 1)
    >>> float(svytotal("x", d).std_error[0])
    1.0
    """

    def __init__(
        self,
        frame: pl.DataFrame,
        *,
        weights: str | np.ndarray,
        repweights: np.ndarray,
        type: str,
        scale: float,
        rscales: float | Sequence[float] | np.ndarray,
        mse: bool = False,
        combined_weights: bool = True,
        fay_rho: float | None = None,
        repweight_columns: Sequence[str] = (),
        weights_name: str | None = None,
    ) -> None:
        if not isinstance(frame, pl.DataFrame):
            raise DesignError(f"frame must be a polars DataFrame, not {type_name(frame)}")
        if type not in REPLICATE_TYPES:
            raise DesignError(f"type={type!r} is not one of {', '.join(REPLICATE_TYPES)}")
        n = frame.height
        if n == 0:
            raise DesignError("the frame has no rows")
        if isinstance(weights, str):
            if weights not in frame.columns:
                raise DesignError(f"weight column {weights!r} not in the frame")
            if not frame[weights].dtype.is_numeric():
                raise DesignError(f"weight column {weights!r} is not numeric")
            nulls = frame[weights].null_count()
            if nulls:
                raise DesignError(f"weight column {weights!r} has {nulls} missing value(s)")
            w = frame[weights].cast(pl.Float64).to_numpy()
            label = weights
        else:
            w = np.asarray(weights, dtype=np.float64)
            label = "<array>" if weights_name is None else weights_name
        if w.shape != (n,):
            raise DesignError(f"weights have shape {w.shape}; the frame has {n} rows")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise DesignError("weights must be finite and non-negative")
        rep = np.asarray(repweights, dtype=np.float64)
        if rep.ndim != 2 or rep.shape[0] != n or rep.shape[1] < 1:
            raise DesignError(
                f"repweights must be an n x R matrix with n = {n} rows, not shape {rep.shape}"
            )
        if not np.all(np.isfinite(rep)):
            raise DesignError("missing or non-finite values in repweights (R: not allowed)")
        n_rep = rep.shape[1]
        rs = np.atleast_1d(np.asarray(rscales, dtype=np.float64)).ravel()
        if rs.size not in (1, n_rep):
            raise DesignError(f"rscales has length {rs.size}, should be 1 or R = {n_rep}")
        rs = np.broadcast_to(rs, (n_rep,)).copy()
        if not np.all(np.isfinite(rs)) or not math.isfinite(scale):
            raise DesignError("scale and rscales must be finite")
        analysis = np.asfortranarray(rep if combined_weights else rep * w[:, None])
        if analysis is rep:
            analysis = analysis.copy(order="F")
        analysis.flags.writeable = False
        rs.flags.writeable = False
        self._base = SurveyDesign._rows_only(frame, w, label)
        self._rep = analysis
        self.type = type
        self.scale = float(scale)
        self.rscales = rs
        self.mse = bool(mse)
        self.combined_weights = bool(combined_weights)
        self.fay_rho = fay_rho
        self._repweight_columns = frozenset(repweight_columns)
        # (group of each row, G x R factors) when row i's analysis weights are w_i times
        # the factors of its group (as_svrepdesign: the PSUs); used for the rank
        self._groups: tuple[np.ndarray, np.ndarray] | None = None
        self._memo: dict[str, Any] = {}

    # ------------------------------------------------------------------ properties
    @property
    def frame(self) -> pl.DataFrame:
        """The full frame (all rows of the sample, inside and outside the domain)."""
        return self._base.frame

    @property
    def domain(self) -> np.ndarray:
        """Boolean mask (full length) of the rows in the current domain."""
        return self._base.domain

    @property
    def weights(self) -> np.ndarray:
        """Full-sample weights of every row (read-only)."""
        return self._base.weights

    @property
    def domain_weights(self) -> np.ndarray:
        """Full-sample weights with zeros outside the domain."""
        return self._base.domain_weights

    @property
    def weights_col(self) -> str:
        """The name of the full-sample weight column (``"<array>"`` if given as values)."""
        return self._base.weights_col

    @property
    def n_replicates(self) -> int:
        """R, the number of replicate weight columns."""
        return int(self._rep.shape[1])

    @property
    def replicate_weights(self) -> np.ndarray:
        """The analysis replicate weights of every row, n x R (R's ``weights(design,
        "analysis")`` of the full sample; read-only, Fortran order)."""
        return self._rep

    def replicate_weights_of(self, rows: np.ndarray) -> np.ndarray:
        """The analysis replicate weights of some rows (row numbers), m x R, Fortran order
        (each replicate's column contiguous)."""
        return cast(np.ndarray, self._rep.T.take(rows, axis=1).T)

    @property
    def domain_replicate_weights(self) -> np.ndarray:
        """:attr:`replicate_weights` with zeros outside the domain (a new n x R array)."""
        return np.where(self.domain[:, None], self._rep, 0.0)

    @property
    def column_names(self) -> frozenset[str]:
        """The frame's column names."""
        return self._base.column_names

    @property
    def df(self) -> int:
        """Design degrees of freedom of the domain, R's ``degf`` of a ``svyrep.design``.

        The rank of the analysis replicate weights of the domain rows (QR with R's
        tolerance 1e-5) minus one.
        """
        df = self._memo.get("df")
        if df is None:
            df = self.degf(self.domain)
            self._memo["df"] = df
        return cast(int, df)

    def degf(self, rows: np.ndarray) -> int:
        """Rank of the analysis replicate weights of ``rows`` (mask or row numbers) minus 1.

        For weights made by :func:`as_svrepdesign` (row ``i`` = ``w_i`` times the factors of
        its PSU) the rank is taken on the PSU x R matrix ``sqrt(sum w_i^2) factors``, which
        has the same cross-product as the n x R matrix (so the same QR rank decisions) and
        is far smaller.
        """
        rows = np.asarray(rows)
        if self._groups is not None:
            group, factors = self._groups
            w = self.weights
            if rows.dtype == bool:
                group, w = group[rows], w[rows]
            else:
                group, w = group.take(rows), w.take(rows)
            ss = np.bincount(group, weights=w * w, minlength=len(factors))
            present = ss > 0
            return _qr_rank(factors[present] * np.sqrt(ss[present])[:, None]) - 1
        return (
            _qr_rank(
                self.replicate_weights_of(np.flatnonzero(rows) if rows.dtype == bool else rows)
            )
            - 1
        )

    def __len__(self) -> int:
        return len(self._base)

    def __repr__(self) -> str:
        rho = "" if self.fay_rho is None or self.type != "Fay" else f", rho={self.fay_rho:g}"
        label = self._base._domain_label
        dom = "" if label is None else f", domain {label}"
        return (
            f"ReplicateDesign(type={self.type!r}{rho}, {self.n_replicates} replicates, "
            f"{len(self)} rows, {int(self.domain.sum())} in domain, scale={self.scale:g}, "
            f"mse={self.mse}, df={self.df}, weights={self.weights_col!r}{dom})"
        )

    def values(self, variable: Variable) -> np.ndarray:
        """Full-length float64 values of a column or expression (missing → NaN)."""
        return self._base.values(variable)

    def __getattr__(self, name: str) -> Any:
        # only for names not found: say so when a function wanted a SurveyDesign (an
        # AttributeError too, so hasattr() and getattr(x, name, default) keep working)
        if not name.startswith("__") and hasattr(SurveyDesign, name):
            raise TaylorOnlyError(
                f"this function needs a SurveyDesign (strata and PSUs: {name!r}); it does not "
                "take a ReplicateDesign (e.g. svycoxph): use the Taylor design"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ------------------------------------------------------------------ domains, updates
    def _with_base(self, base: SurveyDesign) -> ReplicateDesign:
        new = object.__new__(ReplicateDesign)
        new.__dict__.update(self.__dict__)
        new._base = base
        new._memo = {}
        return new

    def subset(
        self, condition: str | pl.Expr | np.ndarray | pl.Series | Sequence[bool]
    ) -> ReplicateDesign:
        """The design restricted to a domain (R's ``subset(design, condition)``).

        Rows outside the domain (condition false or missing) keep their place but weigh zero
        in the full-sample and every replicate column; R drops them, which gives the same
        estimates and degrees of freedom. Subsets nest.

        Examples
        --------
        >>> import numpy as np, polars as pl
        >>> from nhanes_mg.survey import ReplicateDesign, svymean
        >>> frame = pl.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "age": [30, 70, 65, 40],
        ...                       "x": [1.0, 2.0, 3.0, 4.0]})
        >>> reps = np.array([[2.0, 0.0], [0.0, 2.0], [4.0, 0.0], [0.0, 4.0]])
        >>> d = ReplicateDesign(frame, weights="w", repweights=reps, type="BRR", scale=0.5,
        ...                     rscales=1.0)
        >>> old = d.subset(pl.col("age") >= 60)
        >>> len(old), int(old.domain.sum()), float(svymean("x", old).estimate[0])
        (4, 2, 2.6666666666666665)
        """
        return self._with_base(self._base.subset(condition))

    def update(self, **columns: pl.Expr | pl.Series | np.ndarray | Any) -> ReplicateDesign:
        """The design with added or replaced variables (R's ``update(design, name = expr)``).

        As :meth:`SurveyDesign.update`: expressions are evaluated on every row of the frame,
        the replicate weights, domain and cached encodings are shared. The weight column and
        the replicate-weight columns cannot be replaced.

        Examples
        --------
        >>> import numpy as np, polars as pl
        >>> from nhanes_mg.survey import ReplicateDesign, svymean
        >>> frame = pl.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> reps = np.array([[2.0, 0.0], [0.0, 2.0], [4.0, 0.0], [0.0, 4.0]])
        >>> d = ReplicateDesign(frame, weights="w", repweights=reps, type="BRR", scale=0.5,
        ...                     rscales=1.0)
        >>> float(svymean("x10", d.update(x10=pl.col("x") * 10)).estimate[0])
        28.333333333333332
        """
        clash = sorted(self._repweight_columns & set(columns))
        if clash:
            raise DesignError(
                f"update() cannot replace the replicate-weight column(s) {', '.join(clash)}; "
                "build a new design for other replicate weights"
            )
        return self._with_base(self._base.update(**columns))

    # ------------------------------------------------------------------ variances
    def replicate_variance(self, theta: Any, replicates: Any) -> np.ndarray:
        """The replicate covariance of an estimate (R's ``svrVar``); see
        :func:`replicate_variance`."""
        return replicate_variance(theta, replicates, self)

    def replicate_estimates(
        self, statistic: Callable[[np.ndarray], Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """A statistic with the full-sample weights and with each replicate's weights.

        ``statistic(w)`` gets full-length weights (zero outside the domain) and returns a
        number or a vector; the result is ``(theta (p,), replicates (R, p))``, ready for
        :meth:`replicate_variance`. For a linear statistic a matrix product with
        :attr:`replicate_weights` is faster; this is for anything else (e.g. a Monte Carlo
        usual-intake distribution computed outside the engine).

        Examples
        --------
        >>> import numpy as np, polars as pl
        >>> from nhanes_mg.survey import ReplicateDesign
        >>> frame = pl.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "x": [1.0, 2.0, 3.0, 4.0]})
        >>> reps = np.array([[2.0, 0.0], [0.0, 2.0], [4.0, 0.0], [0.0, 4.0]])
        >>> d = ReplicateDesign(frame, weights="w", repweights=reps, type="BRR", scale=0.5,
        ...                     rscales=1.0)
        >>> x = d.values("x")
        >>> theta, reps_ = d.replicate_estimates(lambda w: np.average(x, weights=w))
        >>> theta, reps_[:, 0]
        (array([2.83333333]), array([2.33333333, 3.33333333]))
        >>> d.replicate_variance(theta, reps_)
        array([[0.25]])
        """
        dom = self.domain
        full = np.atleast_1d(np.asarray(statistic(np.where(dom, self.weights, 0.0)), float))
        out = np.empty((self.n_replicates, full.size))
        for r in range(self.n_replicates):
            out[r] = np.ravel(np.asarray(statistic(np.where(dom, self._rep[:, r], 0.0)), float))
        return full.ravel(), out


def type_name(x: object) -> str:
    return type(x).__name__


class TaylorOnlyError(EstimationError, AttributeError):
    """A function for Taylor designs (a :class:`SurveyDesign`) got a :class:`ReplicateDesign`."""


def _qr_rank(a: np.ndarray, tol: float = 1e-5) -> int:
    """The rank R's ``qr(a, tol = 1e-5)$rank`` reports (LINPACK ``dqrdc2``).

    ``dqrdc2`` takes the columns in order and sets one aside when the norm of its part
    orthogonal to the columns kept so far is below ``tol`` times its own norm. The same test
    runs here on the triangular factor of a Householder QR (it preserves the norms of all
    such projections), so the n x R matrix is factored once by LAPACK.
    """
    if a.size == 0:
        return 0
    norms = np.linalg.norm(a, axis=0)
    r = cast(np.ndarray, np.linalg.qr(a, mode="r")) if a.shape[0] > a.shape[1] else a
    limit = min(a.shape)
    basis = np.empty((r.shape[0], 0))
    rank = 0
    for j in range(r.shape[1]):
        if rank == limit:
            break
        v = r[:, j].astype(float, copy=True)
        for _ in range(2):  # twice is enough (Kahan-Parlett)
            v -= basis @ (basis.T @ v)
        size = float(np.linalg.norm(v))
        if size >= tol * (norms[j] if norms[j] > 0 else 1.0) and size > 0:
            basis = np.column_stack((basis, v / size))
            rank += 1
    return rank


def replicate_variance(
    theta_full: Any, theta_replicates: Any, design: ReplicateDesign
) -> np.ndarray:
    """Replicate covariance of an estimate, with the design's scale, rscales and mse (R's
    ``svrVar``).

    ``V = scale * sum_r rscales[r] (theta_r - c)(theta_r - c)'`` with ``c`` the mean of the
    replicates whose ``rscales > 0`` (``design.mse`` False) or ``theta_full`` (True).
    Replicates with a missing (NaN) value are discarded with a warning, as R does.

    Parameters
    ----------
    theta_full : float or array of shape (p,)
        The full-sample estimate.
    theta_replicates : array of shape (R,) or (R, p)
        The estimate with each replicate's weights, in the order of the design's columns.
    design : ReplicateDesign

    Returns
    -------
    ndarray, shape (p, p)

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import ReplicateDesign
    >>> from nhanes_mg.survey.replicate import replicate_variance
    >>> d = ReplicateDesign(pl.DataFrame({"w": [1.0, 1.0]}), weights="w",
    ...                     repweights=np.array([[1.7, 0.3], [0.3, 1.7]]), type="Fay",
    ...                     scale=1 / (2 * 0.7**2), rscales=1.0, fay_rho=0.3)
    >>> replicate_variance(10.0, [9.0, 11.0], d)
    array([[2.04081633]])
    """
    theta = np.atleast_1d(np.asarray(theta_full, dtype=np.float64)).ravel()
    reps = np.asarray(theta_replicates, dtype=np.float64)
    n_rep = design.n_replicates
    if reps.ndim == 1:
        reps = reps[:, None]
    if reps.shape != (n_rep, theta.size):
        raise EstimationError(
            f"replicate estimates have shape {reps.shape}; expected ({n_rep}, {theta.size})"
        )
    rscales = design.rscales
    bad = np.isnan(reps).any(axis=1)
    if bad.any():
        if bad.all():
            raise EstimationError("every replicate gave a missing estimate: no variance")
        warnings.warn(
            f"{int(bad.sum())} replicate(s) gave NA results and were discarded (as R)",
            SurveyWarning,
            stacklevel=3,
        )
        reps = reps[~bad]
        rscales = rscales[~bad]
    centre = theta if design.mse else reps[rscales > 0].mean(axis=0)
    dev = (reps - centre) * np.sqrt(rscales)[:, None]
    return cast(np.ndarray, (dev.T @ dev) * design.scale)


# ---------------------------------------------------------------------- constructors
def as_svrepdesign(
    design: SurveyDesign,
    type: Literal["auto", "JKn", "JK1", "BRR", "Fay", "bootstrap"] = "auto",
    *,
    fay_rho: float | None = None,
    replicates: int = 50,
    mse: bool = False,
    small: Literal["fail", "split", "merge"] = "fail",
    large: Literal["split", "merge", "fail"] = "split",
    seed: int | np.random.Generator | None = None,
) -> ReplicateDesign:
    """Replicate weights for a stratified cluster design, as R's ``as.svrepdesign``.

    Parameters
    ----------
    design : SurveyDesign
        The Taylor design. Its weights (divided by ``n_cycles`` for pooled cycles) are the
        full-sample weights. A domain (``design.subset(...)``) is kept, and, as R builds the
        replicates of a subset design from its rows only, the PSUs, strata and first rows
        that decide the replicates are those of the domain rows: converting a domain is not
        the same as a domain of the converted design (R's ``as.svrepdesign(subset(d, ...))``
        versus ``subset(as.svrepdesign(d), ...)``); the second is the usual analysis.
    type : {"auto", "JKn", "JK1", "BRR", "Fay", "bootstrap"}
        ``"auto"`` is ``"JKn"`` (R: JKn for a stratified design). ``"Fay"`` needs
        ``fay_rho`` (NCHS uses 0.3 for NHANES); ``"BRR"`` with ``fay_rho > 0`` is Fay, as in
        R. ``"JK1"`` needs a single stratum, as in R.
    fay_rho : float, optional
        Fay's rho in [0, 1): half-samples weigh ``2 - rho`` and ``rho``.
    replicates : int
        Number of bootstrap replicates (R's default 50).
    mse : bool
        Centre variances on the full-sample estimate (R's ``mse = TRUE``).
    small, large : str
        R's ``brrweights`` rules for strata with one PSU and with more than two (BRR, Fay);
        NHANES 2009-2012 needs ``large="merge"`` for its 3-PSU strata. See the module notes.
    seed : int or numpy Generator, optional
        Random numbers of the bootstrap (R's draws cannot be reproduced).

    Returns
    -------
    ReplicateDesign
        With ``combined_weights=False`` (R keeps factors and weights apart, the analysis
        weights are their product), R's ``scale`` and ``rscales``, and the design degrees of
        freedom R's ``degf`` gives.

    Raises
    ------
    DesignError
        An unknown type; Fay without ``fay_rho``; JK1 with several strata; a single-PSU
        stratum under ``small="fail"`` (BRR) or ``lonely_psu="fail"`` (JKn); an odd number of
        PSUs under ``large="split"``.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, as_svrepdesign, svymean
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 2, 2, 2, 2], "sdmvpsu": [1, 2, 3, 1, 1, 2, 2],
    ...                       "wt_mec": [1.0, 2.0, 1.5, 2.0, 1.0, 1.0, 3.0],
    ...                       "x": [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 8.0]})
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> jk = as_svrepdesign(design)  # JKn
    >>> jk.type, jk.n_replicates, [round(float(r), 4) for r in jk.rscales]
    ('JKn', 5, [0.6667, 0.6667, 0.6667, 0.5, 0.5])
    >>> round(float(svymean("x", jk).std_error[0]), 6)  # R: 0.917
    0.917001
    >>> fay = as_svrepdesign(design, type="Fay", fay_rho=0.3, large="merge")
    >>> fay.n_replicates, round(float(svymean("x", fay).std_error[0]), 6)  # R: 0.9895
    (4, 0.989493)
    """
    if not isinstance(design, SurveyDesign):
        raise DesignError(f"as_svrepdesign needs a SurveyDesign, not {type_name(design)}")
    if type not in ("auto", "JKn", "JK1", "BRR", "Fay", "bootstrap"):
        raise DesignError(f"type={type!r} is not one of auto, JKn, JK1, BRR, Fay, bootstrap")
    if small not in ("fail", "split", "merge") or large not in ("split", "merge", "fail"):
        raise DesignError("small must be fail, split or merge; large split, merge or fail")
    kind: str = "JKn" if type == "auto" else type
    psu_of_row, psu_stratum = _psu_order(design, design.domain)
    labels = design._structure.stratum_labels
    scale: float
    if kind in ("BRR", "Fay"):
        if kind == "Fay" and fay_rho is None:
            raise DesignError("type='Fay' needs fay_rho (NCHS uses 0.3 for NHANES)")
        rho = 0.0 if fay_rho is None else float(fay_rho)
        if not 0 <= rho < 1:
            raise DesignError(f"fay_rho must be in [0, 1), not {fay_rho}")
        text = [_label(labels[int(h)]) for h in psu_stratum]
        factors, _ = _brr_factors(text, rho, small, large)
        kind = "BRR" if rho == 0 else "Fay"
        n_rep = factors.shape[1]
        rscales = np.ones(n_rep)
        scale = 1 / (n_rep * ((1 - rho) * (1 - rho)))
        fay: float | None = rho
    elif kind == "JKn":
        factors, rscales, scale = _jkn_factors(psu_stratum, design.lonely_psu, labels)
        fay = None
    elif kind == "JK1":
        n_strata = len(np.unique(psu_stratum))
        if n_strata > 1:
            raise DesignError(
                f"JK1 is for an unstratified design; this one has {n_strata} strata "
                "(use type='JKn', as R: \"Can't use JK1 for a stratified design\")"
            )
        n = len(psu_stratum)
        if n < 2:
            raise DesignError("JK1 needs at least 2 PSUs")
        factors = np.full((n, n), n / (n - 1))
        np.fill_diagonal(factors, 0.0)
        rscales = np.ones(n)
        scale = (n - 1) / n
        fay = None
    else:
        if int(replicates) != replicates or replicates < 2:
            raise DesignError(f"replicates must be an integer >= 2, not {replicates!r}")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        factors, scale = _bootstrap_factors(psu_stratum, int(replicates), rng)
        rscales = np.ones(int(replicates))
        fay = None
    # rows outside the domain in a PSU without domain rows: factor 0 (R has no such rows)
    factors = np.vstack((factors, np.zeros((1, factors.shape[1]))))
    rows = factors.take(psu_of_row, axis=0)  # (-1: the zero row)
    out = ReplicateDesign(
        design.frame,
        weights=design.weights,
        repweights=rows,
        type=kind,
        scale=scale,
        rscales=rscales,
        mse=mse,
        combined_weights=False,
        fay_rho=fay,
        weights_name=design.weights_col,
    )
    group = np.where(psu_of_row < 0, len(factors) - 1, psu_of_row)
    out._groups = (group, factors)
    if not design.domain.all():
        out = out.subset(design.domain)
    return out


def svrepdesign(
    frame: pl.DataFrame,
    *,
    weights: str | None,
    repweights: str | Sequence[str] | np.ndarray,
    type: ReplicateType = "BRR",
    scale: float | None = None,
    rscales: float | Sequence[float] | np.ndarray | None = None,
    mse: bool = False,
    combined_weights: bool = True,
    fay_rho: float | None = None,
    bootstrap_average: float | None = None,
) -> ReplicateDesign:
    """A design from replicate-weight columns, as R's ``svrepdesign``.

    Parameters
    ----------
    frame : polars.DataFrame
    weights : str or None
        The full-sample weight column (None: equal weights, with a warning, as R).
    repweights : str, list of str or ndarray
        A regular expression matched (``re.search``, as R's ``grep``) against the column
        names (in frame order), a list of columns, or an n x R matrix.
    type : str
        R's ``type``: ``"BRR"`` (R's default), ``"Fay"``, ``"JK1"``, ``"JKn"``,
        ``"bootstrap"``, ``"successive-difference"``, ``"ACS"``, ``"JK2"``, ``"other"``.
    scale, rscales : float, optional
        As R: ignored (with a warning) or computed for BRR and Fay (``1 / (R (1 - rho)^2)``),
        defaulted per type otherwise (see the module notes). JKn with combined weights needs
        ``rscales``.
    mse : bool
        Centre on the full-sample estimate.
    combined_weights : bool
        The columns are analysis weights (True, R's default) or factors of ``weights``.
    fay_rho : float, optional
        Required for ``type="Fay"`` (R's ``rho``).
    bootstrap_average : float, optional
        R's ``bootstrap.average`` (bootstrap scale ``bootstrap_average / (R - 1)``).

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import svrepdesign, svymean
    >>> frame = pl.DataFrame({"w": [1.0, 1.0, 2.0, 2.0], "x": [1.0, 2.0, 3.0, 4.0],
    ...                       "rw1": [2.0, 0.0, 4.0, 0.0], "rw2": [0.0, 2.0, 0.0, 4.0]})
    >>> d = svrepdesign(frame, weights="w", repweights="^rw", type="BRR")
    >>> d.n_replicates, d.scale
    (2, 0.5)
    >>> float(svymean("x", d).std_error[0])  # R: 0.5
    0.5
    """
    if not isinstance(frame, pl.DataFrame):
        raise DesignError(f"frame must be a polars DataFrame, not {type_name(frame)}")
    if type not in REPLICATE_TYPES:
        raise DesignError(f"type={type!r} is not one of {', '.join(REPLICATE_TYPES)}")
    if type == "Fay" and fay_rho is None:
        raise DesignError("with type='Fay' you must supply the correct fay_rho (R's rho)")
    if fay_rho is not None and type not in ("Fay", "BRR", "bootstrap"):
        warnings.warn(f"fay_rho is not relevant to type {type!r}: ignored", SurveyWarning, 2)
    columns: list[str] = []
    if isinstance(repweights, str):
        try:
            pattern = re.compile(repweights)
        except re.error as exc:
            raise DesignError(f"repweights pattern {repweights!r}: {exc}") from exc
        columns = [c for c in frame.columns if pattern.search(c)]
        if not columns:
            raise DesignError(f"no column name matches the repweights pattern {repweights!r}")
    elif isinstance(repweights, np.ndarray):
        rep = np.asarray(repweights, dtype=np.float64)
    else:
        columns = list(repweights)
        if not columns:
            raise DesignError("repweights: no columns given")
    if columns:
        absent = [c for c in columns if c not in frame.columns]
        if absent:
            raise DesignError(f"replicate weight column(s) not in the frame: {absent}")
        part = frame.select(columns)
        nulls = sum(part[c].null_count() for c in columns)
        if nulls:
            raise DesignError("missing values not allowed in repweights (R)")
        try:
            rep = part.cast(pl.Float64).to_numpy(order="fortran")
        except pl.exceptions.PolarsError as exc:
            raise DesignError(f"replicate weight columns are not numeric: {exc}") from exc
    if rep.ndim != 2 or rep.shape[0] != frame.height:
        raise DesignError(f"repweights has shape {rep.shape}; the frame has {frame.height} rows")
    n_rep = rep.shape[1]
    if weights is None:
        warnings.warn("No sampling weights provided: equal probability assumed", SurveyWarning, 2)
        w: str | np.ndarray = np.ones(frame.height)
        w_values = np.ones(frame.height)
    else:
        if weights not in frame.columns:
            raise DesignError(f"weight column {weights!r} not in the frame")
        w = weights
        w_values = frame[weights].cast(pl.Float64).to_numpy()
    # R's warnings about weights that look combined or not
    rep_mean = float(rep.mean(axis=0).mean())
    w_mean = float(np.mean(w_values))
    if combined_weights and rep_mean < 5 and w_mean / rep_mean > 5:
        warnings.warn(
            f"Data do not look like combined weights: mean replication weight is {rep_mean:g} "
            f"and mean sampling weight is {w_mean:g}",
            SurveyWarning,
            2,
        )
    if not combined_weights and rep_mean > 5 and w_mean / rep_mean < 5:
        warnings.warn(
            f"Data look like combined weights: mean replication weight is {rep_mean:g} and "
            f"mean sampling weight is {w_mean:g}",
            SurveyWarning,
            2,
        )
    rs: np.ndarray | None = None
    if rscales is not None:
        rs = np.atleast_1d(np.asarray(rscales, dtype=np.float64))
        if len(rs) not in (1, n_rep):
            raise DesignError(f"rscales has length {len(rs)}, should be ncol(repweights) = {n_rep}")
    if type in ("ACS", "successive-difference") and (scale is not None or rs is not None):
        warnings.warn(
            f"with type {type} scale= and rscales= are not needed and will be ignored",
            SurveyWarning,
            2,
        )
    if type == "BRR":
        if scale is not None:
            warnings.warn("type='BRR' does not use 'scale='", SurveyWarning, 2)
        if fay_rho is not None:
            warnings.warn(
                "type='BRR' does not use fay_rho; you may want type='Fay'", SurveyWarning, 2
            )
        scale = 1 / n_rep
    if type == "Fay":
        assert fay_rho is not None
        scale = 1 / (n_rep * ((1 - fay_rho) * (1 - fay_rho)))
    if type == "bootstrap":
        average = 1.0 if bootstrap_average is None else float(bootstrap_average)
        if scale is None:
            scale = average / (n_rep - 1)
        if rs is None:
            rs = np.ones(n_rep)
    if type == "JK1" and scale is None:
        if not combined_weights:
            warnings.warn("scale (n-1)/n not provided: guessing from weights", SurveyWarning, 2)
            scale = 1 / float(rep[:, 0].max())
        else:
            scale = (n_rep - 1) / n_rep
            warnings.warn(
                "scale (n-1)/n not provided: guessing n=number of replicates", SurveyWarning, 2
            )
    if type == "JKn" and rs is None:
        if not combined_weights:
            warnings.warn("rscales (n-1)/n not provided: guessing from weights", SurveyWarning, 2)
            rs = 1 / rep.max(axis=0)
        else:
            raise DesignError("Must provide rscales for combined JKn weights (R)")
    if type in ("ACS", "successive-difference"):
        rs = np.ones(n_rep)
        scale = 4 / n_rep
    if type == "JK2":
        warnings.warn(
            "with type JK2 scale= and rscales= are not needed and will be ignored",
            SurveyWarning,
            2,
        )
        rs = np.ones(n_rep)
        scale = 1.0
    if type == "other" and (rs is None or scale is None):
        if rs is None:
            rs = np.ones(n_rep)
        if scale is None:
            scale = 1.0
        warnings.warn("scale or rscales not specified, set to 1", SurveyWarning, 2)
    if rs is None:
        rs = np.ones(n_rep)
    if scale is None:
        scale = 1.0
    return ReplicateDesign(
        frame,
        weights=w,
        repweights=rep,
        type=type,
        scale=scale,
        rscales=rs,
        mse=mse,
        combined_weights=combined_weights,
        fay_rho=fay_rho if type in ("Fay", "BRR") else None,
        repweight_columns=columns,
    )
