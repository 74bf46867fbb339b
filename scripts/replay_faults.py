"""Replay the failures a hostile user can cause, through the real command line, on the mirror.

Prints a markdown table: case → exit code (✓ when it is the expected one, ✗ with the expected
one otherwise) → the error line (or what happened), how many temporary or staging files were
left behind and how many files, folders or links appeared, changed or vanished outside the
case's own data dir and ``--out`` (the whole temporary folder of the replay is compared before
and after each case, links never followed; each command runs from a folder inside it, so its
default ``data/raw`` and ``outputs`` are watched too). Each case works in its own folder; paths
in messages are shown relative to the replay's temporary folder (``…/``). Exits 1 when any
case ended otherwise than expected or changed something outside.

    .venv/bin/python scripts/replay_faults.py --mirror /path/to/unpacked/nhanes-mirror \\
        --data-dir data/raw          # a data dir already fetched from that mirror (copied)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from fault_support import VICTIM_TEXT, forge_manifest  # the same hostile inputs as the tests

CLI = [sys.executable, "-m", "nhanes_mg"]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200"}
MARKER = ".nhanes-mg-output"  # an output folder's mark of a run (nhanes_mg.jobs.outdir)
Done = subprocess.CompletedProcess[str]


def leftovers(*folders: Path) -> int:
    return sum(
        1
        for folder in folders
        if folder.is_dir()
        for p in folder.rglob("*")
        if p.name.endswith(".part") or p.name.startswith(".staging-")
    )


def said(done: Done) -> str:
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    if "Traceback" in done.stderr:
        return "TRACEBACK"
    return lines[-1] if lines else "(no error line)"


def mirror_without(mirror: Path, folder: Path, *names: str) -> Path:
    for path in mirror.rglob("*"):
        if path.is_file() and path.name not in names:
            target = folder / path.relative_to(mirror)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(path)
    return folder


Listing = dict[str, tuple[str, int, int]]


def listing(root: Path, *own: Path) -> Listing:
    """Every file, folder and link under ``root`` outside ``own``, links never followed: kind,
    size and modification time (folders by kind only: their times change with any entry)."""
    mine = [str(p) for p in own]
    found: Listing = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(folder, name)
            if any(path == m or path.startswith(m + os.sep) for m in mine):
                continue
            try:
                info = os.lstat(path)
            except FileNotFoundError:
                continue
            kind = "link" if os.path.islink(path) else "dir" if name in dirs else "file"
            found[path] = (kind, info.st_size, info.st_mtime_ns) if kind != "dir" else (kind, 0, 0)
    return found


def changed(before: Listing, after: Listing, *own: Path) -> int:
    """Entries that appeared, changed or vanished (a new folder that only leads to one of the
    case's ``own`` places, made to hold it, is not counted)."""
    leading = {str(parent) for path in own for parent in path.parents}
    return sum(
        1
        for name in before.keys() | after.keys()
        if before.get(name) != after.get(name)
        and not (name not in before and after[name][0] == "dir" and name in leading)
    )


@dataclass
class Row:
    case: str
    expected: int
    code: int
    text: str
    left: int
    outside: int

    @property
    def ok(self) -> bool:
        return self.code == self.expected and self.outside == 0


class Replay:
    """Runs each case with the temporary folder watched around it."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.rows: list[Row] = []

    def case(
        self,
        case: str,
        expected: int,
        args: Sequence[str],
        own: Sequence[Path] = (),
        *,
        text: Callable[[Done], str] | None = None,
        cwd: Path | None = None,
        start: Callable[[list[str], Path], Done] | None = None,
    ) -> Done:
        """Run ``nhanes-mg ARGS`` (or ``start(args, cwd)``) from ``cwd`` and record its row;
        ``own`` are the case's data dir and ``--out``, the only places it may change."""
        folder = cwd or self.tmp / "cwd"
        folder.mkdir(parents=True, exist_ok=True)
        before = listing(self.tmp, *own)
        if start is not None:
            done = start(list(args), folder)
        else:
            done = subprocess.run(
                [*CLI, *args],
                capture_output=True,
                text=True,
                env=ENV,
                timeout=900,
                check=False,
                cwd=folder,
            )
        outside = changed(before, listing(self.tmp, *own), *own)
        message = text(done) if text is not None else said(done)
        self.rows.append(Row(case, expected, done.returncode, message, leftovers(*own), outside))
        return done

    def note(self, text: str) -> None:
        """What the last case did, in place of its error line."""
        self.rows[-1].text = text

    def table(self) -> str:
        lines = [
            "| case | exit | message | temp files left | files changed outside |",
            "| --- | --- | --- | --- | --- |",
        ]
        for r in self.rows:
            mark = "✓" if r.code == r.expected else f"✗ (expected {r.expected})"
            text = r.text.replace(str(self.tmp) + "/", "…/").replace("|", "/")
            lines.append(f"| {r.case} | {r.code} {mark} | {text} | {r.left} | {r.outside} |")
        return "\n".join(lines)


def _started(args: list[str], cwd: Path, **how: Any) -> subprocess.Popen[str]:
    """The command line started in ``cwd`` (its error stream read back as text)."""
    return subprocess.Popen(
        [*CLI, *args], stderr=subprocess.PIPE, text=True, env=ENV, cwd=cwd, **how
    )


def interrupted(sig: int, watch: Path) -> Callable[[list[str], Path], Done]:
    """Start in its own process group and signal the group once outputs are being staged."""

    def start(args: list[str], cwd: Path) -> Done:
        process = _started(args, cwd, stdout=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not any(watch.glob(".staging-*/tables/*.csv")):
            time.sleep(0.1)
        os.killpg(process.pid, sig)
        out, err = process.communicate(timeout=300)
        return subprocess.CompletedProcess(process.args, process.returncode, out, err)

    return start


def terminated_after(delay: float, took: list[float]) -> Callable[[list[str], Path], Done]:
    """Start, send SIGTERM ``delay`` seconds later; how long the process took to end."""

    def start(args: list[str], cwd: Path) -> Done:
        process = _started(args, cwd, stdout=subprocess.DEVNULL)
        time.sleep(delay)
        begun = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=300)
        took.append(time.monotonic() - begun)
        return subprocess.CompletedProcess(process.args, process.returncode, "", err)

    return start


def previous_run(out: Path, name: str = "report.html") -> None:
    """``out`` as a previous run left it: its marker and one file reading ``previous``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / name).write_text("previous")
    (out / MARKER).write_text(json.dumps({"entries": [name]}))


SPEC = """id = "{id}"
title = "t"
claim = "c"
citation = "x"
cycles = "2007-2010"
population = '''{population}'''
model = "logistic"

[[analysis]]
name = "a"
outcome = "{outcome}"
exposure = "mg_total"
exposure_label = "total Mg intake"
exposure_type = "quantiles"

[verdict]
analysis = "a"
term = "Q4"
rule = "effect"
direction = "below"
{extra}
"""


DESCRIPTIVE = """id = "H1"
title = "t"
claim = "c"
citation = "x"
cycles = "2017-2018"
population = "age >= 20"
model = "descriptive"

[[analysis]]
name = "a"
statistic = "mean"
variable = "age"
"""


def common(replay: Replay, mirror: Path, source: Path) -> None:
    """Missing, damaged and interrupted data, paths, usage and the network."""
    tmp = replay.tmp

    def data_dir(name: str) -> Path:
        target = tmp / name / "raw"
        shutil.copytree(
            source, target, ignore=shutil.ignore_patterns(".cache", ".results", "*.lock")
        )
        return target

    # VID_D missing from the mirror and the data dir
    raw = data_dir("vid")
    (raw / "2005-2006" / "VID_D.xpt").unlink()
    no_vid = mirror_without(mirror, tmp / "vid" / "mirror", "VID_D.xpt")
    out = tmp / "vid" / "out"
    args = [
        "run",
        "--only",
        "C3",
        "--mirror",
        str(no_vid),
        "--data-dir",
        str(raw),
        "--out",
        str(out),
    ]
    replay.case("VID_D removed; `run --only C3`", 1, args, [raw, out])

    def incomplete(done: Done) -> str:
        lines = [ln for ln in done.stderr.splitlines() if "allow-incomplete" in ln]
        return lines[0] if lines else said(done)

    replay.case(
        "… with `--allow-incomplete`", 0, [*args, "--allow-incomplete"], [raw, out], text=incomplete
    )

    # DEMO_D cut on an 80-byte record boundary; build reads it (no fetch to repair it)
    raw = data_dir("cut")
    demo = raw / "2005-2006" / "DEMO_D.xpt"
    data = demo.read_bytes()
    demo.write_bytes(data[: (len(data) // 2) // 80 * 80])
    out = tmp / "cut" / "out"
    replay.case(
        "DEMO_D cut on a record boundary; `build`",
        1,
        ["build", "--data-dir", str(raw), "--out", str(out)],
        [raw, out],
    )

    # a cache entry swapped for another table's: rebuilt, never used
    raw = data_dir("cache")
    a, b = tmp / "cache" / "a", tmp / "cache" / "b"
    first = subprocess.run(
        [*CLI, "build", "--data-dir", str(raw), "--out", str(a)],
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )
    entries = sorted((raw / ".cache").glob("*.parquet"))
    if first.returncode == 0 and len(entries) > 1:
        shutil.copyfile(entries[0], entries[1])

        def same(done: Done) -> str:
            equal = (a / "analytic.parquet").read_bytes() == (b / "analytic.parquet").read_bytes()
            return f"analytic.parquet byte-identical to the first build: {equal}"

        replay.case(
            "a cache entry swapped for another; `build`",
            0,
            ["build", "--data-dir", str(raw), "--out", str(b)],
            [raw, b],
            text=same,
        )

    # interrupts during a full run: the previous output stays whole
    for sig, name, code in ((signal.SIGINT, "Ctrl-C", 130), (signal.SIGTERM, "SIGTERM", 143)):
        raw = data_dir(name)
        out = tmp / name / "out"
        previous_run(out)

        done = replay.case(
            f"{name} during `run`",
            code,
            ["run", "--mirror", str(mirror), "--data-dir", str(raw), "--out", str(out)],
            [raw, out],
            start=interrupted(sig, out),
        )
        whole = (out / "report.html").read_text() == "previous"
        replay.note(f"{said(done)}; previous report kept: {whole}")

    # SIGTERM at several moments of a cold run (fetch, build, models, report): how soon the
    # process ends, since a long native call (polars, LAPACK) holds off Python handlers
    for delay in (2.0, 5.0, 10.0, 20.0):
        raw = tmp / f"term-{delay:.0f}" / "raw"
        out = tmp / f"term-{delay:.0f}" / "out"
        took: list[float] = []
        replay.case(
            f"SIGTERM {delay:.0f} s into a cold `run`",
            143,
            ["run", "--mirror", str(mirror), "--data-dir", str(raw), "--out", str(out)],
            [raw, out],
            start=terminated_after(delay, took),
        )
        replay.note(f"{replay.rows[-1].text}; ended {took[0]:.2f} s after the signal")

    # paths, specs, usage
    file = tmp / "paths" / "a_file"
    raw = data_dir("paths")
    file.write_text("x")
    for case, code, args in (
        ("`--out` is a file", 1, ["run", "--out", str(file), "--data-dir", str(raw)]),
        ("`--data-dir` is a file", 1, ["fetch", "--data-dir", str(file)]),
        ("`specs --spec` a folder", 1, ["specs", "--spec", str(tmp / "paths")]),
        ("`demo --n-per-cycle 0`", 2, ["demo", "--n-per-cycle", "0"]),
        ("`--cycles 1980-1990`", 1, ["run", "--cycles", "1980-1990"]),
        ("`--version`", 0, ["--version"]),
    ):

        def shown(done: Done) -> str:
            if done.returncode == 2:
                return done.stderr.strip().splitlines()[-1]
            return said(done) if done.returncode else done.stdout.strip()

        replay.case(case, code, args, [raw], text=shown, cwd=tmp / "paths" / "cwd")

    # a truncated .tar.xz mirror
    archive_dir = tmp / "archive"
    archive_dir.mkdir()
    archive = archive_dir / "nhanes-mirror.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for rel in ("2005-2006/DEMO_D.xpt", "2005-2006/DR1TOT_D.xpt"):
            tar.add(mirror / rel, arcname=f"nhanes-mirror/{rel}")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size * 3 // 4])
    raw = tmp / "archive" / "raw"
    replay.case(
        "truncated `.tar.xz` mirror; `fetch`",
        1,
        [
            "fetch",
            "--cycles",
            "2005-2006",
            "--tables",
            "DEMO,DR1TOT",
            "--mirror",
            str(archive_dir),
            "--data-dir",
            str(raw),
        ],
        [raw],
    )

    # no network, no mirror, empty data dir
    raw = tmp / "net" / "raw"
    replay.case(
        "no network, no mirror; `fetch`",
        1,
        ["fetch", "--cycles", "2005-2006", "--tables", "DEMO", "--data-dir", str(raw)],
        [raw],
    )

    # a complete data dir needs neither the network nor --mirror
    raw = data_dir("offline")
    subprocess.run(
        [*CLI, "fetch", "--mirror", str(mirror), "--data-dir", str(raw)],
        capture_output=True,
        env=ENV,
        check=False,
    )
    out = tmp / "offline" / "out"
    replay.case(
        "complete data dir, no network, no `--mirror`; `run --only C1`",
        0,
        ["run", "--only", "C1", "--data-dir", str(raw), "--out", str(out)],
        [raw, out],
        text=lambda done: (
            said(done) if done.returncode else f"report written: {(out / 'report.html').exists()}"
        ),
    )


def hostile(replay: Replay, mirror: Path, source: Path) -> None:
    """The hostile-user cases of issue 20: specifications, data dirs, results stores and
    output folders someone else made."""
    root = replay.tmp / "hostile"
    root.mkdir(parents=True)

    def case_dir(name: str) -> tuple[Path, Path]:
        folder = root / name
        raw = folder / "raw"
        shutil.copytree(source, raw, ignore=shutil.ignore_patterns(".results", "*.lock"))
        return raw, folder / "out"

    def spec(folder: Path, name: str, **fields: str) -> Path:
        values = {
            "id": "H1",
            "population": "age >= 20",
            "outcome": "vitd_25oh_nmol < 30",
            "extra": "",
        } | fields
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SPEC.format(**values))
        return path

    def run(raw: Path, out: Path, *more: str) -> list[str]:
        return ["run", *more, "--data-dir", str(raw), "--out", str(out), "--no-validate"]

    def quiet(*args: str) -> Done:
        return subprocess.run([*CLI, *args], capture_output=True, text=True, env=ENV, check=False)

    precious = root / "precious.txt"
    precious.write_text("keep me")

    raw, out = case_dir("lock")
    (raw / ".nhanes-mg.lock").unlink(missing_ok=True)
    (raw / ".nhanes-mg.lock").symlink_to(precious)
    replay.case(
        "the lock file is a link to another file; `build`",
        1,
        ["build", "--data-dir", str(raw), "--out", str(out)],
        [raw, out],
        text=lambda done: f"{said(done)}; target kept: {precious.read_text() == 'keep me'}",
    )

    raw, out = case_dir("ids")
    for sid in ("../../../ESCAPED", "verdicts"):
        path = spec(root / "ids", "h.toml", id=sid)
        replay.case(
            f'`id = "{sid}"`; `run --spec`', 1, run(raw, out, "--spec", str(path)), [raw, out]
        )

    for case, population in (
        (
            "population reads a file: `read_csv('/etc/passwd')`",
            "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
        ),
        (
            "population reaches the network: `read_parquet('https://…')`",
            "read_parquet('https://example.org/x.parquet') IS NULL",
        ),
        (
            "A1: a file read in a MySQL-style comment: `age >= 20 /*! AND (SELECT … "
            "read_csv('/etc/passwd')) > 0 */`",
            "age >= 20 /*! AND (SELECT nosuch FROM read_csv('/etc/passwd')) > 0 */",
        ),
        (
            "A1: the network in a MySQL-style comment: `/*! … read_parquet('https://…') … */`",
            "age >= 20 /*! AND (SELECT count(*) FROM "
            "read_parquet('https://example.org/x.parquet')) > 0 */",
        ),
    ):
        path = spec(root / "sql", "h.toml", population=population)
        replay.case(
            case + "; `specs`",
            1,
            ["specs", "--spec", str(path)],
            text=lambda done: (
                f"{said(done)}; file content echoed: {'root:' in done.stderr + done.stdout}"
            ),
        )

    for case, population in (
        ("a population of 5,000 AND-ed clauses", " AND ".join(["age >= 20"] * 5000)),
        ("a population nested 300 parentheses deep", "(" * 300 + "age" + " + 1)" * 300 + " > 3"),
    ):
        path = spec(root / "size", "h.toml", population=population)
        began = time.monotonic()
        replay.case(case + "; `specs`", 1, ["specs", "--spec", str(path)])
        replay.note(f"{replay.rows[-1].text} ({time.monotonic() - began:.1f} s)")

    raw, out = case_dir("twice")
    a, b = spec(root / "twice", "a.toml"), spec(root / "twice", "b.toml")
    replay.case(
        "two `--spec` files with one id",
        1,
        run(raw, out, "--spec", str(a), "--spec", str(b)),
        [raw, out],
    )

    path = spec(root / "nan", "h.toml", extra="value = nan")
    replay.case("`value = nan` in a verdict; `specs`", 1, ["specs", "--spec", str(path)])

    raw, out = case_dir("separation")
    path = spec(root / "separation", "h.toml", outcome="mg_total > 400")
    replay.case(
        "outcome perfectly predicted by the exposure; `run --spec`",
        1,
        run(raw, out, "--spec", str(path)),
        [raw, out],
    )

    raw, out = case_dir("store")
    first = quiet(*run(raw, out, "--only", "C7"))
    verdicts = (out / "tables" / "verdicts.csv").read_bytes() if first.returncode == 0 else b""
    for entry in (raw / ".results").glob("spec-*/entry.json"):
        data = entry.parent / "data.json"
        data.write_text(data.read_text().replace("inconclusive", "consistent"))
        fields = json.loads(entry.read_text())
        fields["data"] = hashlib.sha256(data.read_bytes()).hexdigest()
        entry.write_text(json.dumps(fields))
    replay.case(
        "a stored result edited, its checksum updated; `run` again",
        0,
        run(raw, out, "--only", "C7"),
        [raw, out],
        text=lambda done: (
            f"exit {done.returncode}; recomputed: verdicts.csv as the "
            f"first run's: {verdicts == (out / 'tables' / 'verdicts.csv').read_bytes()}"
        ),
    )

    raw, out = case_dir("mixed")
    quiet(*run(raw, out, "--only", "C7"))
    replay.case(
        "`run --only C7`, then `--only C1` into the same `--out`",
        0,
        run(raw, out, "--only", "C1"),
        [raw, out],
        text=lambda done: (
            f"exit {done.returncode}; tables after the second: "
            + ", ".join(sorted(p.name for p in (out / "tables").glob("C*.csv")))
        ),
    )

    raw, out = case_dir("foreign")
    out.mkdir(parents=True)
    (out / "chapter1.docx").write_text("mine")
    replay.case("`--out` holds someone else's file", 1, run(raw, out, "--only", "C7"), [raw])

    raw, out = case_dir("mortality")
    dat = raw / "linked_mortality" / "NHANES_2005_2006_MORT_2015_PUBLIC.dat"
    dat.write_bytes(b"".join(dat.read_bytes().splitlines(keepends=True)[:5000]))
    replay.case(
        "mortality file cut on a line boundary; `build`",
        1,
        ["build", "--data-dir", str(raw), "--out", str(out), "--cycles", "2005-2006"],
        [raw, out],
    )

    path = spec(root / "validate", "h.toml")
    raw = root / "validate" / "raw"
    replay.case(
        "`validate --spec` a claim's specification",
        1,
        ["validate", "--spec", str(path), "--data-dir", str(raw)],
        [raw],
        cwd=root / "validate",
    )

    raw = root / "above"
    replay.case(
        "`usual-intake --above mg=nan`",
        1,
        ["usual-intake", "--above", "mg=nan", "--data-dir", str(raw)],
        [raw],
        cwd=root / "above-cwd",
    )

    raw, out = case_dir("stale")
    (out / ".staging-999999999-x").mkdir(parents=True)
    (raw / "2005-2006" / ".DEMO_D.xpt.abc.part").write_bytes(b"half")
    replay.case(
        "a killed run's staging folder and `.part` file; `run` again",
        0,
        run(raw, out, "--only", "C7"),
        [raw, out],
        text=lambda done: f"exit {done.returncode}; temporaries left: {leftovers(raw, out)}",
    )

    # A2: a forged fetch manifest whose sha256 would name cache files outside the data dir
    raw, out = case_dir("a2")
    shutil.rmtree(raw / ".cache", ignore_errors=True)
    victim = root / "a2" / "victim"
    forge_manifest(raw, victim, root / "a2" / "absolute")
    replay.case(
        "A2: the manifest's sha256 is `../../victim/important` or an absolute path; `build`",
        1,
        ["build", "--cycles", "2017-2018", "--data-dir", str(raw), "--out", str(out)],
        [raw, out],
        text=lambda done: (
            f"{said(done)}; victim kept: "
            f"{(victim / 'important.parquet').read_text() == VICTIM_TEXT}"
        ),
    )

    # A3, A4: an output folder that is not a run's
    raw, _ = case_dir("links")
    paper = root / "links" / "paper"
    (paper / "figures").mkdir(parents=True)
    (paper / "figures" / "fig1.png").write_text("fig")
    (paper / "report.md").write_text("# draft")
    thesis = root / "links" / "thesis"
    (thesis / "data").mkdir(parents=True)
    (thesis / "data" / "survey.csv").write_text("keep")
    (thesis / "chapter1.docx").write_text("thesis")
    (thesis / MARKER).write_text(json.dumps({"entries": ["chapter1.docx", "data"]}))
    for case, folder in (
        ("A3: `--out` holds the user's `figures/` and `report.md`, no marker", paper),
        ("A4: `--out` holds a planted marker listing `chapter1.docx` and `data`", thesis),
    ):
        files = sorted(str(p) for p in folder.rglob("*"))
        replay.case(
            case + "; `build`",
            1,
            ["build", "--cycles", "2017-2018", "--data-dir", str(raw), "--out", str(folder)],
            [raw],  # --out not its own: it must be kept as it is
        )
        kept = sorted(str(p) for p in folder.rglob("*")) == files
        replay.note(f"{replay.rows[-1].text}; kept: {kept}")

    # A6: a folder of the data dir that is a link
    elsewhere = root / "links" / "elsewhere"
    elsewhere.mkdir()
    out = root / "links" / "out"
    cache, aside = raw / ".cache", root / "links" / "cache-aside"
    if cache.exists():
        shutil.move(cache, aside)
    cache.symlink_to(elsewhere)
    replay.case(
        "A6: the data dir's `.cache` is a link; `build`",
        1,
        ["build", "--cycles", "2017-2018", "--data-dir", str(raw), "--out", str(out)],
        [raw, out],
        text=lambda done: f"{said(done)}; written through: {len(list(elsewhere.iterdir()))}",
    )
    cache.unlink()
    if aside.exists():
        shutil.move(aside, cache)
    results = raw / ".results"
    results.symlink_to(elsewhere)
    replay.case(
        "A6: the data dir's `.results` is a link; `run --only C7`",
        1,
        run(raw, out, "--only", "C7", "--cycles", "2017-2018"),
        [raw, out],
        text=lambda done: f"{said(done)}; written through: {len(list(elsewhere.iterdir()))}",
    )
    results.unlink()
    linked = root / "linked-cycle"
    linked.mkdir()
    (linked / "2017-2018").symlink_to(elsewhere)
    replay.case(
        "A6: a cycle folder of the data dir is a link; `fetch`",
        1,
        [
            "fetch",
            "--cycles",
            "2017-2018",
            "--tables",
            "DEMO",
            "--mirror",
            str(mirror),
            "--data-dir",
            str(linked),
        ],
        [linked],
        text=lambda done: f"{said(done)}; written through: {len(list(elsewhere.iterdir()))}",
    )

    # A10: a results-store entry that is a link: removed (not its target) and recomputed
    h = root / "links" / "h.toml"
    h.write_text(DESCRIPTIVE)
    quiet(*run(raw, out, "--spec", str(h)))
    victim = root / "links" / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("keep")
    for entry in (raw / ".results").glob("spec-*"):
        shutil.rmtree(entry)
        entry.symlink_to(victim)
    replay.case(
        "A10: a results-store entry is a link; `run` again",
        0,
        run(raw, out, "--spec", str(h)),
        [raw, out],
        text=lambda done: (
            f"exit {done.returncode}; recomputed: "
            f"{'computed: H1' in done.stdout + done.stderr}; link target kept: "
            f"{sorted(p.name for p in victim.iterdir()) == ['keep.txt']}"
        ),
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mirror", type=Path, required=True, help="an unpacked NHANES mirror")
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="a data dir fetched from it (copied)"
    )
    parser.add_argument(
        "--tmp", type=Path, default=None, help="where the temporary folder goes (default: $TMPDIR)"
    )
    args = parser.parse_args()
    mirror, source = args.mirror.resolve(), args.data_dir.resolve()
    with tempfile.TemporaryDirectory(prefix="nhanes-mg-faults-", dir=args.tmp) as tmp_text:
        replay = Replay(Path(tmp_text).resolve())
        common(replay, mirror, source)
        hostile(replay, mirror, source)
        print(replay.table())
    sys.exit(0 if all(r.ok for r in replay.rows) else 1)


if __name__ == "__main__":
    main()
