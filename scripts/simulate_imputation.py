"""Multiple imputation by simulation (the design of tests/test_imputation.py: a covariate
missing at random given the outcome, true slope 2): the mean complete-case and imputed slopes
over 8 samples of 3,000, the fraction of missing information, and the time of one
imputation run the size of a model analysis (20,000 rows, three variables, m = 20).

    .venv/bin/python scripts/simulate_imputation.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from nhanes_mg.study.imputation import impute
from nhanes_mg.survey import SurveyDesign, micombine, svyglm
from test_imputation import _simulate, _slope


def main() -> None:
    rng = np.random.default_rng(5)
    rows = []
    for i in range(8):
        frame = _simulate(rng)
        imps = impute(frame, ["x"], predictors=["y", "z"], weight="w", m=10, seed=i)
        fits = [
            svyglm("y ~ x + z", SurveyDesign(f, strata="sdmvstra", psu="sdmvpsu", weights="w"))
            for f in imps.frames
        ]
        combined = micombine(fits)
        assert combined.missing_information is not None
        rows.append((_slope(frame), combined.coef["x"], combined.missing_information[1]))
    cc, mi, fmi = np.array(rows).mean(axis=0)
    print(f"true slope 2: complete-case {cc:.3f}, imputed {mi:.3f} (m = 10); "
          f"missing information {fmi:.2f}")  # fmt: skip
    big = pl.concat([_simulate(np.random.default_rng(k), 2000) for k in range(10)])
    big = big.with_columns(z2=pl.when(pl.col("y") > 4).then(None).otherwise(pl.col("z")))
    started = time.perf_counter()
    imps = impute(big, ["x", "group", "z2"], predictors=["y"], weight="w", m=20, seed=1)
    seconds = time.perf_counter() - started
    print(f"impute: {big.height} rows, {imps.counts} missing, m = 20: {seconds:.1f} s")


if __name__ == "__main__":
    main()
