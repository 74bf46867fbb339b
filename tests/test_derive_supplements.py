"""Supplements 2001-2006: DSQ2 × DSPI × DSII (× DSBI).

Toy frames for each rule of :func:`nhanes_mg.derive.supplements.derive_supplements` (unit
reconciliation, the daily-servings limit, unmatched products, compounds, blends, the flag) and
of the legacy derivation; on the real mirror, participants recomputed by hand in plain Python
and the flags and counts measured on the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from nhanes_mg.data import read
from nhanes_mg.derive import BuildResult, supplements
from nhanes_mg.derive.supplements import SUPP_QUALITY_LEVELS

DSQ2_CYCLES = ("2001-2002", "2003-2004", "2005-2006")


# ------------------------------------------------------------------------ legacy derivation
# ------------------------------------------------------------------------ careful derivation
# DSPI serving units: 18 tablet, 19 teaspoon/liquid, 24 scoop/powder, 27 chew
# DSD122U reported units: 1 tablets, 7 mL, 11 tablespoons, 12 teaspoons, 20 chews, 21 scoop
PRODUCTS = {
    # supid: (DSDPID, DSDSERVQ, DSDSERVU, [(DSDIID, DSDINGR, DSDQTY, DSDUNIT, DSDCAT)])
    "1000000100": (1, 1.0, 18, [(11, "MAGNESIUM", 100.0, 1, 2), (12, "CALCIUM", 200.0, 1, 2)]),
    "1000000200": (2, 1.0, 19, [(21, "MAGNESIUM", 50.0, 1, 2), (22, "VITAMIN D", 400.0, 2, 1)]),
    # an antacid: compounds only (NCHS fractions 0.40 and 0.417)
    "1000000300": (
        3,
        2.0,
        18,
        [(31, "CALCIUM CARBONATE", 550.0, 1, 2), (32, "MAGNESIUM HYDROXIDE", 110.0, 1, 2)],
    ),
    # element and compound on one label: counted once (the element)
    "1000000400": (
        4,
        1.0,
        18,
        [(41, "CALCIUM", 100.0, 1, 2), (42, "CALCIUM L-THREONATE", 775.0, 1, 2)],
    ),
    # a fibre laxative: calcium polycarbophil is "other" for NCHS, not a calcium source
    "1000000500": (5, 1.0, 18, [(51, "CALCIUM POLYCARBOPHIL", 625.0, 1, 4)]),
    # calcium without a usable amount: a compound without an NCHS fraction
    "1000000600": (6, 1.0, 18, [(61, "CORAL CALCIUM", 1000.0, 1, 2)]),
    # magnesium only in a proprietary blend (DSBI component, no amount)
    "1000000700": (7, 1.0, 24, [(71, "MINERAL BLEND", 500.0, 1, None)]),
    # a powder labelled per scoop, and a chewable labelled per chew
    "1000000800": (8, 1.0, 24, [(81, "MAGNESIUM", 100.0, 1, 2)]),
    "1000000900": (9, 2.0, 27, [(91, "CALCIUM", 500.0, 1, 2)]),
    # a product without Mg/Ca/vitamin D
    "1000001000": (10, 1.0, 18, [(101, "ZINC", 15.0, 1, 2)]),
}


def _database() -> tuple[pl.LazyFrame, pl.LazyFrame, pl.LazyFrame]:
    dspi = pl.DataFrame(
        {
            "DSDPID": [float(p[0]) for p in PRODUCTS.values()],
            "DSDSUPID": list(PRODUCTS),
            "DSDSERVQ": [p[1] for p in PRODUCTS.values()],
            "DSDSERVU": [float(p[2]) for p in PRODUCTS.values()],
        }
    )
    ingredients = [(float(p[0]), *i) for p in PRODUCTS.values() for i in p[3]]
    dsii = pl.DataFrame(
        {
            "DSDPID": [i[0] for i in ingredients],
            "DSDIID": [float(i[1]) for i in ingredients],
            "DSDINGR": [i[2] for i in ingredients],
            "DSDQTY": [i[3] for i in ingredients],
            "DSDUNIT": [float(i[4]) for i in ingredients],
            "DSDCAT": [None if i[5] is None else float(i[5]) for i in ingredients],
        },
        schema_overrides={"DSDCAT": pl.Float64},
    )
    dsbi = pl.DataFrame(
        {
            "DSDIID": [71.0, 71.0],
            "DSDINGR": ["MINERAL BLEND", "MINERAL BLEND"],
            "DSDBCNAM": ["MAGNESIUM CITRATE", "ZINC GLUCONATE"],
            "DSDBCCAT": [2.0, 2.0],
        }
    )
    return dsii.lazy(), dspi.lazy(), dsbi.lazy()


def _dsq2(rows: list[tuple[int, str, float | None, float | None, float | None]]) -> pl.LazyFrame:
    """(SEQN, supid, DSD103 days, DSD122Q quantity, DSD122U unit) per reported product."""
    return pl.DataFrame(
        {
            "SEQN": [r[0] for r in rows],
            "DSDSUPID": [float(r[1]) for r in rows],
            "DSD103": [r[2] for r in rows],
            "DSD122Q": [r[3] for r in rows],
            "DSD122U": [r[4] for r in rows],
        },
        schema_overrides={"DSD103": pl.Float64, "DSD122Q": pl.Float64, "DSD122U": pl.Float64},
    ).lazy()


def _derive(rows: list[Any], **options: float) -> dict[int, dict[str, Any]]:
    products = supplements.product_table(*_database())
    out = supplements.derive_supplements(_dsq2(rows), products, **options).collect()
    assert out.schema == pl.Schema(supplements.OUTPUT_SCHEMA)
    return {r["SEQN"]: r for r in out.to_dicts()}


def test_product_table_elemental_compound_and_presence() -> None:
    table = supplements.product_table(*_database()).collect()
    got = {r["supid"]: r for r in table.to_dicts()}
    assert got["1000000100"]["mg"] == 100.0 and got["1000000100"]["ca"] == 200.0
    assert got["1000000200"]["vitd"] == pytest.approx(10.0)  # 400 IU ÷ 40
    antacid = got["1000000300"]
    assert antacid["ca"] == pytest.approx(550.0 * 0.40)
    assert antacid["mg"] == pytest.approx(110.0 * 0.417)
    assert got["1000000400"]["ca"] == 100.0  # the element, not + 775 × 0.129
    assert got["1000000500"]["ca"] == 0.0 and not got["1000000500"]["ca_unquantified"]
    assert got["1000000600"]["ca"] == 0.0 and got["1000000600"]["ca_unquantified"]
    assert got["1000000700"]["mg"] == 0.0 and got["1000000700"]["mg_unquantified"]
    assert not got["1000000100"]["mg_unquantified"]
    assert got["1000000900"]["servu"] == 27 and got["1000000900"]["servq"] == 2.0


def test_unit_factors() -> None:
    f = supplements.unit_factors()
    assert f[(11, 19)] == 3.0  # 1 tablespoon = 3 teaspoons (15 mL / 5 mL)
    assert f[(7, 19)] == pytest.approx(0.2)  # 1 mL = 1/5 teaspoon
    assert f[(12, 17)] == pytest.approx(1 / 3)
    assert f[(27, 10)] == 30.0  # ounces of a liquid are fluid ounces
    assert f[(27, 21)] == 1.0 and f[(16, 21)] == pytest.approx(1 / 28)  # weight ounces
    assert f[(20, 18)] == f[(1, 27)] == f[(1, 16)] == 1.0  # a piece is a piece
    assert f[(21, 24)] == f[(28, 12)] == 1.0  # scoop ~ scoop, packet ~ packet
    for pair in [(1, 24), (21, 33), (28, 18), (27, 34), (99, 18), (1, 99), (10, 33)]:
        assert pair not in f, pair  # tablets vs scoop, scoops vs grams, … : no conversion
    assert set(supplements.REPORTED_UNITS) >= {r for r, _ in f}
    assert set(supplements.LABEL_UNITS) >= {lab for _, lab in f}


def test_units_are_reconciled_or_the_amount_is_unknown() -> None:
    rows = _derive(
        [
            (1, "1000000200", 30.0, 1.0, 11.0),  # 1 tablespoon of a liquid labelled per tsp
            (2, "1000000200", 30.0, 10.0, 7.0),  # 10 mL = 2 teaspoons
            (3, "1000000900", 30.0, 1.0, 1.0),  # 1 "tablet" of a chewable labelled per 2 chews
            (4, "1000000800", 30.0, 2.0, 1.0),  # 2 tablets of a powder labelled per scoop
            (4, "1000000100", 30.0, 1.0, 1.0),
            (5, "1000001000", 30.0, 3.0, 21.0),  # scoops of a zinc tablet: holds no Mg/Ca/D
            (6, "1000000100", 30.0, 1.0, None),  # quantity without a unit
        ]
    )
    assert rows[1]["mg_supp"] == pytest.approx(3 * 50.0)
    assert rows[1]["vitd_supp"] == pytest.approx(3 * 10.0)
    assert rows[2]["mg_supp"] == pytest.approx(2 * 50.0)
    assert rows[3]["ca_supp"] == pytest.approx(0.5 * 500.0)
    assert rows[1]["supp_quality"] == rows[3]["supp_quality"] == "complete"
    # no conversion from tablets to scoops: Mg unknown, Ca (another product) still known
    assert rows[4]["mg_supp"] is None
    assert rows[4]["ca_supp"] == 200.0
    assert rows[4]["supp_quality"] == "unit_unreconciled"
    assert rows[4]["ds_unreconciled_products"] == 1
    assert rows[4]["mg_supp_user"] is True  # a user whose amount is unknown
    assert rows[5]["supp_quality"] == "complete" and rows[5]["mg_supp"] == 0.0
    assert rows[6]["mg_supp"] is None and rows[6]["supp_quality"] == "unit_unreconciled"


def test_daily_servings_above_the_limit_make_the_amount_unknown() -> None:
    limit = supplements.MAX_DAILY_SERVINGS
    rows = _derive(
        [
            (1, "1000000100", 30.0, limit, 1.0),  # at the limit: kept
            (2, "1000000100", 30.0, 29.0, 1.0),  # 29 tablets a day
            (3, "1000000900", 30.0, 2 * limit + 2, 20.0),  # 22 chews = 11 servings of 2
            (3, "1000000200", 30.0, 1.0, 12.0),
            (4, "1000000800", 30.0, 20.0, 21.0),  # 20 scoops a day
        ]
    )
    assert rows[1]["mg_supp"] == pytest.approx(limit * 100.0)
    assert rows[1]["supp_quality"] == "complete"
    assert rows[2]["mg_supp"] is None and rows[2]["ca_supp"] is None
    assert rows[2]["supp_quality"] == "quantity_implausible"
    assert rows[2]["ds_implausible_products"] == 1
    assert rows[3]["ca_supp"] is None  # the chewable's calcium
    assert rows[3]["mg_supp"] == pytest.approx(50.0)  # the other product's magnesium
    assert rows[4]["mg_supp"] is None
    relaxed = _derive([(4, "1000000800", 30.0, 20.0, 21.0)], max_servings=25.0)
    assert relaxed[4]["mg_supp"] == pytest.approx(2000.0)


def test_unmatched_and_unquantified_products_add_nothing_and_are_flagged() -> None:
    rows = _derive(
        [
            (1, "1000000100", 30.0, 1.0, 1.0),
            (1, "6666666064", 30.0, 1.0, 1.0),  # "no product information available"
            (2, "1000000700", 30.0, 1.0, 21.0),  # Mg only in a blend
            (2, "1000000100", 15.0, 1.0, 1.0),
            (3, "1000000600", 30.0, 1.0, 1.0),  # coral calcium, no NCHS fraction
            (4, "1000000500", 30.0, 2.0, 1.0),  # calcium polycarbophil: not a source
        ]
    )
    assert rows[1]["mg_supp"] == 100.0
    assert rows[1]["ds_unmatched_products"] == 1
    assert rows[1]["supp_quality"] == "product_unmatched"
    assert rows[2]["mg_supp"] == pytest.approx(50.0)
    assert rows[2]["ds_unquantified_products"] == 1
    assert rows[2]["supp_quality"] == "ingredient_unquantified"
    assert rows[3]["ca_supp"] == 0.0 and rows[3]["supp_quality"] == "ingredient_unquantified"
    assert rows[3]["ca_supp_user"] is False
    assert rows[4]["ca_supp"] == 0.0 and rows[4]["supp_quality"] == "complete"


def test_antacid_compounds_count_as_elemental() -> None:
    rows = _derive([(1, "1000000300", 15.0, 4.0, 1.0)])  # 4 tablets (2 servings), 15 days
    assert rows[1]["ca_supp"] == pytest.approx(15 * 2 * 550.0 * 0.40 / 30)
    assert rows[1]["mg_supp"] == pytest.approx(15 * 2 * 110.0 * 0.417 / 30)


def test_antacids_reported_apart_are_their_own_part_and_leave_the_supplement_users() -> None:
    products = supplements.product_table(*_database())
    dsq2 = _dsq2(
        [
            (1, "1000000300", 15.0, 4.0, 1.0),  # the antacid (Rolaids-like) …
            (1, "1000000100", 30.0, 1.0, 1.0),  # … and a supplement
            (2, "1000000300", 30.0, 2.0, 1.0),  # only the antacid: no supplement user
            (3, "1000000300", 30.0, 2.0, 1.0),  # the same product reported as a supplement
        ]
    ).with_columns(DSDANTA=pl.Series([2.0, 0.0, 2.0, 1.0]))
    out = supplements.derive_supplements(dsq2, products).collect()
    rows = {r["SEQN"]: r for r in out.to_dicts()}
    antacid_ca = 15 * 2 * 550.0 * 0.40 / 30  # calcium carbonate → elemental calcium
    assert rows[1]["ca_antacid"] == pytest.approx(antacid_ca)
    assert rows[1]["ca_supp"] > rows[1]["ca_antacid"]  # the total holds both
    assert rows[2]["ca_supp_user"] is True and rows[2]["ca_supp_user_excl_antacid"] is False
    assert rows[2]["ca_antacid"] == pytest.approx(rows[2]["ca_supp"])
    assert rows[3]["ca_supp_user_excl_antacid"] is True and rows[3]["ca_antacid"] == 0.0
    # without the DSDANTA column nothing is an antacid
    plain = _derive([(2, "1000000300", 30.0, 2.0, 1.0)])
    assert plain[2]["ca_antacid"] == 0.0 and plain[2]["ca_supp_user_excl_antacid"] is True


def test_the_most_severe_issue_is_the_participant_level_and_use_is_kept() -> None:
    rows = _derive(
        [
            (1, "6666666064", 30.0, 1.0, 1.0),  # unmatched …
            (1, "1000000100", 30.0, 12.0, 1.0),  # … and implausible: implausible wins
            (1, "1000000700", 30.0, 1.0, 21.0),  # … and unquantified
            (2, "1000000100", 9999.0, 1.0, 1.0),  # days unknown
            (2, "1000000800", 30.0, 2.0, 1.0),  # and a unit that cannot be converted
            (3, "1000000100", 0.0, 1.0, 1.0),  # taken on 0 days: not a user
            (4, "1000000100", None, None, None),  # moved in from the medication section
        ]
    )
    assert rows[1]["supp_quality"] == "quantity_implausible"
    assert (rows[1]["ds_unmatched_products"], rows[1]["ds_unquantified_products"]) == (1, 1)
    assert rows[1]["ds_products"] == 3
    assert rows[2]["supp_quality"] == "usage_unknown"
    assert rows[2]["mg_supp"] is None and rows[2]["mg_supp_user"] is True
    assert rows[3]["mg_supp"] == 0.0 and rows[3]["mg_supp_user"] is False
    assert rows[4]["mg_supp"] is None and rows[4]["supp_quality"] == "usage_unknown"
    order = {level: i for i, level in enumerate(SUPP_QUALITY_LEVELS)}
    assert order["complete"] < order["product_unmatched"] < order["usage_unknown"]


def test_row_order_does_not_change_the_amounts() -> None:
    rows = [
        (1, "1000000100", 17.0, 1.3, 1.0),
        (1, "1000000200", 3.0, 2.7, 12.0),
        (1, "1000000300", 11.0, 1.1, 1.0),
        (1, "1000000900", 29.0, 0.7, 20.0),
    ]
    forward, backward = _derive(rows), _derive(rows[::-1])
    assert forward == backward


def test_quality_summary_counts_adults_with_a_level() -> None:
    frame = pl.DataFrame(
        {
            "cycle": ["2001-2002"] * 5 + ["2005-2006"] * 2,
            "age": [25.0, 30.0, 40.0, 70.0, 12.0, 50.0, 60.0],
            "supp_quality": [
                "complete",
                "usage_unknown",
                "product_unmatched",
                None,
                "quantity_implausible",
                "complete",
                "complete",
            ],
        },
        schema_overrides={"supp_quality": supplements.SUPP_QUALITY},
    )
    out = supplements.supp_quality_summary(frame).to_dicts()
    assert [r["cycle"] for r in out] == ["2001-2002", "2005-2006"]
    first = out[0]
    assert first["adults"] == 3
    assert first["share_flagged"] == pytest.approx(2 / 3)
    assert first["share_null"] == pytest.approx(1 / 3)
    assert first["share_lower_bound"] == pytest.approx(1 / 3)
    assert sum(first[f"share_{lv}"] for lv in SUPP_QUALITY_LEVELS) == pytest.approx(1.0)
    assert out[1]["share_flagged"] == 0.0


# ------------------------------------------------------------------------ real mirror
def careful_frame(data_dir: Path, analytic: pl.DataFrame) -> pl.DataFrame:
    """The analytic frame with the 2001-2006 supplement columns from
    :func:`supplements.derive_supplements`, combined as the build combines its DSQ2 amounts
    (participants with DSQ2 rows: the derivation; non-users, DSD010 == 2: 0 and "complete";
    otherwise null), plus ``supp_quality``, ``*_supp_user`` and the ``ds_*`` counts; other
    cycles as built (``*_supp_user``: amount > 0)."""
    products = supplements.product_table(
        *(read.load_ingredient_table(data_dir, t).lazy() for t in ("DSII", "DSPI", "DSBI"))
    )
    derived = pl.concat(
        supplements.derive_supplements(read.load_table(data_dir, "DSQ2", c).lazy(), products)
        .collect()
        .with_columns(pl.lit(c).alias("_cycle"))
        for c in DSQ2_CYCLES
    ).rename({"SEQN": "seqn", "mg_supp": "_mg", "ca_supp": "_ca", "vitd_supp": "_vitd"})
    dsq2 = pl.col("cycle").cast(pl.Utf8).is_in(DSQ2_CYCLES)
    non_user = (pl.col("supp_user") == False).fill_null(False)  # noqa: E712  (DSD010 == 2)
    rows = pl.col("ds_products").is_not_null()
    frame = analytic.drop([c for c in derived.columns if c in analytic.columns and c != "seqn"])
    frame = frame.join(derived, on="seqn", how="left")
    columns = []
    for k in supplements.KEYS:
        amount = pl.when(rows).then(pl.col(f"_{k}")).when(non_user).then(0.0)
        user = pl.when(rows).then(pl.col(f"{k}_supp_user")).when(non_user).then(False)
        columns += [
            pl.when(dsq2).then(amount).otherwise(pl.col(f"{k}_supp")).alias(f"{k}_supp"),
            pl.when(dsq2).then(user).otherwise(pl.col(f"{k}_supp") > 0).alias(f"{k}_supp_user"),
        ]
    quality = (
        pl.when(dsq2 & rows)
        .then(pl.col("supp_quality").cast(pl.Utf8))
        .when(dsq2 & non_user)
        .then(pl.lit("complete"))
        .cast(supplements.SUPP_QUALITY)
    )
    return frame.with_columns(*columns, quality.alias("supp_quality")).drop(
        "_mg", "_ca", "_vitd", "_cycle"
    )


@pytest.fixture(scope="module")
def careful(nhanes_data_dir: Path, build_result: BuildResult) -> pl.DataFrame:
    return careful_frame(nhanes_data_dir, build_result.frame)


@pytest.fixture(scope="module")
def rows_2001_2006(nhanes_data_dir: Path) -> pl.DataFrame:
    dd = nhanes_data_dir
    products = supplements.product_table(
        *(read.load_ingredient_table(dd, t).lazy() for t in ("DSII", "DSPI", "DSBI"))
    )
    return pl.concat(
        supplements.supplement_rows(read.load_table(dd, "DSQ2", c).lazy(), products)
        .collect()
        .with_columns(pl.lit(c).alias("cycle"))
        for c in DSQ2_CYCLES
    )


def _careful_by_hand(dd: Path, cycle: str, seqn: int, key: str = "mg") -> float | None:
    """One participant's Mg (or Ca) from supplements, row by row in plain Python, with the
    documented rules: the element's row, else NCHS-fraction compounds; the reported unit in
    label units; more than 10 servings a day, an unknown use or unit → unknown."""
    element = {"mg": "MAGNESIUM", "ca": "CALCIUM"}[key]
    fractions = supplements.COMPOUND_FRACTIONS[key]
    factors = supplements.unit_factors()
    dsq2 = read.load_table(dd, "DSQ2", cycle).filter(pl.col("SEQN") == seqn).to_dicts()
    dspi = read.load_ingredient_table(dd, "DSPI")
    dsii = read.load_ingredient_table(dd, "DSII")
    total = 0.0
    for product in dsq2:
        supid = str(int(product["DSDSUPID"]))
        hits = dspi.filter(pl.col("DSDSUPID").str.strip_chars() == supid).to_dicts()
        if not hits:
            continue
        pid, servq, servu = hits[0]["DSDPID"], hits[0]["DSDSERVQ"] or 1.0, hits[0]["DSDSERVU"]
        ingredients = dsii.filter(pl.col("DSDPID") == pid).to_dicts()
        elemental = [r for r in ingredients if r["DSDINGR"] == element and r["DSDUNIT"] == 1.0]
        if elemental:
            amount = sum(r["DSDQTY"] for r in elemental)
        else:
            amount = sum(
                r["DSDQTY"] * fractions[r["DSDINGR"]]
                for r in ingredients
                if r["DSDINGR"] in fractions and r["DSDUNIT"] == 1.0
            )
        if amount <= 0:
            continue
        days, qty, unit = product["DSD103"], product["DSD122Q"], product["DSD122U"]
        if days is None or days in (7777, 9999) or qty is None or qty >= 77777 or unit is None:
            return None
        factor = factors.get((int(unit), int(servu)))
        if factor is None:
            return None
        servings = qty * factor / servq
        if servings > 10:
            return None
        total += days * servings * amount / 30.0
    return total


@pytest.mark.mirror
@pytest.mark.parametrize("cycle", DSQ2_CYCLES)
def test_careful_derivation_by_hand(
    nhanes_data_dir: Path, careful: pl.DataFrame, rows_2001_2006: pl.DataFrame, cycle: str
) -> None:
    dd = nhanes_data_dir
    frame = careful.filter(pl.col("cycle") == cycle)
    users = frame.filter(pl.col("mg_supp") > 0).sort("seqn")
    assert users.height > 1000
    rows = rows_2001_2006.filter(pl.col("cycle") == cycle)
    # a participant taking an antacid whose Mg is a compound (Rolaids, Mylanta, Maalox)
    compound_ids = read.load_ingredient_table(dd, "DSII").filter(
        pl.col("DSDINGR") == "MAGNESIUM HYDROXIDE"
    )["DSDPID"]
    compound_supids = (
        read.load_ingredient_table(dd, "DSPI")
        .filter(pl.col("DSDPID").is_in(compound_ids.implode()))["DSDSUPID"]
        .str.strip_chars()
    )
    antacid_user = rows.filter(
        pl.col("supid").is_in(compound_supids.implode()) & pl.col("issue").is_null()
    )["SEQN"]
    picks = [
        int(users["seqn"][0]),
        int(users["seqn"][users.height // 2]),
        int(users.sort("mg_supp")["seqn"][-1]),
        int(antacid_user.sort()[0]),
        *rows.filter(pl.col("issue") == "quantity_implausible")["SEQN"].head(2).to_list(),
    ]
    for seqn in picks:
        got = frame.filter(pl.col("seqn") == seqn).row(0, named=True)
        for key in ("mg", "ca"):
            expected = _careful_by_hand(dd, cycle, seqn, key)
            if expected is None:
                assert got[f"{key}_supp"] is None, (seqn, key)
            else:
                assert got[f"{key}_supp"] == pytest.approx(expected, rel=1e-9), (seqn, key)


@pytest.mark.mirror
def test_the_build_is_the_careful_derivation(
    build_result: BuildResult, careful: pl.DataFrame
) -> None:
    """The build's 2001-2006 supplement columns are :func:`supplements.derive_supplements`'s,
    combined as ``careful_frame`` recombines them here by hand (non-users, DSD010 == 2 with no
    DSQ2 rows: 0 and "complete") — for every participant."""
    columns = ["mg_supp", "ca_supp", "vitd_supp", "supp_quality", "mg_supp_user", "ca_supp_user"]
    in_dsq2 = pl.col("cycle").cast(pl.Utf8).is_in(DSQ2_CYCLES)
    built = build_result.frame.filter(in_dsq2).select("seqn", *columns).sort("seqn")
    mine = careful.filter(in_dsq2).select("seqn", *columns).sort("seqn")
    assert built.height == mine.height > 30_000
    for column in columns:
        assert built[column].eq_missing(mine[column]).all(), column
    no_rows = build_result.frame.filter(
        in_dsq2 & (pl.col("supp_user") == False) & pl.col("ds_products").is_null()  # noqa: E712
    )
    assert no_rows.height > 3000
    assert (no_rows["mg_supp"] == 0).all() and (no_rows["supp_quality"] == "complete").all()


def _exact_name_supids(dsii: pl.DataFrame, dspi: pl.DataFrame, name: str) -> pl.DataFrame:
    """Supplement ids whose label lists the element by its exact name with an amount in mg —
    the rule of the derivation before the audit, which missed antacids' compounds."""
    products = dsii.filter(
        (pl.col("DSDINGR") == name) & (pl.col("DSDUNIT") == 1) & (pl.col("DSDQTY") > 0)
    )["DSDPID"]
    return (
        dspi.filter(pl.col("DSDPID").is_in(products.implode()))
        .select(pl.col("DSDSUPID").cast(pl.Utf8).str.strip_chars().alias("supid"))
        .unique()
        .with_columns(pl.lit(True).alias("exact_name"))
    )


@pytest.mark.mirror
def test_real_units_limit_and_unmatched_products(
    nhanes_data_dir: Path, rows_2001_2006: pl.DataFrame
) -> None:
    """What the audit of the change measured on the files."""
    dd, r = nhanes_data_dir, rows_2001_2006

    def by_cycle(frame: pl.DataFrame) -> dict[str, int]:
        return dict(frame.group_by("cycle").len().iter_rows())

    holding = r.filter(pl.col("matched") & ((pl.col("mg") > 0) | (pl.col("ca") > 0)))
    known = holding.filter(pl.col("_qty").is_not_null() & pl.col("_rep_unit").is_not_null())
    # NCHS's edits left one reported unit (a "gulp") not commensurable with its label unit …
    assert known["unit_factor"].is_null().sum() == 1
    # … and no conversion other than piece for piece or like for like was needed
    assert (known["unit_factor"].drop_nulls() == 1.0).all()
    assert by_cycle(r.filter(pl.col("issue") == "unit_unreconciled")) == {}
    # 29 tablets a day: only in 2005-2006; the limit flags 5 + 34 rows
    assert by_cycle(r.filter(pl.col("DSD122Q") == 29)) == {"2005-2006": 26}
    assert by_cycle(r.filter(pl.col("issue") == "quantity_implausible")) == {
        "2003-2004": 5,
        "2005-2006": 34,
    }
    assert by_cycle(r.filter(~pl.col("matched"))) == {
        "2001-2002": 145,
        "2003-2004": 137,
        "2005-2006": 109,
    }
    # rows the exact-name match gave no Mg (Ca): antacids listing the compound
    dsii = read.load_ingredient_table(dd, "DSII")
    dspi = read.load_ingredient_table(dd, "DSPI")
    for key, name, counts in (
        ("mg", "MAGNESIUM", {"2001-2002": 318, "2003-2004": 287, "2005-2006": 258}),
        ("ca", "CALCIUM", {"2001-2002": 269, "2003-2004": 241, "2005-2006": 197}),
    ):
        joined = r.join(_exact_name_supids(dsii, dspi, name), on="supid", how="left")
        only_compound = joined.filter((pl.col(key) > 0) & pl.col("exact_name").is_null())
        assert by_cycle(only_compound) == counts, key


@pytest.mark.mirror
def test_real_flag_shares(careful: pl.DataFrame) -> None:
    frame = careful.filter(pl.col("cycle").cast(pl.Utf8).is_in(DSQ2_CYCLES))
    summary = {
        r["cycle"]: r
        for r in supplements.supp_quality_summary(frame, min_age=20.0)
        .with_columns(pl.col("cycle").cast(pl.Utf8))
        .to_dicts()
    }
    assert {c: s["adults"] for c, s in summary.items()} == {
        "2001-2002": 5396,
        "2003-2004": 5028,
        "2005-2006": 4972,
    }
    expected = {  # % of adults 20+ (unweighted): flagged, lower bound, null
        "2001-2002": (16.29, 1.70, 14.58),
        "2003-2004": (3.56, 2.21, 1.35),
        "2005-2006": (3.64, 1.73, 1.91),
    }
    for cycle, (flagged, lower, null) in expected.items():
        s = summary[cycle]
        assert 100 * s["share_flagged"] == pytest.approx(flagged, abs=0.006), cycle
        assert 100 * s["share_lower_bound"] == pytest.approx(lower, abs=0.006), cycle
        assert 100 * s["share_null"] == pytest.approx(null, abs=0.006), cycle
    assert frame.filter(pl.col("supp_quality").is_null() & pl.col("supp_user").is_not_null())[
        "supp_user"
    ].all()  # only users without DSQ2 rows have no level
    later = careful.filter(~pl.col("cycle").cast(pl.Utf8).is_in(DSQ2_CYCLES))
    assert later["supp_quality"].null_count() == later.height
