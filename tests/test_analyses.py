"""The analysis runner: verdict rules on small tables; estimates on the real mirror checked
against independent computations."""

from __future__ import annotations

import math

import polars as pl
import pytest

from nhanes_mg.analyses import TABLE_COLUMNS, judge, run_spec
from nhanes_mg.spec import load_shipped_specs, parse_spec


def _spec(rule: dict[str, object], reference: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    raw = {
        "id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2005-2006",
        "weight": "wt_mec", "population": "age >= 20", "model": "logistic",
        "analysis": [{"name": "a", "outcome": "y", "exposure": "x"}],
        "verdict": {"analysis": "a", "term": "Q4", **rule}, "reference": reference or {},
    }  # fmt: skip
    return parse_spec(raw)


def _table(estimate: float, low: float, high: float, p: float = math.nan, stratum=None):  # type: ignore[no-untyped-def]
    return pl.DataFrame(
        {"analysis": ["a"], "term": ["Q4"], "estimate": [estimate], "conf_low": [low],
         "conf_high": [high], "p_value": [p], "stratum": [stratum], "scale": ["odds ratio"]},
        schema_overrides={"stratum": pl.String},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("est", "low", "high", "verdict"),
    [
        (3.1, 3.0, 3.2, "consistent"),
        (2.9, 2.7, 3.1, "weaker"),
        (2.7, 2.6, 2.9, "not reproduced"),
        (2.5, 2.4, 2.6, "contradicted"),
    ],
)
def test_above_rule(est: float, low: float, high: float, verdict: str) -> None:
    spec = _spec({"rule": "above", "value": 2.8})
    assert judge(spec, _table(est, low, high)).verdict == verdict  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("est", "low", "high", "verdict"),
    [
        (0.40, 0.25, 0.60, "consistent"),  # overlaps the published 0.21-0.56
        (0.80, 0.70, 0.90, "weaker"),  # below 1, but no overlap: weaker than published
        (0.90, 0.70, 1.10, "not reproduced"),
        (1.30, 1.10, 1.50, "contradicted"),
    ],
)
def test_effect_below_1_rule(est: float, low: float, high: float, verdict: str) -> None:
    spec = _spec(
        {"rule": "effect_below_1"}, {"estimate": 0.34, "conf_low": 0.21, "conf_high": 0.56}
    )
    assert judge(spec, _table(est, low, high)).verdict == verdict  # type: ignore[union-attr]


def test_p_rule_checks_the_direction() -> None:
    spec = _spec({"rule": "p_below", "value": 0.05, "term": "P for interaction",
                  "stronger_in": "modifier"})  # fmt: skip
    rows = pl.concat([
        _table(math.nan, math.nan, math.nan, p=0.01).with_columns(term=pl.lit("P for interaction")),
        _table(0.9, 0.8, 1.0, stratum="mg high"),
        _table(0.5, 0.4, 0.6, stratum="mg low"),
    ])  # fmt: skip
    verdict = judge(spec, rows)
    assert verdict is not None and verdict.verdict == "contradicted"
    # the same P with the stronger effect in the modifier's stratum (listed first)
    flipped = pl.concat([rows.slice(0, 1), rows.slice(2, 1), rows.slice(1, 1)])
    assert judge(spec, flipped).verdict == "consistent"  # type: ignore[union-attr]
    insignificant = rows.with_columns(p_value=pl.lit(0.2))
    assert judge(spec, insignificant).verdict == "not reproduced"  # type: ignore[union-attr]


@pytest.mark.mirror
def test_c1_ratio_of_means_matches_a_direct_computation(analytic_frame: pl.DataFrame) -> None:
    spec = next(s for s in load_shipped_specs() if s.id == "C1")
    result = run_spec(spec, analytic_frame)
    assert result.table.columns == list(TABLE_COLUMNS)
    row = result.table.filter(
        (pl.col("analysis") == "ratio_of_means_food") & (pl.col("term") == "2005-2006")
    ).row(0, named=True)
    domain = analytic_frame.filter(
        (pl.col("cycle") == "2005-2006") & (pl.col("age") >= 20) & pl.col("recall_ok_d1")
        & pl.col("ca_food").is_not_null() & pl.col("mg_food").is_not_null()
    )  # fmt: skip
    direct = (domain["wt_diet1"] * domain["ca_food"]).sum() / (
        domain["wt_diet1"] * domain["mg_food"]
    ).sum()
    assert row["estimate"] == pytest.approx(direct, rel=1e-12)
    assert row["conf_low"] < row["estimate"] < row["conf_high"]
    assert row["n"] == domain.height
    trend = result.table.filter(pl.col("term") == "trend per decade")
    assert trend.height >= 1 and trend["p_value"].is_not_null().all()


@pytest.mark.mirror
def test_c3_quartiles_and_odds_ratios(analytic_frame: pl.DataFrame) -> None:
    spec = next(s for s in load_shipped_specs() if s.id == "C3")
    result = run_spec(spec, analytic_frame)
    assert not result.notes, result.notes
    adjusted = result.table.filter(pl.col("analysis") == "deficiency_adjusted")
    assert adjusted["term"].to_list() == ["Q1", "Q2", "Q3", "Q4", "P for trend"]
    q1 = adjusted.row(0, named=True)
    assert q1["estimate"] == 1.0 and q1["scale"] == "odds ratio"
    # the quartile cut points split the domain's weight into quarters
    cuts = result.exposure_cuts["deficiency_crude"]
    frame = analytic_frame.filter(
        pl.col("cycle").cast(pl.String).is_in(["2001-2002", "2003-2004", "2005-2006"])
        & (pl.col("age") >= 20) & pl.col("recall_ok_d1") & ~pl.col("pregnant").fill_null(False)
        & pl.col("vitd_25oh_nmol").is_not_null() & pl.col("mg_total").is_not_null()
    )  # fmt: skip
    weight = frame["wt_diet1"].fill_null(0)
    below_first = weight.filter(frame["mg_total"] <= cuts[0]).sum() / weight.sum()
    assert below_first == pytest.approx(0.25, abs=0.01)
    q4 = adjusted.filter(pl.col("term") == "Q4").row(0, named=True)
    assert q4["conf_low"] < q4["estimate"] < q4["conf_high"]
    assert result.verdict is not None
    assert result.verdict.verdict in ("consistent", "weaker", "not reproduced", "contradicted")
