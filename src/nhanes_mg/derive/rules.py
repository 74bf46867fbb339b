"""Derivation rules as polars expressions: small, pure and unit-tested on toy frames.

Examples
--------
>>> import polars as pl
>>> sexes = ["male", "female", "female", "male", "male"]
>>> df = pl.DataFrame({"age": [2.0, 16.0, 25.0, 45.0, 75.0], "sex": sexes})
>>> df.with_columns(mg_ear=mg_ear(), ca_rda=ca_rda())["mg_ear"].to_list()
[65.0, 300.0, 255.0, 350.0, 350.0]
>>> df.with_columns(ca_rda=ca_rda())["ca_rda"].to_list()
[700.0, 1300.0, 1000.0, 1000.0, 1200.0]
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

NMOL_PER_NGML = 2.496  # 25(OH)D: 1 ng/mL = 2.496 nmol/L
IU_PER_UG_VITD = 40.0  # vitamin D: 1 µg = 40 IU

SEX_LEVELS = ("male", "female")
RACE_ETH_LEVELS = ("mexican_american", "other_hispanic", "nh_white", "nh_black", "other")
RACE_ETH6_LEVELS = (
    "mexican_american",
    "other_hispanic",
    "nh_white",
    "nh_black",
    "nh_asian",
    "other",
)
EDUCATION_LEVELS = ("lt_high_school", "high_school", "some_college", "college_grad")
SMOKING_LEVELS = ("never", "former", "current")
VITD_STATUS_LEVELS = ("deficient", "insufficient", "sufficient")
SEASON_LEVELS = ("nov_apr", "may_oct")
MORT_CAUSE_LEVELS = ("cvd", "cancer", "other")
DOW_LEVELS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# the levels above in words, as a reader sees them (a level not listed reads as itself)
LEVEL_WORDS: dict[str, str] = {
    "mexican_american": "Mexican American",
    "other_hispanic": "other Hispanic",
    "nh_white": "non-Hispanic White",
    "nh_black": "non-Hispanic Black",
    "nh_asian": "non-Hispanic Asian",
    "lt_high_school": "less than high school",
    "high_school": "high school",
    "some_college": "some college",
    "college_grad": "college graduate",
    "nov_apr": "November–April",
    "may_oct": "May–October",
    "cvd": "cardiovascular disease",
}

# (age lo, age hi inclusive, sex or None, EAR, RDA), mg/day
# Magnesium: IOM 1997 (claims.md); non-pregnant, non-lactating values for everyone.
MG_TABLE: tuple[tuple[int, int, str | None, float, float], ...] = (
    (1, 3, None, 65.0, 80.0),
    (4, 8, None, 110.0, 130.0),
    (9, 13, None, 200.0, 240.0),
    (14, 18, "male", 340.0, 410.0),
    (14, 18, "female", 300.0, 360.0),
    (19, 30, "male", 330.0, 400.0),
    (19, 30, "female", 255.0, 310.0),
    (31, 200, "male", 350.0, 420.0),
    (31, 200, "female", 265.0, 320.0),
)
# Calcium: IOM 2011. Adults and 9-18 from claims.md; 1-3 (500/700) and 4-8 (800/1000) from
# the same IOM 2011 report.
CA_TABLE: tuple[tuple[int, int, str | None, float, float], ...] = (
    (1, 3, None, 500.0, 700.0),
    (4, 8, None, 800.0, 1000.0),
    (9, 18, None, 1100.0, 1300.0),
    (19, 50, None, 800.0, 1000.0),
    (51, 70, "male", 800.0, 1000.0),
    (51, 200, "female", 1000.0, 1200.0),
    (71, 200, "male", 1000.0, 1200.0),
)


def null_codes(expr: pl.Expr, codes: Sequence[float]) -> pl.Expr:
    """Null out a variable's own missing-value codes (e.g. 7/9, 777/999).

    >>> df = pl.DataFrame({"x": [1.0, 7.0, 9.0, None]})
    >>> df.select(null_codes(pl.col("x"), (7.0, 9.0)))["x"].to_list()
    [1.0, None, None, None]
    """
    if not codes:
        return expr
    return pl.when(~expr.is_in(list(codes))).then(expr)


def recode(expr: pl.Expr, mapping: dict[float, str], levels: Sequence[str]) -> pl.Expr:
    """Map numeric codes to readable Enum levels; any code not listed (7, 9, 3 …) is null."""
    return expr.replace_strict(mapping, default=None, return_dtype=pl.Enum(list(levels)))


def yes_no(col: str, no: Sequence[float] = (2.0,)) -> pl.Expr:
    """A questionnaire yes/no item: 1 → true, a code in ``no`` → false, anything else null.

    Refused (7) and don't know (9) are null whether or not they were nulled before.

    >>> df = pl.DataFrame({"diq010": [1.0, 2.0, 3.0, 7.0, 9.0, None]})
    >>> df.select(d=yes_no("diq010", no=(2.0, 3.0)))["d"].to_list()
    [True, False, False, None, None, None]
    """
    x = pl.col(col)
    return pl.when(x == 1).then(True).when(x.is_in(list(no))).then(False).otherwise(None)


def any_yes(cols: Sequence[str]) -> pl.Expr:
    """True when any yes/no item is 1 (yes); false only when every item is answered 1/2 and
    none is yes; null otherwise (an unanswered or 7/9 item could have been the yes).

    >>> df = pl.DataFrame({"a": [1.0, 2.0, 2.0, 9.0, None], "b": [None, 2.0, 9.0, 1.0, None]})
    >>> df.select(y=any_yes(["a", "b"]))["y"].to_list()
    [True, False, None, True, None]
    """
    items = [pl.col(c) for c in cols]
    yes = pl.any_horizontal([(x == 1).fill_null(False) for x in items])
    all_no = pl.all_horizontal([(x == 2).fill_null(False) for x in items])
    return pl.when(yes).then(True).when(all_no).then(False).otherwise(None)


def _lookup(table: Sequence[tuple[int, int, str | None, float, float]], which: int) -> pl.Expr:
    age, sex = pl.col("age"), pl.col("sex").cast(pl.Utf8)
    out: pl.Expr = pl.lit(None, dtype=pl.Float64)
    for lo, hi, who, ear, rda in reversed(table):
        cond = (age >= lo) & (age <= hi)
        if who is not None:
            cond = cond & (sex == who)
        out = pl.when(cond).then(pl.lit(ear if which == 0 else rda)).otherwise(out)
    return out


def mg_ear() -> pl.Expr:
    """Magnesium EAR (mg/day) for ``age`` (years) and ``sex``; null under 1 year."""
    return _lookup(MG_TABLE, 0)


def mg_rda() -> pl.Expr:
    return _lookup(MG_TABLE, 1)


def ca_ear() -> pl.Expr:
    return _lookup(CA_TABLE, 0)


def ca_rda() -> pl.Expr:
    return _lookup(CA_TABLE, 1)


def below(intake: str, reference: str) -> pl.Expr:
    """True when intake < reference; null when either is missing."""
    return pl.col(intake) < pl.col(reference)


def ratio(num: str, den: str) -> pl.Expr:
    """num / den, null when den is missing or not positive.

    >>> df = pl.DataFrame({"a": [900.0, 1.0, 1.0], "b": [300.0, 0.0, None]})
    >>> df.select(r=ratio("a", "b"))["r"].to_list()
    [3.0, None, None]
    """
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def vitd_status(
    col: str = "vitd_25oh_nmol", cutpoints: tuple[float, float] = (30.0, 50.0)
) -> pl.Expr:
    """deficient < lo, insufficient lo–< hi, sufficient ≥ hi (nmol/L).

    >>> df = pl.DataFrame({"v": [29.9, 30.0, 49.99, 50.0, None]})
    >>> df.select(s=vitd_status("v"))["s"].to_list()
    ['deficient', 'insufficient', 'insufficient', 'sufficient', None]
    """
    lo, hi = cutpoints
    if not lo < hi:
        raise ValueError(f"vitamin D cut points must increase, got {cutpoints}")
    v = pl.col(col)
    return (
        pl.when(v < lo)
        .then(pl.lit("deficient"))
        .when(v < hi)
        .then(pl.lit("insufficient"))
        .when(v >= hi)
        .then(pl.lit("sufficient"))
        .otherwise(None)
        .cast(pl.Enum(list(VITD_STATUS_LEVELS)))
    )


def day_mean(d1: str, d2: str) -> pl.Expr:
    """Mean of the reliable recall days: both when both exist, else the one that does."""
    a, b = pl.col(d1), pl.col(d2)
    return pl.when(a.is_not_null() & b.is_not_null()).then((a + b) / 2).otherwise(a.fill_null(b))


def add_nullable(a: str, b: str) -> pl.Expr:
    """a + b, null when either is null (a total needs both parts)."""
    return pl.col(a) + pl.col(b)


def recalibrated_creatinine(scr: str = "_scr", cycle: str = "cycle") -> pl.Expr:
    """Serum creatinine (mg/dL) on the IDMS-traceable scale: 2005-2006 recalibrated by CDC's
    equation −0.016 + 0.978·Scr, other cycles as published.

    >>> df = pl.DataFrame({"_scr": [1.0, 1.0], "cycle": ["2005-2006", "2007-2008"]})
    >>> df.select(s=recalibrated_creatinine())["s"].to_list()
    [0.962, 1.0]
    """
    value = pl.col(scr)
    return pl.when(pl.col(cycle) == "2005-2006").then(-0.016 + 0.978 * value).otherwise(value)


def egfr_ckd_epi_2021(scr: str | pl.Expr = "scr", age: str = "age", sex: str = "sex") -> pl.Expr:
    """eGFR (mL/min/1.73 m²), CKD-EPI 2021 race-free creatinine equation, adults ≥ 18.

    ``scr`` is serum creatinine in mg/dL: a column name or an expression.

    >>> df = pl.DataFrame({"scr": [1.0], "age": [50.0], "sex": ["male"]})
    >>> round(df.select(e=egfr_ckd_epi_2021())["e"][0], 1)
    91.7
    """
    female = pl.col(sex).cast(pl.Utf8) == "female"
    kappa = pl.when(female).then(0.7).otherwise(0.9)
    alpha = pl.when(female).then(-0.241).otherwise(-0.302)
    creatinine = pl.col(scr) if isinstance(scr, str) else scr
    ratio_ = creatinine / kappa
    value = (
        142.0
        * pl.min_horizontal(ratio_, pl.lit(1.0)).pow(alpha)
        * pl.max_horizontal(ratio_, pl.lit(1.0)).pow(-1.200)
        * pl.lit(0.9938).pow(pl.col(age))
        * pl.when(female).then(1.012).otherwise(1.0)
    )
    return pl.when((pl.col(age) >= 18) & (creatinine > 0)).then(value).otherwise(None)


def recall_day(value: str, day: int) -> pl.Expr:
    """A recall-day amount, null unless that day's recall is reliable (``recall_ok_d{day}``)."""
    return pl.when(pl.col(f"recall_ok_d{day}")).then(pl.col(value))


def supplement_30day(key: str, dsq2_years: Sequence[str]) -> pl.Expr:
    """A nutrient's daily amount from supplements, 30-day questionnaire (``key``: mg, ca, vitd).

    In ``dsq2_years`` (2001-2006) the DSQ2 × DSII amount ``_dsq2_{key}`` of a participant with
    products, 0 for a non-user (DSD010 == 2), else null. Later, the DSQTOT total
    ``_dsq_{key}`` (0 when no product holds the nutrient) for everyone who answered DSD010 or
    reported an antacid, else null.
    """
    c = pl.col
    dsq2 = (
        pl.when(c("ds_products").is_not_null())
        .then(c(f"_dsq2_{key}"))
        .when(c("_dsd010") == 2)
        .then(0.0)
    )
    answered = c("_dsd010").is_not_null() | (c("_dsd010an") == 1)
    dsqtot = pl.when(answered).then(c(f"_dsq_{key}").fill_null(0.0))
    return pl.when(c("cycle").is_in(list(dsq2_years))).then(dsq2).otherwise(dsqtot)


def supplement_24h(key: str, day: int) -> pl.Expr:
    """A nutrient's amount from supplements on recall day ``day`` (2007+): ``_ds{day}_{key}``
    (0 for a non-user) when the recall is reliable and DS{day}DS answered 1/2, else null."""
    answered = pl.col(f"_ds{day}ds").is_in([1.0, 2.0])
    ok = pl.col(f"recall_ok_d{day}")
    return pl.when(ok & answered).then(pl.col(f"_ds{day}_{key}").fill_null(0.0))
