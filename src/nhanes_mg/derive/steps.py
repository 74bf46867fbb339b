"""The named functions of the registry: the few variables a polars expression cannot say.

A :class:`CycleStep` adds columns to one cycle's frame (keyed by SEQN) from files no
:class:`~nhanes_mg.derive.sources.Source` describes: the 2001-2006 supplement products × the
ingredient database (:mod:`nhanes_mg.derive.supplements`), the linked-mortality files
(:mod:`nhanes_mg.derive.mortality`) and the cycle's own label. A :class:`FrameStep` adds
columns to the whole derived frame once it is collected in seqn order (the energy adjustment:
sums over every row). The variables a step makes are declared in
:mod:`nhanes_mg.derive.registry` with ``step=`` that step, like every other variable.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from nhanes_mg.data import catalog, read
from nhanes_mg.data.catalog import Cycle
from nhanes_mg.derive import supplements
from nhanes_mg.derive.mortality import mortality_columns
from nhanes_mg.errors import MissingTableError

SUPP_DSQ2_CYCLES = "BCD"  # 2001-2006: supplement amounts from DSQ2 × DSII
SUPP_DSQ2_YEARS = tuple(c.years for c in catalog.CYCLES if c.letter in SUPP_DSQ2_CYCLES)


class MissingTableWarning(UserWarning):
    """A table (or a column in it) a cycle needs is absent: that part is built as null."""


@dataclass
class Gap:
    """A table or column the build expected and did not find."""

    cycle: str
    table: str
    column: str | None = None
    reason: str = field(default="missing")

    def as_dict(self) -> dict[str, str | None]:
        return {
            "cycle": self.cycle,
            "table": self.table,
            "column": self.column,
            "reason": self.reason,
        }


@dataclass
class CycleContext:
    """What a cycle step sees: the data dir, the cycle, where to report a gap (the build
    records it and warns, naming the variables it leaves null) and what it learned."""

    data_dir: Path
    cycle: Cycle
    report: Callable[[Gap], None]
    mortality_release: int | None = None


@dataclass(frozen=True)
class CycleStep:
    """A named function adding columns to one cycle's frame (left-joined on SEQN)."""

    name: str
    function: Callable[[CycleContext, pl.LazyFrame], pl.LazyFrame]


@dataclass(frozen=True)
class FrameStep:
    """A named function adding columns to the derived frame (collected, sorted by seqn)."""

    name: str
    function: Callable[[pl.DataFrame], pl.DataFrame]


Step = CycleStep | FrameStep


def warn_gap(gap: Gap, affected: str) -> None:
    where = f"{gap.table}.{gap.column}" if gap.column else gap.table
    warnings.warn(
        f"{where} ({gap.cycle}) is {gap.reason}: {affected} will be null for {gap.cycle}",
        MissingTableWarning,
        stacklevel=4,
    )


# ----------------------------------------------------------------------------------- cycle


def _cycle_label(ctx: CycleContext, frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame.with_columns(pl.lit(ctx.cycle.years).alias("cycle"))


CYCLE_LABEL = CycleStep("cycle_label", _cycle_label)


# ----------------------------------------------------------------------------- supplements


def _supplements_dsq2(ctx: CycleContext, frame: pl.LazyFrame) -> pl.LazyFrame:
    """2001-2006: per participant, the 30-day supplement amounts from DSQ2 × DSPI × DSII × DSBI
    (:func:`nhanes_mg.derive.supplements.derive_supplements`: units reconciled, implausible
    daily servings and unknown use made null, compounds converted to the element) as
    ``_dsq2_mg``, ``_dsq2_ca``, ``_dsq2_vitd``, the flag ``_dsq2_quality``, the per-nutrient
    users ``_dsq2_{mg,ca,vitd}_user``, the antacids' part ``_dsq2_{mg,ca}_antacid``,
    ``_dsq2_{mg,ca}_user_excl_antacid`` and the ``ds_*_products`` counts."""
    cycle = ctx.cycle
    if cycle.letter not in SUPP_DSQ2_CYCLES:
        return frame
    try:
        dsq2 = read.load_table(ctx.data_dir, "DSQ2", cycle).lazy()
    except MissingTableError:
        ctx.report(Gap(cycle.years, catalog.table_name("DSQ2", cycle)))
        return frame
    try:
        dsii = read.load_ingredient_table(ctx.data_dir, "DSII").lazy()
        dspi = read.load_ingredient_table(ctx.data_dir, "DSPI").lazy()
        dsbi = read.load_ingredient_table(ctx.data_dir, "DSBI").lazy()
    except MissingTableError as exc:
        missing = next((t for t in ("DSII", "DSPI", "DSBI") if t in str(exc)), "DSII")
        ctx.report(Gap(cycle.years, missing))
        return frame
    products = supplements.product_table(dsii, dspi, dsbi)
    out = supplements.derive_supplements(dsq2, products)
    out = out.rename(
        {
            "mg_supp": "_dsq2_mg",
            "ca_supp": "_dsq2_ca",
            "vitd_supp": "_dsq2_vitd",
            "supp_quality": "_dsq2_quality",
            "mg_supp_user": "_dsq2_mg_user",
            "ca_supp_user": "_dsq2_ca_user",
            "vitd_supp_user": "_dsq2_vitd_user",
            "mg_antacid": "_dsq2_mg_antacid",
            "ca_antacid": "_dsq2_ca_antacid",
            "mg_supp_user_excl_antacid": "_dsq2_mg_user_excl_antacid",
            "ca_supp_user_excl_antacid": "_dsq2_ca_user_excl_antacid",
        }
    )
    return frame.join(out, on="SEQN", how="left")


SUPPLEMENTS_DSQ2 = CycleStep("supplements_dsq2", _supplements_dsq2)


# ------------------------------------------------------------------------------- mortality


def _linked_mortality(ctx: CycleContext, frame: pl.LazyFrame) -> pl.LazyFrame:
    """The cycle's public-use linked-mortality file (newest release present), as
    :func:`nhanes_mg.derive.mortality.mortality_columns` reads it; ``_mort_file`` says whether
    the cycle has one at all."""
    mort = read.load_mortality(ctx.data_dir, ctx.cycle)
    if mort is None:
        return frame.with_columns(pl.lit(False).alias("_mort_file"))
    table, release = mort
    ctx.mortality_release = release
    columns = mortality_columns(table.lazy(), release).rename({"mort_eligible": "_mort_eligible"})
    return frame.join(columns, on="SEQN", how="left").with_columns(pl.lit(True).alias("_mort_file"))


LINKED_MORTALITY = CycleStep("linked_mortality", _linked_mortality)


# ---------------------------------------------------------------------- energy adjustment


def energy_adjust(frame: pl.DataFrame) -> pl.DataFrame:
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


ENERGY_ADJUSTMENT = FrameStep("energy_adjustment", energy_adjust)
