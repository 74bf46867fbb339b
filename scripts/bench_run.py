"""Benchmark of the main job: `nhanes-mg run` on the real mirror, cold and warm, with peak memory.

Cold: an empty data dir (fetch from the mirror archive, every XPT parsed). Warm: the same data
dir again (files present, parsed-table cache in place). Each run is a fresh process; peak RSS is
the child's maximum resident set size. Prints the figures and their ratio to the goals
(cold < 90 s, warm < 20 s, peak RSS < 2 GB on a 2-core machine).

    .venv/bin/python scripts/bench_run.py [--mirror ../shared/nhanes]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOALS = {"cold": 90.0, "warm": 20.0}
RSS_GOAL_GB = 2.0


def run_once(mirror: str, data_dir: Path, out_dir: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one `nhanes-mg run` in its own process."""
    cmd = [sys.executable, "-m", "nhanes_mg", "run", "--mirror", mirror,
           "--data-dir", str(data_dir), "--out", str(out_dir)]  # fmt: skip
    # a wrapper process per run, so RUSAGE_CHILDREN holds that run's peak alone
    wrapper = (
        "import resource, subprocess, sys;"
        f"subprocess.run({cmd!r}, check=True, stdout=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          check=True)  # fmt: skip
    seconds = time.perf_counter() - started
    peak_kb = int(done.stdout.strip().splitlines()[-1])
    return seconds, peak_kb / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--mirror", default=str(repo.parent / "shared" / "nhanes"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-bench-"))
    try:
        data_dir, out_dir = work / "raw", work / "outputs"
        print(f"nhanes-mg run on {args.mirror} ({os.cpu_count()} cores)")
        for label in ("cold", "warm"):
            seconds, peak = run_once(args.mirror, data_dir, out_dir)
            goal = GOALS[label]
            print(f"{label:>4}: {seconds:6.1f} s  (goal < {goal:.0f} s: ratio {seconds / goal:.2f})"
                  f"   peak RSS {peak:.2f} GB (goal < {RSS_GOAL_GB:.0f} GB: ratio "
                  f"{peak / RSS_GOAL_GB:.2f})")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
