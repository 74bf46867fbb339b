"""Statements judged on their specification curves (nhanes_mg.study.judge): which row each analysis
gives, against which comparator, the curve's words; on small tables (the real-mirror claims are
in test_claims_sources.py)."""

from __future__ import annotations

from typing import Any

import polars as pl

from nhanes_mg.study import verdicts
from nhanes_mg.study.analysis_frame import TABLE_COLUMNS, TABLE_SCHEMA
from nhanes_mg.study.judge import judge
from nhanes_mg.study.results import FitInfo, SpecResult
from nhanes_mg.study.spec import parse_spec


def _spec(verdict: dict[str, Any], sensitivity: list[dict[str, Any]] | None = None,
          **analysis: Any):  # type: ignore[no-untyped-def]  # fmt: skip
    raw = {
        "id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2005-2006",
        "population": "age >= 20", "model": "linear",
        "analysis": [{"name": "a", "outcome": "y", "exposure": "x", "modifier": "m >= 1",
                      **analysis}],
        "sensitivity": sensitivity or [], "verdict": {"analysis": "a", **verdict},
    }  # fmt: skip
    return parse_spec(raw, check_columns=False)  # toy columns: the verdict logic alone


def tidy_rows(*rows: dict[str, Any]) -> pl.DataFrame:
    full = [{c: r.get(c) for c in TABLE_COLUMNS} for r in rows]
    return pl.DataFrame(full, schema=TABLE_SCHEMA)


def _result(spec, table: pl.DataFrame, sensitivities: tuple[str, ...] = ()) -> SpecResult:  # type: ignore[no-untyped-def]
    fits = [
        FitInfo("a", s, "", "", n=10, strata=("m high", "m low")) for s in (None, *sensitivities)
    ]
    return SpecResult(spec=spec, table=table, fits=fits)


def _modification_rows(contrast: tuple[float, float, float], high: tuple[float, float, float],
                       low: tuple[float, float, float], sensitivity: str | None = None,
                       term: str = "x", p: float = 0.01) -> list[dict[str, Any]]:  # fmt: skip
    def row(role: str, est: tuple[float, float, float], stratum: str | None) -> dict[str, Any]:
        return {"analysis": "a", "sensitivity": sensitivity, "role": role, "term": term,
                "stratum": stratum, "estimate": est[0], "conf_low": est[1],
                "conf_high": est[2], "scale": "difference" if role != "modification contrast"
                else "difference of differences", "outcome": "y, mg/dL"}  # fmt: skip

    return [
        row("modification contrast", contrast, None),
        row("stratum effect", high, "m high"),
        row("stratum effect", low, "m low"),
        {"analysis": "a", "sensitivity": sensitivity, "role": "interaction",
         "term": "P for interaction", "p_value": p},
    ]  # fmt: skip


def _estimate(est: float, lo: float, hi: float, sensitivity: str | None = None,
              term: str = "x", cycle: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"analysis": "a", "sensitivity": sensitivity, "role": "estimate", "term": term,
            "cycle": cycle, "estimate": est, "conf_low": lo, "conf_high": hi,
            "scale": "odds ratio", "n": 100}  # fmt: skip


def test_modification_reads_the_contrast_of_the_joint_model() -> None:
    spec = _spec({"term": "x", "rule": "modification", "direction": "above",
                  "stronger_in": "modifier"})  # fmt: skip
    # stronger where m holds (5 vs 2): consistent
    table = tidy_rows(*_modification_rows((3.0, 1.0, 5.0), (5.0, 4.0, 6.0), (2.0, 1.0, 3.0)))
    (verdict,) = judge(spec, _result(spec, table))
    assert verdict.verdict == verdicts.CONSISTENT
    assert "5.00 (4.00–6.00) [m high] vs 2.00 (1.00–3.00) [m low]" in verdict.ours
    assert "P-interaction = 0.010" in verdict.ours
    assert verdict.statement == "" and verdict.main is verdict.curve[0]


def test_modification_claimed_in_the_complement_flips_the_contrast() -> None:
    spec = _spec({"term": "x", "rule": "modification", "direction": "above",
                  "stronger_in": "complement"})  # fmt: skip
    table = tidy_rows(*_modification_rows((3.0, 1.0, 5.0), (5.0, 4.0, 6.0), (2.0, 1.0, 3.0)))
    (verdict,) = judge(spec, _result(spec, table))
    assert verdict.verdict == verdicts.CONTRADICTED
    assert verdict.ours.startswith("2.00 (1.00–3.00) [m low] vs 5.00")
    assert verdict.main is not None and verdict.main.estimate == -3.0  # low relative to high


def test_the_curve_shows_every_estimate_and_says_when_the_verdict_rests_on_a_minority() -> None:
    spec = parse_spec(
        {"id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2005-2006",
         "population": "age >= 20", "model": "logistic",
         "analysis": [{"name": "a", "outcome": "y", "exposure": "x"}],
         "sensitivity": [{"name": f"s{i}", "analysis": "a", "label": f"variant {i}"}
                         for i in (1, 2, 3)],
         "reference": {"text": "OR 0.5 (0.4–0.6)", "estimate": 0.5, "conf_low": 0.4,
                       "conf_high": 0.6},
         "verdict": {"analysis": "a", "term": "x", "rule": "effect", "direction": "below"}},
        check_columns=False,
    )  # fmt: skip
    table = tidy_rows(
        _estimate(0.55, 0.40, 0.75),
        _estimate(0.80, 0.60, 1.05, "s1"),
        _estimate(0.70, 0.45, 1.10, "s2"),
        _estimate(1.40, 1.10, 1.80, "s3"),
    )
    (verdict,) = judge(spec, _result(spec, table, ("s1", "s2", "s3")))
    assert [c.verdict for c in verdict.curve] == [
        verdicts.CONSISTENT, verdicts.NOT_REPRODUCED, verdicts.INCONCLUSIVE,
        verdicts.CONTRADICTED,
    ]  # fmt: skip
    assert [c.estimate for c in verdict.curve] == [0.55, 0.80, 0.70, 1.40]  # the table's rows
    # every row is held against the published value (same estimand): all carry it
    assert {c.published for c in verdict.curve} == {0.5}
    assert verdict.summary == (
        "estimates 0.55 to 1.40 across 4 analyses; 1 excludes no effect on the claimed side, "
        "1 on the other side"
    )
    assert verdict.caution.startswith("this verdict rests on a minority of its analyses: 1 of 4")


def test_the_curve_counts_intervals_not_verdict_words() -> None:
    """A modification contrast whose CI lies on the claimed side counts as excluding no
    difference there even when its verdict is inconclusive (its claimed stratum's own effect
    includes no effect)."""
    spec = _spec({"term": "x", "rule": "modification", "direction": "above",
                  "stronger_in": "modifier"},
                 sensitivity=[{"name": "s1", "analysis": "a"}])  # fmt: skip
    table = tidy_rows(
        *_modification_rows((1.0, -1.0, 3.0), (2.0, 0.5, 3.5), (1.0, 0.0, 2.0)),
        *_modification_rows((3.0, 1.0, 5.0), (2.0, -1.0, 5.0), (-1.0, -2.0, 0.5), "s1"),
    )
    (verdict,) = judge(spec, _result(spec, table, ("s1",)))
    assert [c.verdict for c in verdict.curve] == [verdicts.INCONCLUSIVE] * 2
    assert [c.side for c in verdict.curve] == [0, 1]
    assert verdict.summary.endswith(
        "1 excludes no difference between the strata on the claimed side"
    )


def test_a_precise_null_resting_on_a_minority_says_so() -> None:
    spec = parse_spec(
        {"id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2005-2006",
         "population": "age >= 20", "model": "logistic",
         "analysis": [{"name": "a", "outcome": "y", "exposure": "x"}],
         "sensitivity": [{"name": f"s{i}", "analysis": "a"} for i in (1, 2)],
         "verdict": {"analysis": "a", "term": "x", "rule": "effect", "direction": "above",
                     "smallest_effect": 1.2}},
        check_columns=False,
    )  # fmt: skip
    table = tidy_rows(
        _estimate(0.95, 0.84, 1.07), _estimate(1.01, 0.83, 1.24, "s1"),
        _estimate(0.98, 0.80, 1.21, "s2"),
    )  # fmt: skip
    (verdict,) = judge(spec, _result(spec, table, ("s1", "s2")))
    assert [c.verdict for c in verdict.curve] == [
        verdicts.NO_EFFECT_OF_SIZE, verdicts.INCONCLUSIVE, verdicts.INCONCLUSIVE
    ]  # fmt: skip
    assert verdict.caution == (
        "this verdict rests on a minority of its analyses: 1 of 3 exclude every effect of the "
        "claimed size"
    )


def test_a_sensitivity_analysis_can_have_its_own_comparator_or_none() -> None:
    raw = {
        "id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2005-2006",
        "population": "age >= 20", "model": "logistic",
        "analysis": [{"name": "a", "outcome": "y", "exposure": "x"}],
        "sensitivity": [
            {"name": "other", "analysis": "a", "compare": {"text": "Smith: 0.9", "estimate": 0.9}},
            {"name": "none", "analysis": "a", "compare": []},
        ],
        "reference": {"text": "OR 0.5", "estimate": 0.5},
        "verdict": {"analysis": "a", "term": "x", "rule": "effect", "direction": "below"},
    }  # fmt: skip
    spec = parse_spec(raw, check_columns=False)
    table = tidy_rows(
        _estimate(0.85, 0.75, 0.95), _estimate(0.85, 0.75, 0.95, "other"),
        _estimate(0.85, 0.75, 0.95, "none"),
    )  # fmt: skip
    (verdict,) = judge(spec, _result(spec, table, ("other", "none")))
    main, other, none = verdict.curve
    assert (main.published, main.verdict) == (0.5, verdicts.WEAKER)
    assert (other.published, other.comparator, other.verdict) == (
        0.9, "Smith: 0.9", verdicts.CONSISTENT,
    )  # fmt: skip
    assert (none.published, none.verdict) == (None, verdicts.CONSISTENT)


def test_an_analysis_compared_per_cycle_judges_each_cycle_against_its_own_number() -> None:
    raw = {
        "id": "T", "title": "t", "claim": "c", "citation": "x", "cycles": "2001-2006",
        "population": "age >= 1", "model": "descriptive",
        "analysis": [{"name": "a", "statistic": "proportion", "variable": "y", "by": ["cycle"],
                      "compare": [{"cycle": "2005-2006", "estimate": 0.48, "text": "48%"},
                                  {"cycle": "2001-2002", "estimate": 0.56, "text": "56%"}]}],
        "verdict": {"analysis": "a", "cycle": "2005-2006", "rule": "threshold",
                    "direction": "above", "value": 0.5},
    }  # fmt: skip
    spec = parse_spec(raw, check_columns=False)
    rows = [
        {**_estimate(e, lo, hi, term=c, cycle=c), "scale": "proportion"}
        for c, e, lo, hi in (("2001-2002", 0.553, 0.52, 0.585), ("2005-2006", 0.488, 0.453, 0.522))
    ]  # fmt: skip
    (verdict,) = judge(spec, _result(spec, tidy_rows(*rows)))
    assert verdict.main is not None and verdict.main.row == "2005-2006"  # the rule's cycle
    assert [c.label for c in verdict.curve] == [
        "main analysis (2005-2006)",
        "same analysis (2001-2002)",
    ]
    assert verdict.verdict == verdicts.INCONCLUSIVE  # includes 50% and the published 48%
    by_cycle = {c.row: (c.published, c.verdict) for c in verdict.curve}
    assert by_cycle == {"2005-2006": (0.48, verdicts.INCONCLUSIVE),
                        "2001-2002": (0.56, verdicts.CONSISTENT)}  # fmt: skip
    assert verdict.summary.startswith("estimates 48.8% to 55.3% across 2 analyses")


def test_a_published_p_for_interaction_not_reproduced_is_said_beside_the_verdict() -> None:
    spec = _spec({"term": "x", "rule": "modification", "direction": "above",
                  "stronger_in": "modifier"},
                 compare={"text": "P < 0.001", "p_value": "< 0.001"})  # fmt: skip
    table = tidy_rows(
        *_modification_rows((3.0, 1.0, 5.0), (5.0, 4.0, 6.0), (2.0, 1.0, 3.0), p=0.36)
    )
    (verdict,) = judge(spec, _result(spec, table))
    assert verdict.main is not None
    assert (
        verdict.main.note
        == "the published P-interaction < 0.001 is not reproduced in 2005-2006 (ours P = 0.360)"
    )
    assert "not reproduced in 2005-2006 (ours P = 0.360)" in verdict.caution


def test_a_stratum_of_a_joint_model_can_be_the_judged_row() -> None:
    spec = _spec({"term": "x", "rule": "effect", "direction": "above"},
                 modifier_labels=["m high", "m low"],
                 compare={"stratum": "m high", "text": "none"})  # fmt: skip
    table = tidy_rows(*_modification_rows((3.0, 1.0, 5.0), (5.0, 4.0, 6.0), (2.0, 1.0, 3.0)),
                  {**_estimate(3.5, 2.5, 4.5), "scale": "difference"})  # fmt: skip
    (verdict,) = judge(spec, _result(spec, table))
    assert verdict.main is not None and (verdict.main.estimate, verdict.main.row) == (
        5.0,
        "x, m high",
    )


def test_a_missing_row_is_not_estimated_never_a_verdict() -> None:
    spec = _spec({"term": "nope", "rule": "effect", "direction": "above"})
    table = tidy_rows({"analysis": "a", "role": "estimate", "term": "x", "estimate": 1.0,
                   "conf_low": 0.5, "conf_high": 1.5, "scale": "difference"},
                  {"analysis": "a", "role": "estimate", "term": "z", "estimate": 1.0,
                   "conf_low": 0.5, "conf_high": 1.5, "scale": "difference"})  # fmt: skip
    (verdict,) = judge(spec, _result(spec, table))
    assert verdict.verdict == verdicts.NOT_ESTIMATED
