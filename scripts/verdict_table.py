"""Print the README's table of shipped verdicts from a run's ``tables/verdicts.csv``.

    .venv/bin/python scripts/verdict_table.py [outputs/tables/verdicts.csv]

The README quotes this script's output; numbers are never typed in by hand.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else "outputs/tables/verdicts.csv")
    table = pl.read_csv(path).filter(pl.col("sensitivity").is_null())
    for r in table.iter_rows(named=True):
        cells = [r["claim"], r["row"], r["ours"], f"**{r['verdict']}**", r["robustness"] or ""]
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")


if __name__ == "__main__":
    main()
