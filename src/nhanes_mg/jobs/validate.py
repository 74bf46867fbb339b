"""The gallery as a job: ``nhanes-mg validate``, and the gallery step of ``nhanes-mg run``.

Both get the analytic dataset as ``run`` does (:func:`nhanes_mg.jobs.analytic.build_or_reuse`: the
build restored from the data dir's results store when nothing it depends on changed) and keep
the gallery itself in the store under a hash of the targets' text, the expectations, the
build's key and the code: a second run with nothing changed reads it back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.fetch import fetch
from nhanes_mg.data.lock import data_dir_lock
from nhanes_mg.derive import fetched_components
from nhanes_mg.derive.build import ANALYTIC_NAME
from nhanes_mg.files import write_csv
from nhanes_mg.jobs.analytic import build_or_reuse
from nhanes_mg.jobs.outdir import check_output_folder, staged
from nhanes_mg.jobs.store import Payload, ResultStore
from nhanes_mg.study import declared
from nhanes_mg.study.validation.gallery import (
    Target,
    expected_path,
    load_expected,
    load_targets,
    run_validation,
)

TABLE = Path("tables") / "validation.csv"
FIGURE = Path("figures") / "validation.png"


@dataclass
class ValidationSummary:
    """What ``nhanes-mg validate`` produced."""

    table: pl.DataFrame
    table_path: Path
    figure_path: Path
    reused: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def write_validation(table: pl.DataFrame, folder: Path, stamp: str = "") -> list[Path]:
    """``tables/validation.csv`` and ``figures/validation.png`` in ``folder``."""
    csv = folder / TABLE
    csv.parent.mkdir(parents=True, exist_ok=True)
    out = table.with_columns(data=pl.lit(stamp)) if stamp else table
    write_csv(csv, out)
    # lazy: plotnine, only when the gallery is drawn (a reused gallery is copied back)
    from nhanes_mg.report.validation_figure import write_validation_figure

    return [csv, write_validation_figure(table, folder / FIGURE, stamp=stamp)]


def gallery_key(store: ResultStore, build_key: str, targets: Sequence[Target]) -> str:
    """The store key of a gallery: the targets' text, the expectations, the build, the code."""
    expected = expected_path()
    return store.key(
        "validation",
        [(Path(t.path).name, t.text) for t in targets],
        expected.read_text(encoding="utf-8") if expected.is_file() else "",
        build_key,
    )


def stored_gallery(
    store: ResultStore, key: str, stage: Path, reused: list[str] | None = None
) -> pl.DataFrame | None:
    """The stored gallery under ``key``, its files restored into ``stage`` (or ``None``)."""
    hit = store.get(key)
    if hit is None:
        return None
    payload, files = hit
    table = payload.frames.get("gallery")
    if table is None:
        return None
    store.restore(key, files, stage)
    if reused is not None:
        reused.append("validation")
    return table


def compute_gallery(
    analytic_path: Path,
    stage: Path,
    gaps: list[dict[str, object]] | None = None,
    targets: Sequence[Target] | None = None,
    data_dir: Path | None = None,
) -> pl.DataFrame:
    """Estimate the gallery (the shipped targets by default) and write its CSV and figure into
    ``stage``; a top-level function, so that ``run`` can give it to a worker process beside
    the claims. ``data_dir``: where targets' own ``[variables]`` are read."""
    chosen = list(targets) if targets is not None else load_targets()
    frame = pl.read_parquet(analytic_path)
    table = run_validation(frame, chosen, load_expected(), gaps, data_dir)
    write_validation(table, stage)
    return table


def gallery_in_stage(
    store: ResultStore,
    build_key: str,
    analytic_path: Path,
    stage: Path,
    targets: Sequence[Target] | None = None,
    force: bool = False,
    reused: list[str] | None = None,
    gaps: list[dict[str, object]] | None = None,
    data_dir: Path | None = None,
) -> pl.DataFrame:
    """The gallery's table, with its CSV and figure written into ``stage``: read back from the
    store when nothing it depends on changed (then "validation" is added to ``reused``).
    ``gaps``: the build's missing tables (a target needing one is not estimated)."""
    chosen = list(targets) if targets is not None else load_targets()
    key = gallery_key(store, build_key, chosen)
    table = None if force else stored_gallery(store, key, stage, reused)
    if table is not None:
        return table
    table = compute_gallery(analytic_path, stage, gaps, chosen, data_dir)
    store.put(key, Payload(frames={"gallery": table}), stage, [TABLE, FIGURE])
    return table


def validate_pipeline(
    *,
    data_dir: Path,
    out_dir: Path,
    cycles: str | None = "2001-2018",
    mirror: str | None = None,
    spec_paths: Sequence[Path] = (),
    do_fetch: bool = True,
    force: bool = False,
    step: Callable[[str, str], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> ValidationSummary:
    """``nhanes-mg validate``: fetch (what is missing) → build (or reuse) → the gallery →
    ``tables/validation.csv``, ``figures/validation.png`` (and the build's files) in
    ``out_dir``, written through a staging folder as ``run`` writes. ``spec_paths``: the
    user's own targets instead of the shipped ones."""

    notify = step or (lambda what, status: None)
    targets = load_targets(spec_paths or None)  # a bad target fails before any long work
    check_output_folder(out_dir)
    seconds: dict[str, float] = {}
    with data_dir_lock(data_dir, "validate", wait_message=on_wait):
        started = time.perf_counter()
        if do_fetch:
            wanted = fetched_components()
            own = declared.components([t.spec for t in targets if t.spec is not None])
            report = fetch(
                catalog.parse_cycles(cycles),
                [*wanted, *(c for c in own if c not in wanted)],
                data_dir=data_dir,
                mirror=mirror,
            )
            notify("fetch", f"{len(report.fetched)} fetched, {len(report.skipped)} present")
        seconds["fetch"] = time.perf_counter() - started
        store = ResultStore(data_dir)
        reused: list[str] = []
        with staged(out_dir) as staging:
            stage = staging.path
            started = time.perf_counter()
            build_key, meta, caught = build_or_reuse(store, data_dir, cycles, stage, force, reused)
            seconds["build"] = time.perf_counter() - started
            notify("build", f"{meta.get('rows', 0):,} participants")
            started = time.perf_counter()
            table = gallery_in_stage(
                store,
                build_key,
                stage / ANALYTIC_NAME,
                stage,
                targets,
                force,
                reused,
                gaps=list(meta.get("gaps") or []),
                data_dir=data_dir,
            )
            seconds["validation"] = time.perf_counter() - started
            notify("validation", f"{table.height} targets")
    return ValidationSummary(
        table, out_dir / TABLE, out_dir / FIGURE, reused, seconds, warnings=list(caught)
    )
