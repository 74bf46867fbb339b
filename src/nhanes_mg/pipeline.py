"""The main job as one function: fetch → build → analyses → tables, figures and report.

``nhanes-mg run`` and ``nhanes-mg demo`` both call :func:`run_pipeline`; the CLI adds progress
bars and the terminal summary.
"""

from __future__ import annotations

import multiprocessing
import os
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from nhanes_mg import catalog
from nhanes_mg.analyses import SpecResult, run_spec
from nhanes_mg.derive import ANALYTIC_NAME, BuildResult, build_analytic, write_analytic
from nhanes_mg.errors import SpecError
from nhanes_mg.fetch import FetchReport, fetch
from nhanes_mg.figures import write_figures
from nhanes_mg.report import SYNTHETIC_STAMP, ReportInputs, write_report, write_tables
from nhanes_mg.spec import Spec, load_shipped_specs, load_spec

Step = Callable[[str, str], None]  # (what, status) as each piece finishes


@dataclass
class RunSummary:
    """What a run produced and how long each stage took."""

    fetch: FetchReport | None
    build: BuildResult
    results: list[SpecResult]
    report_md: Path
    report_html: Path
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def select_specs(only: Sequence[str] | None = None, spec_paths: Sequence[Path] = ()) -> list[Spec]:
    """Shipped specifications (or the user's files), optionally only some ids.

    >>> [s.id for s in select_specs(["C3", "c1"])]
    ['C1', 'C3']
    """
    specs = [load_spec(p) for p in spec_paths] if spec_paths else load_shipped_specs()
    if only:
        wanted = {o.strip().upper() for o in only}
        known = {s.id.upper() for s in specs}
        unknown = sorted(wanted - known)
        if unknown:
            raise SpecError(
                f"--only {', '.join(unknown)}: no such specification; known: "
                f"{', '.join(s.id for s in specs)}"
            )
        specs = [s for s in specs if s.id.upper() in wanted]
    return specs


def run_pipeline(
    *,
    data_dir: Path,
    out_dir: Path,
    cycles: str | None = None,
    mirror: str | None = None,
    only: Sequence[str] | None = None,
    spec_paths: Sequence[Path] = (),
    do_fetch: bool = True,
    synthetic: bool = False,
    step: Step | None = None,
    workers: int | None = None,
) -> RunSummary:
    """Run everything; see the module docstring. Raises :class:`NhanesError` subclasses.

    ``workers`` processes run the specifications (default: one per core; 1 runs them here).
    """
    notify = step or (lambda what, status: None)
    seconds: dict[str, float] = {}
    specs = select_specs(only, spec_paths)  # fail on a bad spec before any long work

    started = time.perf_counter()
    report: FetchReport | None = None
    if do_fetch:
        report = fetch(catalog.parse_cycles(cycles), data_dir=data_dir, mirror=mirror)
        notify("fetch", f"{len(report.fetched)} fetched, {len(report.skipped)} present")
    seconds["fetch"] = time.perf_counter() - started

    started = time.perf_counter()
    caught: list[str] = []
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        build = build_analytic(data_dir, cycles)
    caught += [str(r.message) for r in records if "MissingTable" in type(r.message).__name__]
    write_analytic(build, out_dir)
    seconds["build"] = time.perf_counter() - started
    notify("build", f"{build.frame.height:,} participants")

    started = time.perf_counter()
    results = []
    figures: dict[str, list[Path]] = {}
    for spec in specs:
        _cycles_present(spec, build.frame)
    analytic_path = out_dir / ANALYTIC_NAME
    n_workers = min(workers or (os.cpu_count() or 1), len(specs))
    if n_workers > 1:
        # Specifications are independent: run them in worker processes (spawned, as polars
        # advises against fork), each reading the analytic parquet just written.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(n_workers, mp_context=context) as pool:
            futures = [
                pool.submit(_run_one, spec, analytic_path, out_dir, synthetic) for spec in specs
            ]
            for future in futures:
                result, paths = future.result()
                results.append(result)
                figures[result.spec.id] = paths
                notify(result.spec.id, result.verdict.verdict if result.verdict else "done")
    else:
        for spec in specs:
            result, paths = _run_one(spec, build.frame, out_dir, synthetic)
            results.append(result)
            figures[spec.id] = paths
            notify(spec.id, result.verdict.verdict if result.verdict else "done")
    seconds["analyses"] = time.perf_counter() - started

    started = time.perf_counter()
    meta = dict(build.metadata)
    meta.setdefault("rows", build.frame.height)
    md, html = write_report(
        ReportInputs(results, figures, data_dir, meta, synthetic=synthetic), out_dir
    )
    seconds["report"] = time.perf_counter() - started
    notify("report", str(html))
    return RunSummary(report, build, results, md, html, caught, seconds)


def _run_one(
    spec: Spec, analytic: pl.DataFrame | Path, out_dir: Path, synthetic: bool
) -> tuple[SpecResult, list[Path]]:
    """One specification: estimates, its table and its figures."""
    frame = analytic if isinstance(analytic, pl.DataFrame) else pl.read_parquet(analytic)
    result = run_spec(spec, frame)
    write_tables(result, out_dir / "tables", synthetic=synthetic)
    stamp = SYNTHETIC_STAMP if synthetic else ""
    return result, write_figures(result, out_dir / "figures", stamp=stamp)


def _cycles_present(spec: Spec, frame: pl.DataFrame) -> pl.DataFrame:
    """The analytic frame, checked to hold at least one of the spec's cycles."""
    have = set(frame["cycle"].cast(pl.String).unique().to_list())
    if not have & {c.years for c in spec.cycles}:
        raise SpecError(
            f"{spec.path or spec.id}: field 'cycles': none of {spec.cycles_text} was built "
            f"(built: {', '.join(sorted(have))})"
        )
    return frame
