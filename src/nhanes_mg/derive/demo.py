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
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.derive import registry
from nhanes_mg.derive.demo_sample import (
    CVD_ITEMS,
    DEFAULT_CYCLES,
    MANIFEST_FILE,
    MAX_PER_CYCLE,
    MIN_PER_CYCLE,
    MORTALITY_RELEASE,
    PRODUCTS,
    SEQN_START,
    STAMP_RE,
    SYNTHETIC_FILE,
    UNKNOWN_SUPID,
    XPT_STAMP,
    Arr,
    Sim,
    simulate_cycle,
    where_else,
    with_codes,
)
from nhanes_mg.derive.sources import Source

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
        cols[pre + name] = where_else(ok, values)
    return _rows(s, s["examined"], cols)


def _dsq1(s: Sim, cycle: Cycle) -> dict[str, Any]:
    rng: np.random.Generator = s["rng"]
    cols: dict[str, Any] = {
        "DSD010": with_codes(rng, np.where(s["supp_user"], 1.0, 2.0), 0.002, (7.0, 9.0)),
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
    supid = np.array([p.supid for p in PRODUCTS], dtype=np.float64)[rows["product"]]
    names = np.array([p.name for p in PRODUCTS], dtype=object)[rows["product"]]
    supid = np.where(rows["unmatched"], float(UNKNOWN_SUPID), supid)
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
        cols[name] = where_else(answered, np.round(s[f"{key}_supp_u"], 2 if key == "vitd" else 1))
    return cols


def _ds_day(s: Sim, cycle: Cycle, day: int) -> dict[str, Any]:
    ok = np.isin(s[f"status{day}"], [1.0, 4.0])
    count, an_count = s[f"ds{day}_count"], s[f"ds{day}_an_count"]
    cols: dict[str, Any] = {
        "WTDRD1": s["wtdrd1"],
        "WTDR2D": s["wtdr2d"],
        f"DR{day}DRSTZ": s[f"status{day}"],
        f"DR{day}DAY": s[f"dow{day}"],
        f"DS{day}DS": where_else(ok, np.where(count > 0, 1.0, 2.0)),
        f"DS{day}DSCNT": where_else(ok, count),
        f"DS{day}AN": where_else(ok, np.where(an_count > 0, 1.0, 2.0)),
        f"DS{day}ANCNT": where_else(ok, an_count),
    }
    took = ok & ((count > 0) | (an_count > 0))
    for name, key in (("MAGN", "mg"), ("CALC", "ca"), ("VD", "vitd")):
        cols[f"DS{day}T{name}"] = where_else(took, np.round(s[f"{key}_ds{day}"], 2))
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
            s, everyone, {**{i.upper(): s[i] for i in CVD_ITEMS}, "MCQ220": s["mcq220"]}
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
        return with_codes(rng, rng.choice([1.0, 2.0], rows), 0.01, codes)
    lo, hi = source.demo or (0.0, 100.0)
    values = np.round(rng.uniform(lo, hi, rows), 2)
    return where_else(rng.random(rows) < 0.05, np.nan, values)


def _pa(s: Sim, which: str) -> Arr:
    """PAD200/PAD320: 1 yes, 2 no, 3 unable to do the activity (some older people)."""
    rng: np.random.Generator = s["rng"]
    unable = (s["age"] >= 60) & (rng.random(s["n"]) < 0.05)
    return np.where(s[which], 1.0, np.where(unable, 3.0, 2.0))


# ------------------------------------------------------------------------- ingredient database


def _ingredient_tables() -> dict[str, dict[str, Any]]:
    """DSPI (products), DSII (ingredients per product) and DSBI (blend components)."""
    dspi = {
        "DSDPID": [float(p.pid) for p in PRODUCTS],
        "DSDPRDT": [1.0] * len(PRODUCTS),
        "DSDSUPP": [p.name for p in PRODUCTS],
        "DSDSRCE": [9.0] * len(PRODUCTS),
        "DSDTYPE": [4.0] * len(PRODUCTS),
        "DSDSERVQ": [p.servq for p in PRODUCTS],
        "DSDSERVU": [18.0] * len(PRODUCTS),
        "DSDSUPID": [str(p.supid) for p in PRODUCTS],
    }
    dsii: dict[str, list[Any]] = {k: [] for k in ("DSDPID", "DSDSUPP", "DSDIID", "DSDINGR",
                                                  "DSDOPER", "DSDQTY", "DSDUNIT", "DSDCAT",
                                                  "DSDBLFLG", "DSDINGID")}  # fmt: skip
    ingredient_ids: dict[str, int] = {}
    for p in PRODUCTS:
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
    head = STAMP_RE.sub(XPT_STAMP, raw[:640])
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
        if cycle.letter not in SEQN_START:
            raise ValueError(
                f"the synthetic mirror covers 2001-2002 … 2017-2018, not {cycle.years}"
            )
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    manifest: list[tuple[str, int, int | str]] = []

    def record(relpath: str, rows: int, ncols: int | str) -> None:
        manifest.append((relpath, rows, ncols))

    for cycle in chosen:
        sim = simulate_cycle(cycle, n_per_cycle, seed)
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
