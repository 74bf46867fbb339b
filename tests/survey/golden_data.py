"""Datasets of the survey golden tests, built from raw mirror tables.

``tests/golden/survey/make_golden.R`` builds the very same frames in R (same joins, filters and
derived variables, step by step); the golden file records each frame's row count and a few
column sums, which the tests compare before comparing any estimate.
"""

from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data.read import read_mortality, read_xpt

DEMO_COLS = ["SEQN", "SDMVSTRA", "SDMVPSU", "WTMEC2YR", "RIAGENDR", "RIDAGEYR", "RIDRETH1",
             "DMDEDUC2", "INDFMPIR"]  # fmt: skip

CYCLES = {
    "2001-2002": ("B", "DRXTOT_B", "DRX", "DRDDRSTZ"),
    "2003-2004": ("C", "DR1TOT_C", "DR1", "DR1DRSTZ"),
    "2005-2006": ("D", "DR1TOT_D", "DR1", "DR1DRSTZ"),
}


def _exam_frame(
    folder: Path, cycle: str, suffix: str, diet: tuple[str, str, str], vitd: str
) -> pl.DataFrame:
    """DEMO ⟕ VID ⟕ BMX ⟕ day-1 diet totals of one cycle, exam participants, lower-case names;
    ``diet``: the diet table, its variable prefix and its recall-status column; ``vitd``: the
    cycle's 25(OH)D column."""
    diet_table, prefix, status = diet
    demo = read_xpt(folder / f"DEMO_{suffix}.xpt").select(DEMO_COLS)
    vid = read_xpt(folder / f"VID_{suffix}.xpt").select("SEQN", pl.col(vitd).alias("LBDVIDMS"))
    bmx = read_xpt(folder / f"BMX_{suffix}.xpt").select("SEQN", "BMXBMI")
    diet_frame = read_xpt(folder / f"{diet_table}.xpt").select(
        "SEQN",
        pl.col("WTDRD1").alias("wt_diet1"),
        pl.col(status).alias("drstz"),
        pl.col(f"{prefix}TKCAL").alias("kcal"),
        pl.col(f"{prefix}TCALC").alias("calcium"),
        pl.col(f"{prefix}TMAGN").alias("magnesium"),
    )
    frame = (
        demo.join(vid, on="SEQN", how="left")
        .join(bmx, on="SEQN", how="left")
        .join(diet_frame, on="SEQN", how="left")
        .filter(pl.col("WTMEC2YR") > 0)
    )
    educ = pl.col("DMDEDUC2")
    return frame.select(
        pl.col("SEQN").alias("seqn"),
        pl.lit(cycle).alias("cycle"),
        pl.col("SDMVSTRA").alias("sdmvstra"),
        pl.col("SDMVPSU").alias("sdmvpsu"),
        pl.col("WTMEC2YR").alias("wt_mec"),
        pl.col("wt_diet1").fill_null(0.0),
        pl.col("RIDAGEYR").alias("age"),
        pl.col("RIAGENDR").cast(pl.Int64).cast(pl.String).alias("sex"),
        pl.col("RIDRETH1").cast(pl.Int64).cast(pl.String).alias("race"),
        pl.when(educ.is_in([1.0, 2.0, 3.0, 4.0, 5.0]))
        .then(educ.cast(pl.Int64).cast(pl.String))
        .alias("educ"),
        pl.col("INDFMPIR").alias("pir"),
        pl.col("BMXBMI").alias("bmi"),
        pl.col("LBDVIDMS").alias("vitd"),
        (pl.col("LBDVIDMS") / 10).alias("vitd10"),
        (pl.col("LBDVIDMS") < 50).cast(pl.Float64).alias("vitd_lt50"),
        pl.col("drstz").fill_null(0).cast(pl.Int64),
        (pl.col("kcal") / 1000).alias("kcal1000"),
        (pl.col("calcium") / 100).alias("ca100"),
        pl.col("calcium"),
        pl.col("magnesium"),
    )


@functools.cache
def _cycle(mirror: Path, cycle: str) -> pl.DataFrame:
    """One cycle of 2001-2006 (:func:`_exam_frame`) with its Mg intake category (read once a
    session: the datasets below share cycles; polars frames are immutable)."""
    suffix, diet_table, prefix, status = CYCLES[cycle]
    frame = _exam_frame(mirror / cycle, cycle, suffix, (diet_table, prefix, status), "LBDVIDMS")
    mg = pl.col("magnesium")
    return frame.with_columns(
        pl.when(mg < 200)
        .then(pl.lit("q1"))
        .when(mg < 300)
        .then(pl.lit("q2"))
        .when(mg < 400)
        .then(pl.lit("q3"))
        .when(mg >= 400)
        .then(pl.lit("q4"))
        .alias("mg_cat"),
    )


def exam_2005_2006(mirror: Path) -> pl.DataFrame:
    """Exam participants of 2005-2006 (one cycle)."""
    return _cycle(mirror, "2005-2006")


def pooled_2001_2006(mirror: Path) -> pl.DataFrame:
    """Exam participants of 2001-2006 (three cycles, to be weighted by 1/3)."""
    return pl.concat([_cycle(mirror, c) for c in CYCLES])


def lonely_2005_2006(mirror: Path) -> pl.DataFrame:
    """2005-2006 without PSU 1 of stratum 50 and PSU 2 of stratum 55: two single-PSU strata."""
    frame = exam_2005_2006(mirror)
    drop = ((pl.col("sdmvstra") == 50) & (pl.col("sdmvpsu") == 1)) | (
        (pl.col("sdmvstra") == 55) & (pl.col("sdmvpsu") == 2)
    )
    return frame.filter(~drop)


MORTALITY_FILES = {
    "2003-2004": "NHANES_2003_2004_MORT_2015_PUBLIC.dat",
    "2005-2006": "NHANES_2005_2006_MORT_2015_PUBLIC.dat",
}


def mortality_2003_2006(mirror: Path) -> pl.DataFrame:
    """Exam participants of 2003-2006 with linked mortality (2015 release), follow-up from exam.

    ``died`` = MORTSTAT and ``months`` = PERMTH_EXM for the linkage-eligible (ELIGSTAT 1);
    null otherwise.
    """
    parts = []
    for cycle, name in MORTALITY_FILES.items():
        mort = read_mortality(mirror / "linked_mortality" / name).select(
            pl.col("SEQN").alias("seqn"), "ELIGSTAT", "MORTSTAT", "PERMTH_EXM"
        )
        parts.append(_cycle(mirror, cycle).join(mort, on="seqn", how="left"))
    frame = pl.concat(parts)
    eligible = pl.col("ELIGSTAT") == 1
    return frame.with_columns(
        pl.when(eligible).then(pl.col("MORTSTAT")).alias("died"),
        pl.when(eligible).then(pl.col("PERMTH_EXM")).alias("months"),
        eligible.fill_null(False).alias("eligible"),
    ).drop("ELIGSTAT", "MORTSTAT", "PERMTH_EXM")


CHECK_SUMS = ("wt_mec", "wt_diet1", "age", "vitd", "magnesium", "bmi")


def checks(name: str, frame: pl.DataFrame) -> dict[str, float]:
    """Row count and column sums (nulls skipped) that the R script records too."""
    out = {f"{name}:n": float(frame.height)}
    for col in CHECK_SUMS:
        out[f"{name}:sum_{col}"] = float(frame[col].sum())
    return out


GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "survey"
GOLDEN_CSV = GOLDEN_DIR / "golden.csv"
COMPARED = ("estimate", "std_error", "conf_low", "conf_high", "statistic", "p_value", "df")


def r_name(term: str) -> str:
    """Python term name → the name R gives the same coefficient or level."""
    if term == "Intercept":
        return "(Intercept)"
    term = re.sub(r"\[T\.([^\]]*)\]", r"\1", term)
    return re.sub(r"\[([^\]=]*)\]$", r"\1", term)


class Golden:
    """The rows of golden.csv, by case and term."""

    def __init__(self, path: Path) -> None:
        self.frame = pl.read_csv(path, infer_schema_length=0)

    def case(self, case: str) -> dict[str, dict[str, float]]:
        rows = self.frame.filter(pl.col("case") == case)
        if rows.height == 0:
            raise KeyError(f"no golden case {case!r}")
        out: dict[str, dict[str, float]] = {}
        for row in rows.iter_rows(named=True):
            out[row["term"]] = {
                k: (math.nan if v in (None, "") else float(v))
                for k, v in row.items()
                if k not in ("case", "term")
            }
        return out

    def check(self, key: str) -> float:
        return self.case("check")[key]["estimate"]

    def assert_matches(
        self,
        case: str,
        tidy: pl.DataFrame,
        *,
        rename=r_name,
        rel: float = 1e-6,
        columns: tuple[str, ...] = COMPARED,
        check_n: bool = True,
    ) -> float:
        """Every golden value of ``case`` within ``rel`` (relative); returns the worst error."""
        expected = self.case(case)
        got = {rename(row["term"]): row for row in tidy.iter_rows(named=True)}
        assert sorted(got) == sorted(expected), (
            f"{case}: terms {sorted(got)} vs R {sorted(expected)}"
        )
        worst = 0.0
        for term, exp in expected.items():
            row = got[term]
            for col in columns:
                if math.isnan(exp[col]):
                    continue
                assert row[col] == pytest.approx(exp[col], rel=rel, abs=0), (
                    f"{case} {term} {col}: {row[col]!r} vs R {exp[col]!r}"
                )
                if exp[col] != 0 and math.isfinite(exp[col]):
                    worst = max(worst, abs(row[col] - exp[col]) / abs(exp[col]))
            if check_n and not math.isnan(exp["n"]):
                assert row["n"] == exp["n"], f"{case} {term} n: {row['n']} vs R {exp['n']}"
        return worst


# ---------------------------------------------------------------------- replicate designs
# (tests/golden/survey/make_replicate_golden.R builds the same frames)
REPLICATE_GOLDEN_CSV = GOLDEN_DIR / "replicate_golden.csv"
CYCLES_2009_2012 = {"2009-2010": "F", "2011-2012": "G"}


@functools.cache
def _cycle_2009_2012(mirror: Path, cycle: str) -> pl.DataFrame:
    """One cycle of 2009-2012 with the columns of :func:`_exam_frame` (25(OH)D is LBXVIDMS)."""
    suffix = CYCLES_2009_2012[cycle]
    diet = (f"DR1TOT_{suffix}", "DR1", "DR1DRSTZ")
    return _exam_frame(mirror / cycle, cycle, suffix, diet, "LBXVIDMS")


def pooled_2009_2012(mirror: Path) -> pl.DataFrame:
    """Exam participants of 2009-2012 (two cycles, to be weighted by 1/2): four strata have
    3 PSUs (2009-2010: 86; 2011-2012: 90, 91, 92)."""
    return pl.concat([_cycle_2009_2012(mirror, c) for c in CYCLES_2009_2012])


def synthetic_strata() -> pl.DataFrame:
    """One row per PSU, weight 2^(row - 1); strata with 1, 2, 3 and 4 PSUs whose order as text
    (100 < 5 < 7) differs from their numeric order (``syn`` of make_replicate_golden.R)."""
    return pl.DataFrame(
        {
            "str": [10, 10, 100, 7, 100, 100, 100, 5, 7, 5, 9, 8, 5, 5, 3, 3, 3],
            "psu": [1, 2, 1, 1, 2, 3, 4, 2, 2, 1, 1, 1, 3, 4, 2, 1, 3],
            "w": [2.0**k for k in range(17)],
            "x": [3.0, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2],
        }
    )


# ---------------------------------------------------------------- epidemiology cases
# svychisq, svypredmeans, svystandardize and svykm against make_golden_epi.R (golden_epi.csv).

GOLDEN_EPI_CSV = GOLDEN_DIR / "golden_epi.csv"
EPI_CHECK_SUMS = ("wt_mec", "age", "vitd", "bmi", "diabetes")


def epi_exam_2005_2006(mirror: Path) -> pl.DataFrame:
    """Exam participants of 2005-2006 with diagnosed diabetes (DIQ_D) and the epi categories.

    ``vitd_cat``: deficient (< 30 nmol/L), insufficient (30 to < 50), sufficient (>= 50);
    ``bmi_cat``: 1_lt25, 2_25to30, 3_ge30 (kg/m2); ``agecat``: the NCHS adult groups 20-39,
    40-59, 60+ (null under 20); ``diabetes``: DIQ010 1 -> 1, 2 or 3 (borderline) -> 0, else null.
    """
    diq = read_xpt(mirror / "2005-2006" / "DIQ_D.xpt").select(
        pl.col("SEQN").alias("seqn"), "DIQ010"
    )
    frame = _cycle(mirror, "2005-2006").join(diq, on="seqn", how="left")
    vitd, bmi, age, diq010 = pl.col("vitd"), pl.col("bmi"), pl.col("age"), pl.col("DIQ010")
    return frame.with_columns(
        pl.when(vitd < 30)
        .then(pl.lit("deficient"))
        .when(vitd < 50)
        .then(pl.lit("insufficient"))
        .when(vitd >= 50)
        .then(pl.lit("sufficient"))
        .alias("vitd_cat"),
        pl.when(bmi < 25)
        .then(pl.lit("1_lt25"))
        .when(bmi < 30)
        .then(pl.lit("2_25to30"))
        .when(bmi >= 30)
        .then(pl.lit("3_ge30"))
        .alias("bmi_cat"),
        pl.when((age >= 20) & (age < 40))
        .then(pl.lit("20-39"))
        .when((age >= 40) & (age < 60))
        .then(pl.lit("40-59"))
        .when(age >= 60)
        .then(pl.lit("60+"))
        .alias("agecat"),
        pl.when(diq010 == 1).then(1.0).when(diq010.is_in([2.0, 3.0])).then(0.0).alias("diabetes"),
    ).drop("DIQ010")


def epi_mortality_2005_2006(mirror: Path) -> pl.DataFrame:
    """:func:`epi_exam_2005_2006` with the 2005-2006 linked mortality file (2015 release).

    ``died`` = MORTSTAT and ``months`` = PERMTH_EXM for the linkage-eligible (ELIGSTAT 1),
    null otherwise; ``eligible`` = ELIGSTAT 1.
    """
    mort = read_mortality(mirror / "linked_mortality" / MORTALITY_FILES["2005-2006"]).select(
        pl.col("SEQN").alias("seqn"), "ELIGSTAT", "MORTSTAT", "PERMTH_EXM"
    )
    frame = epi_exam_2005_2006(mirror).join(mort, on="seqn", how="left")
    eligible = pl.col("ELIGSTAT") == 1
    return frame.with_columns(
        pl.when(eligible).then(pl.col("MORTSTAT")).alias("died"),
        pl.when(eligible).then(pl.col("PERMTH_EXM")).alias("months"),
        eligible.fill_null(False).alias("eligible"),
    ).drop("ELIGSTAT", "MORTSTAT", "PERMTH_EXM")


def epi_checks(name: str, frame: pl.DataFrame, extra: tuple[str, ...] = ()) -> dict[str, float]:
    """Row count and column sums (nulls skipped) that make_golden_epi.R records too."""
    out = {f"{name}:n": float(frame.height)}
    for col in (*EPI_CHECK_SUMS, *extra):
        out[f"{name}:sum_{col}"] = float(frame[col].sum())
    return out
