"""The ``nhanes-mg`` command line: fetch → build → analyses → report.

Every :class:`~nhanes_mg.errors.NhanesError` ends the command with one red line and exit
code 1; no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from nhanes_mg import __version__, catalog
from nhanes_mg import fetch as fetch_mod
from nhanes_mg.errors import NhanesError

app = typer.Typer(
    name="nhanes-mg",
    help="Magnesium, calcium and vitamin D claims checked on public NHANES data.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True, soft_wrap=True)
out = Console()

T = TypeVar("T")

CyclesOpt = Annotated[
    str,
    typer.Option("--cycles", help="Cycle range or list: 2001-2018, 2005-2006,2007-2008"),
]
MirrorOpt = Annotated[
    str | None,
    typer.Option(
        "--mirror",
        help="Offline mirror: a folder laid out like ../shared/nhanes (cycle folders or a "
        ".tar.xz of them) or a base URL. Default: CDC.",
    ),
]
DataDirOpt = Annotated[Path, typer.Option("--data-dir", help="Download cache.")]


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
    ) as bar:
        task = bar.add_task(description, total=total, current="")

        def advance(item: str, status: str) -> None:
            bar.update(task, advance=1, current=f"{status}: {item}")

        yield advance


def _run_fetch(
    cycles: str, mirror: str | None, data_dir: Path, components: list[str] | None = None
) -> fetch_mod.FetchReport:
    chosen = catalog.parse_cycles(cycles)
    n_planned = len(fetch_mod.plan_files(chosen, components, nhanes3_mortality=True))
    with _progress("Fetching NHANES files", n_planned) as advance:
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
    components = [t.strip().upper() for t in tables.split(",")] if tables else None
    _run_fetch(cycles, mirror, data_dir, components)


@app.command()
def run(
    cycles: CyclesOpt = "2001-2018",
    mirror: MirrorOpt = None,
    data_dir: DataDirOpt = Path("data/raw"),
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("outputs"),
) -> None:
    """The main job: fetch, then summarise the data in hand (the analyses fill in the rest)."""
    _run_fetch(cycles, mirror, data_dir)
    table = Table(title=f"NHANES files in {data_dir}")
    for column in ("cycle", "tables", "MB"):
        table.add_column(column)
    rows: dict[str, list[int]] = {}
    for entry in fetch_mod.iter_manifest(data_dir):
        folder = str(entry["file"]).split("/", 1)[0]
        size = entry["size"]
        counts = rows.setdefault(folder, [0, 0])
        counts[0] += 1
        counts[1] += int(size) if isinstance(size, int) else 0
    for folder, (n, size) in sorted(rows.items()):
        table.add_row(folder, str(n), f"{size / 1e6:.1f}")
    out.print(table)


@app.command()
def version() -> None:
    """Print the package version."""
    out.print(f"nhanes-mg {__version__}")


def main() -> None:
    """Console entry point: NhanesError → one line on stderr, exit 1."""
    try:
        app(standalone_mode=False)
    except NhanesError as exc:
        console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("[red]aborted[/]")
        sys.exit(130)
    except Exception as exc:
        # click's usage errors arrive here in standalone_mode=False
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        raise
