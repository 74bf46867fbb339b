"""Usual-intake estimation over NHANES cycles, nutrients and domains, with Fay-BRR errors.

Input is a polars frame with one row per participant (the analytic dataset of
:mod:`nhanes_mg.derive`, or :func:`nhanes_mg.usual_intake.data.load_minimal_frame`), with the
columns listed in :data:`REQUIRED_COLUMNS` (plus ``mg_supp``/``ca_supp`` for the
food + supplements basis). polars does the data handling; the numeric core converts each
cycle to numpy arrays once, because the model is fitted hundreds of times (replicates ×
subgroups × nutrients) and needs dense linear algebra and vectorised Monte Carlo that polars
expressions do not provide.

Model layout (per cycle and nutrient)
-------------------------------------
* Separate amount models are fitted by sex × age band (1-8, 9-18, 19-50, 51+ y): λ, β and both
  variance components differ between these fit strata. Inside a fit stratum the covariates
  are: intercept, day-2 indicator (sequence effect), weekend (Fri-Sun), the finer DRI age
  groups of the band (1-3/4-8, 9-13/14-18, 19-30/31-50, 51-70/71+) and supplement use (when
  supplement data are present). With ``stratify=False`` one model per cycle is fitted with
  sex and all age groups as covariates.
* Usual intake is simulated for every participant (``n_sim`` pseudo-persons each), day-2
  effect removed, weekday/weekend 4:3; food + supplements = usual food intake + the person's
  30-day average supplement amount (Bailey et al. 2011).
* Cycles without second recalls (2001-2002 in the public files) borrow λ and the variance
  ratio ρ = σ_u²/σ_e² of the same fit stratum from a donor cycle (default 2003-2004), in each
  BRR replicate from the donor's same replicate; β and the total variance come from the cycle
  itself.

Statistics (:data:`STAT_NAMES`, each with a Fay-BRR standard error ``*_se``)
----------------------------------------------------------------------------
Per population × nutrient × basis × method (``usual``: the NCI distribution; ``day1``: one
24-h recall) × domain:

* ``mean`` and the percentiles ``p5`` … ``p95`` of intake (mg/day);
* ``pct_below_ear``: % whose intake is below their own age/sex EAR (``{nut}_ear``) — for
  usual intake the EAR cut-point method, i.e. the **prevalence of inadequacy** (on day-1 rows
  the share is inflated by day-to-day variation);
* ``pct_below_rda``: % whose intake is below their own age/sex RDA (``{nut}_rda``), from the
  same draws and replicates as ``pct_below_ear``. This **describes the intake distribution**
  ("not meeting the RDA", as in Dai 2018's 79% of US adults for Mg); it is *not* a
  prevalence of inadequacy: the RDA is set to cover 97-98% of healthy people, so most people
  below it still meet their requirement, and only the EAR cut-point estimates inadequacy.
  Since everyone's RDA exceeds their EAR, ``pct_below_rda ≥ pct_below_ear`` in every row;
* ``pct_above_ul_supp`` (Mg, food + supplements rows): % whose *supplemental* Mg exceeds the
  UL for supplemental Mg (NaN elsewhere).

Examples
--------
>>> import numpy as np, polars as pl
>>> frame = simulate_frame(n=1200, seed=3)
>>> res = estimate_usual_intake(frame, nutrients=("mg",), n_brr=0, n_sim=20)
>>> row = res.table.filter((pl.col("domain") == "all") & (pl.col("method") == "usual"))
>>> bool(row["mean"][0] > 0)
True
>>> bool(row["pct_below_rda"][0] >= row["pct_below_ear"][0])
True
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from numpy.typing import NDArray

from nhanes_mg.errors import EstimationError
from nhanes_mg.usual_intake.brr import FAY_RHO, brr_variance, hadamard_order, replicate_factors
from nhanes_mg.usual_intake.distrib import (
    PERCENTILES,
    domain_summaries,
    standard_draws,
    usual_intake_draws,
)
from nhanes_mg.usual_intake.model import AmountFit, fit_amount_model, replace_zeros

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

NUTRIENTS = ("mg", "ca")
REQUIRED_COLUMNS = (
    "seqn",
    "cycle",
    "sdmvstra",
    "sdmvpsu",
    "wt_diet1",
    "age",
    "sex",
    "recall_ok_d1",
    "recall_ok_d2",
    "weekend_d1",
    "weekend_d2",
)
AGE_GROUPS: tuple[tuple[str, int, int], ...] = (
    ("1-3", 1, 3),
    ("4-8", 4, 8),
    ("9-13", 9, 13),
    ("14-18", 14, 18),
    ("19-30", 19, 30),
    ("31-50", 31, 50),
    ("51-70", 51, 70),
    ("71+", 71, 200),
)
FIT_BANDS: tuple[tuple[str, int, int], ...] = (
    ("1-8", 1, 8),
    ("9-18", 9, 18),
    ("19-50", 19, 50),
    ("51+", 51, 200),
)
# Tolerable upper intake level for *supplemental* magnesium (IOM 1997), mg/day.
UL_SUPP_MG: tuple[tuple[int, int, float], ...] = ((1, 3, 65.0), (4, 8, 110.0), (9, 200, 350.0))
DEFAULT_DONORS: dict[str, str] = {"2001-2002": "2003-2004"}
# Person-specific cut-points, read from the frame columns {nut}_ear and {nut}_rda. The share
# of usual intake below the EAR is the prevalence of inadequacy; the share below the RDA only
# describes the intake distribution ("not meeting the RDA") — see the module docstring.
CUT_POINTS = ("ear", "rda")
DISTRIBUTION_STATS = ("mean", *(f"p{p}" for p in PERCENTILES))
STAT_NAMES = (
    *DISTRIBUTION_STATS,
    *(f"pct_below_{cp}" for cp in CUT_POINTS),
    "pct_above_ul_supp",
)
_SUMMARY_STATS = STAT_NAMES[:-1]  # the ones distrib.domain_summaries gives
BASES = ("food", "food+supplements")


@dataclass
class _CycleArrays:
    """One cycle as numpy arrays (rows: participants aged ≥ 1 with a reliable day-1 recall)."""

    cycle: str
    seqn: NDArray[np.int64]
    age: FloatArray
    male: BoolArray
    group: NDArray[np.int64]  # index into AGE_GROUPS
    band: NDArray[np.int64]  # index into FIT_BANDS
    w: FloatArray
    strata: FloatArray
    psu: FloatArray
    weekend: FloatArray  # (n, 2)
    y: dict[str, FloatArray]  # nutrient -> (n, 2), nan where no reliable recall
    supp: dict[str, FloatArray]  # nutrient -> (n,), nan when unknown
    supp_user: FloatArray  # 0/1
    ear: dict[str, FloatArray]
    rda: dict[str, FloatArray]
    ul_supp_mg: FloatArray
    has_supp: bool

    @property
    def n(self) -> int:
        return len(self.w)

    @property
    def has_day2(self) -> bool:
        return bool(np.any(~np.isnan(next(iter(self.y.values()))[:, 1])))


@dataclass
class UsualIntakeResult:
    """Estimates (``table``), fitted models (``models``), run facts (``info``) and, per cycle,
    the full-sample arrays behind the estimates (``draws``: ``w``, ``age``, ``male`` and per
    nutrient ``usual_{nut}`` (n, M), ``day1_{nut}``, ``ear_{nut}``, ``rda_{nut}``,
    ``supp_{nut}``)."""

    table: pl.DataFrame
    models: pl.DataFrame
    info: dict[str, Any]
    draws: dict[str, dict[str, FloatArray]] = field(default_factory=dict)


def _age_index(age: FloatArray, bins: Sequence[tuple[str, int, int]]) -> NDArray[np.int64]:
    idx = np.full(len(age), -1, dtype=np.int64)
    for i, (_, lo, hi) in enumerate(bins):
        idx[(age >= lo) & (age <= hi)] = i
    return idx


def _ul_supp_mg(age: FloatArray) -> FloatArray:
    out = np.full(len(age), np.nan)
    for lo, hi, ul in UL_SUPP_MG:
        out[(age >= lo) & (age <= hi)] = ul
    return out


def _to_float(frame: pl.DataFrame, name: str) -> FloatArray:
    return np.asarray(frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)


def _to_bool(frame: pl.DataFrame, name: str) -> BoolArray:
    return np.asarray(frame[name].cast(pl.Boolean).fill_null(False).to_numpy(), dtype=bool)


def _cycle_arrays(frame: pl.DataFrame, cycle: str, nutrients: Sequence[str]) -> _CycleArrays:
    # polars selects and filters the cycle once; from here on numpy: the same arrays are refit
    # and resimulated for every BRR replicate (dense linear algebra, (n, M) Monte Carlo
    # arrays, integer-key sorts), which polars expressions cannot do without copies per pass.
    sub = frame.filter(
        (pl.col("cycle").cast(pl.Utf8) == cycle)
        & (pl.col("age") >= 1)
        & pl.col("recall_ok_d1").fill_null(False)
        & (pl.col("wt_diet1") > 0)
    ).sort("seqn")
    if sub.height == 0:
        raise EstimationError(
            f"usual intake: no participant aged ≥ 1 with a day-1 recall in {cycle}"
        )
    age = _to_float(sub, "age")
    ok2 = _to_bool(sub, "recall_ok_d2")
    y: dict[str, FloatArray] = {}
    supp: dict[str, FloatArray] = {}
    ear: dict[str, FloatArray] = {}
    rda: dict[str, FloatArray] = {}
    has_supp = True
    for nut in nutrients:
        for col in (f"{nut}_food_d1", f"{nut}_food_d2", *(f"{nut}_{cp}" for cp in CUT_POINTS)):
            if col not in sub.columns:
                raise EstimationError(f"usual intake: the frame has no column {col!r}")
        d1, d2 = _to_float(sub, f"{nut}_food_d1"), _to_float(sub, f"{nut}_food_d2")
        d2 = np.where(ok2, d2, np.nan)
        y[nut] = np.column_stack([d1, d2])
        ear[nut] = _to_float(sub, f"{nut}_ear")
        rda[nut] = _to_float(sub, f"{nut}_rda")
        if f"{nut}_supp" in sub.columns and sub[f"{nut}_supp"].null_count() < sub.height:
            supp[nut] = _to_float(sub, f"{nut}_supp")
        else:
            has_supp = False
    if np.any(np.isnan(next(iter(y.values()))[:, 0])):
        bad = int(np.isnan(next(iter(y.values()))[:, 0]).sum())
        raise EstimationError(f"usual intake: {bad} reliable day-1 recalls in {cycle} lack amounts")
    if has_supp:
        if "supp_user" in sub.columns:
            user = _to_bool(sub, "supp_user").astype(np.float64)
        else:
            user = np.zeros(sub.height)
            for nut in nutrients:
                user = np.maximum(user, (np.nan_to_num(supp[nut]) > 0).astype(np.float64))
    else:
        supp = {}
        user = np.zeros(sub.height)
    sex = sub["sex"].cast(pl.Utf8)
    if sex.null_count():
        raise EstimationError(f"usual intake: {sex.null_count()} participants in {cycle} lack sex")
    weekend = np.column_stack([_to_bool(sub, "weekend_d1"), _to_bool(sub, "weekend_d2")]).astype(
        np.float64
    )
    return _CycleArrays(
        cycle=cycle,
        seqn=np.asarray(sub["seqn"].to_numpy(), dtype=np.int64),
        age=age,
        male=np.asarray((sex == "male").to_numpy(), dtype=bool),
        group=_age_index(age, AGE_GROUPS),
        band=_age_index(age, FIT_BANDS),
        w=_to_float(sub, "wt_diet1"),
        strata=_to_float(sub, "sdmvstra"),
        psu=_to_float(sub, "sdmvpsu"),
        weekend=weekend,
        y=y,
        supp=supp,
        supp_user=user,
        ear=ear,
        rda=rda,
        ul_supp_mg=_ul_supp_mg(age),
        has_supp=has_supp,
    )


@dataclass
class _FitStratum:
    """Rows of one fit and its design (built once per cycle, reused by every replicate)."""

    name: str
    rows: NDArray[np.int64]
    X: FloatArray  # (n_s, 2, p)
    X_weekday: FloatArray  # (n_s, p): day-1 rows, weekend 0
    X_weekend: FloatArray
    columns: tuple[str, ...]


def _fit_strata(ca: _CycleArrays, stratify: bool) -> list[_FitStratum]:
    out = []
    if stratify:
        keys = [
            (f"{'male' if male else 'female'} {band_name}", (ca.male == male) & (ca.band == b))
            for male in (True, False)
            for b, (band_name, _, _) in enumerate(FIT_BANDS)
        ]
    else:
        keys = [("all", np.ones(ca.n, dtype=bool))]
    for name, mask in keys:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            continue
        cols: list[tuple[str, FloatArray]] = [("intercept", np.ones(len(rows)))]
        if not stratify:
            cols.append(("male", ca.male[rows].astype(np.float64)))
        groups = np.unique(ca.group[rows])
        for g in groups[1:]:
            cols.append((f"age {AGE_GROUPS[g][0]}", (ca.group[rows] == g).astype(np.float64)))
        if ca.has_supp and 0 < ca.supp_user[rows].sum() < len(rows):
            cols.append(("supplement user", ca.supp_user[rows]))
        person = np.column_stack([c for _, c in cols])
        names = [n for n, _ in cols]
        # insert day-2 and weekend after the intercept
        day2_cols = ["day2"] if ca.has_day2 else []
        p = person.shape[1] + len(day2_cols) + 1
        X = np.zeros((len(rows), 2, p))
        X[:, :, 0] = 1.0
        j = 1
        if day2_cols:
            X[:, 1, j] = 1.0
            j += 1
        X[:, :, j] = ca.weekend[rows]
        X[:, :, j + 1 :] = person[:, None, 1:]
        Xwd = X[:, 0, :].copy()
        Xwd[:, j] = 0.0
        Xwe = Xwd.copy()
        Xwe[:, j] = 1.0
        columns = ("intercept", *day2_cols, "weekend", *names[1:])
        out.append(_FitStratum(name, rows, X, Xwd, Xwe, columns))
    return out


# Cells: sex × (age 1, 2-3, 4-8, 9-13, 14-18, 19-30, 31-50, 51-70, 71+); every reported
# domain is a union of cells (age 1 is its own cell so that "age 2+" is one too).
_AGE_CELLS = ((1, 1), (2, 3), *((lo, hi) for _, lo, hi in AGE_GROUPS[1:]))
_GROUP_CELLS = {0: (0, 1), **{g: (g + 1,) for g in range(1, len(AGE_GROUPS))}}
_N_AGE_CELLS = len(_AGE_CELLS)


def _cells(age: FloatArray, male: BoolArray) -> NDArray[np.int64]:
    """Cell of each person: ``sex * 9 + age cell`` (male 0, female 1)."""
    age_cell = np.full(len(age), -1, dtype=np.int64)
    for i, (lo, hi) in enumerate(_AGE_CELLS):
        age_cell[(age >= lo) & (age <= hi)] = i
    return np.where(age_cell >= 0, np.where(male, 0, 1) * _N_AGE_CELLS + age_cell, -1)


def _domain_cells() -> dict[str, list[int]]:
    """Reported domains as lists of cells."""
    both = (0, 1)

    def cells_of(sexes: Iterable[int], age_cells: Iterable[int]) -> list[int]:
        return [s * _N_AGE_CELLS + a for s in sexes for a in age_cells]

    every = range(_N_AGE_CELLS)
    d: dict[str, list[int]] = {
        "all": cells_of(both, every),
        "age 2+": cells_of(both, range(1, _N_AGE_CELLS)),
        "age 19+": cells_of(both, range(5, _N_AGE_CELLS)),
        "male": cells_of((0,), every),
        "female": cells_of((1,), every),
    }
    for g, (name, _, _) in enumerate(AGE_GROUPS):
        d[f"age {name}"] = cells_of(both, _GROUP_CELLS[g])
    for s, sex_name in enumerate(("male", "female")):
        for g, (name, _, _) in enumerate(AGE_GROUPS):
            d[f"{sex_name} {name}"] = cells_of((s,), _GROUP_CELLS[g])
    return d


DOMAINS = _domain_cells()


def _domain_masks(cells: NDArray[np.int64]) -> dict[str, BoolArray]:
    return {name: np.isin(cells, cs) for name, cs in DOMAINS.items()}


def _ul_share(
    supp: FloatArray, ul: FloatArray, w: FloatArray, domains: Mapping[str, BoolArray]
) -> dict[str, float]:
    known = ~np.isnan(supp)
    above = known & (np.nan_to_num(supp) > ul)
    out = {}
    for name, mask in domains.items():
        wd = np.where(mask & known, w, 0.0)
        if wd.sum() > 0:
            out[name] = float(100.0 * wd[above].sum() / wd.sum())
    return out


_Key = tuple[str, str, str, str, str]
_PassStats = dict[_Key, tuple[float, dict[str, float]]]


@dataclass
class _Run:
    """Everything one replicate pass needs (shared read-only with worker processes)."""

    arrays: dict[str, _CycleArrays]
    order: list[str]
    nutrients: tuple[str, ...]
    donors: dict[str, str]
    factors: dict[str, FloatArray | None]
    draws: dict[tuple[str, str], FloatArray]
    strata_of: dict[str, list[_FitStratum]]
    units: list[tuple[str, tuple[str, ...]]]
    n_sim: int
    full_fits: dict[tuple[str, str, str], AmountFit]

    def replicate(
        self, r: int
    ) -> tuple[
        dict[tuple[str, str, str], AmountFit], _PassStats, dict[tuple[str, str], FloatArray]
    ]:
        """Fit every model and summarise every domain with replicate ``r``'s weights
        (``r = -1``: the full-sample weights)."""
        weights: dict[str, FloatArray] = {}
        for c, a in self.arrays.items():
            f = self.factors[c]
            weights[c] = a.w if r < 0 or f is None else a.w * f[:, r]
        fits: dict[tuple[str, str, str], AmountFit] = {}
        usual: dict[tuple[str, str], FloatArray] = {}
        for nut in self.nutrients:
            for c in self.order:
                a = self.arrays[c]
                values = np.empty((a.n, self.n_sim))
                for fs in self.strata_of[c]:
                    y_s, _ = replace_zeros(a.y[nut][fs.rows])
                    start = self.full_fits.get((c, nut, fs.name)) if r >= 0 else None
                    fixed = None
                    if not a.has_day2:
                        donor_fit = fits.get((self.donors[c], nut, fs.name))
                        if donor_fit is None:
                            raise EstimationError(
                                f"usual intake: donor {self.donors[c]} has no fit for {fs.name}"
                            )
                        fixed = (donor_fit.lam, donor_fit.rho)
                    try:
                        fit = fit_amount_model(
                            y_s,
                            fs.X,
                            weights[c][fs.rows],
                            fs.columns,
                            start=start,
                            fixed_lam_rho=fixed,
                        )
                    except EstimationError as exc:
                        raise EstimationError(
                            f"usual intake {nut} {c} {fs.name}"
                            f"{'' if r < 0 else f' (BRR replicate {r + 1})'}: {exc}"
                        ) from exc
                    fits[(c, nut, fs.name)] = fit
                    values[fs.rows] = usual_intake_draws(
                        fit, fs.X_weekday, fs.X_weekend, self.draws[(c, nut)][fs.rows]
                    )
                usual[(c, nut)] = values
        out: _PassStats = {}
        for label, members in self.units:
            k = len(members)
            w = np.concatenate([weights[c] / k for c in members])
            cells = _cells(
                np.concatenate([self.arrays[c].age for c in members]),
                np.concatenate([self.arrays[c].male for c in members]),
            )
            have_supp = all(self.arrays[c].has_supp for c in members)
            for nut in self.nutrients:
                cut_points = {
                    "ear": np.concatenate([self.arrays[c].ear[nut] for c in members]),
                    "rda": np.concatenate([self.arrays[c].rda[nut] for c in members]),
                }
                u = np.concatenate([usual[(c, nut)] for c in members])
                d1 = np.concatenate([self.arrays[c].y[nut][:, 0] for c in members])[:, None]
                pieces: list[tuple[str, str, FloatArray, NDArray[np.int64]]] = [
                    ("food", "usual", u, cells),
                    ("food", "day1", d1, cells),
                ]
                ul: dict[str, float] = {}
                if have_supp:
                    s = np.concatenate([self.arrays[c].supp[nut] for c in members])
                    known_cells = np.where(np.isnan(s), -1, cells)  # unknown supplements: out
                    s0 = np.nan_to_num(s)[:, None]
                    pieces += [
                        ("food+supplements", "usual", u + s0, known_cells),
                        ("food+supplements", "day1", d1 + s0, known_cells),
                    ]
                    if nut == "mg":
                        ul_mg = np.concatenate([self.arrays[c].ul_supp_mg for c in members])
                        ul = _ul_share(s, ul_mg, w, _domain_masks(cells))
                for basis, method, vals, cell_of in pieces:
                    # one pass gives pct_below_ear and pct_below_rda from the same draws
                    summ = domain_summaries(vals, w, cell_of, DOMAINS, cuts=cut_points)
                    for dom, st in summ.items():
                        row = {s_name: st[s_name] for s_name in _SUMMARY_STATS}
                        row["pct_above_ul_supp"] = (
                            ul.get(dom, np.nan) if basis != "food" else np.nan
                        )
                        out[(label, nut, basis, method, dom)] = (st["n"], row)
        return fits, out, usual


_WORKER_RUN: _Run | None = None


def _worker_replicate(r: int) -> _PassStats:
    assert _WORKER_RUN is not None
    return _WORKER_RUN.replicate(r)[1]


def _map_replicates(run: _Run, n_replicates: int, n_jobs: int | None) -> list[_PassStats]:
    """Run replicates 0 … R-1, in worker processes (fork: the arrays are shared, not copied)
    when more than one CPU is allowed and available."""
    if n_replicates == 0:
        return []
    jobs = min(2, os.cpu_count() or 1) if n_jobs is None else max(1, n_jobs)
    if jobs == 1 or "fork" not in mp.get_all_start_methods():
        return [run.replicate(r)[1] for r in range(n_replicates)]
    global _WORKER_RUN
    _WORKER_RUN = run
    try:
        ctx = mp.get_context("fork")
        with ctx.Pool(jobs) as pool:
            return pool.map(_worker_replicate, range(n_replicates), chunksize=1)
    finally:
        _WORKER_RUN = None


def estimate_usual_intake(
    frame: pl.DataFrame,
    *,
    cycles: Iterable[str] | None = None,
    nutrients: Sequence[str] = NUTRIENTS,
    pools: Mapping[str, Sequence[str]] | None = None,
    n_brr: int | None = None,
    n_sim: int = 50,
    fay_rho: float = FAY_RHO,
    donors: Mapping[str, str] | None = None,
    stratify: bool = True,
    seed: int = 20060,
    n_jobs: int | None = None,
) -> UsualIntakeResult:
    """Usual-intake distributions by the NCI method, per cycle (and pooled cycles).

    Parameters
    ----------
    frame : polars.DataFrame
        One row per participant with :data:`REQUIRED_COLUMNS`, ``{nut}_food_d1``,
        ``{nut}_food_d2``, ``{nut}_ear``, ``{nut}_rda`` (the person's age/sex EAR and RDA)
        and optionally ``{nut}_supp`` (mg/day) and ``supp_user`` for each nutrient.
    cycles : iterable of str, optional
        Cycles to report ("2005-2006", ...); default every cycle in ``frame``. Donor cycles
        are fitted as needed even when not reported.
    nutrients : sequence of str
        Any of "mg", "ca".
    pools : mapping, optional
        Extra reported populations made of several cycles, e.g.
        ``{"2003-2006": ("2003-2004", "2005-2006")}``: weights are divided by the number of
        cycles pooled (NCHS guidance) and the usual-intake draws of each cycle's own model are
        combined.
    n_brr : int, optional
        Number of Fay-BRR replicates (a power of two above the largest number of strata);
        default the smallest such, 0 for point estimates only.
    n_sim : int
        Pseudo-persons per participant in the Monte Carlo step.
    fay_rho : float
        Fay's ρ (0.3).
    donors : mapping, optional
        Cycle without second recalls → cycle to borrow λ and ρ from
        (default ``{"2001-2002": "2003-2004"}``).
    stratify : bool
        Separate fits by sex × age band (default) or one fit per cycle.
    seed : int
        Seed of the Monte Carlo draws.
    n_jobs : int, optional
        Processes for the BRR replicates (default: up to 2, the CPUs available). The full
        sample is fitted first; its fits start every replicate's search.

    Returns
    -------
    UsualIntakeResult
        ``table``: one row per population × nutrient × basis × method × domain, with ``n``,
        each statistic of :data:`STAT_NAMES` and its BRR standard error (``*_se``):
        ``pct_below_ear`` (prevalence of inadequacy, EAR cut-point method) and
        ``pct_below_rda`` (share not meeting the RDA — a description of the intake
        distribution, not a prevalence of inadequacy) come from the same draws and
        replicates.

    Raises
    ------
    EstimationError
        Missing columns (e.g. no ``{nut}_rda``), an empty cycle, a failed fit, or a cycle
        without second recalls and no donor.
    """
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise EstimationError(f"usual intake: the frame lacks columns {', '.join(missing)}")
    bad = [n for n in nutrients if n not in NUTRIENTS]
    if bad:
        raise EstimationError(f"usual intake: unknown nutrients {bad}; known: {NUTRIENTS}")
    present = sorted(set(frame["cycle"].cast(pl.Utf8).unique().to_list()))
    report = sorted(set(cycles)) if cycles is not None else present
    pools = dict(pools or {})
    donors = dict(DEFAULT_DONORS if donors is None else donors)
    needed = set(report) | {c for members in pools.values() for c in members}
    arrays: dict[str, _CycleArrays] = {}
    queue = sorted(needed)
    while queue:
        cyc = queue.pop(0)
        if cyc in arrays:
            continue
        if cyc not in present:
            raise EstimationError(f"usual intake: cycle {cyc} is not in the data")
        arrays[cyc] = _cycle_arrays(frame, cyc, nutrients)
        if not arrays[cyc].has_day2:
            donor = donors.get(cyc)
            if donor is None:
                raise EstimationError(
                    f"usual intake: {cyc} has no second recalls and no donor cycle to borrow "
                    "the within-person variance from"
                )
            if not arrays.get(donor) and donor not in queue:
                queue.append(donor)
    # donors before the cycles that borrow from them
    order = sorted(arrays, key=lambda c: (not arrays[c].has_day2, c))
    for c in order:
        if not arrays[c].has_day2 and not arrays[donors[c]].has_day2:
            raise EstimationError(f"usual intake: donor {donors[c]} of {c} has no second recalls")

    max_strata = max(len(np.unique(a.strata)) for a in arrays.values())
    R = hadamard_order(max_strata) if n_brr is None else int(n_brr)
    factors = {
        c: replicate_factors(a.strata, a.psu, n_replicates=R, fay_rho=fay_rho) if R else None
        for c, a in arrays.items()
    }
    rng = np.random.default_rng(seed)
    draws = {(c, nut): standard_draws(arrays[c].n, n_sim, rng) for c in order for nut in nutrients}
    units: list[tuple[str, tuple[str, ...]]] = [(c, (c,)) for c in report]
    units += [(label, tuple(members)) for label, members in pools.items()]
    run = _Run(
        arrays=arrays,
        order=order,
        nutrients=tuple(nutrients),
        donors=donors,
        factors=factors,
        draws=draws,
        strata_of={c: _fit_strata(arrays[c], stratify) for c in order},
        units=units,
        n_sim=n_sim,
        full_fits={},
    )
    full_fits, full, full_usual = run.replicate(-1)
    run.full_fits = full_fits
    fits = {(c, nut, name, -1): f for (c, nut, name), f in full_fits.items()}
    replicate_stats = _map_replicates(run, R, n_jobs)

    # results[(unit, nut, basis, method, domain)][stat] -> list over replicates (index 0 = full)
    results: dict[tuple[str, str, str, str, str], dict[str, list[float]]] = {}
    counts: dict[tuple[str, str, str, str, str], float] = {}
    for key, (n_dom, stats) in full.items():
        counts[key] = n_dom
        results[key] = {s_name: [v] for s_name, v in stats.items()}
    for rep in replicate_stats:
        for key, slot in results.items():
            rep_stats = rep.get(key)
            for s_name in STAT_NAMES:
                slot[s_name].append(rep_stats[1][s_name] if rep_stats else np.nan)

    rows = []
    for key, slot in results.items():
        label, nut, basis, method, dom = key
        row: dict[str, Any] = {
            "population": label,
            "nutrient": nut,
            "basis": basis,
            "method": method,
            "domain": dom,
            "n": int(counts[key]),
        }
        for s_name, series in slot.items():
            arr = np.asarray(series, dtype=np.float64)
            row[s_name] = float(arr[0])
            if R and len(arr) == R + 1 and np.all(np.isfinite(arr)):
                row[f"{s_name}_se"] = float(np.sqrt(brr_variance(arr[0], arr[1:], fay_rho)))
            else:
                row[f"{s_name}_se"] = float("nan")
        rows.append(row)
    table = pl.DataFrame(rows)
    model_rows = [
        {
            "cycle": c,
            "nutrient": nut,
            "fit_stratum": name,
            "lambda": f.lam,
            "sigma_u2": f.sigma_u2,
            "sigma_e2": f.sigma_e2,
            "variance_ratio_within_between": f.sigma_e2 / f.sigma_u2 if f.sigma_u2 > 0 else np.inf,
            "n_persons": f.n_persons,
            "n_two_recalls": f.n_two_day,
            "borrowed_lambda_rho": f.borrowed,
            "covariates": ", ".join(f.columns),
            "beta": ", ".join(f"{b:.5g}" for b in f.beta),
        }
        for (c, nut, name, _), f in fits.items()
    ]
    info = {
        "n_replicates": R,
        "fay_rho": fay_rho,
        "n_sim": n_sim,
        "cycles_fitted": order,
        "donors": {c: donors[c] for c in order if not arrays[c].has_day2},
        "stratify": stratify,
    }
    draws_out: dict[str, dict[str, FloatArray]] = {}
    for c in report:
        a = arrays[c]
        entry: dict[str, FloatArray] = {
            "w": a.w,
            "age": a.age,
            "male": a.male.astype(np.float64),
        }
        for nut in nutrients:
            entry[f"usual_{nut}"] = full_usual[(c, nut)]
            entry[f"day1_{nut}"] = a.y[nut][:, 0]
            entry[f"ear_{nut}"] = a.ear[nut]
            entry[f"rda_{nut}"] = a.rda[nut]
            if a.has_supp:
                entry[f"supp_{nut}"] = a.supp[nut]
        draws_out[c] = entry
    return UsualIntakeResult(table, pl.DataFrame(model_rows), info, draws_out)


def simulate_frame(
    n: int = 4000,
    *,
    seed: int = 0,
    cycle: str = "2005-2006",
    lam: float = 0.25,
    mu: float = 12.4,
    sd_between: float = 1.2,
    sd_within: float = 1.6,
    p_day2: float = 0.9,
    n_strata: int = 15,
) -> pl.DataFrame:
    """A synthetic analytic frame whose usual Mg intake is known (Box-Cox-normal model).

    On the Box-Cox(λ) scale ``T(y_ij) = mu + u_i + e_ij``; every person's usual intake is
    ``E[T⁻¹(mu + u_i + e)]`` over ``e``, stored in ``mg_usual_true`` (computed by fine
    quadrature). The defaults give a Mg-like distribution (usual mean ≈ 280 mg/day, between-
    and within-person CVs ≈ 30% and 40%). Weights are unequal but not informative;
    ``mg_ear`` is a constant 250 and ``mg_rda`` a constant 310 (ages are drawn 19-80).
    ``ca`` columns repeat ``mg``.

    >>> simulate_frame(n=10).height
    10
    """
    rng = np.random.default_rng(seed)
    u = rng.normal(0.0, sd_between, n)
    e = rng.normal(0.0, sd_within, (n, 2))
    t = mu + u[:, None] + e
    y = np.power(np.maximum(1.0 + lam * t, 1e-9), 1.0 / lam)
    # true usual intake: E over e of the back-transform, by 200-point Gauss-Hermite
    from numpy.polynomial.hermite_e import hermegauss

    nodes, wq = hermegauss(200)
    wq = wq / wq.sum()
    tt = mu + u[:, None] + sd_within * nodes[None, :]
    true_usual = np.power(np.maximum(1.0 + lam * tt, 0.0), 1.0 / lam) @ wq
    two = rng.random(n) < p_day2
    strata = rng.integers(1, n_strata + 1, n)
    psu = rng.integers(1, 3, n)
    male = rng.random(n) < 0.5
    age = rng.integers(19, 81, n).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n) * 1000.0
    frame = pl.DataFrame(
        {
            "seqn": np.arange(1, n + 1),
            "cycle": [cycle] * n,
            "sdmvstra": strata.astype(np.float64),
            "sdmvpsu": psu.astype(np.float64),
            "wt_diet1": w,
            "age": age,
            "sex": np.where(male, "male", "female"),
            "recall_ok_d1": np.ones(n, dtype=bool),
            "recall_ok_d2": two,
            "weekend_d1": rng.random(n) < 3 / 7,  # no true weekend effect
            "weekend_d2": rng.random(n) < 3 / 7,
            "mg_food_d1": y[:, 0],
            "mg_food_d2": np.where(two, y[:, 1], np.nan),
            "mg_ear": np.full(n, 250.0),
            "mg_rda": np.full(n, 310.0),
            "mg_usual_true": true_usual,
        }
    )
    return frame.with_columns(
        pl.col("mg_food_d1").alias("ca_food_d1"),
        pl.col("mg_food_d2").alias("ca_food_d2"),
        pl.col("mg_ear").alias("ca_ear"),
        pl.col("mg_rda").alias("ca_rda"),
    )
