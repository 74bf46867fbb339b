"""The verdict rules: every branch of the documented table, on synthetic estimates."""

from __future__ import annotations

import pytest

from nhanes_mg.study import verdicts
from nhanes_mg.study.verdicts import (
    CONSISTENT,
    CONTRADICTED,
    INCONCLUSIVE,
    NOT_ESTIMATED,
    NOT_REPRODUCED,
    STRONGER,
    WEAKER,
    Estimate,
    Published,
    Rule,
    judge_estimate,
    judge_modification,
)

PROTECTIVE = Rule("effect", "below", 1.0, ratio_scale=True)  # an OR below 1 is claimed
HARMFUL = Rule("effect", "above", 1.0, ratio_scale=True)
DENG = Published(0.34, 0.21, 0.56)


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (Estimate(0.40, 0.25, 0.60), CONSISTENT),  # below 1, overlaps 0.21-0.56
        # the README's own example (women >= 60): far stronger than published, not "weaker"
        (Estimate(0.08, 0.04, 0.19), STRONGER),
        (Estimate(0.80, 0.70, 0.90), WEAKER),  # below 1, between 1 and the published CI
        (Estimate(0.60, 0.30, 1.20), INCONCLUSIVE),  # includes 1 and 0.34
        (Estimate(0.90, 0.70, 1.10), NOT_REPRODUCED),  # includes 1, excludes 0.34
        (Estimate(1.30, 1.10, 1.50), CONTRADICTED),  # above 1: the other side
    ],
)
def test_effect_below_one(ours: Estimate, expected: str) -> None:
    assert judge_estimate(ours, PROTECTIVE, DENG).verdict == expected


@pytest.mark.parametrize(
    ("ours", "expected"),
    [
        (Estimate(1.5, 1.2, 1.9), CONSISTENT),
        (Estimate(3.0, 2.5, 3.6), STRONGER),
        (Estimate(1.1, 1.02, 1.18), WEAKER),
        (Estimate(1.2, 0.9, 1.6), INCONCLUSIVE),
        (Estimate(1.0, 0.9, 1.1), NOT_REPRODUCED),
        (Estimate(0.7, 0.6, 0.8), CONTRADICTED),  # reversed direction
    ],
)
def test_effect_above_one_mirror_image(ours: Estimate, expected: str) -> None:
    assert judge_estimate(ours, HARMFUL, Published(1.5, 1.3, 1.8)).verdict == expected


def test_differences_use_zero_and_no_log() -> None:
    rule = Rule("effect", "above", 0.0)
    assert judge_estimate(Estimate(2.0, 1.0, 3.0), rule, None).verdict == CONSISTENT
    assert judge_estimate(Estimate(-2.0, -3.0, -1.0), rule, None).verdict == CONTRADICTED
    assert judge_estimate(Estimate(0.5, -1.0, 2.0), rule, None).verdict == INCONCLUSIVE


def test_nothing_published_cannot_be_not_reproduced() -> None:
    # an ecological claim or a P value only: a CI across no effect is inconclusive
    judgement = judge_estimate(Estimate(0.95, 0.77, 1.17), HARMFUL, None)
    assert judgement.verdict == INCONCLUSIVE
    assert "no published value" in judgement.why


def test_threshold_with_a_published_point() -> None:
    rule = Rule("threshold", "above", 0.5)
    published = Published(0.79)
    show = lambda x: f"{100 * x:.3g}%"  # noqa: E731
    weaker = judge_estimate(Estimate(0.669, 0.636, 0.703), rule, published, show)
    assert weaker.verdict == WEAKER and "50%" in weaker.why and "79%" in weaker.why
    assert judge_estimate(Estimate(0.78, 0.75, 0.81), rule, published).verdict == CONSISTENT
    assert judge_estimate(Estimate(0.46, 0.42, 0.49), rule, published).verdict == CONTRADICTED
    assert judge_estimate(Estimate(0.52, 0.48, 0.56), rule, published).verdict == NOT_REPRODUCED
    # a threshold with nothing published: above it is consistent
    assert judge_estimate(
        Estimate(3.16, 3.07, 3.25), Rule("threshold", "above", 2.8), None
    ).verdict == (CONSISTENT)


def test_a_bound_on_the_threshold_side_is_not_above_it() -> None:
    # the CI touching the threshold is not "entirely above" it
    rule = Rule("threshold", "above", 2.8)
    assert judge_estimate(Estimate(3.0, 2.8, 3.2), rule, None).verdict == INCONCLUSIVE


def test_not_estimated() -> None:
    assert judge_estimate(Estimate(float("nan"), 0.1, 0.2), PROTECTIVE, DENG).verdict == (
        NOT_ESTIMATED
    )


MODIFICATION = Rule("modification", "below", 1.0, ratio_scale=True)


def test_modification_in_the_claimed_direction() -> None:
    # ratio of ORs < 1: more protective in the claimed stratum, whose own OR excludes 1
    got = judge_modification(Estimate(0.7, 0.55, 0.9), Estimate(0.6, 0.5, 0.75), MODIFICATION, None)
    assert got.verdict == CONSISTENT and "claimed stratum" in got.why


def test_modification_reversed_is_contradicted() -> None:
    # C4 as the issue found it: -0.25 log-OR per 100 mg at low vitamin D, -0.03 at high
    import math

    contrast = math.exp(-0.03 - -0.25)
    got = judge_modification(
        Estimate(contrast, contrast / 1.15, contrast * 1.15),
        Estimate(math.exp(-0.03), 0.88, 1.1),
        MODIFICATION,
        None,
    )
    assert got.verdict == CONTRADICTED and "other stratum" in got.why


def test_modification_between_two_null_effects_is_inconclusive() -> None:
    got = judge_modification(Estimate(0.7, 0.55, 0.9), Estimate(0.95, 0.8, 1.1), MODIFICATION, None)
    assert got.verdict == INCONCLUSIVE and "does not itself exclude" in got.why


def test_modification_imprecise_is_inconclusive_not_failed() -> None:
    # a P for interaction >= 0.05 with a wide CI: absence of evidence, not a failed replication
    got = judge_modification(
        Estimate(0.92, 0.66, 1.28), Estimate(1.05, 0.85, 1.3), MODIFICATION, None
    )
    assert got.verdict == INCONCLUSIVE


def test_a_precise_null_reads_differently_from_a_wide_interval() -> None:
    """C6: an OR of 0.95 (0.77–1.17) excludes the claimed OR 1.2 (no effect of that size);
    0.95 (0.60–1.50) cannot say."""
    rule = verdicts.Rule("effect", "above", 1.0, ratio_scale=True, smallest=1.2)
    narrow = judge_estimate(Estimate(0.95, 0.77, 1.17), rule, None)
    assert narrow.verdict == verdicts.NO_EFFECT_OF_SIZE
    assert narrow.why == (
        "the CI includes no effect and excludes every effect of 1.2 or more on the claimed side"
    )
    assert judge_estimate(Estimate(0.95, 0.60, 1.50), rule, None).verdict == INCONCLUSIVE
    # without a smallest effect of interest, the narrow CI is only inconclusive
    plain = verdicts.Rule("effect", "above", 1.0, ratio_scale=True)
    assert judge_estimate(Estimate(0.95, 0.77, 1.17), plain, None).verdict == INCONCLUSIVE
    # on the claimed side of the null, it changes nothing
    assert judge_estimate(Estimate(1.1, 1.02, 1.18), rule, None).verdict == CONSISTENT


def test_every_verdict_word_is_documented() -> None:
    documented = [word for word, _ in verdicts.VOCABULARY]
    assert documented == list(verdicts.VERDICTS)


def test_the_readme_states_the_rules_as_the_code_does() -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for word, rule in verdicts.VOCABULARY:
        assert f"| **{word}** | {rule} |" in readme, word
