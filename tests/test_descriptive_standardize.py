"""Age standardization in descriptive analyses (nhanes_mg.study.descriptive): over the age
groups present, renormalised, with a named or a declared standard population — checked
against R's svystandardize with the same population vector (tests/golden/study/
make_golden_standardize.R → golden_standardize.csv; relative tolerance 1e-9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from nhanes_mg.errors import SpecError
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import NAMED_STANDARDS, AgeStandard

GOLDEN = Path(__file__).parent / "golden" / "study" / "golden_standardize.csv"
DECLARED = {"ages": [1, 6, 12, 20, 40, 60], "population": [10, 12, 16, 38, 35, 29]}
TOLERANCE = 1e-9  # relative; both sides compute in double precision


def _spec(standard: object, statistic: str = "proportion") -> dict[str, Any]:
    return {
        "id": "U1", "title": "t", "claim": "c", "citation": "x", "cycles": "2011-2012",
        "population": "age >= 1", "model": "descriptive",
        "analysis": [{
            "name": "by_sex", "statistic": statistic, "variable": "vitd_25oh_nmol < 30",
            "by": ["sex"], "age_standardize": standard,
        }],
    }  # fmt: skip


def test_labels_groups_and_renormalised_proportions() -> None:
    std = AgeStandard("x", (1, 6, 12, 20), (10.0, 12.0, 16.0, 62.0))
    assert std.labels == ("1-5", "6-11", "12-19", "20+")
    ages = pl.DataFrame({"age": [0.0, 1, 5, 6, 19, 20, 80, None]})
    got = ages.select(std.group("age"))[:, 0].to_list()
    assert got == [None, "1-5", "1-5", "6-11", "12-19", "20+", "20+", None]
    assert std.proportions(("6-11", "20+")) == pytest.approx({"6-11": 12 / 74, "20+": 62 / 74})
    assert sum(std.proportions().values()) == pytest.approx(1.0)
    assert NAMED_STANDARDS["all_ages"].labels[:3] == ("0", "1-4", "5-14")


@pytest.mark.parametrize(
    ("standard", "field", "words"),
    [
        ("world", "age_standardize", "is not one of"),
        ({"ages": [1, 20], "population": [1.0]}, "age_standardize.population", "2 age groups"),
        ({"ages": [20, 1], "population": [1, 1]}, "age_standardize.ages", "increasing"),
        ({"ages": [1, 20], "population": [1, 0]}, "age_standardize.population", "> 0"),
        ({"ages": [1, 20], "population": [1, float("nan")]}, "age_standardize.population",
         "finite"),
        ({"ages": [1], "population": [1], "unit": "x"}, "age_standardize.unit", "unknown"),
        (7, "age_standardize", "or a table"),
    ],
)  # fmt: skip
def test_a_malformed_standard_is_one_line_naming_the_field(
    standard: object, field: str, words: str
) -> None:
    with pytest.raises(SpecError, match=f"field 'analysis\\[0\\].{field}'.*{words}"):
        parse_spec(_spec(standard), "u.toml")


def test_only_a_mean_or_a_share_is_standardized() -> None:
    with pytest.raises(SpecError, match="only a mean or a proportion"):
        parse_spec(_spec("adult", statistic="quantile"), "u.toml")


def _golden() -> dict[str, dict[str, float]]:
    rows = pl.read_csv(GOLDEN)
    return {r["case"]: r for r in rows.iter_rows(named=True)}


@pytest.mark.mirror
@pytest.mark.parametrize("which", ["nchs", "declared"])
def test_standardized_over_present_groups_matches_r(
    analytic_frame: pl.DataFrame, which: str
) -> None:
    standard = "all_ages" if which == "nchs" else {**DECLARED, "label": "made-up sizes"}
    result = run_spec(parse_spec(_spec(standard), "u.toml"), analytic_frame)
    golden = _golden()
    table = result.table.filter(pl.col("analysis") == "by_sex")
    for sex in ("female", "male"):
        rows = table.filter(pl.col("term") == sex)
        crude = rows.filter(pl.col("role") == "estimate").row(0, named=True)
        std = rows.filter(pl.col("role") == "age-standardized").row(0, named=True)
        r_crude, r_std = golden[f"crude_{sex}"], golden[f"standardized_{which}_{sex}"]
        assert crude["n"] == r_crude["n"] and std["n"] == r_std["n"]  # the same rows
        assert crude["estimate"] == pytest.approx(r_crude["estimate"], rel=TOLERANCE)
        assert crude["std_error"] == pytest.approx(r_crude["std_error"], rel=TOLERANCE)
        assert std["estimate"] == pytest.approx(r_std["estimate"], rel=TOLERANCE)
        assert std["std_error"] == pytest.approx(r_std["std_error"], rel=TOLERANCE)
    # what was fitted counts each participant once (not crude + standardized)
    fit = result.fit("by_sex")
    assert fit is not None
    assert fit.n == int(table.filter(pl.col("role") == "estimate")["n"].sum())
    assert "over the groups present" in fit.description
