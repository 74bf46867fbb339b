"""Each analysis beside its imputed and its calibrated sensitivity analysis, from a run's
tables: the estimate rows (and stratum effects) of the main analysis, complete-case on the
recalls, next to the same rows multiply imputed or regression-calibrated, with who was
imputed.

    .venv/bin/python scripts/sensitivity_pairs.py OUT_DIR [imputed calibrated]
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl


def _ci(row: dict[str, object]) -> str:
    return f"{row['estimate']:.2f} ({row['conf_low']:.2f}–{row['conf_high']:.2f})"


def main() -> None:
    out = Path(sys.argv[1])
    kinds = sys.argv[2:] or ["imputed", "calibrated"]
    for table_path in sorted((out / "tables").glob("C?.csv")):
        spec_id = table_path.stem
        table = pl.read_csv(table_path).filter(pl.col("role").is_in(["estimate", "stratum effect"]))
        fits = pl.read_csv(out / "tables" / f"{spec_id}_fits.csv")
        for kind in kinds:
            variant = table.filter(pl.col("sensitivity") == kind)
            for analysis in variant["analysis"].unique(maintain_order=True):
                main_rows = table.filter(
                    (pl.col("analysis") == analysis) & pl.col("sensitivity").is_null()
                )
                pairs = main_rows.join(
                    variant.filter(pl.col("analysis") == analysis),
                    on=["term", "stratum"], how="inner", nulls_equal=True,
                )  # fmt: skip
                for row in pairs.iter_rows(named=True):
                    right = {k.removesuffix("_right"): v for k, v in row.items()}
                    where = f" [{row['stratum']}]" if row["stratum"] else ""
                    print(f"{spec_id} {analysis} {row['term']}{where}: complete case / recalls "
                          f"{_ci(row)} (n {row['n']:,}) vs {kind} {_ci(right)} "
                          f"(n {row['n_right']:,})")  # fmt: skip
                info = fits.filter(
                    (pl.col("analysis") == analysis) & (pl.col("sensitivity") == kind)
                )
                if kind == "imputed" and info.height and info["imputed"][0]:
                    print(f"    {info['imputed'][0]}")


if __name__ == "__main__":
    main()
