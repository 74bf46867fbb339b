"""The status rule of the validation gallery: our estimate beside a published one, in words.

Everything is on the published scale (percent when the source prints percentages, mg/day …).

- **published interval**: the source's 95% CI when it prints one; else, when it prints an SE,
  published ± 1.96 SE (normal approximation); else none.
- **combined SE**: √(our SE² + published SE² + (u/√12)²). The published SE is the printed one,
  else (high − low) / (2 × 1.96) from a printed CI, else 0. ``u`` is the rounding unit of the
  printed value (0.1 for "57.6%", 1 for "49%"): a value printed to ``u`` is the true one plus a
  rounding error spread evenly over ±u/2, whose SD is u/√12. It matters only when the source
  gives a bare rounded number (then the published value is otherwise taken as exact).
- **z** = (ours − published) / combined SE.
- **sample size**: when the source prints its analytic n, ours must lie within
  :data:`N_TOLERANCE` (2%) of it. A larger gap shows a different population (pregnant women
  kept, another age range, another subsample), and agreement of the estimates then proves
  nothing about the definition: the status is *definition differs*, whatever the estimates.
  So is a target estimated on fewer cycles than its source used (a cycle without a table it
  needs, such as a linked-mortality file; the gallery applies this).

Status, the first that holds:

| status | when |
| --- | --- |
| definition differs | ours is > 2% from the source's printed n, or lacks cycles it used |
| within the published CI | our estimate lies inside the published interval |
| within two combined SEs | \\|z\\| ≤ 2 |
| off | otherwise |
| not estimated | we have no estimate (the reason says why) |

>>> judge(57.6, None, None, None, 58.0, 1.2, rounding=0.1).status
'within two combined SEs'
>>> judge(7.6, None, 6.0, 9.6, 8.1, 0.7, rounding=0.1).status
'within the published CI'
>>> r = judge(49.0, None, None, None, 44.0, 1.0, rounding=1.0)
>>> r.status, round(r.z, 2)
('off', -4.8)
>>> judge(49.0, None, None, None, None, None).status
'not estimated'
>>> judge(838.0, 25.0, None, None, 830.0, 20.0, n=1369, published_n=914).status
'definition differs'
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054

WITHIN_CI = "within the published CI"
WITHIN_2SE = "within two combined SEs"
OFF = "off"
DEFINITION_DIFFERS = "definition differs"
NOT_ESTIMATED = "not estimated"
STATUSES = (WITHIN_CI, WITHIN_2SE, OFF, DEFINITION_DIFFERS, NOT_ESTIMATED)

N_TOLERANCE = 0.02
"""Largest relative gap between our n and a printed n that still counts as the same population."""

# The rule in words, one line per status (the README and the report print these).
RULES = (
    (DEFINITION_DIFFERS, "the source prints its sample size and ours differs from it by more "
     f"than {N_TOLERANCE:.0%}, or ours leaves out cycles the source used: another "
     "population, so no agreement is claimed"),
    (WITHIN_CI, "our estimate lies inside the published 95% CI (published ± 1.96 SE when the "
     "source prints an SE, not a CI)"),
    (WITHIN_2SE, "|ours − published| ≤ 2 × √(our SE² + published SE² + (u/√12)²), u the "
     "rounding unit of the published value"),
    (OFF, "otherwise; the likely reason is recorded in validation/expected.toml"),
    (NOT_ESTIMATED, "no estimate of ours (the reason says why)"),
)  # fmt: skip


@dataclass(frozen=True)
class Judged:
    """The status of one target and the numbers behind it."""

    status: str
    difference: float | None = None  # ours − published
    z: float | None = None
    combined_se: float | None = None
    low: float | None = None  # the published interval the rule used
    high: float | None = None
    differs: tuple[str, ...] = ()  # why the definition differs, in words (empty otherwise)


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


def n_differs(n: int | None, published_n: int | None) -> bool:
    """Whether our n is more than :data:`N_TOLERANCE` away from the source's printed n.

    >>> n_differs(16741, 16110), n_differs(18760, 18758), n_differs(None, 914)
    (True, False, False)
    """
    if n is None or not published_n:
        return False
    return abs(n - published_n) > N_TOLERANCE * published_n


def published_interval(
    published: float, published_se: float | None, low: float | None, high: float | None
) -> tuple[float | None, float | None]:
    """The printed CI, else published ± 1.96 × the printed SE, else (None, None).

    >>> [round(x, 2) for x in published_interval(838.0, 25.0, None, None)]
    [789.0, 887.0]
    """
    if _finite(low) and _finite(high):
        return low, high
    if _finite(published_se):
        assert published_se is not None
        return published - Z95 * published_se, published + Z95 * published_se
    return None, None


def combined_se(
    our_se: float | None,
    published_se: float | None,
    low: float | None = None,
    high: float | None = None,
    rounding: float = 0.0,
) -> float | None:
    """√(our SE² + published SE² + (rounding/√12)²); the published SE from a printed CI when
    no SE is printed. None without our SE.

    >>> round(combined_se(1.2, None, rounding=0.1), 4)
    1.2003
    >>> round(combined_se(0.7, None, 6.0, 9.6), 4)
    1.1547
    """
    if not _finite(our_se):
        return None
    assert our_se is not None
    pub = 0.0
    if _finite(published_se):
        assert published_se is not None
        pub = published_se
    elif _finite(low) and _finite(high):
        assert low is not None and high is not None
        pub = (high - low) / (2 * Z95)
    return math.sqrt(our_se**2 + pub**2 + (rounding / math.sqrt(12.0)) ** 2)


def judge(
    published: float,
    published_se: float | None,
    low: float | None,
    high: float | None,
    ours: float | None,
    our_se: float | None,
    rounding: float = 0.0,
    *,
    n: int | None = None,
    published_n: int | None = None,
    left_out: tuple[str, ...] = (),
) -> Judged:
    """Apply the status rule (module docstring) on the published scale.

    ``n`` and ``published_n``: our sample size and the source's, when it prints one.
    ``left_out``: the source's cycles ours could not use, each with why ("2001-2002 (no
    linked mortality file)").

    >>> judge(1.65, None, 1.13, 2.4, 2.0, 0.2, left_out=("2001-2002 (no file)",)).differs
    ('cycles of the source left out: 2001-2002 (no file)',)
    """
    lo, hi = published_interval(published, published_se, low, high)
    if not _finite(ours):
        return Judged(NOT_ESTIMATED, low=lo, high=hi)
    assert ours is not None
    diff = ours - published
    se = combined_se(our_se, published_se, low, high, rounding)
    z = diff / se if se else None
    differs = []
    if left_out:
        differs.append(f"cycles of the source left out: {'; '.join(left_out)}")
    if n_differs(n, published_n):
        differs.append(f"our n {n:,} vs the source's {published_n:,}")
    if differs:
        status = DEFINITION_DIFFERS
    elif lo is not None and hi is not None and lo <= ours <= hi:
        status = WITHIN_CI
    elif z is not None and abs(z) <= 2.0:
        status = WITHIN_2SE
    else:
        status = OFF
    return Judged(status, diff, z, se, lo, hi, tuple(differs))
