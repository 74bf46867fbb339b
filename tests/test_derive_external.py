"""External check: vitamin D status of US adults 2001-2010 against Liu et al. 2018.

Liu et al., Br J Nutr 2018 (NHANES 2001-2010, adults ≥ 18, n = 26,010): 25(OH)D < 50 nmol/L
28.9 %, 50–< 75 nmol/L 41.4 %. They used the LC-MS/MS-equivalent (standardized) series, as this
package does, with MEC weights pooled over five cycles.

Tolerance: ±3 percentage points on the point estimate. The design-based 95 % CI of the share is
about ±2 points (half-width ≈ 2.0 here), so 3 points covers sampling-free differences that remain
between two analyses of the same public data — CDC's re-releases of the LC-MS/MS-equivalent
values (VID_B/C/D were revised after 2018), the analytic sample (ours: all adults ≥ 18 with a
value; Liu's exclusions are not fully stated) — while a wrong assay series (RIA vs LC-MS/MS
shifts the share by > 5 points), wrong weights (÷ 5 missed, or interview weights) or wrong
units would fail it. The sample size is checked exactly: it is the sharpest sign that the
analytic sample matches.
"""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.derive import BuildResult
from nhanes_mg.survey import SurveyDesign, svyciprop

pytestmark = pytest.mark.mirror

LIU_BELOW_50 = 0.289
LIU_50_75 = 0.414
LIU_N = 26010
TOLERANCE = 0.03


@pytest.fixture(scope="module")
def liu_frame(build_result: BuildResult) -> pl.DataFrame:
    frame = build_result.frame
    return frame.filter(pl.col("cycle").cast(pl.Utf8) <= "2009-2010")


def test_liu_2018_share_below_50(liu_frame: pl.DataFrame) -> None:
    domain = (pl.col("age") >= 18) & pl.col("vitd_25oh_nmol").is_not_null()
    sample = liu_frame.filter(domain)
    assert sample.height == LIU_N
    assert liu_frame["cycle"].n_unique() == 5
    w = sample["wt_mec"] / 5
    share = float((w * (sample["vitd_25oh_nmol"] < 50)).sum() / w.sum())
    mid = float((w * sample["vitd_25oh_nmol"].is_between(50, 75, closed="left")).sum() / w.sum())
    assert share == pytest.approx(LIU_BELOW_50, abs=TOLERANCE)
    assert mid == pytest.approx(LIU_50_75, abs=TOLERANCE)
    # the design-based interval
    design = SurveyDesign.pooled(
        liu_frame, weights="wt_mec", allow_zero_weights=True, lonely_psu="adjust"
    )
    result = svyciprop(pl.col("vitd_25oh_nmol") < 50, design.subset(domain), na_rm=True)
    assert float(result.estimate[0]) == pytest.approx(share, rel=1e-9)
    lo, hi = float(result.conf_low[0]), float(result.conf_high[0])
    assert lo < LIU_BELOW_50 < hi
    assert hi - lo < 0.06
