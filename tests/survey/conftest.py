"""Fixtures of the survey tests: golden R values and the mirror datasets they were made on."""

from __future__ import annotations

import math
import re
from pathlib import Path

import golden_data
import polars as pl
import pytest

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "survey"
GOLDEN_CSV = GOLDEN_DIR / "golden.csv"


def r_name(term: str) -> str:
    """Python term name → the name R gives the same coefficient or level."""
    if term == "Intercept":
        return "(Intercept)"
    term = re.sub(r"\[T\.([^\]]*)\]", r"\1", term)
    return re.sub(r"\[([^\]=]*)\]$", r"\1", term)


class Golden:
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
