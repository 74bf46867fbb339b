"""A specification's analyses as pieces that run apart and are put back together.

``run`` estimates the pieces of :func:`parts_of` in worker processes
(:func:`nhanes_mg.study.analyses.run_part`), keeps each analysis's estimates in the results
store under what they depend on (:func:`estimation_basis`), and makes the specification's
result of them here (:func:`merge_parts`). The module needs no survey engine: a run whose
analyses are all stored never loads it.
"""

from __future__ import annotations

import dataclasses

import polars as pl

from nhanes_mg.study.judge import judge
from nhanes_mg.study.results import SpecResult
from nhanes_mg.study.spec_types import Spec, UsualIntakeAnalysis


def parts_of(spec: Spec) -> list[tuple[int, ...]]:
    """The plan's analyses (by position) in pieces that can run apart, in separate worker
    processes: every usual-intake analysis together (they share their estimations), each
    other analysis alone. :func:`merge_parts` puts the pieces' results back together.

    >>> from nhanes_mg.study.spec import load_shipped_specs
    >>> parts = parts_of(load_shipped_specs()[1])  # C2: usual intake beside day-1 shares
    >>> len(parts[0]) > 1 and all(len(p) == 1 for p in parts[1:])
    True
    """
    analyses = (*spec.analyses, *spec.sensitivities)
    usual = tuple(i for i, a in enumerate(analyses) if isinstance(a, UsualIntakeAnalysis))
    others: list[tuple[int, ...]] = [
        (i,) for i, a in enumerate(analyses) if not isinstance(a, UsualIntakeAnalysis)
    ]
    return [usual, *others] if usual else others


# a specification's fields that no estimate reads: its words, the published evidence and the
# statements it is judged by (judge.py reads them, from the specification at hand)
PRESENTATION_FIELDS = frozenset(
    {
        "title",
        "claim",
        "source",
        "citation",
        "reference",
        "verdict",
        "statements",
        "notes",
        "limits",
    }
)


def estimation_basis(spec: Spec, part: tuple[int, ...]) -> str:
    """What the estimates of the analyses at ``part`` (a piece of :func:`parts_of`) depend on
    in ``spec``, as text: every field but :data:`PRESENTATION_FIELDS`, and of the analyses
    only the piece's own, unless it is usual intake (whose estimations read the others'
    cycles). Editing a title or a published value then leaves every piece's key unchanged;
    editing one analysis changes its piece's (and those of its sensitivity analyses, which
    inherit from it when the specification is read).

    >>> from nhanes_mg.study.spec import load_shipped_specs
    >>> import dataclasses
    >>> c3 = load_shipped_specs()[2]
    >>> retitled = dataclasses.replace(c3, title="another title")
    >>> estimation_basis(c3, (0,)) == estimation_basis(retitled, (0,))
    True
    """
    analyses = (*spec.analyses, *spec.sensitivities)
    usual = any(isinstance(analyses[i], UsualIntakeAnalysis) for i in part)
    kept = {
        f.name: getattr(spec, f.name)
        for f in dataclasses.fields(spec)
        if f.name not in PRESENTATION_FIELDS
        and (usual or f.name not in ("analyses", "sensitivities"))
    }
    return repr([kept, [(i, analyses[i]) for i in part]])


# the per-analysis tables of a result, and how each analysis's rows were added to them
_STACKED = ("flow", "missingness")  # pl.concat (one schema)
_DIAGONAL = ("table1", "margins", "survival", "dose_response", "regression")


def merge_parts(spec: Spec, parts: list[SpecResult]) -> SpecResult:
    """One result from the pieces of :func:`~nhanes_mg.study.analyses.run_part` (one per
    analysis, given in the plan's order: the same tables and lists, row for row, whether one
    process ran them all or several ran some), judged."""
    tables = [p.table for p in parts if p.table.height]
    # an analysis not estimated has the tidy table's columns and no row
    empty = parts[0].table.clear() if parts else pl.DataFrame()
    result = SpecResult(spec=spec, table=pl.concat(tables, how="vertical") if tables else empty)
    for part in parts:
        result.fits += part.fits
        result.notes += part.notes
        result.cautions += part.cautions
        result.seconds.update(part.seconds)
        result.usual_cache.update(part.usual_cache)
    for name in _STACKED:
        if frames := [getattr(p, name) for p in parts if getattr(p, name).width]:
            setattr(result, name, pl.concat(frames, how="vertical"))
    for name in _DIAGONAL:
        if frames := [getattr(p, name) for p in parts if getattr(p, name).width]:
            setattr(result, name, pl.concat(frames, how="diagonal_relaxed"))
    result.verdicts = judge(spec, result)
    return result
