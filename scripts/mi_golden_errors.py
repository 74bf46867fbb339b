"""The worst relative difference between micombine and R's MIcombine on the golden cases of
tests/golden/survey/make_golden_mi.R (the test asserts 1e-8; this prints how close it is).

    .venv/bin/python scripts/mi_golden_errors.py MIRROR_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "survey"), str(ROOT / "tests")]

from nhanes_mg.survey import SurveyDesign, as_svrepdesign, svyglm  # noqa: E402
from nhanes_mg.survey.mi import micombine  # noqa: E402

import golden_data  # noqa: E402
from golden_data import GOLDEN_DIR, Golden  # noqa: E402

FORMULA = "vitd_lt50 ~ age + sex + pir + bmi"


def main() -> None:
    exam = golden_data.exam_2005_2006(Path(sys.argv[1]))
    golden = Golden(GOLDEN_DIR / "golden_mi.csv")
    seqn = pl.col("seqn")
    imputed = [
        exam.with_columns(
            pir=pl.coalesce("pir", ((seqn * m) % 50) / 10),
            bmi=pl.coalesce("bmi", 18 + ((seqn * (m + 2)) % 25)),
        )
        for m in range(1, 6)
    ]

    def design(frame: pl.DataFrame) -> SurveyDesign:
        return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")

    adults = pl.col("age") >= 20
    taylor = [svyglm(FORMULA, design(f).subset(adults), family="quasibinomial") for f in imputed]
    fay = [
        svyglm(FORMULA, as_svrepdesign(design(f), type="Fay", fay_rho=0.3).subset(adults),
               family="quasibinomial")
        for f in imputed
    ]  # fmt: skip
    cases = {
        "mi_glm_taylor": micombine(taylor),
        "mi_glm_taylor_dfcomplete": micombine(taylor, taylor[0].df_residual),
        "mi_glm_fay": micombine(fay),
    }
    for case, combined in cases.items():
        worst = golden.assert_matches(case, combined.tidy(), rel=1e-8)
        print(f"{case:26s} worst relative difference from R: {worst:.1e}")


if __name__ == "__main__":
    main()
