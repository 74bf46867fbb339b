"""The synthetic mirror of ``nhanes-mg demo``: layout, files, determinism and the whole pipeline."""

from __future__ import annotations

import csv
import hashlib
import warnings
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data import catalog, fetch, read
from nhanes_mg.derive import build_analytic, demo, fetched_components, registry
from nhanes_mg.jobs.run import run_pipeline
from nhanes_mg.study.spec import load_shipped_specs

N = 600  # participants per cycle: small enough to be quick, large enough for every model
CYCLES = demo.DEFAULT_CYCLES
MORTALITY = {
    "2003-2004": "NHANES_2003_2004_MORT_2015_PUBLIC.dat",
    "2005-2006": "NHANES_2005_2006_MORT_2015_PUBLIC.dat",
    "2011-2012": "NHANES_2011_2012_MORT_2019_PUBLIC.dat",
    "2013-2014": "NHANES_2013_2014_MORT_2019_PUBLIC.dat",
}
CORE = (
    "sdmvstra", "sdmvpsu", "wt_mec", "wt_diet1", "wt_diet2", "age", "sex", "race_eth",
    "race_eth6", "pir", "education", "pregnant", "exam_season", "mg_food", "ca_food", "kcal",
    "vitd_food", "alcohol_g", "supp_user", "mg_supp", "ca_supp", "vitd_supp", "mg_supp_d1",
    "mg_total", "ca_total", "vitd_total", "ca_mg_ratio_food", "ca_mg_ratio_total",
    "vitd_25oh_nmol", "vitd_status", "bmi", "smoking", "alq_drinks_per_day", "phys_active",
    "diabetes", "diabetes_diagnosed", "cvd_history", "cancer_history", "hba1c", "egfr",
    "ca_serum", "pth", "mort_eligible", "mort_status", "mort_cause", "followup_months_exam",
)  # fmt: skip


def _number(value: object) -> float:
    """A polars scalar (mean, min, max) as a float, for the type checker."""
    assert isinstance(value, int | float), value
    return float(value)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo.write_synthetic_mirror(tmp_path_factory.mktemp("synthetic"), n_per_cycle=N)


@pytest.fixture(scope="module")
def data_dir(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("data")
    cycles = catalog.parse_cycles(",".join(CYCLES))
    report = fetch.fetch(cycles, fetched_components(), data_dir=target, mirror=mirror)
    # Only the linked-mortality files that do not exist (2007-2008, NHANES III) are missing.
    assert sorted(report.missing) == [
        "linked mortality (2007-2008): not in the mirror",
        "linked mortality (III): not in the mirror",
    ]
    return target


def test_layout_matches_the_catalog_and_the_fetch_plan(mirror: Path) -> None:
    written = {str(p.relative_to(mirror)) for p in mirror.rglob("*") if p.is_file()}
    plan = fetch.plan_files(catalog.parse_cycles(",".join(CYCLES)), fetched_components())
    xpts = {w.relpath for w in plan if w.kind == "xpt"}
    for years in CYCLES:
        cycle = catalog.get_cycle(years)
        for table in catalog.tables_for(cycle, fetched_components()):
            assert catalog.xpt_relpath(table, cycle) in xpts
    expected = xpts | {f"linked_mortality/{name}" for name in MORTALITY.values()}
    expected |= {"SYNTHETIC.txt", "MANIFEST.tsv"}
    assert written == expected
    assert {"1999-2000/DSII.xpt", "1999-2000/DSPI.xpt", "1999-2000/DSBI.xpt"} <= written
    assert "2001-2002/DEMO_B.xpt" not in written
    assert (mirror / "SYNTHETIC.txt").read_text(encoding="utf-8").startswith("SYNTHETIC DATA")


def test_manifest_lists_every_file_with_its_checksum(mirror: Path) -> None:
    with open(mirror / "MANIFEST.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    files = {str(p.relative_to(mirror)) for p in mirror.rglob("*") if p.is_file()}
    assert {r["file"] for r in rows} == files - {"SYNTHETIC.txt", "MANIFEST.tsv"}
    for row in rows:
        assert _digest(mirror / row["file"]).startswith(row["sha256_16"])


def test_xpt_files_read_back_with_the_columns_the_build_needs(mirror: Path) -> None:
    strata: dict[str, set[int]] = {}
    for years in CYCLES:
        cycle = catalog.get_cycle(years)
        for component in fetched_components():
            if not catalog.has_component(component, cycle):
                continue
            table = catalog.table_name(component, cycle)
            frame = read.read_xpt(mirror / catalog.xpt_relpath(table, cycle))
            assert frame.height > 0, table
            assert frame.columns[0] == "SEQN"
            if component != "DSQ2":
                assert frame["SEQN"].is_unique().all(), table
            for source in registry.sources_of(component):
                column = source.column_for(cycle.letter)
                if column is not None:
                    assert column in frame.columns, f"{table} lacks {column}"
        demo_frame = read.read_xpt(mirror / years / f"{catalog.table_name('DEMO', cycle)}.xpt")
        assert demo_frame.height == N
        strata[years] = set(demo_frame["SDMVSTRA"].cast(pl.Int64).unique().to_list())
        assert 14 <= len(strata[years]) <= 16
        psus = demo_frame.group_by("SDMVSTRA").agg(pl.col("SDMVPSU").n_unique())
        assert psus["SDMVPSU"].min() == 2  # every stratum has two PSUs
        for weight in ("WTINT2YR", "WTMEC2YR"):
            assert 2.7e8 < demo_frame[weight].sum() < 3.3e8
        top = 85 if cycle.letter < "E" else 80
        ages = demo_frame["RIDAGEYR"]
        assert _number(ages.min()) >= 1 and _number(ages.max()) == top
        assert ("RIDRETH3" in demo_frame.columns) == (cycle.letter >= "G")
    all_strata = [s for values in strata.values() for s in values]
    assert len(all_strata) == len(set(all_strata))  # numbered apart across cycles, as CDC does
    dsii = read.read_xpt(mirror / "1999-2000" / "DSII.xpt")
    assert {"MAGNESIUM", "CALCIUM", "VITAMIN D"} <= set(dsii["DSDINGR"].to_list())
    dspi = read.read_xpt(mirror / "1999-2000" / "DSPI.xpt")
    assert {"DSDPID", "DSDSUPID", "DSDSERVQ"} <= set(dspi.columns)


def test_mortality_files_parse_in_their_release_layout(mirror: Path) -> None:
    for years, name in MORTALITY.items():
        path = mirror / "linked_mortality" / name
        raw = path.read_bytes()
        assert raw.endswith(b"\r\n") and raw.count(b"\r\n") == N
        widths = {len(line) for line in raw.decode("ascii").split("\r\n") if line}
        if "_2015_" in name:
            assert widths == {48}
        else:
            assert max(widths) <= 48 and min(widths) < 48  # trailing blanks trimmed
        frame = read.read_mortality(path)
        demo_frame = read.read_xpt(
            mirror / years / f"{catalog.table_name('DEMO', catalog.get_cycle(years))}.xpt"
        )
        assert frame["SEQN"].to_list() == demo_frame["SEQN"].to_list()
        joined = frame.join(demo_frame.select("SEQN", "RIDAGEYR"), on="SEQN")
        assert (joined.filter(pl.col("RIDAGEYR") < 18)["ELIGSTAT"] == 2).all()
        eligible = joined.filter(pl.col("ELIGSTAT") == 1)
        assert eligible["MORTSTAT"].is_in([0, 1]).all()
        dead = eligible.filter(pl.col("MORTSTAT") == 1)
        assert dead.height > 0 and dead["UCOD_LEADING"].str.len_chars().eq(3).all()
        release = 2015 if "_2015_" in name else 2019
        longest = (release - int(years[:4]) + 1) * 12  # to 31 December of the release year
        assert _number(eligible["PERMTH_INT"].min()) >= 0
        assert _number(eligible["PERMTH_INT"].max()) <= longest


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    kwargs = {"n_per_cycle": 200, "cycles": ["2005-2006", "2011-2012"]}
    a = demo.write_synthetic_mirror(tmp_path / "a", seed=11, **kwargs)  # type: ignore[arg-type]
    b = demo.write_synthetic_mirror(tmp_path / "b", seed=11, **kwargs)  # type: ignore[arg-type]
    c = demo.write_synthetic_mirror(tmp_path / "c", seed=12, **kwargs)  # type: ignore[arg-type]
    for rel in ("2005-2006/DEMO_D.xpt", "2011-2012/DR1TOT_G.xpt", "2005-2006/DSQ2_D.xpt",
                "linked_mortality/NHANES_2011_2012_MORT_2019_PUBLIC.dat"):  # fmt: skip
        assert _digest(a / rel) == _digest(b / rel), rel
        assert _digest(a / rel) != _digest(c / rel), rel
    # A cycle's data depend on the seed and the cycle only.
    d = demo.write_synthetic_mirror(tmp_path / "d", seed=11, n_per_cycle=200, cycles=["2005-2006"])
    assert _digest(a / "2005-2006/VID_D.xpt") == _digest(d / "2005-2006/VID_D.xpt")


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_per_cycle"):
        demo.write_synthetic_mirror(tmp_path, n_per_cycle=10)
    with pytest.raises(ValueError, match="1999-2000"):
        demo.write_synthetic_mirror(tmp_path, cycles=["1999-2000"])


def test_build_gives_values_for_the_core_variables(data_dir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no table or column of a built cycle may be missing
        result = build_analytic(data_dir, list(CYCLES))
    frame = result.frame
    assert frame.height == N * len(CYCLES)
    assert result.gaps == []
    empty = [c for c in CORE if frame[c].null_count() == frame.height]
    assert empty == []
    adults = frame.filter((pl.col("age") >= 20) & pl.col("recall_ok_d1"))
    ratio = _number(adults["ca_food"].mean()) / _number(adults["mg_food"].mean())
    assert 2.7 < ratio < 3.6
    assert 250 < _number(adults["mg_food"].mean()) < 380
    assert 50 < _number(adults["vitd_25oh_nmol"].mean()) < 80
    by_cycle = adults.group_by(pl.col("cycle").cast(pl.String)).agg(
        pl.col("mg_supp").is_not_null().mean().alias("supp"),
        pl.col("mort_eligible").is_not_null().mean().alias("mort"),
        pl.col("vitd_food").is_not_null().mean().alias("vitd_food"),
    )
    rows = {r["cycle"]: r for r in by_cycle.iter_rows(named=True)}
    assert all(r["supp"] > 0.9 for r in rows.values())  # DSQ2 × DSII and DSQTOT both work
    assert rows["2007-2008"]["mort"] == 0 and rows["2005-2006"]["mort"] == 1
    assert rows["2005-2006"]["vitd_food"] == 0 and rows["2013-2014"]["vitd_food"] > 0.9
    # Built-in associations: winter and low Mg go with lower 25(OH)D.
    winter = adults.group_by("exam_season").agg(pl.col("vitd_25oh_nmol").mean()).sort("exam_season")
    assert winter["vitd_25oh_nmol"][0] < winter["vitd_25oh_nmol"][1]
    low_mg = adults.filter(pl.col("mg_total") < 250)["vitd_25oh_nmol"].mean()
    high_mg = adults.filter(pl.col("mg_total") >= 400)["vitd_25oh_nmol"].mean()
    assert _number(low_mg) < _number(high_mg)


@pytest.mark.slow  # every claim, imputation and calibration included, on made-up data
def test_pipeline_runs_end_to_end_on_the_synthetic_mirror(mirror: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    summary = run_pipeline(
        data_dir=tmp_path / "data",
        out_dir=out,
        mirror=str(mirror),
        cycles=",".join(CYCLES),
        synthetic=True,
        workers=1,  # in this process: the worker pool is the full run's (tests/conftest.py)
    )
    specs = load_shipped_specs()
    assert [r.spec.id for r in summary.results] == [s.id for s in specs]
    for result in summary.results:
        assert result.table.height > 0, result.spec.id
        table = pl.read_csv(out / "tables" / f"{result.spec.id}.csv")
        assert table.height > 0 and table["estimate"].is_not_null().any()
        assert (table["data"] == "SYNTHETIC DATA — not for inference").all()
        assert (out / "figures" / f"{result.spec.id}.png").stat().st_size > 0
    html = summary.report_html.read_text(encoding="utf-8")
    assert "SYNTHETIC" in html
    assert (out / "analytic.parquet").exists() and (out / "report.md").exists()
