"""Public-use linked mortality: eligibility, vital status, cause group and follow-up.

Cause groups from ``UCOD_LEADING``: CVD = 001 heart disease + 005 cerebrovascular; cancer =
002 malignant neoplasms (colorectal cancer is not separable in the public files); other = the
rest (003, 004, 006-010).
"""

from __future__ import annotations

import polars as pl

from nhanes_mg.derive.rules import MORT_CAUSE_LEVELS

CVD_CODES = ("001", "005")
CANCER_CODES = ("002",)


def mortality_columns(frame: pl.LazyFrame, release: int) -> pl.LazyFrame:
    """From a :func:`nhanes_mg.data.read.load_mortality` frame to the analytic columns (per
    SEQN)."""
    eligible = pl.col("ELIGSTAT") == 1
    dead = eligible & (pl.col("MORTSTAT") == 1)
    ucod = pl.col("UCOD_LEADING")
    cause = (
        pl.when(~dead)
        .then(None)
        .when(ucod.is_in(list(CVD_CODES)))
        .then(pl.lit("cvd"))
        .when(ucod.is_in(list(CANCER_CODES)))
        .then(pl.lit("cancer"))
        .when(ucod.is_not_null())
        .then(pl.lit("other"))
        .otherwise(None)
        .cast(pl.Enum(list(MORT_CAUSE_LEVELS)))
    )
    return frame.select(
        pl.col("SEQN"),
        eligible.alias("mort_eligible"),
        pl.when(eligible).then(pl.col("MORTSTAT")).cast(pl.Int8).alias("mort_status"),
        cause.alias("mort_cause"),
        pl.when(dead).then(ucod).alias("mort_ucod_leading"),
        pl.when(eligible).then(pl.col("PERMTH_EXM")).cast(pl.Float64).alias("followup_months_exam"),
        pl.when(eligible).then(pl.col("PERMTH_INT")).cast(pl.Float64).alias("followup_months_int"),
        pl.lit(release, dtype=pl.Int16).alias("mortality_release"),
    )
