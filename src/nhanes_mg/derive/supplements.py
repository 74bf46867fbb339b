"""Supplement intake 2001-2006: the 30-day questionnaire (DSQ2) × the NHANES Dietary Supplement
Database (DSPI, DSII, DSBI in the mirror's ``1999-2000/`` folder).

Two derivations live here:

* :func:`derive_supplements` (with :func:`product_table`), the careful one described below;
* :func:`ingredient_amounts` / :func:`known_supids` / :func:`supp_from_dsq2`, the legacy one
  (exact ingredient name "MAGNESIUM"/"CALCIUM"/"VITAMIN D", no unit check, no plausibility
  limit) that the build's DSQ2 step still calls. It is kept unchanged until the build is
  switched over (see :func:`derive_supplements` for the call).

Per product a participant reported (one DSQ2 row), as NCHS computes DSQTOT from 2007 on
(DSQIDS_E documentation: reported amount ÷ label serving size × ingredient amount, × days ÷ 30):

    servings/day  = DSD122Q × (size of the reported unit DSD122U in the label's unit DSDSERVU)
                    ÷ DSDSERVQ
    daily amount  = DSD103 × servings/day × (elemental amount per label serving) ÷ 30

The product is found through DSPI (``DSPI.DSDSUPID`` = ``DSQ2.DSDSUPID``), its ingredients in
DSII (``DSII.DSDPID``), its blends' components in DSBI (``DSBI.DSDIID`` = ``DSII.DSDIID``).
The rules, each with its reason:

**Ingredient names (elemental amounts).** DSII records the label's supplement-facts line. NCHS
codes most products by the element ("Calcium (as calcium carbonate) 600 mg" → ``CALCIUM`` 600):
amounts in mg (DSDUNIT 1; g 5 × 1000, µg 4 ÷ 1000). Antacids list the active compound instead
(Rolaids: ``CALCIUM CARBONATE`` 550 mg, ``MAGNESIUM HYDROXIDE`` 110 mg; no ``MAGNESIUM`` row),
and the exact-name match missed them. Compound amounts are converted with the elemental
fractions NCHS publishes (DSPI documentation 1999-2020, Appendix 2, :data:`COMPOUND_FRACTIONS`)
and used only when the product has no elemental row for that nutrient (a label giving both
"calcium 100 mg" and "as calcium L-threonate 775 mg" is counted once). Vitamin D: ``VITAMIN D``
in IU ÷ 40 (Appendix 2: 40 IU = 1 µg) or µg; DSII has no other vitamin D name.

**Present but not quantifiable** (``ingredient_unquantified``): the product holds the nutrient
— a DSII row NCHS classifies as a mineral (DSDCAT 2) naming magnesium/calcium, or a vitamin
(DSDCAT 1) naming vitamin D/calciferol, or such a DSBI blend component (DSDBCCAT 2/1) — but no
amount can be taken from it (blend components have no amounts; DSDUNIT 21 "Unknown", 20
"Trace", 14 "PPM"; compounds without an NCHS fraction, e.g. coral calcium, calcium phosphate)
and the product has no quantified row for that nutrient. The product adds 0 (a lower bound, as
NCHS's DSQTOT can add nothing for it either) and the participant is flagged. Ingredients NCHS
classifies as "other" (calcium polycarbophil, docusate calcium, calcium HMB, …) or as a vitamin
(calcium pantothenate) are not calcium sources and are ignored.

**Units** (``unit_unreconciled``). DSD122U is the unit the participant reported, DSDSERVU the
label's serving unit (value labels: DSPI documentation Appendix 3, formats DSD122UF and
DSDSRVF; :data:`REPORTED_UNITS`, :data:`LABEL_UNITS`). NCHS already edited DSD122Q/DSD122U
towards the label serving size (DSQ2_D documentation): on the real files 14,317 of the 14,318
rows of Mg/Ca/vitamin D products with a known quantity (2001-2006) are commensurable, all with
factor 1. The rule is still applied row by row:

* pieces: a count of tablets/capsules/softgels/chews/wafers/lozenges/gumballs/strips against a
  label serving of any such piece counts piece for piece (factor 1). NCHS gives every physical
  form of a product its own supplement id, so the reported pieces are the label's pieces
  whatever word was used ("chews" of a chewable tablet);
* household volumes: mL, CC, teaspoon, tablespoon, cup (and ounces when the label unit is a
  liquid volume, i.e. fluid ounces) against mL, teaspoon, tablespoon, fluid ounce, cup —
  converted with FDA's labelling equivalents, 21 CFR 101.9(b)(5)(viii): 1 tsp = 5 mL,
  1 tbsp = 15 mL, 1 cup = 240 mL, 1 fl oz = 30 mL (NCHS's own edit example: 1 tbsp = 3 tsp);
* weights: grams (and mg; ounces against a powder labelled in grams or ounces, 1 oz = 28 g,
  the same regulation) against grams or ounces;
* the same named measure on both sides: droppers, drops, injections, cans, sprays, scoops,
  capfuls, packets, bottles (factor 1).

Anything else (tablets against a scoop or packet, scoops against grams, a missing or "don't
know" reported unit, a label unit "Unknown") has no defensible conversion: the participant's
amount of each nutrient that product holds is **null** (unknown), never a guess — the same rule
as for unknown days or quantity. NCHS's editors, for such cases, assumed one label serving
(DSQ2_D documentation); we do not invent that number, the flag lets an analyst do so.

**Implausible quantities** (``quantity_implausible``). More than :data:`MAX_DAILY_SERVINGS`
(10) label servings of one product a day is treated as invalid and the product's amounts are
null (not capped: a capped value would still be a number nobody reported). No NCHS or ODS
publication gives such a limit — NCHS examined outliers and left them in the files ("analysts
should examine the distribution … and consider whether … to include or exclude extreme
values", DSQIDS_E documentation) — so the limit is ours. Among the rows of Mg/Ca/vitamin D
products the 99th and 99.5th percentiles are 6 servings/day; above 10 there are 39 rows (5 in
2003-2004, 34 in 2005-2006): 26 are DSD122Q = 29 (children's chewables and gummies, ages 2-10
mostly; the value occurs only in 2005-2006), a pre-workout powder at 20 scoops, 11 tablets of
Centrum Silver. Known false positives: liquid antacids labelled per teaspoon taken at 12
teaspoons a day (3 rows, 2003-2004; doses are 2-4 tsp). The limit moves the 2005-2006 adult
mean by about 1 mg/day of Mg and 3 mg/day of Ca (limit 5 / 10 / 20 / none: Mg 36.1 / 37.7 /
38.6 / 38.7, Ca 170.9 / 176.4 / 179.3 / 179.3 mg/day). DSQTOT (2007+) keeps such values.

**Unmatched products** (``product_unmatched``): ids DSPI does not know (NCHS "no product
information available" 6666666xxx, refused 7777777777, don't know 9999999999) add 0, as they
add nothing to NCHS's DSQTOT from 2007 on (so the two derivations agree at the 2006/2007 seam);
the participant's amounts are then lower bounds and flagged.

**Unknown use** (``usage_unknown``): DSD103 7777/9999 or missing, DSD122Q
77777/99999/777777/999999 or missing, for a product holding the nutrient → the participant's
amount of that nutrient is null (unchanged rule).

Per participant, :func:`derive_supplements` returns the amounts, product counts per issue and
``supp_quality``, the most severe issue among the participant's products (order of
:data:`SUPP_QUALITY_LEVELS`, least severe first; "complete" when there is none).
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import product as _pairs

import polars as pl

DSD103_CODES = (7777.0, 9999.0)
DSD122Q_CODES = (77777.0, 99999.0, 777777.0, 999999.0)
KEYS = ("mg", "ca", "vitd")

# ---------------------------------------------------------------- ingredient rules
# DSDUNIT (DSPI documentation, Appendix 3, format DSDUNTF): 1 mg, 2 IU, 4 mcg, 5 gm.
MASS_TO_MG: dict[int, float] = {1: 1.0, 4: 0.001, 5: 1000.0}
ELEMENTAL: dict[str, tuple[str, dict[int, float]]] = {
    # nutrient: (DSII name of the element, {DSDUNIT: factor to mg (Mg, Ca) or µg (vitamin D)})
    "mg": ("MAGNESIUM", MASS_TO_MG),
    "ca": ("CALCIUM", MASS_TO_MG),
    "vitd": ("VITAMIN D", {2: 1.0 / 40.0, 4: 1.0}),
}
# Elemental fraction of compounds (DSPI documentation 1999-2020, Appendix 2, "Conversion
# factors … for nutrient compounds to elemental nutrients"); only these are converted.
COMPOUND_FRACTIONS: dict[str, dict[str, float]] = {
    "mg": {
        "MAGNESIUM ASPARTATE": 0.0842,
        "MAGNESIUM CARBONATE": 0.289,
        "MAGNESIUM HYDROXIDE": 0.417,
        "MAGNESIUM PHOSPHATE TRIBASIC": 0.277,
        "MAGNESIUM TRISILICATE": 0.183,
    },
    "ca": {
        "CALCIUM CARBONATE": 0.40,
        "CALCIUM L-THREONATE": 0.129,
    },
    "vitd": {},
}
# What marks a product as holding the nutrient at all: NCHS ingredient category (DSDCAT /
# DSDBCCAT: 1 vitamin, 2 mineral) and a name pattern.
PRESENCE: dict[str, tuple[int, str]] = {
    "mg": (2, "MAGNES"),
    "ca": (2, "CALCI"),
    "vitd": (1, "VITAMIN D|CALCIFEROL"),
}

# ---------------------------------------------------------------- unit rules
# DSD122U, the unit the participant reported (format DSD122UF).
REPORTED_UNITS: dict[int, str] = {
    1: "tablets, capsules, pills, caplets, softgels, gelcaps, vegicaps",
    2: "droppers",
    3: "drops",
    5: "injections/shots",
    6: "lozenges",
    7: "milliliters",
    10: "powder/granules",
    11: "tablespoons",
    12: "teaspoons",
    13: "wafers",
    15: "cans",
    16: "grams",
    17: "dots",
    18: "cups",
    19: "spray/squirts",
    20: "chews",
    21: "scoop",
    22: "CC",
    23: "capful",
    24: "MG",
    25: "units",
    26: "gulp",
    27: "ounces",
    28: "packages/packets",
    29: "vial",
    30: "gumball",
    31: "strips",
    32: "bottle",
    77: "refused",
    99: "don't know",
}
# DSDSERVU, the label's serving unit (format DSDSRVF).
LABEL_UNITS: dict[int, str] = {
    1: "caplet",
    2: "capsule",
    3: "dropper",
    4: "drop",
    5: "fluid ounce",
    6: "gel cap",
    8: "injection/shot",
    9: "lozenge",
    10: "milliliter",
    12: "package/packet",
    13: "pill",
    14: "tablespoon/powder",
    16: "softgel",
    17: "tablespoon/liquid",
    18: "tablet",
    19: "teaspoon/liquid",
    20: "wafer",
    21: "ounce/powder",
    22: "spray/squirt",
    24: "scoop/powder",
    25: "cup/powder",
    27: "chew",
    29: "vegicap",
    30: "can/liquid",
    31: "capful",
    32: "gumball",
    33: "gram/powder",
    34: "teaspoon/powder",
    35: "can/powder",
    36: "scoop/liquid",
    37: "cup/liquid",
    38: "gram/liquid",
    39: "drop/lozenge",
    42: "strip",
    43: "bottle/liquid",
    99: "unknown",
}
PIECES_REPORTED = (1, 6, 13, 20, 30, 31)
PIECES_LABEL = (1, 2, 6, 9, 13, 16, 18, 20, 27, 29, 32, 39, 42)
# household measures in mL (21 CFR 101.9(b)(5)(viii))
VOLUME_REPORTED_ML: dict[int, float] = {7: 1.0, 22: 1.0, 12: 5.0, 11: 15.0, 18: 240.0}
VOLUME_LABEL_ML: dict[int, float] = {
    10: 1.0,
    19: 5.0,
    34: 5.0,
    17: 15.0,
    14: 15.0,
    5: 30.0,
    37: 240.0,
    25: 240.0,
}
LIQUID_LABEL = (10, 19, 17, 5, 37)  # reported "ounces" of these are fluid ounces (30 mL)
OUNCES = 27
FLUID_OUNCE_ML = 30.0
OUNCE_G = 28.0  # 21 CFR 101.9(b)(5)(viii): 1 oz in weight = 28 g
WEIGHT_REPORTED_G: dict[int, float] = {16: 1.0, 24: 0.001}
WEIGHT_LABEL_G: dict[int, float] = {33: 1.0, 38: 1.0, 21: OUNCE_G}
POWDER_WEIGHT_LABEL = (33, 21)  # reported "ounces" of these are weight ounces
SAME_MEASURE: tuple[tuple[int, int], ...] = (
    (2, 3),  # droppers
    (3, 4),  # drops
    (5, 8),  # injections
    (15, 30),  # cans
    (15, 35),
    (19, 22),  # sprays
    (21, 24),  # scoops
    (21, 36),
    (23, 31),  # capfuls
    (28, 12),  # packets
    (32, 43),  # bottles
)


def unit_factors() -> dict[tuple[int, int], float]:
    """(DSD122U, DSDSERVU) → size of one reported unit in label units, for the commensurable
    pairs (see the module docstring); a pair not in the table cannot be converted.

    >>> f = unit_factors()
    >>> f[(11, 19)], f[(12, 14)], f[(20, 18)], f[(27, 10)]  # tbsp→tsp, tsp→tbsp, chews→tablet
    (3.0, 0.3333333333333333, 1.0, 30.0)
    >>> (1, 24) in f, (21, 33) in f  # tablets vs a scoop, scoops vs grams
    (False, False)
    """
    table: dict[tuple[int, int], float] = {}
    for pair in _pairs(PIECES_REPORTED, PIECES_LABEL):
        table[pair] = 1.0
    for (r, r_ml), (lab, l_ml) in _pairs(VOLUME_REPORTED_ML.items(), VOLUME_LABEL_ML.items()):
        table[(r, lab)] = r_ml / l_ml
    for lab in LIQUID_LABEL:
        table[(OUNCES, lab)] = FLUID_OUNCE_ML / VOLUME_LABEL_ML[lab]
    for (r, r_g), (lab, l_g) in _pairs(WEIGHT_REPORTED_G.items(), WEIGHT_LABEL_G.items()):
        table[(r, lab)] = r_g / l_g
    for lab in POWDER_WEIGHT_LABEL:
        table[(OUNCES, lab)] = OUNCE_G / WEIGHT_LABEL_G[lab]
    for pair in SAME_MEASURE:
        table[pair] = 1.0
    return table


# ---------------------------------------------------------------- quality flag
MAX_DAILY_SERVINGS = 10.0
# least severe first; a participant's level is the most severe among the products
SUPP_QUALITY_LABELS = {
    "complete": "Complete",
    "ingredient_unquantified": "An ingredient not quantified (lower bound)",
    "product_unmatched": "A product not matched (lower bound)",
    "quantity_implausible": "An implausible quantity (null)",
    "unit_unreconciled": "A unit not reconciled (null)",
    "usage_unknown": "Usage unknown (null)",
}
SUPP_QUALITY_LEVELS = tuple(SUPP_QUALITY_LABELS)
SUPP_QUALITY = pl.Enum(list(SUPP_QUALITY_LEVELS))
# levels whose amounts are lower bounds (the product added 0) and those that make them null
LOWER_BOUND_LEVELS = ("ingredient_unquantified", "product_unmatched")
NULL_LEVELS = ("quantity_implausible", "unit_unreconciled", "usage_unknown")
# per-participant columns of derive_supplements, with their types
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "SEQN": pl.Int64(),
    "mg_supp": pl.Float64(),
    "ca_supp": pl.Float64(),
    "vitd_supp": pl.Float64(),
    "ds_products": pl.UInt32(),
    "ds_unmatched_products": pl.Int64(),
    "ds_unquantified_products": pl.Int64(),
    "ds_implausible_products": pl.Int64(),
    "ds_unreconciled_products": pl.Int64(),
    "mg_supp_user": pl.Boolean(),
    "ca_supp_user": pl.Boolean(),
    "vitd_supp_user": pl.Boolean(),
    "mg_antacid": pl.Float64(),
    "ca_antacid": pl.Float64(),
    "mg_supp_user_excl_antacid": pl.Boolean(),
    "ca_supp_user_excl_antacid": pl.Boolean(),
    "supp_quality": SUPP_QUALITY,
}
ANTACID_KEYS = ("mg", "ca")  # the nutrients antacids hold (magnesium hydroxide, calcium carbonate)

VITD_SUPP_EXTREME_UG = 250.0
"""Vitamin D from supplements above this 30-day average (µg/day; 10,000 IU) is flagged
(``vitd_supp_extreme``), never dropped. It is the no-observed-adverse-effect level the IOM
(2011, Dietary Reference Intakes for Calcium and Vitamin D) took for the upper level of
100 µg (4,000 IU)/day: more, every day for a month, is what a weekly or monthly prescription
dose (50,000 IU) reported as a daily one looks like. From 2007 CDC gives participant totals
only (DSQTOT; the product file is not fetched), so the flag is on the participant's total."""


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


def _supid(column: str, numeric: bool) -> pl.Expr:
    """A supplement id as text: DSQ2 stores it as a number, DSPI as (padded) text."""
    if numeric:
        return pl.col(column).cast(pl.Int64).cast(pl.Utf8)
    return pl.col(column).cast(pl.Utf8).str.strip_chars()


def _factor(column: str, table: Mapping[int, float]) -> pl.Expr:
    return (
        pl.col(column)
        .cast(pl.Int64, strict=False)
        .replace_strict(dict(table), default=None, return_dtype=pl.Float64)
    )


# ---------------------------------------------------------------- careful derivation
def product_table(
    dsii: pl.LazyFrame, dspi: pl.LazyFrame, dsbi: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """Per supplement id DSPI knows: the label serving and the nutrients per label serving.

    Columns: ``supid`` (DSPI.DSDSUPID as text), ``servq`` (DSDSERVQ; missing or 0 → 1),
    ``servu`` (DSDSERVU, Int64), ``mg``, ``ca`` (elemental mg per serving), ``vitd`` (µg per
    serving) — 0 when the product holds no quantified amount — and ``mg_unquantified``,
    ``ca_unquantified``, ``vitd_unquantified`` (the product holds the nutrient but no amount
    can be taken: see the module docstring). ``dsbi`` None leaves blends out of the presence
    test (their components carry no amounts either way).
    """
    name = pl.col("DSDINGR").cast(pl.Utf8).str.strip_chars().str.to_uppercase()
    unit = pl.col("DSDUNIT").cast(pl.Int64, strict=False)
    ingr = dsii.select(
        "DSDPID",
        "DSDIID",
        name.alias("name"),
        pl.col("DSDQTY").cast(pl.Float64).alias("qty"),
        unit.alias("unit"),
        pl.col("DSDCAT").cast(pl.Int64, strict=False).alias("cat"),
    )
    per_product = dspi.select(
        "DSDPID",
        _supid("DSDSUPID", numeric=False).alias("supid"),
        pl.when(pl.col("DSDSERVQ") > 0).then(pl.col("DSDSERVQ")).otherwise(1.0).alias("servq"),
        pl.col("DSDSERVU").cast(pl.Int64, strict=False).alias("servu"),
    ).filter(pl.col("supid") != "")
    for key in KEYS:
        element, units = ELEMENTAL[key]
        elemental = (
            ingr.filter((pl.col("name") == element) & pl.col("unit").is_in(list(units)))
            .group_by("DSDPID")
            .agg(
                # sorted within the product before summing: see _ordered_sum
                _ordered_sum(pl.col("qty") * _factor("unit", units)).alias("_elem"),
            )
        )
        fractions = COMPOUND_FRACTIONS[key]
        fraction = pl.col("name").replace_strict(
            fractions or {"": 0.0}, default=None, return_dtype=pl.Float64
        )
        compound = (
            ingr.filter(
                pl.col("name").is_in(list(fractions)) & pl.col("unit").is_in(list(MASS_TO_MG))
            )
            .group_by("DSDPID")
            .agg(
                _ordered_sum(pl.col("qty") * _factor("unit", MASS_TO_MG) * fraction).alias("_comp")
            )
        )
        category, pattern = PRESENCE[key]
        present = [
            ingr.filter((pl.col("cat") == category) & pl.col("name").str.contains(pattern)).select(
                "DSDPID"
            )
        ]
        if dsbi is not None:
            blend = dsbi.filter(
                (pl.col("DSDBCCAT").cast(pl.Int64, strict=False) == category)
                & pl.col("DSDBCNAM").cast(pl.Utf8).str.to_uppercase().str.contains(pattern)
            ).select("DSDIID")
            present.append(ingr.join(blend, on="DSDIID", how="semi").select("DSDPID"))
        holds = pl.concat(present).unique().with_columns(pl.lit(True).alias("_present"))
        amount = pl.when(pl.col("_elem").is_not_null()).then(pl.col("_elem")).otherwise("_comp")
        per_product = (
            per_product.join(elemental, on="DSDPID", how="left")
            .join(compound, on="DSDPID", how="left")
            .join(holds, on="DSDPID", how="left")
            .with_columns(amount.fill_null(0.0).alias(key))
            .with_columns(
                (pl.col("_present").fill_null(False) & ~(pl.col(key) > 0)).alias(
                    f"{key}_unquantified"
                )
            )
            .drop("_elem", "_comp", "_present")
        )
    return per_product.drop("DSDPID").unique("supid", keep="first", maintain_order=True)


def _unit_factor_frame() -> pl.LazyFrame:
    pairs = unit_factors()
    return pl.LazyFrame(
        {
            "_rep_unit": [r for r, _ in pairs],
            "servu": [lab for _, lab in pairs],
            "unit_factor": list(pairs.values()),
        },
        schema={"_rep_unit": pl.Int64, "servu": pl.Int64, "unit_factor": pl.Float64},
    )


def supplement_rows(
    dsq2: pl.LazyFrame, products: pl.LazyFrame, *, max_servings: float = MAX_DAILY_SERVINGS
) -> pl.LazyFrame:
    """One row per DSQ2 row, with the derivation laid open (for audits and tests).

    Adds to ``SEQN``, ``supid``, ``DSD103``, ``DSD122Q``, ``DSD122U`` the product's ``servq``,
    ``servu``, per-serving amounts; ``matched`` (DSPI knows the id), ``unit_factor`` (reported
    unit in label units; null when not commensurable), ``servings_per_day``, ``issue`` (the
    row's most severe issue, a :data:`SUPP_QUALITY` level; null when none), ``unquantified``,
    the daily contributions ``mg_contrib``, ``ca_contrib``, ``vitd_contrib`` (null when
    unknown), ``mg_user``, ``ca_user``, ``vitd_user`` (the product holds an amount of the
    nutrient and was taken on at least one day, or on an unknown number of days) and
    ``antacid`` (the product was reported at the antacid question: DSDANTA = 2; products
    reported as supplements, DSDANTA 0 or 1, are supplements whatever they hold).
    """
    antacid = (
        (pl.col("DSDANTA").cast(pl.Float64) == 2).fill_null(False)
        if "DSDANTA" in dsq2.collect_schema().names()
        else pl.lit(False)
    )
    days = pl.col("DSD103").cast(pl.Float64)
    days = pl.when(~days.is_in(list(DSD103_CODES))).then(days)
    qty = pl.col("DSD122Q").cast(pl.Float64)
    qty = pl.when(~qty.is_in(list(DSD122Q_CODES))).then(qty)
    rows = (
        dsq2.select(
            pl.col("SEQN").cast(pl.Int64),
            _supid("DSDSUPID", numeric=True).alias("supid"),
            pl.col("DSD103").cast(pl.Float64),
            pl.col("DSD122Q").cast(pl.Float64),
            pl.col("DSD122U").cast(pl.Float64),
            days.alias("_days"),
            qty.alias("_qty"),
            pl.col("DSD122U").cast(pl.Int64, strict=False).alias("_rep_unit"),
            antacid.alias("antacid"),
        )
        .join(products.with_columns(pl.lit(True).alias("matched")), on="supid", how="left")
        .join(_unit_factor_frame(), on=["_rep_unit", "servu"], how="left")
        .with_columns(pl.col("matched").fill_null(False))
        .with_columns(
            (pl.col("_qty") * pl.col("unit_factor") / pl.col("servq")).alias("servings_per_day"),
        )
    )
    holds = pl.any_horizontal([pl.col(k).fill_null(0.0) > 0 for k in KEYS])
    unquantified = pl.any_horizontal([pl.col(f"{k}_unquantified").fill_null(False) for k in KEYS])
    usage_unknown = pl.col("_days").is_null() | pl.col("_qty").is_null()
    unreconciled = pl.col("unit_factor").is_null()
    implausible = pl.col("servings_per_day") > max_servings
    issue = (
        pl.when(~pl.col("matched"))
        .then(pl.lit("product_unmatched"))
        .when(holds & usage_unknown)
        .then(pl.lit("usage_unknown"))
        .when(holds & unreconciled)
        .then(pl.lit("unit_unreconciled"))
        .when(holds & implausible)
        .then(pl.lit("quantity_implausible"))
        .when(unquantified)
        .then(pl.lit("ingredient_unquantified"))
        .cast(SUPP_QUALITY)
    )
    ok = ~(usage_unknown | unreconciled | implausible.fill_null(False))
    contrib = [
        pl.when(~(pl.col(k).fill_null(0.0) > 0))
        .then(0.0)
        .when(ok)
        .then(pl.col("_days") * pl.col("servings_per_day") * pl.col(k) / 30.0)
        .alias(f"{k}_contrib")
        for k in KEYS
    ]
    # took (on at least one day, or on an unknown number of days) a product with an amount of
    # the nutrient: a user whatever else is wrong with the row
    took = pl.col("matched") & ~(pl.col("_days") == 0).fill_null(False)
    users = [(took & (pl.col(k).fill_null(0.0) > 0)).alias(f"{k}_user") for k in KEYS]
    return rows.with_columns(
        issue.alias("issue"), unquantified.alias("unquantified"), *contrib, *users
    )


def derive_supplements(
    dsq2: pl.LazyFrame, products: pl.LazyFrame, *, max_servings: float = MAX_DAILY_SERVINGS
) -> pl.LazyFrame:
    """Per SEQN with DSQ2 rows: ``mg_supp``, ``ca_supp`` (mg/day), ``vitd_supp`` (µg/day), the
    30-day average per day, plus ``ds_products``, ``ds_unmatched_products``,
    ``ds_unquantified_products``, ``ds_implausible_products``, ``ds_unreconciled_products``,
    ``mg_supp_user``, ``ca_supp_user``, ``vitd_supp_user`` (took a product with an amount of
    the nutrient, known or not: a user's amount may be null), the antacids' share
    ``mg_antacid``, ``ca_antacid`` (mg/day from the products reported at the antacid question;
    included in ``mg_supp``/``ca_supp``), ``mg_supp_user_excl_antacid``,
    ``ca_supp_user_excl_antacid`` (took a product other than an antacid holding the nutrient)
    and ``supp_quality`` (:data:`OUTPUT_SCHEMA`).

    A nutrient's amount is null when any product holding it has an unknown use, unreconciled
    unit or implausible quantity; otherwise the sum over products. ``products`` is
    :func:`product_table`. How the build's DSQ2 step (``steps._supplements_dsq2``, formerly
    ``build._supplement_frame``) should call it::

        dsbi = read.load_ingredient_table(data_dir, "DSBI").lazy()
        products = supplements.product_table(dsii, dspi, dsbi)
        out = supplements.derive_supplements(dsq2, products)
        # then rename mg_supp/ca_supp/vitd_supp → _dsq2_mg/_dsq2_ca/_dsq2_vitd as today

    and carry ``supp_quality`` (non-users, DSD010 == 2 without DSQ2 rows: "complete";
    2007+: null), the ``ds_*_products`` counts and ``*_supp_user`` (DSD010 == 2: false;
    2007+: ``DSQTMAGN``/``DSQTCALC``/``DSQTVD`` > 0, as DSQTOT gives an amount to every user).
    """
    rows = supplement_rows(dsq2, products, max_servings=max_servings)
    severity = pl.col("issue").to_physical().cast(pl.Int64).fill_null(0)
    aggs = [
        pl.when(pl.col(f"{k}_contrib").is_null().any())
        .then(None)
        .otherwise(_ordered_sum(pl.col(f"{k}_contrib")))
        .cast(pl.Float64)
        .alias(f"{k}_supp")
        for k in KEYS
    ]

    antacid = pl.col("antacid")
    aggs += [
        pl.when(pl.col(f"{k}_contrib").filter(antacid).is_null().any())
        .then(None)
        .otherwise(pl.col(f"{k}_contrib").filter(antacid).fill_null(0.0).sum())
        .cast(pl.Float64)
        .alias(f"{k}_antacid")
        for k in ANTACID_KEYS
    ]
    aggs += [
        (pl.col(f"{k}_user") & ~antacid).any().alias(f"{k}_supp_user_excl_antacid")
        for k in ANTACID_KEYS
    ]

    def count(condition: pl.Expr) -> pl.Expr:
        return condition.fill_null(False).sum().cast(pl.Int64)

    return (
        rows.group_by("SEQN")
        .agg(
            *aggs,
            pl.len().alias("ds_products"),
            count(~pl.col("matched")).alias("ds_unmatched_products"),
            count(pl.col("unquantified") & pl.col("matched")).alias("ds_unquantified_products"),
            count(pl.col("issue") == "quantity_implausible").alias("ds_implausible_products"),
            count(pl.col("issue") == "unit_unreconciled").alias("ds_unreconciled_products"),
            *[pl.col(f"{k}_user").any().alias(f"{k}_supp_user") for k in KEYS],
            severity.max().alias("_severity"),
        )
        .with_columns(
            pl.col("_severity")
            .replace_strict(dict(enumerate(SUPP_QUALITY_LEVELS)), return_dtype=pl.Utf8)
            .cast(SUPP_QUALITY)
            .alias("supp_quality")
        )
        .select([pl.col(c).cast(t) for c, t in OUTPUT_SCHEMA.items()])
    )


def supp_quality_summary(frame: pl.DataFrame, *, min_age: float = 20.0) -> pl.DataFrame:
    """Per cycle, the share of participants aged ``min_age``+ in each ``supp_quality`` level
    (unweighted: a build summary) and the share flagged (any level but "complete").

    ``frame`` needs ``cycle``, ``age`` and ``supp_quality`` (null — cycles the level does not
    apply to, or an unknown DSD010 — is left out of the denominator). Columns: ``cycle``,
    ``adults`` (with a level), one ``share_<level>`` per level, ``share_flagged``,
    ``share_lower_bound`` (product_unmatched or ingredient_unquantified) and ``share_null``
    (levels that make an amount null).

    >>> f = pl.DataFrame({"cycle": ["2005-2006"] * 4, "age": [30.0, 40.0, 50.0, 10.0],
    ...     "supp_quality": ["complete", "product_unmatched", "complete", "usage_unknown"]},
    ...     schema_overrides={"supp_quality": SUPP_QUALITY})
    >>> supp_quality_summary(f).select("adults", "share_flagged", "share_null").row(0)
    (3, 0.3333333333333333, 0.0)
    """
    q = pl.col("supp_quality").cast(pl.Utf8)
    adults = frame.filter((pl.col("age") >= min_age) & pl.col("supp_quality").is_not_null())
    return (
        adults.group_by("cycle")
        .agg(
            pl.len().alias("adults"),
            *[(q == level).mean().alias(f"share_{level}") for level in SUPP_QUALITY_LEVELS],
            (q != "complete").mean().alias("share_flagged"),
            q.is_in(list(LOWER_BOUND_LEVELS)).mean().alias("share_lower_bound"),
            q.is_in(list(NULL_LEVELS)).mean().alias("share_null"),
        )
        .sort(pl.col("cycle").cast(pl.Utf8))
    )


def extreme_supplement_summary(frame: pl.DataFrame) -> pl.DataFrame:
    """Per cycle, how many participants are above :data:`VITD_SUPP_EXTREME_UG` and what they
    do to the unweighted mean of ``vitd_supp`` (a build summary: with them, without them).

    >>> f = pl.DataFrame({"cycle": ["2017-2018"] * 4, "vitd_supp": [0.0, 10.0, 20.0, 1250.0]})
    >>> extreme_supplement_summary(f).row(0)
    ('2017-2018', 1, 320.0, 10.0)
    """
    v = pl.col("vitd_supp")
    extreme = v > VITD_SUPP_EXTREME_UG
    return (
        frame.filter(v.is_not_null())
        .group_by(pl.col("cycle").cast(pl.Utf8))
        .agg(
            extreme.sum().cast(pl.Int64).alias("extreme"),
            v.mean().alias("mean_with"),
            v.filter(~extreme).mean().alias("mean_without"),
        )
        .filter(pl.col("extreme") > 0)
        .sort("cycle")
    )
