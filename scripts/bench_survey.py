"""Benchmark nhanes_mg.survey against R's survey on the same real NHANES data, in one run.

Usage::

    OPENBLAS_NUM_THREADS=1 .venv/bin/python scripts/bench_survey.py [--mirror DIR] [--reps N]

The mirror is ``--mirror`` or ``$NHANES_MG_MIRROR`` (an unpacked NHANES mirror). The script
builds the two model datasets (the golden-test datasets of tests/survey), writes them to a
temporary folder, times each step ``N`` times here and in R (``Rscript
scripts/bench_survey.R``), checks that coefficients and SEs agree with R's and prints, for each
target of the issue "Iterate at the speed of thought", the median time here and in R, their
ratio and the target ratio:

- svyglm logistic, first fit on a new design (>= 10x): the design is built on a frame never
  seen before (read back from an in-memory copy, so nothing about it is cached anywhere), then
  fitted once; the time is the fit (R: ``svyglm`` on a design just built, which costs what any
  R fit costs). A second row adds the design's construction on both sides (``SurveyDesign``
  + ``subset`` against ``svydesign`` + ``subset``).
- svyglm logistic, later fits on that design (>= 20x).
- svyglm logistic, first fit via ``update()`` of an existing design (>= 10x, as a first
  fit): ``design.update(mg_cat2=...)`` adds new exposure categories, then the model with them
  is fitted; both steps are timed (R: ``update(design, mg_cat2 = ...)`` + ``svyglm``).
- svycoxph (Efron) fits (>= 25x).
- svyglm logistic on a Fay-BRR replicate design (rho 0.3; R: ``as.svrepdesign(design,
  type = "Fay", fay.rho = 0.3)``, then the domain): a fit, its SEs from every replicate's
  refit (>= 10x, as a first fit).
- An imputed model: the logistic fitted on each of M = 20 imputations of missing PIR and BMI
  (a fixed rule, the same on both sides, as in tests/golden/survey/make_golden_mi.R) and the
  fits combined by Rubin's rules (R: ``mitools::MIcombine``); and the combination alone.

Models: 25(OH)D < 50 nmol/L on magnesium category, age, sex, race/ethnicity, education, BMI,
PIR, energy, calcium and cycle (20 coefficients), adults of 2001-2006 with a reliable day-1
recall, day-1 dietary weights / 3; all-cause mortality (2015 linkage, follow-up from the exam)
on age, sex, race/ethnicity, BMI and 25(OH)D, adults of 2003-2006, MEC weights / 2.

Both sides run single-threaded BLAS (R's reference BLAS is single-threaded; numpy's OpenBLAS is
limited to one thread here for a like-for-like comparison: the matrices are small). Each side
runs every step once untimed first (Python: imports and first calls; R: byte compilation).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import io
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "survey"))

from nhanes_mg.survey import SurveyDesign, as_svrepdesign, svycoxph, svyglm  # noqa: E402
from nhanes_mg.survey.mi import micombine  # noqa: E402

import golden_data  # noqa: E402

LOGIT = "vitd_lt50 ~ mg_cat + age + sex + race + educ + bmi + pir + kcal1000 + ca100 + cycle"
UPDATE_LOGIT = LOGIT.replace("mg_cat +", "mg_cat2 +")
COX = "Surv(months, died) ~ age + sex + race + bmi + vitd10"
REF = {"race": "3"}
M = 20  # imputations


def imputation(frame: pl.DataFrame, m: int) -> pl.DataFrame:
    """The m-th imputation of missing PIR and BMI (R: the same rule in bench_survey.R)."""
    seqn = pl.col("seqn")
    return frame.with_columns(
        pir=pl.coalesce("pir", ((seqn * m) % 50) / 10),
        bmi=pl.coalesce("bmi", 18 + ((seqn * (m + 2)) % 25)),
    )


def mg_cat2() -> pl.Expr:
    """New magnesium categories (R: ``ifelse`` on the same cut points; missing stays missing)."""
    mg = pl.col("magnesium")
    return (
        pl.when(mg.is_nan())
        .then(pl.lit(None, pl.String))
        .when(mg < 250)
        .then(pl.lit("a"))
        .when(mg < 350)
        .then(pl.lit("b"))
        .when(mg.is_not_null())
        .then(pl.lit("c"))
    )


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=os.environ.get("NHANES_MG_MIRROR"))
    parser.add_argument("--reps", type=int, default=20, help="timed repetitions of each step")
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
    saved = io.BytesIO()
    pooled.write_ipc(saved)

    def fresh_frame() -> pl.DataFrame:
        """A copy of the logistic data in new memory: no design has seen these columns."""
        saved.seek(0)
        return pl.read_ipc(saved)

    def new_design(frame: pl.DataFrame) -> SurveyDesign:
        return SurveyDesign(
            frame, strata="sdmvstra", psu="sdmvpsu", weights="w", allow_zero_weights=True
        ).subset(pl.col("in_domain") == 1)

    def fit_glm(design: SurveyDesign, formula: str = LOGIT) -> Any:
        return svyglm(formula, design, family="quasibinomial", reference=REF)

    cox_design = SurveyDesign(mort, strata="sdmvstra", psu="sdmvpsu", weights="w").subset(
        pl.col("in_domain") == 1
    )

    full = SurveyDesign(
        pooled, strata="sdmvstra", psu="sdmvpsu", weights="w", allow_zero_weights=True
    )
    replicate = as_svrepdesign(full, type="Fay", fay_rho=0.3).subset(pl.col("in_domain") == 1)
    imputed = [new_design(imputation(pooled, m)) for m in range(1, M + 1)]

    steps = ["design", "glm_first", "glm", "glm_update", "cox", "rep_glm", "mi_fits", "mi_combine"]
    py: dict[str, list[tuple[float, float]]] = {s: [] for s in steps}
    fits: dict[str, Any] = {}
    for rep in range(args.reps + 1):  # rep 0: warm-up, not recorded
        frame = fresh_frame()
        design, *t_design = timed(lambda frame=frame: new_design(frame))
        first, *t_first = timed(lambda design=design: fit_glm(design))
        later, *t_glm = timed(lambda design=design: fit_glm(design))
        updated, *t_update = timed(
            lambda design=design: fit_glm(design.update(mg_cat2=mg_cat2()), UPDATE_LOGIT)
        )
        cox, *t_cox = timed(lambda: svycoxph(COX, cox_design, reference=REF))
        rep_fit, *t_rep = timed(lambda: fit_glm(replicate))
        mi_fits, *t_mi = timed(lambda: [fit_glm(d) for d in imputed])
        combined, *t_combine = timed(lambda mi_fits=mi_fits: micombine(mi_fits))
        t_mi = [a + b for a, b in zip(t_mi, t_combine, strict=True)]  # the fits and Rubin's rules
        if rep:
            timings = (t_design, t_first, t_glm, t_update, t_cox, t_rep, t_mi, t_combine)
            for step, t in zip(steps, timings, strict=True):
                py[step].append((t[0], t[1]))
        fits = {"glm_first": first, "glm": later, "glm_update": updated, "cox": cox,
                "rep_glm": rep_fit, "mi": combined}  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        design_cols = ["sdmvstra", "sdmvpsu", "w", "in_domain"]
        glm_cols = ["vitd_lt50", "mg_cat", "age", "sex", "race", "educ", "bmi", "pir"]
        glm_cols += ["kcal1000", "ca100", "cycle", "magnesium", "seqn"]
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

    def r_median(step: str, column: str = "seconds") -> float:
        return float(statistics.median(r_times.filter(pl.col("step") == step)[column]))

    def py_median(step: str, k: int = 0) -> float:
        return statistics.median(t[k] for t in py[step])

    def agreement(fit: Any, model: str) -> tuple[float, float]:
        expected = {
            row["term"]: (float(row["estimate"]), float(row["std_error"]))
            for row in r_res.filter(pl.col("model") == model).iter_rows(named=True)
        }
        got = {
            golden_data.r_name(t): (e, s)
            for t, e, s in zip(fit.terms, fit.estimate, fit.std_error, strict=True)
        }
        if sorted(got) != sorted(expected):
            raise SystemExit(f"{model}: terms differ: {sorted(got)} vs R {sorted(expected)}")
        rel_coef = max(abs(got[t][0] - e[0]) / abs(e[0]) for t, e in expected.items())
        rel_se = max(abs(got[t][1] - e[1]) / abs(e[1]) for t, e in expected.items())
        return rel_coef, rel_se

    # (label, python steps, R steps, target ratio, fit, R model of the answers)
    rows: list[tuple[str, list[str], list[str], float | None, str, str]] = [
        ("svyglm logistic: first fit on a new design", ["glm_first"], ["glm_first"], 10,
         "glm_first", "svyglm_logistic"),
        ("  the same with the design's construction", ["design", "glm_first"],
         ["design", "glm_first"], None, "glm_first", "svyglm_logistic"),
        ("svyglm logistic: later fits", ["glm"], ["glm"], 20, "glm", "svyglm_logistic"),
        ("svyglm logistic: first fit via update()", ["glm_update"], ["glm_update"], 10,
         "glm_update", "svyglm_update"),
        ("svycoxph (Efron): fits", ["cox"], ["cox"], 25, "cox", "svycoxph_efron"),
        ("svyglm logistic, Fay-BRR replicate design", ["rep_glm"], ["rep_glm"], 10, "rep_glm",
         "svyglm_replicate"),
        (f"imputed model: {M} fits + MIcombine", ["mi_fits"], ["mi_fits"], 10, "mi",
         "micombine"),
        ("  MIcombine alone", ["mi_combine"], ["mi_combine"], None, "mi", "micombine"),
    ]  # fmt: skip
    glm_fit, cox_fit = fits["glm"], fits["cox"]
    print(f"\nnhanes_mg.survey vs R survey {r_version}, same data, {args.reps} repetitions")
    print(
        f"logistic: n = {glm_fit.n[0]}, {len(glm_fit.terms)} coefficients; "
        f"Cox: n = {cox_fit.n[0]}, {cox_fit.n_events} deaths, {len(cox_fit.terms)} coefficients"
    )
    print("median milliseconds per step, wall clock (CPU); answers: largest relative difference")
    print("of a coefficient / an SE from R's")
    header = (
        f"{'what':<44}{'python':>15}{'R':>17}{'ratio':>8}{'target':>8}{'':>5}"
        f"{'answers (coef / SE)':>22}"
    )
    print(header)
    print("-" * len(header))
    ok = True
    missed = []
    for label, py_steps, r_steps, target, fit_key, model in rows:
        py_wall = sum(py_median(s) for s in py_steps)
        py_cpu = sum(py_median(s, 1) for s in py_steps)
        r_wall = sum(r_median(s) for s in r_steps)
        r_cpu = sum(r_median(s, "cpu") for s in r_steps)
        ratio = r_wall / py_wall
        rel_coef, rel_se = agreement(fits[fit_key], model)
        agree = rel_coef < 1e-6 and rel_se < 1e-6
        ok &= agree
        met = "" if target is None else ("ok" if ratio >= target else "MISS")
        if met == "MISS":
            missed.append(label)
        target_text = "" if target is None else f">={target}x"
        print(
            f"{label:<44}{py_wall * 1e3:>7.2f} ({py_cpu * 1e3:>5.2f}){r_wall * 1e3:>8.1f} "
            f"({r_cpu * 1e3:>6.1f}){ratio:>7.1f}x{target_text:>8}{met:>5}"
            f"{rel_coef:>13.1e} / {rel_se:.1e}{'' if agree else '  DIFFER'}"
        )
    same = fits["glm_first"].tidy().equals(fits["glm"].tidy())
    ok &= same
    print(
        "first and later fits identical: "
        + ("yes" if same else "NO")
        + "; answers agree with R (rel 1e-6): "
        + ("yes" if ok else "NO")
    )
    if missed:
        print("targets missed: " + "; ".join(label.strip() for label in missed))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
