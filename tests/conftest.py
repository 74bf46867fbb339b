"""Shared fixtures: the real NHANES mirror, unpacked once per test session, fetched into one data
dir and built into the analytic dataset once (``build_result``, ``analytic_frame``), and ``run``
of every shipped claim with the validation gallery once (``full_run``), whose results every test
of a shipped claim reads (``shipped_result``).

Tests that need the real-mirror build, or start the command line in a process of its own, are
marked ``slow``: ``pytest -m "not slow"`` runs the rest in seconds. Under pytest-xdist
(``scripts/test.sh`` runs two workers, ``--dist loadgroup``) the fetched data dir is made once
for all workers; the tests of the session's build and full run are one unit of work, run by
one worker, and every other test goes to whichever worker is free, but for the tests sharing a
fixture of their module (or of tests/survey's conftest), which go together
(``pytest_xdist_make_scheduler``). A second worker asking for the full run (``-n 2 --dist
load``) would read the first's results back from the store.

``NHANES_MG_MIRROR`` may point at an unpacked mirror (a folder holding ``2005-2006/`` …) to skip
unpacking. Otherwise ``../shared/nhanes/nhanes-mirror-2001-2018.tar.xz`` is unpacked into a
temporary folder. Without it the mirror tests skip, except in CI (``CI=true``), where a missing
mirror is a failure: CI must exercise real data.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import inspect
import json
import multiprocessing
import os
import re
import signal
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from run_support import ShippedResult

from derive_support import SessionBuild, fill_cache, session_build_in_runs

if TYPE_CHECKING:
    import polars as pl

    from nhanes_mg.derive import BuildResult
    from nhanes_mg.jobs.run import RunSummary
    from nhanes_mg.study.results import SpecResult

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO.parent / "shared" / "nhanes" / "nhanes-mirror-2001-2018.tar.xz"


# The results store signs its entries with the user's key; the tests use one of their own
# (their subprocesses inherit it), never the developer's ~/.config/nhanes-mg/store.key. Under
# pytest-xdist the workers inherit the controller's, made here before they start: the one data
# dir they share keeps entries every worker can check.
OWN_KEY = Path(tempfile.gettempdir()) / f"nhanes-mg-test-{os.getpid()}.key"
os.environ.setdefault("NHANES_MG_STORE_KEY", str(OWN_KEY))
# The runs the tests start keep their work in their own process (their subprocesses inherit
# this): pytest-xdist's workers already use the cores, and a worker pool per run would only add
# its start-up. The session's full run, and the tests of the pool, ask for two.
os.environ.setdefault("NHANES_MG_WORKERS", "1")
# the workers' units of work (pytest_xdist_make_scheduler below), in a file the controller
# names before they start
UNITS_ENV = "NHANES_MG_TEST_UNITS"
if "PYTEST_XDIST_WORKER" not in os.environ:
    from nhanes_mg.jobs.store import store_key

    store_key()  # made now, before any worker starts: all read the same one
    os.environ[UNITS_ENV] = str(Path(tempfile.gettempdir()) / f"nhanes-mg-units-{os.getpid()}")


# a test that reads one of these (directly or through another fixture) needs the real-mirror
# build of the session, or the run of every shipped claim: slow
SLOW_FIXTURES = frozenset({"nhanes_data_dir", "session_build", "full_run", "shipped_result"})
# the session's build and full run live in the memory of the process that made them: the tests
# that read them are one unit of work, so that one worker makes them (``shipped_result`` reads
# them through ``request.getfixturevalue``, not as a declared dependency)
SESSION_BUILD = frozenset({"session_build", "full_run", "shipped_result"})
TESTS = Path(__file__).resolve().parent


def _work_unit(item: pytest.Item) -> str | None:
    """The unit of work ``item`` belongs to under ``--dist loadgroup`` (scripts/test.sh), or
    None: a test of its own, for whichever worker is free. One unit for the tests of the
    session's build and full run; one for the tests sharing a session fixture of a conftest
    below this folder (tests/survey: the mirror data its golden values were made on); one a
    file for the tests sharing a fixture of their module (or class)."""
    names = set(getattr(item, "fixturenames", ()))
    if SESSION_BUILD & names:
        return "session-build"
    info = getattr(item, "_fixtureinfo", None)
    units = set()
    for defs in info.name2fixturedefs.values() if info is not None else ():
        for fixture in defs:
            if fixture.scope == "function":
                continue
            code = getattr(inspect.unwrap(fixture.func), "__code__", None)
            where = Path(code.co_filename).resolve() if code is not None else None
            if where is None or TESTS not in where.parents:
                continue  # a plugin's (tmp_path_factory …)
            if where.name == "conftest.py":
                if where.parent != TESTS:  # the top conftest's are shared across workers
                    units.add(str(where.parent.relative_to(TESTS.parent)))
            else:
                units.add(item.nodeid.split("::")[0])
    return min(units, key=len) if units else None  # a folder's unit holds its files'


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that needs the session's real-mirror build or full run; under
    pytest-xdist, write down each test's unit of work (:func:`_work_unit`) for the scheduler."""
    units: dict[str, str] = {}
    for item in items:
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        unit = _work_unit(item)
        if unit is not None:
            units[item.nodeid] = unit
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None and UNITS_ENV in os.environ:
        # every worker collects the same tests: each writes the same units, whole or not at all
        path = Path(os.environ[UNITS_ENV])
        part = path.with_name(f"{path.name}.{worker}.part")
        part.write_text(json.dumps(units))
        part.replace(path)


@pytest.hookimpl(tryfirst=True, optionalhook=True)  # first: before pytest-xdist chooses
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` (scripts/test.sh): the tests of a unit of work (:func:`_work_unit`)
    to one worker, as a whole; every other test to whichever worker is free; the largest units
    first (the session's build and full run: the longest). pytest-xdist's own ``loadgroup``
    groups nothing under pytest 9 (it renames ``item._nodeid``, which pytest 9 no longer
    reads), so the units come from the workers' collection (above), not from marks."""
    if config.getvalue("dist") != "loadgroup" or UNITS_ENV not in os.environ:
        return None
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def __init__(self, config: pytest.Config, log: Any) -> None:
            super().__init__(config, log)
            self.units: dict[str, str] = {}

        def schedule(self) -> None:
            if self.collection is None:  # the first call: every worker has collected
                path = Path(os.environ[UNITS_ENV])
                self.units = json.loads(path.read_text()) if path.exists() else {}
            super().schedule()

        def _split_scope(self, nodeid: str) -> str:
            return self.units.get(nodeid, nodeid)

    return UnitScheduling(config, log)


def pytest_unconfigure() -> None:
    if "PYTEST_XDIST_WORKER" not in os.environ:
        Path(os.environ[UNITS_ENV]).unlink(missing_ok=True)
        if os.environ["NHANES_MG_STORE_KEY"] == str(OWN_KEY):  # the key this session made
            OWN_KEY.unlink(missing_ok=True)


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _find_mirror_root(folder: Path) -> Path:
    """The folder holding the cycle folders (the archive wraps them in ``nhanes-mirror/``)."""
    inner = folder / "nhanes-mirror"
    return inner if inner.is_dir() else folder


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unpacked real NHANES mirror 2001-2018 (read-only by convention)."""
    env = os.environ.get("NHANES_MG_MIRROR")
    if env:
        root = _find_mirror_root(Path(env))
        if not (root / "2005-2006").is_dir():
            pytest.fail(f"NHANES_MG_MIRROR={env} holds no unpacked mirror (no 2005-2006/)")
        return root
    if not ARCHIVE.exists():
        message = f"the NHANES mirror archive is missing: {ARCHIVE}"
        if _in_ci():
            pytest.fail(message + " (CI must run the real-data tests)")
        pytest.skip(message)
    target = tmp_path_factory.mktemp("mirror")
    with tarfile.open(ARCHIVE, "r:xz") as tar:
        tar.extractall(target, filter="data")
    return _find_mirror_root(target)


@pytest.fixture(scope="session")
def mirror_archive() -> Path:
    """The packed mirror (the folder form that ``--mirror ../shared/nhanes`` takes)."""
    if not ARCHIVE.exists():
        if _in_ci():
            pytest.fail(f"the NHANES mirror archive is missing: {ARCHIVE}")
        pytest.skip(f"the NHANES mirror archive is missing: {ARCHIVE}")
    return ARCHIVE


@contextlib.contextmanager
def _once(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[tuple[Path, bool]]:
    """A folder made once per test run, and whether this process is to fill it: its own
    folder in a plain session; under pytest-xdist one folder all workers share (in their base
    folders' parent), filled by the first worker that gets its lock while the others wait."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield tmp_path_factory.mktemp(name), True
        return
    root = tmp_path_factory.getbasetemp().parent
    folder, ready = root / name, root / f"{name}.ready"
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if ready.exists():
            yield folder, False
            return
        folder.mkdir(exist_ok=True)
        yield folder, True
        ready.touch()


@pytest.fixture(scope="session")
def nhanes_data_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """A data dir filled by ``fetch`` from the real mirror, as a user's would be, with its
    parquet cache filled (once per test run: pytest-xdist's workers share it)."""
    from nhanes_mg.data.fetch import fetch
    from nhanes_mg.derive import fetched_components

    with _once(tmp_path_factory, "data_raw") as (data_dir, first):
        if first:
            fetch(None, fetched_components(), data_dir=data_dir, mirror=mirror_dir)
            _fill_cache(data_dir)
    return data_dir


def _fill_cache(data_dir: Path) -> None:
    """Parse every fetched XPT file into the data dir's parquet cache as a first build would
    (:func:`nhanes_mg.data.read.load_file`), but in two processes at once, largest files first."""
    from nhanes_mg.data.fetch import iter_manifest

    files = [str(e["file"]) for e in iter_manifest(data_dir) if str(e["file"]).endswith(".xpt")]
    files.sort(key=lambda relpath: -(data_dir / relpath).stat().st_size)
    context = multiprocessing.get_context("spawn")  # as the pipeline's workers: no fork
    with ProcessPoolExecutor(min(2, os.cpu_count() or 1), mp_context=context) as pool:
        list(pool.map(functools.partial(fill_cache, data_dir), files))


@pytest.fixture(scope="session")
def session_build(nhanes_data_dir: Path) -> SessionBuild:
    """The analytic dataset 2001-2018, built once a session from the fetched real mirror (its
    tables from the parquet cache), with every warning the build gave (the derive tests check
    there are none for the full mirror)."""
    from nhanes_mg.derive import build_analytic

    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        result = build_analytic(nhanes_data_dir)
    return SessionBuild(result, [f"{type(r.message).__name__}: {r.message}" for r in records])


@pytest.fixture(scope="session")
def build_result(session_build: SessionBuild) -> BuildResult:
    """The session's build (frame, metadata, summary): for every test that only reads it."""
    return session_build.result


@pytest.fixture(scope="session")
def analytic_frame(build_result: BuildResult) -> pl.DataFrame:
    """The session's analytic frame, 2001-2018."""
    return build_result.frame


CliMain = Callable[..., tuple[int, str, str]]
# the data dir lock's waiting line (wrapped or not)
WAITING = re.compile(r"another nhanes-mg run is using .*?waiting …\n?", re.S)


@pytest.fixture()
def cli_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> CliMain:
    """``nhanes-mg ARGS`` through the console entry point (:func:`nhanes_mg.cli.main`, what the
    ``nhanes-mg`` script runs) in this process, from ``tmp_path`` (so default ``--data-dir`` and
    ``--out`` land there): its exit code (0 when it returns), stdout and stderr. The entry
    point's SIGTERM handler is put back afterwards."""
    from nhanes_mg import cli

    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["nhanes-mg", *args])
        capsys.readouterr()
        previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        code: int | str | None = 0  # main() returns on success
        try:
            cli.main()
        except SystemExit as exited:
            code = exited.code
        finally:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
        assert code is None or isinstance(code, int), code
        captured = capsys.readouterr()
        # under pytest-xdist another worker's run may hold the shared data dir's lock: the
        # command then waits and says so first (nhanes_mg.data.lock), which is not the test's
        return code or 0, captured.out, WAITING.sub("", captured.err)

    return run


@pytest.fixture(scope="session")
def full_run(
    nhanes_data_dir: Path,
    mirror_dir: Path,
    build_result: BuildResult,
    tmp_path_factory: pytest.TempPathFactory,
) -> RunSummary:
    """``run`` of every shipped claim with the validation gallery on the real mirror, once a
    session (its claims and the gallery in the worker pool, as ``nhanes-mg run`` does). The
    build it asks for is the session's (the same data dir and cycles; tests/test_derive_build.py
    tests building)."""
    from nhanes_mg.jobs.run import run_pipeline

    out = tmp_path_factory.mktemp("outputs")
    with session_build_in_runs(build_result, nhanes_data_dir) as asked:
        summary = run_pipeline(
            data_dir=nhanes_data_dir,
            out_dir=out,
            mirror=str(mirror_dir),
            validate=True,
            workers=2,  # the worker pool of `nhanes-mg run` on two cores, whatever the setting
        )
    # under pytest-xdist the data dir is shared: a later worker's run reads the first's
    # results back from the store (its run takes the data dir's lock, so it waits for them)
    assert asked == ([] if "build" in summary.reused else [nhanes_data_dir])
    return summary


@pytest.fixture(scope="session")
def shipped_result(request: pytest.FixtureRequest) -> ShippedResult:
    """``run_spec`` of a shipped specification on the session's analytic frame, computed once a
    session whatever the number of tests that read it (they must not change it). When the
    session also runs every claim (``full_run``), its results are these: the claims are
    estimated once."""
    from nhanes_mg.study.analyses import run_spec
    from nhanes_mg.study.spec import load_shipped_specs

    cache: dict[str, SpecResult] = {}
    if any("full_run" in getattr(i, "fixturenames", ()) for i in request.session.items):
        summary: RunSummary = request.getfixturevalue("full_run")
        cache.update({r.spec.id: r for r in summary.results})

    def get(spec_id: str) -> SpecResult:
        if spec_id not in cache:
            spec = next(s for s in load_shipped_specs() if s.id == spec_id)
            frame: pl.DataFrame = request.getfixturevalue("analytic_frame")
            cache[spec_id] = run_spec(spec, frame)
        return cache[spec_id]

    return get
