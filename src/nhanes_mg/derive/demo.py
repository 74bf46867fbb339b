"""A synthetic NHANES-shaped raw mirror, so that ``nhanes-mg demo`` runs offline in seconds.

:func:`write_synthetic_mirror` writes, for each cycle asked for, every table the package's fetch
plans (names from :mod:`nhanes_mg.data.catalog`) as SAS v5 transport files, the 1999-2006 supplement
ingredient database (``1999-2000/DSII.xpt``, ``DSPI.xpt``, ``DSBI.xpt``), public-use-shaped
linked-mortality files (fixed width, CRLF) and a ``SYNTHETIC.txt`` that says what it is. The
layout is the real mirror's, so ``fetch(mirror=folder)`` → ``build_analytic`` → the analyses run
unchanged on it.

The tables hold every CDC column the variable registry (:mod:`nhanes_mg.derive.registry`)
declares: the ones simulated below with their associations, and any other declared column (a
variable added to the registry, of a table the demo knows or not) drawn as plain noise in its
plausible range (``Source.demo``), so the build of the demo never misses a declared variable.

The people are made up. Variable names, codes, missing-value codes, skip patterns and the design
(about 15 pseudo-strata per cycle with 2 PSUs each, stratum numbers as CDC numbers them, weights
summing to the US population) follow NHANES; the distributions are plausible and carry built-in
associations so that every shipped analysis has something to estimate:

* magnesium intake (day 1 and day 2, with day-to-day noise) around 300 mg/day, higher in men,
  with energy and socio-economic status; calcium at a Ca:Mg ratio near 3.1, slowly rising
  across cycles; vitamin D from food (2007+), alcohol;
* supplements through products with a composition (DSQ2 × DSPI × DSII in 2001-2006, the
  DSQTOT/DS1TOT/DS2TOT totals from 2007);
* 25(OH)D near 60 nmol/L: lower in winter, in non-Hispanic Black people, with BMI and with low
  magnesium intake; higher with vitamin D supplements, more so at high magnesium intake;
* diabetes (DIQ010, HbA1c) more likely with age, BMI, low magnesium and a high Ca:Mg ratio;
* a history of cardiovascular disease (MCQ160B-F, about 8 % of adults) rising with age, in
  men, smokers and diabetics, and of cancer (MCQ220, about 10 %) rising with age;
* mortality (2003-2006 as the 2015 release, 2011-2014 as the 2019 release) rising with age,
  lower with 25(OH)D — for CVD mainly at high magnesium intake — and cancer deaths a little
  more frequent at a high Ca:Mg ratio.

Nothing here is an estimate of anything: every output of the demo is stamped SYNTHETIC.

Examples
--------
>>> import tempfile
>>> from nhanes_mg.data import read
>>> with tempfile.TemporaryDirectory() as tmp:
...     folder = write_synthetic_mirror(tmp, n_per_cycle=300, cycles=["2005-2006"])
...     demo = read.read_xpt(folder / "2005-2006" / "DEMO_D.xpt")
...     mortality = sorted(p.name for p in (folder / "linked_mortality").iterdir())
>>> demo.height, int(demo["SDMVSTRA"].min())
(300, 44)
>>> mortality
['NHANES_2005_2006_MORT_2015_PUBLIC.dat']
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.derive import registry
from nhanes_mg.derive.sources import Source

Arr = npt.NDArray[np.float64]
Sim = dict[str, Any]  # one cycle's simulated participants: name -> numpy array (or scalar)

DEFAULT_CYCLES: tuple[str, ...] = ("2003-2004", "2005-2006", "2007-2008", "2011-2012", "2013-2014")
SYNTHETIC_FILE = "SYNTHETIC.txt"
MANIFEST_FILE = "MANIFEST.tsv"
MAX_PER_CYCLE = 9900  # SEQN ranges of neighbouring cycles must not overlap (as in NHANES)
MIN_PER_CYCLE = 100

# First SEQN, first pseudo-stratum and number of strata of each cycle (as CDC numbers them),
# and the civilian non-institutionalized US population the two-year weights sum to.
_SEQN_START = {"B": 9966, "C": 21005, "D": 31127, "E": 41475, "F": 51624, "G": 62161,
               "H": 73557, "I": 83732, "J": 93703}  # fmt: skip
_STRATA = {"B": (15, 14), "C": (29, 15), "D": (44, 15), "E": (59, 16), "F": (75, 15),
           "G": (90, 14), "H": (104, 15), "I": (119, 15), "J": (134, 15)}  # fmt: skip
_POPULATION = {"B": 2.80e8, "C": 2.86e8, "D": 2.92e8, "E": 2.97e8, "F": 3.02e8, "G": 3.07e8,
               "H": 3.11e8, "I": 3.16e8, "J": 3.20e8}  # fmt: skip
# Cycles that get a linked-mortality file, and its release (as in the shared real mirror).
MORTALITY_RELEASE = {"C": 2015, "D": 2015, "G": 2019, "H": 2019}
_XPT_STAMP = b"01JAN24:00:00:00"  # fixed header timestamp: same seed, same bytes
_STAMP_RE = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")

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
_PRODUCTS: tuple[_Product, ...] = (
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
_SUPPLEMENTS = [p for p in _PRODUCTS if not p.antacid]
_ANTACIDS = [p for p in _PRODUCTS if p.antacid]
_UNKNOWN_SUPID = 6666666666  # "NO PRODUCT INFORMATION AVAILABLE": not in DSPI
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
    key: np.array([_amount_per_unit(p, name) for p in _PRODUCTS])
    for key, name in (("mg", "MAGNESIUM"), ("ca", "CALCIUM"), ("vitd", "VITAMIN D"))
}


# ------------------------------------------------------------------------------------ helpers


def _sigmoid(x: Arr) -> Arr:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _where(cond: npt.NDArray[np.bool_], value: Any, other: Any = np.nan) -> Arr:
    return np.asarray(np.where(cond, value, other), dtype=np.float64)


def _codes(rng: np.random.Generator, values: Arr, rate: float, codes: Sequence[float]) -> Arr:
    """Replace a share ``rate`` of the non-missing answers by refused/don't-know codes."""
    hit = ~np.isnan(values) & (rng.random(values.size) < rate)
    out = values.copy()
    out[hit] = rng.choice(np.asarray(codes, dtype=np.float64), int(hit.sum()))
    return out


def _normalize(weight: Arr, total: float) -> Arr:
    return np.asarray(np.round(weight / weight.sum() * total, 6), dtype=np.float64)


# ---------------------------------------------------------------------------------- simulation


def _simulate(cycle: Cycle, n: int, seed: int) -> Sim:
    """One cycle's participants: every variable the tables are cut from."""
    rng = np.random.default_rng([seed, cycle.begin])
    letter = cycle.letter
    t = (cycle.begin - 2001) / 2.0  # cycle index, 0 for 2001-2002: secular trends
    s: Sim = {"letter": letter, "n": n, "rng": rng, "seed": seed}
    s["seqn"] = (_SEQN_START[letter] + np.arange(n)).astype(np.float64)

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
    s["ridreth3"] = _where(other, np.where(rng.random(n) < 0.6, 6.0, 7.0), race + 1.0)
    ses = rng.normal(0.0, 1.0, n) + _RACE_SES[race]
    s["ses"] = ses
    adult = age >= 20
    s["adult"] = adult
    educ = 1.0 + np.digitize(ses + rng.normal(0.0, 0.6, n), [-1.4, -0.7, 0.1, 0.9])
    s["dmdeduc2"] = _codes(rng, _where(adult, educ), 0.003, (7.0, 9.0))
    pir = np.clip(np.exp(np.log(2.2) + 0.55 * ses + rng.normal(0.0, 0.45, n)), 0.0, 5.0)
    s["indfmpir"] = _where(rng.random(n) < 0.08, np.nan, np.round(pir, 2))
    examined = rng.random(n) > 0.04
    s["examined"] = examined
    s["ridexmon"] = _where(examined, np.where(may_oct, 2.0, 1.0))
    s["may_oct"] = may_oct
    fertile = ~male & (age >= 20) & (age <= 44) & examined
    s["ridexprg"] = _where(fertile, rng.choice([1.0, 2.0, 3.0], n, p=[0.05, 0.93, 0.02]))

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
    s["bmi"] = _where(has_bmi, np.round(bmi, 1))
    bmi_c = np.where(has_bmi, bmi, 27.0) - 27.0

    # Smoking (asked from 20 in 2001-2002, from 18 later), alcohol, physical activity
    smq_age = 20 if letter == "B" else 18
    asked = age >= smq_age
    s["smq_asked"] = asked
    ever = rng.random(n) < _sigmoid(-0.3 + 0.5 * male - 0.4 * ses)
    current = ever & (rng.random(n) < _sigmoid(0.2 - 0.03 * (age - 40) - 0.3 * ses))
    s["current_smoker"] = asked & current
    s["smq020"] = _codes(rng, _where(asked, np.where(ever, 1.0, 2.0)), 0.003, (7.0, 9.0))
    some_days = rng.random(n) < 0.2
    smq040 = np.where(current, np.where(some_days, 2.0, 1.0), 3.0)
    s["smq040"] = _where(asked & ever & (s["smq020"] == 1), smq040)
    drinker = adult & (rng.random(n) < _sigmoid(0.8 + 0.4 * ses - 0.3 * ~male))
    s["drinker"] = drinker
    s["alq101"] = _where(adult, np.where(drinker, 1.0, 2.0))
    drinks = np.clip(1.0 + rng.poisson(np.where(male, 1.9, 1.3)), 1, 25).astype(np.float64)
    s["drinks"] = drinks
    alq_codes = (77.0, 99.0) if letter in "BC" else (777.0, 999.0)
    s["alq130"] = _codes(rng, _where(drinker, drinks), 0.005, alq_codes)
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
    status1 = _where(examined, status1)
    ok1 = status1 == 1
    status2 = _where(examined, 5.0)
    status2 = np.where(ok1, rng.choice([1.0, 2.0, 5.0], n, p=[0.86, 0.01, 0.13]), status2)
    if letter == "B":
        status2 = _where(examined, 5.0)  # no day 2 in 2001-2002
    s["status1"], s["status2"] = status1, status2
    dow1 = rng.integers(1, 8, n)
    s["dow1"] = _where(examined, dow1)
    s["dow2"] = _where(examined, (dow1 - 1 + rng.integers(3, 11, n)) % 7 + 1)
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
    s["vid"] = _where(examined & (rng.random(n) > 0.07), np.round(vid, 1))

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
    s["diq010"] = _codes(
        rng, np.where(diagnosed, 1.0, np.where(borderline, 3.0, 2.0)), 0.002, (7.0, 9.0)
    )
    s["diq050"] = np.where(diagnosed & (rng.random(n) < 0.25), 1.0, 2.0)
    s["diq070"] = _where(diagnosed | borderline, np.where(diagnosed & (rng.random(n) < 0.65), 1, 2))
    lab = examined & (age >= 12)
    s["lab"] = lab
    a1c = np.where(
        diabetic,
        np.exp(np.log(7.0) + rng.normal(0.0, 0.16, n)),
        np.exp(np.log(5.35) + 0.0025 * (age - 40) + 0.006 * bmi_c + rng.normal(0, 0.055, n)),
    )
    s["hba1c"] = _where(lab & (rng.random(n) > 0.04), np.round(a1c, 1))

    # Standard biochemistry and PTH
    scr = np.where(male, 0.98, 0.76) * np.exp(
        0.003 * np.clip(age - 40, 0, None) + rng.normal(0.0, 0.15, n)
    )
    scr = np.where(rng.random(n) < 0.02, scr * 2.2, scr)
    has_bio = lab & (rng.random(n) > 0.04)
    s["scr"] = _where(has_bio, np.round(scr, 2))
    s["ca_serum"] = _where(has_bio, np.round(rng.normal(9.45, 0.33, n), 1))
    s["glucose"] = _where(
        has_bio, np.round(np.where(diabetic, 150.0, 92.0) * rng.lognormal(0, 0.15, n))
    )
    pth = np.exp(
        np.log(42.0)
        - 0.3 * np.log(vid / 60.0)
        + 0.004 * (age - 50)
        + 0.01 * bmi_c
        + rng.normal(0.0, 0.35, n)
    )
    s["pth"] = _where(examined & adult & (rng.random(n) > 0.06), np.round(pth, 1))

    # Medical conditions (adults 20+): ever told of a cardiovascular disease (about 8 % of
    # adults, rising with age, in men, smokers and diabetics) or of cancer (about 10 %)
    _simulate_mcq(s, seed, cycle, rng.random(n), rng.random(n))

    # Other questionnaires the fetch brings along (not used by the build)
    s["bpq020"] = _where(age >= 16, np.where(rng.random(n) < _sigmoid(-3.0 + 0.05 * age), 1, 2))
    s["kiq022"] = _where(adult, np.where(rng.random(n) < _sigmoid(-6.0 + 0.05 * age), 1.0, 2.0))

    if letter in MORTALITY_RELEASE:
        _simulate_mortality(s, rng, cycle, MORTALITY_RELEASE[letter], ratio_total, high_mg)
    return s


# MCQ160B-F: congestive heart failure, coronary heart disease, angina, heart attack, stroke;
# the share of people with a cardiovascular history whose main diagnosis each is.
_CVD_ITEMS = ("mcq160b", "mcq160c", "mcq160d", "mcq160e", "mcq160f")
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
    main = rng.choice(len(_CVD_ITEMS), n, p=_CVD_MAIN)
    for i, item in enumerate(_CVD_ITEMS):
        yes = cvd & ((main == i) | (rng.random(n) < 0.15))
        s[item] = _codes(rng, _where(adult, np.where(yes, 1.0, 2.0)), 0.003, (7.0, 9.0))
    cancer = adult & (u_cancer < _sigmoid(-5.8 + 0.065 * age))
    s["mcq220"] = _codes(rng, _where(adult, np.where(cancer, 1.0, 2.0)), 0.002, (7.0, 9.0))


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
    supp_index = np.array([_PRODUCTS.index(p) for p in _SUPPLEMENTS])
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
    servq = np.array([p.servq for p in _PRODUCTS])[product]
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


# --------------------------------------------------------------------------------------- tables


def _demo(s: Sim, cycle: Cycle) -> dict[str, Any]:
    cols: dict[str, Any] = {
        "SEQN": s["seqn"],
        "SDDSRVYR": np.full(s["n"], float("BCDEFGHIJ".index(cycle.letter) + 2)),
        "RIDSTATR": np.where(s["examined"], 2.0, 1.0),
        "RIDEXMON": s["ridexmon"],
        "RIAGENDR": np.where(s["male"], 1.0, 2.0),
        "RIDAGEYR": s["age"],
        "RIDRETH1": s["race"] + 1.0,
    }
    if cycle.letter >= "G":
        cols["RIDRETH3"] = s["ridreth3"]
    cols |= {
        "DMDEDUC2": s["dmdeduc2"],
        "INDFMPIR": s["indfmpir"],
        "RIDEXPRG": s["ridexprg"],
        "WTINT2YR": s["wtint2yr"],
        "WTMEC2YR": s["wtmec2yr"],
        "SDMVPSU": s["sdmvpsu"],
        "SDMVSTRA": s["sdmvstra"],
    }
    return cols


def _rows(s: Sim, keep: npt.NDArray[np.bool_], cols: dict[str, Any]) -> dict[str, Any]:
    """The table's rows: the participants ``keep`` selects (SEQN first)."""
    out = {"SEQN": s["seqn"][keep]}
    for name, values in cols.items():
        out[name] = np.asarray(values)[keep]
    return out


def _diet(s: Sim, cycle: Cycle, day: int) -> dict[str, Any]:
    b = cycle.letter == "B"
    ok = np.isin(s[f"status{day}"], [1.0, 4.0])
    pre = "DRXT" if b else f"DR{day}T"
    nutrients = {
        "KCAL": s[f"kcal_d{day}"],
        "CALC": s[f"ca_d{day}"],
        "MAGN": s[f"mg_d{day}"],
        "ALCO": s[f"alco_d{day}"],
    }
    if cycle.letter >= "E":
        nutrients["VD"] = s[f"vitd_d{day}"]
    cols: dict[str, Any] = {"WTDRD1": s["wtdrd1"]}
    if not b:
        cols["WTDR2D"] = s["wtdr2d"]
    cols["DRDDRSTZ" if b else f"DR{day}DRSTZ"] = s[f"status{day}"]
    cols["DRDDAY" if b else f"DR{day}DAY"] = s[f"dow{day}"]
    for name, values in nutrients.items():
        cols[pre + name] = _where(ok, values)
    return _rows(s, s["examined"], cols)


def _dsq1(s: Sim, cycle: Cycle) -> dict[str, Any]:
    rng: np.random.Generator = s["rng"]
    cols: dict[str, Any] = {
        "DSD010": _codes(rng, np.where(s["supp_user"], 1.0, 2.0), 0.002, (7.0, 9.0)),
    }
    if cycle.letter != "B":
        cols["DSD010AN"] = np.where(s["antacid_user"], 1.0, 2.0)
    cols["DSDCOUNT"] = s["n_supp"]
    if cycle.letter != "B":
        cols["DSDANCNT"] = s["n_antacid"]
    return _rows(s, np.ones(s["n"], dtype=bool), cols)


def _dsq2(s: Sim, cycle: Cycle) -> dict[str, Any]:
    rng: np.random.Generator = s["rng"]
    rows = s["ds_rows"]
    m = rows["person"].size
    supid = np.array([p.supid for p in _PRODUCTS], dtype=np.float64)[rows["product"]]
    names = np.array([p.name for p in _PRODUCTS], dtype=object)[rows["product"]]
    supid = np.where(rows["unmatched"], float(_UNKNOWN_SUPID), supid)
    names = np.where(rows["unmatched"], "NO PRODUCT INFORMATION AVAILABLE", names)
    return {
        "SEQN": s["seqn"][rows["person"]],
        "DSDSUPID": supid,
        "DSDSUPP": names.astype(str),
        "DSD070": rng.choice([1.0, 2.0], m, p=[0.6, 0.4]),
        "DSDMTCH": rng.choice([1.0, 2.0, 5.0], m, p=[0.75, 0.15, 0.10]),
        "DSD090": rng.choice([30.0, 90.0, 365.0, 730.0, 1825.0], m),
        "DSD103": rows["days"],
        "DSD122Q": rows["qty"],
        "DSD122U": np.ones(m),
        "DSDANTA": rows["antacid"].astype(np.float64),
    }


def _dsqtot(s: Sim, cycle: Cycle) -> dict[str, Any]:
    cols = _dsq1(s, cycle)
    answered = (cols["DSD010"] == 1) | (cols["DSD010AN"] == 1)
    for name, key in (("DSQTMAGN", "mg"), ("DSQTCALC", "ca"), ("DSQTVD", "vitd")):
        cols[name] = _where(answered, np.round(s[f"{key}_supp_u"], 2 if key == "vitd" else 1))
    return cols


def _ds_day(s: Sim, cycle: Cycle, day: int) -> dict[str, Any]:
    ok = np.isin(s[f"status{day}"], [1.0, 4.0])
    count, an_count = s[f"ds{day}_count"], s[f"ds{day}_an_count"]
    cols: dict[str, Any] = {
        "WTDRD1": s["wtdrd1"],
        "WTDR2D": s["wtdr2d"],
        f"DR{day}DRSTZ": s[f"status{day}"],
        f"DR{day}DAY": s[f"dow{day}"],
        f"DS{day}DS": _where(ok, np.where(count > 0, 1.0, 2.0)),
        f"DS{day}DSCNT": _where(ok, count),
        f"DS{day}AN": _where(ok, np.where(an_count > 0, 1.0, 2.0)),
        f"DS{day}ANCNT": _where(ok, an_count),
    }
    took = ok & ((count > 0) | (an_count > 0))
    for name, key in (("MAGN", "mg"), ("CALC", "ca"), ("VD", "vitd")):
        cols[f"DS{day}T{name}"] = _where(took, np.round(s[f"{key}_ds{day}"], 2))
    return _rows(s, s["examined"], cols)


def _table(component: str, s: Sim, cycle: Cycle) -> dict[str, Any]:
    """The columns of one table (SEQN first) for one cycle."""
    b = cycle.letter == "B"
    everyone = np.ones(s["n"], dtype=bool)
    examined, adult, lab = s["examined"], s["adult"], s["lab"]
    builders: dict[str, Callable[[], dict[str, Any]]] = {
        "DEMO": lambda: _demo(s, cycle),
        "VID": lambda: _rows(
            s, examined, {"LBXVIDMS" if cycle.letter >= "E" else "LBDVIDMS": s["vid"]}
        ),
        "BMX": lambda: _rows(s, examined, {"BMXBMI": s["bmi"]}),
        "SMQ": lambda: _rows(s, s["smq_asked"], {"SMQ020": s["smq020"], "SMQ040": s["smq040"]}),
        "ALQ": lambda: _rows(s, adult, {"ALQ101": s["alq101"], "ALQ130": s["alq130"]}),
        "PAQ": lambda: _rows(
            s,
            s["pa_asked"],
            {"PAD200": _pa(s, "vig"), "PAD320": _pa(s, "mod")}
            if cycle.letter in "BCD"
            else {"PAQ650": np.where(s["vig"], 1.0, 2.0), "PAQ665": np.where(s["mod"], 1.0, 2.0)},
        ),
        "DIQ": lambda: _rows(
            s,
            everyone,
            {
                "DIQ010": s["diq010"],
                "DIQ050": s["diq050"],
                "DID070" if cycle.letter in "DE" else "DIQ070": s["diq070"],
            },
        ),
        "MCQ": lambda: _rows(
            s, everyone, {**{i.upper(): s[i] for i in _CVD_ITEMS}, "MCQ220": s["mcq220"]}
        ),
        "BPQ": lambda: _rows(s, s["age"] >= 16, {"BPQ020": s["bpq020"]}),
        "KIQ_U": lambda: _rows(s, adult, {"KIQ022": s["kiq022"]}),
        "DR1TOT": lambda: _diet(s, cycle, 1),
        "DR2TOT": lambda: _diet(s, cycle, 2),
        "DSQ1": lambda: _dsq1(s, cycle),
        "DSQ2": lambda: _dsq2(s, cycle),
        "DSQTOT": lambda: _dsqtot(s, cycle),
        "DS1TOT": lambda: _ds_day(s, cycle, 1),
        "DS2TOT": lambda: _ds_day(s, cycle, 2),
        "GHB": lambda: _rows(s, lab, {"LBXGH": s["hba1c"]}),
        "BIOPRO": lambda: _rows(
            s,
            lab,
            {
                "LBXSCA": s["ca_serum"],
                "LBDSCASI": np.round(s["ca_serum"] / 4.008, 2),
                "LBDSCR" if b else "LBXSCR": s["scr"],
                "LBDSCRSI": np.round(s["scr"] * 88.4, 1),
                "LBXSGL": s["glucose"],
            },
        ),
        "PTH": lambda: _rows(s, examined & adult, {"LBXPT21": s["pth"]}),
    }
    build = builders.get(component)
    columns = build() if build else {"SEQN": s["seqn"]}
    return _declared_columns(columns, component, s, cycle)


def _declared_columns(
    columns: dict[str, Any], component: str, s: Sim, cycle: Cycle
) -> dict[str, Any]:
    """``columns`` with every column the registry declares for the table (in this cycle) that
    the simulation above does not write, drawn as noise (see :func:`_noise`)."""
    rows = len(columns["SEQN"])
    for source in registry.REGISTRY.sources_of(component):
        column = source.column_for(cycle.letter)
        if column is not None and column not in columns:
            columns[column] = _noise(source, column, rows, s["seed"], cycle)
    return columns


def _noise(source: Source, column: str, rows: int, seed: int, cycle: Cycle) -> Arr:
    """Values for a declared column the demo does not simulate: answers 1/2 with a few of the
    item's own missing codes for a questionnaire item, else uniform in ``source.demo`` (0-100
    without it), 5 % missing. Its own random stream (seed, cycle, column): adding a variable
    leaves every other column's values as they were."""
    rng = np.random.default_rng([seed, cycle.begin, zlib.crc32(column.encode())])
    codes = source.codes_for(cycle.letter)
    if codes and source.demo is None:
        return _codes(rng, rng.choice([1.0, 2.0], rows), 0.01, codes)
    lo, hi = source.demo or (0.0, 100.0)
    values = np.round(rng.uniform(lo, hi, rows), 2)
    return _where(rng.random(rows) < 0.05, np.nan, values)


def _pa(s: Sim, which: str) -> Arr:
    """PAD200/PAD320: 1 yes, 2 no, 3 unable to do the activity (some older people)."""
    rng: np.random.Generator = s["rng"]
    unable = (s["age"] >= 60) & (rng.random(s["n"]) < 0.05)
    return np.where(s[which], 1.0, np.where(unable, 3.0, 2.0))


# ------------------------------------------------------------------------- ingredient database


def _ingredient_tables() -> dict[str, dict[str, Any]]:
    """DSPI (products), DSII (ingredients per product) and DSBI (blend components)."""
    dspi = {
        "DSDPID": [float(p.pid) for p in _PRODUCTS],
        "DSDPRDT": [1.0] * len(_PRODUCTS),
        "DSDSUPP": [p.name for p in _PRODUCTS],
        "DSDSRCE": [9.0] * len(_PRODUCTS),
        "DSDTYPE": [4.0] * len(_PRODUCTS),
        "DSDSERVQ": [p.servq for p in _PRODUCTS],
        "DSDSERVU": [18.0] * len(_PRODUCTS),
        "DSDSUPID": [str(p.supid) for p in _PRODUCTS],
    }
    dsii: dict[str, list[Any]] = {k: [] for k in ("DSDPID", "DSDSUPP", "DSDIID", "DSDINGR",
                                                  "DSDOPER", "DSDQTY", "DSDUNIT", "DSDCAT",
                                                  "DSDBLFLG", "DSDINGID")}  # fmt: skip
    ingredient_ids: dict[str, int] = {}
    for p in _PRODUCTS:
        for name, qty, unit in p.ingredients:
            iid = ingredient_ids.setdefault(name, 10 * (len(ingredient_ids) + 1))
            dsii["DSDPID"].append(float(p.pid))
            dsii["DSDSUPP"].append(p.name)
            dsii["DSDIID"].append(float(iid))
            dsii["DSDINGR"].append(name)
            dsii["DSDOPER"].append("=")
            dsii["DSDQTY"].append(float(qty))
            dsii["DSDUNIT"].append(float(unit))
            dsii["DSDCAT"].append(1.0 if name.startswith("VITAMIN") else 2.0)
            dsii["DSDBLFLG"].append(2.0)
            dsii["DSDINGID"].append(f"{10000000 + iid}")
    dsbi = {
        "DSDIID": [880.0, 880.0],
        "DSDINGR": ["CITRUS BIOFLAVONOID COMPLEX", "CITRUS BIOFLAVONOID COMPLEX"],
        "DSDBID": [1436.0, 1437.0],
        "DSDBCNAM": ["NARIRUTIN", "ERIOCITRIN"],
        "DSDBCCAT": [4.0, 4.0],
        "DSDBCID": ["10001567", "10001568"],
    }
    return {"DSPI": dspi, "DSII": dsii, "DSBI": dsbi}


# ------------------------------------------------------------------------------------ writing


def _write_xpt(columns: dict[str, Any], path: Path, table: str) -> int:
    """Write one SAS v5 transport file; returns its row count.

    pyreadstat writes from pandas only: pandas is used here, at the library boundary, and
    nowhere else. The header's creation timestamps are fixed so the bytes depend on the seed
    alone.
    """
    import pandas as pd
    import pyreadstat

    frame = pl.DataFrame(columns, strict=False)
    frame = frame.with_columns(pl.col(pl.Float64).fill_nan(None))
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_xport(
        pd.DataFrame(frame.to_pandas()), str(path), table_name=table, file_format_version=5
    )
    raw = path.read_bytes()
    head = _STAMP_RE.sub(_XPT_STAMP, raw[:640])
    path.write_bytes(head + raw[640:])
    return frame.height


def _mortality_line(seqn: int, fields: dict[str, str], release: int) -> str:
    """One fixed-width line: 2015 right-aligns the month counts; 2019 left-aligns and trims."""
    head = (
        f"{seqn:<14}{fields['elig']}{fields['mort']}{fields['ucod']:>3}"
        f"{fields['diab']}{fields['hyp']}" + " " * 21
    )
    if release == 2015:
        return head + f"{fields['int']:>3}{fields['exm']:>3}"
    return (head + f"{fields['int']:<3}{fields['exm']:<3}").rstrip()


def _write_mortality(s: Sim, path: Path) -> int:
    mort = s["mort"]
    lines = []
    for i, seqn in enumerate(s["seqn"].astype(int)):
        elig = int(mort["eligstat"][i])
        fields = {"elig": str(elig), "mort": ".", "ucod": "", "diab": ".", "hyp": ".",
                  "int": ".", "exm": "."}  # fmt: skip
        if elig == 1:
            dead = bool(mort["dead"][i])
            fields["mort"] = "1" if dead else "0"
            if dead:
                fields["ucod"] = f"{int(mort['ucod'][i]):03d}"
                fields["diab"] = "1" if mort["diabetes"][i] else "0"
                fields["hyp"] = "1" if mort["hyperten"][i] else "0"
            fields["int"] = str(int(mort["permth_int"][i]))
            if s["examined"][i]:
                fields["exm"] = str(int(mort["permth_exm"][i]))
        lines.append(_mortality_line(int(seqn), fields, int(mort["release"])))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(line + "\r\n" for line in lines).encode("ascii"))
    return len(lines)


def _sha16(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def write_synthetic_mirror(
    folder: str | Path,
    *,
    seed: int = 2024,
    n_per_cycle: int = 2500,
    cycles: Sequence[str] = DEFAULT_CYCLES,
) -> Path:
    """Write a synthetic NHANES-shaped raw mirror into ``folder`` (created if needed).

    The layout is the real mirror's: ``{years}/{TABLE}.xpt`` for every table
    :func:`nhanes_mg.data.fetch.plan_files` plans for ``cycles``, ``1999-2000/DSII.xpt``,
    ``DSPI.xpt`` and ``DSBI.xpt`` when a 2001-2006 cycle is asked for,
    ``linked_mortality/NHANES_{cycle}_MORT_{release}_PUBLIC.dat`` for 2003-2004 and 2005-2006
    (2015 release) and 2011-2012 and 2013-2014 (2019 release), a ``MANIFEST.tsv`` (rows,
    columns, sha256 prefix of every file) and ``SYNTHETIC.txt``. The data are made up (see the
    module docstring): for trying the pipeline, never for inference.

    Parameters
    ----------
    folder
        Where to write; existing files of the same names are replaced.
    seed
        Random seed. Same seed, cycles and size give byte-identical files; each cycle's data
        depend only on the seed and the cycle, not on which other cycles are written.
    n_per_cycle
        Participants per cycle (100 to 9,900; real cycles have about 10,000).
    cycles
        Survey cycles ("2005-2006", …) between 2001-2002 and 2017-2018.

    Returns
    -------
    Path
        ``folder``, ready for ``nhanes_mg.data.fetch.fetch(cycles, mirror=folder)``.

    Raises
    ------
    ValueError
        ``n_per_cycle`` out of range or a cycle outside 2001-2018.

    Examples
    --------
    >>> import tempfile
    >>> from nhanes_mg.data import fetch
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = write_synthetic_mirror(f"{tmp}/mirror", n_per_cycle=200, cycles=["2007-2008"])
    ...     tables = sorted(p.name for p in (root / "2007-2008").glob("D*.xpt"))
    ...     wanted = registry.fetched_components()
    ...     report = fetch.fetch("2007-2008", wanted, data_dir=f"{tmp}/data", mirror=root)
    >>> tables[:3]
    ['DEMO_E.xpt', 'DIQ_E.xpt', 'DR1TOT_E.xpt']
    >>> len(report.fetched), report.missing[0]
    (17, 'linked mortality (2007-2008): not in the mirror')
    """
    if not MIN_PER_CYCLE <= n_per_cycle <= MAX_PER_CYCLE:
        raise ValueError(
            f"n_per_cycle must be between {MIN_PER_CYCLE} and {MAX_PER_CYCLE}, got {n_per_cycle}"
        )
    chosen = sorted({catalog.get_cycle(c) for c in cycles})
    for cycle in chosen:
        if cycle.letter not in _SEQN_START:
            raise ValueError(
                f"the synthetic mirror covers 2001-2002 … 2017-2018, not {cycle.years}"
            )
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    manifest: list[tuple[str, int, int | str]] = []

    def record(relpath: str, rows: int, ncols: int | str) -> None:
        manifest.append((relpath, rows, ncols))

    for cycle in chosen:
        sim = _simulate(cycle, n_per_cycle, seed)
        for component in registry.fetched_components():
            if not catalog.has_component(component, cycle):
                continue
            table = catalog.table_name(component, cycle)
            columns = _table(component, sim, cycle)
            rel = catalog.xpt_relpath(table, cycle)
            rows = _write_xpt(columns, root / rel, table)
            record(rel, rows, len(columns))
        if cycle.letter in MORTALITY_RELEASE:
            name = catalog.mortality_file_name(cycle, MORTALITY_RELEASE[cycle.letter])
            rel = f"{catalog.MORTALITY_DIR}/{name}"
            record(rel, _write_mortality(sim, root / rel), "")
    if any(c.letter in "ABCD" for c in chosen):
        for table, columns in _ingredient_tables().items():
            rel = f"{catalog.INGREDIENT_DIR}/{table}.xpt"
            rows = _write_xpt(columns, root / rel, table)
            record(rel, rows, len(columns))

    lines = ["file\trows\tcolumns\tsha256_16\tkind\tsource"]
    for rel, rows, ncols in sorted(manifest):
        lines.append(
            f"{rel}\t{rows}\t{ncols}\t{_sha16(root / rel)}\tsynthetic\t"
            f"nhanes_mg.derive.demo (seed {seed})"
        )
    (root / MANIFEST_FILE).write_text("\n".join(lines) + "\n")
    (root / SYNTHETIC_FILE).write_text(
        "SYNTHETIC DATA — not NHANES, not for inference.\n\n"
        "Generated by nhanes_mg.derive.demo.write_synthetic_mirror "
        f"(seed {seed}, {n_per_cycle} participants per cycle, cycles "
        f"{', '.join(c.years for c in chosen)}).\n"
        "File names, variable names, codes and the survey design follow NHANES so that the "
        "nhanes-mg pipeline runs on it unchanged; every value is simulated, with associations "
        "built in so that each analysis has something to estimate.\n",
        encoding="utf-8",
    )
    return root
