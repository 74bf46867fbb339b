"""How long drawing one claim's figures takes, in one process: as the package draws them, with
text handed to plotnine as pandas 3's default pyarrow-backed text instead of Python str, and
saved by matplotlib's ``savefig`` (which draws each figure twice) instead of Agg's
``print_png`` (once), and with Python's cyclic garbage collector on while a figure is drawn.

    .venv/bin/python scripts/bench_figures.py outputs/analytic.parquet [C3] [--repeats 5]

Estimates the claim once, draws its figures once to warm plotnine up, then draws them
``--repeats`` times each way, in turn (each round starting with another way), and prints
the fastest and median seconds of each way, each other way's ratio to the package's, and
whether its PNGs are the same bytes.

With ``--each`` it estimates every shipped claim and draws each of its figures alone (the
fastest of two), printing its seconds beside the estimate that shares a claim's figures among
the workers (:func:`nhanes_mg.report.figure_plan.figure_shares`), and each claim's two shares
as they are drawn:

    .venv/bin/python scripts/bench_figures.py outputs/analytic.parquet --each

With ``--against REV`` it draws every shipped claim's figures (estimated once, by this tree)
with this tree's figure code and with REV's (checked out beside it), each in a process of its
own, alternately ``--repeats`` times each (taking turns at going first), and prints each round,
the medians and their ratio:

    .venv/bin/python scripts/bench_figures.py outputs/analytic.parquet --against c0f1361
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import polars as pl

from nhanes_mg import figure_files
from nhanes_mg.report import figures
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.spec import load_shipped_specs


@contextlib.contextmanager
def _pyarrow_text() -> Iterator[None]:
    """The package's two conversions undone: text stays as pandas 3 makes it."""
    kept = figure_files.plot_data, figure_files._text_as_objects
    figure_files._text_as_objects = contextlib.nullcontext  # type: ignore[assignment]
    for module in (figures, figures.figure_curves):
        module.plot_data = lambda data: (  # type: ignore[attr-defined]
            data.to_pandas() if hasattr(data, "to_pandas") else _pandas(data)
        )
    try:
        yield
    finally:
        figure_files._text_as_objects = kept[1]  # type: ignore[method-assign]
        for module in (figures, figures.figure_curves):
            module.plot_data = kept[0]  # type: ignore[attr-defined]


def _pandas(data: object) -> object:
    import pandas as pd

    return pd.DataFrame(data)


@contextlib.contextmanager
def _savefig() -> Iterator[None]:
    """Each figure saved as plotnine's ``save`` saves it (``Figure.savefig``)."""
    kept = figure_files.save_png

    def save_png(plot: object, path: Path) -> None:
        def save(target: Path) -> None:
            with (
                warnings.catch_warnings(),
                figure_files._text_as_objects(),
                figure_files.cycle_collector_paused(),
            ):
                warnings.simplefilter("ignore")
                import matplotlib

                with matplotlib.rc_context({"text.parse_math": False}):
                    plot.save(target, format="png", dpi=figure_files.DPI, verbose=False)  # type: ignore[attr-defined]

        figure_files.atomic_write(path, save)

    for module in (figure_files, figures):
        module.save_png = save_png  # type: ignore[assignment]
    try:
        yield
    finally:
        for module in (figure_files, figures):
            module.save_png = kept  # type: ignore[assignment]


@contextlib.contextmanager
def _collector_on() -> Iterator[None]:
    """The cyclic garbage collector left on while each figure is drawn."""
    kept = figure_files.cycle_collector_paused
    figure_files.cycle_collector_paused = contextlib.nullcontext  # type: ignore[assignment]
    try:
        yield
    finally:
        figure_files.cycle_collector_paused = kept  # type: ignore[method-assign]


WAYS = {
    "package": ("as the package draws them", contextlib.nullcontext),
    "arrow": ("text as pyarrow (pandas 3)", _pyarrow_text),
    "savefig": ("saved by Figure.savefig", _savefig),
    "collector": ("cyclic garbage collector on", _collector_on),
}


# a drawing process of --against: every claim's figures from the documents in argv[1], twice
# (the first to warm plotnine up), with whichever figure code PYTHONPATH puts first
DRAW_ALL = """
import json, sys, tempfile, time
from pathlib import Path
import polars as pl
from nhanes_mg.report.figures import write_figures
from nhanes_mg.study.results import result_from_document
from nhanes_mg.study.spec import load_shipped_specs
root, results = Path(sys.argv[1]), []
for spec in load_shipped_specs():
    frames = {p.name.split("__", 1)[1].removesuffix(".parquet"): pl.read_parquet(p)
              for p in root.glob(f"{spec.id}__*.parquet")}
    document = json.loads((root / f"{spec.id}.json").read_text())
    results.append(result_from_document(spec, document, frames))
folder = Path(tempfile.mkdtemp())
for result in results:
    write_figures(result, folder)
started = time.perf_counter()
count = sum(len(write_figures(result, folder)) for result in results)
print(time.perf_counter() - started, count)
"""


def compare_all(frame: pl.DataFrame, rev: str, repeats: int) -> None:
    """Every claim's figures drawn by this tree and by ``rev``, alternately."""
    # scripts/: one way to check a commit out beside this tree, and to take turns
    from bench_run import beside, in_turn
    from nhanes_mg.study.results import result_document

    repo = Path(__file__).resolve().parents[1]
    with beside(repo, rev) as (work, trees):
        documents = work / "results"
        documents.mkdir()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for spec in load_shipped_specs():
                data, frames = result_document(run_spec(spec, frame))
                (documents / f"{spec.id}.json").write_text(json.dumps(data))
                for name, table in frames.items():
                    table.write_parquet(documents / f"{spec.id}__{name}.parquet")
        seconds: dict[str, list[float]] = {name: [] for name in trees}
        for round_ in range(repeats):
            for name, source in in_turn(list(trees.items()), round_):
                env = {**os.environ, "PYTHONPATH": str(source), "OPENBLAS_NUM_THREADS": "1"}
                command = [sys.executable, "-c", DRAW_ALL, str(documents)]
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
                taken, count = done.stdout.split()
                seconds[name].append(float(taken))
                print(f"{name:>12}: {count} figures in {float(taken):.2f} s")
        ours, theirs = (statistics.median(seconds[name]) for name in trees)
        print(f"medians: this tree {ours:.2f} s, {rev} {theirs:.2f} s; ratio {ours / theirs:.2f}")


def each_figure(frame: pl.DataFrame) -> None:
    """Every shipped figure drawn alone: its seconds beside the sharing's estimate."""
    from nhanes_mg.report.figure_plan import figure_plan, figure_seconds, figure_shares

    folder = Path(tempfile.mkdtemp(prefix="nhanes-mg-each-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = [run_spec(spec, frame) for spec in load_shipped_specs()]
    figures.write_figures(results[0], folder)  # warm-up: fonts, caches
    for result in results:
        planned = figure_plan(result)
        alone = figure_shares(planned, len(planned))  # as many shares as figures: one each
        seconds = []
        for k, figure in enumerate(planned):
            best = math.inf
            for _ in range(2):
                started = time.perf_counter()
                figures.write_figures(result, folder, share=(alone[k], len(planned)))
                best = min(best, time.perf_counter() - started)
            seconds.append(best)
            panels = len(figure.analyses)
            print(f"{figure.name:28s} {panels:2d} panels  {best:5.2f} s  "
                  f"(estimate {figure_seconds(figure):.2f} s)")  # fmt: skip
        shares = figure_shares(planned, 2)
        drawn = [sum(s for s, k in zip(seconds, shares, strict=True) if k == j) for j in (0, 1)]
        print(f"{result.spec.id}: two shares {drawn[0]:.2f} s and {drawn[1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analytic", type=Path)
    parser.add_argument("claim", nargs="?", default="C3")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--against", metavar="REV", help="every claim's figures, against REV's")
    parser.add_argument("--each", action="store_true", help="each shipped figure's seconds")
    args = parser.parse_args()
    frame = pl.read_parquet(args.analytic)
    if args.each:
        each_figure(frame)
        return
    if args.against:
        compare_all(frame, args.against, args.repeats)
        return
    spec = next(s for s in load_shipped_specs() if s.id == args.claim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimates' own warnings: not what is measured
        result = run_spec(spec, frame)
    folders = {way: Path(tempfile.mkdtemp(prefix=f"nhanes-mg-{way}-")) for way in WAYS}
    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    paths = figures.write_figures(result, folders["package"])  # warm-up: fonts, caches
    order = list(WAYS)
    for repeat in range(args.repeats):
        # each round in another order: a way is not always the one after the same other
        for way in order[repeat % len(order) :] + order[: repeat % len(order)]:
            patched = WAYS[way][1]
            started = time.perf_counter()
            with patched():
                figures.write_figures(result, folders[way])
            seconds[way].append(time.perf_counter() - started)
    base = statistics.median(seconds["package"])
    for way, (label, _) in WAYS.items():
        line = (f"{args.claim}, {len(paths)} figures, {label}: fastest {min(seconds[way]):.2f} s, "
                f"median {statistics.median(seconds[way]):.2f} s")  # fmt: skip
        if way != "package":
            same = all(
                (folders["package"] / p.name).read_bytes() == (folders[way] / p.name).read_bytes()
                for p in paths
            )
            ratio = statistics.median(seconds[way]) / base
            line += f"; / the package's (medians): {ratio:.2f}; PNGs the same bytes: {same}"
        print(line)


if __name__ == "__main__":
    main()
