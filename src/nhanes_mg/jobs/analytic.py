"""The analytic dataset of a job: built from the data dir, or restored from its results store.

``run`` and ``validate`` both start here (:func:`build_or_reuse`), so that a second job with
nothing changed reads the build back instead of redoing it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from concurrent.futures import Future, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from nhanes_mg import derive
from nhanes_mg.data import catalog, read
from nhanes_mg.data.fetch import iter_manifest
from nhanes_mg.data.lock import remove_stale_temporaries
from nhanes_mg.derive.build import (
    ANALYTIC_NAME,
    DICTIONARY_NAME,
    METADATA_NAME,
    SEAM_FIGURE,
    SEAM_TABLE,
)
from nhanes_mg.jobs.store import Payload, ResultStore
from nhanes_mg.workers import WorkerPool

if TYPE_CHECKING:
    from nhanes_mg.study.plan import Schema

# What the build writes into the output folder (and the results store keeps, as two entries:
# the seam's table and figure are drawn apart, in a worker while the analyses start).
CORE_FILES = (ANALYTIC_NAME, METADATA_NAME, DICTIONARY_NAME)
SEAM_FILES = (SEAM_TABLE, SEAM_FIGURE)
BUILD_FILES = (*CORE_FILES, *SEAM_FILES)


def build_or_reuse(
    store: ResultStore,
    data_dir: Path,
    cycles: str | None,
    stage: Path,
    force: bool,
    reused: list[str],
    pool: WorkerPool | None = None,
    later: list[Callable[[], None]] | None = None,
) -> tuple[str, dict[str, Any], list[str]]:
    """The analytic build in ``stage`` (:data:`BUILD_FILES`): restored from the results store
    when nothing it depends on changed (then "build" is added to ``reused``), else built and
    stored. Returns its key, its metadata and the missing-table warnings it gave. ``pool``:
    the job's worker processes, to parse a first build's files in; with ``later`` too, the
    seam's table and figure are drawn in one of them, and storing them is left to the
    function added to ``later`` (the job calls it once its other work is under way)."""
    build_key = _build_key(store, data_dir, cycles)
    seam_key = store.key("seam", build_key)
    stored = None if force else store.get(build_key)
    if stored is not None:
        payload, files = stored
        meta, caught = dict(payload.data["meta"]), [str(c) for c in payload.data["caught"]]
        store.restore(build_key, files, stage)
        reused.append("build")
        _seam(store, seam_key, stage, force, pool, later)
        return build_key, meta, caught
    if pool is not None:
        pool.start()  # a build to make: the job's workers start (they parse, then estimate)
    parse_in_parallel(data_dir, pool=pool)
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        build = derive.build_analytic(data_dir, cycles)
    caught = [str(r.message) for r in records if "MissingTable" in type(r.message).__name__]
    meta = dict(build.metadata)
    meta.setdefault("rows", build.frame.height)
    derive.write_analytic(build, stage, seam=False)
    store.put(build_key, Payload({"meta": meta, "caught": caught}), stage, CORE_FILES)
    _seam(store, seam_key, stage, True, pool, later)
    return build_key, meta, caught


def _seam(
    store: ResultStore,
    key: str,
    stage: Path,
    force: bool,
    pool: WorkerPool | None,
    later: list[Callable[[], None]] | None,
) -> None:
    """The seam's table and figure in ``stage``: restored, drawn here, or (with a pool of
    workers and ``later``) drawn in a worker while this process goes on, and stored by the
    function added to ``later``."""
    hit = None if force else store.get(key)
    if hit is not None:
        store.restore(key, hit[1], stage)
        return
    if pool is None or not pool.parallel or later is None:
        _write_seam(stage)
        store.put(key, Payload(data={}), stage, SEAM_FILES)
        return
    drawn = pool.submit(_write_seam, stage)

    def store_seam() -> None:
        drawn.result()
        store.put(key, Payload(data={}), stage, SEAM_FILES)

    later.append(store_seam)


def _write_seam(stage: Path) -> None:
    """The seam's table and figure from the analytic dataset in ``stage`` (in a worker)."""
    derive.write_seam(pl.read_parquet(stage / ANALYTIC_NAME), stage)


# a first build parses every fetched XPT file once (one file after another: part of its 17 s;
# two processes save about 1.5 s); with a few files or one core the start-up is not worth it
PARALLEL_PARSE_MIN = 8


def parse_in_parallel(
    data_dir: Path, workers: int | None = None, pool: WorkerPool | None = None
) -> int:
    """Parse the data dir's fetched XPT files that have no parquet cache entry yet into the
    cache, in worker processes (largest first; ``pool``'s when given, else a pool of its own),
    so that the build that follows reads them from the cache; returns how many. A file that
    cannot be parsed raises here, as the build would (the same one line)."""
    missing = read.uncached_tables(data_dir)
    own = pool is None
    pool = WorkerPool(workers) if pool is None else pool
    if len(missing) < PARALLEL_PARSE_MIN or min(pool.size, len(missing)) < 2:
        return 0
    futures: list[Future[None]] = []
    try:
        for relpath in missing:
            futures.append(pool.submit(_parse_one, data_dir, relpath))
        for future in futures:
            future.result()
    except Exception:
        # a file that cannot be parsed: the others being parsed finish (a worker stopped
        # mid-write would leave a temporary file in the cache), the rest are not started
        for future in futures:
            future.cancel()
        wait(futures)
        if own:
            pool.close()
        raise
    except BaseException:  # an interrupt: stop now, and remove what the workers half-wrote
        pool.stop()
        remove_stale_temporaries(data_dir / read.CACHE_DIR)  # our lock: no other writer
        raise
    if own:
        pool.close()
    return len(missing)


class ParseAsFetched:
    """Parse each XPT file into the cache as ``fetch`` installs it (its ``progress``
    callback), in the job's worker processes: the parse of a first build overlaps the
    decompression of the mirror, which the main process does. :meth:`wait` before the build
    (a file that cannot be parsed raises there, as the build would); :meth:`abandon` on an
    interrupt or a failure (the workers stop, what they half-wrote in the cache goes)."""

    def __init__(self, pool: WorkerPool, data_dir: Path) -> None:
        self.pool, self.data_dir = pool, data_dir
        self.futures: list[Future[None]] = []

    def __call__(self, relpath: str, status: str) -> None:
        if status == "fetched" and relpath.endswith(".xpt") and self.pool.parallel:
            self.futures.append(self.pool.submit(_parse_one, self.data_dir, relpath))

    def wait(self) -> None:
        try:
            for future in self.futures:
                future.result()
        except Exception:  # the others being parsed finish: none is stopped mid-write
            for future in self.futures:
                future.cancel()
            wait(self.futures)
            raise

    def abandon(self) -> None:
        if self.futures:
            self.pool.stop()
            remove_stale_temporaries(self.data_dir / read.CACHE_DIR)  # our lock: no writer


def _parse_one(data_dir: Path, relpath: str) -> None:
    """One file into the cache (nothing sent back: the frame stays in the worker)."""
    read.load_file(data_dir, relpath)


def stored_schema(data_dir: Path, cycles: str | None = None) -> Schema | None:
    """The :class:`~nhanes_mg.study.plan.Schema` of the data dir's last build (for these
    ``--cycles``), read from its results store; None when nothing current is stored (no
    build yet, or a data file changed since)."""
    store = ResultStore(data_dir)
    key = _build_key(store, data_dir, cycles)
    stored = store.get(key)
    if stored is None:
        return None
    # lazy: a run that reuses its results never loads the survey engine (plan's types do)
    from nhanes_mg.study.plan import Schema

    payload, _ = stored
    frame = pl.read_parquet(store.stored_file(key, ANALYTIC_NAME))
    gaps = list(payload.data["meta"].get("gaps") or [])
    return Schema.of(frame, gaps)


def _build_key(store: ResultStore, data_dir: Path, cycles: str | None) -> str:
    """The store key of a build: its data files and the cycles it holds, however they were
    written (the API's None, the CLI's ``2001-2018`` and the list of nine are one build)."""
    years = [c.years for c in catalog.parse_cycles(cycles)]
    return store.key("build", _inputs(data_dir), years)


def _inputs(data_dir: Path) -> list[tuple[str, object, int, int]]:
    """The data files a build may read, as the fetch manifest knows them (file, sha256) and as
    they are now (size, modification time): a file replaced behind the manifest's back
    changes the key too."""
    rows = []
    for entry in iter_manifest(data_dir):
        path = data_dir / str(entry["file"])
        if path.is_file():
            stat = path.stat()
            rows.append((str(entry["file"]), entry.get("sha256"), stat.st_size, stat.st_mtime_ns))
    return rows
