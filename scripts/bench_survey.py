"""Benchmark nhanes_mg.survey against R's survey on the same real NHANES data, in one run.

Usage::

    .venv/bin/python scripts/bench_survey.py [--mirror DIR] [--reps N]

The mirror is ``--mirror`` or ``$NHANES_MG_MIRROR`` (an unpacked NHANES mirror). The script
builds the two model datasets (the golden-test datasets of tests/survey), writes them to a
temporary folder, fits each model ``N`` times here and in R (``Rscript scripts/bench_survey.R``),
checks that coefficients and SEs agree and prints the median time per fit and the ratio.

- logistic svyglm: 25(OH)D < 50 nmol/L on magnesium category, age, sex, race/ethnicity,
  education, BMI, PIR, energy, calcium and cycle (20 coefficients), adults of 2001-2006 with a
  reliable day-1 recall, day-1 dietary weights / 3.
- svycoxph (Efron): all-cause mortality (2015 linkage, follow-up from the exam) on age, sex,
  race/ethnicity, BMI and 25(OH)D, adults of 2003-2006, MEC weights / 2.

Both sides run single-threaded BLAS (R's reference BLAS is single-threaded; numpy's OpenBLAS is
limited to one thread here for a like-for-like comparison: the matrices are small).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "survey"))

from nhanes_mg.survey import SurveyDesign, svycoxph, svyglm  # noqa: E402

import golden_data  # noqa: E402

LOGIT = "vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 + cycle"
COX = "Surv(months, died) ~ age + sex + race + bmi + vitd10"
REF = {"race": "3"}


def r_name(term: str) -> str:
    return golden_data.r_name(term)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("NHANES_MG_MIRROR"))
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args()
    if not args.mirror:
        parser.error("give --mirror DIR or set NHANES_MG_MIRROR")
    mirror = Path(args.mirror)
    if (mirror / "nhanes-mirror").is_dir():
        mirror = mirror / "nhanes-mirror"
    if shutil.which("Rscript") is None:
        print("Rscript not found: install r-base-core r-cran-survey", file=sys.stderr)
        return 2

    pooled = golden_data.pooled_2001_2006(mirror).with_columns(
        w=pl.col("wt_diet1") / 3,
        in_domain=((pl.col("age") >= 20) & (pl.col("drstz") == 1)).cast(pl.Int64),
    )
    mort = golden_data.mortality_2003_2006(mirror).with_columns(
        w=pl.col("wt_mec") / 2,
        in_domain=((pl.col("age") >= 20) & pl.col("eligible")).cast(pl.Int64),
    )
    glm_design = SurveyDesign(
        pooled, strata="sdmvstra", psu="sdmvpsu", weights="w", allow_zero_weights=True
    ).subset(pl.col("in_domain") == 1)
    cox_design = SurveyDesign(mort, strata="sdmvstra", psu="sdmvpsu", weights="w").subset(
        pl.col("in_domain") == 1
    )

    py_times: dict[str, list[float]] = {"svyglm_logistic": [], "svycoxph_efron": []}
    fits = {}
    for _ in range(args.reps):
        t0 = time.perf_counter()
        fits["svyglm_logistic"] = svyglm(LOGIT, glm_design, family="quasibinomial", reference=REF)
        py_times["svyglm_logistic"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        fits["svycoxph_efron"] = svycoxph(COX, cox_design, reference=REF)
        py_times["svycoxph_efron"].append(time.perf_counter() - t0)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        design_cols = ["sdmvstra", "sdmvpsu", "w", "in_domain"]
        glm_cols = ["vitd_lt50", "mg_cat", "age", "sex", "race", "educ", "bmi", "pir"]
        glm_cols += ["kcal1000", "ca100", "cycle"]
        cox_cols = ["months", "died", "age", "sex", "race", "bmi", "vitd10"]
        pooled.select(design_cols + glm_cols).write_csv(work / "glm.csv")
        mort.select(design_cols + cox_cols).write_csv(work / "cox.csv")
        subprocess.run(
            ["Rscript", str(REPO / "scripts" / "bench_survey.R"), str(work), str(args.reps)],
            check=True,
        )
        r_res = pl.read_csv(work / "r_results.csv", infer_schema_length=0)
        r_times = pl.read_csv(work / "r_times.csv")

    print(f"\nnhanes_mg.survey vs R survey, median of {args.reps} fits each (seconds per fit)")
    print(f"{'model':<18}{'n':>7}{'coefs':>7}{'python':>10}{'R':>10}{'R/python':>10}"
          f"{'max rel diff coef':>19}{'max rel diff SE':>17}")  # fmt: skip
    ok = True
    for model, fit in fits.items():
        expected = {
            row["term"]: (float(row["estimate"]), float(row["std_error"]))
            for row in r_res.filter(pl.col("model") == model).iter_rows(named=True)
        }
        got = {
            r_name(t): (e, s)
            for t, e, s in zip(fit.terms, fit.estimate, fit.std_error, strict=True)
        }
        if sorted(got) != sorted(expected):
            print(f"{model}: terms differ: {sorted(got)} vs {sorted(expected)}")
            return 1
        rel_coef = max(abs(got[t][0] - e[0]) / abs(e[0]) for t, e in expected.items())
        rel_se = max(abs(got[t][1] - e[1]) / abs(e[1]) for t, e in expected.items())
        ok &= rel_coef < 1e-6 and rel_se < 1e-6
        py = statistics.median(py_times[model])
        r = statistics.median(r_times.filter(pl.col("model") == model)["seconds"].to_list())
        print(f"{model:<18}{fit.n[0]:>7}{len(fit.terms):>7}{py:>10.4f}{r:>10.4f}{r / py:>9.1f}x"
              f"{rel_coef:>19.2e}{rel_se:>17.2e}")  # fmt: skip
    if isinstance(fits["svycoxph_efron"].n_events, int):
        print(f"(svycoxph: {fits['svycoxph_efron'].n_events} deaths)")
    print("answers agree (rel 1e-6)" if ok else "ANSWERS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
