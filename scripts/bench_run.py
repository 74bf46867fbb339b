"""Benchmark of the main job: `nhanes-mg run` on the real mirror, with peak memory.

Runs, each in a fresh process on the same data dir:

- cold: an empty data dir (fetch from the mirror archive, every XPT parsed, everything computed);
- forced: files and parsed tables in place, `--force` (everything recomputed: the old "warm");
- unchanged: nothing changed (the build and every claim's results reused from the store);
- one spec edited, title: the shipped specifications passed with `--spec`, C3's title edited
  (its analyses' stored estimates reused; its verdicts, tables and figures made anew);
- one spec edited, population: C3's population edited (every analysis of C3, sensitivity
  analyses included, estimated anew).

Prints each figure with its target and the ratio (targets of issue 26, "A speed budget that
holds as the science grows": cold ≤ 30 s with every sensitivity analysis and the validation
gallery, unchanged ≤ 1 s, one spec edited ≤ 5 s, peak RSS ≤ 1 GB; forced has the README's older
goal < 20 s), then where the cold run's time went (``run --profile``: each stage, each claim's
estimation, tables and figures and its slowest analyses, the gallery).

    .venv/bin/python scripts/bench_run.py [--mirror ../shared/nhanes]

With ``--against REV`` it measures only the cold run, of this tree and of the commit REV (checked
out beside it), alternately ``--repeats`` times each (which goes first alternating too), and
prints each run, the medians and their ratio: on a machine whose speed drifts with other load,
the comparison that holds.

    .venv/bin/python scripts/bench_run.py --against 86dbc75 --repeats 3

With ``--edits`` as well it compares the rows after the first run instead: each tree first runs
once on a data dir of its own (everything stored), then, alternately, ``--repeats`` times: a
run with nothing changed, C3's population edited (an age limit one year higher each time),
its title edited (and back).

    .venv/bin/python scripts/bench_run.py --against c0f1361 --edits --repeats 3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TypeVar

EDIT_TITLE, EDIT_MODEL = "one spec edited, title", "one spec edited, population"
GOALS = {"cold": 30.0, "forced": 20.0, "unchanged": 1.0, EDIT_TITLE: 5.0, EDIT_MODEL: 5.0}
RSS_GOAL_GB = 1.0


def run_once(
    mirror: str,
    data_dir: Path,
    out_dir: Path,
    extra: list[str] | None = None,
    log: Path | None = None,
    source: Path | None = None,
) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system, the run's processes together: its workers and
    xz too) and peak RSS (GB) of one `nhanes-mg run` in its own process (its standard output
    into ``log`` when given; ``source``: the ``src`` folder to run, else the installed
    package)."""
    cmd = [sys.executable, "-m", "nhanes_mg", "run", "--mirror", mirror,
           "--data-dir", str(data_dir), "--out", str(out_dir), *(extra or [])]  # fmt: skip
    sink = f"open({str(log)!r}, 'w')" if log else "subprocess.DEVNULL"
    # a wrapper process per run, so RUSAGE_CHILDREN holds that run's peak alone
    wrapper = (
        "import resource, subprocess, sys;"
        f"subprocess.run({cmd!r}, check=True, stdout={sink});"
        "u = resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(u.ru_utime + u.ru_stime); print(u.ru_maxrss)"
    )
    env = {**os.environ, "COLUMNS": "160"}  # the profile's tables unwrapped
    if source is not None:
        env["PYTHONPATH"] = str(source)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True,
                          check=True, env=env)  # fmt: skip
    seconds = time.perf_counter() - started
    *_, cpu, peak_kb = done.stdout.strip().splitlines()
    return seconds, float(cpu), int(peak_kb) / 1024**2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    repo = Path(__file__).resolve().parents[1]
    parser.add_argument("--mirror", default=str(repo.parent / "shared" / "nhanes"))
    parser.add_argument("--against", metavar="REV", help="compare the cold run with REV's")
    parser.add_argument("--repeats", type=int, default=2, help="cold runs of each (--against)")
    parser.add_argument("--edits", action="store_true", help="compare the edit rows (--against)")
    args = parser.parse_args()
    if args.against and args.edits:
        compare_edits(repo, args.mirror, args.against, args.repeats)
        return
    if args.against:
        compare_cold(repo, args.mirror, args.against, args.repeats)
        return
    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-bench-"))
    try:
        data_dir, out_dir = work / "raw", work / "outputs"
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"nhanes-mg run on {args.mirror} ({os.cpu_count()} cores, load average {load})")
        specs = work / "specs"
        specs.mkdir()
        for path in sorted((repo / "src" / "nhanes_mg" / "specs").glob("*.toml")):
            shutil.copyfile(path, specs / path.name)
        own = [a for p in sorted(specs.glob("*.toml")) for a in ("--spec", str(p))]
        edited = specs / "C3_mg_vitd_deficiency.toml"
        runs: list[tuple[str, list[str]]] = [
            ("cold", [*own, "--profile"]), ("forced", [*own, "--force"]), ("unchanged", own),
            (EDIT_TITLE, own), (EDIT_MODEL, own),
        ]  # fmt: skip
        profile = work / "cold.log"
        edits = {
            EDIT_TITLE: ("Deng 2013, Table 2", "Deng 2013"),
            EDIT_MODEL: ('population = "age >= 20 AND', 'population = "age >= 21 AND'),
        }
        for label, extra in runs:
            if label in edits:
                old, new = edits[label]
                text = edited.read_text()
                assert text.count(old) == 1, f"{edited.name}: {old!r} is not there once"
                edited.write_text(text.replace(old, new))
            log = profile if label == "cold" else None
            seconds, _, peak = run_once(args.mirror, data_dir, out_dir, extra, log)
            goal = GOALS[label]
            print(f"{label:>27}: {seconds:6.1f} s  (target ≤ {goal:.0f} s: ratio "
                  f"{seconds / goal:.2f})   peak RSS {peak:.2f} GB (target ≤ "
                  f"{RSS_GOAL_GB:.0f} GB: ratio {peak / RSS_GOAL_GB:.2f})")  # fmt: skip
        lines = profile.read_text(encoding="utf-8").splitlines()
        start = next((i for i, line in enumerate(lines) if "Time per stage" in line), len(lines))
        print("\nwhere the cold run's time went (nhanes-mg run --profile):")
        print("\n".join(lines[start:]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextlib.contextmanager
def beside(repo: Path, rev: str) -> Iterator[tuple[Path, dict[str, Path]]]:
    """A scratch folder and the ``src`` folders of this tree and of ``rev`` (checked out in
    the scratch folder, bytecode written as scripts/setup.sh writes ours), removed after."""
    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-bench-"))
    other = work / "baseline"
    git = ["git", "-C", str(repo)]
    subprocess.run([*git, "worktree", "add", "--detach", str(other), rev], check=True,
                   capture_output=True)  # fmt: skip
    try:
        trees = {"this tree": repo / "src", rev: other / "src"}
        for source in trees.values():
            subprocess.run([sys.executable, "-m", "compileall", "-q", str(source)], check=True,
                           capture_output=True)  # fmt: skip
        yield work, trees
    finally:
        subprocess.run([*git, "worktree", "remove", "--force", str(other)], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


T = TypeVar("T")


def in_turn(items: Sequence[T], round_: int) -> list[T]:
    """``items`` (the trees of an ``--against`` comparison, of this script or
    bench_estimation.py and bench_figures.py) in the order of round ``round_``: as given in
    even rounds, reversed in odd ones (A B B A …), so that neither side always runs first. A
    bench's first run is often its slowest (31.7 and 31.9 s against 27.2–29.7 s for the
    others, 2026-12-07 23:35 and 23:43), and a drifting machine would otherwise favour one side.

    >>> in_turn(["this tree", "REV"], 1)
    ['REV', 'this tree']
    """
    return list(items) if round_ % 2 == 0 else list(items)[::-1]


def compare_cold(repo: Path, mirror: str, rev: str, repeats: int) -> None:
    """The cold run of this tree and of ``rev``, alternately, with their medians' ratio."""
    with beside(repo, rev) as (work, trees):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"cold nhanes-mg run on {mirror}: this tree against {rev}, alternately "
              f"({os.cpu_count()} cores, load average {load})")  # fmt: skip
        seconds: dict[str, list[float]] = {name: [] for name in trees}
        cpu: dict[str, list[float]] = {name: [] for name in trees}
        for i in range(repeats):
            for name, source in in_turn(list(trees.items()), i):
                data_dir, out_dir = work / f"raw{i}{len(seconds[name])}", work / "out"
                taken, used, _ = run_once(mirror, data_dir, out_dir, source=source)
                shutil.rmtree(data_dir, ignore_errors=True)
                seconds[name].append(taken)
                cpu[name].append(used)
                print(f"{name:>12}: {taken:6.1f} s wall, {cpu[name][-1]:6.1f} s CPU")
        for what, values in (("wall", seconds), ("CPU", cpu)):
            ours, theirs = (statistics.median(values[name]) for name in trees)
            print(f"medians, {what}: this tree {ours:.1f} s, {rev} {theirs:.1f} s; "
                  f"ratio {ours / theirs:.2f}")  # fmt: skip


def compare_edits(repo: Path, mirror: str, rev: str, repeats: int) -> None:
    """The two edit rows of this tree and of ``rev``, alternately, with their medians' ratio."""
    with beside(repo, rev) as (work, trees):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"edited-specification runs on {mirror}: this tree against {rev}, alternately "
              f"({os.cpu_count()} cores, load average {load})")  # fmt: skip
        own: dict[str, list[str]] = {}
        for i, (name, source) in enumerate(trees.items()):
            specs = work / f"specs{i}"
            specs.mkdir()
            for path in sorted((repo / "src" / "nhanes_mg" / "specs").glob("*.toml")):
                shutil.copyfile(path, specs / path.name)
            own[name] = [a for p in sorted(specs.glob("*.toml")) for a in ("--spec", str(p))]
            run_once(mirror, work / f"raw{i}", work / f"out{i}", own[name], source=source)
        seconds: dict[str, dict[str, list[float]]] = {
            row: {name: [] for name in trees} for row in ("unchanged", EDIT_MODEL, EDIT_TITLE)
        }
        title = ("(Deng 2013, Table 2)", "(Deng 2013, Table II)")  # in the title alone
        for k in range(repeats):
            for i, (name, source) in in_turn(list(enumerate(trees.items())), k):
                edited = work / f"specs{i}" / "C3_mg_vitd_deficiency.toml"
                text = edited.read_text()
                older = f'population = "age >= {20 + k} AND'
                assert text.count(older) == 1, f"{edited.name}: {older!r} is not there once"
                edits = {
                    "unchanged": ("", ""),
                    EDIT_MODEL: (older, f'population = "age >= {21 + k} AND'),
                    EDIT_TITLE: title if k % 2 == 0 else title[::-1],
                }
                for row, (old, new) in edits.items():
                    if old:
                        assert edited.read_text().count(old) == 1, f"{edited.name}: {old!r}"
                        edited.write_text(edited.read_text().replace(old, new))
                    taken, _, _ = run_once(mirror, work / f"raw{i}", work / f"out{i}", own[name],
                                           source=source)  # fmt: skip
                    seconds[row][name].append(taken)
                    print(f"{row:>27}, {name:>12}: {taken:5.1f} s")
        for row, values in seconds.items():
            ours, theirs = (statistics.median(values[name]) for name in trees)
            print(f"medians, {row}: this tree {ours:.1f} s, {rev} {theirs:.1f} s; "
                  f"ratio {ours / theirs:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
