"""Which figures a specification's results make, and their files, without drawing them.

:func:`figure_plan` is the one list :func:`nhanes_mg.report.figures.write_figures` draws
(each worker of a run drawing its share builds only its own plots), and the list ``run``
reads to write the report while the workers are still drawing. Nothing here imports plotnine.

Examples
--------
>>> from nhanes_mg.study.spec import load_shipped_specs
>>> c3 = next(s for s in load_shipped_specs() if s.id == "C3")
>>> figure_kind(c3.analysis(c3.verdict.analysis)), panel_order(c3, ["deficiency_crude",
...     "deficiency_adjusted"])
('forest', ['deficiency_adjusted', 'deficiency_crude'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from nhanes_mg.files import inside
from nhanes_mg.study.results import SpecResult, VariantVerdict, Verdict
from nhanes_mg.study.spec_types import (
    Analysis,
    ModelAnalysis,
    Spec,
    UsualIntakeAnalysis,
)


@dataclass(frozen=True)
class PlannedFigure:
    """One figure of a specification: its ``kind`` (a layout — ``forest``, ``trend`` … —
    ``curve`` / ``curve_{statement}``, ``spline`` or ``survival``), the analyses a layout
    draws, the verdict a curve draws, and its file ``name``."""

    kind: str
    name: str
    analyses: tuple[str, ...] = ()
    verdict: Verdict | None = None


def figure_kind(analysis: Analysis) -> str:
    """The layout an analysis's rows are drawn in: ``usual`` (usual intake beside day 1, by
    domain), ``forest`` / ``forest_linear`` (ratios / differences by term), ``trend`` (by
    cycle) or ``groups`` (by group, crude beside age-standardized)."""
    if isinstance(analysis, UsualIntakeAnalysis):
        return "usual"
    if isinstance(analysis, ModelAnalysis):
        return "forest_linear" if analysis.model == "linear" else "forest"
    return "trend" if analysis.by and analysis.by[0] == "cycle" else "groups"


def panel_order(spec: Spec, names: list[str]) -> list[str]:
    """Analyses in the order their panels are drawn: each statement's verdict analysis and
    curve analyses (the claim's main statement first), then the others as specified."""
    first = [n for s in spec.statements for n in s.analyses]
    order = list(dict.fromkeys([*first, *(a.name for a in spec.analyses)]))
    return sorted(names, key=lambda n: order.index(n) if n in order else len(order))


def curve_rows(v: Verdict) -> tuple[list[VariantVerdict], list[str]]:
    """A statement's specification-curve rows that can be drawn, and the labels of those
    that cannot share its axis (a difference beside ratios: named under the axis instead of
    leaving an empty row). No row drawn: no curve."""
    rows_in = [c for c in v.curve if math.isfinite(c.estimate)]
    elsewhere = [c.label for c in rows_in if v.ratio_scale and not c.conf_low > 0]
    return [c for c in rows_in if c.label not in elsewhere], elsewhere


def figure_plan(result: SpecResult) -> list[PlannedFigure]:
    """The figures of ``result`` in order (the main one first, named ``{id}.png``; the others
    ``{id}_{kind}.png``): one per layout of its main analyses (the verdict's first), a
    specification curve per statement, the dose–response curve, the survival curves."""
    table = result.table.filter(pl.col("sensitivity").is_null())
    if table.is_empty():
        return []
    spec = result.spec
    kinds: dict[str, list[str]] = {}
    for name in panel_order(spec, table["analysis"].unique(maintain_order=True).to_list()):
        kinds.setdefault(figure_kind(spec.analysis(name)), []).append(name)
    main = figure_kind(spec.analysis(spec.verdict.analysis)) if spec.verdict else None
    planned: list[tuple[str, tuple[str, ...], Verdict | None]] = [
        (kind, tuple(kinds[kind]), None) for kind in sorted(kinds, key=lambda k: k != main)
    ]
    for v in result.verdicts:
        if curve_rows(v)[0]:
            planned.append((f"curve_{v.statement}" if v.statement else "curve", (), v))
    if result.dose_response.height:
        planned.append(("spline", (), None))
    if result.survival.height:
        planned.append(("survival", (), None))
    return [
        PlannedFigure(kind, f"{spec.id}.png" if i == 0 else f"{spec.id}_{kind}.png", names, v)
        for i, (kind, names, v) in enumerate(planned)
    ]


# a figure's drawing time, roughly: plotnine's cost per figure and per panel (a layout draws
# one panel per analysis; a curve, spline or survival figure counts as one):
# ``scripts/bench_figures.py --each`` prints each shipped figure's seconds beside this
# estimate. Only used to share a claim's figures evenly among the workers.
FIGURE_SECONDS, PANEL_SECONDS = 0.1, 0.1


def figure_seconds(figure: PlannedFigure) -> float:
    """About how long drawing ``figure`` takes (:data:`FIGURE_SECONDS`, :data:`PANEL_SECONDS`).

    >>> round(figure_seconds(PlannedFigure("forest", "C3.png", ("a", "b", "c"))), 2)
    0.4
    """
    return FIGURE_SECONDS + PANEL_SECONDS * max(1, len(figure.analyses))


def figure_shares(planned: list[PlannedFigure], n: int) -> list[int]:
    """The share (worker ``0 … n-1``) that draws each planned figure: the longest first
    (:func:`figure_seconds`), each to the share with the least so far, so that the workers
    drawing one claim's figures finish together. The same on every worker: each draws the
    figures of its own share.

    >>> plan = [PlannedFigure("forest", "C3.png", tuple("abcdefgh")),
    ...         PlannedFigure("curve", "C3_curve.png"), PlannedFigure("spline", "C3_spline.png")]
    >>> figure_shares(plan, 2)  # the forest of 8 panels alone, the curve and spline together
    [0, 1, 1]
    >>> figure_shares(plan, 1)
    [0, 0, 0]
    """
    load, shares = [0.0] * n, [0] * len(planned)
    for i in sorted(range(len(planned)), key=lambda i: (-figure_seconds(planned[i]), i)):
        k = min(range(n), key=lambda k: (load[k], k))
        shares[i], load[k] = k, load[k] + figure_seconds(planned[i])
    return shares


def figure_paths(result: SpecResult, folder: Path) -> list[Path]:
    """Where :func:`~nhanes_mg.report.figures.write_figures` writes ``result``'s figures."""
    return [inside(folder, planned.name) for planned in figure_plan(result)]
