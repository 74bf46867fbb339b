"""Time the full usual-intake BRR set on the real NHANES mirror.

The full set: Mg and Ca × food and food + supplements × every cycle 2001-2002 … 2017-2018
(plus the pooled 2003-2006) × 29 domains (all, ages 2+, 19+, sex, 8 age groups, 16 sex × age
groups) × {usual, day 1}, with Fay-BRR standard errors (32 replicates: 2007-2008 has 16
strata, so every cycle uses the order-32 Hadamard matrix).

Usage::

    export NHANES_MG_MIRROR=/tmp/mirror/nhanes-mirror
    .venv/bin/python scripts/bench_usual_intake.py [--cycles 2001-2018] [--n-sim 50] [--jobs 2]

The mirror's files are symlinked into a temporary data dir (``load_table`` writes a parquet
cache under the data dir, never into the mirror).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import polars as pl

from nhanes_mg.catalog import parse_cycles
from nhanes_mg.usual_intake import estimate_usual_intake
from nhanes_mg.usual_intake.run import default_pools


def _link_mirror(mirror: Path, target: Path) -> None:
    for folder in mirror.iterdir():
        if folder.is_dir():
            (target / folder.name).mkdir()
            for f in folder.iterdir():
                (target / folder.name / f.name).symlink_to(f)


def _cpu() -> float:
    """CPU seconds of this process and its finished children (the replicate workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("NHANES_MG_MIRROR"))
    parser.add_argument("--cycles", default="2001-2018")
    parser.add_argument("--n-sim", type=int, default=50)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--n-brr", type=int, default=None)
    args = parser.parse_args()
    if not args.mirror:
        raise SystemExit("give --mirror DIR or set NHANES_MG_MIRROR")
    mirror = Path(args.mirror)
    if (mirror / "nhanes-mirror").is_dir():
        mirror = mirror / "nhanes-mirror"
    cycles = [c.years for c in parse_cycles(args.cycles)]
    print(f"cpus: {os.cpu_count()}, jobs: {args.jobs}, n_sim: {args.n_sim}, cycles: {cycles}")
    with tempfile.TemporaryDirectory() as tmp:
        _link_mirror(mirror, Path(tmp))
        from nhanes_mg.derive import build_analytic

        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = build_analytic(tmp, cycles).frame
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
        frame, cycles=cycles, pools=pools, n_brr=args.n_brr, n_sim=args.n_sim, n_jobs=args.jobs
    )
    t_full, c_full = time.perf_counter() - t0, _cpu() - c0
    reps = full.info["n_replicates"]
    print(
        f"full BRR set ({reps} replicates, {n_fits * (reps + 1)} model fits, "
        f"{full.table.height} table rows): {t_full:6.1f} s wall, {c_full:6.1f} s CPU"
    )
    print(f"load average during the run (other work on the machine slows it): {os.getloadavg()}")
    print(f"per replicate (wall, {args.jobs} processes): {t_full / max(reps, 1):.2f} s")
    key = full.table.filter(
        (pl.col("nutrient") == "mg") & (pl.col("method") == "usual") & (pl.col("domain") == "all")
    ).select(
        "population", "basis", "pct_below_ear", "pct_below_ear_se", "pct_below_rda",
        "pct_below_rda_se",
    )  # fmt: skip
    with pl.Config(tbl_rows=40):
        print(key.sort("basis", "population"))


if __name__ == "__main__":
    main()
