"""The sample flow and missingness of a model analysis."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.expressions import condition
from nhanes_mg.study.flow import Needed, population_clauses, sample_flow
from run_support import ShippedResult


def test_clauses_split_at_top_level_and_only() -> None:
    assert population_clauses("age >= 20 AND (a OR b AND c)") == ["age >= 20", "a OR b AND c"]
    assert population_clauses("x BETWEEN 1 AND 5") == ["x BETWEEN 1 AND 5"]
    assert population_clauses(None) == []


def test_cascade_by_hand() -> None:
    frame = pl.DataFrame(
        {
            "age": [10, 25, 30, 40, 50, 60],
            "w": [1.0, 2.0, 0.0, 1.0, 1.0, 3.0],
            "y": [1.0, None, 2.0, 3.0, 4.0, None],
            "x": [1.0, 1.0, None, None, 1.0, 1.0],
        }
    )
    needed = [Needed("y", "outcome", frame["y"]), Needed("x", "exposure", frame["x"])]
    flow, missing, note = sample_flow(frame, [condition("age >= 20")], frame["w"], "W", needed)
    assert flow["n_after"].to_list() == [6, 5, 4, 2, 1]
    assert flow["n_lost"].to_list() == [0, 1, 1, 2, 1]
    assert flow["kind"].to_list() == ["start", "population", "subsample", "missing", "missing"]
    # eligible: ages 25, 40, 50, 60 with weights 2, 1, 1, 3 (total 7)
    assert missing["n_missing"].to_list() == [2, 1]
    np.testing.assert_allclose(missing["pct_missing_weighted"], [100 * 5 / 7, 100 * 1 / 7])
    assert note is not None and "leaves out 86% of the eligible sample" in note


@pytest.mark.mirror
def test_the_flow_ends_at_the_analysed_n(shipped_result: ShippedResult) -> None:
    result = shipped_result("C5")  # Cox, modifier, covariates
    last = result.flow.group_by("analysis", "sensitivity", maintain_order=True).agg(
        pl.col("n_after").last(), pl.col("n_before").first()
    )
    assert last.height == len([f for f in result.fits if not f.error])
    for row in last.iter_rows(named=True):
        fit = result.fit(row["analysis"], row["sensitivity"])
        assert fit is not None and row["n_after"] == fit.n, row
    steps = result.flow.filter(pl.col("analysis") == "cvd_per25", pl.col("sensitivity").is_null())
    assert steps["condition"][1] == "age >= 20"  # the population's clauses, as written
    assert "modifier (mg_total) not missing" in steps["condition"].to_list()
    assert (steps["n_after"] == steps["n_before"] - steps["n_lost"]).all()
