"""The main job as one function: fetch → build → analyses → tables, figures and report.

``nhanes-mg run`` and ``nhanes-mg demo`` both call :func:`run_pipeline`; the CLI adds progress
bars and the terminal summary.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.fetch import FetchReport, fetch
from nhanes_mg.data.lock import data_dir_lock, remove_stale_temporaries
from nhanes_mg.derive import fetched_components
from nhanes_mg.derive.build import ANALYTIC_NAME, DICTIONARY_NAME, SEAM_FIGURE
from nhanes_mg.errors import SpecError
from nhanes_mg.jobs import validate as validation  # a module: tests stand in for its parts
from nhanes_mg.jobs.analytic import ParseAsFetched, build_or_reuse
from nhanes_mg.jobs.outdir import check_output_folder, staged
from nhanes_mg.jobs.store import Payload, ResultStore
from nhanes_mg.report.data_files import listed
from nhanes_mg.report.document import (
    REPORT_FILES,
    SYNTHETIC_STAMP,
    PreparedReport,
    ReportInputs,
    prepare_report,
    table_names,
    write_tables,
)
from nhanes_mg.report.figure_plan import figure_paths
from nhanes_mg.study import declared
from nhanes_mg.study.results import SpecResult, result_document, result_from_document
from nhanes_mg.study.spec import check_distinct_ids, load_shipped_specs, load_spec
from nhanes_mg.study.spec_types import ModelAnalysis, Spec, UsualIntakeAnalysis

if TYPE_CHECKING:
    from nhanes_mg.study.plan import Plan
from nhanes_mg.workers import WorkerPool, default_workers

Step = Callable[[str, str], None]  # (what, status) as each piece finishes


@dataclass
class JobTime:
    """Where one job of the analyses stage spent its wall time (``nhanes-mg run --profile``):
    a claim's estimation (and each of its analyses), its tables and its figures, or the
    validation gallery's whole job; ``processes``: the pids of the workers it ran in."""

    estimate: float = 0.0
    tables: float = 0.0
    figures: float = 0.0
    analyses: dict[str, float] = field(default_factory=dict)
    processes: set[int] = field(default_factory=set)

    @property
    def total(self) -> float:
        return self.estimate + self.tables + self.figures


@dataclass
class RunSummary:
    """What a run produced and how long each stage took."""

    fetch: FetchReport | None
    analytic: dict[str, object]  # the build's metadata (cycles, rows, gaps, …)
    results: list[SpecResult]
    report_md: Path
    report_html: Path
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    incomplete: list[tuple[str, str]] = field(default_factory=list)  # (claim, what is missing)
    moved: int = 0  # files moved into the output folder
    reused: list[str] = field(default_factory=list)  # "build" and the specifications reused
    validation: pl.DataFrame | None = None  # the validation gallery (None: not run)
    jobs: dict[str, JobTime] = field(default_factory=dict)  # computed claims and the gallery
    # the report was rendered while the workers drew the last figures (else at the end)
    report_while_drawing: bool = False


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
    check_distinct_ids(specs)
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
    allow_incomplete: bool = False,
    on_wait: Callable[[str], None] | None = None,
    force: bool = False,
    validate: bool = False,
    specs: Sequence[Spec] | None = None,
) -> RunSummary:
    """Run everything; see the module docstring. Raises :class:`NhanesError` subclasses.

    ``workers`` processes run the specifications (default: ``NHANES_MG_WORKERS``, else one
    per core; 1 runs them here).
    Outputs are written to a staging folder inside ``out_dir`` and moved into place at the
    end, so ``out_dir`` holds the files of one whole run (or of the previous one, if this one
    fails or is interrupted). A claim that needs a missing table is not estimated (see
    :func:`nhanes_mg.study.analyses.run_spec`); ``summary.incomplete`` lists them. The data dir is
    locked for the run: a second run on it waits (``on_wait`` says so) instead of racing.
    The build and each specification's results are reused from the data dir's results store
    when nothing they depend on changed (:mod:`nhanes_mg.jobs.store`); ``force`` recomputes all.
    ``validate`` adds the validation gallery (:mod:`nhanes_mg.study.validation`; not on synthetic
    data): ``tables/validation.csv``, ``figures/validation.png`` and a report section
    (``nhanes-mg run`` asks for it unless ``--no-validate``). ``specs``: those
    :func:`select_specs` chose already (then ``only`` and ``spec_paths`` are not read again).
    """
    if cycles is not None:
        catalog.parse_cycles(cycles)  # a bad --cycles: refused before any folder is made
    workers = workers or default_workers()  # a bad NHANES_MG_WORKERS: refused here too
    with data_dir_lock(data_dir, "run", wait_message=on_wait):
        return _run_locked(
            data_dir=data_dir, out_dir=out_dir, cycles=cycles, mirror=mirror, only=only,
            spec_paths=spec_paths, do_fetch=do_fetch, synthetic=synthetic, step=step,
            workers=workers, allow_incomplete=allow_incomplete, force=force,
            validate=validate, chosen=specs,
        )  # fmt: skip


def _run_locked(
    *,
    data_dir: Path,
    out_dir: Path,
    cycles: str | None,
    mirror: str | None,
    only: Sequence[str] | None,
    spec_paths: Sequence[Path],
    do_fetch: bool,
    synthetic: bool,
    step: Step | None,
    workers: int | None,
    allow_incomplete: bool,
    force: bool,
    validate: bool = False,
    chosen: Sequence[Spec] | None = None,
) -> RunSummary:
    notify = step or (lambda what, status: None)
    seconds: dict[str, float] = {}
    # fail on a bad spec before any long work
    specs = list(chosen) if chosen is not None else select_specs(only, spec_paths)
    check_output_folder(out_dir)  # before any long work
    skipped: list[str] = []
    if cycles is not None:
        specs, skipped = _specs_for_cycles(specs, catalog.parse_cycles(cycles))
    # the validation gallery's targets (published estimates beside ours; not on made-up data)
    targets = validation.load_targets() if validate and not synthetic else []

    # the run's worker processes: started (and importing what they need) as soon as work is
    # known to come — files to fetch, a build, results to compute — never for a run that
    # reuses everything
    with WorkerPool(workers, WORKER_MODULES) as pool:
        return _run_with_pool(
            pool, data_dir, out_dir, cycles, mirror, specs, skipped, targets, do_fetch,
            synthetic, notify, allow_incomplete, force, seconds,
        )  # fmt: skip


# what a run's workers import as they start: the parse, the analyses, the figures, the gallery
# (or only what drawing figures needs, when every analysis's estimates are stored)
DRAWING_MODULES = ("nhanes_mg.report.figures",)
WORKER_MODULES = (
    "nhanes_mg.data.read",
    "nhanes_mg.derive.seam",
    "nhanes_mg.study.analyses",
    "nhanes_mg.report.figures",
    "nhanes_mg.study.validation.gallery",
)


def _run_with_pool(
    pool: WorkerPool,
    data_dir: Path,
    out_dir: Path,
    cycles: str | None,
    mirror: str | None,
    specs: list[Spec],
    skipped: list[str],
    targets: list[validation.Target],
    do_fetch: bool,
    synthetic: bool,
    notify: Step,
    allow_incomplete: bool,
    force: bool,
    seconds: dict[str, float],
) -> RunSummary:
    started = time.perf_counter()
    report: FetchReport | None = None
    if do_fetch:
        wanted = fetched_components()
        # the tables the specifications' (and the gallery's targets') own variables come from
        readers = [*specs, *(t.spec for t in targets if t.spec is not None)]
        components = [*wanted, *(c for c in declared.components(readers) if c not in wanted)]
        # the workers start as soon as there is something to fetch, and parse each file
        # fetched while this process decompresses the next
        parse = ParseAsFetched(pool, data_dir)
        try:
            report = fetch(
                catalog.parse_cycles(cycles), components, data_dir=data_dir, mirror=mirror,
                on_todo=lambda _: pool.start(), progress=parse,
            )  # fmt: skip
            parse.wait()
        except BaseException:
            parse.abandon()
            raise
        notify("fetch", f"{len(report.fetched)} fetched, {len(report.skipped)} present")
    seconds["fetch"] = time.perf_counter() - started

    store = ResultStore(data_dir)
    reused: list[str] = []
    # on an interrupt or a failure the workers stop before the staging folder is removed
    # (they would go on writing into it), and what they half-wrote in the store goes
    halfway = functools.partial(remove_stale_temporaries, store.root)  # our lock: no writer
    with staged(out_dir) as staging, pool.stopping(then=halfway):
        stage = staging.path
        started = time.perf_counter()
        later: list[Callable[[], None]] = []  # the seam table and figure stored once drawn
        build_key, meta, caught = build_or_reuse(
            store, data_dir, cycles, stage, force, reused, pool, later
        )
        seconds["build"] = time.perf_counter() - started
        notify(
            "build",
            f"{meta.get('rows', 0):,} participants" + (" (reused)" if "build" in reused else ""),
        )

        started = time.perf_counter()
        for spec in specs:
            _cycles_present(spec, meta)
        keys = {s.id: store.key("spec", _spec_text(s), build_key, allow_incomplete, synthetic)
                for s in specs}  # fmt: skip
        # each analysis's estimates are stored too, keyed by what they depend on: an edit
        # of a specification recomputes only the analyses it touches
        basis = store.key("pieces", build_key, allow_incomplete, synthetic)
        pieces = _Pieces(data_dir, basis, reuse=not force)
        changed = [s for s in specs if force or not store.has(keys[s.id])]
        if changed:  # something to compute: the workers start while the rest is read
            if not pool.started and all(pieces.stored(s) for s in changed):
                pool.modules = DRAWING_MODULES  # only figures to draw (a title edited, say)
            pool.start()
        # the specifications' own variables, read now: a missing table or column stops the
        # run here, before any estimation
        own = _declared_columns(specs, stage / ANALYTIC_NAME, data_dir)
        if own:
            _add_to_dictionary(stage / DICTIONARY_NAME, specs)
        options = (meta.get("gaps") or [], allow_incomplete, stage, synthetic)
        done: dict[str, tuple[SpecResult, list[Path]]] = {}
        todo = []
        for spec in specs:
            hit = None if force else store.get(keys[spec.id])
            stored = _stored_result(spec, hit)
            if hit is None or stored is None:
                todo.append(spec)
                continue
            result, figure_names = stored
            store.restore(keys[spec.id], hit[1], stage)
            done[spec.id] = (result, [stage / name for name in figure_names])
            reused.append(spec.id)
            notify(spec.id, (result.verdict.verdict if result.verdict else "done") + " (reused)")
        # the validation gallery: read back, or estimated in the worker pool beside the claims
        # (its NCI usual-intake estimations are the longest single job, so it starts first)
        gallery: pl.DataFrame | None = None
        gallery_job: Callable[[], pl.DataFrame] | None = None
        gallery_store_key = ""
        if targets:
            gallery_store_key = validation.gallery_key(store, build_key, targets)
            if not force:
                gallery = validation.stored_gallery(store, gallery_store_key, stage, reused)
            if gallery is None:
                gaps = list(meta.get("gaps") or [])  # type: ignore[call-overload]
                gallery_job = functools.partial(
                    validation.compute_gallery,
                    stage / ANALYTIC_NAME,
                    stage,
                    gaps,
                    targets,
                    data_dir=data_dir,
                )
        # the report is a function of the results (their keys), the gallery, the build and
        # the data files it lists: an unchanged run copies it back instead of rendering it
        report_key = store.key(
            "report", build_key, [keys[s.id] for s in specs], gallery_store_key, synthetic,
            _listed_files(data_dir),
        )  # fmt: skip
        report_hit = None if force else store.get(report_key)
        early: list[PreparedReport] = []

        def render_while_drawing(merged: dict[str, SpecResult], made: pl.DataFrame | None) -> None:
            """The report rendered here while the workers draw the last figures, when all
            else it shows is in place: not while the gallery is being made (``made``: its
            table once its job is done). A seam figure still being drawn is not in these
            inputs, so the final ones differ and the report is rendered again after."""
            if report_hit is not None or (gallery_job is not None and made is None):
                return
            chosen = [done[s.id][0] if s.id in done else merged[s.id] for s in specs]
            planned = {r.spec.id: figure_paths(r, stage / "figures") for r in merged.values()}
            planned |= {s.id: done[s.id][1] for s in specs if s.id in done}
            shown = made if gallery_job is not None else gallery
            early.append(
                prepare_report(
                    _report_inputs(chosen, planned, data_dir, meta, synthetic, shown, stage)
                )
            )

        side: dict[str, pl.DataFrame] = {}  # the gallery's table, when a worker made it
        jobs: dict[str, JobTime] = {}
        computed = _compute(
            todo, stage / ANALYTIC_NAME, own, options, pool, notify, gallery_job, side, jobs,
            pieces, render_while_drawing,
        )  # fmt: skip
        for result, paths, timing in computed:
            jobs[result.spec.id] = timing
            done[result.spec.id] = (result, paths)
            relpaths = [p.relative_to(stage) for p in [*_table_paths(stage, result), *paths]]
            names = [str(p.relative_to(stage)) for p in paths]
            data, frames = result_document(result)
            payload = Payload({"result": data, "figures": names}, frames)
            store.put(keys[result.spec.id], payload, stage, relpaths)
        results = [done[s.id][0] for s in specs]
        figures = {s.id: done[s.id][1] for s in specs}
        for finish in later:
            finish()
        seconds["analyses"] = time.perf_counter() - started
        pool.close()  # its work is in: the workers end while the report is written

        if gallery_job is not None:
            started = time.perf_counter()
            gallery = side.get("gallery")
            if gallery is None:  # no claim to compute: the gallery ran alone
                gallery, jobs["validation"] = _timed(gallery_job)
            store.put(
                gallery_store_key,
                Payload(frames={"gallery": gallery}),
                stage,
                [validation.TABLE, validation.FIGURE],
            )
            seconds["validation"] = time.perf_counter() - started  # beyond the claims' time
        if gallery is not None:
            notify("validation", f"{gallery.height} targets")

        started = time.perf_counter()
        inputs = _report_inputs(results, figures, data_dir, meta, synthetic, gallery, stage)
        while_drawing = False
        if report_hit is not None and {Path(n) for n in REPORT_FILES} <= set(report_hit[1]):
            store.restore(report_key, [Path(n) for n in REPORT_FILES], stage)
            reused.append("report")
        else:
            # rendered while the workers drew, when it was made of these very inputs
            while_drawing = bool(early) and _same_inputs(early[0].inputs, inputs)
            (early[0] if while_drawing else prepare_report(inputs)).write(stage)
            store.put(report_key, Payload(data={}), stage, list(REPORT_FILES))
    seconds["report"] = time.perf_counter() - started
    md, html = out_dir / "report.md", out_dir / "report.html"
    notify("report", str(html))
    summary = RunSummary(report, meta, results, md, html, caught + skipped, seconds)
    summary.incomplete = [(r.spec.id, line) for r in results for line in r.incomplete]
    summary.moved = staging.moved
    summary.reused = reused
    summary.validation = gallery
    summary.jobs = jobs
    summary.report_while_drawing = while_drawing
    return summary


def _report_inputs(
    results: list[SpecResult],
    figures: dict[str, list[Path]],
    data_dir: Path,
    meta: dict[str, object],
    synthetic: bool,
    gallery: pl.DataFrame | None,
    stage: Path,
) -> ReportInputs:
    """What the report of a run is made of (the seam's figure when the build made one)."""
    inputs = ReportInputs(results, figures, data_dir, meta, synthetic=synthetic)
    if (stage / SEAM_FIGURE).exists():
        inputs.seam_figure = stage / SEAM_FIGURE
    if gallery is not None:
        inputs.validation, inputs.validation_figure = gallery, stage / validation.FIGURE
    return inputs


def _same_inputs(early: ReportInputs, final: ReportInputs) -> bool:
    """The report rendered early was made of the final inputs: the same result objects, the
    same figure files, the same seam figure and gallery."""
    return (
        len(early.results) == len(final.results)
        and all(a is b for a, b in zip(early.results, final.results, strict=True))
        and early.figures == final.figures
        and early.seam_figure == final.seam_figure
        and early.validation is final.validation
        and early.validation_figure == final.validation_figure
    )


def _listed_files(data_dir: Path) -> list[tuple[str, str, bool]]:
    """The data files the report lists: each fetched file, its sha256 and whether it is still
    there (one deleted since it was fetched is not listed)."""
    return [(str(e["file"]), str(e["sha256"]), present) for e, present in listed(data_dir)]


def _stored_result(
    spec: Spec, hit: tuple[Payload, list[Path]] | None
) -> tuple[SpecResult, list[str]] | None:
    """A specification's stored result and figure names (only files the entry verified), or
    None when the entry does not make one (then it is recomputed)."""
    if hit is None:
        return None
    payload, files = hit
    try:
        result = result_from_document(spec, payload.data["result"], payload.frames)
        names = [str(n) for n in payload.data["figures"]]
    except (KeyError, TypeError, ValueError):
        return None
    return (result, names) if {Path(n) for n in names} <= set(files) else None


def _spec_text(spec: Spec) -> str:
    """What a specification's results depend on: its file's text (or its parsed form)."""
    path = Path(spec.path)
    return path.read_text(encoding="utf-8") if spec.path and path.is_file() else repr(spec)


def _table_paths(stage: Path, result: SpecResult) -> list[Path]:
    folder = stage / "tables"
    return [folder / name for name in table_names(result.spec.id) if (folder / name).exists()]


def _declared_columns(
    specs: list[Spec], analytic_path: Path, data_dir: Path
) -> dict[str, pl.DataFrame]:
    """SEQN and the declared variables of each specification that declares some."""
    wanting = [s for s in specs if s.variables]
    if not wanting:
        return {}
    frame = pl.read_parquet(analytic_path)
    return {
        s.id: declared.attach(frame, s, data_dir).select("seqn", *(v.name for v in s.variables))
        for s in wanting
    }


def _add_to_dictionary(path: Path, specs: list[Spec]) -> None:
    """Append the specifications' declared variables to the output's data dictionary."""
    lines = ["", "## Variables declared by specifications", ""]
    lines += ["| specification | variable | label | unit | source |", "|---|---|---|---|---|"]
    for s in specs:
        for v in s.variables:
            source = v.source_text.replace("|", "\\|")
            lines.append(f"| {s.id} | `{v.name}` | {v.label} | {v.unit} | {source} |")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")


def _compute(
    specs: list[Spec],
    analytic_path: Path,
    own: dict[str, pl.DataFrame],
    options: tuple[list[dict[str, object]], bool, Path, bool],
    pool: WorkerPool,
    notify: Step,
    gallery_job: Callable[[], pl.DataFrame] | None = None,
    extra: dict[str, pl.DataFrame] | None = None,
    times: dict[str, JobTime] | None = None,
    stored: _Pieces | None = None,
    estimated: Callable[[dict[str, SpecResult], pl.DataFrame | None], None] | None = None,
) -> Iterator[tuple[SpecResult, list[Path], JobTime]]:
    """Run specifications, and the validation gallery's job beside them when given (its table
    into ``extra``, its time into ``times``). ``estimated`` is called with every
    specification's result once the last is estimated (its figures may still be drawing),
    and the gallery's table when its job is done by then (else None).

    Each specification's analyses run as pieces in the pool's worker processes (here, with
    one worker allowed; :func:`nhanes_mg.study.pieces.parts_of`): the longest kinds first,
    so that no long piece starts last. A piece whose estimates ``stored`` holds is read back instead
    (and one computed is stored there by its worker). A specification's pieces are put back
    together and judged here as soon as the last of them is in, and its tables and figures
    drawn in a worker."""
    times = {} if times is None else times
    if not specs:
        return
    # lazy: a run that reuses every result never needs them
    from nhanes_mg.study.pieces import merge_parts, parts_of

    gaps, allow_incomplete, out_dir, synthetic = options
    gallery = pool.submit(_timed, gallery_job) if gallery_job is not None else None
    got: dict[str, dict[int, SpecResult]] = {s.id: {} for s in specs}  # by plan position
    todo: list[tuple[Spec, tuple[int, ...], list[str]]] = []
    for spec in specs:
        for part in parts_of(spec):
            keys = stored.keys(spec, part) if stored is not None else []
            found = stored.read(spec, keys) if stored is not None else None
            if found is None:
                todo.append((spec, part, keys))
            else:
                got[spec.id].update(zip(part, found, strict=True))
    running: dict[Future[Any], tuple[Spec, tuple[int, ...]]] = {}  # analyses
    for spec, part, keys in sorted(todo, key=lambda piece: -_expected_cost(*piece[:2])):
        submitted = pool.submit(
            _run_piece, spec, analytic_path, own.get(spec.id), gaps, allow_incomplete, part,
            (stored.data_dir, keys) if stored is not None else None,
        )  # fmt: skip
        running[submitted] = (spec, part)
    timings = {s.id: JobTime() for s in specs}
    drawing: dict[Future[Any], SpecResult] = {}  # tables and figures
    unfinished: dict[str, int] = {}  # a specification's drawing jobs not done yet
    merged: dict[str, SpecResult] = {}

    def draw_when_complete(spec: Spec) -> None:
        if len(got[spec.id]) < len(spec.analyses) + len(spec.sensitivities):
            return
        result = merge_parts(spec, [got[spec.id][i] for i in sorted(got[spec.id])])
        # its figures shared among the workers (the tables with the first share)
        for k in range(pool.size):
            share = (k, pool.size)
            drawing[pool.submit(_draw, result, out_dir, synthetic, share)] = result
            unfinished[spec.id] = unfinished.get(spec.id, 0) + 1
        merged[spec.id] = result
        if estimated is not None and len(merged) == len(specs):
            made = None  # the gallery's table, when its job is done (and did not fail)
            if gallery is not None and gallery.done() and gallery.exception() is None:
                made = gallery.result()[0]
            estimated(merged, made)  # while the workers draw

    for spec in specs:
        if not any(s is spec for s, _, _ in todo):  # every piece read back
            draw_when_complete(spec)
    while running or drawing:
        finished, _ = wait([*running, *drawing], return_when=FIRST_COMPLETED)
        for future in finished:
            if future in running:
                spec, part = running.pop(future)
                pieces, seconds, pid = future.result()
                got[spec.id].update(zip(part, pieces, strict=True))
                timings[spec.id].estimate += seconds
                timings[spec.id].processes.add(pid)
                draw_when_complete(spec)
                continue
            result = drawing.pop(future)
            paths, tables, figures, pid = future.result()
            timing = timings[result.spec.id]
            timing.tables += tables
            timing.figures += figures
            timing.processes.add(pid)
            unfinished[result.spec.id] -= 1
            if unfinished[result.spec.id] == 0:
                timing.analyses = dict(result.seconds)
                notify(result.spec.id, result.verdict.verdict if result.verdict else "done")
                yield result, paths, timing
    if gallery is not None and extra is not None:
        extra["gallery"], times["validation"] = gallery.result()


def _expected_cost(spec: Spec, part: tuple[int, ...]) -> int:
    """A rank of how long a piece takes (no time is measured beforehand): a regression
    calibration (its replicate refits), the usual-intake estimations, a multiply imputed
    model, then any other analysis."""
    analyses = (*spec.analyses, *spec.sensitivities)
    chosen = [analyses[i] for i in part]
    models = [a for a in chosen if isinstance(a, ModelAnalysis)]
    if any(a.exposure_error != "none" for a in models):
        return 3
    if any(isinstance(a, UsualIntakeAnalysis) for a in chosen):
        return 2
    return 1 if any(a.missing == "impute" for a in models) else 0


def _run_piece(
    spec: Spec,
    analytic_path: Path,
    own: pl.DataFrame | None,
    gaps: list[dict[str, object]],
    allow_incomplete: bool,
    part: tuple[int, ...],
    store_as: tuple[Path, list[str]] | None = None,
) -> tuple[list[SpecResult], float, int]:
    """Some of a specification's analyses, in a worker: their results (no verdicts, one per
    analysis of ``part``), the wall seconds and the worker's pid. ``store_as``: the data dir
    whose results store keeps each result, and its key."""
    # lazy: a run that reuses every result never loads the survey engine
    from nhanes_mg.study.analyses import run_part

    started = time.perf_counter()
    pieces = run_part(*_prepared(spec, analytic_path, own, gaps, allow_incomplete), part)
    for piece in pieces:
        piece.usual_cache.clear()  # intermediate usual-intake tables: not sent back
    if store_as is not None:
        data_dir, keys = store_as
        for key, piece in zip(keys, pieces, strict=True):
            data, frames = result_document(piece)
            ResultStore(data_dir).put(key, Payload({"piece": data}, frames), data_dir, [])
    return pieces, time.perf_counter() - started, os.getpid()


@dataclass
class _Pieces:
    """The stored estimates of single analyses (pieces of a specification): their keys and
    reading them back. ``basis``: the key of what every piece depends on besides its
    specification (the build, the options, the code)."""

    data_dir: Path
    basis: str
    reuse: bool = True  # False (--force): every piece computed (and stored) anew
    known: dict[tuple[str, tuple[int, ...]], list[str]] = field(default_factory=dict)

    def keys(self, spec: Spec, part: tuple[int, ...]) -> list[str]:
        """One key per analysis of the piece (its position in the plan, and what it reads of
        the specification: :func:`~nhanes_mg.study.pieces.estimation_basis`); made once."""
        from nhanes_mg.study.pieces import estimation_basis  # lazy: as _compute's import

        if (spec.id, part) not in self.known:  # a run's specifications have distinct ids
            text = estimation_basis(spec, part)
            self.known[spec.id, part] = [
                ResultStore.key("analysis", self.basis, text, i) for i in part
            ]
        return self.known[spec.id, part]

    def stored(self, spec: Spec) -> bool:
        """Every analysis of ``spec`` has an entry (not yet verified: :meth:`read` does)."""
        from nhanes_mg.study.pieces import parts_of  # lazy: as _compute's import

        store = ResultStore(self.data_dir)
        parts = parts_of(spec)
        return self.reuse and all(store.has(k) for p in parts for k in self.keys(spec, p))

    def read(self, spec: Spec, keys: list[str]) -> list[SpecResult] | None:
        """The piece's results, or None when any is not stored (or not usable)."""
        if not self.reuse:
            return None
        store, found = ResultStore(self.data_dir), []
        for key in keys:
            hit = store.get(key) if store.has(key) else None
            if hit is None:
                return None
            payload = hit[0]
            try:
                found.append(result_from_document(spec, payload.data["piece"], payload.frames))
            except (KeyError, TypeError, ValueError):
                return None
        return found


# the last specifications a worker compiled, with their datasets (its pieces come in runs)
_PREPARED: dict[str, tuple[Plan, pl.DataFrame]] = {}


def _prepared(
    spec: Spec,
    analytic_path: Path,
    own: pl.DataFrame | None,
    gaps: list[dict[str, object]],
    allow_incomplete: bool,
) -> tuple[Plan, pl.DataFrame]:
    """A specification's compiled plan and its dataset (the analytic dataset, its declared
    variables joined): made once per worker for the pieces of one specification."""
    from nhanes_mg.study.analyses import prepare  # lazy: as _run_piece's import

    key = repr((str(analytic_path), spec, own is not None, gaps, allow_incomplete))
    digest = hashlib.sha256(key.encode()).hexdigest()
    if digest not in _PREPARED:
        frame = _analytic(analytic_path)
        if own is not None:  # the specification's declared variables
            frame = frame.join(own, on="seqn", how="left")
        while len(_PREPARED) >= 2:
            _PREPARED.pop(next(iter(_PREPARED)))
        _PREPARED[digest] = prepare(spec, frame, gaps, allow_incomplete)
    return _PREPARED[digest]


@functools.lru_cache(maxsize=1)
def _analytic(path: Path) -> pl.DataFrame:
    """The analytic dataset, read once per worker process (the pool lives for one run)."""
    return pl.read_parquet(path)


def _draw(
    result: SpecResult, out_dir: Path, synthetic: bool, share: tuple[int, int]
) -> tuple[list[Path], float, float, int]:
    """A share of a specification's figures (:func:`~nhanes_mg.report.figures.write_figures`)
    and, with the first share, its tables, in a worker: all its figures' paths, the seconds
    of each and the worker's pid."""
    # lazy: a run that reuses every result never loads plotnine
    from nhanes_mg.report.figures import write_figures

    started = time.perf_counter()
    if share[0] == 0:
        write_tables(result, out_dir / "tables", synthetic=synthetic)
    tables = (now := time.perf_counter()) - started
    stamp = SYNTHETIC_STAMP if synthetic else ""
    paths = write_figures(result, out_dir / "figures", stamp=stamp, share=share)
    return paths, tables, time.perf_counter() - now, os.getpid()


def _timed(job: Callable[[], pl.DataFrame]) -> tuple[pl.DataFrame, JobTime]:
    """The gallery's job and its wall time (a top-level function: it runs in a worker)."""
    started = time.perf_counter()
    table = job()
    return table, JobTime(estimate=time.perf_counter() - started, processes={os.getpid()})


def _specs_for_cycles(
    specs: list[Spec], chosen: Sequence[catalog.Cycle]
) -> tuple[list[Spec], list[str]]:
    """The specifications with at least one of the chosen cycles, and a note on the others.

    >>> kept, notes = _specs_for_cycles(load_shipped_specs(), catalog.parse_cycles("2003-2006"))
    >>> [s.id for s in kept], notes[0][:40]
    (['C1', 'C2', 'C3', 'C5', 'C6'], 'C4 skipped: none of its cycles (2007-200')
    """
    years = {c.years for c in chosen}
    kept = [s for s in specs if years & {c.years for c in s.cycles}]
    notes = [
        f"{s.id} skipped: none of its cycles ({s.cycles_text}) is among --cycles"
        for s in specs
        if s not in kept
    ]
    if not kept:
        raise SpecError(
            f"--cycles {', '.join(sorted(years))}: no specification covers these cycles "
            f"({'; '.join(notes)})"
        )
    return kept, notes


def _cycles_present(spec: Spec, meta: dict[str, object]) -> None:
    """Raise :class:`SpecError` unless the build holds at least one of the spec's cycles."""
    built = meta.get("cycles")
    have = set(built) if isinstance(built, list) else set()
    if not have & {c.years for c in spec.cycles}:
        raise SpecError(
            f"{spec.path or spec.id}: field 'cycles': none of {spec.cycles_text} was built "
            f"(built: {', '.join(sorted(have))})"
        )
