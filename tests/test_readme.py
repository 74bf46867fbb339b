"""The README's Python API section runs as written, on the real mirror, and prints what it
says: each ``python`` block executed in order in a folder laid out as the README assumes
(``data/raw`` a fetched data dir, ``../shared/nhanes`` the mirror, ``my.toml`` a
specification, ``examples/``), and the numbers its comments quote checked."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Python API") : README.index("## Writing a model specification")]
BLOCKS = re.findall(r"```python\n(.*?)```", SECTION, flags=re.S)

pytestmark = pytest.mark.mirror


def test_the_section_has_its_blocks() -> None:
    assert len(BLOCKS) == 4
    assert all("import" in block for block in BLOCKS)


def test_the_python_api_section_runs_as_written(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "work"
    shutil.copytree(
        nhanes_data_dir, work / "data" / "raw", copy_function=os.link,
        ignore=shutil.ignore_patterns(".results", "*.lock"),
    )  # fmt: skip
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "nhanes").symlink_to(mirror_dir)
    shutil.copyfile(ROOT / "src" / "nhanes_mg" / "specs" / "C7_vitd_supplement_by_mg.toml",
                    work / "my.toml")  # fmt: skip
    shutil.copytree(ROOT / "examples", work / "examples")
    monkeypatch.chdir(work)
    namespace: dict[str, object] = {}
    for block in BLOCKS:
        exec(compile(block, "README.md", "exec"), namespace)
    # the survey block's comment quotes R's numbers: ours print them
    quoted = re.search(r"# estimate ([\d.]+), std_error ([\d.]+), df (\d+), n (\d+)", BLOCKS[1])
    assert quoted is not None
    svymean, design = namespace["svymean"], namespace["design"]
    row = svymean("LBDVIDMS", design, na_rm=True).tidy().row(0, named=True)  # type: ignore[operator]
    assert f"{row['estimate']:.6f}" == quoted[1] and f"{row['std_error']:.6f}" == quoted[2]
    assert int(row["df"]) == int(quoted[3]) and row["n"] == int(quoted[4])
    result = namespace["result"]
    assert result.verdicts and result.table.height > 0  # type: ignore[attr-defined]
    assert namespace["res"].table.height > 0  # type: ignore[attr-defined]
    assert "waist_cm" in namespace["frame_plus"].columns  # type: ignore[attr-defined]
