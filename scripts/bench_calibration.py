"""One regression-calibrated logistic model with its replicate chain, against the same model
on the recalls: deficiency (25(OH)D < 30 nmol/L) on total Mg intake per 100 mg/day (two-day
mean, food + supplements), C4's covariates, adults, NHANES 2007-2010, in one process.

    .venv/bin/python scripts/bench_calibration.py outputs/analytic.parquet

Prints the seconds of each, the number of Fay-BRR replicates, and both odds ratios with the
attenuation factor λ (the naive log odds ratio over the calibrated one).
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from dataclasses import replace

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.spec import load_shipped_specs
from nhanes_mg.study.spec_types import ModelAnalysis
from nhanes_mg.usual_intake.replicates import replicate_design


def main() -> None:
    frame = pl.read_parquet(sys.argv[1] if len(sys.argv) > 1 else "outputs/analytic.parquet")
    c4 = next(s for s in load_shipped_specs() if s.id == "C4")
    base = c4.analysis("deficiency_interaction")
    assert isinstance(base, ModelAnalysis)
    naive = replace(base, name="per100", modifier=None, modifier_labels=None, compare=None,
                    cycles=catalog.parse_cycles("2007-2010"))  # fmt: skip
    calibrated = replace(naive, exposure_error="regression_calibration", sensitivity="rc")
    estimates = {}
    for label, analysis in (("naive", naive), ("calibrated", calibrated)):
        spec = replace(c4, analyses=(replace(analysis, sensitivity=None),), sensitivities=(),
                       statements=(), verdict=None)  # fmt: skip
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            started = time.perf_counter()
            result = run_spec(spec, frame)
            seconds = time.perf_counter() - started
        row = result.table.filter(pl.col("role") == "estimate").row(0, named=True)
        estimates[label] = row["estimate"]
        print(
            f"{label:10s} {seconds:6.1f} s   OR {row['estimate']:.3f} "
            f"({row['conf_low']:.3f}–{row['conf_high']:.3f}), n {row['n']}, df {row['df']:.0f}"
        )
    lam = math.log(estimates["naive"]) / math.log(estimates["calibrated"])
    rows = frame.filter(pl.col("cycle").cast(pl.String).is_in(["2007-2008", "2009-2010"]))
    replicates = replicate_design(
        rows["sdmvstra"].to_numpy(), rows["sdmvpsu"].to_numpy(),
        rows["wt_diet2"].fill_null(0.0).to_numpy(),
    ).n_replicates  # fmt: skip
    print(f"attenuation factor λ = {lam:.3f}; {replicates} Fay-BRR replicates of the chain")


if __name__ == "__main__":
    main()
