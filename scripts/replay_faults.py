"""Replay the failures a hostile user can cause, through the real command line, on the mirror.

Prints a markdown table: case → exit code → the error line (or what happened), whether any
temporary or staging file was left behind and, for the hostile-user cases (a specification, a
data dir or a results store someone else made), how many files appeared or changed outside
the case's own folders. Each case works in its own temporary folder.

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
from pathlib import Path

CLI = [sys.executable, "-m", "nhanes_mg"]
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "COLUMNS": "200"}


def run(*args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, env=ENV, timeout=timeout, check=False
    )


def interrupted(args: list[str], sig: int, watch: Path) -> subprocess.CompletedProcess[str]:
    """Run in its own process group and signal the group once outputs are being staged."""
    process = subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not any(watch.glob(".staging-*/tables/*.csv")):
        time.sleep(0.1)
    os.killpg(process.pid, sig)
    out, err = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def leftovers(*folders: Path) -> int:
    return sum(
        1
        for folder in folders
        if folder.exists()
        for p in folder.rglob("*")
        if p.name.endswith(".part") or p.name.startswith(".staging-")
    )


def said(done: subprocess.CompletedProcess[str]) -> str:
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


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (links not followed) with its size and mtime."""
    out = {}
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            out[str(path)] = (info.st_size, info.st_mtime_ns)
    return out


def changed_outside(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], *mine: Path
) -> int:
    """Files that appeared or changed outside the case's own folders."""
    own = [str(p) for p in mine]
    return sum(
        1
        for name, stamp in after.items()
        if before.get(name) != stamp and not any(name.startswith(o) for o in own)
    )


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

Row = tuple[str, int, str, int, str]


def hostile(root: Path, source: Path, rows: list[Row]) -> None:
    """The hostile-user cases of issue 20: specifications and data dirs someone else made."""
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

    def record(
        case: str,
        done: subprocess.CompletedProcess[str],
        before: dict[str, tuple[int, int]],
        *mine: Path,
        text: str | None = None,
    ) -> None:
        outside = changed_outside(before, listing(root.parent), *mine)
        rows.append((case, done.returncode, text or said(done), leftovers(*mine), str(outside)))

    def nhanes_run(raw: Path, out: Path, *more: str) -> subprocess.CompletedProcess[str]:
        return run("run", *more, "--data-dir", str(raw), "--out", str(out), "--no-validate")

    precious = root / "precious.txt"
    precious.write_text("keep me")

    raw, out = case_dir("lock")
    (raw / ".nhanes-mg.lock").unlink(missing_ok=True)
    (raw / ".nhanes-mg.lock").symlink_to(precious)
    before = listing(root.parent)
    done = run("build", "--data-dir", str(raw), "--out", str(out))
    kept = precious.read_text() == "keep me"
    record(
        "the lock file is a link to another file; `build`",
        done,
        before,
        raw,
        out,
        text=f"{said(done)}; target kept: {kept}",
    )

    raw, out = case_dir("ids")
    for sid in ("../../../ESCAPED", "verdicts"):
        path = spec(root / "ids", "h.toml", id=sid)
        before = listing(root.parent)
        done = nhanes_run(raw, out, "--spec", str(path))
        record(f'`id = "{sid}"`; `run --spec`', done, before, raw, out, root / "ids")

    for case, population in (
        (
            "population reads a file: `read_csv('/etc/passwd')`",
            "(SELECT count(*) FROM read_csv('/etc/passwd')) > 0",
        ),
        (
            "population reaches the network: `read_parquet('https://…')`",
            "read_parquet('https://example.org/x.parquet') IS NULL",
        ),
    ):
        path = spec(root / "sql", "h.toml", population=population)
        before = listing(root.parent)
        done = run("specs", "--spec", str(path))
        leaked = "root:" in done.stderr + done.stdout
        record(
            case + "; `specs`",
            done,
            before,
            root / "sql",
            text=f"{said(done)}; file content echoed: {leaked}",
        )

    for case, population in (
        ("a population of 5,000 AND-ed clauses", " AND ".join(["age >= 20"] * 5000)),
        ("a population nested 300 parentheses deep", "(" * 300 + "age" + " + 1)" * 300 + " > 3"),
    ):
        path = spec(root / "size", "h.toml", population=population)
        before = listing(root.parent)
        start = time.monotonic()
        done = run("specs", "--spec", str(path))
        took = time.monotonic() - start
        record(case + "; `specs`", done, before, root / "size", text=f"{said(done)} ({took:.1f} s)")

    raw, out = case_dir("twice")
    a, b = spec(root / "twice", "a.toml"), spec(root / "twice", "b.toml")
    before = listing(root.parent)
    done = nhanes_run(raw, out, "--spec", str(a), "--spec", str(b))
    record("two `--spec` files with one id", done, before, raw, out)

    path = spec(root / "nan", "h.toml", extra="value = nan")
    before = listing(root.parent)
    done = run("specs", "--spec", str(path))
    record("`value = nan` in a verdict; `specs`", done, before, root / "nan")

    raw, out = case_dir("separation")
    path = spec(root / "separation", "h.toml", outcome="mg_total > 400")
    before = listing(root.parent)
    done = nhanes_run(raw, out, "--spec", str(path))
    record(
        "outcome perfectly predicted by the exposure; `run --spec`",
        done,
        before,
        raw,
        out,
        root / "separation",
    )

    raw, out = case_dir("store")
    before = listing(root.parent)
    first = nhanes_run(raw, out, "--only", "C7")
    verdicts = (out / "tables" / "verdicts.csv").read_bytes() if first.returncode == 0 else b""
    for entry in (raw / ".results").glob("spec-*/entry.json"):
        data = entry.parent / "data.json"
        data.write_text(data.read_text().replace("inconclusive", "consistent"))
        fields = json.loads(entry.read_text())
        fields["data"] = hashlib.sha256(data.read_bytes()).hexdigest()
        entry.write_text(json.dumps(fields))
    done = nhanes_run(raw, out, "--only", "C7")
    same = verdicts == (out / "tables" / "verdicts.csv").read_bytes()
    record(
        "a stored result edited, its checksum updated; `run` again",
        done,
        before,
        raw,
        out,
        text=f"exit {done.returncode}; recomputed: verdicts.csv as the first run's: {same}",
    )

    raw, out = case_dir("mixed")
    before = listing(root.parent)
    nhanes_run(raw, out, "--only", "C7")
    done = nhanes_run(raw, out, "--only", "C1")
    tables = sorted(p.name for p in (out / "tables").glob("C*.csv"))
    record(
        "`run --only C7`, then `--only C1` into the same `--out`",
        done,
        before,
        raw,
        out,
        text=f"exit {done.returncode}; tables after the second: {', '.join(tables)}",
    )

    raw, out = case_dir("foreign")
    out.mkdir(parents=True)
    (out / "chapter1.docx").write_text("mine")
    before = listing(root.parent)
    done = nhanes_run(raw, out, "--only", "C7")
    record("`--out` holds someone else's file", done, before, raw, out)

    raw, out = case_dir("mortality")
    dat = raw / "linked_mortality" / "NHANES_2005_2006_MORT_2015_PUBLIC.dat"
    dat.write_bytes(b"".join(dat.read_bytes().splitlines(keepends=True)[:5000]))
    before = listing(root.parent)
    done = run("build", "--data-dir", str(raw), "--out", str(out), "--cycles", "2005-2006")
    record("mortality file cut on a line boundary; `build`", done, before, raw, out)

    path = spec(root / "validate", "h.toml")
    before = listing(root.parent)
    done = run("validate", "--spec", str(path), "--data-dir", str(root / "validate" / "raw"))
    record("`validate --spec` a claim's specification", done, before, root / "validate")

    before = listing(root.parent)
    done = run("usual-intake", "--above", "mg=nan", "--data-dir", str(root / "above"))
    record("`usual-intake --above mg=nan`", done, before, root / "above")

    raw, out = case_dir("stale")
    (out / ".staging-999999999-x").mkdir(parents=True)
    (raw / "2005-2006" / ".DEMO_D.xpt.abc.part").write_bytes(b"half")
    before = listing(root.parent)
    done = nhanes_run(raw, out, "--only", "C7")
    record(
        "a killed run's staging folder and `.part` file; `run` again",
        done,
        before,
        raw,
        out,
        text=f"exit {done.returncode}; temporaries left: {leftovers(raw, out)}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mirror", type=Path, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    mirror, source = args.mirror.resolve(), args.data_dir.resolve()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="nhanes-mg-faults-") as tmp_text:
        tmp = Path(tmp_text)

        def data_dir(name: str) -> Path:
            target = tmp / name / "raw"
            shutil.copytree(source, target, ignore=shutil.ignore_patterns(".cache", "*.lock"))
            return target

        # 1-2. VID_D missing from the mirror and the data dir
        raw = data_dir("vid")
        (raw / "2005-2006" / "VID_D.xpt").unlink()
        no_vid = mirror_without(mirror, tmp / "vid" / "mirror", "VID_D.xpt")
        out = tmp / "vid" / "out"
        common = [
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
        done = run(*common)
        rows.append(
            (
                "VID_D removed; `run --only C3`",
                done.returncode,
                said(done),
                leftovers(raw, out),
                "—",
            )
        )
        done = run(*common, "--allow-incomplete")
        incomplete = [ln for ln in done.stderr.splitlines() if "allow-incomplete" in ln]
        rows.append(
            (
                "… with `--allow-incomplete`",
                done.returncode,
                incomplete[0] if incomplete else said(done),
                leftovers(raw, out),
                "—",
            )
        )

        # 3. DEMO_D cut on an 80-byte record boundary; build reads it (no fetch to repair it)
        raw = data_dir("cut")
        demo = raw / "2005-2006" / "DEMO_D.xpt"
        data = demo.read_bytes()
        demo.write_bytes(data[: (len(data) // 2) // 80 * 80])
        done = run("build", "--data-dir", str(raw), "--out", str(tmp / "cut" / "out"))
        rows.append(
            (
                "DEMO_D cut on a record boundary; `build`",
                done.returncode,
                said(done),
                leftovers(raw),
                "—",
            )
        )

        # 4. a cache entry swapped for another table's: rebuilt, never used
        raw = data_dir("cache")
        first = run("build", "--data-dir", str(raw), "--out", str(tmp / "cache" / "a"))
        entries = sorted((raw / ".cache").glob("*.parquet"))
        if first.returncode == 0 and len(entries) > 1:
            shutil.copyfile(entries[0], entries[1])
            done = run("build", "--data-dir", str(raw), "--out", str(tmp / "cache" / "b"))
            same = (tmp / "cache" / "a" / "analytic.parquet").read_bytes() == (
                tmp / "cache" / "b" / "analytic.parquet"
            ).read_bytes()
            rows.append(
                (
                    "a cache entry swapped for another; `build`",
                    done.returncode,
                    f"analytic.parquet byte-identical to the first build: {same}",
                    leftovers(raw),
                    "—",
                )
            )

        # 5-6. interrupts during a full run
        for sig, name in ((signal.SIGINT, "Ctrl-C"), (signal.SIGTERM, "SIGTERM")):
            raw = data_dir(name)
            out = tmp / name / "out"
            out.mkdir()
            (out / "report.html").write_text("previous")
            done = interrupted(
                ["run", "--mirror", str(mirror), "--data-dir", str(raw), "--out", str(out)],
                sig,
                out,
            )
            kept = (out / "report.html").read_text() == "previous"
            rows.append(
                (
                    f"{name} during `run`",
                    done.returncode,
                    f"{said(done)}; previous report kept: {kept}",
                    leftovers(raw, out),
                    "—",
                )
            )

        # SIGTERM at several moments of a cold run (fetch, build, models, report): how soon
        # the process ends, since a long native call (polars, LAPACK) holds off Python handlers
        for delay in (2.0, 5.0, 10.0, 20.0):
            raw = tmp / f"term-{delay:.0f}" / "raw"
            out = tmp / f"term-{delay:.0f}" / "out"
            process = subprocess.Popen(
                [*CLI, "run", "--mirror", str(mirror), "--data-dir", str(raw), "--out", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                env=ENV,
            )
            time.sleep(delay)
            start = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=300)
            took = time.monotonic() - start
            done = subprocess.CompletedProcess(process.args, process.returncode, "", err)
            rows.append(
                (
                    f"SIGTERM {delay:.0f} s into a cold `run`",
                    done.returncode,
                    f"{said(done)}; ended {took:.2f} s after the signal",
                    leftovers(raw, out),
                    "—",
                )
            )

        # 7-12. paths, specs, usage, offline
        file = tmp / "a_file"
        file.write_text("x")
        raw = data_dir("paths")
        for case, cli_args in (
            ("`--out` is a file", ["run", "--out", str(file), "--data-dir", str(raw)]),
            ("`--data-dir` is a file", ["fetch", "--data-dir", str(file)]),
            ("`specs --spec` a folder", ["specs", "--spec", str(tmp)]),
            ("`demo --n-per-cycle 0`", ["demo", "--n-per-cycle", "0"]),
            ("`--cycles 1980-1990`", ["run", "--cycles", "1980-1990"]),
            ("`--version`", ["--version"]),
        ):
            done = run(*cli_args)
            text = said(done) if done.returncode else done.stdout.strip()
            if done.returncode == 2:
                text = done.stderr.strip().splitlines()[-1]
            rows.append((case, done.returncode, text, leftovers(raw), "—"))

        # 13. a truncated .tar.xz mirror
        archive_dir = tmp / "archive"
        archive_dir.mkdir()
        archive = archive_dir / "nhanes-mirror.tar.xz"
        with tarfile.open(archive, "w:xz") as tar:
            for rel in ("2005-2006/DEMO_D.xpt", "2005-2006/DR1TOT_D.xpt"):
                tar.add(mirror / rel, arcname=f"nhanes-mirror/{rel}")
        archive.write_bytes(archive.read_bytes()[: archive.stat().st_size * 3 // 4])
        raw = tmp / "archive" / "raw"
        done = run(
            "fetch",
            "--cycles",
            "2005-2006",
            "--tables",
            "DEMO,DR1TOT",
            "--mirror",
            str(archive_dir),
            "--data-dir",
            str(raw),
        )
        rows.append(
            (
                "truncated `.tar.xz` mirror; `fetch`",
                done.returncode,
                said(done),
                leftovers(raw),
                "—",
            )
        )

        # 14. no network, no mirror, empty data dir
        done = run(
            "fetch",
            "--cycles",
            "2005-2006",
            "--tables",
            "DEMO",
            "--data-dir",
            str(tmp / "net" / "raw"),
        )
        rows.append(
            (
                "no network, no mirror; `fetch`",
                done.returncode,
                said(done),
                leftovers(tmp / "net"),
                "—",
            )
        )

        # 15. a complete data dir needs neither the network nor --mirror
        raw = data_dir("offline")
        run("fetch", "--mirror", str(mirror), "--data-dir", str(raw))  # records what is absent
        out = tmp / "offline" / "out"
        done = run("run", "--only", "C1", "--data-dir", str(raw), "--out", str(out))
        text = (
            said(done) if done.returncode else f"report written: {(out / 'report.html').exists()}"
        )
        rows.append(
            (
                "complete data dir, no network, no `--mirror`; `run --only C1`",
                done.returncode,
                text,
                leftovers(raw, out),
                "—",
            )
        )

        hostile(tmp / "hostile", source, rows)

    print("| case | exit | message | temp files left | files changed outside |")
    print("| --- | --- | --- | --- | --- |")
    for case, code, text, left, outside in rows:
        print(f"| {case} | {code} | {text.replace('|', '/')} | {left} | {outside} |")


if __name__ == "__main__":
    main()
