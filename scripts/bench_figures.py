"""How long drawing one claim's figures takes, in one process, with text handed to plotnine as
Python str (as the package does) and as pandas 3's default pyarrow-backed text.

    .venv/bin/python scripts/bench_figures.py outputs/analytic.parquet [C3] [--repeats 5]

Estimates the claim once, draws its figures once to warm plotnine up, then draws them
``--repeats`` times each way, alternating, and prints the fastest and median seconds of each
way, their ratio, and whether the PNGs are the same bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analytic", type=Path)
    parser.add_argument("claim", nargs="?", default="C3")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    frame = pl.read_parquet(args.analytic)
    spec = next(s for s in load_shipped_specs() if s.id == args.claim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the estimates' own warnings: not what is measured
        result = run_spec(spec, frame)
    folders = {way: Path(tempfile.mkdtemp(prefix=f"nhanes-mg-{way}-")) for way in ("str", "arrow")}
    seconds: dict[str, list[float]] = {"str": [], "arrow": []}
    paths = figures.write_figures(result, folders["str"])  # warm-up: fonts, caches
    for _ in range(args.repeats):
        for way in seconds:
            started = time.perf_counter()
            with _pyarrow_text() if way == "arrow" else contextlib.nullcontext():
                figures.write_figures(result, folders[way])
            seconds[way].append(time.perf_counter() - started)
    same = all(
        (folders["str"] / p.name).read_bytes() == (folders["arrow"] / p.name).read_bytes()
        for p in paths
    )
    for way, label in (("str", "text as Python str"), ("arrow", "text as pyarrow (pandas 3)")):
        print(f"{args.claim}, {len(paths)} figures, {label}: fastest {min(seconds[way]):.2f} s, "
              f"median {statistics.median(seconds[way]):.2f} s")  # fmt: skip
    ratio = statistics.median(seconds["arrow"]) / statistics.median(seconds["str"])
    print(f"pyarrow text / str text (medians): {ratio:.2f}; PNGs the same bytes: {same}")


if __name__ == "__main__":
    main()
