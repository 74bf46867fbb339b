"""Print the README's validation-gallery table from a gallery CSV (tables/validation.csv).

Usage: python scripts/gallery_table.py OUT/tables/validation.csv

Prints the status counts line and one markdown row per target: the published value as printed
(with its SE or CI), ours with its 95% CI — both as the report's gallery section writes them
(:func:`nhanes_mg.report.validation_section.rows`) — our n beside the source's, the status.
Numbers come from the CSV only.
"""

from __future__ import annotations

import re
import sys

import polars as pl

from nhanes_mg.report.validation_section import counts, rows


def main(path: str) -> None:
    table = pl.read_csv(path).sort("id")
    print(f"**{counts(table).replace(' (of', '** (of').replace(' targets)', ')')}\n")
    print("| target | published | ours (95% CI) | n (source's) | status |")
    print("| --- | --- | --- | --- | --- |")
    for r, cells in zip(table.iter_rows(named=True), rows(table), strict=True):
        n = f"{r['n']:,}" if r["n"] is not None else "—"
        if r["published_n"] is not None:
            n += f" ({r['published_n']:,})"
        source = re.split(r",| \(", str(r["source"]))[0]  # the source's name, not its table
        print(
            f"| {r['id']} {r['label']} ({source}) | {cells[3]} | {cells[4]} | {n} | {r['status']} |"
        )


if __name__ == "__main__":
    main(sys.argv[1])
