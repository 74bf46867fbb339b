import csv
import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data import catalog, fetch, read
from nhanes_mg.derive import fetched_components
from nhanes_mg.errors import InvalidFileError, MissingTableError

from nhanes_files import (
    MORT_2011_LINES,
    MORT_2015_LINES,
    MORT_2019_LINES,
    demo_columns,
    write_mortality,
    write_xpt,
)


def test_read_xpt_types(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns())
    frame = read.read_xpt(path)
    assert frame.schema["SEQN"] == pl.Int64
    assert frame.schema["WTMEC2YR"] == pl.Float64
    assert frame["SEQN"].to_list() == [31127, 31128, 31129, 31130, 31131]
    assert frame["RIAGENDR"].to_list() == [1.0, 2.0, 1.0, 2.0, 1.0]


def test_cache_is_keyed_by_content(tmp_path: Path) -> None:
    cache = tmp_path / ".cache"
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(3))
    first = read.read_xpt(path, cache_dir=cache)
    assert len(list(cache.glob("*.parquet"))) == 1
    again = read.read_xpt(path, cache_dir=cache)
    assert again.equals(first)
    write_xpt(path, demo_columns(4))  # new content, same name: parsed afresh
    assert read.read_xpt(path, cache_dir=cache).height == 4
    assert len(list(cache.glob("*.parquet"))) == 2


def test_damaged_cache_entry_is_remade(tmp_path: Path) -> None:
    cache = tmp_path / ".cache"
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(3))
    read.read_xpt(path, cache_dir=cache)
    (entry,) = cache.glob("*.parquet")
    entry.write_bytes(b"garbage")
    assert read.read_xpt(path, cache_dir=cache).height == 3


def test_html_is_named(tmp_path: Path) -> None:
    path = tmp_path / "DEMO_D.xpt"
    path.write_text("<!DOCTYPE html><html><body>Page not found</body></html>")
    with pytest.raises(InvalidFileError, match=r"DEMO_D\.xpt: is an HTML page"):
        read.read_xpt(path)


def test_truncated_xpt_is_named(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(50))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 37])
    with pytest.raises(InvalidFileError, match="truncated"):
        read.read_xpt(path)


def test_truncated_on_record_boundary_is_caught_by_the_parser(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(50))
    path.write_bytes(path.read_bytes()[:800])  # header records only, cut mid-descriptor
    with pytest.raises(InvalidFileError, match=r"DEMO_D\.xpt"):
        read.read_xpt(path)


def test_not_xpt(tmp_path: Path) -> None:
    path = tmp_path / "X.xpt"
    path.write_bytes(b"PK\x03\x04" + b"\0" * 156)
    with pytest.raises(InvalidFileError, match="SAS transport"):
        read.read_xpt(path)
    empty = tmp_path / "E.xpt"
    empty.write_bytes(b"")
    with pytest.raises(InvalidFileError, match="empty"):
        read.read_xpt(empty)


@pytest.mark.parametrize("lines", [MORT_2015_LINES, MORT_2019_LINES, MORT_2011_LINES])
def test_mortality_layouts(tmp_path: Path, lines: list[str]) -> None:
    frame = read.read_mortality(write_mortality(tmp_path / "m.dat", lines))
    assert frame.columns == list(read.MORTALITY_COLUMNS)
    assert frame.height == len(lines)
    assert frame.schema["SEQN"] == pl.Int64
    assert frame.schema["UCOD_LEADING"] == pl.String


def test_mortality_values(tmp_path: Path) -> None:
    frame = read.read_mortality(write_mortality(tmp_path / "m.dat", MORT_2015_LINES))
    ineligible, alive, dead = frame.iter_rows(named=True)
    assert ineligible["ELIGSTAT"] == 2 and ineligible["MORTSTAT"] is None
    assert ineligible["PERMTH_EXM"] is None
    assert alive["MORTSTAT"] == 0 and alive["PERMTH_INT"] == 150
    assert dead["UCOD_LEADING"] == "007" and dead["DIABETES"] == 1 and dead["HYPERTEN"] == 0
    assert (dead["PERMTH_INT"], dead["PERMTH_EXM"]) == (58, 57)
    old = read.read_mortality(write_mortality(tmp_path / "o.dat", MORT_2011_LINES))
    row = old.row(0, named=True)
    assert row["UCOD_LEADING"] == "001"
    assert (row["PERMTH_INT"], row["PERMTH_EXM"]) == (96, 95)


def test_mortality_bad_width_and_html(tmp_path: Path) -> None:
    wide = write_mortality(tmp_path / "w.dat", [MORT_2015_LINES[0] + "   extra"])
    with pytest.raises(InvalidFileError, match=r"w\.dat: lines are 56 characters wide"):
        read.read_mortality(wide)
    html = tmp_path / "h.dat"
    html.write_text("<html><head><title>404</title></head></html>")
    with pytest.raises(InvalidFileError, match="HTML"):
        read.read_mortality(html)
    short = write_mortality(tmp_path / "s.dat", [*MORT_2015_LINES, "31130    1"])
    with pytest.raises(InvalidFileError, match="line 4"):
        read.read_mortality(short)


def test_load_table_missing_names_table(tmp_path: Path) -> None:
    with pytest.raises(MissingTableError, match=r"DR1TOT_D \(2005-2006\).*nhanes-mg fetch"):
        read.load_table(tmp_path, "DR1TOT", "2005-2006")


# ------------------------------------------------------------------------- expected row counts


def _cut_on_a_record(path: Path, share: float = 0.5) -> int:
    """Cut a file on an 80-byte record boundary (it then passes every header check)."""
    data = path.read_bytes()
    keep = int(len(data) * share) // 80 * 80
    path.write_bytes(data[:keep])
    return keep


@pytest.mark.mirror
def test_table_cut_on_a_record_boundary_is_refused(mirror_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "2005-2006").mkdir(parents=True)
    target = data / "2005-2006" / "DEMO_D.xpt"
    shutil.copyfile(mirror_dir / "2005-2006" / "DEMO_D.xpt", target)
    assert read.load_table(data, "DEMO", "2005-2006").height == 10348  # the whole file passes

    _cut_on_a_record(target)
    read.validate_xpt(target)  # header, HTML and record checks all pass
    with pytest.raises(InvalidFileError) as info:
        read.load_table(data, "DEMO", "2005-2006")
    message = str(info.value)
    assert "\n" not in message
    # cut mid-row, so the reader names it before the row count would (5,164 of 10,348)
    assert message.startswith(f"{target}: its last row is cut short")
    assert "delete it and run `nhanes-mg fetch` again" in message
    cached = list((data / read.CACHE_DIR).glob("*.parquet"))
    assert len(cached) == 1  # the whole file's entry only: a short table is never cached


def test_row_count_is_checked_on_cached_tables_too(tmp_path: Path) -> None:
    cache = tmp_path / ".cache"
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(5))
    read.read_xpt(path, cache_dir=cache)  # cached without a check
    assert read.read_xpt(path, cache_dir=cache, expected_rows=5).height == 5
    with pytest.raises(InvalidFileError, match=r"DEMO_D\.xpt: has 5 rows where .* is 6"):
        read.read_xpt(path, cache_dir=cache, expected_rows=6)
    with pytest.raises(InvalidFileError, match="has 5 rows"):
        read.read_xpt(path, expected_rows=6)


def test_own_tables_are_not_counted(tmp_path: Path) -> None:
    write_xpt(tmp_path / "mine" / "MYTABLE.xpt", demo_columns(3))
    assert catalog.expected_rows("mine/MYTABLE.xpt") is None
    assert read.load_file(tmp_path, "mine/MYTABLE.xpt").height == 3


def test_synthetic_tables_have_their_mirrors_counts(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    write_xpt(mirror / "2005-2006" / "DEMO_D.xpt", demo_columns(6))
    digest = read.sha256_file(mirror / "2005-2006" / "DEMO_D.xpt")[:16]
    (mirror / "MANIFEST.tsv").write_text(
        "file\trows\tcolumns\tsha256_16\tkind\tsource\n"
        f"2005-2006/DEMO_D.xpt\t6\t6\t{digest}\tsynthetic\tnhanes_mg.derive.demo (seed 1)\n"
    )
    data = tmp_path / "data"
    fetch.fetch("2005-2006", ["DEMO"], data_dir=data, mirror=mirror, mortality=False)
    entry = fetch.read_manifest(data)["2005-2006/DEMO_D.xpt"]
    assert entry["synthetic"] is True and entry["rows"] == 6
    assert read.load_table(data, "DEMO", "2005-2006").height == 6

    # the same file fetched from a mirror that does not say it is synthetic: CDC's count holds
    (mirror / "MANIFEST.tsv").unlink()
    plain = tmp_path / "plain"
    fetch.fetch("2005-2006", ["DEMO"], data_dir=plain, mirror=mirror, mortality=False)
    with pytest.raises(InvalidFileError, match="has 6 rows where CDC's published count is 10,348"):
        read.load_table(plain, "DEMO", "2005-2006")


def test_every_planned_table_of_2001_2018_has_a_count() -> None:
    plan = fetch.plan_files(catalog.parse_cycles(None), fetched_components(), mortality=False)
    assert [w.relpath for w in plan if catalog.expected_rows(w.relpath) is None] == []
    assert catalog.expected_rows("1999-2000/DSII.xpt") == 169377


@pytest.mark.mirror
def test_counts_agree_with_the_mirror_manifest(mirror_dir: Path) -> None:
    with open(mirror_dir / "MANIFEST.tsv", newline="") as fh:
        listed = {
            row["file"]: int(row["rows"])
            for row in csv.DictReader(fh, delimiter="\t")
            if row["file"].endswith(".xpt")
        }
    assert {rel: catalog.expected_rows(rel) for rel in listed} == listed
    assert len(listed) == 153


# ------------------------------------------------------------------------- cache entries


def _stamp(parquet: Path) -> dict[str, object]:
    stamp: dict[str, object] = json.loads(pl.read_parquet_metadata(parquet)[read.CACHE_KEY])
    return stamp


def test_cache_entry_is_stamped_with_its_source(tmp_path: Path) -> None:
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(3))
    read.read_xpt(path, cache_dir=tmp_path / ".cache")
    (entry,) = (tmp_path / ".cache").glob("*.parquet")
    assert _stamp(entry) == {"sha256": read.sha256_file(path), "table": "DEMO_D", "rows": 3}


def test_unstamped_cache_entry_is_remade(tmp_path: Path) -> None:
    cache = tmp_path / ".cache"
    path = write_xpt(tmp_path / "DEMO_D.xpt", demo_columns(3))
    read.read_xpt(path, cache_dir=cache)
    (entry,) = cache.glob("*.parquet")
    pl.DataFrame({"SEQN": [1, 2, 3]}).write_parquet(entry)  # as an older version wrote it, wrong
    assert read.read_xpt(path, cache_dir=cache).columns == list(demo_columns())
    assert _stamp(entry)["sha256"] == read.sha256_file(path)


@pytest.mark.mirror
def test_swapped_cache_entry_is_rebuilt(mirror_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "2007-2008").mkdir(parents=True)
    for name in ("DEMO_E.xpt", "VID_E.xpt"):
        shutil.copyfile(mirror_dir / "2007-2008" / name, data / "2007-2008" / name)
    read.load_table(data, "DEMO", "2007-2008")
    read.load_table(data, "VID", "2007-2008")
    cache = data / read.CACHE_DIR
    demo_digest = read.sha256_file(data / "2007-2008" / "DEMO_E.xpt")
    demo_entry = cache / f"{demo_digest[:32]}.parquet"
    vid_entry = next(p for p in cache.glob("*.parquet") if p != demo_entry)
    shutil.copyfile(vid_entry, demo_entry)  # DEMO_E's entry now holds VID_E: no design at all

    demo = read.load_table(data, "DEMO", "2007-2008")
    direct = read.read_xpt(data / "2007-2008" / "DEMO_E.xpt")
    assert demo.equals(direct)
    assert {"SDMVSTRA", "SDMVPSU", "WTMEC2YR"} <= set(demo.columns)
    stamp = _stamp(demo_entry)
    assert stamp == {"sha256": demo_digest, "table": "DEMO_E", "rows": direct.height}
    assert pl.read_parquet(demo_entry).equals(direct)  # rebuilt in place, atomically
    assert not [p for p in cache.iterdir() if p.name.endswith(".part")]


@pytest.mark.mirror
def test_a_mortality_file_cut_on_a_line_or_with_a_person_twice_is_refused(
    mirror_dir: Path, tmp_path: Path
) -> None:
    """One record per DEMO participant: a file cut on a line boundary would otherwise be
    read as part of the cohort, and a repeated SEQN would double a person."""
    name = "NHANES_2005_2006_MORT_2015_PUBLIC.dat"
    folder = tmp_path / "data" / catalog.MORTALITY_DIR
    folder.mkdir(parents=True)
    whole = (mirror_dir / catalog.MORTALITY_DIR / name).read_bytes()
    (folder / name).write_bytes(whole)
    loaded = read.load_mortality(tmp_path / "data", "2005-2006")
    assert loaded is not None and loaded[0].height == 10348  # the whole file passes
    lines = whole.splitlines(keepends=True)
    (folder / name).write_bytes(b"".join(lines[:5000]))
    with pytest.raises(InvalidFileError, match=r"5,000 records, but 2005-2006 has 10,348"):
        read.load_mortality(tmp_path / "data", "2005-2006")
    (folder / name).write_bytes(b"".join([*lines, lines[7]]))
    with pytest.raises(InvalidFileError, match=r"appears more than once"):
        read.load_mortality(tmp_path / "data", "2005-2006")


def test_a_link_in_the_data_dir_is_refused_never_followed(tmp_path: Path) -> None:
    """A data dir someone else filled: DEMO_D.xpt is a link to a file elsewhere."""
    elsewhere = tmp_path / "elsewhere.xpt"
    elsewhere.write_bytes(b"not ours")
    data = tmp_path / "data"
    (data / "2005-2006").mkdir(parents=True)
    (data / "2005-2006" / "DEMO_D.xpt").symlink_to(elsewhere)
    with pytest.raises(InvalidFileError, match=r"DEMO_D\.xpt: is a link, not a file of the data"):
        read.load_table(data, "DEMO", "2005-2006")
    (data / catalog.MORTALITY_DIR).mkdir()
    (data / catalog.MORTALITY_DIR / "NHANES_2005_2006_MORT_2019_PUBLIC.dat").symlink_to(elsewhere)
    with pytest.raises(InvalidFileError, match="is a link"):
        read.load_mortality(data, "2005-2006")
