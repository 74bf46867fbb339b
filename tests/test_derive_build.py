"""The analytic dataset built from the real mirror: counts, keys, weights, codes, gaps, output."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from nhanes_mg.data import catalog, read
from nhanes_mg.derive import (
    VARIABLES,
    BuildResult,
    MissingTableWarning,
    build_analytic,
    column_order,
    format_summary,
    read_metadata,
    schema,
    write_analytic,
)
from nhanes_mg.derive.registry import SOURCES
from nhanes_mg.errors import InvalidFileError, MissingTableError

from derive_support import SessionBuild, link_tree
from nhanes_files import write_xpt

pytestmark = pytest.mark.mirror
CYCLES = [c.years for c in catalog.parse_cycles(None)]


@pytest.fixture(scope="module")
def dd(nhanes_data_dir: Path) -> Path:
    """The data dir fetched from the real mirror (the session build's)."""
    return nhanes_data_dir


@pytest.fixture(scope="module")
def result(build_result: BuildResult) -> BuildResult:
    """The session's build of the full real mirror."""
    return build_result


def test_the_full_mirror_builds_without_a_gap(session_build: SessionBuild) -> None:
    missing = [w for w in session_build.warnings if w.startswith("MissingTableWarning")]
    assert missing == []
    assert session_build.result.gaps == []


def test_rows_per_cycle_equal_demo(dd: Path, result: BuildResult) -> None:
    counts = dict(result.frame.group_by("cycle").len().iter_rows())
    assert sorted(counts) == CYCLES
    for cycle in CYCLES:
        assert counts[cycle] == read.load_table(dd, "DEMO", cycle).height, cycle
    summary = dict(zip(result.summary["cycle"], result.summary["participants"], strict=True))
    assert summary == counts


def test_seqn_unique_and_columns_documented(result: BuildResult) -> None:
    frame = result.frame
    assert frame["seqn"].is_unique().all()
    assert frame["seqn"].null_count() == 0
    assert frame.columns == column_order()
    assert {v.name for v in VARIABLES} == set(frame.columns)
    assert frame.schema == pl.Schema(schema())  # declared before any data is read


def test_antacids_and_extreme_vitamin_d_are_flagged_not_dropped(result: BuildResult) -> None:
    f = result.frame
    early = f.filter(pl.col("cycle").cast(pl.String).is_in(["2003-2004", "2005-2006"]))
    # leaving antacids out can only remove calcium users, and some take only antacids
    both = early.filter(pl.col("ca_supp_user").is_not_null())
    assert (both["ca_supp_user_excl_antacid"] <= both["ca_supp_user"]).all()
    assert (both["ca_supp_user"] & ~both["ca_supp_user_excl_antacid"]).sum() > 100
    assert (early["ca_antacid"].drop_nulls() <= early["ca_supp"].drop_nulls().max()).all()
    late = f.filter(pl.col("cycle") == "2017-2018")
    assert late["ca_antacid"].null_count() == late.height  # DSQTOT combines them
    assert f.filter(pl.col("cycle") == "2001-2002")["antacid_user"].null_count() > 0
    flagged = f.filter(pl.col("vitd_supp_extreme"))
    assert flagged.height > 0 and (flagged["vitd_supp"] > 250).all()  # kept, not dropped
    assert f.filter(pl.col("vitd_supp") > 250).height == flagged.height
    extremes = result.metadata["supplement_extremes"]
    assert sum(r["extreme"] for r in extremes) == flagged.height
    assert all(r["mean_without"] < r["mean_with"] for r in extremes)


def test_weights(result: BuildResult) -> None:
    f = result.frame
    for w in ("wt_mec", "wt_diet1", "wt_diet2"):
        assert (f[w].drop_nulls() >= 0).all(), w
    assert (f["wt_int"] > 0).all()  # everyone in the dataset was interviewed
    # positive exactly where the subsample applies
    assert ((f["wt_mec"] > 0) == f["examined"]).all()
    diet1 = f.filter(pl.col("recall_ok_d1"))
    assert (diet1["wt_diet1"] > 0).all()
    two = f.filter(pl.col("wt_diet2") > 0)
    # both recalls reliable, or breast-fed children (status 4) who keep dietary weights
    assert (two["recall_status_d1"].is_in([1, 4]) & two["recall_status_d2"].is_in([1, 4])).all()
    assert (two.filter(pl.col("age") >= 4)["n_recall_days"] == 2).all()
    assert (
        f.filter(pl.col("cycle") == "2001-2002")["wt_diet2"].null_count()
        == f.filter(pl.col("cycle") == "2001-2002").height
    )


def test_no_missing_code_survives(dd: Path, result: BuildResult) -> None:
    f = result.frame
    # numeric columns taken straight from a questionnaire item with missing codes
    for source in SOURCES:
        if source.name.startswith("_") or not source.missing_codes:
            continue
        for cycle in CYCLES:
            letter = catalog.get_cycle(cycle).letter
            codes = source.codes_for(letter)
            values = f.filter(pl.col("cycle") == cycle)[source.name]
            assert not values.is_in(list(codes)).any(), (source.name, cycle)
    # the raw files do hold those codes (so the test is not vacuous)
    raw = read.load_table(dd, "ALQ", "2017-2018")["ALQ130"]
    assert raw.is_in([777.0, 999.0]).any()
    # categorical variables carry readable levels only
    assert set(f["smoking"].drop_nulls().unique()) <= {"never", "former", "current"}
    assert set(f["education"].drop_nulls().unique()) == {
        "lt_high_school",
        "high_school",
        "some_college",
        "college_grad",
    }
    # 30-day supplement days (7777/9999) and quantities (999999) never reach the amounts
    assert f["mg_supp"].max() < 5000  # type: ignore[operator]
    # PIR 5 (5 or more) is a value and is kept
    assert (f["pir"] == 5).sum() > 1000


def test_core_variables_sane(result: BuildResult) -> None:
    f = result.frame
    adults = f.filter((pl.col("age") >= 20) & pl.col("recall_ok_d1"))
    assert 250 < adults["mg_food_d1"].mean() < 330  # type: ignore[operator]
    assert 800 < adults["ca_food_d1"].mean() < 1000  # type: ignore[operator]
    assert (
        f.filter(pl.col("cycle") < "2007-2008")["vitd_food_d1"].null_count()
        == f.filter(pl.col("cycle") < "2007-2008").height
    )
    assert (
        f.filter(pl.col("cycle") == "2001-2002")["mg_food_d2"].null_count()
        == f.filter(pl.col("cycle") == "2001-2002").height
    )
    both = f.filter(pl.col("n_recall_days") == 2)
    assert ((both["mg_food_d1"] + both["mg_food_d2"]) / 2 - both["mg_food"]).abs().max() < 1e-9  # type: ignore[operator]
    tot = f.drop_nulls(["mg_food", "mg_supp"])
    assert ((tot["mg_food"] + tot["mg_supp"]) - tot["mg_total"]).abs().max() < 1e-9  # type: ignore[operator]
    r = f.drop_nulls(["ca_mg_ratio_food"])
    assert ((r["ca_food"] / r["mg_food"]) - r["ca_mg_ratio_food"]).abs().max() < 1e-9  # type: ignore[operator]
    assert f["vitd_status"].dtype == pl.Enum(["deficient", "insufficient", "sufficient"])
    assert set(f["race_eth"].drop_nulls().unique()) == {
        "mexican_american",
        "other_hispanic",
        "nh_white",
        "nh_black",
        "other",
    }
    assert (
        f.filter(pl.col("cycle") < "2011-2012")["race_eth6"].null_count()
        == f.filter(pl.col("cycle") < "2011-2012").height
    )
    # recall-day structure for the usual-intake module
    assert f.filter(pl.col("recall_ok_d1"))["recall_dow_d1"].is_between(1, 7).all()
    wk = f.filter(pl.col("recall_dow_d1").is_not_null())
    assert (wk["weekend_d1"] == wk["recall_dow_d1"].is_in([1, 6, 7])).all()
    later = f.filter(pl.col("cycle") >= "2007-2008", pl.col("recall_ok_d1"))
    assert later["mg_supp_d1"].null_count() < 0.01 * later.height
    assert f["pth"].drop_nulls().len() > 5000
    assert set(f.filter(pl.col("pth").is_not_null())["cycle"].unique()) == {"2005-2006"}


def test_mortality(result: BuildResult) -> None:
    f = result.frame
    releases = result.metadata["mortality_releases"]
    for cycle in CYCLES:
        rows = f.filter(pl.col("cycle") == cycle)
        if releases[cycle] is None:
            assert rows["mort_eligible"].null_count() == rows.height
            assert rows["mortality_release"].null_count() == rows.height
        else:
            assert rows["mort_eligible"].null_count() == 0
            eligible = rows.filter(pl.col("mort_eligible"))
            assert (eligible["age"] >= 18).all()
            assert (eligible["mortality_release"] == releases[cycle]).all()
            dead = eligible.filter(pl.col("mort_status") == 1)
            # the public files give a cause for (nearly) every death: one lacks it in 2003-2004
            assert dead["mort_cause"].null_count() <= 0.005 * dead.height
            assert eligible.filter(pl.col("mort_status") == 0)["mort_cause"].null_count() == (
                eligible.filter(pl.col("mort_status") == 0).height
            )
    assert releases["2005-2006"] == 2015 and releases["2013-2014"] == 2019


def test_build_is_fast_from_cache(dd: Path, result: BuildResult) -> None:
    # the session build already filled the cache
    assert result.metadata["build_seconds"] < 120
    again = build_analytic(dd, "2005-2006")
    assert again.metadata["build_seconds"] < 15


def test_vitd_cutpoints_configurable(dd: Path) -> None:
    r = build_analytic(dd, "2007-2008", vitd_cutpoints=(25, 75))
    v = r.frame.drop_nulls("vitd_25oh_nmol")
    expected = (
        pl.when(v["vitd_25oh_nmol"] < 25)
        .then(pl.lit("deficient"))
        .when(v["vitd_25oh_nmol"] < 75)
        .then(pl.lit("insufficient"))
        .otherwise(pl.lit("sufficient"))
    )
    assert (v.select(expected.alias("e"))["e"] == v["vitd_status"].cast(pl.Utf8)).all()
    assert r.metadata["vitd_cutpoints_nmol"] == [25, 75]


def test_missing_tables_warn_and_build_the_rest(tmp_path: Path, mirror_dir: Path, dd: Path) -> None:
    broken = link_tree(
        mirror_dir,
        tmp_path / "data",
        skip={"2005-2006/VID_D.xpt", "2003-2004/DSQ2_C.xpt", "2001-2002/DEMO_B.xpt"},
    )
    (broken / ".cache").mkdir()  # same files, same cache keys (linked file by file: a data
    for entry in (dd / ".cache").iterdir():  # dir's folder is never a link of its own)
        os.link(entry, broken / ".cache" / entry.name)
    with pytest.warns(MissingTableWarning) as caught:
        r = build_analytic(broken, "2001-2006")
    messages = [str(w.message) for w in caught]
    assert any("VID_D (2005-2006)" in m for m in messages), messages
    # the warning names what the gap leaves null, derived variables included
    vid = "VID_D (2005-2006) is missing: vitd_25oh_nmol, vitd_25oh_ngml, vitd_status will be null"
    assert any(m.startswith(vid) for m in messages), messages
    assert any("DSQ2_C (2003-2004)" in m for m in messages), messages
    assert any("DEMO_B (2001-2002)" in m for m in messages), messages
    gaps = {(g["cycle"], g["table"]) for g in r.metadata["gaps"]}
    assert {("2005-2006", "VID_D"), ("2003-2004", "DSQ2_C"), ("2001-2002", "DEMO_B")} <= gaps
    f = r.frame
    assert r.metadata["cycles"] == ["2003-2004", "2005-2006"]
    assert f.filter(pl.col("cycle") == "2005-2006")["vitd_25oh_nmol"].null_count() == 10348
    assert f.filter(pl.col("cycle") == "2003-2004")["vitd_25oh_nmol"].null_count() < 10122
    # without DSQ2: supplement users' amounts are unknown, non-users' are still 0
    users_c = f.filter((pl.col("cycle") == "2003-2004") & pl.col("supp_user"))
    assert users_c.height > 3000 and users_c["mg_supp"].null_count() == users_c.height
    non_users_c = f.filter((pl.col("cycle") == "2003-2004") & ~pl.col("supp_user"))
    assert (non_users_c["mg_supp"] == 0).all()
    assert f.filter(pl.col("cycle") == "2005-2006")["mg_supp"].drop_nulls().len() > 9000
    assert f.height == 10122 + 10348


def test_a_person_twice_in_a_person_level_table_is_refused(
    tmp_path: Path, mirror_dir: Path
) -> None:
    """BMX_D with CDC's row count but one participant's SEQN given to another row: keeping
    either row would silently change a person's BMI, so the build names the file."""
    data = tmp_path / "data"
    (data / "2005-2006").mkdir(parents=True)
    (data / "2005-2006" / "DEMO_D.xpt").write_bytes(
        (mirror_dir / "2005-2006" / "DEMO_D.xpt").read_bytes()
    )
    bmx = read.read_xpt(mirror_dir / "2005-2006" / "BMX_D.xpt").select("SEQN", "BMXBMI")
    seqn = bmx["SEQN"].to_list()
    seqn[1] = seqn[0]
    write_xpt(
        data / "2005-2006" / "BMX_D.xpt",
        {"SEQN": [float(s) for s in seqn], "BMXBMI": bmx["BMXBMI"].to_list()},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingTableWarning)
        with pytest.raises(InvalidFileError, match=rf"BMX_D\.xpt: SEQN {seqn[0]} appears more"):
            build_analytic(data, "2005-2006")


def test_no_demo_at_all_is_an_error(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingTableWarning)
        with pytest.raises(MissingTableError, match="no DEMO table"):
            build_analytic(tmp_path, "2005-2006")


def test_write_analytic(tmp_path: Path, result: BuildResult) -> None:
    path = write_analytic(result, tmp_path / "out")
    assert path == tmp_path / "out" / "analytic.parquet"
    back = pl.read_parquet(path)
    assert back.shape == result.frame.shape
    assert back.schema == result.frame.schema
    meta = read_metadata(path)
    assert meta["cycles"] == CYCLES
    assert meta["gaps"] == []
    assert meta["mortality_releases"]["2011-2012"] == 2019
    assert len(meta["summary"]) == len(CYCLES)
    side = json.loads((tmp_path / "out" / "analytic.json").read_text())
    assert side["rows"] == result.frame.height
    assert (tmp_path / "out" / "data_dictionary.md").read_text().startswith("# Analytic dataset")
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]
    assert b"nhanes_mg" in (pq.read_schema(path).metadata or {})
    # the supplement seam: 2001-2006 (our DSQ2 derivation) beside 2007-2018 (CDC's DSQTOT)
    seam = pl.read_csv(tmp_path / "out" / "tables" / "supplement_seam.csv")
    assert sorted(seam["cycle"].unique()) == CYCLES
    assert set(seam["nutrient"]) == {"magnesium", "calcium"}
    assert seam.filter(pl.col("cycle") == "2005-2006")["derivation"][0].startswith("DSQ2")
    assert seam.filter(pl.col("cycle") == "2007-2008")["derivation"][0].startswith("DSQTOT")
    assert (tmp_path / "out" / "figures" / "supplement_seam.png").stat().st_size > 10_000
    flagged = {r["cycle"]: r["share_flagged"] for r in meta["supplement_quality"]}
    assert sorted(flagged) == ["2001-2002", "2003-2004", "2005-2006"]
    assert all(0 < share < 0.25 for share in flagged.values())


def test_same_inputs_build_byte_identical_parquet(
    tmp_path: Path, dd: Path, result: BuildResult
) -> None:
    # Float sums over rows (supplement amounts per participant, the energy-adjustment slope)
    # used to follow the query engine's row order and differed in the last digit. Two builds
    # of the same data dir: the session's and this one.
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingTableWarning)
        again = build_analytic(dd)
    differ = [c for c in result.frame.columns if not result.frame[c].equals(again.frame[c])]
    assert differ == []
    assert result.frame.equals(again.frame)
    one = write_analytic(result, tmp_path / "one")
    two = write_analytic(again, tmp_path / "two")
    assert one.read_bytes() == two.read_bytes()
    # when and how long: in analytic.json only, never in the parquet
    assert "created_utc" not in read_metadata(one)
    assert "build_seconds" not in read_metadata(one)
    assert "created_utc" in json.loads((tmp_path / "one" / "analytic.json").read_text())
    # and the builds read from the parquet cache what parsing the XPT files gives
    for relpath in ("2005-2006/DR1TOT_D.xpt", "2003-2004/DSQ2_C.xpt", "2017-2018/DEMO_J.xpt"):
        assert read.load_file(dd, relpath).equals(read.read_xpt(dd / relpath)), relpath


def test_format_summary(result: BuildResult) -> None:
    text = format_summary(result)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["cycle", "participants"]
    # header, cycles, total, the flagged supplement shares of 2001-2006, the cycles with
    # vitamin D supplement totals above the flag's limit (no gaps)
    extremes = result.metadata["supplement_extremes"]
    assert len(lines) == 1 + len(CYCLES) + 1 + 3 + len(extremes)
    first = 1 + len(CYCLES) + 1
    assert lines[first].startswith("supplements 2001-2002: ")
    assert "% of adults flagged" in lines[first]
    assert all(line.startswith("vitamin D supplements ") for line in lines[first + 3 :])
    assert "2005-2006" in lines[3] and "2015" in lines[3]
    assert "no linked file" in lines[1]


def _weighted_share(frame: pl.DataFrame, variable: str) -> float:
    """Share true among the examined with an answer, weighted by WTMEC2YR (point estimate)."""
    w = pl.col("wt_mec")
    d = frame.drop_nulls(variable).filter(w > 0)
    return float(d.select((pl.col(variable).cast(pl.Float64) * w).sum() / w.sum()).item())


def test_medical_history_prevalence_2005_2006(result: BuildResult) -> None:
    adults = result.frame.filter((pl.col("cycle") == "2005-2006") & (pl.col("age") >= 20))
    # measured on the real mirror, adults ≥ 20 examined in 2005-2006, weighted by WTMEC2YR:
    # cvd_history 8.82 %, cancer_history 8.20 %, diabetes_diagnosed 7.75 %
    assert 0.05 < _weighted_share(adults, "cvd_history") < 0.15
    assert 0.05 < _weighted_share(adults, "cancer_history") < 0.15
    assert 0.05 < _weighted_share(adults, "diabetes_diagnosed") < 0.12


def test_medical_history_answered_in_every_cycle(result: BuildResult) -> None:
    f = result.frame
    for cycle in CYCLES:
        adults = f.filter((pl.col("cycle") == cycle) & (pl.col("age") >= 20))
        for variable in ("cvd_history", "cancer_history", "diabetes_diagnosed"):
            # measured: ≥ 99.2 % (cvd_history), ≥ 99.8 % (cancer), ≥ 99.9 % (diabetes)
            share = float(adults.select(pl.col(variable).is_not_null().mean()).item())
            assert share > 0.97, (cycle, variable, share)
    # MCQ160B-F and MCQ220 are asked from 20 on: children have no answer
    young = f.filter(pl.col("age") < 20)
    assert young["cvd_history"].null_count() == young["cancer_history"].null_count() == young.height
    # DIQ010 is asked from age 1 (measured: 99.9 % answered at 1-19 y, none under 1); a
    # diagnosed diabetic counts in the broader ``diabetes``
    children = f.filter(pl.col("age") < 20)
    assert children.filter(pl.col("age") >= 1)["diabetes_diagnosed"].is_not_null().mean() > 0.99  # type: ignore[operator]
    infants = children.filter(pl.col("age") < 1)
    assert infants["diabetes_diagnosed"].null_count() == infants.height > 0
    assert f.filter(pl.col("diabetes_diagnosed"))["diabetes"].all()


def test_cvd_history_agrees_with_the_raw_items(dd: Path, result: BuildResult) -> None:
    items = ["MCQ160B", "MCQ160C", "MCQ160D", "MCQ160E", "MCQ160F"]
    raw = read.load_table(dd, "MCQ", "2005-2006").select("SEQN", *items, "MCQ220")
    assert raw.select(pl.any_horizontal(pl.col(items).is_in([7.0, 9.0]))).to_series().any()
    built_ = result.frame.filter(pl.col("cycle") == "2005-2006").select(
        "seqn", "cvd_history", "cancer_history"
    )
    joined = raw.join(built_, left_on="SEQN", right_on="seqn", how="inner")
    assert joined.height == raw.height
    for row in joined.iter_rows(named=True):
        answers = [row[i] for i in items]
        expected = True if 1.0 in answers else False if all(a == 2.0 for a in answers) else None
        assert row["cvd_history"] is expected, row
        cancer = {1.0: True, 2.0: False}.get(row["MCQ220"])
        assert row["cancer_history"] is cancer, row
