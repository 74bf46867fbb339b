"""The synthetic participants behind ``nhanes-mg demo``: a two-stage sample per cycle (strata,
PSUs, weights), demographics, intakes, supplements, 25(OH)D, medical history and mortality,
drawn with realistic associations. :mod:`nhanes_mg.derive.demo` writes them as CDC's files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from nhanes_mg.data.catalog import Cycle

Arr = npt.NDArray[np.float64]
Sim = dict[str, Any]  # one cycle's simulated participants: name -> numpy array (or scalar)

DEFAULT_CYCLES: tuple[str, ...] = ("2003-2004", "2005-2006", "2007-2008", "2011-2012", "2013-2014")
SYNTHETIC_FILE = "SYNTHETIC.txt"
MANIFEST_FILE = "MANIFEST.tsv"
MAX_PER_CYCLE = 9900  # SEQN ranges of neighbouring cycles must not overlap (as in NHANES)
MIN_PER_CYCLE = 100

# First SEQN, first pseudo-stratum and number of strata of each cycle (as CDC numbers them),
# and the civilian non-institutionalized US population the two-year weights sum to.
SEQN_START = {"B": 9966, "C": 21005, "D": 31127, "E": 41475, "F": 51624, "G": 62161,
               "H": 73557, "I": 83732, "J": 93703}  # fmt: skip
_STRATA = {"B": (15, 14), "C": (29, 15), "D": (44, 15), "E": (59, 16), "F": (75, 15),
           "G": (90, 14), "H": (104, 15), "I": (119, 15), "J": (134, 15)}  # fmt: skip
_POPULATION = {"B": 2.80e8, "C": 2.86e8, "D": 2.92e8, "E": 2.97e8, "F": 3.02e8, "G": 3.07e8,
               "H": 3.11e8, "I": 3.16e8, "J": 3.20e8}  # fmt: skip
# Cycles that get a linked-mortality file, and its release (as in the shared real mirror).
MORTALITY_RELEASE = {"C": 2015, "D": 2015, "G": 2019, "H": 2019}
XPT_STAMP = b"01JAN24:00:00:00"  # fixed header timestamp: same seed, same bytes
STAMP_RE = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")

# RIDRETH1 1 Mexican American, 2 other Hispanic, 3 NH white, 4 NH black, 5 other: the sample
# over-represents minorities (as NHANES does) and the weights undo it.
_RACE_SAMPLE = np.array([0.20, 0.09, 0.39, 0.22, 0.10])
_RACE_POP = np.array([0.10, 0.06, 0.65, 0.12, 0.07])
_RACE_SES = np.array([-0.6, -0.4, 0.25, -0.4, 0.1])
_RACE_VITD = np.array([-0.20, -0.15, 0.05, -0.50, -0.15])  # log 25(OH)D shift


# ------------------------------------------------------------------------- supplement products


@dataclass(frozen=True)
class _Product:
    """A supplement in the ingredient database: amounts per serving of ``servq`` units."""

    pid: int
    name: str
    servq: float
    ingredients: tuple[tuple[str, float, int], ...]  # (DSII ingredient name, amount, DSDUNIT)
    antacid: bool = False

    @property
    def supid(self) -> int:
        return 1000030000 + 100 * self.pid


# DSDUNIT: 1 mg, 2 IU, 4 µg (as DSII codes them)
_MG, _IU, _UG = 1, 2, 4
PRODUCTS: tuple[_Product, ...] = (
    _Product(1, "CENTRUM MULTIVITAMIN / MULTIMINERAL", 1.0,
             (("MAGNESIUM", 100, _MG), ("CALCIUM", 162, _MG), ("VITAMIN D", 400, _IU),
              ("VITAMIN C", 60, _MG), ("BIOTIN", 30, _UG))),
    _Product(2, "ONE A DAY MAXIMUM MULTIVITAMIN / MULTIMINERAL", 1.0,
             (("MAGNESIUM", 100, _MG), ("CALCIUM", 162, _MG), ("VITAMIN D", 400, _IU),
              ("ZINC", 15, _MG))),
    _Product(3, "CENTRUM SILVER MULTIVITAMIN / MULTIMINERAL", 1.0,
             (("MAGNESIUM", 100, _MG), ("CALCIUM", 200, _MG), ("VITAMIN D", 500, _IU),
              ("VITAMIN B12", 25, _UG))),
    _Product(4, "THERAGRAN MULTIVITAMIN", 1.0,
             (("VITAMIN D", 400, _IU), ("VITAMIN C", 90, _MG), ("FOLIC ACID", 400, _UG))),
    _Product(5, "CALTRATE 600 + D", 1.0, (("CALCIUM", 600, _MG), ("VITAMIN D", 400, _IU))),
    _Product(6, "OS-CAL 500 + D", 1.0, (("CALCIUM", 500, _MG), ("VITAMIN D", 200, _IU))),
    _Product(7, "CITRACAL + D", 2.0, (("CALCIUM", 630, _MG), ("VITAMIN D", 400, _IU))),
    _Product(8, "CALCIUM MAGNESIUM ZINC", 3.0,
             (("CALCIUM", 1000, _MG), ("MAGNESIUM", 400, _MG), ("ZINC", 15, _MG))),
    _Product(9, "MAGNESIUM 250 MG", 1.0, (("MAGNESIUM", 250, _MG),)),
    _Product(10, "MAGNESIUM OXIDE 400 MG", 1.0, (("MAGNESIUM", 241, _MG),)),
    _Product(11, "VITAMIN D 400 IU", 1.0, (("VITAMIN D", 400, _IU),)),
    _Product(12, "VITAMIN D3 1000 IU", 1.0, (("VITAMIN D", 1000, _IU),)),
    _Product(13, "VITAMIN D3 25 MCG", 1.0, (("VITAMIN D", 25, _UG),)),
    _Product(14, "VITAMIN C 500 MG", 1.0, (("VITAMIN C", 500, _MG),)),
    _Product(15, "VITAMIN B-COMPLEX", 1.0, (("VITAMIN B6", 2, _MG), ("NIACIN", 20, _MG))),
    _Product(16, "FISH OIL 1000 MG", 1.0, (("FISH OIL", 1000, _MG),)),
    _Product(17, "FLINTSTONES COMPLETE CHILDREN'S MULTIVITAMIN", 1.0,
             (("MAGNESIUM", 20, _MG), ("CALCIUM", 100, _MG), ("VITAMIN D", 400, _IU))),
    _Product(18, "PRENATAL MULTIVITAMIN", 1.0,
             (("MAGNESIUM", 25, _MG), ("CALCIUM", 200, _MG), ("VITAMIN D", 400, _IU),
              ("FOLIC ACID", 800, _UG))),
    _Product(19, "TUMS REGULAR STRENGTH ANTACID", 2.0, (("CALCIUM", 400, _MG),), antacid=True),
    _Product(20, "PHILLIPS MILK OF MAGNESIA TABLETS", 2.0, (("MAGNESIUM", 260, _MG),),
             antacid=True),
)  # fmt: skip
_SUPPLEMENTS = [p for p in PRODUCTS if not p.antacid]
_ANTACIDS = [p for p in PRODUCTS if p.antacid]
UNKNOWN_SUPID = 6666666666  # "NO PRODUCT INFORMATION AVAILABLE": not in DSPI
# Product choice (over _SUPPLEMENTS, in order) for children, men and women.
_CHOICE = {
    "child": [0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 1, 0, 0, 3, 0, 0, 20, 0],
    "male": [10, 8, 5, 4, 1, 1, 1, 2, 2, 1, 3, 3, 1, 6, 3, 6, 0, 0],
    "female": [9, 7, 6, 3, 6, 4, 3, 3, 2, 1, 3, 3, 1, 5, 3, 5, 0, 0],
}


def _amount_per_unit(product: _Product, ingredient: str) -> float:
    """mg (Mg, Ca) or µg (vitamin D) per unit taken, as nhanes_mg.derive.supplements computes."""
    total = 0.0
    for name, qty, unit in product.ingredients:
        if name != ingredient:
            continue
        total += qty / 40.0 if unit == _IU else float(qty)
    return total / product.servq


_PER_UNIT = {
    key: np.array([_amount_per_unit(p, name) for p in PRODUCTS])
    for key, name in (("mg", "MAGNESIUM"), ("ca", "CALCIUM"), ("vitd", "VITAMIN D"))
}


# ------------------------------------------------------------------------------------ helpers


def _sigmoid(x: Arr) -> Arr:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def where_else(cond: npt.NDArray[np.bool_], value: Any, other: Any = np.nan) -> Arr:
    return np.asarray(np.where(cond, value, other), dtype=np.float64)


def with_codes(rng: np.random.Generator, values: Arr, rate: float, codes: Sequence[float]) -> Arr:
    """Replace a share ``rate`` of the non-missing answers by refused/don't-know codes."""
    hit = ~np.isnan(values) & (rng.random(values.size) < rate)
    out = values.copy()
    out[hit] = rng.choice(np.asarray(codes, dtype=np.float64), int(hit.sum()))
    return out


def _normalize(weight: Arr, total: float) -> Arr:
    return np.asarray(np.round(weight / weight.sum() * total, 6), dtype=np.float64)


# ---------------------------------------------------------------------------------- simulation


def simulate_cycle(cycle: Cycle, n: int, seed: int) -> Sim:
    """One cycle's participants: every variable the tables are cut from."""
    rng = np.random.default_rng([seed, cycle.begin])
    letter = cycle.letter
    t = (cycle.begin - 2001) / 2.0  # cycle index, 0 for 2001-2002: secular trends
    s: Sim = {"letter": letter, "n": n, "rng": rng, "seed": seed}
    s["seqn"] = (SEQN_START[letter] + np.arange(n)).astype(np.float64)

    # Design: strata numbered as CDC does, 2 PSUs each; every PSU gets people.
    first, n_strata = _STRATA[letter]
    cluster = rng.integers(0, 2 * n_strata, n)
    cluster[: 2 * n_strata] = np.arange(2 * n_strata)
    rng.shuffle(cluster)
    s["sdmvstra"] = (first + cluster // 2).astype(np.float64)
    s["sdmvpsu"] = (1 + cluster % 2).astype(np.float64)
    n_cl = 2 * n_strata
    cl_mg = rng.normal(0.0, 0.05, n_cl)[cluster]
    cl_vd = rng.normal(0.0, 0.08, n_cl)[cluster]
    # The mobile exam centre stays about a month in a PSU: the season is a PSU's.
    exam_month = rng.uniform(0.0, 22.5, n_cl)[cluster] + rng.uniform(0.0, 1.5, n)
    s["exam_month"] = exam_month  # months since 1 January of the cycle's first year
    calendar = np.floor(exam_month).astype(int) % 12
    may_oct = (calendar >= 4) & (calendar <= 9)

    # Demographics
    ages = np.arange(1, 86)
    shape = np.where(ages < 20, 1.6, np.where(ages < 60, 1.0, np.where(ages < 80, 0.8, 0.5)))
    shape[-1] *= 3.0  # 85 and over
    age = rng.choice(ages, n, p=shape / shape.sum()).astype(np.float64)
    if letter >= "E":
        age = np.minimum(age, 80.0)  # top-coded at 80 from 2007-2008
    s["age"] = age
    male = rng.random(n) < 0.49
    s["male"] = male
    race = rng.choice(5, n, p=_RACE_SAMPLE)
    s["race"] = race  # 0-based RIDRETH1 - 1
    other = race == 4
    s["ridreth3"] = where_else(other, np.where(rng.random(n) < 0.6, 6.0, 7.0), race + 1.0)
    ses = rng.normal(0.0, 1.0, n) + _RACE_SES[race]
    s["ses"] = ses
    adult = age >= 20
    s["adult"] = adult
    educ = 1.0 + np.digitize(ses + rng.normal(0.0, 0.6, n), [-1.4, -0.7, 0.1, 0.9])
    s["dmdeduc2"] = with_codes(rng, where_else(adult, educ), 0.003, (7.0, 9.0))
    pir = np.clip(np.exp(np.log(2.2) + 0.55 * ses + rng.normal(0.0, 0.45, n)), 0.0, 5.0)
    s["indfmpir"] = where_else(rng.random(n) < 0.08, np.nan, np.round(pir, 2))
    examined = rng.random(n) > 0.04
    s["examined"] = examined
    s["ridexmon"] = where_else(examined, np.where(may_oct, 2.0, 1.0))
    s["may_oct"] = may_oct
    fertile = ~male & (age >= 20) & (age <= 44) & examined
    s["ridexprg"] = where_else(fertile, rng.choice([1.0, 2.0, 3.0], n, p=[0.05, 0.93, 0.02]))

    # Weights: undo the oversampling, then scale to the population.
    base = (_RACE_POP / _RACE_SAMPLE)[race] * np.where(age < 20, 0.7, np.where(age < 60, 1.3, 0.9))
    base = base * rng.lognormal(0.0, 0.35, n)
    pop = _POPULATION[letter]
    s["wtint2yr"] = _normalize(base, pop)
    s["wtmec2yr"] = _normalize(np.where(examined, base * rng.lognormal(0.0, 0.05, n), 0.0), pop)

    # Body size
    bmi_adult = np.exp(
        np.log(26.6)
        + 0.02 * ~male
        + 0.08 * ((race == 3) & ~male)
        + 0.04 * (race == 0)
        - 0.04 * ses
        + 0.002 * np.clip(age - 20, 0, 40)
        + rng.normal(0.0, 0.18, n)
    )
    bmi_child = np.exp(np.log(15.5 + 0.45 * np.clip(age - 5, 0, None)) + rng.normal(0, 0.15, n))
    bmi = np.clip(np.where(adult, bmi_adult, bmi_child), 12.0, 70.0)
    has_bmi = examined & (age >= 2) & (rng.random(n) > 0.03)
    s["bmi"] = where_else(has_bmi, np.round(bmi, 1))
    bmi_c = np.where(has_bmi, bmi, 27.0) - 27.0

    # Smoking (asked from 20 in 2001-2002, from 18 later), alcohol, physical activity
    smq_age = 20 if letter == "B" else 18
    asked = age >= smq_age
    s["smq_asked"] = asked
    ever = rng.random(n) < _sigmoid(-0.3 + 0.5 * male - 0.4 * ses)
    current = ever & (rng.random(n) < _sigmoid(0.2 - 0.03 * (age - 40) - 0.3 * ses))
    s["current_smoker"] = asked & current
    s["smq020"] = with_codes(rng, where_else(asked, np.where(ever, 1.0, 2.0)), 0.003, (7.0, 9.0))
    some_days = rng.random(n) < 0.2
    smq040 = np.where(current, np.where(some_days, 2.0, 1.0), 3.0)
    s["smq040"] = where_else(asked & ever & (s["smq020"] == 1), smq040)
    drinker = adult & (rng.random(n) < _sigmoid(0.8 + 0.4 * ses - 0.3 * ~male))
    s["drinker"] = drinker
    s["alq101"] = where_else(adult, np.where(drinker, 1.0, 2.0))
    drinks = np.clip(1.0 + rng.poisson(np.where(male, 1.9, 1.3)), 1, 25).astype(np.float64)
    s["drinks"] = drinks
    alq_codes = (77.0, 99.0) if letter in "BC" else (777.0, 999.0)
    s["alq130"] = with_codes(rng, where_else(drinker, drinks), 0.005, alq_codes)
    pa_asked = age >= 12
    s["pa_asked"] = pa_asked
    vig = rng.random(n) < _sigmoid(-0.6 + 0.5 * ses - 0.035 * (age - 40) - 0.04 * bmi_c)
    mod = rng.random(n) < _sigmoid(0.4 + 0.45 * ses - 0.01 * (age - 40))
    s["vig"], s["mod"] = vig, mod
    active = pa_asked & (vig | mod)

    # Usual intake (per person) and two recall days
    kcal_base = np.where(
        age < 20,
        1100.0 + 70.0 * np.minimum(age, 16),
        np.where(male, 2600.0, 1900.0) - np.where(male, 9.0, 6.0) * np.clip(age - 30, 0, None),
    )
    log_kcal_u = np.log(kcal_base) + rng.normal(0.0, 0.18, n)
    mg_base = np.where(age < 20, 140.0 + 11.0 * np.minimum(age, 17), np.where(male, 310.0, 245.0))
    mg_base = mg_base * (1.0 + 0.008 * t)
    log_mg_u = (
        np.log(mg_base)
        + 0.8 * (log_kcal_u - np.log(kcal_base))
        + 0.08 * ses
        + 0.06 * active
        + cl_mg
        + rng.normal(0.0, 0.15, n)
    )
    log_ratio_u = (
        np.log(2.95 + 0.035 * t)
        + 0.05 * (race == 2)
        - 0.10 * (race == 0)
        + 0.15 * (age < 20)
        + rng.normal(0.0, 0.22, n)
    )
    log_ca_u = log_mg_u + log_ratio_u
    vitd_food_u = np.exp(np.log(3.8) + 0.5 * (log_ratio_u - np.log(3.0)) + rng.normal(0, 0.5, n))
    s["mg_food_u"] = np.exp(log_mg_u)
    s["ca_food_u"] = np.exp(log_ca_u)
    s["vitd_food_u"] = vitd_food_u
    for day in (1, 2):
        e = rng.normal(0.0, 0.28, n)
        s[f"kcal_d{day}"] = np.round(np.exp(log_kcal_u + e))
        s[f"mg_d{day}"] = np.round(np.exp(log_mg_u + 0.8 * e + rng.normal(0.0, 0.18, n)))
        s[f"ca_d{day}"] = np.round(np.exp(log_ca_u + 0.8 * e + rng.normal(0.0, 0.25, n)))
        s[f"vitd_d{day}"] = np.round(vitd_food_u * np.exp(rng.normal(0.0, 0.6, n)), 1)
        drank = drinker & (rng.random(n) < 0.35)
        grams = 14.0 * drinks * rng.lognormal(0.0, 0.5, n)
        s[f"alco_d{day}"] = np.round(np.where(drank, grams, 0.0), 1)
    # Recall status: 1 reliable, 2 not reliable, 4 breast-fed infant, 5 not done
    status1 = rng.choice([1.0, 2.0, 5.0], n, p=[0.90, 0.02, 0.08])
    status1 = np.where((age <= 1) & (rng.random(n) < 0.15), 4.0, status1)
    status1 = where_else(examined, status1)
    ok1 = status1 == 1
    status2 = where_else(examined, 5.0)
    status2 = np.where(ok1, rng.choice([1.0, 2.0, 5.0], n, p=[0.86, 0.01, 0.13]), status2)
    if letter == "B":
        status2 = where_else(examined, 5.0)  # no day 2 in 2001-2002
    s["status1"], s["status2"] = status1, status2
    dow1 = rng.integers(1, 8, n)
    s["dow1"] = where_else(examined, dow1)
    s["dow2"] = where_else(examined, (dow1 - 1 + rng.integers(3, 11, n)) % 7 + 1)
    weekend = np.isin(dow1, [1, 6, 7])
    w1 = np.where(np.isin(status1, [1.0, 4.0]), s["wtmec2yr"] * np.where(weekend, 1.1, 0.95), 0.0)
    s["wtdrd1"] = _normalize(w1 * rng.lognormal(0.0, 0.08, n), pop)
    w2 = np.where(ok1 & (status2 == 1), s["wtmec2yr"] * rng.lognormal(0.0, 0.1, n), 0.0)
    s["wtdr2d"] = _normalize(w2, pop) if w2.sum() > 0 else w2

    _simulate_supplements(s, rng)

    # 25(OH)D: season, race, BMI, activity, vitamin D supplements (more effect at high Mg),
    # food vitamin D and magnesium intake.
    mg_total_u = s["mg_food_u"] + s["mg_supp_u"]
    high_mg = mg_total_u >= 300.0
    vd_user = s["vitd_supp_u"] > 0
    log_vid = (
        np.log(51.0)
        + 0.012 * t
        + np.where(may_oct, 0.10, -0.10)
        + _RACE_VITD[race]
        - 0.012 * bmi_c
        + 0.08 * active
        + vd_user * np.where(high_mg, 0.30, 0.12)
        + 0.003 * np.minimum(s["vitd_supp_u"], 50.0)
        + 0.02 * vitd_food_u
        + 0.18 * np.log(mg_total_u / 300.0)
        + cl_vd
        - 0.5 * (rng.random(n) < 0.06)  # a heavier lower tail: deficiency in every group
        + rng.normal(0.0, 0.30, n)
    )
    vid = np.clip(np.exp(log_vid), 6.0, 300.0)
    s["vid_true"] = vid
    s["vid"] = where_else(examined & (rng.random(n) > 0.07), np.round(vid, 1))

    # Diabetes and HbA1c
    ratio_total = (s["ca_food_u"] + s["ca_supp_u"]) / mg_total_u
    lp = (
        -3.7
        + 0.055 * (age - 50)
        + 0.09 * bmi_c
        - 0.25 * ses
        + 0.4 * np.isin(race, [0, 3])
        - 0.7 * np.log(mg_total_u / 300.0)
        + 0.8 * (ratio_total > 2.8)
    )
    diabetic = np.where(adult, rng.random(n) < _sigmoid(lp), rng.random(n) < 0.002)
    diagnosed = diabetic & (rng.random(n) < 0.75)
    borderline = ~diabetic & adult & (rng.random(n) < 0.04)
    s["diabetic"] = diabetic
    s["diq010"] = with_codes(
        rng, np.where(diagnosed, 1.0, np.where(borderline, 3.0, 2.0)), 0.002, (7.0, 9.0)
    )
    s["diq050"] = np.where(diagnosed & (rng.random(n) < 0.25), 1.0, 2.0)
    s["diq070"] = where_else(
        diagnosed | borderline, np.where(diagnosed & (rng.random(n) < 0.65), 1, 2)
    )
    lab = examined & (age >= 12)
    s["lab"] = lab
    a1c = np.where(
        diabetic,
        np.exp(np.log(7.0) + rng.normal(0.0, 0.16, n)),
        np.exp(np.log(5.35) + 0.0025 * (age - 40) + 0.006 * bmi_c + rng.normal(0, 0.055, n)),
    )
    s["hba1c"] = where_else(lab & (rng.random(n) > 0.04), np.round(a1c, 1))

    # Standard biochemistry and PTH
    scr = np.where(male, 0.98, 0.76) * np.exp(
        0.003 * np.clip(age - 40, 0, None) + rng.normal(0.0, 0.15, n)
    )
    scr = np.where(rng.random(n) < 0.02, scr * 2.2, scr)
    has_bio = lab & (rng.random(n) > 0.04)
    s["scr"] = where_else(has_bio, np.round(scr, 2))
    s["ca_serum"] = where_else(has_bio, np.round(rng.normal(9.45, 0.33, n), 1))
    s["glucose"] = where_else(
        has_bio, np.round(np.where(diabetic, 150.0, 92.0) * rng.lognormal(0, 0.15, n))
    )
    pth = np.exp(
        np.log(42.0)
        - 0.3 * np.log(vid / 60.0)
        + 0.004 * (age - 50)
        + 0.01 * bmi_c
        + rng.normal(0.0, 0.35, n)
    )
    s["pth"] = where_else(examined & adult & (rng.random(n) > 0.06), np.round(pth, 1))

    # Medical conditions (adults 20+): ever told of a cardiovascular disease (about 8 % of
    # adults, rising with age, in men, smokers and diabetics) or of cancer (about 10 %)
    _simulate_mcq(s, seed, cycle, rng.random(n), rng.random(n))

    # Other questionnaires the fetch brings along (not used by the build)
    s["bpq020"] = where_else(age >= 16, np.where(rng.random(n) < _sigmoid(-3.0 + 0.05 * age), 1, 2))
    s["kiq022"] = where_else(adult, np.where(rng.random(n) < _sigmoid(-6.0 + 0.05 * age), 1.0, 2.0))

    if letter in MORTALITY_RELEASE:
        _simulate_mortality(s, rng, cycle, MORTALITY_RELEASE[letter], ratio_total, high_mg)
    return s


# MCQ160B-F: congestive heart failure, coronary heart disease, angina, heart attack, stroke;
# the share of people with a cardiovascular history whose main diagnosis each is.
CVD_ITEMS = ("mcq160b", "mcq160c", "mcq160d", "mcq160e", "mcq160f")
_CVD_MAIN = np.array([0.15, 0.30, 0.10, 0.20, 0.25])


def _simulate_mcq(s: Sim, seed: int, cycle: Cycle, u_cvd: Arr, u_cancer: Arr) -> None:
    """MCQ160B-F and MCQ220 (1 yes, 2 no, a few 7/9) for adults 20+, null for children.

    ``u_cvd``/``u_cancer`` are the main stream's draws for who has the condition; which items
    are yes and the refused/don't-know codes come from a generator of their own, so that these
    items leave every other synthetic variable as it was.
    """
    rng = np.random.default_rng([seed, cycle.begin, 160])
    n, age, adult = s["n"], s["age"], s["adult"]
    lp = (
        -3.35
        + 0.07 * (age - 50)
        + 0.4 * s["male"]
        + 0.5 * s["current_smoker"]
        + 0.6 * s["diabetic"]
    )
    cvd = adult & (u_cvd < _sigmoid(lp))
    main = rng.choice(len(CVD_ITEMS), n, p=_CVD_MAIN)
    for i, item in enumerate(CVD_ITEMS):
        yes = cvd & ((main == i) | (rng.random(n) < 0.15))
        s[item] = with_codes(rng, where_else(adult, np.where(yes, 1.0, 2.0)), 0.003, (7.0, 9.0))
    cancer = adult & (u_cancer < _sigmoid(-5.8 + 0.065 * age))
    s["mcq220"] = with_codes(rng, where_else(adult, np.where(cancer, 1.0, 2.0)), 0.002, (7.0, 9.0))


def _simulate_supplements(s: Sim, rng: np.random.Generator) -> None:
    """Products per participant (30-day questionnaire), their daily amounts and recall days."""
    n, age, male, ses = s["n"], s["age"], s["male"], s["ses"]
    t = "BCDEFGHIJ".index(s["letter"])
    child = age < 14
    p_user = np.where(
        age >= 20,
        _sigmoid(-0.5 + 0.025 * (age - 45) + 0.4 * ~male + 0.35 * ses + 0.03 * t),
        _sigmoid(-0.9 + 0.3 * ses),
    )
    user = rng.random(n) < p_user
    antacid = (age >= 20) & (rng.random(n) < 0.04 + 0.0008 * (age - 20))
    n_supp = np.where(user, 1 + np.minimum(rng.poisson(0.7, n), 3), 0)
    person = np.repeat(np.arange(n), n_supp)
    group = np.where(child, 0, np.where(male, 1, 2))[person]
    product = np.empty(person.size, dtype=np.int64)
    for g, key in enumerate(("child", "male", "female")):
        probs = np.asarray(_CHOICE[key], dtype=np.float64)
        pick = group == g
        product[pick] = rng.choice(len(_SUPPLEMENTS), int(pick.sum()), p=probs / probs.sum())
    supp_index = np.array([PRODUCTS.index(p) for p in _SUPPLEMENTS])
    product = supp_index[product]
    a_person = np.flatnonzero(antacid)
    a_product = np.where(rng.random(a_person.size) < 0.75, 18, 19)  # Tums, milk of magnesia
    person = np.concatenate([person, a_person])
    product = np.concatenate([product, a_product])
    pair = np.unique(person * 100 + product)  # one row per person and product, sorted by SEQN
    person, product = pair // 100, pair % 100
    m = person.size
    is_antacid = np.isin(product, [18, 19])
    days = np.where(rng.random(m) < 0.6, 30.0, rng.integers(1, 30, m).astype(np.float64))
    days = np.where(is_antacid, rng.integers(1, 16, m), days).astype(np.float64)
    servq = np.array([p.servq for p in PRODUCTS])[product]
    qty = np.where(
        servq > 1,
        np.where(rng.random(m) < 0.8, servq, 1.0),
        rng.choice([1.0, 2.0, 3.0], m, p=[0.85, 0.12, 0.03]),
    )
    unknown_days = rng.random(m) < 0.004
    unknown_qty = rng.random(m) < 0.004
    unmatched = rng.random(m) < 0.015
    s["ds_rows"] = {
        "person": person,
        "product": product,
        "days": np.where(unknown_days, 9999.0, days),
        "qty": np.where(unknown_qty, 99999.0, qty),
        "unmatched": unmatched,
        "antacid": is_antacid,
    }
    valid = ~unknown_days & ~unknown_qty & ~unmatched
    for nutrient, per_unit in _PER_UNIT.items():
        daily = np.where(valid, days * qty * per_unit[product] / 30.0, 0.0)
        s[f"{nutrient}_supp_u"] = np.bincount(person, weights=daily, minlength=n)
    s["supp_user"] = np.bincount(person[~is_antacid], minlength=n) > 0
    s["antacid_user"] = np.bincount(person[is_antacid], minlength=n) > 0
    s["n_supp"] = np.bincount(person[~is_antacid], minlength=n).astype(np.float64)
    s["n_antacid"] = np.bincount(person[is_antacid], minlength=n).astype(np.float64)
    # 24-hour supplement recall (2007+): a product is taken on a recall day with probability
    # days/30, at the full daily quantity.
    usual_days = np.minimum(np.where(unknown_days, 15.0, days), 30.0)
    for day in (1, 2):
        took = rng.random(m) < usual_days / 30.0
        s[f"ds{day}_count"] = np.bincount(person[took & ~is_antacid], minlength=n).astype(float)
        s[f"ds{day}_an_count"] = np.bincount(person[took & is_antacid], minlength=n).astype(float)
        usual_qty = np.where(unknown_qty, 1.0, qty)
        for nutrient, per_unit in _PER_UNIT.items():
            amount = np.where(took & ~unmatched, usual_qty * per_unit[product], 0.0)
            s[f"{nutrient}_ds{day}"] = np.bincount(person, weights=amount, minlength=n)


def _simulate_mortality(
    s: Sim,
    rng: np.random.Generator,
    cycle: Cycle,
    release: int,
    ratio_total: Arr,
    high_mg: npt.NDArray[np.bool_],
) -> None:
    """Linked-mortality fields: hazards rise with age, fall with 25(OH)D (CVD: at high Mg)."""
    n, age = s["n"], s["age"]
    eligible = np.where(age >= 18, np.where(rng.random(n) < 0.012, 3, 1), 2)
    end = (release - cycle.begin + 1) * 12.0  # follow-up to 31 December of the release year
    exam_fu = end - s["exam_month"]
    int_fu = exam_fu + rng.uniform(0.0, 1.0, n)
    vd25 = (s["vid_true"] - 60.0) / 25.0
    lin = (
        0.085 * (age - 60)
        + 0.35 * s["male"]
        + 0.55 * s["current_smoker"]
        + 0.5 * s["diabetic"]
        - 0.2 * s["ses"]
        - 0.15 * (s["vig"] | s["mod"])
    )
    monthly = 0.009 / 12.0 * np.exp(lin)
    hazards = {
        "cvd": 0.32 * monthly * np.exp(-0.05 * vd25 - 0.45 * vd25 * high_mg),
        "cancer": 0.24 * monthly * np.exp(-0.08 * vd25 + 0.3 * (ratio_total > 2.8)),
        "other": 0.44 * monthly * np.exp(-0.05 * vd25),
    }
    times = np.column_stack([rng.exponential(1.0 / h) for h in hazards.values()])
    death = times.min(axis=1)
    cause = times.argmin(axis=1)
    dead = (eligible == 1) & (death < int_fu)
    ucod = np.where(
        cause == 0,
        np.where(rng.random(n) < 0.8, 1, 5),
        np.where(cause == 1, 2, rng.choice([3, 4, 6, 7, 8, 9, 10], n)),
    )
    s["mort"] = {
        "eligstat": eligible,
        "dead": dead,
        "ucod": ucod,
        "diabetes": (s["diabetic"] & (rng.random(n) < 0.6)) | (rng.random(n) < 0.05),
        "hyperten": rng.random(n) < 0.3,
        "permth_int": np.floor(np.where(dead, death, int_fu)),
        "permth_exm": np.floor(np.maximum(np.where(dead, death, int_fu) - (int_fu - exam_fu), 0)),
        "release": release,
    }
