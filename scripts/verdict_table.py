"""Print the README's table of shipped verdicts from a run's ``tables/verdicts.csv``.

    .venv/bin/python scripts/verdict_table.py [outputs/tables/verdicts.csv]

One line per judged statement (its main row): the claim, the statement, the row it reads, our
estimate, its own comparator, the verdict and the specification curve in words. The README
quotes this script's output; numbers are never typed in by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/tables/verdicts.csv")
    table = pl.read_csv(path).filter(pl.col("main"))
    for r in table.iter_rows(named=True):
        curve = "; ".join(x for x in (r["curve"], r["caution"]) if x)
        cells = [
            r["claim"],
            r["statement"] or "",
            f"{r['analysis']}, {r['row']}",
            r["ours"],
            r["comparator"] or "—",
            f"**{r['verdict']}**",
            curve,
        ]
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")


if __name__ == "__main__":
    main()
