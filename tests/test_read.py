from pathlib import Path

import polars as pl
import pytest

from nhanes_mg import read
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
