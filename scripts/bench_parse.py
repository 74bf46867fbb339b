"""How long parsing a data dir's fetched XPT files takes, one after another in one process (the
parse a first build needs; ``run`` spreads it over its worker processes as the files land).

    .venv/bin/python scripts/bench_parse.py DATA_DIR

Copies the data dir's XPT files and fetch manifest into a temporary folder without its parquet
cache, parses each through the package's reader (:func:`nhanes_mg.data.read.load_file`: the
XPT reader, the checks, the parquet cache), and prints the files, the seconds and the share
spent inside the XPT reader (:func:`nhanes_mg.data.xpt.read_v5`). With ``--pyreadstat`` it
reads them with pyreadstat instead, as the package did before it had its own reader; with
``--compare`` it also reads every file with pyreadstat and prints how many frames and labels
are the same as the package's (the check ``tests/test_data_xpt.py`` makes on a selection);
with ``--codecs`` it writes and reads the parsed tables of the parquet cache with polars'
default codec (zstd, the cache's) and with lz4, alternately, and prints the seconds, their
ratios and the sizes.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from nhanes_mg.data import read, xpt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--pyreadstat", action="store_true", help="read with pyreadstat")
    parser.add_argument("--compare", action="store_true", help="compare with pyreadstat's")
    parser.add_argument("--codecs", action="store_true", help="the cache's zstd against lz4")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-parse-"))
    try:
        copy = work / "raw"
        shutil.copytree(args.data_dir, copy, ignore=shutil.ignore_patterns(".*"))
        files = read.uncached_tables(copy)
        inside = 0.0
        package_reader = xpt.read_v5
        original = read._read_with_pyreadstat if args.pyreadstat else package_reader

        def timed(*a: object, **k: object) -> object:
            nonlocal inside
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                inside += time.perf_counter() - started

        xpt.read_v5 = timed  # type: ignore[assignment]  # the reader, or pyreadstat in its place
        reader = "pyreadstat" if args.pyreadstat else "nhanes_mg.data.xpt.read_v5"
        started = time.perf_counter()
        for relpath in files:
            read.load_file(copy, relpath)
        seconds = time.perf_counter() - started
        print(f"{len(files)} XPT files parsed in {seconds:.1f} s, one process; "
              f"{inside:.1f} s ({inside / seconds:.0%}) inside {reader}")  # fmt: skip
        if args.compare:
            xpt.read_v5 = package_reader  # type: ignore[assignment]
            same = [relpath for relpath in files if _same_as_pyreadstat(copy / relpath)]
            print(f"{len(same)} of {len(files)} files: the same frame and labels as pyreadstat's")
        if args.codecs:
            _codecs(sorted((copy / ".cache").rglob("*.parquet")), work / "codecs")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _codecs(cached: list[Path], folder: Path, rounds: int = 3) -> None:
    """Write and read every cached table with zstd and with lz4, ``rounds`` times each,
    alternately; print the medians, the ratios and the sizes."""
    import statistics

    import polars as pl

    frames = [pl.read_parquet(p) for p in cached]
    folder.mkdir()
    seconds: dict[str, dict[str, list[float]]] = {}
    sizes: dict[str, int] = {}
    for _ in range(rounds):
        for codec in ("zstd", "lz4"):
            times = seconds.setdefault(codec, {"write": [], "read": []})
            paths = [folder / f"{codec}-{i}.parquet" for i in range(len(frames))]
            started = time.perf_counter()
            for frame, path in zip(frames, paths, strict=True):
                frame.write_parquet(path, compression=codec)  # type: ignore[arg-type]
            times["write"].append(time.perf_counter() - started)
            started = time.perf_counter()
            for path in paths:
                pl.read_parquet(path)
            times["read"].append(time.perf_counter() - started)
            sizes[codec] = sum(path.stat().st_size for path in paths)
    median = {c: {k: statistics.median(v) for k, v in t.items()} for c, t in seconds.items()}
    for codec, m in median.items():
        print(f"{len(frames)} cached tables, {codec}: write {m['write']:.2f} s, read "
              f"{m['read']:.2f} s, {sizes[codec] / 1e6:.0f} MB (medians of {rounds})")  # fmt: skip
    ratio = {k: median["lz4"][k] / median["zstd"][k] for k in ("write", "read")}
    print(f"lz4 / zstd: write {ratio['write']:.2f}, read {ratio['read']:.2f}")


def _same_as_pyreadstat(path: Path) -> bool:
    parsed = xpt.read_v5(path)
    expected, labels = read._read_with_pyreadstat(path)
    return (
        parsed is not None
        and parsed[0].schema == expected.schema
        and parsed[0].equals(expected)
        and parsed[1] == labels
    )


if __name__ == "__main__":
    main()
