"""Build the participant-level analytic dataset from the raw tables of a data dir.

Every DEMO participant of every built cycle is one row (flags, never drops). The build iterates
over the registry (:mod:`nhanes_mg.derive.registry`), where each variable is declared once. Per
cycle, every table a declared source lives in is read (through the parquet cache of
:mod:`nhanes_mg.data.read`), its columns renamed to the declared names with each variable's own
missing codes nulled, and left-joined onto DEMO; the registry's named cycle steps add what no
source describes (supplement products, linked mortality). The cycles are stacked, the declared
expressions computed stage by stage on one lazy frame, and the frame steps (energy adjustment)
applied once it is collected in seqn order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from nhanes_mg import __version__
from nhanes_mg.data import catalog, read
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.derive import registry as reg
from nhanes_mg.derive import rules, supplements
from nhanes_mg.derive.dictionary import data_dictionary
from nhanes_mg.derive.registry import SUPPLEMENT_TOTALS_SOURCE, Options, Registry
from nhanes_mg.derive.steps import CycleContext, Gap, MissingTableWarning, warn_gap
from nhanes_mg.errors import CatalogError, MissingTableError
from nhanes_mg.files import atomic_write, write_csv

__all__ = [
    "ANALYTIC_NAME",
    "DICTIONARY_NAME",
    "METADATA_NAME",
    "BuildResult",
    "MissingTableWarning",
    "build_analytic",
    "format_summary",
    "read_metadata",
    "write_analytic",
]

ANALYTIC_NAME = "analytic.parquet"
METADATA_NAME = "analytic.json"
SEAM_TABLE = "tables/supplement_seam.csv"  # supplemental Mg and Ca by cycle, 2001-2018
SEAM_FIGURE = "figures/supplement_seam.png"
DICTIONARY_NAME = "data_dictionary.md"
METADATA_KEY = b"nhanes_mg"
# Build metadata that differs between two builds of the same inputs: in analytic.json and
# BuildResult.metadata, never in analytic.parquet (whose bytes depend on its inputs only).
RUN_METADATA = ("created_utc", "build_seconds")


@dataclass
class BuildResult:
    """The analytic frame, a per-cycle summary and the build's metadata."""

    frame: pl.DataFrame
    summary: pl.DataFrame
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def gaps(self) -> list[dict[str, Any]]:
        return list(self.metadata.get("gaps", []))


def _resolve_cycles(cycles: str | Iterable[str | Cycle] | None) -> tuple[Cycle, ...]:
    if cycles is None or isinstance(cycles, str):
        return catalog.parse_cycles(cycles)
    return tuple(sorted({catalog.get_cycle(c) for c in cycles}))


def _affected(registry: Registry, gap: Gap) -> list[str]:
    """The dataset variables a gap leaves unmeasured: those reading the missing column (or any
    source of, or a table beyond their sources in, the missing table), then every variable
    derived from them."""
    letter = catalog.get_cycle(gap.cycle).letter
    try:
        component = catalog.component_of(gap.table)
    except CatalogError:
        component = gap.table
    names = {
        s.name
        for s in registry.sources
        if s.component == component and (gap.column is None or s.column_for(letter) == gap.column)
    }
    hit: set[str] = set()
    for name, lineage in registry.lineage.items():
        if names & set(lineage.sources) or (gap.column is None and component in lineage.reads):
            hit.add(name)
    grown = True
    while grown:
        more = {v for v, parents in registry.derived_from.items() if hit & set(parents)} - hit
        hit |= more
        grown = bool(more)
    return [name for name in registry.column_order() if name in hit]


def _named(names: list[str], at_most: int = 6) -> str:
    if len(names) <= at_most:
        return ", ".join(names) or "nothing"
    return f"{', '.join(names[:at_most])} (and {len(names) - at_most} more)"


def _reporter(registry: Registry, gaps: list[Gap]) -> Callable[[Gap], None]:
    """Where a cycle's gaps go: recorded, and warned about naming what they leave null."""

    def report(gap: Gap) -> None:
        gaps.append(gap)
        warn_gap(gap, _named(_affected(registry, gap)))

    return report


def _component_frame(
    ctx: CycleContext, registry: Registry, component: str, dtypes: dict[str, pl.DataType]
) -> pl.LazyFrame | None:
    """A component's declared sources for the cycle, per SEQN, their missing codes nulled."""
    cycle = ctx.cycle
    sources = [s for s in registry.sources_of(component) if s.column_for(cycle.letter)]
    if not sources or not catalog.has_component(component, cycle):
        return None
    table = catalog.table_name(component, cycle)
    try:
        raw = read.load_table(ctx.data_dir, component, cycle)
    except MissingTableError:
        ctx.report(Gap(cycle.years, table))
        return None
    exprs: list[pl.Expr] = [pl.col(reg.KEY)]
    for source in sources:
        column = source.column_for(cycle.letter)
        assert column is not None
        if column not in raw.columns:
            ctx.report(Gap(cycle.years, table, column, "missing from its table"))
            continue
        value = rules.null_codes(pl.col(column).cast(pl.Float64), source.codes_for(cycle.letter))
        dtype = dtypes[source.name]
        exprs.append((value if dtype == pl.Float64 else value.cast(dtype)).alias(source.name))
    read.check_one_per_person(raw, ctx.data_dir / catalog.xpt_relpath(table, cycle))
    return raw.lazy().select(exprs)


def _cycle_frame(
    ctx: CycleContext, registry: Registry, dtypes: dict[str, pl.DataType]
) -> pl.LazyFrame | None:
    base = _component_frame(ctx, registry, "DEMO", dtypes)
    if base is None:
        return None
    for component in registry.components:
        if component == "DEMO":
            continue
        part = _component_frame(ctx, registry, component, dtypes)
        if part is not None:
            base = base.join(part, on=reg.KEY, how="left")
    for step in registry.cycle_steps:
        base = step.function(ctx, base)
    return base


def _input_dtypes(registry: Registry, cycles: list[str]) -> dict[str, pl.DataType]:
    """Every column the stacked frame holds before the expressions: sources (as declared for
    a variable that is the column, Float64 for intermediate ones) and cycle-step outputs."""
    dtypes: dict[str, pl.DataType] = {}
    for entry in registry.entries:
        for source in entry.source:
            dtypes[source.name] = entry.dtype_for(cycles)
        for source in entry.columns:
            dtypes[source.name] = pl.Float64()
        if entry.step in registry.cycle_steps:
            dtypes[entry.name] = entry.dtype_for(cycles)
    return dtypes


def _complete(lf: pl.LazyFrame, dtypes: dict[str, pl.DataType]) -> pl.LazyFrame:
    """Add, as nulls, the columns no built cycle had (a table missing everywhere)."""
    have = set(lf.collect_schema().names())
    missing = [pl.lit(None, dtype=t).alias(c) for c, t in dtypes.items() if c not in have]
    return lf.with_columns(missing) if missing else lf


def _derive(lf: pl.LazyFrame, registry: Registry, options: Options) -> pl.LazyFrame:
    """The declared expressions, one ``with_columns`` per stage of the dependency order."""
    for stage in registry.stages:
        exprs = [v.expression(options) for v in stage]
        lf = lf.with_columns(
            e.alias(v.name) for v, e in zip(stage, exprs, strict=True) if e is not None
        )
    return lf


def _summary(frame: pl.DataFrame) -> pl.DataFrame:
    return (
        frame.group_by("cycle", maintain_order=True)
        .agg(
            pl.len().alias("participants"),
            ((pl.col("age") >= 18) & pl.col("recall_ok_d1")).sum().alias("adults_recall_d1"),
            pl.col("vitd_25oh_nmol").is_not_null().sum().alias("with_25ohd"),
            pl.col("mort_eligible").sum().alias("mort_eligible"),
            pl.col("mortality_release").first().alias("mortality_release"),
        )
        .sort("cycle")
    )


def format_summary(result: BuildResult) -> str:
    """The per-cycle summary as plain text (what ``nhanes-mg build`` prints), gaps included."""
    header = f"{'cycle':<10} {'participants':>12} {'adults+recall d1':>16} {'with 25(OH)D':>12} "
    header += f"{'mort-eligible':>13}  release"
    lines = [header]
    for row in result.summary.iter_rows(named=True):
        release = row["mortality_release"]
        eligible = "-" if release is None else str(row["mort_eligible"])
        lines.append(
            f"{row['cycle']!s:<10} {row['participants']:>12} {row['adults_recall_d1']:>16} "
            f"{row['with_25ohd']:>12} {eligible:>13}  {release or 'no linked file'}"
        )
    total = result.summary.select(pl.exclude("cycle", "mortality_release")).sum().row(0)
    lines.append(f"{'total':<10} {total[0]:>12} {total[1]:>16} {total[2]:>12} {total[3]:>13}")
    for row in result.metadata.get("supplement_quality", []):
        lines.append(
            f"supplements {row['cycle']}: {100 * row['share_flagged']:.1f}% of adults flagged "
            f"({100 * row['share_null']:.1f}% amount unknown, {100 * row['share_lower_bound']:.1f}%"
            " a lower bound; supp_quality)"
        )
    for row in result.metadata.get("supplement_extremes", []):
        lines.append(
            f"vitamin D supplements {row['cycle']}: {row['extreme']} above "
            f"{supplements.VITD_SUPP_EXTREME_UG:g} µg/day, kept and flagged (vitd_supp_extreme); "
            f"mean {row['mean_with']:.1f} µg/day, {row['mean_without']:.1f} without them"
        )
    for gap in result.gaps:
        where = f"{gap['table']}.{gap['column']}" if gap["column"] else gap["table"]
        lines.append(f"gap: {where} ({gap['cycle']}) {gap['reason']}")
    return "\n".join(lines)


def build_analytic(
    data_dir: str | Path,
    cycles: str | Iterable[str | Cycle] | None = None,
    *,
    vitd_cutpoints: tuple[float, float] = (30.0, 50.0),
) -> BuildResult:
    """Build the analytic dataset for ``cycles`` (default 2001-2002 … 2017-2018).

    A missing table gives a :class:`MissingTableWarning` naming table and cycle; what it feeds
    is null for that cycle and the gap is recorded in ``metadata["gaps"]``.

    Raises
    ------
    MissingTableError
        No cycle asked for has its DEMO table (nothing to build on).
    """
    started = time.perf_counter()
    registry = reg.REGISTRY
    options = Options(vitd_cutpoints=(float(vitd_cutpoints[0]), float(vitd_cutpoints[1])))
    data_dir = Path(data_dir)
    chosen = _resolve_cycles(cycles)
    years = [c.years for c in chosen]
    dtypes = _input_dtypes(registry, years)
    gaps: list[Gap] = []
    report = _reporter(registry, gaps)
    releases: dict[str, int | None] = {}
    frames = []
    for cycle in chosen:
        ctx = CycleContext(data_dir, cycle, report)
        part = _cycle_frame(ctx, registry, dtypes)
        if part is not None:
            # collected cycle by cycle: a lazy plan holds its cycle's raw tables, and nine of
            # them at once more than double the peak memory of a build
            frames.append(part.collect())
            releases[cycle.years] = ctx.mortality_release
    if not frames:
        raise MissingTableError(
            f"no DEMO table for {', '.join(years)} in {data_dir}; "
            "run `nhanes-mg fetch` (with --mirror DIR offline) first"
        )
    stacked = _complete(pl.concat(frames, how="diagonal_relaxed").lazy(), dtypes)
    derived = _derive(stacked, registry, options)
    # Sorted by seqn (unique) before anything sums over rows: see steps.energy_adjust.
    frame = derived.sort("seqn").collect().rechunk()
    for step in registry.frame_steps:
        frame = step.function(frame)
    # the declared dtypes (a no-op but for cycle, text until now)
    frame = frame.select(registry.column_order()).cast(pl.Schema(registry.schema(years)))
    built = [y for y in years if y in releases]
    metadata: dict[str, Any] = {
        "package": "nhanes-mg",
        "version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "cycles": built,
        "cycles_requested": years,
        "rows": frame.height,
        "gaps": [g.as_dict() for g in gaps],
        "mortality_releases": {k: v for k, v in releases.items()},
        "vitd_cutpoints_nmol": list(vitd_cutpoints),
        "supplement_totals_source": SUPPLEMENT_TOTALS_SOURCE,
        # 2001-2006: the share of adults whose supplement amounts are flagged (supp_quality)
        "supplement_quality": supplements.supp_quality_summary(frame)
        .with_columns(pl.col("cycle").cast(pl.Utf8))
        .to_dicts(),
        # vitamin D supplement totals above the flag's limit, and what they do to the mean
        "supplement_extremes": supplements.extreme_supplement_summary(frame).to_dicts(),
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    return BuildResult(frame=frame, summary=_summary(frame), metadata=metadata)


def write_analytic(result: BuildResult, out_dir: str | Path, seam: bool = True) -> Path:
    """Write ``analytic.parquet`` (metadata in its key-value metadata under ``nhanes_mg``),
    ``analytic.json`` (metadata + per-cycle summary) and ``data_dictionary.md`` into
    ``out_dir``, each atomically (temp file + rename), and the seam's table and figure
    (:func:`write_seam`) unless ``seam`` is False. Returns the parquet path.

    The same inputs give a byte-identical ``analytic.parquet``: the fields that change from
    one build to the next (:data:`RUN_METADATA`: when it was built, how long it took) are kept
    out of the parquet and written to ``analytic.json`` only."""
    # lazy: pyarrow (and numpy) only to write or read a build's metadata, never on a reused run
    import pyarrow.parquet as pq

    out = Path(out_dir)
    meta = dict(result.metadata)
    meta["summary"] = result.summary.with_columns(pl.col("cycle").cast(pl.Utf8)).to_dicts()
    meta_json = json.dumps(meta, indent=2, default=str)
    stable = {k: v for k, v in meta.items() if k not in RUN_METADATA}
    table = result.frame.to_arrow()
    table = table.replace_schema_metadata(
        {
            **(table.schema.metadata or {}),
            METADATA_KEY: json.dumps(stable, indent=2, default=str).encode(),
        }
    )
    parquet = out / ANALYTIC_NAME
    atomic_write(parquet, lambda p: pq.write_table(table, p))
    atomic_write(out / METADATA_NAME, lambda p: p.write_text(meta_json + "\n"))
    atomic_write(out / DICTIONARY_NAME, lambda p: p.write_text(data_dictionary()))
    if seam:
        write_seam(result.frame, out)
    return parquet


def write_seam(frame: pl.DataFrame, out_dir: str | Path) -> None:
    """The 2006/2007 seam of the supplement derivations, as a table and a figure
    (:data:`SEAM_TABLE`, :data:`SEAM_FIGURE`), from the analytic dataset: part of
    :func:`write_analytic`, or written apart (``run`` draws it in a worker process while
    the analyses start)."""
    # lazy: the survey engine and plotnine, only when writing (a reused build never loads them)
    from nhanes_mg.derive import seam

    out = Path(out_dir)
    table_seam = seam.supplement_seam(frame)
    write_csv(out / SEAM_TABLE, table_seam)
    seam.supplement_seam_figure(table_seam, out / SEAM_FIGURE)  # written atomically


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The build metadata stored in an ``analytic.parquet`` (without :data:`RUN_METADATA`,
    which only ``analytic.json`` holds)."""
    import pyarrow.parquet as pq  # lazy: as in write_analytic

    raw = pq.read_schema(path).metadata or {}
    return dict(json.loads(raw[METADATA_KEY])) if METADATA_KEY in raw else {}
