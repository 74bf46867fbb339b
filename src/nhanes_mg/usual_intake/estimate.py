"""Usual-intake estimation over NHANES cycles, nutrients and any domains, with replicate errors.

Input is a polars frame with one row per participant (the analytic dataset of
:mod:`nhanes_mg.derive`), with the columns listed in :data:`REQUIRED_COLUMNS` (plus
``mg_supp``/``ca_supp`` for the food + supplements basis). polars does the data handling and
evaluates the domains; the numeric core converts each cycle to numpy arrays once, because the
model is fitted hundreds of times (replicates × fit strata × nutrients) and needs dense linear
algebra and vectorised Monte Carlo that polars expressions do not provide.

Model layout (per cycle and nutrient)
-------------------------------------
* Separate amount models are fitted by sex × age band (1-8, 9-18, 19-50, 51+ y): λ, β and both
  variance components differ between these fit strata. Inside a fit stratum the covariates
  are: intercept, day-2 indicator (sequence effect), weekend (Fri-Sun), the finer DRI age
  groups of the band (1-3/4-8, 9-13/14-18, 19-30/31-50, 51-70/71+) and supplement use (when
  supplement data are present). With ``stratify=False`` one model per cycle is fitted with
  sex and all age groups as covariates. The model is fitted on everyone aged ≥ 1 with a
  reliable day-1 recall and a positive weight, whatever domains are summarised.
* Usual intake is simulated for every participant (``n_sim`` pseudo-persons each), day-2
  effect removed, weekday/weekend 4:3; food + supplements = usual food intake + the person's
  30-day average supplement amount (Bailey et al. 2011).
* Cycles without second recalls (2001-2002 in the public files) borrow λ and the variance
  ratio ρ = σ_u²/σ_e² of the same fit stratum from a donor cycle (default 2003-2004), in each
  replicate from the donor's same replicate; β and the total variance come from the cycle
  itself.

Domains and replicates
----------------------
A reported *population* is one cycle or a pool of cycles (weights divided by the number
pooled). Its replicate design is built once over every row of its cycles and of their donor
cycles — the whole design, by :func:`nhanes_mg.usual_intake.replicates.replicate_design` (one
Hadamard assignment over all those strata, as R's ``as.svrepdesign``). Every model is refitted
with each replicate's weights. A *domain* (:mod:`nhanes_mg.usual_intake.domains`: an SQL
condition such as ``"sex = 'male' AND age >= 20"``) is a mask on the persons whose draws a
summary adds up — domain estimation: nobody is dropped before the fits or the replicates, and
a domain can be summarised later from the stored fits without refitting
(:func:`summarize_domains`). ``population`` (a condition) is AND-ed into every domain.

Statistics (:data:`STAT_NAMES`, each with a replicate standard error ``*_se`` and a 95% CI
``*_low``/``*_high`` from Student's t on the design degrees of freedom ``df``)
-------------------------------------------------------------------------------------------
Per population × nutrient × basis × method (``usual``: the NCI distribution; ``day1``: one
24-h recall) × domain:

* ``mean`` and the percentiles ``p5`` … ``p95`` of intake (mg/day; NaN if not asked for);
* ``pct_below_ear``: % whose intake is below their own age/sex EAR (``{nut}_ear``) — for
  usual intake the EAR cut-point method, i.e. the **prevalence of inadequacy** (on day-1 rows
  the share is inflated by day-to-day variation);
* ``pct_below_rda``: % whose intake is below their own age/sex RDA (``{nut}_rda``), from the
  same draws and replicates as ``pct_below_ear``. This **describes the intake distribution**
  ("not meeting the RDA", Dai 2018's 79% of US adults for Mg), *not* a prevalence of
  inadequacy: the RDA covers 97-98% of healthy people, so most below it still meet their
  requirement. Since everyone's RDA exceeds their EAR, ``pct_below_rda ≥ pct_below_ear``;
* ``pct_above_cut``: % above a fixed amount (``above={"mg": 350}``, in ``above_cut``; or NaN);
* ``pct_above_ul_supp`` (Mg, food + supplements): % whose supplemental Mg exceeds its UL, else NaN.

Examples
--------
>>> import numpy as np, polars as pl
>>> from nhanes_mg.usual_intake.simulate import simulate_frame
>>> frame = simulate_frame(n=1200, seed=3)
>>> res = estimate_usual_intake(frame, nutrients=("mg",), n_brr=0, n_sim=20)
>>> row = res.table.filter((pl.col("domain") == "all") & (pl.col("method") == "usual"))
>>> bool(row["mean"][0] > 0)
True
>>> bool(row["pct_below_rda"][0] >= row["pct_below_ear"][0])
True
>>> men = summarize_domains(res, ["sex = 'male' AND age >= 50"])  # no refitting
>>> men["domain"][0], int(men["n"][0]) == frame.filter(
...     (pl.col("sex") == "male") & (pl.col("age") >= 50)).height
("sex = 'male' AND age >= 50", True)
>>> res.draws.columns[:4]
['seqn', 'cycle', 'fit_stratum', 'weight']
"""

from __future__ import annotations

import functools
import multiprocessing as mp
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.results import critical_value
from nhanes_mg.usual_intake.arrays import (
    BASES,
    CONFIDENCE,
    DEFAULT_DONORS,
    DEFAULT_WEIGHT,
    EMPTY_STATS,
    NUTRIENTS,
    REQUIRED_COLUMNS,
    ROW_COLUMN,
    STAT_NAMES,
    SUMMARY_STATS,
    BoolArray,
    CycleArrays,
    FitStratum,
    FloatArray,
    IntArray,
    cycle_arrays,
    fit_strata,
    to_float,
    ul_share,
)
from nhanes_mg.usual_intake.distrib import (
    PERCENTILES,
    domain_summaries,
    standard_draws,
    usual_intake_draws,
)
from nhanes_mg.usual_intake.domains import (
    Domain,
    and_population,
    as_domains,
    check_domains,
    evaluate,
)
from nhanes_mg.usual_intake.model import AmountFit, RotatedRecalls, fit_amount_model, replace_zeros
from nhanes_mg.usual_intake.replicates import FAY_RHO, ReplicateWeights, replicate_design
from nhanes_mg.workers import default_workers, quiet_worker


@dataclass
class _Unit:
    """A reported population (one cycle or a pool) and its replicate design.

    The design holds every row of ``cycles`` (the members and the donors they borrow from);
    ``rows[c]`` are the positions of cycle ``c``'s modelled persons in it."""

    label: str
    members: tuple[str, ...]
    cycles: tuple[str, ...]  # members and donors, donors first (the fitting order)
    design: ReplicateWeights
    rows: dict[str, IntArray]

    @property
    def n_replicates(self) -> int:
        return self.design.n_replicates

    def weights(self, cycle: str, r: int) -> FloatArray:
        """Cycle ``cycle``'s modelled persons' weights in replicate ``r`` (-1: full sample)."""
        rows = self.rows[cycle]
        return self.design.weights[rows] if r < 0 else self.design.repweights[rows, r]


@dataclass
class _Compiled:
    """The domains of one population: per-person masks, and for the packed summaries the
    persons' *atoms* (distinct patterns of domain membership; -1: in no domain) with each
    domain as a list of atoms (in chunks of at most ~2,000 atoms)."""

    domains: tuple[Domain, ...]
    masks: dict[str, BoolArray]
    chunks: list[tuple[IntArray, dict[str, list[int]]]]


_MAX_ATOMS = 2000
_MAX_BITS = 62


def _atoms(masks: Sequence[BoolArray], labels: Sequence[str]) -> list[tuple[IntArray, dict]]:
    """Partition the persons by which of these domains they belong to."""
    if len(labels) > _MAX_BITS:
        half = len(labels) // 2
        return _atoms(masks[:half], labels[:half]) + _atoms(masks[half:], labels[half:])
    code = np.zeros(len(masks[0]), dtype=np.uint64)
    for d, mask in enumerate(masks):
        code |= mask.astype(np.uint64) << np.uint64(d)
    patterns, atom = np.unique(code, return_inverse=True)
    if len(patterns) > _MAX_ATOMS and len(labels) > 1:
        half = len(labels) // 2
        return _atoms(masks[:half], labels[:half]) + _atoms(masks[half:], labels[half:])
    atom = np.asarray(atom, dtype=np.int64).ravel()
    if patterns[0] == 0:  # in none of the domains: left out of the summaries
        atom = atom - 1
        patterns = patterns[1:]
    groups = {
        label: np.flatnonzero((patterns >> np.uint64(d)) & np.uint64(1)).tolist()
        for d, label in enumerate(labels)
    }
    return [(atom, groups)]


_FitKey = tuple[str, str, str]  # cycle, nutrient, fit stratum
_Key = tuple[str, str, str, str, str]  # population, nutrient, basis, method, domain label
_PassStats = dict[_Key, tuple[float, dict[str, float]]]


@dataclass
class _State:
    """Everything the fits and the summaries need (shared read-only with worker processes)."""

    frame: pl.DataFrame  # the source rows (with ROW_COLUMN), on which domains are evaluated
    arrays: dict[str, CycleArrays]
    order: list[str]
    nutrients: tuple[str, ...]
    donors: dict[str, str]
    strata_of: dict[str, list[FitStratum]]
    y_fit: dict[_FitKey, FloatArray]
    draws: dict[tuple[str, str], FloatArray]
    units: list[_Unit]
    n_sim: int
    above: dict[str, float]
    weight: str
    percentiles: tuple[int, ...] = PERCENTILES  # () when no one reads them: no sort at all
    full_fits: dict[_FitKey, AmountFit] = field(default_factory=dict)
    full_usual: dict[tuple[str, str], FloatArray] = field(default_factory=dict)
    rep_fits: dict[tuple[str, int], dict[_FitKey, AmountFit]] = field(default_factory=dict)
    rotated: dict[_FitKey, RotatedRecalls] = field(default_factory=dict)  # once per model

    def fit(
        self, cycles: Sequence[str], weight_of: Callable[[str], FloatArray], what: str = ""
    ) -> dict[_FitKey, AmountFit]:
        """Fit every model of ``cycles`` (donors first) with these weights; replicate fits
        start from the full-sample fits."""
        fits: dict[_FitKey, AmountFit] = {}
        for nut in self.nutrients:
            for c in cycles:
                a = self.arrays[c]
                w = weight_of(c)
                for fs in self.strata_of[c]:
                    key = (c, nut, fs.name)
                    fixed = None
                    if not a.has_day2:
                        donor_fit = fits.get((self.donors[c], nut, fs.name))
                        if donor_fit is None:
                            raise EstimationError(
                                f"usual intake: donor {self.donors[c]} has no fit for {fs.name}"
                            )
                        fixed = (donor_fit.lam, donor_fit.rho)
                    try:
                        rotated = self.rotated.get(key) or RotatedRecalls(self.y_fit[key], fs.X)
                        self.rotated[key] = rotated
                        fits[key] = fit_amount_model(
                            self.y_fit[key],
                            fs.X,
                            w[fs.rows],
                            fs.columns,
                            start=self.full_fits.get(key) if what else None,
                            fixed_lam_rho=fixed,
                            rotated=rotated,
                        )
                    except EstimationError as exc:
                        raise EstimationError(
                            f"usual intake {nut} {c} {fs.name}{what}: {exc}"
                        ) from exc
        return fits

    def simulate(self, cycle: str, nut: str, fits: Mapping[_FitKey, AmountFit]) -> FloatArray:
        """Usual intakes (n, M) of a cycle's persons from these fits and the stored draws."""
        a = self.arrays[cycle]
        values = np.empty((a.n, self.n_sim))
        for fs in self.strata_of[cycle]:
            values[fs.rows] = usual_intake_draws(
                fits[(cycle, nut, fs.name)],
                fs.X_weekday,
                fs.X_weekend,
                self.draws[(cycle, nut)][fs.rows],
            )
        return values

    def compile(
        self, domains: Sequence[Domain], populations: Iterable[str] | None = None
    ) -> dict[str, _Compiled]:
        """The domain masks of every population (or of ``populations``); domains checked."""
        parsed = check_domains(domains)
        full = {d.where: evaluate(self.frame, d, parsed[d.where]) for d in domains}
        known = [u.label for u in self.units]
        wanted = known if populations is None else list(populations)
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise EstimationError(
                f"usual intake: no population {unknown[0]!r} in this result; it has "
                f"{', '.join(known)}"
            )
        out = {}
        for unit in self.units:
            if unit.label not in wanted:
                continue
            pos = np.concatenate([self.arrays[c].pos for c in unit.members])
            masks = {d.label: full[d.where][pos] for d in domains}
            out[unit.label] = _Compiled(
                tuple(domains),
                masks,
                _atoms(list(masks.values()), list(masks)),
            )
        return out

    def summarize(
        self,
        unit: _Unit,
        comp: _Compiled,
        usual: Mapping[tuple[str, str], FloatArray],
        weight_of: Callable[[str], FloatArray],
    ) -> _PassStats:
        """Every statistic of every domain of one population, for one set of weights."""
        members = unit.members
        k = len(members)
        w = np.concatenate([weight_of(c) / k for c in members])
        have_supp = all(self.arrays[c].has_supp for c in members)
        summaries = functools.partial(domain_summaries, percentiles=self.percentiles)
        out: _PassStats = {}
        cyc = [self.arrays[c] for c in members]
        for nut in self.nutrients:
            cuts = {k: np.concatenate([getattr(a, k)[nut] for a in cyc]) for k in ("ear", "rda")}
            above = {"cut": np.full(len(w), self.above[nut])} if nut in self.above else None
            u = np.concatenate([usual[(c, nut)] for c in members])
            d1 = np.concatenate([a.y[nut][:, 0] for a in cyc])[:, None]
            pieces: list[_Piece] = [("food", "usual", u, None), ("food", "day1", d1, None)]
            ul: dict[str, float] = {}
            if have_supp:
                s = np.concatenate([a.supp[nut] for a in cyc])
                known = ~np.isnan(s)  # unknown supplements: out of the f+s summaries
                s0 = np.nan_to_num(s)[:, None]
                pieces += [
                    ("food+supplements", "usual", u + s0, known),
                    ("food+supplements", "day1", d1 + s0, known),
                ]
                if nut == "mg":
                    ul_mg = np.concatenate([a.ul_supp_mg for a in cyc])
                    ul = ul_share(s, ul_mg, w, comp.masks)
            for basis, method, vals, known_mask in pieces:
                found: dict[str, dict[str, float]] = {}
                for atom, groups in comp.chunks:
                    cells = atom if known_mask is None else np.where(known_mask, atom, -1)
                    # one pass gives every cut-point's share from the same draws
                    found.update(summaries(vals, w, cells, groups, cuts=cuts, above=above))
                for d in comp.domains:
                    st = found.get(d.label)
                    if st is None:  # nobody (with a known supplement intake) in the domain
                        out[(unit.label, nut, basis, method, d.label)] = (0.0, dict(EMPTY_STATS))
                        continue
                    row = {name: st.get(name, np.nan) for name in SUMMARY_STATS}
                    row["pct_above_cut"] = st.get("pct_above_cut", np.nan)
                    row["pct_above_ul_supp"] = (
                        ul.get(d.label, np.nan) if basis != "food" else np.nan
                    )
                    out[(unit.label, nut, basis, method, d.label)] = (st["n"], row)
        return out

    def replicate(
        self, unit_index: int, r: int, comp: _Compiled, fit: bool
    ) -> tuple[dict[_FitKey, AmountFit], _PassStats]:
        """Replicate ``r`` of one population: its fits (refitted when ``fit``, else the
        stored ones), usual intakes and summaries."""
        unit = self.units[unit_index]

        def weight_of(c: str) -> FloatArray:
            return unit.weights(c, r)

        if fit:
            fits = self.fit(unit.cycles, weight_of, f" ({unit.label}, replicate {r + 1})")
        else:
            fits = self.rep_fits[(unit.label, r)]
        usual = {
            (c, nut): self.simulate(c, nut, fits) for c in unit.members for nut in self.nutrients
        }
        return (fits if fit else {}), self.summarize(unit, comp, usual, weight_of)


_Piece = tuple[str, str, FloatArray, BoolArray | None]  # basis, method, values, who is known
_WORKER: tuple[_State, dict[str, _Compiled], bool] | None = None


def _worker_task(task: tuple[int, int]) -> tuple[dict[_FitKey, AmountFit], _PassStats]:
    assert _WORKER is not None
    state, compiled, fit = _WORKER
    ui, r = task
    return state.replicate(ui, r, compiled[state.units[ui].label], fit)


def _map_replicates(
    state: _State, compiled: dict[str, _Compiled], fit: bool, n_jobs: int | None
) -> dict[tuple[str, int], tuple[dict[_FitKey, AmountFit], _PassStats]]:
    """Every population's replicates, in worker processes (fork: the arrays are shared, not
    copied) when more than one CPU is allowed and available."""
    tasks = [
        (ui, r)
        for ui, unit in enumerate(state.units)
        if unit.label in compiled
        for r in range(unit.n_replicates)
    ]
    if not tasks:
        return {}
    jobs = min(2, default_workers()) if n_jobs is None else max(1, n_jobs)
    if jobs == 1 or "fork" not in mp.get_all_start_methods():
        results = [state.replicate(ui, r, compiled[state.units[ui].label], fit) for ui, r in tasks]
    else:
        global _WORKER
        _WORKER = (state, compiled, fit)
        try:
            ctx = mp.get_context("fork")
            with ctx.Pool(min(jobs, len(tasks)), initializer=quiet_worker) as pool:
                results = pool.map(_worker_task, tasks, chunksize=1)
        finally:
            _WORKER = None
    return {(state.units[ui].label, r): res for (ui, r), res in zip(tasks, results, strict=True)}


def _table(
    state: _State,
    compiled: dict[str, _Compiled],
    full: _PassStats,
    replicates: Mapping[tuple[str, int], _PassStats],
) -> pl.DataFrame:
    """One row per population × nutrient × basis × method × domain: n, each statistic, its
    replicate SE and t-based CI on the population's design df."""
    units = {u.label: u for u in state.units}
    rows = []
    for unit_label, comp in compiled.items():
        unit = units[unit_label]
        R = unit.n_replicates
        df = unit.design.df
        t = critical_value(CONFIDENCE, df) if R and df > 0 else np.nan
        for nut in state.nutrients:
            for basis in BASES:
                for method in ("usual", "day1"):
                    for d in comp.domains:
                        key = (unit_label, nut, basis, method, d.label)
                        if key not in full:
                            continue  # no supplement data: no food + supplements rows
                        n_dom, est = full[key]
                        theta = np.array([est[s] for s in STAT_NAMES], dtype=np.float64)
                        reps = np.full((R, len(STAT_NAMES)), np.nan)
                        for r in range(R):
                            got = replicates.get((unit_label, r), {}).get(key)
                            if got is not None:
                                reps[r] = [got[1][s] for s in STAT_NAMES]
                        se = np.full(len(STAT_NAMES), np.nan)
                        if R:
                            ok = np.all(np.isfinite(reps), axis=0) & np.isfinite(theta)
                            if ok.any():
                                se[ok] = np.sqrt(unit.design.variance(theta[ok], reps[:, ok]))
                        row: dict[str, Any] = {
                            "population": unit_label,
                            "nutrient": nut,
                            "basis": basis,
                            "method": method,
                            "domain": d.label,
                            "domain_where": d.where,
                            "n": int(n_dom),
                            "df": df,
                            "above_cut": state.above.get(nut),
                        }
                        for i, s_name in enumerate(STAT_NAMES):
                            row[s_name] = float(theta[i])
                            row[f"{s_name}_se"] = float(se[i])
                            row[f"{s_name}_low"] = float(theta[i] - t * se[i])
                            row[f"{s_name}_high"] = float(theta[i] + t * se[i])
                        rows.append(row)
    schema: dict[str, Any] = {
        "population": pl.String,
        "nutrient": pl.String,
        "basis": pl.String,
        "method": pl.String,
        "domain": pl.String,
        "domain_where": pl.String,
        "n": pl.Int64,
        "df": pl.Float64,
        "above_cut": pl.Float64,
        **{c: pl.Float64 for s in STAT_NAMES for c in (s, f"{s}_se", f"{s}_low", f"{s}_high")},
    }
    return pl.DataFrame(rows, schema=schema)


@dataclass
class UsualIntakeResult:
    """Estimates (``table``), fitted models (``models``: the full-sample fits), run facts
    (``info``), and what summaries of other domains need without refitting.

    ``draws`` is the person-level frame behind the estimates (one row per modelled person of
    every fitted cycle): ``seqn``, ``cycle``, ``fit_stratum`` (the model stratum), ``weight``
    (the full-sample weight of the cycle), ``age``, ``sex`` and per nutrient ``usual_{nut}``
    (an array of the ``n_sim`` usual-intake draws, each worth ``weight / n_sim``),
    ``day1_{nut}``, ``ear_{nut}``, ``rda_{nut}`` and ``supp_{nut}`` (NaN: unknown or no
    supplement data). A pool's summaries divide each cycle's weights by the number pooled.
    :meth:`summarize` (or :func:`summarize_domains`) estimates any other domains, with
    replicate errors, from the stored fits.
    """

    table: pl.DataFrame
    models: pl.DataFrame
    info: dict[str, Any]
    _state: _State | None = field(default=None, repr=False)
    _draws: pl.DataFrame | None = field(default=None, repr=False)
    # every replicate's estimates of the table's rows: its keys, ``replicate`` (0 … R − 1) and
    # each statistic (for differences between domains: :func:`domain_differences`)
    replicates: pl.DataFrame = field(default_factory=pl.DataFrame, repr=False)

    @property
    def draws(self) -> pl.DataFrame:
        if self._draws is None:
            self._draws = _draws_frame(self._require_state())
        return self._draws

    def _require_state(self) -> _State:
        if self._state is None:
            raise EstimationError("usual intake: this result keeps no fits to summarise from")
        return self._state

    def summarize(
        self,
        domains: Iterable[Any] | None,
        *,
        population: str | Domain | None = None,
        populations: Iterable[str] | None = None,
        n_jobs: int | None = None,
    ) -> pl.DataFrame:
        """Summaries of ``domains`` (as :func:`estimate_usual_intake`'s) from the stored
        full-sample and replicate fits, without refitting (see :func:`summarize_domains`)."""
        return summarize_domains(
            self, domains, population=population, populations=populations, n_jobs=n_jobs
        )


def _draws_frame(state: _State) -> pl.DataFrame:
    parts = []
    for c in state.order:
        a = state.arrays[c]
        stratum = np.empty(a.n, dtype=object)
        for fs in state.strata_of[c]:
            stratum[fs.rows] = fs.name
        cols: dict[str, Any] = {
            "seqn": a.seqn,
            "cycle": [c] * a.n,
            "fit_stratum": stratum.astype(str),
            "weight": a.w,
            "age": a.age,
            "sex": np.where(a.male, "male", "female"),
        }
        for nut in state.nutrients:
            cols[f"usual_{nut}"] = pl.Series(f"usual_{nut}", state.full_usual[(c, nut)])
            cols[f"day1_{nut}"] = a.y[nut][:, 0]
            cols[f"ear_{nut}"] = a.ear[nut]
            cols[f"rda_{nut}"] = a.rda[nut]
            cols[f"supp_{nut}"] = a.supp[nut] if a.has_supp else np.full(a.n, np.nan)
        parts.append(pl.DataFrame(cols))
    return pl.concat(parts)


def _population(population: str | Domain | None, columns: Iterable[str]) -> str | None:
    """The population's condition, checked (syntax and columns) like a domain's."""
    if population is None or (isinstance(population, str) and not population.strip()):
        return None
    if isinstance(population, str):
        population = Domain("population", population, "population")
    check_domains([population], columns)
    return population.where


def summarize_domains(
    result: UsualIntakeResult,
    domains: Iterable[Any] | None,
    *,
    population: str | Domain | None = None,
    populations: Iterable[str] | None = None,
    n_jobs: int | None = None,
) -> pl.DataFrame:
    """Summaries of any domains from a result's stored fits (no refitting).

    ``domains`` as in :func:`estimate_usual_intake` (conditions, ``(label, where)`` pairs,
    ``{"label", "where"}`` tables, built-in labels; ``None``: the built-in domains);
    ``population`` is AND-ed into each; ``populations`` restricts the reported populations
    (cycles or pools of the result; default all). Returns a table with the columns of
    ``result.table``. Replicate summaries re-simulate each replicate's usual intakes from its
    stored fits and the same random draws, so a domain given here and the same domain given
    to :func:`estimate_usual_intake` agree exactly.
    """
    state = result._require_state()
    chosen = as_domains(domains)
    where = _population(population, state.frame.columns)
    check_domains(chosen, state.frame.columns)
    chosen = and_population(chosen, where)
    compiled = state.compile(chosen, populations)
    full: _PassStats = {}
    for unit in state.units:
        if unit.label not in compiled:
            continue
        full.update(
            state.summarize(
                unit, compiled[unit.label], state.full_usual, lambda c: state.arrays[c].w
            )
        )
    reps = _map_replicates(state, compiled, False, n_jobs)
    return _table(state, compiled, full, {k: v[1] for k, v in reps.items()})


def _unit_cycles(
    members: Sequence[str], donors: Mapping[str, str], order: list[str]
) -> tuple[str, ...]:
    need = set(members)
    queue = list(members)
    while queue:
        c = queue.pop()
        d = donors.get(c)
        if d is not None and d not in need:
            need.add(d)
            queue.append(d)
    return tuple(c for c in order if c in need)


def _build_unit(
    label: str,
    members: Sequence[str],
    frame: pl.DataFrame,
    arrays: Mapping[str, CycleArrays],
    order: list[str],
    donors: Mapping[str, str],
    weight: str,
    n_brr: int | None,
    fay_rho: float,
) -> _Unit:
    """A population and its replicate design over every row of its cycles (and donors')."""
    cycles = _unit_cycles(members, {c: donors[c] for c in order if not arrays[c].has_day2}, order)
    strata: list[FloatArray] = []
    psu: list[FloatArray] = []
    wts: list[FloatArray] = []
    rows: dict[str, IntArray] = {}
    offset = 0
    for c in sorted(cycles):  # every row of every cycle: one design over all their strata
        sub = frame.filter(pl.col("cycle").cast(pl.Utf8) == c).select(
            ROW_COLUMN, "sdmvstra", "sdmvpsu", weight
        )
        sub = sub.filter(
            (pl.col(weight).fill_null(0.0) > 0)
            | (pl.col("sdmvstra").is_not_null() & pl.col("sdmvpsu").is_not_null())
        )  # rows without design values carry no weight: not part of the design
        pos = np.asarray(sub[ROW_COLUMN].to_numpy(), dtype=np.int64)
        strata.append(to_float(sub, "sdmvstra"))
        psu.append(to_float(sub, "sdmvpsu"))
        wts.append(np.nan_to_num(to_float(sub, weight)))
        order_pos = np.argsort(pos, kind="stable")
        at = np.searchsorted(pos, arrays[c].pos, sorter=order_pos)
        rows[c] = offset + order_pos[at]
        offset += len(pos)
    # NHANES numbers strata uniquely across cycles; other frames may not: then each cycle's
    # strata get their own codes, so that pooled strata stay distinct
    if len(strata) > 1 and sum(len(np.unique(x)) for x in strata) != len(
        np.unique(np.concatenate(strata))
    ):
        top = max(float(np.nanmax(x)) for x in strata) + 1
        strata = [x + i * top for i, x in enumerate(strata)]
    design = replicate_design(
        np.concatenate(strata),
        np.concatenate(psu),
        np.concatenate(wts),
        n_replicates=n_brr,
        fay_rho=fay_rho,
    )
    return _Unit(label, tuple(members), cycles, design, rows)


def estimate_usual_intake(
    frame: pl.DataFrame,
    *,
    cycles: Iterable[str] | None = None,
    nutrients: Sequence[str] = NUTRIENTS,
    pools: Mapping[str, Sequence[str]] | None = None,
    domains: Iterable[Any] | None = None,
    population: str | Domain | None = None,
    weight: str = DEFAULT_WEIGHT,
    above: Mapping[str, float] | None = None,
    n_brr: int | None = None,
    n_sim: int = 50,
    fay_rho: float = FAY_RHO,
    donors: Mapping[str, str] | None = None,
    stratify: bool = True,
    seed: int = 20060,
    n_jobs: int | None = None,
    percentiles: Sequence[int] = PERCENTILES,
) -> UsualIntakeResult:
    """Usual-intake distributions by the NCI method, per cycle (and pooled cycles), in any
    domains.

    Parameters
    ----------
    frame : polars.DataFrame
        One row per participant with :data:`REQUIRED_COLUMNS` (``weight`` in place of
        ``wt_diet1`` when another is chosen), ``{nut}_food_d1``, ``{nut}_food_d2``,
        ``{nut}_ear``, ``{nut}_rda`` (the person's age/sex EAR and RDA) and optionally
        ``{nut}_supp`` (mg/day) and ``supp_user`` for each nutrient; plus whatever columns the
        domains use.
    cycles : iterable of str, optional
        Cycles to report one by one ("2005-2006", ...); default every cycle in ``frame``;
        ``[]`` with ``pools`` reports only the pools. Donor cycles are fitted as needed even
        when not reported.
    nutrients : sequence of str
        Any of "mg", "ca".
    pools : mapping, optional
        Populations made of several cycles, e.g. ``{"2003-2006": ("2003-2004", "2005-2006")}``:
        weights are divided by the number of cycles pooled (NCHS guidance), the usual-intake
        draws of each cycle's own model are combined, and the replicates come from one design
        over all the pooled strata.
    domains : iterable, optional
        SQL conditions over ``frame``'s columns (``"sex = 'male' AND age >= 20"``, labelled by
        their text), ``(label, where)`` pairs, ``{"label": …, "where": …}`` tables,
        :class:`~nhanes_mg.usual_intake.domains.Domain` objects or built-in labels ("age 19+");
        default :data:`~nhanes_mg.usual_intake.domains.DEFAULT_DOMAINS`.
    population : str, optional
        An SQL condition AND-ed into every domain (a specification's population).
    weight : str
        The weight column (default ``wt_diet1``, the NCI method's): it weights the model
        likelihood, the summaries and, through the replicates, the errors.
    above : mapping, optional
        Nutrient → amount (mg/day): ``pct_above_cut`` is the % with intake above it.
    n_brr : int, optional
        Replicates per population: default the design's (the Hadamard order for its strata);
        0 for point estimates only.
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
        Processes for the replicates (default: up to 2, the CPUs available). The full sample
        is fitted first; its fits start every replicate's search.
    percentiles : sequence of int
        Percentiles to report (default :data:`PERCENTILES`; ``()``: NaN, and no sort of the draws).

    Returns
    -------
    UsualIntakeResult
        ``table``: one row per population × nutrient × basis × method × domain with the
        domain's ``domain`` label and ``domain_where`` condition, ``n``, ``df`` and each
        statistic of :data:`STAT_NAMES` with ``*_se``, ``*_low`` and ``*_high``;
        ``pct_below_ear`` (prevalence of inadequacy, EAR cut-point method) and
        ``pct_below_rda`` (share not meeting the RDA — a description of the intake
        distribution, not a prevalence of inadequacy) come from the same draws and
        replicates. ``draws`` and :meth:`~UsualIntakeResult.summarize` as described there.

    Raises
    ------
    SpecError
        A domain or the population cannot be parsed or names a column the frame lacks
        (checked before any fitting).
    EstimationError
        Missing columns (e.g. no ``{nut}_rda``), an empty cycle, a failed fit, or a cycle
        without second recalls and no donor.
    """
    required = [weight if c == "wt_diet1" else c for c in REQUIRED_COLUMNS]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise EstimationError(f"usual intake: the frame lacks columns {', '.join(missing)}")
    bad = [n for n in nutrients if n not in NUTRIENTS]
    if bad:
        raise EstimationError(f"usual intake: unknown nutrients {bad}; known: {NUTRIENTS}")
    above = {k: float(v) for k, v in (above or {}).items()}
    if set(above) - set(NUTRIENTS):
        raise EstimationError(f"usual intake: 'above' names unknown nutrients {sorted(above)}")
    chosen = as_domains(domains)
    where = _population(population, frame.columns)
    check_domains(chosen, frame.columns)  # every condition and column, before any fitting
    chosen = and_population(chosen, where)

    present = sorted(set(frame["cycle"].cast(pl.Utf8).unique().to_list()))
    report = sorted(set(cycles)) if cycles is not None else present
    pools = {label: tuple(members) for label, members in (pools or {}).items()}
    for label, members in pools.items():
        if not members:
            raise EstimationError(f"usual intake: pool {label!r} has no cycles")
        if label in report and tuple(members) != (label,):
            raise EstimationError(f"usual intake: pool {label!r} has a cycle's name")
    donors = dict(DEFAULT_DONORS if donors is None else donors)
    needed = set(report) | {c for members in pools.values() for c in members}
    if not needed:
        raise EstimationError("usual intake: no cycle to report")
    indexed = frame.with_row_index(ROW_COLUMN)
    arrays: dict[str, CycleArrays] = {}
    queue = sorted(needed)
    while queue:
        cyc = queue.pop(0)
        if cyc in arrays:
            continue
        if cyc not in present:
            raise EstimationError(f"usual intake: cycle {cyc} is not in the data")
        arrays[cyc] = cycle_arrays(indexed, cyc, nutrients, weight)
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

    rng = np.random.default_rng(seed)
    draws = {(c, nut): standard_draws(arrays[c].n, n_sim, rng) for c in order for nut in nutrients}
    strata_of = {c: fit_strata(arrays[c], stratify) for c in order}
    y_fit = {
        (c, nut, fs.name): replace_zeros(arrays[c].y[nut][fs.rows])[0]
        for c in order
        for nut in nutrients
        for fs in strata_of[c]
    }
    labels = [(c, (c,)) for c in report if c not in pools] + list(pools.items())
    units = [
        _build_unit(label, members, indexed, arrays, order, donors, weight, n_brr, fay_rho)
        for label, members in labels
    ]
    state = _State(
        frame=indexed,
        arrays=arrays,
        order=order,
        nutrients=tuple(nutrients),
        donors=donors,
        strata_of=strata_of,
        y_fit=y_fit,
        draws=draws,
        units=units,
        n_sim=n_sim,
        above=above,
        weight=weight,
        percentiles=tuple(percentiles),
    )
    compiled = state.compile(chosen)
    state.full_fits = state.fit(order, lambda c: arrays[c].w)
    state.full_usual = {
        (c, nut): state.simulate(c, nut, state.full_fits) for c in order for nut in nutrients
    }
    full: _PassStats = {}
    for unit in units:
        full.update(
            state.summarize(unit, compiled[unit.label], state.full_usual, lambda c: arrays[c].w)
        )
    replicate_results = _map_replicates(state, compiled, True, n_jobs)
    state.rep_fits = {key: fits for key, (fits, _) in replicate_results.items()}
    replicate_stats = {k: v[1] for k, v in replicate_results.items()}
    table = _table(state, compiled, full, replicate_stats)

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
        for (c, nut, name), f in state.full_fits.items()
    ]
    info = {
        "n_replicates": max(u.n_replicates for u in units),
        "replicates": {u.label: u.n_replicates for u in units},
        "df": {u.label: u.design.df for u in units},
        "replicate_method": units[0].design.method,
        "design_cycles": {u.label: list(u.cycles) for u in units},
        "fay_rho": fay_rho,
        "n_sim": n_sim,
        "weight": weight,
        "population": where,
        "domains": [{"label": d.label, "where": d.where} for d in chosen],
        "cycles_fitted": order,
        "donors": {c: donors[c] for c in order if not arrays[c].has_day2},
        "pools": {label: list(members) for label, members in pools.items()},
        "stratify": stratify,
    }
    return UsualIntakeResult(
        table, pl.DataFrame(model_rows), info, state, replicates=_replicate_frame(replicate_stats)
    )


def _replicate_frame(replicates: Mapping[tuple[str, int], _PassStats]) -> pl.DataFrame:
    """Every replicate's estimates: one row per replicate × the table's keys."""
    keys = ("population", "nutrient", "basis", "method", "domain")
    rows = [
        {
            **dict(zip(keys, key, strict=True)),
            "replicate": r,
            **{s: float(v[s]) for s in STAT_NAMES},
        }
        for (_, r), stats in replicates.items()
        for key, (_, v) in stats.items()
    ]
    types = {**dict.fromkeys(keys, pl.String), "replicate": pl.Int64}
    return pl.DataFrame(rows, schema={**types, **dict.fromkeys(STAT_NAMES, pl.Float64)})
