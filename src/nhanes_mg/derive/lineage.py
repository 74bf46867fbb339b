"""What each variable of the analytic dataset is made of: NHANES tables and subsamples.

Read from the declarations of :mod:`nhanes_mg.derive` (each variable's sources, the lineage
of derived variables, the supplement tables) and :data:`nhanes_mg.data.catalog.COMPONENT_SUBSAMPLE`;
nothing here lists variables again. Two questions use it: which weight an analysis needs
(:mod:`nhanes_mg.study.weights`) and which analyses a missing table leaves unmeasured
(:func:`affected_by`).

Examples
--------
>>> sorted(components_of("mg_total"))
['DEMO', 'DR1TOT', 'DR2TOT', 'DSBI', 'DSII', 'DSPI', 'DSQ1', 'DSQ2', 'DSQTOT']
>>> subsample_of("mg_total"), subsample_of("vitd_25oh_nmol")
('diet2', 'exam')
"""

from __future__ import annotations

from functools import cache

from nhanes_mg.data import catalog
from nhanes_mg.derive.dictionary import DERIVED_FROM, EXTRA_COMPONENTS, VARIABLES
from nhanes_mg.derive.registry import SOURCES
from nhanes_mg.errors import CatalogError


@cache
def _declarations() -> tuple[
    dict[str, tuple[str, ...]],
    dict[str, set[str]],
    dict[str, tuple[str, ...]],
    dict[str, tuple[str, ...]],
]:

    component: dict[str, set[str]] = {}  # a source name may come from several tables
    for source in SOURCES:  # (DSD010: DSQ1 in 2001-2006, DSQTOT from 2007)
        component.setdefault(source.name, set()).add(source.component)
    sources = {v.name: v.sources for v in VARIABLES}
    return sources, component, DERIVED_FROM, EXTRA_COMPONENTS


@cache
def components_of(variable: str) -> frozenset[str]:
    """The NHANES table components (and ingredient tables) a variable is read from.

    Every variable of a cycle depends on DEMO (its rows); variables the dataset does not
    declare (a user's own columns) depend on DEMO only.
    """
    sources, component, derived, extra = _declarations()
    found = {"DEMO"}
    for name in sources.get(variable, ()):
        found |= component.get(name, set())
    found |= set(extra.get(variable, ()))
    for parent in derived.get(variable, ()):
        if parent != variable:
            found |= components_of(parent)
    return frozenset(found)


def subsample_of(variable: str) -> str:
    """The NHANES subsample a variable needs (interview, exam, diet1, diet2): the smallest
    among the components it is read from. Linked mortality counts as interview."""
    rank = catalog.SUBSAMPLES.index
    subs = [catalog.COMPONENT_SUBSAMPLE.get(c, "interview") for c in components_of(variable)]
    return max(subs, key=rank, default="interview")


def affected_by(
    gaps: list[dict[str, object]], variables: list[str], cycles: list[str]
) -> list[tuple[str, str, list[str]]]:
    """The build's gaps (missing tables or columns) that leave one of ``variables`` unmeasured
    in one of ``cycles``, as ``(table, cycle, [variables])``."""
    out = []
    for gap in gaps:
        cycle, table, column = str(gap["cycle"]), str(gap["table"]), gap.get("column")
        if cycle not in cycles:
            continue
        try:
            comp = catalog.component_of(table)
        except CatalogError:
            comp = table
        if column is not None:
            # a missing column: only the variables read from that source
            letter = catalog.get_cycle(cycle).letter
            names = {s.name for s in SOURCES if s.component == comp
                     and s.column_for(letter) == column}  # fmt: skip
            hit = [v for v in variables if names & _source_names(v)]
        else:
            hit = [v for v in variables if comp in components_of(v)]
        if hit:
            out.append((table, cycle, hit))
    return out


@cache
def _source_names(variable: str) -> frozenset[str]:
    sources, _, derived, _ = _declarations()
    found = set(sources.get(variable, ()))
    for parent in derived.get(variable, ()):
        if parent != variable:
            found |= _source_names(parent)
    return frozenset(found)
