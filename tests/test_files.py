"""Output files: written whole or not at all, named in errors, never outside their folder."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

from nhanes_mg.errors import OutputError
from nhanes_mg.files import atomic_write, inside


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
