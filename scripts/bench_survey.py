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

    def designs() -> tuple[SurveyDesign, SurveyDesign]:
        glm_design = SurveyDesign(
            pooled, strata="sdmvstra", psu="sdmvpsu", weights="w", allow_zero_weights=True
        ).subset(pl.col("in_domain") == 1)
        cox_design = SurveyDesign(mort, strata="sdmvstra", psu="sdmvpsu", weights="w").subset(
            pl.col("in_domain") == 1
        )
        return glm_design, cox_design

    models = {
        "svyglm_logistic": lambda d: svyglm(LOGIT, d, family="quasibinomial", reference=REF),
        "svycoxph_efron": lambda d: svycoxph(COX, d, reference=REF),
    }
    # cold: the first fit on a new design object (it converts the model's columns to numpy
    # once and caches them; later fits on the same design reuse them)
    cold: dict[str, float] = {}
    for (model, fit_fn), design in zip(models.items(), designs(), strict=True):
        t0 = time.perf_counter()
        fit_fn(design)
        cold[model] = time.perf_counter() - t0
    glm_design, cox_design = designs()
    py_times: dict[str, list[float]] = {m: [] for m in models}
    py_cpu: dict[str, list[float]] = {m: [] for m in models}
    fits = {}
    for _ in range(args.reps):
        for (model, fit_fn), design in zip(models.items(), (glm_design, cox_design), strict=True):
            t0, c0 = time.perf_counter(), time.process_time()
            fits[model] = fit_fn(design)
            py_times[model].append(time.perf_counter() - t0)
            py_cpu[model].append(time.process_time() - c0)

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
        r_version = (work / "r_version.txt").read_text().strip()
        r_times = pl.read_csv(work / "r_times.csv")

    print(f"\nnhanes_mg.survey vs R survey {r_version}, same data, {args.reps} fits each")
    print("median seconds per fit: wall clock and CPU (user+sys); cold = first fit on a new")
    print("design object (python), whose column conversions later fits reuse")
    print(
        f"{'model':<17}{'n':>6}{'coef':>5}{'py wall':>9}{'R wall':>9}{'ratio':>7}"
        f"{'py CPU':>9}{'R CPU':>9}{'ratio':>7}{'py cold':>9}{'ratio':>7}"
        f"{'rel.diff coef':>14}{'SE':>9}"
    )
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
        r_rows = r_times.filter(pl.col("model") == model)
        py_wall, r_wall = statistics.median(py_times[model]), statistics.median(r_rows["seconds"])
        py_c, r_c = statistics.median(py_cpu[model]), statistics.median(r_rows["cpu"])
        print(
            f"{model:<17}{fit.n[0]:>6}{len(fit.terms):>5}{py_wall:>9.4f}{r_wall:>9.4f}"
            f"{r_wall / py_wall:>6.1f}x{py_c:>9.4f}{r_c:>9.4f}{r_c / py_c:>6.1f}x"
            f"{cold[model]:>9.4f}{r_wall / cold[model]:>6.1f}x{rel_coef:>14.1e}{rel_se:>9.1e}"
        )
    if isinstance(fits["svycoxph_efron"].n_events, int):
        print(f"(svycoxph: {fits['svycoxph_efron'].n_events} deaths)")
    print("answers agree (rel 1e-6)" if ok else "ANSWERS DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
