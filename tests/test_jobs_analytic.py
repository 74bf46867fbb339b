"""The analytic dataset of a job: the parse of a first build while ``fetch`` installs the files
(:class:`nhanes_mg.jobs.analytic.ParseAsFetched`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data import catalog, fetch, read
from nhanes_mg.derive import demo, fetched_components
from nhanes_mg.errors import InvalidFileError
from nhanes_mg.jobs.analytic import ParseAsFetched, _build_key
from nhanes_mg.jobs.store import ResultStore
from nhanes_mg.workers import WorkerPool

CYCLES = ("2015-2016", "2017-2018")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("synthetic")
    return demo.write_synthetic_mirror(folder, n_per_cycle=100, cycles=CYCLES)


def _fetch(mirror: Path, data_dir: Path, parse: ParseAsFetched) -> fetch.FetchReport:
    cycles = catalog.parse_cycles(",".join(CYCLES))
    return fetch.fetch(cycles, fetched_components(), data_dir=data_dir, mirror=mirror,
                       progress=parse)  # fmt: skip


def test_each_fetched_file_is_parsed_into_the_cache_as_it_lands(
    mirror: Path, tmp_path: Path
) -> None:
    data_dir = tmp_path / "raw"
    with WorkerPool(2) as pool:
        parse = ParseAsFetched(pool, data_dir)
        report = _fetch(mirror, data_dir, parse)
        parse.wait()
    xpt = [f for f in report.fetched if f.endswith(".xpt")]
    assert xpt and len(parse.futures) == len(xpt)  # one parse per fetched table, no more
    assert read.uncached_tables(data_dir) == []  # the build that follows parses nothing
    # the cache holds what this process would have parsed itself
    fresh = tmp_path / "fresh"
    shutil.copytree(data_dir, fresh, ignore=shutil.ignore_patterns(read.CACHE_DIR))
    for relpath in xpt[:3]:
        assert read.load_file(data_dir, relpath).equals(read.load_file(fresh, relpath))


def test_a_file_that_cannot_be_parsed_stops_the_job_naming_it(mirror: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "raw"
    _fetch(mirror, data_dir, ParseAsFetched(WorkerPool(1), data_dir))  # one worker: no parse
    relpath = "2017-2018/DEMO_J.xpt"
    damaged = data_dir / relpath
    damaged.write_bytes(damaged.read_bytes()[: 80 * 20])  # the header and a few records
    with WorkerPool(2) as pool:
        parse = ParseAsFetched(pool, data_dir)
        parse(relpath, "fetched")
        parse(relpath, "present")  # only fetched files are parsed
        assert len(parse.futures) == 1
        with pytest.raises(InvalidFileError, match=r"DEMO_J\.xpt"):
            parse.wait()
    assert not list((data_dir / read.CACHE_DIR).glob("**/*.part"))  # nothing half-written


def test_with_one_worker_the_build_parses_instead(mirror: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "raw"
    parse = ParseAsFetched(WorkerPool(1), data_dir)
    _fetch(mirror, data_dir, parse)
    assert parse.futures == [] and read.uncached_tables(data_dir)
    assert isinstance(read.load_file(data_dir, read.uncached_tables(data_dir)[0]), pl.DataFrame)


def test_one_build_whichever_way_its_cycles_are_written(tmp_path: Path) -> None:
    # the Python API's default (None), the CLI's default range and the cycles listed one by
    # one are the same build: a run after an API call reuses it instead of building again
    store = ResultStore(tmp_path)
    listed = ",".join(c.years for c in catalog.parse_cycles("2001-2018"))
    keys = {_build_key(store, tmp_path, cycles) for cycles in (None, "2001-2018", listed)}
    assert len(keys) == 1
    assert _build_key(store, tmp_path, "2005-2006") not in keys
