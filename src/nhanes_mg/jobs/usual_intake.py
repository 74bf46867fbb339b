"""Usual-intake tables and figure for the CLI (``nhanes-mg usual-intake``).

:func:`run_usual_intake` takes the analytic frame (or a data dir, from which it builds the
frame with :func:`nhanes_mg.derive.build_analytic`), estimates usual intakes in the domains
asked for (default: the built-in sex × age domains) with replicate standard errors and writes::

    {out_dir}/tables/usual_intake.csv          estimates, replicate SEs and t-based 95% CIs (one
                                               row per population × nutrient × basis × method ×
                                               domain, with the domain's label and condition):
                                               mean, percentiles, pct_below_ear, pct_below_rda,
                                               pct_above_cut, pct_above_ul_supp and their
                                               *_se, *_low, *_high
    {out_dir}/tables/usual_intake_models.csv   the fitted amount models (λ, σ_u², σ_e², β …)
    {out_dir}/tables/usual_intake.json         run facts (replicates, df, Fay ρ, draws, donors,
                                               domains, time)
    {out_dir}/figures/usual_intake_vs_day1.png day-1 vs usual-intake distributions vs the EAR

``pct_below_ear`` (usual intake) is the prevalence of inadequacy by the EAR cut-point method;
``pct_below_rda`` is the share of usual intake below the person's RDA — a description of the
intake distribution ("not meeting the RDA"), not a prevalence of inadequacy (see
:mod:`nhanes_mg.usual_intake.estimate`).

Examples
--------
>>> import tempfile
>>> from nhanes_mg.usual_intake import simulate_frame
>>> out = tempfile.mkdtemp()
>>> table = run_usual_intake(simulate_frame(n=800, seed=1), out, n_brr=0, n_sim=10)
>>> sorted(p.name for p in (Path(out) / "tables").iterdir())
['usual_intake.csv', 'usual_intake.json', 'usual_intake_models.csv']
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

from nhanes_mg import numbers
from nhanes_mg.data.catalog import parse_cycles, pool_label
from nhanes_mg.derive import build_analytic
from nhanes_mg.derive.lineage import affected_by
from nhanes_mg.errors import EstimationError, IncompleteDataError
from nhanes_mg.figure_files import plot_data, save_png
from nhanes_mg.files import atomic_write, write_csv
from nhanes_mg.report.labels import expression_words
from nhanes_mg.usual_intake.arrays import DEFAULT_DONORS, DEFAULT_WEIGHT, NUTRIENTS
from nhanes_mg.usual_intake.domains import Domain, and_population, as_domains, check_domains
from nhanes_mg.usual_intake.estimate import UsualIntakeResult, estimate_usual_intake

TABLE_NAME = "usual_intake.csv"
MODELS_NAME = "usual_intake_models.csv"
FIGURE_NAME = "usual_intake_vs_day1.png"
INFO_NAME = "usual_intake.json"
NUTRIENT_LABELS = {"mg": "Magnesium", "ca": "Calcium"}


def default_pools(cycles: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Pooled populations reported by default: 2003-2006 (Fulgoni 2011) when both present.

    >>> default_pools(["2003-2004", "2005-2006"])
    {'2003-2006': ('2003-2004', '2005-2006')}
    """
    have = set(cycles)
    pools: dict[str, tuple[str, ...]] = {}
    if {"2003-2004", "2005-2006"} <= have:
        pools["2003-2006"] = ("2003-2004", "2005-2006")
    return pools


def load_frame(
    data_dir: str | Path, cycles: Sequence[str], needs: Sequence[str] = ()
) -> pl.DataFrame:
    """The analytic frame of ``cycles`` (plus donor cycles) from a fetched data dir.

    A table missing for one of ``needs`` (the intake variables of the nutrients asked for)
    in one of those cycles stops it with :class:`IncompleteDataError` naming the table, as
    ``run`` does: estimating without it would drop rows (food + supplements) silently.
    """

    wanted = set(cycles) | {DEFAULT_DONORS[c] for c in cycles if c in DEFAULT_DONORS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # gaps in unrelated components (labs, mortality)
        result = build_analytic(data_dir, sorted(wanted))
    gaps = list(result.metadata.get("gaps") or [])  # as run reads them (dicts)
    hits = affected_by(gaps, list(needs), sorted(wanted))
    if hits:
        missing = ", ".join(dict.fromkeys(f"{table} ({cycle})" for table, cycle, _ in hits))
        found = sorted({v for *_, names in hits for v in names})
        raise IncompleteDataError(
            f"{missing} missing — needed for {', '.join(found)}; fetch the missing table(s) "
            "again (nhanes-mg fetch) or leave out those cycles (--cycles)"
        )
    return result.frame


def run_usual_intake(
    source: pl.DataFrame | str | Path,
    out_dir: str | Path,
    *,
    cycles: str | Iterable[str] | None = None,
    nutrients: Sequence[str] = NUTRIENTS,
    n_brr: int | None = None,
    n_sim: int = 50,
    pools: Mapping[str, Sequence[str]] | None = None,
    pool: bool = False,
    domains: Iterable[Any] | None = None,
    population: str | Domain | None = None,
    weight: str = DEFAULT_WEIGHT,
    above: Mapping[str, float] | None = None,
    n_jobs: int | None = None,
    seed: int = 20060,
    figure: bool = True,
) -> pl.DataFrame:
    """Estimate usual intakes and write the tables and the figure.

    Parameters
    ----------
    source : polars.DataFrame or path
        The analytic frame (:mod:`nhanes_mg.derive`), or a data dir to build it from.
    out_dir : path
        Output folder; ``tables/`` and ``figures/`` are created in it.
    cycles : str or iterable of str, optional
        Cycles to report ("2001-2006", "2005-2006,2007-2008", or a list); default every cycle
        of the frame (a data dir: 2001-2002 … 2017-2018).
    nutrients : sequence of str
        "mg" and/or "ca".
    n_brr : int, optional
        Replicates: default the design's (Fay BRR: 16 for a cycle of 15 strata, 20 for
        2007-2008, 32 for a pair of cycles pooled or borrowing from a donor); 0 skips the SEs.
    n_sim : int
        Monte Carlo pseudo-persons per participant.
    pools : mapping, optional
        Pooled populations (default :func:`default_pools`: 2003-2006 when both cycles run).
    pool : bool
        Pool all of ``cycles`` into one population (named by :func:`pool_label`) and report
        only it.
    domains : iterable, optional
        Domains (SQL conditions, ``(label, where)`` pairs, ``{"label", "where"}`` tables or
        built-in labels; see :mod:`nhanes_mg.usual_intake.domains`); default the built-in ones.
        Conditions are checked (syntax, then the frame's columns) before anything is fitted.
    population : str, optional
        A condition AND-ed into every domain.
    weight : str
        The weight column (default ``wt_diet1``).
    above : mapping, optional
        Nutrient → mg/day for ``pct_above_cut``.
    n_jobs : int, optional
        Processes for the replicates (default up to 2).
    seed : int
        Monte Carlo seed.
    figure : bool
        Write the figure.

    Returns
    -------
    polars.DataFrame
        The table written to ``tables/usual_intake.csv`` (columns: population, nutrient,
        basis, method, domain, domain_where, n, df and each statistic of
        :data:`~nhanes_mg.usual_intake.arrays.STAT_NAMES` with its ``*_se``, ``*_low`` and
        ``*_high``), in the order population × nutrient × basis × method × domain as given.

    Raises
    ------
    SpecError
        A domain (or the population) does not parse or names a column the dataset lacks.
    EstimationError
        See :func:`nhanes_mg.usual_intake.estimate_usual_intake`.
    """
    started = time.perf_counter()
    chosen = as_domains(domains)
    check_domains(chosen)  # syntax first: a typo fails before the frame is built
    if population:
        check_domains(as_domains([population], "population"))
    cycle_list = None if cycles is None else [c.years for c in parse_cycles(cycles)]
    if isinstance(source, pl.DataFrame):
        frame = source
    else:
        needs = [f"{n}_{part}" for n in nutrients for part in ("food_d1", "food_d2", "supp")]
        frame = load_frame(source, cycle_list or [c.years for c in parse_cycles(None)], needs)
    if cycle_list is None:
        cycle_list = sorted(set(frame["cycle"].cast(pl.Utf8).unique().to_list()))
    if pool:
        pools = {pool_label(cycle_list): tuple(cycle_list)}
        report: list[str] = []
    else:
        pools = default_pools(cycle_list) if pools is None else dict(pools)
        report = cycle_list
    result = estimate_usual_intake(
        frame,
        cycles=report,
        nutrients=nutrients,
        pools=pools,
        domains=chosen,
        population=population,
        weight=weight,
        above=above,
        n_brr=n_brr,
        n_sim=n_sim,
        n_jobs=n_jobs,
        seed=seed,
    )
    out = Path(out_dir)
    tables = out / "tables"
    tables.mkdir(parents=True, exist_ok=True)
    table = result.table
    write_csv(tables / TABLE_NAME, table)
    write_csv(tables / MODELS_NAME, result.models)
    info = {**result.info, "seconds": round(time.perf_counter() - started, 1)}
    atomic_write(tables / INFO_NAME, lambda p: Path(p).write_text(json.dumps(info, indent=2)))
    if figure:
        write_figure(result, out / "figures" / FIGURE_NAME)
    return table


def _weighted_density(
    x: np.ndarray, w: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Density on ``edges`` normalised by the total weight (mass beyond the range is left out,
    not piled into the last bin)."""
    hist, _ = np.histogram(x, bins=edges, weights=w)
    return 0.5 * (edges[1:] + edges[:-1]), hist / (w.sum() * np.diff(edges))


FIGURE_DOMAINS = ("all", "age 19+", "female", "male")  # the default domains' headline ones
BASIS_LABELS = {"food": "food", "food+supplements": "food + supplements"}
METHOD_LABELS = {"day1": "day 1 (one 24-h recall)", "usual": "usual intake (NCI method)"}


def _figure_population(result: UsualIntakeResult, population: str | None) -> str:
    """The population drawn: the one asked for, else the pool when the run pooled its cycles
    (the only population reported), else the latest cycle reported."""
    if population is not None:
        return population
    reported = result.table["population"].unique(maintain_order=True).to_list()
    return str(reported[-1])


def _figure_domains(result: UsualIntakeResult) -> list[Domain]:
    """The run's domains (with its population AND-ed in, as estimated); the built-in set is
    cut to its headline domains, one panel row each."""
    chosen = [Domain(d["label"], d["where"]) for d in result.info.get("domains", [])]
    if not chosen:
        return [Domain("all", "TRUE")]
    if len(chosen) > 6:
        chosen = [d for d in chosen if d.label in FIGURE_DOMAINS] or chosen[:4]
    return chosen


def figure_data(result: UsualIntakeResult, population: str | None = None) -> pd.DataFrame:
    """Weighted densities of intake as % of the person's EAR: day 1 vs usual intake, in each
    of the run's domains, food and (where supplement data exist) food + supplements.

    ``population`` is a reported population, a cycle or a pool (default: the pool when the run
    pooled, else the latest cycle). ``attrs`` carries the population, whether it is a pool and
    its cycles.
    """
    draws = result.draws
    if draws.is_empty():
        raise EstimationError("usual intake: no draws to plot")
    chosen = population or _figure_population(result, population)
    pools: dict[str, list[str]] = result.info.get("pools", {})
    members = list(pools.get(chosen, [chosen]))
    domains = _figure_domains(result)
    # the domain masks of the population's persons, in its members' order (the draws' order)
    where = result.info.get("population")
    masks = result._require_state().compile(and_population(domains, where), [chosen])[chosen].masks
    d = pl.concat([draws.filter(pl.col("cycle") == c) for c in members])
    edges = np.linspace(0.0, 300.0, 61)  # % of EAR, 5-point bins (the tail above 300% not drawn)
    rows = []
    w_all = d["weight"].to_numpy() / len(members)
    for domain in domains:
        mask = masks[domain.label]
        for nut in NUTRIENTS:
            if f"usual_{nut}" not in d.columns:
                continue
            ear = d[f"ear_{nut}"].to_numpy()[mask]
            usual = np.stack(d[f"usual_{nut}"].to_numpy())[mask]  # type: ignore[call-overload]
            day1 = d[f"day1_{nut}"].to_numpy()[mask]
            supp = d[f"supp_{nut}"].to_numpy()[mask]
            w = w_all[mask]
            bases = {"food": (np.ones(len(w), dtype=bool), np.zeros(len(w)))}
            if np.isfinite(supp).any():  # supplement data: food + supplements beside food
                bases["food+supplements"] = (np.isfinite(supp), np.nan_to_num(supp))
            m = usual.shape[1]
            for basis, (known, extra) in bases.items():
                pieces = {
                    "day1": (100 * (day1 + extra) / ear, w),
                    "usual": (
                        (100 * (usual + extra[:, None]) / ear[:, None]).ravel(),
                        np.repeat(w / m, m),
                    ),
                }
                keep = {"day1": known, "usual": np.repeat(known, m)}
                for method, (x, wx) in pieces.items():
                    x, wx = x[keep[method]], wx[keep[method]]
                    if not wx.sum():
                        continue
                    below = 100 * float(wx[x < 100].sum() / wx.sum())
                    mids, dens = _weighted_density(x, wx, edges)
                    for xm, dm in zip(mids, dens, strict=True):
                        rows.append(
                            {
                                "domain": domain.label,
                                "nutrient": NUTRIENT_LABELS[nut],
                                "basis": BASIS_LABELS[basis],
                                "method": METHOD_LABELS[method],
                                "x": xm,
                                "density": dm * 100,  # per 100 % of EAR
                                "below": below,
                            }
                        )
    frame = plot_data(rows)
    frame["domain"] = pd.Categorical(frame["domain"], [d.label for d in domains])
    frame.attrs.update(
        {
            "population": chosen,
            "pooled": chosen in pools,
            "cycles": members,
            "cycle": chosen,
            "where": where or "",
        }
    )
    return frame


def figure_title(data: pd.DataFrame) -> str:
    """``NHANES 2015-2018 (2015-2016 and 2017-2018 pooled): one day of intake vs usual
    intake``: the population drawn, in words."""
    population = data.attrs["population"]
    pooled = data.attrs["pooled"]
    cycles = " and ".join(data.attrs["cycles"])
    where = f"NHANES {population}" + (f" ({cycles} pooled)" if pooled else "")
    if data.attrs.get("where"):  # the run's population, in words
        where += f", {expression_words(data.attrs['where'])}"
    return f"{where}: one day of intake vs usual intake, relative to the EAR"


def write_figure(result: UsualIntakeResult, path: Path, population: str | None = None) -> Path:
    """Day-1 vs usual-intake distributions of intake relative to the EAR: a row of panels per
    domain, a column per nutrient, food and food + supplements as two line types."""
    from plotnine import (
        aes,
        element_text,
        facet_grid,
        geom_line,
        geom_text,
        geom_vline,
        ggplot,
        labs,
        scale_color_manual,
        scale_linetype_manual,
        theme,
        theme_bw,
    )

    data = figure_data(result, population)
    keys = ["domain", "nutrient", "basis", "method"]
    notes = data.groupby(keys, as_index=False, observed=True)["below"].first()
    notes["line"] = (
        np.where(notes["method"].str.startswith("day"), "day 1", "usual")
        + ", "
        + notes["basis"]
        + ": "
        + notes["below"].map(lambda v: numbers.number(v / 100, percent=True))
        + " < EAR"
    )
    notes = notes.groupby(["domain", "nutrient"], as_index=False, observed=True)["line"].agg(
        "\n".join
    )
    top = data.groupby(["domain", "nutrient"], observed=True)["density"].max()
    notes["y"] = [top[(d, n)] for d, n in zip(notes["domain"], notes["nutrient"], strict=True)]
    notes["x"] = 300.0
    colors = {METHOD_LABELS["day1"]: "#d95f02", METHOD_LABELS["usual"]: "#1b9e77"}
    lines = {"food": "solid", "food + supplements": "dashed"}
    n_rows = data["domain"].nunique()
    plot = (
        ggplot(data, aes("x", "density", color="method", linetype="basis"))
        + geom_line(size=0.9)
        + geom_vline(xintercept=100, linetype="dotted", color="black")
        + geom_text(
            aes("x", "y", label="line"),
            data=notes,
            inherit_aes=False,
            ha="right",
            va="top",
            size=8,
        )
        + facet_grid("domain ~ nutrient", scales="free_y")
        + scale_color_manual(values=colors)
        + scale_linetype_manual(values={k: v for k, v in lines.items() if k in set(data["basis"])})
        + labs(
            x="intake, % of the person's EAR (dotted line: the EAR)",
            y="density (share per 100% of EAR)",
            color="",
            linetype="intake from",
            title=figure_title(data),
        )
        + theme_bw()
        + theme(
            figure_size=(10, 1.6 + 2.6 * n_rows),
            legend_position="bottom",
            text=element_text(size=10),
            plot_title=element_text(size=11),
            strip_text_y=element_text(angle=0),
        )
    )
    save_png(plot, path)
    return path
