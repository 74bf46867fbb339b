"""What NHANES is: cycles, table names per cycle, CDC URLs and linked-mortality files.

This is the only module that knows NHANES naming. Everything else asks it.

Examples
--------
>>> from nhanes_mg.data import catalog
>>> cycle = catalog.get_cycle("2005-2006")
>>> catalog.table_name("DR1TOT", cycle)
'DR1TOT_D'
>>> catalog.table_name("DR1TOT", catalog.get_cycle("2001-2002"))
'DRXTOT_B'
>>> catalog.xpt_urls("DEMO_D", cycle)[0]
'https://wwwn.cdc.gov/Nchs/Data/Nhanes/Public/2005/DataFiles/DEMO_D.xpt'
>>> catalog.mortality_file_name(cycle)
'NHANES_2005_2006_MORT_2019_PUBLIC.dat'
>>> catalog.expected_rows("2005-2006/DEMO_D.xpt")
10348
>>> catalog.locate("BIOPRO", "LBDSCR", "2001-2002").relpath
'2001-2002/L40_B.xpt'
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources

from nhanes_mg.errors import CatalogError

CDC_BASE = "https://wwwn.cdc.gov"
MORTALITY_BASE = "https://ftp.cdc.gov/pub/Health_Statistics/NCHS/datalinkage/linked_mortality"
MORTALITY_RELEASES = (2019, 2015, 2011)  # newest first: the one fetch prefers
MORTALITY_DIR = "linked_mortality"
INGREDIENT_DIR = "1999-2000"  # the mirror (and CDC) keep the 1999-2006 supplement database there


@dataclass(frozen=True, order=True)
class Cycle:
    """One NHANES release: ``years`` is the folder name ("2005-2006"), ``suffix`` the table
    suffix ("_D"), ``begin`` the year CDC files it under."""

    begin: int
    end: int
    letter: str
    suffix: str
    prefix: str = ""

    @property
    def years(self) -> str:
        return f"{self.begin}-{self.end}"

    def __str__(self) -> str:
        return self.years


CYCLES: tuple[Cycle, ...] = (
    Cycle(1999, 2000, "A", ""),
    Cycle(2001, 2002, "B", "_B"),
    Cycle(2003, 2004, "C", "_C"),
    Cycle(2005, 2006, "D", "_D"),
    Cycle(2007, 2008, "E", "_E"),
    Cycle(2009, 2010, "F", "_F"),
    Cycle(2011, 2012, "G", "_G"),
    Cycle(2013, 2014, "H", "_H"),
    Cycle(2015, 2016, "I", "_I"),
    Cycle(2017, 2018, "J", "_J"),
)
# The 2017-March 2020 pre-pandemic files: a named extra, never part of a default range
# (it overlaps 2017-2018 and has its own weights).
PREPANDEMIC = Cycle(2017, 2020, "P", "", prefix="P_")

# Components and the cycles that have them. A name differing from component+suffix is listed:
# before 2005 CDC numbered the laboratory files (checked against the shared mirror for GHB and
# BIOPRO, whose L10_B/L10_C and L40_B/L40_C it holds; the others as CDC publishes them).
_SPECIAL_NAMES: dict[tuple[str, str], str] = {
    ("DR1TOT", "A"): "DRXTOT",
    ("DR1TOT", "B"): "DRXTOT_B",
    ("GHB", "A"): "LAB10",
    ("GHB", "B"): "L10_B",
    ("GHB", "C"): "L10_C",
    ("BIOPRO", "A"): "LAB18",
    ("BIOPRO", "B"): "L40_B",
    ("BIOPRO", "C"): "L40_C",
    ("GLU", "A"): "LAB10AM",
    ("GLU", "B"): "L10AM_B",
    ("GLU", "C"): "L10AM_C",
    # total and HDL cholesterol share one file until 2004 (HDL: LBDHDL, then LBXHDD)
    ("TCHOL", "A"): "LAB13",
    ("TCHOL", "B"): "L13_B",
    ("TCHOL", "C"): "L13_C",
    ("HDL", "A"): "LAB13",
    ("HDL", "B"): "L13_B",
    ("HDL", "C"): "L13_C",
    ("TRIGLY", "A"): "LAB13AM",
    ("TRIGLY", "B"): "L13AM_B",
    ("TRIGLY", "C"): "L13AM_C",
    ("ALB_CR", "A"): "LAB16",
    ("ALB_CR", "B"): "L16_B",
    ("ALB_CR", "C"): "L16_C",
    ("CBC", "A"): "LAB25",
    ("CBC", "B"): "L25_B",
    ("CBC", "C"): "L25_C",
}
_COMPONENT_CYCLES: dict[str, str] = {
    # component: letters of the cycles that publish it
    "DEMO": "ABCDEFGHIJP",
    "VID": "BCDEFGHIJ",
    "BMX": "ABCDEFGHIJP",
    "SMQ": "ABCDEFGHIJP",
    "DIQ": "ABCDEFGHIJP",
    "MCQ": "ABCDEFGHIJP",
    "PAQ": "ABCDEFGHIJP",
    "ALQ": "ABCDEFGHIJP",
    "BPQ": "ABCDEFGHIJP",
    "KIQ_U": "ABCDEFGHIJP",
    "DR1TOT": "ABCDEFGHIJP",
    "DR2TOT": "CDEFGHIJP",
    "DSQ1": "ABCD",
    "DSQ2": "ABCD",
    "DSQTOT": "EFGHIJP",
    "DS1TOT": "EFGHIJP",
    "DS2TOT": "EFGHIJP",
    "GHB": "ABCDEFGHIJP",
    "BIOPRO": "ABCDEFGHIJP",
    "PTH": "D",
    # known for users' own variables (nothing the package derives reads them)
    "BPX": "ABCDEFGHIJ",  # blood pressure, auscultatory (2017-2020: oscillometric P_BPXO only)
    "BPXO": "JP",  # blood pressure, oscillometric
    "GLU": "ABCDEFGHIJP",  # fasting plasma glucose (morning fasting subsample)
    "TCHOL": "ABCDEFGHIJP",  # total cholesterol
    "HDL": "ABCDEFGHIJP",  # HDL cholesterol
    "TRIGLY": "ABCDEFGHIJP",  # triglycerides and LDL (morning fasting subsample)
    "ALB_CR": "ABCDEFGHIJP",  # urine albumin and creatinine
    "CBC": "ABCDEFGHIJP",  # complete blood count
}
# Which NHANES subsample answers each component: the household interview, the MEC exam
# (examination and laboratory), or the dietary recalls of day 1 / of both days. The weight of an
# analysis is the weight of the smallest subsample among the variables it uses (NCHS).
# GLU and TRIGLY are measured in the morning fasting subsample, which has its own weight
# (WTSAF2YR) the analytic dataset does not carry: a specification may not declare variables
# from them (spec.py refuses it), since no weight here would be right for them.
FASTING_COMPONENTS: tuple[str, ...] = ("GLU", "TRIGLY")
SUBSAMPLES: tuple[str, ...] = ("interview", "exam", "diet1", "diet2")  # each within the last
COMPONENT_SUBSAMPLE: dict[str, str] = {
    "DEMO": "interview", "SMQ": "interview", "DIQ": "interview", "MCQ": "interview",
    "PAQ": "interview", "BPQ": "interview", "KIQ_U": "interview",
    "ALQ": "exam",  # adults answer the alcohol questions in the MEC interview
    "DSQ1": "interview", "DSQ2": "interview", "DSQTOT": "interview",
    "VID": "exam", "BMX": "exam", "GHB": "exam", "BIOPRO": "exam", "PTH": "exam",
    "BPX": "exam", "BPXO": "exam", "GLU": "exam", "TCHOL": "exam", "HDL": "exam",
    "TRIGLY": "exam", "ALB_CR": "exam", "CBC": "exam",
    "DR1TOT": "diet1", "DS1TOT": "diet1",
    "DR2TOT": "diet2", "DS2TOT": "diet2",
}  # fmt: skip
# Every component the catalog can name (for `fetch --tables` and users' own variables).
KNOWN_COMPONENTS: tuple[str, ...] = tuple(_COMPONENT_CYCLES)
# The 1999-2006 dietary supplement ingredient database (not cycle-suffixed).
INGREDIENT_TABLES: tuple[str, ...] = ("DSII", "DSBI", "DSPI")

_RANGE = re.compile(r"^(\d{4})\s*-\s*(\d{4})$")


def all_cycles(include_prepandemic: bool = False) -> tuple[Cycle, ...]:
    """Every two-year cycle 1999-2000 … 2017-2018 (plus the P_ files if asked)."""
    return CYCLES + ((PREPANDEMIC,) if include_prepandemic else ())


def get_cycle(key: str | int | Cycle) -> Cycle:
    """Look a cycle up by years ("2005-2006"), letter ("D"), begin year (2005) or "P".

    >>> get_cycle("D").years
    '2005-2006'
    """
    if isinstance(key, Cycle):
        return key
    text = str(key).strip().upper()
    for cycle in (*CYCLES, PREPANDEMIC):
        if text in (cycle.years, cycle.letter, str(cycle.begin)) and not (
            cycle is PREPANDEMIC and text == "2017"
        ):
            return cycle
    if text in ("2017-2020", "P_", "PREPANDEMIC"):
        return PREPANDEMIC
    known = ", ".join(c.years for c in CYCLES)
    raise CatalogError(f"unknown NHANES cycle {key!r}; known cycles: {known}, 2017-2020 (P_ files)")


def parse_cycles(spec: str | Iterable[str] | None) -> tuple[Cycle, ...]:
    """Turn a user's ``--cycles`` value into cycles.

    ``"2001-2018"`` spans every cycle whose years fall in the range; ``"2005-2006,2007-2008"``
    lists cycles; ``None`` means 2001-2002 … 2017-2018.

    >>> [c.letter for c in parse_cycles("2001-2006")]
    ['B', 'C', 'D']
    >>> [c.years for c in parse_cycles("2005-2006,2017-2020")]
    ['2005-2006', '2017-2020']
    """
    if spec is None:
        return tuple(c for c in CYCLES if c.begin >= 2001)
    parts = [p.strip() for p in spec.split(",")] if isinstance(spec, str) else list(spec)
    found: list[Cycle] = []
    for part in parts:
        if not part:
            continue
        match = _RANGE.match(part)
        exact = [c for c in (*CYCLES, PREPANDEMIC) if c.years == part.replace(" ", "")]
        if exact:
            found.extend(exact)
        elif match:
            lo, hi = int(match.group(1)), int(match.group(2))
            if lo > hi:
                raise CatalogError(f"cycle range {part!r} runs backwards")
            span = [c for c in CYCLES if c.begin >= lo and c.end <= hi]
            if not span:
                raise CatalogError(f"no NHANES cycle lies within {part!r}")
            found.extend(span)
        else:
            found.append(get_cycle(part))
    return tuple(sorted(set(found)))


def has_component(component: str, cycle: Cycle) -> bool:
    letters = _COMPONENT_CYCLES.get(component)
    if letters is None:
        raise CatalogError(
            f"unknown table component {component!r}; known: {', '.join(_COMPONENT_CYCLES)}"
        )
    return cycle.letter in letters


def table_name(component: str, cycle: Cycle | str) -> str:
    """CDC's table name for a component in a cycle (``"DR1TOT", 2001-2002 -> "DRXTOT_B"``)."""
    cycle = get_cycle(cycle)
    if not has_component(component, cycle):
        raise CatalogError(f"NHANES {cycle.years} has no {component} table")
    special = _SPECIAL_NAMES.get((component, cycle.letter))
    if special:
        return special
    return f"{cycle.prefix}{component}{cycle.suffix}"


def component_of(table: str) -> str:
    """Inverse of :func:`table_name` ("DRXTOT_B" -> "DR1TOT"; a file two components share,
    L13_B, gives the first: TCHOL)."""
    for (component, _), name in _SPECIAL_NAMES.items():
        if name == table:
            return component
    base = table.removeprefix("P_")
    base = re.sub(r"_[A-J]$", "", base)
    if base in _COMPONENT_CYCLES or base in INGREDIENT_TABLES:
        return base
    raise CatalogError(f"unknown NHANES table {table!r}")


def tables_for(cycle: Cycle, components: Iterable[str]) -> list[str]:
    """The table names a cycle has for the given components."""
    return list(dict.fromkeys(table_name(c, cycle) for c in components if has_component(c, cycle)))


@dataclass(frozen=True)
class ColumnRef:
    """Where a CDC column of a component lives in one cycle."""

    component: str
    column: str
    cycle: str  # years, "2005-2006"
    table: str  # CDC's file name, "BIOPRO_D"
    relpath: str  # in a data dir or mirror, "2005-2006/BIOPRO_D.xpt"


def locate(component: str, column: str, cycle: Cycle | str) -> ColumnRef:
    """The table (and data-dir path) a CDC ``column`` of ``component`` is read from in
    ``cycle``: :func:`table_name` for the table, the column as CDC spells it (upper case).

    The column is not looked up (the catalog does not list every table's columns): a name CDC
    changed between cycles (BIOPRO's LBDSCR in 2001-2002, LBXSCR after) is the caller's to
    give per cycle.

    >>> ref = locate("GLU", "lbxglu", "2003-2004")
    >>> ref.table, ref.column, ref.relpath
    ('L10AM_C', 'LBXGLU', '2003-2004/L10AM_C.xpt')

    Raises
    ------
    CatalogError
        Unknown component or cycle, the cycle has no such table, or an empty column name.
    """
    cycle = get_cycle(cycle)
    name = column.strip().upper()
    if not name:
        raise CatalogError(f"no column named for {component} ({cycle.years})")
    table = table_name(component, cycle)
    return ColumnRef(component, name, cycle.years, table, xpt_relpath(table, cycle))


def xpt_relpath(table: str, cycle: Cycle) -> str:
    """Where a table lives in a data dir or mirror: ``{years}/{TABLE}.xpt``."""
    return f"{cycle.years}/{table}.xpt"


def xpt_urls(table: str, cycle: Cycle) -> list[str]:
    """CDC URLs for a table, current scheme first (files moved in November 2024), then the old."""
    return [
        f"{CDC_BASE}/Nchs/Data/Nhanes/Public/{cycle.begin}/DataFiles/{table}.xpt",
        f"{CDC_BASE}/Nchs/Nhanes/{cycle.years}/{table}.XPT",
    ]


# CDC's published number of observations of every table the package reads, as package data
# (written by scripts/make_table_rows.py from the shared mirror's MANIFEST.tsv, which lists the
# same counts): a table cut on a record boundary passes every header check, only its row count
# tells that participants are missing.
TABLE_ROWS_FILE = "table_rows.tsv"


@functools.cache
def _table_rows() -> dict[str, int]:
    text = resources.files("nhanes_mg").joinpath(TABLE_ROWS_FILE).read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {row["file"]: int(row["rows"]) for row in csv.DictReader(lines, delimiter="\t")}


def expected_rows(relpath: str) -> int | None:
    """CDC's published row count of a table by its data-dir path (``"2005-2006/DEMO_D.xpt"``).

    None for a table the package does not declare (a user's own, the 1999-2000 and 2017-2020
    cycle tables): those are not checked.
    """
    return _table_rows().get(relpath)


def mortality_file_name(cycle: Cycle | str, release: int = 2019) -> str:
    """Public-use linked-mortality file name of a cycle ("III" for NHANES III)."""
    if release not in MORTALITY_RELEASES:
        raise CatalogError(
            f"unknown linked-mortality release {release}; known: {MORTALITY_RELEASES}"
        )
    if cycle == "III":
        return f"NHANES_III_MORT_{release}_PUBLIC.dat"
    cycle = get_cycle(cycle)
    if cycle is PREPANDEMIC:
        raise CatalogError("the 2017-March 2020 files have no public linked-mortality file")
    return f"NHANES_{cycle.begin}_{cycle.end}_MORT_{release}_PUBLIC.dat"


def mortality_url(file_name: str) -> str:
    return f"{MORTALITY_BASE}/{file_name}"


_MORT_NAME = re.compile(r"^NHANES_(?:(\d{4})_(\d{4})|III)_MORT_(\d{4})_PUBLIC\.dat$")


def parse_mortality_name(file_name: str) -> tuple[str, int]:
    """``"NHANES_2005_2006_MORT_2015_PUBLIC.dat" -> ("2005-2006", 2015)``; NHANES III -> "III"."""
    match = _MORT_NAME.match(file_name)
    if not match:
        raise CatalogError(f"{file_name!r} is not a public linked-mortality file name")
    cycle = "III" if match.group(1) is None else f"{match.group(1)}-{match.group(2)}"
    return cycle, int(match.group(3))


def pool_label(cycles: Sequence[str]) -> str:
    """The name of a pool: ``2011-2014`` for consecutive cycles, else the cycles joined by +.

    >>> pool_label(["2011-2012", "2013-2014"]), pool_label(["2005-2006", "2017-2018"])
    ('2011-2014', '2005-2006+2017-2018')
    """
    years = sorted(cycles)
    spans = [tuple(int(x) for x in y.split("-")) for y in years]
    consecutive = all(b[0] == a[1] + 1 for a, b in itertools.pairwise(spans))
    if consecutive:
        return f"{spans[0][0]}-{spans[-1][1]}"
    return "+".join(years)
