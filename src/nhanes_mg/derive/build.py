"""Build the participant-level analytic dataset from the raw tables of a data dir.

Every DEMO participant of every built cycle is one row (flags, never drops). Per cycle the
source tables are read (through the parquet cache of :mod:`nhanes_mg.read`), their columns
renamed to intermediate names by :mod:`nhanes_mg.derive.spec` with each variable's own missing
codes nulled, left-joined onto DEMO, stacked across cycles, and the rules of
:mod:`nhanes_mg.derive.rules` applied once on one lazy frame.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from nhanes_mg import __version__, catalog, read
from nhanes_mg.catalog import Cycle
from nhanes_mg.derive import rules, spec, supplements
from nhanes_mg.derive.mortality import mortality_columns
from nhanes_mg.errors import MissingTableError
from nhanes_mg.files import atomic_write

ANALYTIC_NAME = "analytic.parquet"
METADATA_NAME = "analytic.json"
DICTIONARY_NAME = "data_dictionary.md"
METADATA_KEY = b"nhanes_mg"
# Build metadata that differs between two builds of the same inputs: in analytic.json and
# BuildResult.metadata, never in analytic.parquet (whose bytes depend on its inputs only).
RUN_METADATA = ("created_utc", "build_seconds")
SUPP_DSQ2_CYCLES = "BCD"  # 2001-2006: DSQ2 × DSII
# Ever told of congestive heart failure, coronary heart disease, angina, heart attack, stroke.
CVD_ITEMS = ("_mcq160b", "_mcq160c", "_mcq160d", "_mcq160e", "_mcq160f")
SUPPLEMENT_TOTALS_SOURCE = (
    "mg_supp/ca_supp/vitd_supp and the totals use the 30-day questionnaire in every cycle "
    "(DSQ2 × DSII 2001-2006, DSQTOT 2007+): the only source available in all cycles, so totals "
    "are comparable across 2001-2018; the 24-h DS1TOT/DS2TOT amounts (2007+) are separate "
    "columns (*_supp_d1, *_supp_d2) for recall-day totals."
)


class MissingTableWarning(UserWarning):
    """A table (or a column in it) a cycle needs is absent: that part is built as null."""


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


def _warn_gap(gap: spec.Gap, affected: str) -> None:
    where = f"{gap.table}.{gap.column}" if gap.column else gap.table
    warnings.warn(
        f"{where} ({gap.cycle}) is {gap.reason}: {affected} will be null for {gap.cycle}",
        MissingTableWarning,
        stacklevel=3,
    )


def _component_frame(
    data_dir: Path, cycle: Cycle, component: str, gaps: list[spec.Gap]
) -> pl.LazyFrame | None:
    sources = [s for s in spec.sources_of(component) if s.column_for(cycle.letter)]
    if not sources or not catalog.has_component(component, cycle):
        return None
    table = catalog.table_name(component, cycle)
    try:
        raw = read.load_table(data_dir, component, cycle)
    except MissingTableError:
        gap = spec.Gap(cycle.years, table)
        gaps.append(gap)
        _warn_gap(gap, ", ".join(s.name.lstrip("_") for s in sources))
        return None
    exprs: list[pl.Expr] = [pl.col("SEQN")]
    for source in sources:
        column = source.column_for(cycle.letter)
        assert column is not None
        if column not in raw.columns:
            gap = spec.Gap(cycle.years, table, column, "missing from its table")
            gaps.append(gap)
            _warn_gap(gap, source.name.lstrip("_"))
            continue
        value = rules.null_codes(pl.col(column).cast(pl.Float64), source.codes_for(cycle.letter))
        exprs.append(value.alias(source.name))
    return raw.lazy().select(exprs).unique("SEQN", keep="first")


def _supplement_frame(data_dir: Path, cycle: Cycle, gaps: list[spec.Gap]) -> pl.LazyFrame | None:
    if cycle.letter not in SUPP_DSQ2_CYCLES:
        return None
    try:
        dsq2 = read.load_table(data_dir, "DSQ2", cycle).lazy()
    except MissingTableError:
        gap = spec.Gap(cycle.years, catalog.table_name("DSQ2", cycle))
        gaps.append(gap)
        _warn_gap(gap, "mg_supp, ca_supp, vitd_supp")
        return None
    try:
        dsii = read.load_ingredient_table(data_dir, "DSII").lazy()
        dspi = read.load_ingredient_table(data_dir, "DSPI").lazy()
    except MissingTableError as exc:
        table = "DSII" if "DSII" in str(exc) else "DSPI"
        gap = spec.Gap(cycle.years, table)
        gaps.append(gap)
        _warn_gap(gap, "mg_supp, ca_supp, vitd_supp")
        return None
    per_unit = supplements.ingredient_amounts(dsii, dspi)
    out = supplements.supp_from_dsq2(dsq2, per_unit, supplements.known_supids(dspi))
    return out.rename(
        {
            "mg_supp": "_dsq2_mg",
            "ca_supp": "_dsq2_ca",
            "vitd_supp": "_dsq2_vitd",
            "ds_products": "ds_products",
            "ds_unmatched_products": "ds_unmatched_products",
        }
    )


def _cycle_frame(
    data_dir: Path, cycle: Cycle, gaps: list[spec.Gap], releases: dict[str, int | None]
) -> pl.LazyFrame | None:
    base = _component_frame(data_dir, cycle, "DEMO", gaps)
    if base is None:
        return None
    for component in spec.COMPONENTS:
        if component == "DEMO":
            continue
        part = _component_frame(data_dir, cycle, component, gaps)
        if part is not None:
            base = base.join(part, on="SEQN", how="left")
    supp = _supplement_frame(data_dir, cycle, gaps)
    if supp is not None:
        base = base.join(supp, on="SEQN", how="left")
    mort = read.load_mortality(data_dir, cycle)
    if mort is not None:
        frame, release = mort
        base = base.join(mortality_columns(frame.lazy(), release), on="SEQN", how="left")
        releases[cycle.years] = release
    else:
        releases[cycle.years] = None
    return base.with_columns(
        pl.lit(cycle.years).alias("cycle"),
        pl.lit(mort is not None).alias("_mort_file"),
        pl.lit(cycle.letter in SUPP_DSQ2_CYCLES).alias("_supp_dsq2"),
    )


# Intermediate and optional columns every stacked frame must have (null when no cycle had them).
_FLOAT_COLUMNS = (*(s.name for s in spec.SOURCES), "_dsq2_mg", "_dsq2_ca", "_dsq2_vitd")
_OTHER_COLUMNS: dict[str, pl.DataType] = {
    "ds_products": pl.UInt32(),
    "ds_unmatched_products": pl.Int64(),
    "mort_eligible": pl.Boolean(),
    "mort_status": pl.Int8(),
    "mort_cause": pl.Enum(list(rules.MORT_CAUSE_LEVELS)),
    "mort_ucod_leading": pl.Utf8(),
    "followup_months_exam": pl.Float64(),
    "followup_months_int": pl.Float64(),
    "mortality_release": pl.Int16(),
}


def _complete(lf: pl.LazyFrame) -> pl.LazyFrame:
    have = set(lf.collect_schema().names())
    missing = [pl.lit(None, dtype=pl.Float64).alias(c) for c in _FLOAT_COLUMNS if c not in have]
    missing += [pl.lit(None, dtype=t).alias(c) for c, t in _OTHER_COLUMNS.items() if c not in have]
    return lf.with_columns(missing) if missing else lf


def _derive(lf: pl.LazyFrame, cutpoints: tuple[float, float]) -> pl.LazyFrame:
    c = pl.col
    ok1 = (c("_drstz_d1") == 1).fill_null(False)
    ok2 = (c("_drstz_d2") == 1).fill_null(False)
    weekend = [1.0, 6.0, 7.0]  # DR1DAY: 1 Sunday … 6 Friday, 7 Saturday

    def day(name: str, ok: pl.Expr) -> pl.Expr:
        return pl.when(ok).then(c(name))

    stage1 = lf.with_columns(
        seqn=c("SEQN"),
        sdmvstra=c("sdmvstra").cast(pl.Int64),
        sdmvpsu=c("sdmvpsu").cast(pl.Int64),
        examined=(c("_ridstatr") == 2),
        sex=rules.recode(c("_riagendr"), {1.0: "male", 2.0: "female"}, rules.SEX_LEVELS),
        race_eth=rules.recode(
            c("_ridreth1"),
            dict(zip([1.0, 2.0, 3.0, 4.0, 5.0], rules.RACE_ETH_LEVELS, strict=True)),
            rules.RACE_ETH_LEVELS,
        ),
        race_eth6=rules.recode(
            c("_ridreth3"),
            {
                1.0: "mexican_american",
                2.0: "other_hispanic",
                3.0: "nh_white",
                4.0: "nh_black",
                6.0: "nh_asian",
                7.0: "other",
            },
            rules.RACE_ETH6_LEVELS,
        ),
        education=rules.recode(
            c("_dmdeduc2"),
            {
                1.0: "lt_high_school",
                2.0: "lt_high_school",
                3.0: "high_school",
                4.0: "some_college",
                5.0: "college_grad",
            },
            rules.EDUCATION_LEVELS,
        ),
        pregnant=pl.when(c("_ridexprg") == 1).then(True).when(c("_ridexprg") == 2).then(False),
        exam_season=rules.recode(
            c("_ridexmon"), {1.0: "nov_apr", 2.0: "may_oct"}, rules.SEASON_LEVELS
        ),
        recall_ok_d1=ok1,
        recall_ok_d2=ok2,
        recall_status_d1=c("_drstz_d1").cast(pl.Int8),
        recall_status_d2=c("_drstz_d2").cast(pl.Int8),
        recall_dow_d1=c("_dow_d1").cast(pl.Int8),
        recall_dow_d2=c("_dow_d2").cast(pl.Int8),
        weekend_d1=c("_dow_d1").is_in(weekend),
        weekend_d2=c("_dow_d2").is_in(weekend),
        mg_food_d1=day("_mg_d1", ok1),
        ca_food_d1=day("_ca_d1", ok1),
        kcal_d1=day("_kcal_d1", ok1),
        vitd_food_d1=day("_vitd_d1", ok1),
        alcohol_g_d1=day("_alco_d1", ok1),
        mg_food_d2=day("_mg_d2", ok2),
        ca_food_d2=day("_ca_d2", ok2),
        kcal_d2=day("_kcal_d2", ok2),
        vitd_food_d2=day("_vitd_d2", ok2),
        alcohol_g_d2=day("_alco_d2", ok2),
        n_recall_days=ok1.cast(pl.Int8) + ok2.cast(pl.Int8),
        supp_user=pl.when(c("_dsd010") == 1).then(True).when(c("_dsd010") == 2).then(False),
        supp_user_d1=pl.when(ok1 & (c("_ds1ds") == 1))
        .then(True)
        .when(ok1 & (c("_ds1ds") == 2))
        .then(False),
        supp_user_d2=pl.when(ok2 & (c("_ds2ds") == 1))
        .then(True)
        .when(ok2 & (c("_ds2ds") == 2))
        .then(False),
        vitd_25oh_nmol=c("_vid"),
        smoking=pl.when(c("_smq020") == 2)
        .then(pl.lit("never"))
        .when((c("_smq020") == 1) & c("_smq040").is_in([1.0, 2.0]))
        .then(pl.lit("current"))
        .when((c("_smq020") == 1) & (c("_smq040") == 3))
        .then(pl.lit("former"))
        .cast(pl.Enum(list(rules.SMOKING_LEVELS))),
        _scr_std=pl.when(c("cycle") == "2005-2006")
        .then(-0.016 + 0.978 * c("_scr"))
        .otherwise(c("_scr")),
    )

    def supp30(key: str) -> pl.Expr:
        dsq2 = (
            pl.when(c("ds_products").is_not_null())
            .then(c(f"_dsq2_{key}"))
            .when(c("_dsd010") == 2)
            .then(0.0)
        )
        answered = c("_dsd010").is_not_null() | (c("_dsd010an") == 1)
        dsqtot = pl.when(answered).then(c(f"_dsq_{key}").fill_null(0.0))
        return pl.when(c("_supp_dsq2")).then(dsq2).otherwise(dsqtot)

    def supp24(key: str, d: int) -> pl.Expr:
        ok = ok1 if d == 1 else ok2
        answered = c(f"_ds{d}ds").is_in([1.0, 2.0])
        return pl.when(ok & answered).then(c(f"_ds{d}_{key}").fill_null(0.0))

    pos_pa = pl.any_horizontal(
        [(c(v) == 1).fill_null(False) for v in ("_pad200", "_pad320", "_paq650", "_paq665")]
    )
    neg_pa = (c("_pad200").is_in([2.0, 3.0]) & c("_pad320").is_in([2.0, 3.0])).fill_null(False) | (
        (c("_paq650") == 2) & (c("_paq665") == 2)
    ).fill_null(False)
    pos_dm = pl.any_horizontal(
        (c("_diq010") == 1).fill_null(False),
        (c("hba1c") >= 6.5).fill_null(False),
        (c("_diq050") == 1).fill_null(False),
        (c("_diq070") == 1).fill_null(False),
    )
    known_dm = c("_diq010").is_in([1.0, 2.0, 3.0]) | c("hba1c").is_not_null()

    stage2 = stage1.with_columns(
        mg_food=rules.day_mean("mg_food_d1", "mg_food_d2"),
        ca_food=rules.day_mean("ca_food_d1", "ca_food_d2"),
        kcal=rules.day_mean("kcal_d1", "kcal_d2"),
        vitd_food=rules.day_mean("vitd_food_d1", "vitd_food_d2"),
        alcohol_g=rules.day_mean("alcohol_g_d1", "alcohol_g_d2"),
        mg_supp=supp30("mg"),
        ca_supp=supp30("ca"),
        vitd_supp=supp30("vitd"),
        mg_supp_d1=supp24("mg", 1),
        ca_supp_d1=supp24("ca", 1),
        vitd_supp_d1=supp24("vitd", 1),
        mg_supp_d2=supp24("mg", 2),
        ca_supp_d2=supp24("ca", 2),
        vitd_supp_d2=supp24("vitd", 2),
        mg_ear=rules.mg_ear(),
        mg_rda=rules.mg_rda(),
        ca_ear=rules.ca_ear(),
        ca_rda=rules.ca_rda(),
        vitd_25oh_ngml=c("vitd_25oh_nmol") / rules.NMOL_PER_NGML,
        vitd_status=rules.vitd_status("vitd_25oh_nmol", cutpoints),
        phys_active=pl.when(pos_pa).then(True).when(neg_pa).then(False),
        diabetes=pl.when(pos_dm).then(True).when(known_dm).then(False),
        diabetes_diagnosed=rules.yes_no("_diq010", no=(2.0, 3.0)),  # 3 borderline → no
        cvd_history=rules.any_yes(CVD_ITEMS),
        cancer_history=rules.yes_no("_mcq220"),
        egfr=rules.egfr_ckd_epi_2021(),
        mort_eligible=pl.when(c("_mort_file")).then(c("mort_eligible").fill_null(False)),
    )
    stage3 = stage2.with_columns(
        mg_total=rules.add_nullable("mg_food", "mg_supp"),
        ca_total=rules.add_nullable("ca_food", "ca_supp"),
        vitd_total=rules.add_nullable("vitd_food", "vitd_supp"),
        mg_total_d1=rules.add_nullable("mg_food_d1", "mg_supp_d1"),
        ca_total_d1=rules.add_nullable("ca_food_d1", "ca_supp_d1"),
        mg_total_d2=rules.add_nullable("mg_food_d2", "mg_supp_d2"),
        ca_total_d2=rules.add_nullable("ca_food_d2", "ca_supp_d2"),
        ca_mg_ratio_food=rules.ratio("ca_food", "mg_food"),
        ckd=c("egfr") < 60,
    )
    # mg_food_eadj and ca_food_eadj need sums over the whole frame: _energy_adjust adds them
    # once the frame is collected in a fixed row order.
    return stage3.with_columns(
        ca_mg_ratio_total=rules.ratio("ca_total", "mg_total"),
        mg_food_below_ear=rules.below("mg_food", "mg_ear"),
        mg_food_below_rda=rules.below("mg_food", "mg_rda"),
        mg_total_below_ear=rules.below("mg_total", "mg_ear"),
        mg_total_below_rda=rules.below("mg_total", "mg_rda"),
        ca_food_below_ear=rules.below("ca_food", "ca_ear"),
        ca_food_below_rda=rules.below("ca_food", "ca_rda"),
        ca_total_below_ear=rules.below("ca_total", "ca_ear"),
        ca_total_below_rda=rules.below("ca_total", "ca_rda"),
    )


def _energy_adjust(frame: pl.DataFrame) -> pl.DataFrame:
    """Add mg_food_eadj and ca_food_eadj (residual method), pooled over the built cycles.

    β is the unweighted OLS slope cov(nutrient, kcal) / var(kcal) among adults ≥ 18 with both
    values and kcal > 0 (mean kcal over the same rows); the adjusted value is
    nutrient − β·(kcal − mean kcal) for them, null for everyone else.

    Deterministic on purpose: β and the mean are float sums over ~50 000 rows, and a float sum
    depends on the order of its terms. Inside a lazy query (the streaming engine by default)
    the rows reach a reduction in whatever order joins and morsels deliver them, so two builds
    of the same inputs differed in the last digit. Here ``frame`` is already sorted by seqn;
    the rows are taken in that order into one contiguous chunk and reduced with direct Series
    methods (no query engine), so the terms are always summed in the same order.
    """
    c = pl.col
    adjusted = []
    for nutrient in ("mg_food", "ca_food"):
        both = (
            (c("age") >= 18) & c(nutrient).is_not_null() & c("kcal").is_not_null() & (c("kcal") > 0)
        ).fill_null(False)
        mask = frame.select(both.alias("both")).to_series()
        value = frame[nutrient].filter(mask).rechunk()
        kcal = frame["kcal"].filter(mask).rechunk()
        expr = pl.lit(None, dtype=pl.Float64)
        if kcal.len() > 1:
            k_mean, v_mean = _number(kcal.mean()), _number(value.mean())
            cov = _number(((value - v_mean) * (kcal - k_mean)).sum()) / (kcal.len() - 1)
            k_var = _number(kcal.var())
            if k_var > 0:
                expr = pl.when(both).then(c(nutrient) - cov / k_var * (c("kcal") - k_mean))
        adjusted.append(expr.alias(f"{nutrient}_eadj"))
    return frame.with_columns(adjusted)


def _number(value: Any) -> float:
    """A Series reduction (typed as any Python literal) as a float."""
    return float(value)


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
    from nhanes_mg.derive.dictionary import column_order

    started = time.perf_counter()
    data_dir = Path(data_dir)
    chosen = _resolve_cycles(cycles)
    gaps: list[spec.Gap] = []
    releases: dict[str, int | None] = {}
    frames = []
    for cycle in chosen:
        part = _cycle_frame(data_dir, cycle, gaps, releases)
        if part is not None:
            # collected cycle by cycle: a lazy plan holds its cycle's raw tables, and nine of
            # them at once more than double the peak memory of a build
            frames.append(part.collect())
    if not frames:
        raise MissingTableError(
            f"no DEMO table for {', '.join(c.years for c in chosen)} in {data_dir}; "
            "run `nhanes-mg fetch` (with --mirror DIR offline) first"
        )
    stacked = _complete(pl.concat(frames, how="diagonal_relaxed").lazy())
    derived = _derive(stacked, (float(vitd_cutpoints[0]), float(vitd_cutpoints[1])))
    # Sorted by seqn (unique) before anything sums over rows: see _energy_adjust.
    frame = derived.sort("seqn").collect().rechunk()
    frame = _energy_adjust(frame).select(column_order())
    frame = frame.with_columns(
        pl.col("cycle").cast(pl.Enum([c.years for c in chosen])),
    )
    built = [c.years for c in chosen if c.years in releases]
    metadata: dict[str, Any] = {
        "package": "nhanes-mg",
        "version": __version__,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "data_dir": str(data_dir),
        "cycles": built,
        "cycles_requested": [c.years for c in chosen],
        "rows": frame.height,
        "gaps": [g.as_dict() for g in gaps],
        "mortality_releases": {k: v for k, v in releases.items()},
        "vitd_cutpoints_nmol": list(vitd_cutpoints),
        "supplement_totals_source": SUPPLEMENT_TOTALS_SOURCE,
        "build_seconds": round(time.perf_counter() - started, 3),
    }
    return BuildResult(frame=frame, summary=_summary(frame), metadata=metadata)


def write_analytic(result: BuildResult, out_dir: str | Path) -> Path:
    """Write ``analytic.parquet`` (metadata in its key-value metadata under ``nhanes_mg``),
    ``analytic.json`` (metadata + per-cycle summary) and ``data_dictionary.md`` into
    ``out_dir``, each atomically (temp file + rename). Returns the parquet path.

    The same inputs give a byte-identical ``analytic.parquet``: the fields that change from
    one build to the next (:data:`RUN_METADATA`: when it was built, how long it took) are kept
    out of the parquet and written to ``analytic.json`` only."""
    from nhanes_mg.derive.dictionary import data_dictionary

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
    return parquet


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The build metadata stored in an ``analytic.parquet`` (without :data:`RUN_METADATA`,
    which only ``analytic.json`` holds)."""
    raw = pq.read_schema(path).metadata or {}
    return dict(json.loads(raw[METADATA_KEY])) if METADATA_KEY in raw else {}
