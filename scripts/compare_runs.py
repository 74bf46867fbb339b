"""Compare two `nhanes-mg run` output folders file by file (the byte-identity check of a
refactor): prints each file that differs — for a table, how many of its rows are not in the
other, and whether the two hold the same rows in another order.

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
        else:
            print(f"{name}: binary content differs")
    print(f"{len(names)} files, {differing} differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
