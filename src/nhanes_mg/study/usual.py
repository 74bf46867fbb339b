"""Usual-intake analyses: the NCI method's share below the EAR/RDA or mean usual intake of a
specification's population and domains, one shared estimation per nutrient, cycles and weight."""

from __future__ import annotations

from typing import Any

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.errors import (
    EstimationError,
    SpecError,
)
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.analysis_frame import tidy_rows
from nhanes_mg.study.contrasts import difference_term
from nhanes_mg.study.plan import usual_weight
from nhanes_mg.study.results import DIFFERENCE_ROLE, DIFFERENCE_SCALES, SpecResult
from nhanes_mg.study.spec_types import Spec, UsualIntakeAnalysis
from nhanes_mg.usual_intake import estimate_usual_intake
from nhanes_mg.usual_intake.differences import domain_differences
from nhanes_mg.usual_intake.domains import Domain, and_population, check_domains
from nhanes_mg.usual_intake.estimate import UsualIntakeResult

# ---------------------------------------------------------------------------------- usual intake


def _usual_domains(spec: Spec, analysis: UsualIntakeAnalysis, where: str) -> list[Any]:
    """The analysis's domains within the spec's and the analysis's population, each labelled
    by its full condition (unique: the key of its rows in the shared estimate)."""
    own = [Domain(label, cond, f"{where}: domain {label!r}") for label, cond in analysis.domains]
    within = and_population(and_population(own, analysis.population), spec.population)
    return [Domain(d.where, d.where, d.source) for d in within]


def estimate_usual(
    spec: Spec,
    analysis: UsualIntakeAnalysis,
    wanted: list[str],
    analytic: pl.DataFrame,
    result: SpecResult,
    where: str,
    skip: dict[str, str],
) -> tuple[pl.DataFrame, int, tuple[str, ...]]:
    """Share below the EAR or the RDA from usual intake (NCI method) beside day 1, by cycle
    (or for the cycles pooled, ``pool = true``), in each of the analysis's domains.

    The model is fitted on the full design of each cycle (everyone aged ≥ 1 with a reliable
    day-1 recall, with the analysis's weight); the spec's and the analysis's population and
    each domain select, as domains, whose usual intakes are summarised. One estimation serves
    every usual-intake analysis of the specification with the same cycles, nutrient, weight
    and replicates (every basis, cut and domain). Intervals: t on the design df.
    """

    present = set(analytic["cycle"].cast(pl.String).unique().to_list())
    cycles = [c for c in wanted if c in present]
    if not cycles:
        raise EstimationError(f"none of the cycles {', '.join(wanted)} is in the data")
    weight = usual_weight(analysis).weight
    if weight not in analytic.columns:
        raise SpecError(f"{where}: no weight column {weight} in the analytic dataset")
    mine = _usual_domains(spec, analysis, where)
    for text in (spec.population, analysis.population):
        if text:
            for name in variables_of([text]):
                if name not in analytic.columns:
                    raise SpecError(
                        f"{where}: population: no column {name} in the analytic dataset"
                    )
    check_domains(mine, analytic.columns)
    key = ("usual", tuple(cycles), analysis.variable, analysis.brr, weight, analysis.pool)
    needed = {d.label: d for d in mine}
    for other in (*spec.analyses, *spec.sensitivities):  # the specification's other analyses
        if (
            not isinstance(other, UsualIntakeAnalysis)
            or (other.variable, other.brr, usual_weight(other).weight, other.pool) != key[2:]
            or [
                c.years for c in spec.cycles_of(other) if c.years in present and c.years not in skip
            ]
            != cycles
        ):
            continue
        try:
            theirs = _usual_domains(spec, other, where)
            check_domains(theirs, analytic.columns)
        except SpecError:
            continue  # that analysis reports its own error
        for d in theirs:
            needed.setdefault(d.label, d)
    estimated = result.usual_cache.get(key)
    if estimated is None or not set(d.label for d in mine) <= set(estimated.table["domain"]):
        if estimated is not None:  # keep what was estimated before (labels are conditions)
            for text in estimated.table["domain"].unique().to_list():
                needed.setdefault(text, Domain(text, text, where))
        estimated = estimate_usual_intake(
            analytic,
            cycles=[] if analysis.pool else cycles,
            nutrients=(analysis.variable,),
            pools={catalog.pool_label(cycles): tuple(cycles)} if analysis.pool else {},
            domains=list(needed.values()),
            weight=weight,
            n_brr=analysis.brr,
            n_jobs=1,
            percentiles=(),  # an analysis reads shares and means only: no sort of the draws
        )
        result.usual_cache[key] = estimated
    cached = estimated.table
    labels = {d.label: label for d, (label, _) in zip(mine, analysis.domains, strict=True)}
    rows = cached.filter(
        (pl.col("basis") == analysis.basis)
        & pl.col("domain").is_in(list(labels))
        & (pl.col("n") > 0)
    )
    if rows.is_empty():
        raise EstimationError(
            f"no one with a usual intake is in the domain{'s' if len(labels) > 1 else ''} "
            f"{', '.join(repr(label) for label, _ in analysis.domains)} of the population"
        )
    stat, per, scale = {
        "usual_below_ear": ("pct_below_ear", 100.0, "proportion"),
        "usual_below_rda": ("pct_below_rda", 100.0, "proportion"),
        "usual_mean": ("mean", 1.0, "mean"),
    }[analysis.statistic]
    several = len(analysis.domains) > 1
    table = rows.select(
        cycle=pl.col("population"),
        term=pl.col("method").replace({"day1": "day 1", "usual": "usual intake"}),
        group=pl.col("domain").replace_strict(labels) if several else pl.lit(None, pl.String),
        estimate=pl.col(stat) / per,
        std_error=pl.col(f"{stat}_se") / per,
        conf_low=pl.col(f"{stat}_low") / per,
        conf_high=pl.col(f"{stat}_high") / per,
        df=pl.col("df"),
        n=pl.col("n").cast(pl.Int64),
    )
    table = tidy_rows(
        table,
        analysis=analysis.name,
        role="estimate",
        scale=scale,
        outcome=analysis.label or analysis.name,
        model="usual intake",
    )
    usual = rows.filter(pl.col("method") == "usual")
    n = int(usual.group_by("population").agg(pl.col("n").max())["n"].sum())
    order = {label: i for i, (label, _) in enumerate(analysis.domains)}
    table = table.sort(
        "cycle", pl.col("group").replace_strict(order, default=0, return_dtype=pl.Int64), "term"
    )
    if analysis.contrast is not None:
        table = pl.concat([table, _differences(analysis, estimated, labels, stat, per, scale)])
    return table, n, tuple(cycles)


def _differences(
    analysis: UsualIntakeAnalysis,
    estimated: UsualIntakeResult,
    labels: dict[str, str],
    stat: str,
    per: float,
    scale: str,
) -> pl.DataFrame:
    """The ``contrast`` pairs of domains: usual intake's difference in every population,
    its SE from the same BRR replicates (:func:`domain_differences`)."""
    assert analysis.contrast is not None
    condition = {label: text for text, label in labels.items()}
    pairs = [(condition[a], condition[b]) for a, b in analysis.contrast.pairs]
    rows = domain_differences(estimated, pairs, stat).filter(
        (pl.col("basis") == analysis.basis) & (pl.col("method") == "usual")
    )
    table = rows.select(
        cycle=pl.col("population"),
        term=pl.struct("domain", "reference").map_elements(
            lambda d: difference_term(labels[d["domain"]], labels[d["reference"]]),
            return_dtype=pl.String,
        ),
        estimate=pl.col("estimate") / per,
        std_error=pl.col("std_error") / per,
        statistic=pl.col("statistic"),
        p_value=pl.col("p_value"),
        conf_low=pl.col("conf_low") / per,
        conf_high=pl.col("conf_high") / per,
        df=pl.col("df"),
        n=pl.col("n"),
    )
    return tidy_rows(
        table,
        analysis=analysis.name,
        role=DIFFERENCE_ROLE,
        scale=DIFFERENCE_SCALES[scale],
        outcome=analysis.label or analysis.name,
        model="usual intake",
    ).sort("cycle", maintain_order=True)
