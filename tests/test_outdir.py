"""The output folder holds exactly one whole run: replaced as a whole, never mixed, never
touching what nhanes-mg did not write, and undone when the replacement fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from nhanes_mg.errors import OutputError
from nhanes_mg.jobs import outdir


def _run(out: Path, files: dict[str, str]) -> int:
    outdir.check_output_folder(out)
    stage = outdir.staging_folder(out)
    for rel, text in files.items():
        (stage / rel).parent.mkdir(parents=True, exist_ok=True)
        (stage / rel).write_text(text)
    return outdir.commit(stage, out)


def _visible(out: Path) -> list[str]:
    return sorted(
        str(p.relative_to(out))
        for p in out.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(out).parts)
    )


def test_a_second_run_replaces_the_first_as_a_whole(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    _run(out, {"report.md": "1", "tables/C3.csv": "c3", "figures/C3.png": "p"})
    assert _run(out, {"report.md": "2", "tables/C7.csv": "c7"}) == 2
    assert _visible(out) == ["report.md", "tables/C7.csv"]  # no C3 beside a report without it
    assert (out / "report.md").read_text() == "2"
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == [outdir.MARKER]


def test_a_folder_with_files_of_someone_else_is_refused_and_kept(tmp_path: Path) -> None:
    out = tmp_path / "thesis"
    out.mkdir()
    (out / "chapter1.docx").write_text("mine")
    with pytest.raises(OutputError, match=r"holds files nhanes-mg did not write \(chapter1"):
        outdir.check_output_folder(out)
    assert (out / "chapter1.docx").read_text() == "mine"


def test_outputs_of_an_earlier_version_and_a_nested_run_are_recognised(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    (out / "tables").mkdir(parents=True)
    (out / "tables" / "old.csv").write_text("old")
    (out / "report.html").write_text("old")  # no marker: an earlier version's output
    _run(out / "demo", {"report.md": "demo"})
    _run(out, {"report.md": "new"})
    assert _visible(out) == ["demo/report.md", "report.md"]  # the nested run left alone


def test_a_failed_replacement_leaves_the_previous_run_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "outputs"
    _run(out, {"report.md": "1", "tables/C3.csv": "c3"})
    stage = outdir.staging_folder(out)
    (stage / "report.md").write_text("2")
    (stage / "tables").mkdir()
    (stage / "tables" / "C7.csv").write_text("c7")
    real = os.replace
    calls = []

    def flaky(a: object, b: object) -> None:
        calls.append(a)
        if len(calls) == 4:  # after the old entries went aside and one new one came in
            raise OSError(28, "No space left on device")
        real(a, b)  # type: ignore[arg-type]

    monkeypatch.setattr(outdir.os, "replace", flaky)
    with pytest.raises(OSError):
        outdir.commit(stage, out)
    monkeypatch.undo()
    assert _visible(out) == ["report.md", "tables/C3.csv"]
    assert (out / "report.md").read_text() == "1"


def test_a_killed_runs_staging_folder_is_removed_by_the_next(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    out.mkdir()
    dead = out / ".staging-999999999-abc"  # no such process
    dead.mkdir()
    mine = outdir.staging_folder(out)  # this process: alive
    outdir.check_output_folder(out)
    assert not dead.exists() and mine.exists()


def test_an_output_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="is a link; give the folder itself"):
        outdir.check_output_folder(tmp_path / "out")
    assert list(elsewhere.iterdir()) == []
