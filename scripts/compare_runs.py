"""Compare two `nhanes-mg run` output folders file by file (the byte-identity check of a
refactor): prints each file that differs — for a table, how many of its rows are not in the
other, and whether the two hold the same rows in another order; for a CSV table of the same
shape whose text is the same but for its numbers, the largest relative difference of a number
and its column (a change that moves estimates by rounding, or by an iteration's tolerance).

    .venv/bin/python scripts/compare_runs.py BEFORE_OUT AFTER_OUT
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    args = parser.parse_args()
    names = sorted(
        {str(p.relative_to(root)) for root in (args.before, args.after) for p in root.rglob("*")
         if p.is_file()}
    )  # fmt: skip
    differing = 0
    for name in names:
        a, b = args.before / name, args.after / name
        if not a.exists() or not b.exists():
            print(f"{name}: only in {'after' if b.exists() else 'before'}")
            differing += 1
            continue
        if a.read_bytes() == b.read_bytes():
            continue
        differing += 1
        if name.endswith((".csv", ".md", ".json", ".html")):
            rows_a = Counter(a.read_text(encoding="utf-8").splitlines())
            rows_b = Counter(b.read_text(encoding="utf-8").splitlines())
            if rows_a == rows_b:
                print(f"{name}: the same rows in another order")
            else:
                print(f"{name}: {sum((rows_a - rows_b).values())} row(s) before not after, "
                      f"{sum((rows_b - rows_a).values())} after not before")  # fmt: skip
                if name.endswith(".csv"):
                    print(f"  {_numbers(a, b)}")
        else:
            print(f"{name}: binary content differs")
    print(f"{len(names)} files, {differing} differ")
    return 0


def _numbers(a: Path, b: Path) -> str:
    """How two CSV tables of one shape differ: only in numbers (the largest relative
    difference, its column), or in text as well."""
    import polars as pl  # lazy: only for tables that differ

    before, after = (pl.read_csv(p, infer_schema_length=None) for p in (a, b))
    if before.columns != after.columns or before.shape != after.shape:
        return "not the same columns and rows"
    worst, where = 0.0, ""
    for column in before.columns:
        x, y = before[column], after[column]
        if x.dtype.is_numeric() and y.dtype.is_numeric():
            x, y = x.cast(pl.Float64), y.cast(pl.Float64)
            if not (x.is_null() == y.is_null()).all() or not (x.is_nan() == y.is_nan()).all():
                return f"numbers missing in one and not the other (column {column})"
            both = pl.DataFrame({"x": x, "y": y}).drop_nulls().filter(~pl.col("x").is_nan())
            scale = pl.max_horizontal(pl.col("x").abs(), pl.lit(1e-300))
            relative = both.select(((pl.col("x") - pl.col("y")).abs() / scale).max()).item()
            if relative is not None and relative > worst:
                worst, where = float(relative), column
        elif not x.equals(y):
            return f"text differs too (column {column})"
    return f"only numbers differ: largest relative difference {worst:.1e} (column {where})"


if __name__ == "__main__":
    sys.exit(main())
