"""Run a specification on the analytic dataset: design → estimates → tidy table → verdict.

Each analysis (and each sensitivity analysis) runs on its own cycles: those it asks for in
which every variable it uses was measured and its weight exists (a Cox model needs linked
mortality, a two-day intake needs the two-day weight; a cross-sectional analysis beside them
keeps all its cycles). Its weight is the weight of the smallest subsample among the variables
it uses (:mod:`nhanes_mg.study.weights`) unless the specification sets one. The design is the full
design of those cycles, restricted to the population as a domain (never by dropping rows
first); models are complete-case within the domain.

Effect modification is estimated in one joint model (exposure × modifier): the stratum-specific
effects and their difference are linear combinations of its coefficients with design-based
variance (:func:`nhanes_mg.survey.svycontrast`), and the interaction is tested jointly
(:func:`nhanes_mg.survey.regtermtest`).

The tidy table keeps structure in columns: ``role`` (``estimate``, ``reference``, ``trend``,
``interaction``, ``stratum effect``, ``modification contrast``), ``sensitivity`` (null for the
main analyses), ``cycle``, ``group``, ``subgroup``, ``stratum``.

Examples
--------
>>> from nhanes_mg.study.spec import load_shipped_specs
>>> spec = load_shipped_specs()[2]
>>> describe_model(spec.analyses[0]).startswith("survey logistic")
True
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from nhanes_mg.derive.lineage import affected_by
from nhanes_mg.errors import (
    IncompleteDataError,
    NhanesError,
    OutsideCyclesError,
    SpecError,
)
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.analysis_frame import (
    TABLE_COLUMNS,
    TABLE_SCHEMA,
    describe_model,
    expressions_of,
    frame_for,
)
from nhanes_mg.study.declared import subsamples as declared_subsamples
from nhanes_mg.study.descriptive import estimate_descriptive
from nhanes_mg.study.judge import judge
from nhanes_mg.study.models import estimate_model
from nhanes_mg.study.results import FitInfo, SpecResult
from nhanes_mg.study.spec_types import Analysis, DescriptiveAnalysis, Spec, UsualIntakeAnalysis
from nhanes_mg.study.usual import estimate_usual, usual_weight
from nhanes_mg.study.weights import choose_weight

# ---------------------------------------------------------------------------------- run


def run_spec(
    spec: Spec,
    analytic: pl.DataFrame,
    gaps: list[dict[str, object]] | None = None,
    allow_incomplete: bool = False,
) -> SpecResult:
    """Run every analysis and sensitivity analysis; one that cannot be estimated is recorded
    (in ``notes`` and its :class:`FitInfo`), not raised. A malformed spec raises SpecError.

    ``gaps`` are the build's missing tables and columns (``BuildResult.gaps``). An analysis
    that needs one of them in one of its cycles is not estimated (never silently estimated
    on the other cycles) unless ``allow_incomplete``, and then its fit says what it lacks.
    """
    result = SpecResult(spec=spec, table=pl.DataFrame(schema=TABLE_SCHEMA))
    tables: list[pl.DataFrame] = []
    for analysis in (*spec.analyses, *spec.sensitivities):
        where = f"{spec.path or spec.id}: analysis {analysis.name!r}"
        if analysis.sensitivity:
            where += f" (sensitivity {analysis.sensitivity!r})"
        label = analysis.sensitivity_label or analysis.label or analysis.name
        try:
            table, info = _run_analysis(
                spec, analysis, analytic, result, where, gaps or [], allow_incomplete
            )
        except SpecError:
            raise
        except NhanesError as exc:
            name = analysis.name + (f" [{analysis.sensitivity}]" if analysis.sensitivity else "")
            result.notes.append(f"{name}: not estimated — {exc}")
            result.fits.append(
                FitInfo(
                    analysis.name,
                    analysis.sensitivity,
                    label,
                    describe_model(analysis),
                    error=str(exc),
                    missing_data=isinstance(exc, IncompleteDataError),
                    outside_cycles=isinstance(exc, OutsideCyclesError),
                )
            )
            continue
        tables.append(table.with_columns(sensitivity=pl.lit(analysis.sensitivity, pl.String)))
        result.fits.append(info)
    if tables:
        result.table = pl.concat([t.select(TABLE_COLUMNS) for t in tables], how="vertical")
    result.verdicts = judge(spec, result)
    return result


def _run_analysis(
    spec: Spec,
    analysis: Analysis,
    analytic: pl.DataFrame,
    result: SpecResult,
    where: str,
    gaps: list[dict[str, object]],
    allow_incomplete: bool,
) -> tuple[pl.DataFrame, FitInfo]:
    label = analysis.sensitivity_label or analysis.label or analysis.name
    wanted = [c.years for c in spec.cycles_of(analysis)]
    hits = affected_by(gaps, variables_of(expressions_of(spec, analysis)), wanted)
    missing = tuple(dict.fromkeys(f"{table} ({cycle})" for table, cycle, _ in hits))
    if hits and not allow_incomplete:
        needed = sorted({v for *_, found in hits for v in found})
        raise IncompleteDataError(f"{', '.join(missing)} missing — needed for {', '.join(needed)}")
    skip = {cycle: f"{table} missing (--allow-incomplete)" for table, cycle, _ in hits}
    if isinstance(analysis, UsualIntakeAnalysis):
        cycles = [c for c in wanted if c not in skip]
        table, n, used = estimate_usual(spec, analysis, cycles, analytic, result, where, skip)
        weight_name = usual_weight(analysis)
        reason = (
            "NCI method: both recall days in the mixed model, weighted by the day-1 dietary "
            "weight WTDRD1 (as MIXTRAN)"
            if analysis.weight == "auto"
            else "set by the specification (the NCI method's default: WTDRD1)"
        )
        info = FitInfo(
            analysis.name,
            analysis.sensitivity,
            label,
            describe_model(analysis),
            cycles=used,
            dropped=tuple(skip.items()),
            n=n,
            weight=weight_name,
            weight_reason=f"{reason}; Fay-BRR replicates of the full design, the population "
            "and domains as domains of it",
            incomplete=missing,
        )
        return table, info
    weight = choose_weight(
        expressions_of(spec, analysis), analysis.weight, declared_subsamples(spec.variables)
    )
    frame, kept, dropped = frame_for(spec, analysis, analytic, weight, where, skip)
    if isinstance(analysis, DescriptiveAnalysis):
        table, n = estimate_descriptive(spec, analysis, frame, weight.weight, where)
        info = FitInfo(
            analysis.name,
            analysis.sensitivity,
            label,
            describe_model(analysis),
            kept,
            dropped,
            n,
            None,
            weight.weight,
            weight.reason,
            incomplete=missing,
        )
        return table, info
    table, info = estimate_model(spec, analysis, frame, weight, where, kept, dropped, label, result)
    return table, replace(info, incomplete=missing)
