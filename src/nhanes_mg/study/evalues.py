"""E-values (VanderWeele & Ding, Ann Intern Med 2017;167:268-74) for odds and hazard ratios.

The E-value is the minimum strength of association, on the risk-ratio scale, that an
unmeasured confounder would need with both the exposure and the outcome to explain an
estimate away; the E-value of the confidence limit nearer the null says the same for the
interval (1 when the interval already includes the null). A ratio below 1 is inverted first.

Odds and hazard ratios are first put on the risk-ratio scale, as R's ``EValue`` package does:
when the outcome is rare (under :data:`RARE` of the analysed sample at the end of follow-up) the
ratio stands for the risk ratio; when it is common, ``RR ≈ √OR`` and
``RR ≈ (1 − 0.5^√HR) / (1 − 0.5^√(1/HR))``. Here "common" is judged on the survey-weighted
share of the analysed sample with the outcome (the population's prevalence, not the sample's).
Written by hand: a dozen lines of arithmetic, and no maintained Python package offers them.

Examples
--------
>>> round(e_value(0.80), 3)  # the leukemia example of VanderWeele & Ding: RR 0.80
1.809
>>> ev = evalues(0.57, 0.33, 0.99, measure="odds ratio", outcome_share=0.05)
>>> round(ev.estimate, 2), round(ev.limit, 2)
(2.9, 1.11)
>>> evalues(1.10, 0.95, 1.30, measure="hazard ratio", outcome_share=0.3).limit
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass

RARE = 0.15  # VanderWeele & Ding: an outcome under 15% at the end of follow-up is rare


def e_value(rr: float) -> float:
    """The E-value of a risk ratio (a ratio below 1 is inverted)."""
    if not rr > 0:
        raise ValueError(f"a risk ratio must be positive, not {rr}")
    rr = 1 / rr if rr < 1 else rr
    return rr + math.sqrt(rr * (rr - 1))


def as_risk_ratio(ratio: float, measure: str, common: bool) -> float:
    """An odds or hazard ratio on the risk-ratio scale (unchanged for a rare outcome)."""
    if not common or measure == "risk ratio":
        return ratio
    if measure == "odds ratio":
        return math.sqrt(ratio)
    if measure == "hazard ratio":
        return (1 - 0.5 ** math.sqrt(ratio)) / (1 - 0.5 ** math.sqrt(1 / ratio))
    raise ValueError(f"no E-value for a {measure}")


@dataclass(frozen=True)
class EValues:
    """The E-values of an estimate and of its confidence limit nearer the null."""

    estimate: float
    limit: float
    common: bool  # the outcome was common: the ratio was converted to a risk ratio

    def text(self) -> str:
        """``E-value 2.9 (confidence limit 1.1)``, as the report prints it."""
        return f"E-value {self.estimate:.2f} (confidence limit {self.limit:.2f})"


def evalues(
    estimate: float, conf_low: float, conf_high: float, measure: str, outcome_share: float
) -> EValues:
    """E-values of a ratio and its interval; ``outcome_share`` decides rare or common."""
    common = outcome_share >= RARE
    rr, low, high = (as_risk_ratio(v, measure, common) for v in (estimate, conf_low, conf_high))
    if rr >= 1:  # the limit nearer the null: the lower one (1 when it is below the null)
        return EValues(e_value(rr), e_value(low) if low > 1 else 1.0, common)
    return EValues(e_value(rr), e_value(high) if high < 1 else 1.0, common)
