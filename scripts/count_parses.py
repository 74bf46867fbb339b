"""How often a specification's expressions are parsed while it runs: every call of sqlglot's
parser and of polars' SQL expression parser is counted, by the text parsed.

    .venv/bin/python scripts/count_parses.py --data-dir DATA_DIR [--spec C3]

Builds the analytic dataset from DATA_DIR (a data dir fetched from the mirror), then loads
and runs the specification as a `run` worker does, and prints, for its population, the
number of parses of that text (and of texts that contain it: combined populations), then
the totals.
"""

from __future__ import annotations

import argparse
import warnings
from collections import Counter
from pathlib import Path

import polars as pl
import sqlglot

from nhanes_mg import derive
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.spec import load_shipped_specs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--spec", default="C3")
    args = parser.parse_args()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = derive.build_analytic(args.data_dir).frame
    counts: Counter[tuple[str, str]] = Counter()
    real_sqlglot, real_polars = sqlglot.parse_one, pl.sql_expr

    def counted_sqlglot(sql: str, *a: object, **k: object) -> object:
        counts["sqlglot", str(sql)] += 1
        return real_sqlglot(sql, *a, **k)  # type: ignore[arg-type]

    def counted_polars(sql: object, *a: object, **k: object) -> object:
        counts["polars", str(sql)] += 1
        return real_polars(sql, *a, **k)  # type: ignore[arg-type]

    sqlglot.parse_one = counted_sqlglot  # type: ignore[assignment]
    pl.sql_expr = counted_polars  # type: ignore[assignment]
    try:  # from reading the specification to its last table row
        spec = next(s for s in load_shipped_specs() if s.id == args.spec)
        result = run_spec(spec, frame, [])
    finally:
        sqlglot.parse_one, pl.sql_expr = real_sqlglot, real_polars  # type: ignore[assignment]
    population = spec.population
    print(f"{spec.id}: {len(result.table)} table rows; population {population!r}")
    for parser_name in ("sqlglot", "polars"):
        own = counts[parser_name, population]
        within = sum(n for (p, t), n in counts.items() if p == parser_name and population in t)
        total = sum(n for (p, _), n in counts.items() if p == parser_name)
        distinct = sum(1 for (p, _) in counts if p == parser_name)
        print(
            f"  {parser_name:8s} the population's text {own:4d} times; texts holding it "
            f"{within:4d}; all parses {total:5d} of {distinct} distinct texts"
        )


if __name__ == "__main__":
    main()
