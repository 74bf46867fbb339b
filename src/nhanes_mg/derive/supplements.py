"""Supplement intake 2001-2006: the 30-day questionnaire (DSQ2) × the ingredient database (DSII).

Per product a participant reported (one DSQ2 row):

    daily amount = DSD103 (days taken, past 30) × DSD122Q (units taken per day)
                   × DSDQTY / DSDSERVQ (ingredient amount per serving ÷ units per serving) / 30

The product is found through DSPI (``DSPI.DSDSUPID`` = ``DSQ2.DSDSUPID`` → ``DSPI.DSDPID``), its
ingredients in DSII (``DSII.DSDPID``). Ingredients are picked by DSII's standard ingredient name
("MAGNESIUM", "CALCIUM", "VITAMIN D"); unit ``DSDUNIT`` 1 is mg (Mg, Ca) and 2 is IU (vitamin D,
÷ 40 for µg; 4, µg, is taken as is). Rows in any other unit (a handful, e.g. code 21) are left
out. ``DSDSERVQ`` missing or 0 counts as 1.

Missing codes: DSD103 7777/9999, DSD122Q 77777/99999/777777/999999. A product that holds the
nutrient but whose days or quantity are unknown makes the participant's amount for that
nutrient unknown (null), not zero. Products DSPI does not know ("NO PRODUCT INFORMATION
AVAILABLE", id 6666666666…) add nothing (their composition is unknown); their count is kept in
``ds_unmatched_products``.
"""

from __future__ import annotations

import polars as pl

DSD103_CODES = (7777.0, 9999.0)
DSD122Q_CODES = (77777.0, 99999.0, 777777.0, 999999.0)
NUTRIENTS: dict[str, tuple[str, dict[float, float]]] = {
    # output suffix: (DSII ingredient name, {DSDUNIT: factor to mg or µg})
    "mg": ("MAGNESIUM", {1.0: 1.0}),
    "ca": ("CALCIUM", {1.0: 1.0}),
    "vitd": ("VITAMIN D", {2.0: 1.0 / 40.0, 4.0: 1.0}),
}


def _ordered_sum(expr: pl.Expr) -> pl.Expr:
    """A group's sum with its values added one by one in ascending order (nulls ignored, 0.0
    when there are none).

    A float sum depends on the order of its terms, and a lazy ``group_by`` (the streaming engine
    by default) sees a group's rows in whatever order joins and morsels deliver them and may add
    them up in partial sums: summing a participant's products that way made ``mg_supp``,
    ``ca_supp``, ``vitd_supp`` (and the totals and ratio built on them) differ in the last digit
    between two builds of the same files. Sorting inside the group and taking the last running
    sum fixes the order whatever the engine does (``sort().sum()`` would not: the sort does
    not change a sum, so polars is free to drop it).

    >>> rows = pl.DataFrame({"g": [1, 1, 1], "x": [0.1, 0.2, 0.3]})
    >>> (0.1 + 0.2) + 0.3 == (0.3 + 0.2) + 0.1
    False
    >>> [f.group_by("g").agg(_ordered_sum(pl.col("x")))["x"].item() for f in (rows, rows[::-1])]
    [0.6000000000000001, 0.6000000000000001]
    """
    return expr.drop_nulls().sort().cum_sum().last().fill_null(0.0)


def ingredient_amounts(dsii: pl.LazyFrame, dspi: pl.LazyFrame) -> pl.LazyFrame:
    """Per supplement id (DSPI.DSDSUPID as text): mg, ca (mg) and vitd (µg) per unit taken."""
    frames = []
    for key, (name, units) in NUTRIENTS.items():
        factor = pl.col("DSDUNIT").replace_strict(units, default=None, return_dtype=pl.Float64)
        frames.append(
            dsii.filter((pl.col("DSDINGR") == name) & pl.col("DSDUNIT").is_in(list(units)))
            .group_by("DSDPID")
            # sorted within the product before summing: see _ordered_sum
            .agg(_ordered_sum(pl.col("DSDQTY") * factor).alias(key))
        )
    per_product = frames[0]
    for frame in frames[1:]:
        per_product = per_product.join(frame, on="DSDPID", how="full", coalesce=True)
    servq = pl.col("DSDSERVQ")
    servq = pl.when(servq > 0).then(servq).otherwise(1.0)
    return (
        dspi.select("DSDPID", "DSDSUPID", "DSDSERVQ")
        .join(per_product, on="DSDPID", how="inner")
        .select(
            pl.col("DSDSUPID").cast(pl.Utf8).str.strip_chars().alias("supid"),
            *[(pl.col(k).fill_null(0.0) / servq).alias(k) for k in NUTRIENTS],
        )
        .filter(pl.col("supid") != "")
    )


def known_supids(dspi: pl.LazyFrame) -> pl.LazyFrame:
    """Supplement ids DSPI knows (blank ids, which several products share, left out)."""
    supid = pl.col("DSDSUPID").cast(pl.Utf8).str.strip_chars()
    return dspi.select(supid.alias("supid")).filter(pl.col("supid") != "").unique()


def supp_from_dsq2(dsq2: pl.LazyFrame, per_unit: pl.LazyFrame, known: pl.LazyFrame) -> pl.LazyFrame:
    """Per SEQN: ``mg_supp``, ``ca_supp``, ``vitd_supp`` (30-day average per day) and counts.

    ``known`` is the set of supplement ids DSPI knows (column ``supid``).
    """
    days = pl.col("DSD103")
    days = pl.when(~days.is_in(list(DSD103_CODES))).then(days)
    qty = pl.col("DSD122Q")
    qty = pl.when(~qty.is_in(list(DSD122Q_CODES))).then(qty)
    rows = (
        dsq2.with_columns(
            supid=pl.col("DSDSUPID").cast(pl.Int64).cast(pl.Utf8),
            _days=days,
            _qty=qty,
        )
        .join(per_unit, on="supid", how="left")
        .join(known.with_columns(_known=pl.lit(True)), on="supid", how="left")
    )
    aggs = []
    for key in NUTRIENTS:
        amount = pl.col("_days") * pl.col("_qty") * pl.col(key) / 30.0
        has = pl.col(key).fill_null(0.0) > 0
        contrib = pl.when(has).then(amount).otherwise(0.0)
        aggs.append(
            pl.when(contrib.is_null().any())
            .then(None)
            .otherwise(_ordered_sum(contrib))
            .alias(f"{key}_supp")
        )
    return rows.group_by("SEQN").agg(
        *aggs,
        pl.len().alias("ds_products"),
        pl.col("_known").is_null().sum().cast(pl.Int64).alias("ds_unmatched_products"),
    )
