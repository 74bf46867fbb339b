"""Where one process's estimation time goes: each shipped claim estimated (``run_spec``) and the
validation gallery's targets (``run_validation``) on an analytic dataset, each with the seconds
of its Tables 1 (``table_one``, one per main analysis, with its Rao–Scott and Wald tests) and
of its usual-intake amount-model fits (``fit_amount_model``, counted); then one
``usual_intake_draws`` call for 2,000 persons × 50 draws (the fastest of 50).

    .venv/bin/python scripts/bench_estimation.py outputs/analytic.parquet [--data-dir data/raw]

``--data-dir``: where the targets that declare their own table columns read them (without it
they are not estimated). ``--against REV`` runs the same with REV's package (a git worktree
beside this one) and this tree's, alternately (taking turns at going first), ``--repeats``
times each, and prints each round and the medians' ratios. ``--fits FILE`` writes every
amount-model fit of a run (λ, ρ, its log-likelihood, whether λ and ρ were borrowed from a
donor) to FILE as JSON, in the order made; ``--compare A B`` prints how two such files differ
(the fits of one process are made in the same order whatever the code, one after another: one
process, replicates included).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import timeit
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench_run import beside, in_turn


def _timed(
    module: Any, name: str, totals: dict[str, float], counts: dict[str, int], key: str
) -> Callable[..., Any]:
    """``module.name`` wrapped to add its seconds and calls to ``totals[key]``/``counts[key]``."""
    original = getattr(module, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.perf_counter() - started
            counts[key] += 1

    setattr(module, name, wrapper)
    return original


def measure(analytic: str, data_dir: str | None, fits_file: str | None) -> dict[str, Any]:
    """Seconds per claim and for the gallery (total, Tables 1, amount fits) in this process."""
    os.environ["NHANES_MG_WORKERS"] = "1"  # the usual-intake replicates in this process
    import polars as pl

    from nhanes_mg.study import models
    from nhanes_mg.study.analyses import run_spec
    from nhanes_mg.study.spec import load_shipped_specs
    from nhanes_mg.study.validation.gallery import run_validation
    from nhanes_mg.usual_intake import calibrate, estimate, model
    from nhanes_mg.usual_intake.distrib import standard_draws, usual_intake_draws

    totals = {"table1": 0.0, "fits": 0.0}
    counts = {"table1": 0, "fits": 0}
    _timed(models, "table_one", totals, counts, "table1")
    fits: list[tuple[float, float, float, bool]] = []
    fit_original = model.fit_amount_model

    def fit_recorded(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        fit = fit_original(*args, **kwargs)
        totals["fits"] += time.perf_counter() - started
        counts["fits"] += 1
        fits.append((fit.lam, fit.rho, fit.loglik, fit.borrowed))
        return fit

    estimate.fit_amount_model = fit_recorded
    calibrate.fit_amount_model = fit_recorded
    frame = pl.read_parquet(analytic)
    rows: dict[str, dict[str, float]] = {}
    jobs: list[tuple[str, Callable[[], object]]] = [
        (spec.id, lambda spec=spec: run_spec(spec, frame)) for spec in load_shipped_specs()
    ]
    jobs.append(("gallery", lambda: run_validation(frame, data_dir=data_dir)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, job in jobs:
            for key in totals:
                totals[key], counts[key] = 0.0, 0
            started = time.perf_counter()
            job()
            rows[name] = {"seconds": time.perf_counter() - started, "table1": totals["table1"],
                          "tables1": counts["table1"], "fits_seconds": totals["fits"],
                          "fits": counts["fits"]}  # fmt: skip
    rng = np.random.default_rng(0)
    n, n_sim, p = 2000, 50, 6
    beta = np.r_[8.0, rng.normal(0, 0.1, p - 1)]
    fit = model.AmountFit(0.23, beta, 0.5, 1.2, tuple("abcdef"), 0.0, n, n)
    weekday = np.c_[np.ones(n), rng.normal(size=(n, p - 2)), np.zeros(n)]
    weekend = weekday.copy()
    weekend[:, -1] = 1.0
    draws = standard_draws(n, n_sim, rng)
    calls = timeit.repeat(
        lambda: usual_intake_draws(fit, weekday, weekend, draws), number=1, repeat=50
    )
    per_call = min(calls)
    if fits_file:
        Path(fits_file).write_text(json.dumps(fits))
    return {"claims": rows, "draws_ms": 1000 * per_call}


def show(result: dict[str, Any], label: str = "") -> None:
    """One line per claim and for the gallery, then the draws' call."""
    head = f"{label}: " if label else ""
    for name, row in result["claims"].items():
        fits = f"amount fits {row['fits_seconds']:5.2f} s ({row['fits']})"
        print(f"{head}{name:>8} {row['seconds']:6.2f} s; Tables 1 {row['table1']:5.2f} s "
              f"({row['tables1']}); {fits}")  # fmt: skip
    total = sum(row["seconds"] for row in result["claims"].values())
    print(f"{head}   total {total:6.2f} s; usual_intake_draws, 2,000 × 50: "
          f"{result['draws_ms']:.2f} ms")  # fmt: skip


def compare(repo: Path, rev: str, analytic: str, data_dir: str | None, repeats: int) -> None:
    """This tree and ``rev``, each in a process of its own, alternately; medians' ratios."""
    with beside(repo, rev) as (_, trees):
        seen: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for round_ in range(repeats):
            for name, source in in_turn(list(trees.items()), round_):
                command = [sys.executable, __file__, analytic, "--json"]
                if data_dir:
                    command += ["--data-dir", data_dir]
                env = {**os.environ, "PYTHONPATH": str(source)}
                done = subprocess.run(command, env=env, check=True, capture_output=True,
                                      text=True)  # fmt: skip
                seen[name].append(json.loads(done.stdout.strip().splitlines()[-1]))
                show(seen[name][-1], name)
        ours, theirs = (seen[name] for name in trees)
        for key in ours[0]["claims"]:
            a = statistics.median(r["claims"][key]["seconds"] for r in ours)
            b = statistics.median(r["claims"][key]["seconds"] for r in theirs)
            print(f"medians, {key}: this tree {a:.2f} s, {rev} {b:.2f} s; ratio {a / b:.2f}")
        a = statistics.median(sum(c["seconds"] for c in r["claims"].values()) for r in ours)
        b = statistics.median(sum(c["seconds"] for c in r["claims"].values()) for r in theirs)
        print(f"medians, all: this tree {a:.2f} s, {rev} {b:.2f} s; ratio {a / b:.2f}")


def compare_fits(first: str, second: str) -> None:
    """How two files of ``--fits`` differ: λ, log ρ, and the log-likelihood of the fits whose
    λ and ρ are their own (a borrowed pair is its donor's: its likelihood is not maximised)."""
    a, b = (json.loads(Path(p).read_text()) for p in (first, second))
    if len(a) != len(b):
        sys.exit(f"{len(a)} fits against {len(b)}: not the same runs")
    own = [(x, y) for x, y in zip(a, b, strict=True) if not x[3]]
    print(f"{len(a)} fits, {len(own)} with their own λ and ρ")
    pairs = list(zip(a, b, strict=True))
    d_lam = max(abs(x[0] - y[0]) for x, y in pairs)
    d_rho = max(abs(math.log(x[1]) - math.log(y[1])) for x, y in pairs)
    print(f"largest |Δλ| {d_lam:.2e}, largest |Δ log ρ| {d_rho:.2e}")
    gains = [y[2] - x[2] for x, y in own]
    print(f"log-likelihood, second minus first: from {min(gains):.2e} to {max(gains):.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("analytic", nargs="?", default="outputs/analytic.parquet")
    parser.add_argument("--data-dir")
    parser.add_argument("--against")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--fits")
    parser.add_argument("--compare", nargs=2)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compare:
        compare_fits(*args.compare)
    elif args.against:
        repo = Path(__file__).resolve().parent.parent
        compare(repo, args.against, args.analytic, args.data_dir, args.repeats)
    else:
        result = measure(args.analytic, args.data_dir, args.fits)
        if args.json:
            print(json.dumps(result))
        else:
            show(result)


if __name__ == "__main__":
    main()
