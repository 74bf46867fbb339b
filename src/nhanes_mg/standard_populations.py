"""Standard populations for direct age standardization: the data, declared once.

The numbers and their sources are documented in :mod:`nhanes_mg.survey.standardize` (which
re-exports them). This module holds data only, so that parsing a specification that names a
standard does not load the survey engine.
"""

from __future__ import annotations

US2000_ADULT: dict[str, int] = {"20-39": 77_670, "40-59": 72_816, "60+": 45_364}
"""2000 U.S. standard population (thousands), NCHS adult NHANES age groups."""

US2000_STANDARD: dict[str, int] = {
    "00": 3_795,
    "01-04": 15_192,
    "05-14": 39_977,
    "15-24": 38_077,
    "25-34": 37_233,
    "35-44": 44_659,
    "45-54": 37_030,
    "55-64": 23_961,
    "65-74": 18_136,
    "75-84": 12_315,
    "85+": 4_259,
}
"""2000 U.S. standard population (thousands), all ages in 11 groups ("00" = under 1 year)."""

US2000_ADULT_BOUNDS: tuple[float, ...] = (20, 40, 60)
"""Lower age bound (years) of each :data:`US2000_ADULT` group, in order; the last is open."""

US2000_STANDARD_BOUNDS: tuple[float, ...] = (0, 1, 5, 15, 25, 35, 45, 55, 65, 75, 85)
"""Lower age bound (years) of each :data:`US2000_STANDARD` group, in order; the last is open."""
