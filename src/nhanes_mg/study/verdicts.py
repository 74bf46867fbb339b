"""Verdicts: our estimate and its CI against the claim and the published estimate.

One vocabulary, one set of rules, typed inputs. A verdict compares three things: our estimate
with its 95% CI, the value that means "no effect" (1 for odds and hazard ratios, 0 for
differences) or the claim's threshold, and the published estimate (with its CI when published).
The claim states a side (``"above"`` or ``"below"`` the null value or the threshold).

=========================  ===========================================================
verdict                    when
=========================  ===========================================================
consistent                 CI excludes the null on the claimed side and overlaps the
                           published CI (contains the published value if only a point was
                           published; any such CI if nothing was published)
stronger than published    CI excludes the null on the claimed side and lies entirely
                           beyond the published CI (farther from the null)
weaker than published      CI excludes the null on the claimed side and lies entirely
                           between the null and the published CI
inconclusive               CI includes the null and the published value (or nothing was
                           published to exclude)
not reproduced             CI includes the null and excludes the published value
no effect of the claimed   CI includes the null and excludes every effect at least as
size                       large as the specification's smallest effect of interest
contradicted               CI excludes the null on the opposite side
=========================  ===========================================================

"No effect of the claimed size" needs a smallest effect of interest (``smallest`` in
:class:`Rule`); without one, a CI that includes the null is inconclusive or not reproduced,
however narrow it is.

Effect modification is judged on the *modification contrast* of one joint model: the effect
in the stratum where the claim says it is stronger minus (ratio scales: divided by) the effect
in the other stratum. "Stronger" means farther from no effect on the claimed side, so the
contrast's claimed side is the claimed side of the effect itself, and the same table applies
with one addition: the contrast can be **consistent** only if the effect in the claimed stratum
itself excludes no effect on the claimed side; otherwise it is **inconclusive** (a difference
between two null effects does not show that an effect depends on a modifier).

Distances on ratio scales are compared on the log scale.

Examples
--------
>>> rule = Rule(kind="effect", direction="below", null=1.0, ratio_scale=True)
>>> ours = Estimate(0.48, 0.30, 0.78)
>>> judge_estimate(ours, rule, Published(0.34, 0.21, 0.56)).verdict
'consistent'
>>> judge_estimate(Estimate(0.08, 0.04, 0.19), rule, Published(0.34, 0.21, 0.56)).verdict
'stronger than published'
>>> judge_estimate(Estimate(0.9, 0.7, 1.2), rule, Published(0.34, 0.21, 0.56)).verdict
'not reproduced'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

CONSISTENT = "consistent"
STRONGER = "stronger than published"
WEAKER = "weaker than published"
INCONCLUSIVE = "inconclusive"
NOT_REPRODUCED = "not reproduced"
NO_EFFECT_OF_SIZE = "no effect of the claimed size"
CONTRADICTED = "contradicted"
NOT_ESTIMATED = "not estimated"
VERDICTS: tuple[str, ...] = (
    CONSISTENT,
    STRONGER,
    WEAKER,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NO_EFFECT_OF_SIZE,
    CONTRADICTED,
    NOT_ESTIMATED,
)
# the verdicts whose CI excludes no effect (or the threshold) on the claimed side
SUPPORTIVE = frozenset({CONSISTENT, STRONGER, WEAKER})

# The vocabulary, as the report and the README print it (a test keeps the README in step).
VOCABULARY: tuple[tuple[str, str], ...] = (
    (
        CONSISTENT,
        "the CI excludes no effect (or the threshold) on the claimed side and overlaps "
        "the published CI (contains the published value when only a value was published; any "
        "such CI when nothing comparable was published)",
    ),
    (
        STRONGER,
        "the CI excludes no effect on the claimed side and lies entirely beyond the "
        "published CI, farther from no effect",
    ),
    (
        WEAKER,
        "the CI excludes no effect on the claimed side and lies entirely between no effect "
        "and the published CI",
    ),
    (
        INCONCLUSIVE,
        "the CI includes both no effect and the published value (or nothing "
        "comparable was published): the data cannot tell",
    ),
    (NOT_REPRODUCED, "the CI includes no effect and excludes the published value"),
    (
        NO_EFFECT_OF_SIZE,
        "the CI includes no effect and excludes every effect as large as the specification's "
        "smallest effect of interest (a precise null, not a CI too wide to say anything)",
    ),
    (CONTRADICTED, "the CI excludes no effect on the opposite side of the claim"),
    (NOT_ESTIMATED, "the analysis could not be estimated (the reason is printed)"),
)
MODIFICATION_RULE = (
    "Effect modification is judged on the modification contrast of one joint model: the "
    "effect where the claim says it is stronger relative to the effect in the other stratum "
    "(a ratio of odds or hazard ratios, or a difference of differences). Its claimed side is "
    "the claimed side of the effect itself, and it can be consistent only if the effect in the "
    "claimed stratum itself excludes no effect on the claimed side; otherwise it is "
    "inconclusive. A published P for interaction alone gives no value to compare with."
)

Direction = Literal["above", "below"]
RuleKind = Literal["threshold", "effect", "modification"]
RULE_KINDS: tuple[str, ...] = ("threshold", "effect", "modification")
DIRECTIONS: tuple[str, ...] = ("above", "below")


@dataclass(frozen=True)
class Estimate:
    """Our estimate with its 95% CI (on the scale it is reported on)."""

    estimate: float
    conf_low: float
    conf_high: float


@dataclass(frozen=True)
class Published:
    """The published estimate; its CI when the source gives one."""

    estimate: float
    conf_low: float | None = None
    conf_high: float | None = None


@dataclass(frozen=True)
class Rule:
    """What the claim says: on which side of ``null`` the estimate should lie.

    ``kind`` is ``"threshold"`` (a level above or below a value, e.g. Ca:Mg > 2.8), ``"effect"``
    (a ratio or difference away from no effect) or ``"modification"`` (an effect stronger in one
    stratum of a modifier; judged on the modification contrast). ``ratio_scale`` compares
    distances on the log scale.
    """

    kind: RuleKind
    direction: Direction
    null: float
    ratio_scale: bool = False
    smallest: float | None = None  # the smallest effect of interest, on the claimed side


@dataclass(frozen=True)
class Judgement:
    """A verdict and the reason, stated with the numbers the rule saw."""

    verdict: str
    why: str


def _side(rule: Rule, x: float) -> float:
    """Signed distance from the null: positive on the claimed side (log scale for ratios)."""
    if rule.ratio_scale:
        if x <= 0 or rule.null <= 0:
            return math.nan
        d = math.log(x) - math.log(rule.null)
    else:
        d = x - rule.null
    return d if rule.direction == "above" else -d


def ci_side(ours: Estimate, rule: Rule) -> int:
    """Where the CI lies: ``1`` wholly on the claimed side of the null (or threshold), ``-1``
    wholly on the other side, ``0`` across it (or not estimated).

    >>> ci_side(Estimate(0.65, 0.49, 0.85), Rule("effect", "below", 1.0, True))
    1
    """
    lo, hi = sorted((_side(rule, ours.conf_low), _side(rule, ours.conf_high)))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0
    return 1 if lo > 0 else -1 if hi < 0 else 0


def _null_word(rule: Rule, show: Callable[[float], str]) -> str:
    if rule.kind == "threshold":
        return show(rule.null)
    return "no effect" if rule.kind == "effect" else "no difference between the strata"


def judge_estimate(
    ours: Estimate,
    rule: Rule,
    published: Published | None,
    show: Callable[[float], str] = "{:g}".format,
) -> Judgement:
    """Apply the verdict table (module docstring) to one estimate.

    Parameters
    ----------
    ours : Estimate
        Our estimate and 95% CI.
    rule : Rule
        The claimed side of the null value (or threshold).
    published : Published or None
        The published estimate; ``None`` when the source gives no comparable number (a
        P value only, or an ecological correlation).
    show : callable
        Formats a value for the reason (e.g. as a percentage).
    """
    values = (ours.estimate, ours.conf_low, ours.conf_high)
    if not all(isinstance(v, float | int) and math.isfinite(v) for v in values):
        return Judgement(NOT_ESTIMATED, "no finite estimate and CI")
    lo, hi = sorted((_side(rule, ours.conf_low), _side(rule, ours.conf_high)))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return Judgement(NOT_ESTIMATED, "the CI is not on the rule's scale")
    null = _null_word(rule, show)
    side = rule.direction
    modification = rule.kind == "modification"
    if hi < 0:
        if modification:
            return Judgement(
                CONTRADICTED,
                "the effect is stronger in the other stratum: the "
                "contrast's whole CI lies on the other side of no difference",
            )
        return Judgement(
            CONTRADICTED, f"the whole CI lies on the other side of {null} (the claim: {side})"
        )
    if lo <= 0 and rule.smallest is not None and hi < _side(rule, rule.smallest):
        also = "" if published is None else f" (the published {show(published.estimate)})"
        return Judgement(
            NO_EFFECT_OF_SIZE,
            f"the CI includes {null} and excludes every effect of {show(rule.smallest)} or more "
            f"on the claimed side{also}",
        )
    if lo <= 0:
        if published is None:
            return Judgement(
                INCONCLUSIVE,
                f"the CI includes {null}, and no published value could be excluded",
            )
        p = _side(rule, published.estimate)
        if lo <= p <= hi:
            return Judgement(
                INCONCLUSIVE,
                f"the CI includes both {null} and the published {show(published.estimate)}",
            )
        return Judgement(
            NOT_REPRODUCED,
            f"the CI includes {null} and excludes the published {show(published.estimate)}",
        )
    claimed = (
        "the effect is stronger in the claimed stratum: the contrast's whole CI lies on the "
        "claimed side of no difference"
        if modification
        else f"the whole CI lies {side} {null}"
    )
    if published is None:
        return Judgement(CONSISTENT, claimed + " (no published value to compare)")
    if published.conf_low is not None and published.conf_high is not None:
        p_lo, p_hi = sorted((_side(rule, published.conf_low), _side(rule, published.conf_high)))
        what = f"the published CI {show(published.conf_low)}–{show(published.conf_high)}"
    else:
        p_lo = p_hi = _side(rule, published.estimate)
        what = f"the published {show(published.estimate)}"
    if lo <= p_hi and hi >= p_lo:
        return Judgement(CONSISTENT, f"{claimed} and overlaps {what}")
    if lo > p_hi:
        return Judgement(STRONGER, f"{claimed}, farther from {null} than {what}")
    return Judgement(WEAKER, f"{claimed}, but closer to {null} than {what}")


def judge_modification(
    contrast: Estimate, claimed_stratum: Estimate, rule: Rule, published: Published | None
) -> Judgement:
    """Effect modification: the contrast between strata, and the effect where it should be.

    ``contrast`` is the claimed stratum's effect minus (ratio scales: divided by) the other
    stratum's, from one joint model; ``rule.null`` is 0 (1 on ratio scales). ``claimed_stratum``
    is the effect in the stratum where the claim says it is stronger; the effect's null is the
    same as the contrast's.

    >>> rule = Rule(kind="modification", direction="below", null=1.0, ratio_scale=True)
    >>> contrast, claimed = Estimate(1.25, 1.08, 1.45), Estimate(0.97, 0.9, 1.05)
    >>> judge_modification(contrast, claimed, rule, None).verdict
    'contradicted'
    """
    first = judge_estimate(contrast, rule, published)
    if first.verdict not in SUPPORTIVE:
        return first
    effect = judge_estimate(
        claimed_stratum, Rule("effect", rule.direction, rule.null, rule.ratio_scale), None
    )
    if effect.verdict != CONSISTENT:
        return Judgement(
            INCONCLUSIVE,
            f"{first.why}, but the effect in the claimed stratum "
            f"does not itself exclude no effect ({effect.why})",
        )
    return first
