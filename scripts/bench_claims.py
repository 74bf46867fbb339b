"""Where a claim's time goes: estimation (`run_spec`) and figures (`write_figures`), per
shipped specification, in one process on a built analytic dataset.

    .venv/bin/python scripts/bench_claims.py outputs/analytic.parquet

Prints seconds per claim and the totals (the worker pool of `run` spreads them over 2 cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import polars as pl

from nhanes_mg.report.figures import write_figures
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.spec import load_shipped_specs


def main() -> None:
    frame = pl.read_parquet(sys.argv[1] if len(sys.argv) > 1 else "outputs/analytic.parquet")
    folder = Path(tempfile.mkdtemp(prefix="nhanes-mg-bench-"))
    totals = [0.0, 0.0, 0]
    print("claim  estimation  figures  (n figures)")
    for spec in load_shipped_specs():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            result = run_spec(spec, frame)
            estimated = time.perf_counter()
            paths = write_figures(result, folder)
            drawn = time.perf_counter()
        totals[0] += estimated - started
        totals[1] += drawn - estimated
        totals[2] += len(paths)
        print(
            f"{spec.id:5}  {estimated - started:8.1f} s  {drawn - estimated:5.1f} s  ({len(paths)})"
        )
    print(f"total  {totals[0]:8.1f} s  {totals[1]:5.1f} s  ({totals[2]})")


if __name__ == "__main__":
    main()
