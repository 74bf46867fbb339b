"""The 2006/2007 seam of the supplement columns: the tidy table and its figure, on a toy frame
and on the real mirror (2001-2006 from the careful derivation, 2007-2018 from DSQTOT)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nhanes_mg.derive import BuildResult
from nhanes_mg.derive.seam import (
    DSQ2_DERIVATION,
    DSQTOT_DERIVATION,
    SEAM_SCHEMA,
    derivation_of,
    supplement_seam,
    supplement_seam_figure,
)
from test_derive_supplements import careful_frame


def _toy() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for cycle, stratum in (("2005-2006", 10), ("2007-2008", 20)):
        for s in range(3):
            for psu in (1, 2):
                for i in range(20):
                    mg = float(rng.choice([0.0, 0.0, 50.0, 100.0, 250.0]))
                    rows.append(
                        {
                            "cycle": cycle,
                            "sdmvstra": stratum + s,
                            "sdmvpsu": psu,
                            "wt_mec": float(rng.uniform(500, 3000)) if i % 10 else 0.0,
                            "age": 15.0 if i % 7 == 0 else 20.0 + i,
                            "mg_supp": mg,
                            "ca_supp": 2 * mg + (10.0 if i % 3 == 0 else 0.0),
                        }
                    )
    frame = pl.DataFrame(rows)
    # a user whose amount is unknown, and one whose DSD010 is unanswered
    unknown = (pl.col("cycle") == "2005-2006") & (pl.col("sdmvstra") == 10)
    return frame.with_columns(
        pl.when(unknown & (pl.int_range(pl.len()) == 3))
        .then(None)
        .otherwise("mg_supp")
        .alias("mg_supp"),
        (pl.col("mg_supp") > 0).alias("mg_supp_user"),
    ).with_columns(
        pl.when(unknown & (pl.int_range(pl.len()) == 3))
        .then(True)
        .otherwise("mg_supp_user")
        .alias("mg_supp_user")
    )


def _weighted(frame: pl.DataFrame, value: pl.Expr, where: pl.Expr) -> float:
    sub = frame.filter(where & (pl.col("wt_mec") > 0) & (pl.col("age") >= 20))
    return float((sub.select(value * pl.col("wt_mec")).sum() / sub["wt_mec"].sum()).item())


def test_seam_table_on_a_toy_frame() -> None:
    frame = _toy()
    seam = supplement_seam(frame)
    assert seam.schema == pl.Schema(SEAM_SCHEMA)
    assert seam.height == 2 * 2 * 4
    assert set(seam["statistic"]) == {"mean_all", "mean_users", "share_users", "share_unknown"}
    derivations = dict(zip(seam["cycle"], seam["derivation"], strict=True))
    assert derivations == {"2005-2006": DSQ2_DERIVATION, "2007-2008": DSQTOT_DERIVATION}

    def get(cycle: str, nutrient: str, statistic: str) -> dict[str, object]:
        return seam.filter(
            (pl.col("cycle") == cycle)
            & (pl.col("nutrient") == nutrient)
            & (pl.col("statistic") == statistic)
        ).row(0, named=True)

    for cycle in ("2005-2006", "2007-2008"):
        c = pl.col("cycle") == cycle
        known = c & pl.col("mg_supp").is_not_null()
        mean_all = get(cycle, "magnesium", "mean_all")
        assert mean_all["estimate"] == pytest.approx(_weighted(frame, pl.col("mg_supp"), known))
        assert mean_all["std_error"] > 0
        users = known & (pl.col("mg_supp") > 0)
        assert get(cycle, "magnesium", "mean_users")["estimate"] == pytest.approx(
            _weighted(frame, pl.col("mg_supp"), users)
        )
        share = get(cycle, "magnesium", "share_users")
        # the user flag counts the user whose amount is unknown
        assert share["estimate"] == pytest.approx(
            _weighted(frame, pl.col("mg_supp_user").cast(pl.Float64), c)
        )
        # calcium has no user flag: an amount > 0
        assert get(cycle, "calcium", "share_users")["estimate"] == pytest.approx(
            _weighted(frame, (pl.col("ca_supp") > 0).cast(pl.Float64), c)
        )
        n_adults = frame.filter(c & (pl.col("wt_mec") > 0) & (pl.col("age") >= 20)).height
        assert get(cycle, "magnesium", "share_unknown")["n"] == n_adults
    assert get("2005-2006", "magnesium", "share_unknown")["estimate"] > 0
    assert get("2007-2008", "magnesium", "share_unknown")["estimate"] == 0


def test_derivation_labels() -> None:
    assert derivation_of("2001-2002") == derivation_of("2005-2006") == DSQ2_DERIVATION
    assert derivation_of("2007-2008") == derivation_of("2017-2018") == DSQTOT_DERIVATION


def test_seam_figure_is_written(tmp_path: Path) -> None:
    seam = supplement_seam(_toy())
    path = supplement_seam_figure(seam, tmp_path / "fig" / "seam.png")
    assert path == tmp_path / "fig" / "seam.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 20_000


@pytest.fixture(scope="module")
def real_seam(nhanes_data_dir: Path, build_result: BuildResult) -> pl.DataFrame:
    return supplement_seam(careful_frame(nhanes_data_dir, build_result.frame))


def _estimates(seam: pl.DataFrame, nutrient: str, statistic: str) -> dict[str, float]:
    rows = seam.filter((pl.col("nutrient") == nutrient) & (pl.col("statistic") == statistic))
    return dict(zip(rows["cycle"], rows["estimate"], strict=True))


@pytest.mark.mirror
def test_real_seam_table(real_seam: pl.DataFrame) -> None:
    """The numbers the audit reported (adults 20+, wt_mec)."""
    seam = real_seam
    assert seam.height == 9 * 2 * 4
    expected = {
        ("magnesium", "mean_all"): {"2005-2006": 37.71, "2007-2008": 35.23, "2017-2018": 32.62},
        ("magnesium", "share_users"): {"2005-2006": 0.4009, "2007-2008": 0.3427},
        ("calcium", "mean_all"): {"2005-2006": 176.42, "2007-2008": 178.51, "2017-2018": 124.65},
        ("calcium", "share_users"): {"2005-2006": 0.5156, "2007-2008": 0.4444},
        ("calcium", "share_unknown"): {"2001-2002": 0.1493, "2005-2006": 0.0088},
    }
    for (nutrient, statistic), values in expected.items():
        got = _estimates(seam, nutrient, statistic)
        for cycle, value in values.items():
            assert got[cycle] == pytest.approx(value, abs=6e-3 if value > 1 else 6e-5), (
                nutrient,
                statistic,
                cycle,
            )


@pytest.mark.mirror
def test_real_seam_steps(real_seam: pl.DataFrame) -> None:
    """Means among all adults run on across 2006/2007; the shares of users step down there
    (more than 3 SE, and more than the next step) — a discontinuity the figure shows."""
    seam = real_seam

    def step(nutrient: str, statistic: str) -> tuple[float, float]:
        rows = seam.filter((pl.col("nutrient") == nutrient) & (pl.col("statistic") == statistic))
        a = rows.filter(pl.col("cycle") == "2005-2006").row(0, named=True)
        b = rows.filter(pl.col("cycle") == "2007-2008").row(0, named=True)
        return b["estimate"] - a["estimate"], float(np.hypot(a["std_error"], b["std_error"]))

    for nutrient in ("magnesium", "calcium"):
        diff, se = step(nutrient, "mean_all")
        assert abs(diff / se) < 1, nutrient
        diff, se = step(nutrient, "share_users")
        assert diff / se < -3, nutrient
        later = _estimates(seam, nutrient, "share_users")
        assert abs(later["2009-2010"] - later["2007-2008"]) < abs(diff) / 3


@pytest.mark.mirror
def test_real_seam_figure(real_seam: pl.DataFrame, tmp_path: Path) -> None:
    path = supplement_seam_figure(real_seam, tmp_path / "seam.png")
    assert path.stat().st_size > 50_000
