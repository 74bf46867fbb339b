"""Print the README's validation-gallery table from a gallery CSV (tables/validation.csv).

Usage: python scripts/gallery_table.py OUT/tables/validation.csv

Prints the status counts line and one markdown row per target: published value as printed
(with its SE or CI), ours with its 95% CI, the status. Numbers come from the CSV only.
"""

from __future__ import annotations

import sys

import polars as pl

from nhanes_mg.study.validation import STATUSES


def _num(x: float, unit: str) -> str:
    digits = 0 if unit == "mg/day" else (2 if unit in RATIOS else 1)
    return f"{x:.{digits}f}".replace("-", "−")


def _unit(unit: str) -> str:
    """The unit after a value or an interval ("%" glued to it; ratios have none)."""
    return "%" if unit == "%" else ("" if unit in RATIOS or not unit else f" {unit}")


RATIOS = ("hazard ratio", "odds ratio")


def main(path: str) -> None:
    table = pl.read_csv(path).sort("id")
    counts = ", ".join(f"{(table['status'] == s).sum()} {s}" for s in STATUSES)
    print(f"**{counts}** (of {table.height})\n")
    print("| target | published | ours (95% CI) | n (source's) | status |")
    print("| --- | --- | --- | --- | --- |")
    for r in table.iter_rows(named=True):
        unit = r["unit"] or ""
        pub = f"{r['published']:g}{_unit(unit)}"
        if r["published_se"] is not None:
            pub += f" (SE {r['published_se']:g})"
        elif r["published_low"] is not None:
            pub += f" ({r['published_low']:g}–{r['published_high']:g})"
        ours = "—"
        if r["ours"] is not None:
            low, high = _num(r["our_low"], unit), _num(r["our_high"], unit)
            ours = f"{_num(r['ours'], unit)}{_unit(unit)} ({low}–{high})"
        n = f"{r['n']:,}" if r["n"] is not None else "—"
        if r["published_n"] is not None:
            n += f" ({r['published_n']:,})"
        source = str(r["source"]).split(",")[0]
        print(f"| {r['id']} {r['label']} ({source}) | {pub} | {ours} | {n} | {r['status']} |")


if __name__ == "__main__":
    main(sys.argv[1])
