"""The ``nhanes-mg`` command line: fetch → build → analyses → report.

Every :class:`~nhanes_mg.errors.NhanesError` ends the command with one red line and exit
code 1; no traceback. Each command imports its job (:mod:`nhanes_mg.jobs`) when it runs, so
that ``--help``, ``--version`` and ``specs`` (without ``--spec``/``--plan``) do not load the
survey engine or plotnine.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import shutil

# One BLAS thread per process: the models are many small solves, where threaded OpenBLAS
# only adds contention (measured ~10x slower on a loaded 2-core machine), and `run` already
# runs specifications in parallel processes. Set before numpy loads; the user's value wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Annotated, TypeVar, cast

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nhanes_mg import __version__
from nhanes_mg.data import catalog
from nhanes_mg.data import fetch as fetch_mod
from nhanes_mg.errors import EstimationError, IncompleteDataError, NhanesError, SpecError

app = typer.Typer(
    name="nhanes-mg",
    help="Magnesium, calcium and vitamin D claims checked on public NHANES data.",
    no_args_is_help=True,
    add_completion=False,
)


class PipeClosed(Exception):
    """The reader of standard output went away (``nhanes-mg … | head``)."""


class _Stdout(io.TextIOBase):
    """Standard output as it is at each write (so that tests may capture it), turning a
    broken pipe into :class:`PipeClosed`: the bundled click would otherwise end the command
    with exit 1 and no word."""

    def write(self, text: str) -> int:
        try:
            return sys.stdout.write(text)
        except BrokenPipeError as exc:
            raise PipeClosed from exc

    def flush(self) -> None:
        try:
            sys.stdout.flush()
        except BrokenPipeError as exc:
            raise PipeClosed from exc

    def isatty(self) -> bool:
        return sys.stdout.isatty()

    def fileno(self) -> int:  # the terminal's width is read from it
        return sys.stdout.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(sys.stdout, "encoding", None) or "utf-8"


console = Console(stderr=True, soft_wrap=True)
out = Console(file=cast(IO[str], _Stdout()))

T = TypeVar("T")

CyclesOpt = Annotated[
    str,
    typer.Option("--cycles", help="Cycle range or list: 2001-2018, 2005-2006,2007-2008"),
]


def _home(value: object) -> object:
    """``~`` in a path option means the home folder, as in a shell (``--data-dir=~/x`` is not
    expanded by the shell): expanded for every path option."""
    if isinstance(value, Path):
        return value.expanduser()
    if isinstance(value, str) and value.startswith("~"):
        return os.path.expanduser(value)
    if isinstance(value, list):
        return [_home(v) for v in value]
    return value


MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        help="Offline mirror: a folder laid out like ../shared/nhanes (cycle folders or a "
        ".tar.xz of them) or a base URL. Default: CDC.",
        callback=_home,
    ),
]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="Download cache.", callback=_home)]


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[str, str], None]]:
    """A rich progress bar; yields the per-file callback fetch and build report through."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # piped or logged: no bar (and no blank line left)
    ) as bar:
        task = bar.add_task(description, total=total, current="")

        def advance(item: str, status: str) -> None:
            bar.update(task, advance=1, current=f"{status}: {item}")

        yield advance


def _waiting(message: str) -> None:
    console.print(f"[yellow]{escape(message)}[/]")


def _run_fetch(
    cycles: str, mirror: str | None, data_dir: Path, components: list[str]
) -> fetch_mod.FetchReport:
    chosen = catalog.parse_cycles(cycles)
    n_planned = len(fetch_mod.plan_files(chosen, components, nhanes3_mortality=True))
    from nhanes_mg.data.lock import data_dir_lock

    with (
        data_dir_lock(data_dir, "fetch", wait_message=_waiting),
        _progress("Fetching NHANES files", n_planned) as advance,
    ):
        report = fetch_mod.fetch(
            chosen, components, data_dir=data_dir, mirror=mirror, progress=advance
        )
    console.print(
        f"[green]✓[/] {len(report.fetched)} file(s) fetched, {len(report.skipped)} already "
        f"present and valid, in {data_dir} (source: {report.source})"
    )
    if report.missing:
        console.print(f"[yellow]{len(report.missing)} file(s) not offered by the source:[/]")
        for line in report.missing:
            console.print(f"  [yellow]·[/] {line}")
    return report


@app.command()
def fetch(
    cycles: CyclesOpt = "2001-2018",
    tables: Annotated[
        str | None,
        typer.Option("--tables", help="Comma-separated components (DEMO,DR1TOT,…); default all."),
    ] = None,
    mirror: MirrorOpt = None,
    data_dir: DataDirOpt = Path("data/raw"),
) -> None:
    """Download NHANES tables and linked-mortality files (skips files already valid)."""
    if tables:
        components = [t.strip().upper() for t in tables.split(",")]
    else:
        from nhanes_mg.derive import fetched_components  # lazy: `--help` stays fast

        components = list(fetched_components())
    _run_fetch(cycles, mirror, data_dir, components)


OutOpt = Annotated[Path, typer.Option("--out", help="Output folder.", callback=_home)]


@app.command()
def build(
    cycles: CyclesOpt = "2001-2018",
    data_dir: DataDirOpt = Path("data/raw"),
    out_dir: OutOpt = Path("outputs"),
) -> None:
    """Derive the analytic dataset (analytic.parquet + data dictionary) from fetched tables."""
    import warnings

    from nhanes_mg.data.lock import data_dir_lock
    from nhanes_mg.derive import ANALYTIC_NAME, build_analytic, format_summary, write_analytic
    from nhanes_mg.jobs.analytic import parse_in_parallel
    from nhanes_mg.jobs.outdir import check_output_folder, staged

    catalog.parse_cycles(cycles)  # a bad --cycles: refused before any folder is made
    check_output_folder(out_dir)  # before the lock and the build (outdir.py)
    with (
        data_dir_lock(data_dir, "build", wait_message=_waiting),
        console.status("Building the analytic dataset …"),
        warnings.catch_warnings(record=True) as records,
    ):
        warnings.simplefilter("always")
        parse_in_parallel(data_dir)  # a first build's XPT files, in worker processes
        result = build_analytic(data_dir, cycles)
    for record in records:
        if "MissingTable" in type(record.message).__name__:
            console.print(f"[yellow]warning:[/] {record.message}")
    with staged(out_dir) as staging:  # one whole build in --out, as a run's (outdir.py)
        write_analytic(result, staging.path)
    path = out_dir / ANALYTIC_NAME
    out.print(format_summary(result))
    console.print(
        f"[green]✓[/] wrote {path} ({result.frame.height:,} rows, {result.frame.width} columns)"
    )


@app.command()
def run(
    cycles: CyclesOpt = "2001-2018",
    mirror: MirrorOpt = None,
    data_dir: DataDirOpt = Path("data/raw"),
    out_dir: OutOpt = Path("outputs"),
    only: Annotated[
        str | None, typer.Option("--only", help="Only these claims: C3 or C1,C3.")
    ] = None,
    spec: Annotated[
        list[Path] | None,
        typer.Option(
            "--spec",
            help="Your own specification file instead of the shipped ones (repeat for more: "
            "--spec a.toml --spec b.toml).",
            callback=_home,
        ),
    ] = None,
    allow_incomplete: Annotated[
        bool,
        typer.Option(
            "--allow-incomplete",
            help="Estimate a claim on the cycles present when a table it needs is missing "
            "(the report says so beside the verdict). Default: such a claim is not estimated "
            "and run exits 1.",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Recompute everything (default: reuse the build and each claim's "
            "results when nothing they depend on changed).",
        ),
    ] = False,
    no_validate: Annotated[
        bool,
        typer.Option(
            "--no-validate",
            help="Leave out the validation gallery (published NHANES estimates reproduced; "
            "see `nhanes-mg validate`).",
        ),
    ] = False,
    profile: Annotated[
        bool,
        typer.Option(
            "--profile",
            help="Print where the time went: each stage, each computed claim (estimation, "
            "tables, figures) and its slowest analyses, the validation gallery.",
        ),
    ] = False,
) -> None:
    """The main job: fetch → build → analyses → tables, figures and report."""
    from nhanes_mg.jobs.run import run_pipeline, select_specs

    only_ids = [o for o in (only or "").split(",") if o.strip()]
    chosen = select_specs(only_ids, spec or [])  # read once: for the progress bar and the run
    with _progress("nhanes-mg run", len(chosen) + 3 + (not no_validate)) as advance:
        summary = run_pipeline(
            data_dir=data_dir,
            out_dir=out_dir,
            cycles=cycles,
            mirror=mirror,
            specs=chosen,
            step=lambda what, status: advance(what, status),
            allow_incomplete=allow_incomplete,
            on_wait=_waiting,
            force=force,
            validate=not no_validate,
        )
    _print_summary(summary)
    if profile:
        _print_profile(summary)
    for result in summary.results:  # a declared verdict whose row does not exist is an error
        for v in result.verdicts:
            if v.main is not None and v.main.unmatched:
                where = f"statement {v.statement!r}" if v.statement else "verdict"
                raise SpecError(
                    f"{result.spec.path or result.spec.id}: {where}: not estimated: {v.main.why}"
                )
    failed = [(r.spec.id, f) for r in summary.results for f in r.fits if f.failed]
    if failed:  # never exit 0 with an analysis that could not be estimated
        claim, fit = failed[0]
        name = fit.analysis + (f" [{fit.sensitivity}]" if fit.sensitivity else "")
        more = f" and {len(failed) - 1} more (the report lists them)" if len(failed) > 1 else ""
        raise EstimationError(f"{claim}: {name} not estimated: {fit.error}{more}")
    if summary.incomplete and not allow_incomplete:
        claims = sorted({claim for claim, _ in summary.incomplete})
        raise IncompleteDataError(
            f"{', '.join(claims)} {summary.incomplete[0][1]}; "
            "fetch the missing table(s) again (nhanes-mg fetch), or run with --allow-incomplete "
            "to estimate on the other cycles (the report then says so beside the verdict)"
        )


def _print_summary(summary: object, synthetic: bool = False) -> None:
    from nhanes_mg.jobs.run import RunSummary

    assert isinstance(summary, RunSummary)
    for line in summary.warnings:
        console.print(f"[yellow]warning:[/] {escape(line)}")
    if summary.fetch and summary.fetch.missing:
        console.print(
            f"[yellow]{len(summary.fetch.missing)} file(s) not offered by the source[/] "
            "(e.g. linked mortality for cycles the mirror lacks)"
        )
    colours = {
        "consistent": "green",
        "stronger than published": "cyan",
        "weaker than published": "yellow",
        "inconclusive": "white",
        "not reproduced": "white",
        "no effect of the claimed size": "magenta",
        "contradicted": "red",
    }
    title = "Claims and verdicts" + (" — SYNTHETIC DATA, not for inference" if synthetic else "")
    table = Table(title=title)
    for column in ("claim", "ours", "verdict", "specification curve"):
        table.add_column(column, overflow="fold")
    for result in summary.results:
        claim = f"{result.spec.id} {result.spec.title}"
        if not result.verdicts:
            table.add_row(escape(claim), "—", "—", "")
        for v in result.verdicts:  # one line per judged statement
            name = f"{result.spec.id} ({v.statement}) {v.text}" if v.statement else claim
            verdict = f"[{colours.get(v.verdict, 'white')}]{v.verdict}[/]"
            curve = "; ".join(x for x in (v.summary, v.caution) if x)
            table.add_row(
                escape(name), escape(v.ours), verdict + f"\n{escape(v.why)}", escape(curve)
            )
    out.print(table)
    for result in summary.results:
        failed: dict[str, list[str]] = {}  # one line per reason, naming the analyses
        for fit in result.fits:
            if fit.error:
                name = fit.analysis + (f" [{fit.sensitivity}]" if fit.sensitivity else "")
                failed.setdefault(fit.error, []).append(name)
        for error, names in failed.items():
            console.print(
                f"[yellow]{result.spec.id}:[/] not estimated ({len(names)}: "
                f"{escape(', '.join(names[:3]))}{' …' if len(names) > 3 else ''}) — {escape(error)}"
            )
        if any(fit.incomplete for fit in result.fits):
            for line in result.incomplete:
                console.print(f"[yellow]{result.spec.id}:[/] {escape(line)}")
    if summary.reused:
        computed = [r.spec.id for r in summary.results if r.spec.id not in summary.reused]
        console.print(
            f"reused (nothing they depend on changed): {', '.join(summary.reused)}"
            + (f"; computed: {', '.join(computed)}" if computed else "")
            + " — `--force` recomputes all"
        )
    if summary.validation is not None:
        from nhanes_mg.report.validation_section import counts

        console.print(
            f"validation gallery: {counts(summary.validation)} — tables/validation.csv, "
            "figures/validation.png and the report's section"
        )
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    console.print(f"[green]✓[/] report: {summary.report_html} and {summary.report_md} ({timing})")


def _print_profile(summary: object) -> None:
    """``run --profile``: wall seconds per stage, per computed claim and per analysis."""
    from nhanes_mg.jobs.run import RunSummary

    assert isinstance(summary, RunSummary)
    stages = Table(title="Time per stage (wall seconds)")
    for column in ("stage", "seconds"):
        stages.add_column(column, justify="right" if column == "seconds" else "left")
    for name, seconds in summary.seconds.items():
        stages.add_row(name, f"{seconds:.2f}")
    out.print(stages)
    if not summary.jobs:
        out.print("nothing computed in the analyses stage (every result reused)")
        return
    jobs = Table(title="Time per job of the analyses stage (seconds of work in its workers)")
    for column in ("job", "workers", "estimate", "tables", "figures", "total", "slowest analyses"):
        jobs.add_column(
            column, justify="left" if column in ("job", "slowest analyses") else "right"
        )
    ranked = sorted(summary.jobs.items(), key=lambda kv: -kv[1].total)
    for name, t in ranked:
        slowest = sorted(t.analyses.items(), key=lambda kv: -kv[1])[:3]
        jobs.add_row(
            name, ", ".join(map(str, sorted(t.processes))), f"{t.estimate:.2f}",
            f"{t.tables:.2f}", f"{t.figures:.2f}",
            f"{t.total:.2f}", escape("; ".join(f"{a} {s:.1f}" for a, s in slowest)),
        )  # fmt: skip
    busy = sum(t.total for t in summary.jobs.values())
    parts = [sum(getattr(t, k) for t in summary.jobs.values()) for k in ("estimate", "tables")]
    parts.append(sum(t.figures for t in summary.jobs.values()))
    jobs.add_row("all jobs", "", *(f"{v:.2f}" for v in parts), f"{busy:.2f}", "")
    out.print(jobs)
    wall = summary.seconds.get("analyses", 0.0)
    if wall > 0:
        workers = len(set().union(*(t.processes for t in summary.jobs.values())))
        out.print(
            f"analyses stage: {busy:.1f} s of work in {workers} worker process(es) over "
            f"{wall:.1f} s wall ({busy / wall:.2f} jobs busy on average)"
        )


@app.command()
def specs(
    spec: Annotated[
        list[Path] | None,
        typer.Option(
            "--spec",
            help="Validate your own file(s) instead, and print each one's compiled plan.",
            callback=_home,
        ),
    ] = None,
    data_dir: DataDirOpt = Path("data/raw"),
    cycles: CyclesOpt = "2001-2018",
    plan: Annotated[
        bool,
        typer.Option("--plan", help="Print the compiled plan (also of the shipped ones)."),
    ] = False,
) -> None:
    """List the shipped model specifications (or validate your own and print their plans).

    A plan says, per analysis, its population, weight (and why), cycles kept and left out
    (with why: checked against the data dir's last build for ``--cycles``, when there is one),
    model and the rows its statements judge.
    """
    from nhanes_mg.jobs.run import select_specs

    table = Table(title="Model specifications")
    for column in ("id", "title", "model", "cycles", "analyses", "sensitivity", "file"):
        table.add_column(column, overflow="fold")
    chosen = select_specs(None, spec or [])
    for s in chosen:
        table.add_row(
            s.id,
            s.title,
            s.model,
            s.cycles_text,
            str(len(s.analyses)),
            str(len(s.sensitivities)),
            Path(s.path).name,
        )
    out.print(table)
    if spec or plan:
        # lazy: compiling loads the survey engine's types; a plain listing does not
        from nhanes_mg.jobs.analytic import stored_schema
        from nhanes_mg.study.plan import compile as compile_plan

        schema = stored_schema(data_dir, cycles) if data_dir.is_dir() else None
        if schema is None:
            out.print(
                f"(no current build in {data_dir} for --cycles {cycles}: cycles are checked "
                "against the data at run time)"
            )
        for s in chosen:
            out.print(compile_plan(s, schema).text(), markup=False, highlight=False)


@app.command()
def validate(
    mirror: MirrorOpt = None,
    data_dir: DataDirOpt = Path("data/raw"),
    out_dir: OutOpt = Path("outputs"),
    spec: Annotated[
        list[Path] | None,
        typer.Option(
            "--spec",
            help="Your own target (a specification with its reference and validation tables) "
            "instead of the shipped ones; repeat for more.",
            callback=_home,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Recompute the build and the gallery.")
    ] = False,
) -> None:
    """The validation gallery: published NHANES estimates re-estimated with their sources'
    definitions, ours beside each (tables/validation.csv, figures/validation.png)."""
    from nhanes_mg.jobs.validate import validate_pipeline

    with _progress("nhanes-mg validate", 3) as advance:
        summary = validate_pipeline(
            data_dir=data_dir,
            out_dir=out_dir,
            mirror=mirror,
            spec_paths=spec or [],
            force=force,
            step=advance,
            on_wait=_waiting,
        )
    print_validation(summary.table)
    for line in summary.warnings:
        console.print(f"[yellow]warning:[/] {escape(line)}")
    from nhanes_mg.report.validation_section import counts

    timing = ", ".join(f"{k} {v:.1f} s" for k, v in summary.seconds.items())
    reused = f"; reused: {', '.join(summary.reused)}" if summary.reused else ""
    console.print(
        f"[green]✓[/] {counts(summary.table)}: {summary.table_path} and "
        f"{summary.figure_path} ({timing}{reused})"
    )


def print_validation(table: object) -> None:
    """The gallery as a terminal table: target, published, ours, status and reason."""
    import polars as pl

    from nhanes_mg.report.validation_section import rows

    assert isinstance(table, pl.DataFrame)
    colours = {
        "within the published CI": "green",
        "within two combined SEs": "cyan",
        "off": "red",
        "not estimated": "yellow",
    }
    shown = Table(title="Validation gallery: published NHANES estimates reproduced")
    for column in ("target", "published", "ours (95% CI)", "z", "status", "reason"):
        shown.add_column(column, overflow="fold")
    for target, _topic, _source, published, ours, z, status, reason in rows(table):
        shown.add_row(
            escape(target),
            escape(published),
            escape(ours),
            escape(z),
            f"[{colours.get(status, 'white')}]{escape(status)}[/]",
            escape(reason),
        )
    out.print(shown)


@app.command()
def demo(
    out_dir: OutOpt = Path("outputs/demo"),
    n_per_cycle: Annotated[
        int, typer.Option("--n-per-cycle", min=50, help="Synthetic participants per cycle.")
    ] = 1500,
    seed: Annotated[int, typer.Option("--seed")] = 2024,
) -> None:
    """The whole pipeline offline on a synthetic NHANES-shaped sample (SYNTHETIC — not for
    inference): no network and no mirror needed."""
    import tempfile

    from nhanes_mg.derive import demo as demo_mod
    from nhanes_mg.jobs.run import run_pipeline, select_specs

    work = Path(tempfile.mkdtemp(prefix="nhanes-mg-demo-"))
    try:
        with console.status("Writing a synthetic NHANES mirror …"):
            mirror = demo_mod.write_synthetic_mirror(
                work / "mirror", seed=seed, n_per_cycle=n_per_cycle, cycles=DEMO_CYCLES
            )
        n_specs = len(select_specs())
        with _progress("nhanes-mg demo (SYNTHETIC)", n_specs + 3) as advance:
            summary = run_pipeline(
                data_dir=work / "raw",
                out_dir=out_dir,
                cycles=",".join(DEMO_CYCLES),
                mirror=str(mirror),
                synthetic=True,
                step=advance,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _print_summary(summary, synthetic=True)


# Enough cycles for every shipped analysis: 2001-2006 diet models, 2007+ vitamin D intake,
# linked mortality (2003-2006, 2011-2014) and the 2017-2018 cycle the C1/C2 verdicts read.
DEMO_CYCLES = ("2003-2004", "2005-2006", "2007-2008", "2011-2012", "2013-2014", "2017-2018")


@app.command("usual-intake")
def usual_intake(
    cycles: CyclesOpt = "2001-2018",
    data_dir: DataDirOpt = Path("data/raw"),
    out_dir: OutOpt = Path("outputs/usual-intake"),
    nutrients: Annotated[str, typer.Option("--nutrients", help="mg, ca or mg,ca")] = "mg,ca",
    pool: Annotated[
        bool,
        typer.Option("--pool", help="Pool the cycles into one estimate (e.g. 2011-2014)."),
    ] = False,
    domain: Annotated[
        list[str] | None,
        typer.Option(
            "--domain",
            help="A domain: an SQL condition over the analytic dataset, optionally labelled "
            "(\"men 20+: sex = 'male' AND age >= 20\"); repeat for more. Default: everyone, "
            "by sex and by age group.",
        ),
    ] = None,
    population: Annotated[
        str | None,
        typer.Option("--population", help="A condition AND-ed into every domain."),
    ] = None,
    above: Annotated[
        list[str] | None,
        typer.Option("--above", help="% with intake above an amount: mg=350 (repeatable)."),
    ] = None,
    brr: Annotated[
        int | None,
        typer.Option(
            "--brr", help="Replicates per population (default: the design's; 0 skips the SEs)"
        ),
    ] = None,
) -> None:
    """Usual intake of Mg and Ca by the NCI method in any domains: mean, percentiles, % below
    the EAR and RDA, with replicate SEs and t-based 95% CIs."""
    import polars as pl

    from nhanes_mg.errors import SpecError
    from nhanes_mg.jobs.usual_intake import run_usual_intake
    from nhanes_mg.usual_intake.domains import (
        Domain,
        as_domains,
        check_domains,
        parse_domain_option,
    )

    chosen = [n.strip().lower() for n in nutrients.split(",") if n.strip()]
    catalog.parse_cycles(cycles)  # a bad --cycles fails here, before anything is built
    domains = [parse_domain_option(d, "--domain") for d in domain] if domain else None
    check_domains(as_domains(domains))  # syntax, before the dataset is built
    pop = Domain("population", population, "--population") if population else None
    if pop is not None:
        check_domains([pop])
    amounts: dict[str, float] = {}
    for item in above or []:
        nut, _, value = item.partition("=")
        try:
            amounts[nut.strip().lower()] = float(value)
        except ValueError:
            raise SpecError(f"--above {item!r}: give NUTRIENT=AMOUNT, e.g. mg=350") from None
        if not math.isfinite(amounts[nut.strip().lower()]) or amounts[nut.strip().lower()] < 0:
            raise SpecError(f"--above {item!r}: the amount must be a finite number ≥ 0")
    from nhanes_mg.data.lock import data_dir_lock
    from nhanes_mg.jobs.outdir import check_output_folder, staged

    check_output_folder(out_dir)  # before the lock and the estimation (outdir.py)
    with (
        data_dir_lock(data_dir, "usual-intake", wait_message=_waiting),
        console.status("Estimating usual intakes (NCI method, replicates) …"),
        staged(out_dir) as staging,  # its own whole output, as a run's
    ):
        table = run_usual_intake(
            data_dir,
            staging.path,
            cycles=cycles,
            nutrients=chosen,
            n_brr=brr,
            pool=pool,
            domains=domains,
            population=pop,
            above=amounts or None,
        )
    # the headline: % below the EAR (prevalence of inadequacy, with its 95% CI) and % below
    # the RDA (not meeting the RDA), usual intake and day 1; by default the whole
    # population, adults and each sex
    if domains is None:
        table = table.filter(pl.col("domain").is_in(["all", "male", "female", "age 19+"]))

    def share(stat: str) -> pl.Expr:
        return pl.format(
            "{} ({}–{})", *(pl.col(f"{stat}{s}").round(1) for s in ("", "_low", "_high"))
        )

    headline = table.select(
        "population",
        "nutrient",
        "basis",
        "method",
        "domain",
        "n",
        pl.col("mean").round(0).cast(pl.Int64, strict=False).alias("mean mg/d"),
        share("pct_below_ear").alias("% < EAR (95% CI)"),
        share("pct_below_rda").alias("% < RDA (95% CI)"),
    )
    with pl.Config(
        tbl_rows=200,
        tbl_cols=10,
        tbl_width_chars=160,
        fmt_str_lengths=60,
        tbl_hide_column_data_types=True,
        tbl_hide_dataframe_shape=True,
    ):
        typer.echo(str(headline))
    console.print(
        f"[green]✓[/] wrote {out_dir / 'tables' / 'usual_intake.csv'} and "
        f"{out_dir / 'figures' / 'usual_intake_vs_day1.png'}"
    )


cache_app = typer.Typer(help="The results store that lets `run` reuse unchanged work.")
app.add_typer(cache_app, name="cache")


@cache_app.command("clear")
def cache_clear(data_dir: DataDirOpt = Path("data/raw")) -> None:
    """Remove every stored result of a data dir (the next run recomputes everything)."""
    from nhanes_mg.data.lock import data_dir_lock
    from nhanes_mg.jobs.store import ResultStore

    with data_dir_lock(data_dir, "cache clear", wait_message=_waiting):
        n = ResultStore(data_dir).clear()
    console.print(f"[green]✓[/] removed {n} stored result(s) from {data_dir}")


@app.command()
def version() -> None:
    """Print the package version."""
    out.print(f"nhanes-mg {__version__}")


_DEBUG = False  # --debug: show tracebacks of unexpected errors


def _show_version(value: bool) -> None:
    if value:
        out.print(f"nhanes-mg {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option("--version", callback=_show_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error.")
    ] = False,
) -> None:
    """Magnesium, calcium and vitamin D claims checked on public NHANES data."""
    global _DEBUG
    _DEBUG = debug


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every ``finally`` cleans up."""


_SIGNALLED: list[int] = []  # the signals received (an error they cause is reported as them)


def _on_sigterm(signum: int, frame: object) -> None:
    _SIGNALLED.append(signum)
    raise Terminated()


def _on_sigint(signum: int, frame: object) -> None:
    _SIGNALLED.append(signum)
    raise KeyboardInterrupt()


def _fail(message: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if code in (130, 143) and _SIGNALLED:
        # A signal's way out, after every `finally` has cleaned up: leave now, not through
        # interpreter finalization, where a native thread still winding down (a worker pool's,
        # a library's) can abort the process (SIGABRT instead of the signal's exit code).
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)
    sys.exit(code)


def main() -> None:
    """Console entry point: one line and a non-zero exit for every failure.

    NhanesError → its message, exit 1; a file-system error → the path and the reason, exit 1;
    usage errors → click's usage line, exit 2; Ctrl-C → "interrupted", exit 130; SIGTERM →
    "terminated", exit 143. Anything else → one line naming it (``--debug`` for the
    traceback). Temporary files are removed by the ``finally`` blocks on the way out.
    """
    import signal

    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigint)
    for stream in (sys.stdout, sys.stderr):  # a terminal or pipe that cannot show "…" or "≥"
        reconfigure = getattr(stream, "reconfigure", None)  # gets "?" instead of an error
        if callable(reconfigure):
            reconfigure(errors="replace")
    try:
        # not standalone: typer then *returns* exit codes (130 for Ctrl-C) instead of exiting
        code = app(standalone_mode=False)
        if code == 130:
            _fail("interrupted", 130)
        if isinstance(code, int) and code:
            sys.exit(code)
    except NhanesError as exc:
        _fail(str(exc))
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except Terminated:
        _fail("terminated", 143)
    except (PipeClosed, BrokenPipeError):
        # the reader of our output went away (`nhanes-mg … | head`): say so on stderr and end
        # as a program killed by SIGPIPE does; stdout goes to /dev/null so that Python's own
        # flush at exit does not fail again
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        _fail("the output pipe was closed before all was written (broken pipe)", 141)
    except OSError as exc:
        if _DEBUG:
            raise
        where = exc.filename or ""
        _fail(f"{where}: {exc.strerror or exc}" if where else str(exc))
    except Exception as exc:
        if _SIGNALLED:  # the signal came while a module was being imported (its init fails)
            interrupted = _SIGNALLED[0] == signal.SIGINT
            console.print(f"[bold red]error:[/] {'interrupted' if interrupted else 'terminated'}")
            with contextlib.suppress(Exception):
                sys.stdout.flush()
                sys.stderr.flush()
            # a half-initialised extension module can abort the interpreter's shutdown: the
            # staging folder is gone already (finally blocks ran), so leave without it
            os._exit(130 if interrupted else 143)
        # Usage errors come from the click that typer bundles; they know how to show
        # themselves (usage line + one error line) and their exit code.
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if _DEBUG:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
