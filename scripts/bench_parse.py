"""How long parsing a data dir's fetched XPT files takes, one after another in one process (the
parse a first build needs; ``run`` spreads it over its worker processes as the files land).

    .venv/bin/python scripts/bench_parse.py DATA_DIR

Copies the data dir's XPT files and fetch manifest into a temporary folder without its parquet
cache, parses each through the package's reader (:func:`nhanes_mg.data.read.load_file`: the
XPT reader, the checks, the parquet cache), and prints the files, the seconds and the share
spent inside pyreadstat.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import pyreadstat

from nhanes_mg.data import read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-parse-"))
    try:
        copy = work / "raw"
        shutil.copytree(args.data_dir, copy, ignore=shutil.ignore_patterns(".*"))
        files = read.uncached_tables(copy)
        inside = 0.0
        original = pyreadstat.read_xport

        def timed(*a: object, **k: object) -> object:
            nonlocal inside
            started = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                inside += time.perf_counter() - started

        pyreadstat.read_xport = timed  # type: ignore[assignment]
        started = time.perf_counter()
        for relpath in files:
            read.load_file(copy, relpath)
        seconds = time.perf_counter() - started
        print(f"{len(files)} XPT files parsed in {seconds:.1f} s, one process; "
              f"{inside:.1f} s ({inside / seconds:.0%}) inside pyreadstat.read_xport")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
