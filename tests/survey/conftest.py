"""Fixtures of the survey tests: golden R values and the mirror datasets they were made on."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.survey import SurveyDesign

import golden_data
from golden_data import GOLDEN_CSV, Golden


@pytest.fixture(scope="session")
def golden() -> Golden:
    return Golden(GOLDEN_CSV)


def _checked(name: str, frame: pl.DataFrame, golden: Golden) -> pl.DataFrame:
    """The dataset, after confirming R built the same rows (count and column sums)."""
    for key, value in golden_data.checks(name, frame).items():
        expected = golden.check(key)
        assert value == pytest.approx(expected, rel=1e-12), f"{key}: {value} vs R {expected}"
    return frame


@pytest.fixture(scope="session")
def exam(mirror_dir: Path, golden: Golden) -> pl.DataFrame:
    return _checked("exam_2005_2006", golden_data.exam_2005_2006(mirror_dir), golden)


@pytest.fixture(scope="session")
def lonely(mirror_dir: Path, golden: Golden) -> pl.DataFrame:
    return _checked("lonely_2005_2006", golden_data.lonely_2005_2006(mirror_dir), golden)


@pytest.fixture(scope="session")
def pooled(mirror_dir: Path, golden: Golden) -> pl.DataFrame:
    return _checked("pooled_2001_2006", golden_data.pooled_2001_2006(mirror_dir), golden)


@pytest.fixture(scope="session")
def mortality(mirror_dir: Path, golden: Golden) -> pl.DataFrame:
    return _checked("mortality_2003_2006", golden_data.mortality_2003_2006(mirror_dir), golden)


@pytest.fixture(scope="session")
def diet(pooled: pl.DataFrame) -> SurveyDesign:
    """Adults with a reliable day-1 recall, 2001-2006, day-1 weights: a domain of the pooled
    design (``mg100`` is magnesium per 100 mg, for the contrast cases)."""
    frame = pooled.with_columns((pl.col("magnesium") / 100).alias("mg100"))
    design = SurveyDesign(
        frame,
        strata="sdmvstra",
        psu="sdmvpsu",
        weights="wt_diet1",
        n_cycles=3,
        allow_zero_weights=True,
    )
    return design.subset((pl.col("age") >= 20) & (pl.col("drstz") == 1))
