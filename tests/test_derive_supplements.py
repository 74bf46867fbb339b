"""Supplements 2001-2006: DSQ2 × DSPI × DSII on toy frames, and by hand on the real mirror."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from nhanes_mg import read
from nhanes_mg.derive import BuildResult, supplements


def _toy() -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    dspi = pl.DataFrame(
        {
            "DSDPID": [1.0, 2.0, 3.0, 4.0],
            "DSDSUPID": ["1000000001", "1000000002", "1000000003", ""],
            "DSDSERVQ": [1.0, 2.0, None, 1.0],
        }
    )
    dsii = pl.DataFrame(
        {
            "DSDPID": [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0],
            "DSDINGR": [
                "MAGNESIUM",
                "CALCIUM",
                "VITAMIN D",
                "MAGNESIUM",
                "CALCIUM",
                "ZINC",
                "MAGNESIUM",
            ],
            "DSDQTY": [100.0, 200.0, 400.0, 500.0, 1000.0, 15.0, 50.0],
            "DSDUNIT": [1.0, 1.0, 2.0, 1.0, 1.0, 1.0, 21.0],  # unit 21 is not mg: left out
        }
    )
    dsq2 = pl.DataFrame(
        {
            "SEQN": [10, 10, 11, 12, 13, 14],
            "DSDSUPID": [
                1000000001.0,
                1000000002.0,
                1000000001.0,
                1000000003.0,
                6666666666.0,
                1000000001.0,
            ],
            "DSD103": [30.0, 15.0, 9999.0, 30.0, 30.0, 10.0],
            "DSD122Q": [1.0, 1.0, 1.0, 2.0, 1.0, 2.0],
        }
    )
    return dsq2.lazy(), dsii.lazy(), dspi.lazy()


def test_toy_supplement_amounts() -> None:
    dsq2, dsii, dspi = _toy()
    per_unit = supplements.ingredient_amounts(dsii, dspi)
    out = (
        supplements.supp_from_dsq2(dsq2, per_unit, supplements.known_supids(dspi))
        .collect()
        .sort("SEQN")
    )
    rows = {r["SEQN"]: r for r in out.to_dicts()}
    # 10: product 1 daily (100 mg) + product 2 half the days, 1 of its 2-tablet serving (250 mg)
    assert rows[10]["mg_supp"] == pytest.approx(100.0 + 15 * 1 * 250.0 / 30)
    assert rows[10]["ca_supp"] == pytest.approx(200.0 + 15 * 500.0 / 30)
    assert rows[10]["vitd_supp"] == pytest.approx(400.0 / 40)  # IU -> µg
    # 11: days unknown (9999) for a product holding Mg -> unknown, not zero
    assert rows[11]["mg_supp"] is None
    # 12: a product without Mg in mg units -> 0
    assert rows[12]["mg_supp"] == 0.0
    # 13: a product DSPI does not know adds nothing and is counted
    assert rows[13]["mg_supp"] == 0.0
    assert rows[13]["ds_unmatched_products"] == 1
    # 14: 10 days × 2 tablets × 100 mg / 30
    assert rows[14]["mg_supp"] == pytest.approx(10 * 2 * 100.0 / 30)


def _by_hand(dd: Path, cycle: str, seqn: int) -> float:
    """Mg from supplements for one participant, recomputed row by row in plain Python."""
    dsq2 = read.load_table(dd, "DSQ2", cycle).filter(pl.col("SEQN") == seqn).to_dicts()
    dspi = read.load_ingredient_table(dd, "DSPI")
    dsii = read.load_ingredient_table(dd, "DSII")
    total = 0.0
    for product in dsq2:
        supid = str(int(product["DSDSUPID"]))
        hits = dspi.filter(pl.col("DSDSUPID").str.strip_chars() == supid).to_dicts()
        if not hits:
            continue
        pid, servq = hits[0]["DSDPID"], hits[0]["DSDSERVQ"] or 1.0
        mg = sum(
            r["DSDQTY"]
            for r in dsii.filter(pl.col("DSDPID") == pid).to_dicts()
            if r["DSDINGR"] == "MAGNESIUM" and r["DSDUNIT"] == 1.0
        )
        if mg:
            total += product["DSD103"] * product["DSD122Q"] * mg / servq / 30.0
    return total


@pytest.mark.mirror
@pytest.mark.parametrize("cycle", ["2001-2002", "2003-2004", "2005-2006"])
def test_supplement_mg_by_hand(
    nhanes_data_dir: Path, build_result: BuildResult, cycle: str
) -> None:
    dd = nhanes_data_dir
    frame = build_result.frame.filter(pl.col("cycle") == cycle)
    users = frame.filter(pl.col("mg_supp") > 0).sort("seqn")
    assert users.height > 500
    # a few participants: the first, a middle one and the largest amount
    picks = [
        users["seqn"][0],
        users["seqn"][users.height // 2],
        users.sort("mg_supp")["seqn"][-1],
    ]
    for seqn in picks:
        expected = _by_hand(dd, cycle, int(seqn))
        got = frame.filter(pl.col("seqn") == seqn)["mg_supp"][0]
        assert got == pytest.approx(expected, rel=1e-9), seqn
    # non-users (DSD010 == 2, no DSQ2 rows) get 0, not null
    q1 = read.load_table(dd, "DSQ1", cycle)
    non_users = q1.filter(pl.col("DSD010") == 2)["SEQN"]
    no_rows = frame.filter(
        pl.col("seqn").is_in(non_users.implode()) & pl.col("ds_products").is_null()
    )
    assert no_rows.height > 1000
    assert (no_rows["mg_supp"] == 0).all()
