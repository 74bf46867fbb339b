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
``interaction``, ``stratum effect``, ``modification contrast``, and a ``contrast``'s ``group
difference`` and ``group test``: :mod:`nhanes_mg.study.contrasts`), ``sensitivity`` (null for
the main analyses), ``cycle``, ``group``, ``subgroup``, ``stratum``.

Examples
--------
>>> from nhanes_mg.study.spec import load_shipped_specs
>>> spec = load_shipped_specs()[2]
>>> compile(spec, None).analyses[0].description.startswith("survey logistic")
True
"""

from __future__ import annotations

import re
import time
import warnings
from typing import Any

import polars as pl

from nhanes_mg.errors import (
    IncompleteDataError,
    NhanesError,
    OutsideCyclesError,
    SpecError,
)
from nhanes_mg.study.analysis_frame import TABLE_COLUMNS, TABLE_SCHEMA, rows_of
from nhanes_mg.study.declared import with_expressions
from nhanes_mg.study.descriptive import estimate_descriptive
from nhanes_mg.study.models import estimate_model
from nhanes_mg.study.pieces import merge_parts
from nhanes_mg.study.plan import AnalysisPlan, Plan, Schema, compile
from nhanes_mg.study.results import FitInfo, SpecResult
from nhanes_mg.study.spec_types import DescriptiveAnalysis, Spec, UsualIntakeAnalysis
from nhanes_mg.study.usual import estimate_usual
from nhanes_mg.survey.design import SurveyWarning

# ---------------------------------------------------------------------------------- run


def run_spec(
    spec: Spec,
    analytic: pl.DataFrame,
    gaps: list[dict[str, object]] | None = None,
    allow_incomplete: bool = False,
) -> SpecResult:
    """Compile ``spec`` against the analytic dataset (:func:`nhanes_mg.study.plan.compile`)
    and run the plan (:func:`run_plan`).

    ``gaps`` are the build's missing tables and columns (``BuildResult.gaps``). An analysis
    that needs one of them in one of its cycles is not estimated (never silently estimated
    on the other cycles) unless ``allow_incomplete``, and then its fit says what it lacks.
    """
    return run_plan(*prepare(spec, analytic, gaps, allow_incomplete))


def _pass_on(
    caught: list[warnings.WarningMessage], spec_id: str, analysis: str, notes: list[str]
) -> None:
    """Warnings raised while estimating one analysis, passed on: a :class:`SurveyWarning`
    (quasi-separation, a lonely PSU …) names the claim and the analysis, and each kind is
    kept once per analysis in the result's notes (the report's ⚠ lines: the first message,
    and how many more of the analysis's fits said the same); any other warning goes on as it
    came."""
    kinds: dict[str, list[str]] = {}  # the message with its numbers masked → the messages
    for record in caught:
        if issubclass(record.category, SurveyWarning):
            text = str(record.message)
            kinds.setdefault(re.sub(r"\d+", "#", text), []).append(text)
            warnings.warn(f"{spec_id}, {analysis}: {text}", SurveyWarning, stacklevel=3)
        else:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)
    for texts in kinds.values():
        more = f" (and {len(texts) - 1} more of its fits)" if len(texts) > 1 else ""
        notes.append(f"{analysis}: {texts[0]}{more}")


def run_plan(plan: Plan, analytic: pl.DataFrame) -> SpecResult:
    """Run every analysis and sensitivity analysis of a compiled plan; one that cannot be
    estimated is recorded (in ``notes`` and its :class:`FitInfo`), not raised. A malformed
    spec raises SpecError."""
    return merge_parts(plan.spec, run_part(plan, analytic))


def prepare(
    spec: Spec,
    analytic: pl.DataFrame,
    gaps: list[dict[str, object]] | None = None,
    allow_incomplete: bool = False,
) -> tuple[Plan, pl.DataFrame]:
    """The compiled plan of ``spec`` and the analytic dataset with its declared expressions:
    what :func:`run_part` takes (``run_spec`` is ``run_plan(*prepare(…))``)."""
    analytic = with_expressions(analytic, spec)
    return compile(spec, Schema.of(analytic, gaps or []), allow_incomplete), analytic


def run_part(
    plan: Plan, analytic: pl.DataFrame, positions: tuple[int, ...] | None = None
) -> list[SpecResult]:
    """The analyses at ``positions`` of the plan (all by default): one result without
    verdicts per analysis, in the order of ``positions`` (pieces for
    :func:`~nhanes_mg.study.pieces.merge_parts`).
    They share one usual-intake cache, so that analyses of one estimation run it once."""
    spec = plan.spec
    shared: dict[tuple[object, ...], Any] = {}
    pieces: list[SpecResult] = []
    chosen = range(len(plan.analyses)) if positions is None else positions
    for item in (plan.analyses[i] for i in chosen):
        result = SpecResult(spec=spec, table=pl.DataFrame(schema=TABLE_SCHEMA))
        result.usual_cache = shared
        pieces.append(result)
        analysis = item.analysis
        started = time.perf_counter()
        try:
            if item.error is not None:
                raise item.error
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                table, info = _run_analysis(spec, item, analytic, result)
            _pass_on(caught, spec.id, item.name, result.notes)
        except SpecError:
            raise
        except NhanesError as exc:
            result.seconds[item.name] = time.perf_counter() - started
            result.notes.append(f"{item.name}: not estimated — {exc}")
            result.fits.append(
                FitInfo(
                    analysis.name,
                    analysis.sensitivity,
                    item.label,
                    item.description,
                    error=str(exc),
                    missing_data=isinstance(exc, IncompleteDataError),
                    outside_cycles=isinstance(exc, OutsideCyclesError),
                )
            )
            continue
        with_sensitivity = table.with_columns(sensitivity=pl.lit(analysis.sensitivity, pl.String))
        result.table = with_sensitivity.select(TABLE_COLUMNS)
        result.fits.append(info)
        result.seconds[item.name] = time.perf_counter() - started
    return pieces


def _run_analysis(
    spec: Spec, item: AnalysisPlan, analytic: pl.DataFrame, result: SpecResult
) -> tuple[pl.DataFrame, FitInfo]:
    analysis = item.analysis
    if isinstance(analysis, UsualIntakeAnalysis):
        skip = dict(item.dropped)
        table, n, used = estimate_usual(
            spec, analysis, list(item.kept), analytic, result, item.where, skip
        )
        info = item.fit_info(
            cycles=used,
            dropped=item.dropped,
            n=n,
            weight_reason=f"{item.weight.reason}; Fay-BRR replicates of the full design, the "
            "population and domains as domains of it",
        )
        return table, info
    frame = rows_of(analytic, item.kept)
    if isinstance(analysis, DescriptiveAnalysis):
        table, n = estimate_descriptive(spec, item, frame)
        info = item.fit_info(n=n)
        return table, info
    return estimate_model(spec, item, frame, result)
