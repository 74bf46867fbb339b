"""Time usual intake on the real NHANES mirror: (a) the full set, (b) one user domain.

(a) The full set: Mg and Ca × food and food + supplements × every cycle 2001-2002 …
    2017-2018 and the pooled 2003-2006 × the 29 built-in domains (all, ages 2+, 19+, each sex,
    8 age groups, 16 sex × age groups) × {usual, day 1}, with Fay-BRR replicate errors. Each
    population has its own replicate design over its cycles (R's ``as.svrepdesign``): 16
    replicates for a cycle of 15 strata, 20 for 2007-2008 (16 strata), 32 for 2001-2002 (it
    borrows λ and ρ from 2003-2004, whose strata are in its design) and for the 2003-2006 pool.
(b) One user domain (``sex = 'male' AND age >= 20``) on one pooled cycle pair (2011-2014),
    Mg and Ca, with replicates (32: the 29 strata of the two cycles).

Usage::

    .venv/bin/python scripts/bench_usual_intake.py --mirror /tmp/mirror/nhanes-mirror \\
        [--cycles 2001-2018] [--n-sim 50] [--jobs 2] [--pair 2011-2014]

The mirror's files are hard-linked (else copied) into a temporary data dir (``load_table``
writes a parquet cache under the data dir, never into the mirror).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import polars as pl

from nhanes_mg.data.catalog import parse_cycles, pool_label
from nhanes_mg.jobs.usual_intake import default_pools
from nhanes_mg.usual_intake import estimate_usual_intake

USER_DOMAIN = "sex = 'male' AND age >= 20"


def _link_mirror(mirror: Path, target: Path) -> None:
    """The mirror's files in the data dir as hard links (copies across file systems): the
    package refuses a symbolic link in a data dir."""
    for folder in mirror.iterdir():
        if folder.is_dir():
            (target / folder.name).mkdir()
            for f in folder.iterdir():
                try:
                    os.link(f, target / folder.name / f.name)
                except OSError:
                    shutil.copyfile(f, target / folder.name / f.name)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the replicate workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("NHANES_MG_MIRROR"))
    parser.add_argument("--cycles", default="2001-2018")
    parser.add_argument("--pair", default="2011-2014", help="the pooled pair of (b)")
    parser.add_argument("--n-sim", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    if not args.mirror:
        raise SystemExit("give --mirror DIR or set NHANES_MG_MIRROR")
    mirror = Path(args.mirror)
    if (mirror / "nhanes-mirror").is_dir():
        mirror = mirror / "nhanes-mirror"
    cycles = [c.years for c in parse_cycles(args.cycles)]
    pair = [c.years for c in parse_cycles(args.pair)]
    print(f"cpus: {os.cpu_count()}, jobs: {args.jobs}, n_sim: {args.n_sim}, cycles: {cycles}")
    with tempfile.TemporaryDirectory() as tmp:
        _link_mirror(mirror, Path(tmp))
        from nhanes_mg.derive import build_analytic

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = build_analytic(tmp, sorted(set(cycles) | set(pair))).frame
        t_build = time.perf_counter() - t0
    print(f"analytic frame (derive.build_analytic, cold parquet cache): {t_build:6.1f} s")
    pools = default_pools(cycles)

    t0, c0 = time.perf_counter(), _cpu()
    point = estimate_usual_intake(frame, cycles=cycles, pools=pools, n_brr=0, n_sim=args.n_sim)
    t_point, c_point = time.perf_counter() - t0, _cpu() - c0
    n_fits = point.models.height
    print(
        f"point estimates only ({n_fits} model fits): {t_point:6.1f} s wall, {c_point:6.1f} s CPU"
    )

    t0, c0 = time.perf_counter(), _cpu()
    full = estimate_usual_intake(
        frame, cycles=cycles, pools=pools, n_sim=args.n_sim, n_jobs=args.jobs
    )
    t_full, c_full = time.perf_counter() - t0, _cpu() - c0
    reps = full.info["replicates"]
    per_cycle = {
        c: len(full.models.filter(pl.col("cycle") == c)) for c in full.info["cycles_fitted"]
    }
    fits = n_fits + sum(
        reps[u] * sum(per_cycle[c] for c in full.info["design_cycles"][u]) for u in reps
    )
    print(
        f"(a) full set ({len(reps)} populations, replicates {sorted(set(reps.values()))}, "
        f"{fits} model fits, {full.table.height} table rows): "
        f"{t_full:6.1f} s wall, {c_full:6.1f} s CPU"
    )

    label = pool_label(pair)
    t0, c0 = time.perf_counter(), _cpu()
    one = estimate_usual_intake(
        frame,
        cycles=[],
        pools={label: tuple(pair)},
        domains=[("men 20+", USER_DOMAIN)],
        n_sim=args.n_sim,
        n_jobs=args.jobs,
    )
    t_one, c_one = time.perf_counter() - t0, _cpu() - c0
    print(
        f"(b) one user domain ({USER_DOMAIN!r}), {label} pooled, "
        f"{one.info['replicates'][label]} replicates, {one.table.height} table rows: "
        f"{t_one:6.1f} s wall, {c_one:6.1f} s CPU"
    )
    print(f"load average (other work on the machine slows it): {os.getloadavg()}")

    key = full.table.filter(
        (pl.col("nutrient") == "mg") & (pl.col("method") == "usual") & (pl.col("domain") == "all")
    ).select(
        "population", "basis", "df", "pct_below_ear", "pct_below_ear_se", "pct_below_rda",
        "pct_below_rda_se",
    )  # fmt: skip
    with pl.Config(tbl_rows=40):
        print(key.sort("basis", "population"))
        print(
            one.table.filter(pl.col("method") == "usual").select(
                "population",
                "nutrient",
                "basis",
                "domain",
                "n",
                "df",
                "mean",
                "pct_below_ear",
                "pct_below_ear_low",
                "pct_below_ear_high",
            )
        )


if __name__ == "__main__":
    main()
