"""The NCI estimation's inputs as arrays: its constants (nutrients, cut points, the age bands the
model is fitted in), each cycle's recalls, covariates, weights and DRI cut points in numpy
arrays (the estimation's many passes over replicate weights are array work), and the fit
strata. :mod:`nhanes_mg.usual_intake.estimate` runs the estimation on them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from nhanes_mg.errors import EstimationError
from nhanes_mg.usual_intake.distrib import (
    PERCENTILES,
)
from nhanes_mg.usual_intake.domains import (
    AGE_GROUPS,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]

NUTRIENTS = ("mg", "ca")
DEFAULT_WEIGHT = "wt_diet1"  # the NCI method (MIXTRAN) weights the model by the day-1 weight
REQUIRED_COLUMNS = (
    "seqn",
    "cycle",
    "sdmvstra",
    "sdmvpsu",
    "wt_diet1",
    "age",
    "sex",
    "recall_ok_d1",
    "recall_ok_d2",
    "weekend_d1",
    "weekend_d2",
)
FIT_BANDS: tuple[tuple[str, int, int], ...] = (
    ("1-8", 1, 8),
    ("9-18", 9, 18),
    ("19-50", 19, 50),
    ("51+", 51, 200),
)
# Tolerable upper intake level for *supplemental* magnesium (IOM 1997), mg/day.
UL_SUPP_MG: tuple[tuple[int, int, float], ...] = ((1, 3, 65.0), (4, 8, 110.0), (9, 200, 350.0))
DEFAULT_DONORS: dict[str, str] = {"2001-2002": "2003-2004"}
# Person-specific cut-points, read from the frame columns {nut}_ear and {nut}_rda. The share
# of usual intake below the EAR is the prevalence of inadequacy; the share below the RDA only
# describes the intake distribution ("not meeting the RDA") — see the module docstring.
CUT_POINTS = ("ear", "rda")
DISTRIBUTION_STATS = ("mean", *(f"p{p}" for p in PERCENTILES))
STAT_NAMES = (
    *DISTRIBUTION_STATS,
    *(f"pct_below_{cp}" for cp in CUT_POINTS),
    "pct_above_cut",
    "pct_above_ul_supp",
)
SUMMARY_STATS = STAT_NAMES[:-2]  # always given by distrib.domain_summaries
EMPTY_STATS = dict.fromkeys(STAT_NAMES, float("nan"))
BASES = ("food", "food+supplements")
CONFIDENCE = 0.95
ROW_COLUMN = "__usual_intake_row"


@dataclass
class CycleArrays:
    """One cycle as numpy arrays (rows: participants aged ≥ 1 with a reliable day-1 recall and
    a positive weight, by SEQN)."""

    cycle: str
    pos: IntArray  # row of each person in the source frame
    seqn: IntArray
    age: FloatArray
    male: BoolArray
    group: IntArray  # index into AGE_GROUPS
    band: IntArray  # index into FIT_BANDS
    w: FloatArray
    weekend: FloatArray  # (n, 2)
    y: dict[str, FloatArray]  # nutrient -> (n, 2), nan where no reliable recall
    supp: dict[str, FloatArray]  # nutrient -> (n,), nan when unknown
    supp_user: FloatArray  # 0/1
    ear: dict[str, FloatArray]
    rda: dict[str, FloatArray]
    ul_supp_mg: FloatArray
    has_supp: bool

    @property
    def n(self) -> int:
        return len(self.w)

    @property
    def has_day2(self) -> bool:
        return bool(np.any(~np.isnan(next(iter(self.y.values()))[:, 1])))


def _age_index(age: FloatArray, bins: Sequence[tuple[str, int, int]]) -> IntArray:
    idx = np.full(len(age), -1, dtype=np.int64)
    for i, (_, lo, hi) in enumerate(bins):
        idx[(age >= lo) & (age <= hi)] = i
    return idx


def _ul_supp_mg(age: FloatArray) -> FloatArray:
    out = np.full(len(age), np.nan)
    for lo, hi, ul in UL_SUPP_MG:
        out[(age >= lo) & (age <= hi)] = ul
    return out


def to_float(frame: pl.DataFrame, name: str) -> FloatArray:
    return np.asarray(frame[name].cast(pl.Float64).fill_null(np.nan).to_numpy(), dtype=np.float64)


def _to_bool(frame: pl.DataFrame, name: str) -> BoolArray:
    return np.asarray(frame[name].cast(pl.Boolean).fill_null(False).to_numpy(), dtype=bool)


def cycle_arrays(
    frame: pl.DataFrame, cycle: str, nutrients: Sequence[str], weight: str
) -> CycleArrays:
    # polars selects and filters the cycle once; from here on numpy: the same arrays are refit
    # and resimulated for every replicate (dense linear algebra, (n, M) Monte Carlo arrays,
    # integer-key sorts), which polars expressions cannot do without copies per pass.
    sub = frame.filter(
        (pl.col("cycle").cast(pl.Utf8) == cycle)
        & (pl.col("age") >= 1)
        & pl.col("recall_ok_d1").fill_null(False)
        & (pl.col(weight) > 0)
    ).sort("seqn")
    if sub.height == 0:
        raise EstimationError(
            f"usual intake: no participant aged ≥ 1 with a day-1 recall and a positive "
            f"{weight} in {cycle}"
        )
    age = to_float(sub, "age")
    ok2 = _to_bool(sub, "recall_ok_d2")
    y: dict[str, FloatArray] = {}
    supp: dict[str, FloatArray] = {}
    ear: dict[str, FloatArray] = {}
    rda: dict[str, FloatArray] = {}
    has_supp = True
    for nut in nutrients:
        for col in (f"{nut}_food_d1", f"{nut}_food_d2", *(f"{nut}_{cp}" for cp in CUT_POINTS)):
            if col not in sub.columns:
                raise EstimationError(f"usual intake: the frame has no column {col!r}")
        d1, d2 = to_float(sub, f"{nut}_food_d1"), to_float(sub, f"{nut}_food_d2")
        d2 = np.where(ok2, d2, np.nan)
        y[nut] = np.column_stack([d1, d2])
        ear[nut] = to_float(sub, f"{nut}_ear")
        rda[nut] = to_float(sub, f"{nut}_rda")
        if f"{nut}_supp" in sub.columns and sub[f"{nut}_supp"].null_count() < sub.height:
            supp[nut] = to_float(sub, f"{nut}_supp")
        else:
            has_supp = False
    if np.any(np.isnan(next(iter(y.values()))[:, 0])):
        bad = int(np.isnan(next(iter(y.values()))[:, 0]).sum())
        raise EstimationError(f"usual intake: {bad} reliable day-1 recalls in {cycle} lack amounts")
    if has_supp:
        if "supp_user" in sub.columns:
            user = _to_bool(sub, "supp_user").astype(np.float64)
        else:
            user = np.zeros(sub.height)
            for nut in nutrients:
                user = np.maximum(user, (np.nan_to_num(supp[nut]) > 0).astype(np.float64))
    else:
        supp = {}
        user = np.zeros(sub.height)
    sex = sub["sex"].cast(pl.Utf8)
    if sex.null_count():
        raise EstimationError(f"usual intake: {sex.null_count()} participants in {cycle} lack sex")
    weekend = np.column_stack([_to_bool(sub, "weekend_d1"), _to_bool(sub, "weekend_d2")]).astype(
        np.float64
    )
    return CycleArrays(
        cycle=cycle,
        pos=np.asarray(sub[ROW_COLUMN].to_numpy(), dtype=np.int64),
        seqn=np.asarray(sub["seqn"].to_numpy(), dtype=np.int64),
        age=age,
        male=np.asarray((sex == "male").to_numpy(), dtype=bool),
        group=_age_index(age, AGE_GROUPS),
        band=_age_index(age, FIT_BANDS),
        w=to_float(sub, weight),
        weekend=weekend,
        y=y,
        supp=supp,
        supp_user=user,
        ear=ear,
        rda=rda,
        ul_supp_mg=_ul_supp_mg(age),
        has_supp=has_supp,
    )


@dataclass
class FitStratum:
    """Rows of one fit and its design (built once per cycle, reused by every replicate)."""

    name: str
    rows: IntArray
    X: FloatArray  # (n_s, 2, p)
    X_weekday: FloatArray  # (n_s, p): day-1 rows, weekend 0
    X_weekend: FloatArray
    columns: tuple[str, ...]


def fit_strata(ca: CycleArrays, stratify: bool) -> list[FitStratum]:
    out = []
    if stratify:
        keys = [
            (f"{'male' if male else 'female'} {band_name}", (ca.male == male) & (ca.band == b))
            for male in (True, False)
            for b, (band_name, _, _) in enumerate(FIT_BANDS)
        ]
    else:
        keys = [("all", np.ones(ca.n, dtype=bool))]
    for name, mask in keys:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            continue
        cols: list[tuple[str, FloatArray]] = [("intercept", np.ones(len(rows)))]
        if not stratify:
            cols.append(("male", ca.male[rows].astype(np.float64)))
        groups = np.unique(ca.group[rows])
        for g in groups[1:]:
            cols.append((f"age {AGE_GROUPS[g][0]}", (ca.group[rows] == g).astype(np.float64)))
        if ca.has_supp and 0 < ca.supp_user[rows].sum() < len(rows):
            cols.append(("supplement user", ca.supp_user[rows]))
        person = np.column_stack([c for _, c in cols])
        names = [n for n, _ in cols]
        # insert day-2 and weekend after the intercept
        day2_cols = ["day2"] if ca.has_day2 else []
        p = person.shape[1] + len(day2_cols) + 1
        X = np.zeros((len(rows), 2, p))
        X[:, :, 0] = 1.0
        j = 1
        if day2_cols:
            X[:, 1, j] = 1.0
            j += 1
        X[:, :, j] = ca.weekend[rows]
        X[:, :, j + 1 :] = person[:, None, 1:]
        Xwd = X[:, 0, :].copy()
        Xwd[:, j] = 0.0
        Xwe = Xwd.copy()
        Xwe[:, j] = 1.0
        columns = ("intercept", *day2_cols, "weekend", *names[1:])
        out.append(FitStratum(name, rows, X, Xwd, Xwe, columns))
    return out


def ul_share(
    supp: FloatArray, ul: FloatArray, w: FloatArray, domains: Mapping[str, BoolArray]
) -> dict[str, float]:
    known = ~np.isnan(supp)
    above = known & (np.nan_to_num(supp) > ul)
    out = {}
    for name, mask in domains.items():
        wd = np.where(mask & known, w, 0.0)
        if wd.sum() > 0:
            out[name] = float(100.0 * wd[above].sum() / wd.sum())
    return out
