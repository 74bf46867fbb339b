"""The output folder holds exactly one whole run: replaced as a whole, never mixed, never
touching what nhanes-mg did not write, and undone when the replacement fails."""

from __future__ import annotations

import os
import re
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


def test_a_nested_run_is_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    _run(out / "demo", {"report.md": "demo"})
    _run(out, {"report.md": "new"})
    _run(out, {"report.md": "newer"})
    assert _visible(out) == ["demo/report.md", "report.md"]  # the nested run left alone


@pytest.mark.parametrize(
    ("mine", "said"),
    [
        ({"figures/fig1.png": "a figure", "report.md": "# draft"}, "(figures, report.md)"),
        ({"tables/old.csv": "no marker: not known to be a run's"}, "(tables)"),
    ],
)
def test_a_folder_without_a_marker_is_refused_even_with_the_packages_names(
    tmp_path: Path, mine: dict[str, str], said: str
) -> None:
    """A3: the user's own ``figures/`` and ``report.md`` were emptied (exit 0)."""
    out = tmp_path / "paper"
    for rel, text in mine.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text(text)
    with pytest.raises(OutputError, match=re.escape(said) + ".*has no marker of a run"):
        outdir.check_output_folder(out)
    assert {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()} == mine


def test_a_marker_never_names_what_to_delete_beyond_the_packages_outputs(tmp_path: Path) -> None:
    """A4: a planted marker listing ``chapter1.docx`` and ``data`` had them deleted; and an
    entry the marker does not list is not the run's either."""
    out = tmp_path / "thesis"
    (out / "data").mkdir(parents=True)
    (out / "data" / "survey.csv").write_text("keep")
    (out / "chapter1.docx").write_text("thesis")
    (out / outdir.MARKER).write_text('{"entries": ["chapter1.docx", "data", "report.md"]}')
    with pytest.raises(OutputError, match=r"did not write \(chapter1.docx, data\); give an empty"):
        outdir.check_output_folder(out)
    stage = outdir.staging_folder(out)
    (stage / "report.md").write_text("new")
    outdir.commit(stage, out)  # even committed regardless, only the package's names move
    assert (out / "chapter1.docx").read_text() == "thesis"
    assert (out / "data" / "survey.csv").read_text() == "keep"
    listed = tmp_path / "listed"
    _run(listed, {"report.md": "1"})
    (listed / "tables").mkdir()  # put there by someone: the marker lists only report.md
    with pytest.raises(OutputError, match=r"did not write \(tables\)"):
        outdir.check_output_folder(listed)


def test_a_run_writes_only_the_packages_output_names(tmp_path: Path) -> None:
    out = tmp_path / "outputs"
    stage = outdir.staging_folder(out)
    (stage / "notes.txt").write_text("x")
    with pytest.raises(OutputError, match=r"'notes\.txt' is not one of nhanes-mg's outputs"):
        outdir.commit(stage, out)
    assert not (out / "notes.txt").exists()


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


def test_every_name_a_writer_puts_at_the_top_of_out_is_declared() -> None:
    """:data:`outdir.KNOWN` is the one list of what a run may replace: every writer's
    top-level name is in it (a name missing would make a commit refuse it)."""
    from nhanes_mg.derive.build import (
        ANALYTIC_NAME,
        DICTIONARY_NAME,
        METADATA_NAME,
        SEAM_FIGURE,
        SEAM_TABLE,
    )
    from nhanes_mg.jobs.validate import FIGURE, TABLE
    from nhanes_mg.report.document import REPORT_FILES

    names = [ANALYTIC_NAME, DICTIONARY_NAME, METADATA_NAME, SEAM_FIGURE, SEAM_TABLE,
             str(FIGURE), str(TABLE), *REPORT_FILES]  # fmt: skip
    assert {Path(n).parts[0] for n in names} <= outdir.KNOWN
