"""Fault injection through the command line: every failure a user can cause ends in one line
naming the culprit, the documented exit code, no traceback, nothing half-written — and missing
data never turns into a verdict on fewer cycles without saying so.

Usage and path errors, and the commands on the real mirror, go through the console entry point
(``nhanes_mg.cli.main``, what ``nhanes-mg`` runs) in this process: the same code, without a
process start each. The signals, a closed output pipe, ``--version`` and one hostile
specification go through ``python -m nhanes_mg`` in a process of their own."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

import nhanes_mg
from fault_support import VICTIM_TEXT, forge_manifest
from nhanes_mg.jobs.outdir import MARKER

CLI = [sys.executable, "-m", "nhanes_mg"]
CliMain = Callable[..., tuple[int, str, str]]  # the ``cli_main`` fixture (tests/conftest.py)


# the package these tests import, for the processes they start (a relative PYTHONPATH would
# not survive the ``cli_main`` fixture's change of folder)
SOURCE = str(Path(nhanes_mg.__file__).resolve().parents[1])


def _env(**more: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (SOURCE, os.environ.get("PYTHONPATH")) if p)
    return {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": path, **more}


def _cli(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout,
        env=_env(COLUMNS="200"), check=False,
    )  # fmt: skip


def _data_dir_copy(nhanes_data_dir: Path, target: Path) -> Path:
    """The session's fetched data dir with its parquet cache, as hard links (files there are
    only ever replaced, never written in place), without stored results or a lock."""
    shutil.copytree(
        nhanes_data_dir, target, copy_function=os.link,
        ignore=shutil.ignore_patterns(".results", "*.lock"),
    )  # fmt: skip
    return target


def _one_error_line(stderr: str) -> str:
    """The stderr of a failed command: no traceback, and exactly one ``error:`` line."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def _leftovers(*folders: Path) -> list[Path]:
    """Temp and staging files that a clean exit must not leave behind."""
    found: list[Path] = []
    for folder in folders:
        if folder.exists():
            found += [p for p in folder.rglob("*") if p.name.endswith(".part")]
            found += [p for p in folder.rglob(".staging-*")]
    return found


def _snapshot(root: Path, *places: Path) -> dict[str, tuple[str, int, int]]:
    """Every file, folder and link under ``root`` but outside ``places`` (a command's own data
    dir and ``--out``), links never followed: kind, size and modification time."""
    own = [str(p) for p in places]
    found = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if any(path == o or path.startswith(o + os.sep) for o in own):
                continue
            info = os.lstat(path)
            kind = "link" if os.path.islink(path) else "dir" if name in dirs else "file"
            found[path] = (kind, info.st_size, info.st_mtime_ns if kind != "dir" else 0)
    return found


def _previous_run(out: Path) -> dict[str, str]:
    """``out`` as a previous run left it (its marker and report); what it holds."""
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text(json.dumps({"entries": ["report.md"]}))
    (out / "report.md").write_text("the previous run's report")
    return _contents(out)


def _contents(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): p.read_text()
        for p in folder.rglob("*")
        if p.is_file() and not p.is_symlink()
    }


@pytest.mark.parametrize(
    ("args", "code", "culprit"),
    [
        (["run", "--cycles", "1980-1990"], 1, "1980-1990"),
        (["specs", "--spec", "{tmp}"], 1, "is a folder, not a specification file"),
        (["specs", "--spec", "{tmp}/absent.toml"], 1, "absent.toml: specification file not found"),
        (["demo", "--n-per-cycle", "0"], 2, "--n-per-cycle"),
        (["run", "--only", "C9"], 1, "--only C9: no such specification"),
        (["run", "--out", "{tmp}/a_file", "--data-dir", "{tmp}/raw", "--mirror", "{tmp}"], 1,
         "--out {tmp}/a_file: is a file, not a folder"),
    ],
)  # fmt: skip
def test_usage_and_path_errors_are_one_line(
    cli_main: CliMain, tmp_path: Path, args: list[str], code: int, culprit: str
) -> None:
    (tmp_path / "a_file").write_text("not a folder")
    exit_code, _, stderr = cli_main(*(a.format(tmp=tmp_path) for a in args))
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    assert culprit.format(tmp=tmp_path) in stderr
    if code == 1:
        _one_error_line(stderr)
    assert not _leftovers(tmp_path)


def test_version() -> None:
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("nhanes-mg ")


@pytest.fixture()
def mirror_without_vid_d(mirror_dir: Path, tmp_path: Path) -> Path:
    """The real mirror (links, not copies) with VID_D (25(OH)D, 2005-2006) left out."""
    folder = tmp_path / "mirror"
    for path in mirror_dir.rglob("*"):
        if path.is_file() and path.name != "VID_D.xpt":
            target = folder / path.relative_to(mirror_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return folder


@pytest.mark.mirror
def test_a_missing_table_is_not_estimated_not_a_verdict_on_fewer_cycles(
    mirror_without_vid_d: Path, nhanes_data_dir: Path, tmp_path: Path, cli_main: CliMain
) -> None:
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
    (data_dir / "2005-2006" / "VID_D.xpt").unlink()
    out = tmp_path / "out"
    # C3's cycles only (2001-2006): the build has nothing else to do
    # the gallery is not what this tests: --no-validate
    args = ["run", "--only", "C3", "--cycles", "2001-2006", "--no-validate",
            "--mirror", str(mirror_without_vid_d), "--data-dir", str(data_dir),
            "--out", str(out)]  # fmt: skip
    code, _, stderr = cli_main(*args)
    assert code == 1, stderr
    line = _one_error_line(stderr)
    assert "C3" in line and "VID_D (2005-2006) missing" in line and "--allow-incomplete" in line
    verdicts = pl.read_csv(out / "tables" / "verdicts.csv")
    main = verdicts.filter(pl.col("main")).row(0, named=True)
    assert main["verdict"] == "not estimated" and "VID_D (2005-2006)" in main["why"]
    report = (out / "report.md").read_text()
    assert "2005-2006/VID_D.xpt" not in report  # the report lists only files it used
    assert "2005-2006/DEMO_D.xpt" in report
    assert not _leftovers(data_dir, out)

    # asked for, the claim is estimated on the other cycles, and the report says so
    code, _, stderr = cli_main(*args, "--allow-incomplete")
    assert code == 0, stderr
    report = (out / "report.md").read_text()
    assert "Incomplete data**: estimated without VID_D (2005-2006)" in report
    fits = pl.read_csv(out / "tables" / "C3_fits.csv")
    main_fit = fits.filter(
        (pl.col("analysis") == "deficiency_adjusted") & pl.col("sensitivity").is_null()
    ).row(0, named=True)
    assert main_fit["cycles"] == "2001-2002; 2003-2004"
    assert "VID_D missing (--allow-incomplete)" in main_fit["cycles_left_out"]


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("sig", "code", "word"),
    [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
)
def test_an_interrupted_run_exits_non_zero_and_leaves_the_previous_outputs(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path, sig: int, code: int, word: str
) -> None:
    # a data dir of its own: nothing stored by another test's run is reused, so the run is
    # still computing (in its worker processes) when the signal comes
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.html").write_text("the previous run's report")
    (out / MARKER).write_text(json.dumps({"entries": ["report.html"]}))  # a previous run's
    env = _env(NHANES_MG_WORKERS="2")  # the pool is what is interrupted
    # 2003-2006: five claims (two workers), a build of two cycles
    args = ["run", "--cycles", "2003-2006", "--mirror", str(mirror_dir),
            "--data-dir", str(data_dir), "--out", str(out)]  # fmt: skip
    # its own process group, as a terminal's Ctrl-C reaches every process of the job
    process = subprocess.Popen(
        [*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(out.glob(".staging-*/tables/*.csv")):
        time.sleep(0.1)  # interrupt once the analyses are writing
    assert process.poll() is None, "the run ended before it could be interrupted"
    os.killpg(process.pid, sig)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == code, stderr
    assert _one_error_line(stderr) == f"error: {word}"
    assert (out / "report.html").read_text() == "the previous run's report"
    assert not (out / "tables").exists()  # nothing of the interrupted run is in place
    assert not _leftovers(out, data_dir)


HOSTILE = """id = "{id}"
title = "t"
claim = "c"
citation = "x"
cycles = "2007-2010"
population = '''{population}'''
model = "descriptive"

[[analysis]]
name = "a"
statistic = "mean"
variable = "age"
"""


def _listing(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"id": "../../../ESCAPED"}, "field 'id': '../../../ESCAPED' is not an id"),
        ({"id": "verdicts"}, "field 'id': 'verdicts' is the name of an output"),
        ({"population": "(SELECT count(*) FROM read_csv('{secret}')) > 0"},
         "field 'population': a sub-query (SELECT …) is not allowed in an expression"),
        ({"population": "read_csv('{secret}') IS NULL"},
         "field 'population': the function read_csv() is not allowed in an expression"),
        ({"population": "read_parquet('https://example.org/x.parquet') IS NULL"},
         "field 'population': the function read_parquet() is not allowed"),
        ({"population": "age >= 20 /*! AND (SELECT nosuch FROM read_csv('{secret}')) > 0 */"},
         "field 'population': a comment (-- … or /* … */) is not allowed in an expression"),
        ({"population":
          "age >= 20 /*! AND (SELECT 1 FROM read_parquet('https://example.org/x.parquet')) > 0 */"},
         "field 'population': a comment (-- … or /* … */) is not allowed in an expression"),
        ({"population": " AND ".join(["age >= 20"] * 5000)},
         "field 'population': the expression is 69,995 characters long (at most 20,000)"),
        ({"population": " AND ".join(["age >= 20"] * 1000)},
         "field 'population': the expression has more than 2,000 parts"),
        ({"population": "(" * 300 + "age" + " + 1)" * 300 + " > 3"},
         "field 'population': the expression is nested too deeply"),
    ],
)  # fmt: skip
def test_a_hostile_specification_reads_and_writes_nothing(
    tmp_path: Path, fields: dict[str, str], said: str, cli_main: CliMain
) -> None:
    """Through the command line: refused in one line before any work, no file read (the
    secret's first line is never echoed), nothing written anywhere. The sub-query case runs
    the command in a process of its own; the others its entry point in this process (the
    same code, without a process start each)."""
    secret = tmp_path / "secret.csv"
    secret.write_text("TOP-SECRET-LINE\n1\n")
    values = {"id": "H1", "population": "age >= 20"} | {
        k: v.format(secret=secret) for k, v in fields.items()
    }
    spec = tmp_path / "cases" / "hostile.toml"
    spec.parent.mkdir()
    spec.write_text(HOSTILE.format(**values))
    before = _listing(tmp_path)
    for args in (["specs", "--spec", str(spec)],
                 ["run", "--spec", str(spec), "--data-dir", str(tmp_path / "raw"),
                  "--out", str(tmp_path / "cases" / "out")]):  # fmt: skip
        if fields.get("population", "").startswith("(SELECT"):  # the sub-query case only
            done = _cli(*args)
            code, stdout, stderr = done.returncode, done.stdout, done.stderr
        else:
            code, stdout, stderr = cli_main(*args)
        assert code == 1, stderr
        line = _one_error_line(stderr)
        assert said in line and "TOP-SECRET-LINE" not in stderr + stdout
    assert _listing(tmp_path) == before  # not even an output folder
    assert not (tmp_path / "ESCAPED.csv").exists() and not Path("/ESCAPED.csv").exists()


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("lock_link", "is a symbolic link, not the lock file; remove it"),
        ("claim_as_target", "field 'validation': is required"),
        ("nan_verdict", "field 'verdict.value': must be a finite number, not nan"),
        ("foreign_out", "holds files nhanes-mg did not write (chapter1.docx)"),
    ],
)
def test_a_data_dir_or_folder_someone_else_made_changes_nothing(
    cli_main: CliMain, tmp_path: Path, case: str, said: str
) -> None:
    """Through the command line, before any long work: a lock file that is a link to a file
    elsewhere (the file is kept, not emptied), a claim's specification given as a validation
    target, a non-finite threshold, an output folder holding someone else's work (kept)."""
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    data, out = tmp_path / "raw", tmp_path / "out"
    data.mkdir()
    spec = tmp_path / "h.toml"
    spec.write_text(HOSTILE.format(id="H1", population="age >= 20"))
    if case == "lock_link":
        (data / ".nhanes-mg.lock").symlink_to(precious)
        args = ["build", "--data-dir", str(data), "--out", str(out)]
    elif case == "claim_as_target":
        args = ["validate", "--spec", str(spec), "--data-dir", str(data), "--out", str(out)]
    elif case == "nan_verdict":
        spec.write_text(
            spec.read_text() + '[verdict]\nanalysis = "a"\nrule = "effect"\n'
            'direction = "above"\nvalue = nan\n'
        )
        args = ["specs", "--spec", str(spec)]
    else:
        out.mkdir()
        (out / "chapter1.docx").write_text("a thesis")
        args = ["validate", "--data-dir", str(data), "--out", str(out)]
    before = _listing(tmp_path)
    code, _, stderr = cli_main(*args)
    assert code == 1, stderr
    assert said in _one_error_line(stderr)
    assert _listing(tmp_path) == before  # nothing written, emptied or removed anywhere
    assert precious.read_text() == "keep me"
    assert not _leftovers(tmp_path)


@pytest.mark.parametrize("second", ["H1", "h1", "H1_fits"])
def test_two_specifications_that_would_share_files_are_refused(
    cli_main: CliMain, tmp_path: Path, second: str
) -> None:
    """Two `--spec` files with one id (or one id a prefix of the other's files): the second
    would overwrite the first's results and both rows would show its verdict."""
    first = tmp_path / "a.toml"
    first.write_text(HOSTILE.format(id="H1", population="age >= 20"))
    other = tmp_path / "b.toml"
    other.write_text(HOSTILE.format(id=second, population="age >= 40"))
    before = _listing(tmp_path)
    code, _, stderr = cli_main(
        "run", "--spec", str(first), "--spec", str(other),
        "--data-dir", str(tmp_path / "raw"), "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 1
    line = _one_error_line(stderr)
    assert f"would write over the files of {first} (id 'H1')" in line
    assert _listing(tmp_path) == before


@pytest.mark.slow  # two processes of its own
def test_a_closed_output_pipe_and_an_ascii_terminal(tmp_path: Path) -> None:
    """`nhanes-mg specs | head` whose reader is gone: one line, exit 141 (as SIGPIPE), not a
    silent exit 1; a terminal that cannot show "…" gets "?" instead of an error."""
    process = subprocess.Popen(
        [sys.executable, "-m", "nhanes_mg", "specs"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    err = process.stderr.read()
    assert process.wait() == 141
    assert err.strip() == "error: the output pipe was closed before all was written (broken pipe)"
    ascii_env = _env(PYTHONIOENCODING="ascii")
    done = subprocess.run([sys.executable, "-m", "nhanes_mg", "specs"], capture_output=True,
                          text=True, env=ascii_env, check=False)  # fmt: skip
    assert done.returncode == 0 and "C3" in done.stdout and "error" not in done.stderr


@pytest.mark.mirror
def test_usual_intake_without_a_supplement_table_stops_naming_it(
    nhanes_data_dir: Path, tmp_path: Path, cli_main: CliMain
) -> None:
    """The missing-table rule of `run` holds for `usual-intake` too: without DSQTOT_J its food +
    supplements rows would be dropped silently."""
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
    (data_dir / "2017-2018" / "DSQTOT_J.xpt").unlink()
    out = tmp_path / "out"
    code, _, stderr = cli_main("usual-intake", "--cycles", "2017-2018", "--brr", "0",
                               "--data-dir", str(data_dir), "--out", str(out))  # fmt: skip
    assert code == 1
    line = _one_error_line(stderr)
    assert line.startswith("error: DSQTOT_J (2017-2018) missing — needed for ca_supp, mg_supp")
    assert not (out / "tables").exists()


@pytest.mark.mirror
@pytest.mark.parametrize("command", ["build", "fetch", "run"])
def test_a_forged_manifest_sha256_never_names_a_cache_file_outside(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path, command: str, cli_main: CliMain
) -> None:
    """A2: a fetch manifest whose ``sha256`` is ``../../victim/important`` or an absolute path
    (sizes and times updated, so the entries look untouched) made the parquet cache write over
    files outside the data dir. Refused in one line naming the manifest and field; nothing
    outside the data dir and ``--out`` is written, the previous output is kept."""
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
    shutil.rmtree(data_dir / ".cache")
    victim = tmp_path / "victim"
    forge_manifest(data_dir, victim, tmp_path / "absolute")
    out = tmp_path / "out"
    previous = _previous_run(out)
    before = _snapshot(tmp_path, data_dir, out)
    args = {
        "build": ["build", "--cycles", "2017-2018", "--out", str(out)],
        "fetch": ["fetch", "--cycles", "2017-2018", "--tables", "DEMO,BMX",
                  "--mirror", str(mirror_dir)],
        "run": ["run", "--only", "C7", "--cycles", "2017-2018", "--no-validate",
                "--mirror", str(mirror_dir), "--out", str(out)],
    }[command]  # fmt: skip
    code, _, stderr = cli_main(*args, "--data-dir", str(data_dir))
    assert code == 1, stderr
    line = _one_error_line(stderr)
    manifest = data_dir / "fetch-manifest.json"
    assert f"{manifest}: field 'sha256' of 2017-2018/" in line and "is not a sha256" in line
    assert _snapshot(tmp_path, data_dir, out) == before
    assert (victim / "important.parquet").read_text() == VICTIM_TEXT
    assert not (tmp_path / "absolute.parquet").exists()
    assert _contents(out) == previous
    assert not (data_dir / ".cache").exists() or not any((data_dir / ".cache").iterdir())
    assert not _leftovers(data_dir, out)


@pytest.mark.parametrize("command", ["build", "run", "validate", "usual-intake"])
@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("paper", "holds files nhanes-mg did not write (figures, report.md); give an empty or "
                  "new folder"),
        ("thesis", "holds files nhanes-mg did not write (chapter1.docx, data); give an empty or "
                   "new folder"),
    ],
)  # fmt: skip
def test_an_output_folder_that_is_not_a_runs_is_refused_and_kept(
    cli_main: CliMain, tmp_path: Path, command: str, case: str, said: str
) -> None:
    """A3: a folder without the marker holding the user's own ``figures/`` and ``report.md``
    was emptied (exit 0). A4: a planted marker listing ``chapter1.docx`` and ``data`` had them
    deleted. Refused in one line before any work; nothing anywhere written or removed."""
    out = tmp_path / case
    if case == "paper":
        (out / "figures").mkdir(parents=True)
        (out / "figures" / "fig1.png").write_text("a figure")
        (out / "report.md").write_text("# draft")
    else:
        (out / "data").mkdir(parents=True)
        (out / "data" / "survey.csv").write_text("keep")
        (out / "chapter1.docx").write_text("a thesis")
        (out / MARKER).write_text(json.dumps({"entries": ["chapter1.docx", "data"]}))
    held = _contents(out)
    data = tmp_path / "raw"
    before = _snapshot(tmp_path, data)
    code, _, stderr = cli_main(command, "--data-dir", str(data), "--out", str(out))
    assert code == 1, stderr
    assert f"--out {out}: {said}" in _one_error_line(stderr)
    assert _snapshot(tmp_path, data) == before  # --out itself included: kept as it was
    assert _contents(out) == held


@pytest.mark.mirror
@pytest.mark.parametrize("folder", [".cache", "2017-2018", ".results"])
def test_a_linked_folder_of_the_data_dir_is_refused_never_written_through(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path, folder: str, cli_main: CliMain
) -> None:
    """A6: a data dir whose ``.cache`` or a cycle folder is a link to a folder elsewhere was
    written through (``build``, ``fetch``); the results store's folder likewise. Refused in
    one line naming it; nothing outside written, the previous output kept."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    if folder == "2017-2018":  # an empty data dir whose cycle folder is a link
        data_dir = tmp_path / "raw"
        data_dir.mkdir()
        args = ["fetch", "--cycles", "2017-2018", "--tables", "DEMO", "--mirror", str(mirror_dir)]
    else:
        data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
        shutil.rmtree(data_dir / ".cache")
        args = (["build", "--cycles", "2017-2018"] if folder == ".cache" else
                ["run", "--only", "C7", "--cycles", "2017-2018", "--no-validate",
                 "--mirror", str(mirror_dir)])  # fmt: skip
    (data_dir / folder).symlink_to(elsewhere)
    out = tmp_path / "out"
    previous = _previous_run(out)
    before = _snapshot(tmp_path, data_dir, out)
    more = ["--out", str(out)] if args[0] != "fetch" else []
    code, _, stderr = cli_main(*args, "--data-dir", str(data_dir), *more)
    assert code == 1, stderr
    line = _one_error_line(stderr)
    assert f"{data_dir / folder}: is a link, not a folder of its own" in line
    assert _snapshot(tmp_path, data_dir, out) == before
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]
    assert _contents(out) == previous
    assert not _leftovers(data_dir, out)


@pytest.mark.mirror
def test_a_store_entry_that_is_a_link_is_removed_and_recomputed(
    nhanes_data_dir: Path, mirror_dir: Path, tmp_path: Path, cli_main: CliMain
) -> None:
    """A10: a results-store entry that is a link made every run fail (``.part-…: Not a
    directory``); the link itself is removed, never its target, and the result recomputed.
    The command's entry point in this process, from the real mirror (the network is not what
    this tests: without ``--mirror`` the run would ask CDC for the files the mirror lacks)."""
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path / "raw")
    spec = tmp_path / "h.toml"
    spec.write_text(HOSTILE.format(id="H1", population="age >= 20"))
    out = tmp_path / "out"
    args = ["run", "--spec", str(spec), "--cycles", "2007-2010", "--no-validate", "--mirror",
            str(mirror_dir), "--data-dir", str(data_dir), "--out", str(out)]  # fmt: skip
    code, _, stderr = cli_main(*args)
    assert code == 0, stderr
    table = (out / "tables" / "H1.csv").read_text()
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    (entry,) = (data_dir / ".results").glob("spec-*")
    shutil.rmtree(entry)
    entry.symlink_to(victim)
    before = _snapshot(tmp_path, data_dir, out)
    code, stdout, stderr = cli_main(*args)
    assert code == 0, stderr
    assert "computed: H1" in stdout + stderr
    assert entry.is_dir() and not entry.is_symlink()  # stored anew, a folder of its own
    assert (out / "tables" / "H1.csv").read_text() == table
    assert _snapshot(tmp_path, data_dir, out) == before
    assert sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert not _leftovers(data_dir, out)
