"""Which data files the report lists as used: the tables its analyses read, per cycle fitted.

The analytic build reads every table of the data dir; an analysis uses the tables its
variables are made of (:func:`nhanes_mg.derive.lineage.components_of`), its weight's, a
declared variable's own table, and the linked-mortality file of a survival analysis, in the
cycles it fitted. The report lists those files with their sha256 and folds the rest away.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from nhanes_mg.data import catalog
from nhanes_mg.data.fetch import iter_manifest
from nhanes_mg.derive import registry, steps
from nhanes_mg.derive.lineage import components_of
from nhanes_mg.errors import CatalogError
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.results import SpecResult
from nhanes_mg.study.spec_types import Spec, expressions_of

MORTALITY = catalog.MORTALITY_DIR  # the linked-mortality files, as one "component"


def _components(spec: Spec, variables: Iterable[str]) -> set[str]:
    declared = {v.name: v for v in spec.variables}
    found: set[str] = set()
    todo = list(variables)
    while todo:
        name = todo.pop()
        if name in declared:
            v = declared.pop(name)
            if v.table is not None:
                found |= {"DEMO", v.table}
            todo += variables_of([v.expr])
            continue
        found |= components_of(name)
        try:
            if registry.REGISTRY.get(name).step is steps.LINKED_MORTALITY:
                found.add(MORTALITY)
        except KeyError:
            pass  # a design column or a name the analysis computed
    return found


def used_tables(results: Sequence[SpecResult]) -> set[tuple[str, str]]:
    """``(cycle, component)`` pairs the results' analyses read (the cycles each fitted)."""
    used: set[tuple[str, str]] = set()
    for result in results:
        spec = result.spec
        analyses = {(a.name, a.sensitivity): a for a in (*spec.analyses, *spec.sensitivities)}
        for fit in result.fits:
            analysis = analyses.get((fit.analysis, fit.sensitivity))
            if analysis is None:
                continue
            names = [*variables_of(expressions_of(spec, analysis)), fit.weight]
            names += list(spec.outputs.table1_extra)
            for component in _components(spec, [n for n in names if n]):
                used |= {(cycle, component) for cycle in fit.cycles}
    return used


def _key(relpath: str) -> tuple[str, str] | None:
    """The ``(cycle, component)`` of a data file (None: not a table of a cycle)."""
    folder, _, name = relpath.partition("/")
    if folder == MORTALITY:
        parts = name.split("_")  # NHANES_2005_2006_MORT_2019_PUBLIC.dat
        return (f"{parts[1]}-{parts[2]}", MORTALITY) if len(parts) > 3 else None
    try:
        return folder, catalog.component_of(Path(name).stem)
    except CatalogError:
        return None


def listed(data_dir: Path) -> Iterator[tuple[dict[str, object], bool]]:
    """The fetch manifest's entries a report may list, each with whether its file is still
    there: a plain relative path inside the data dir, never a link (a manifest is the data
    dir's, so untrusted: ``../x`` or a link must not make the report probe outside it)."""
    for e in iter_manifest(data_dir):
        rel = PurePosixPath(str(e["file"]))
        if rel.is_absolute() or ".." in rel.parts or not rel.parts:
            continue
        path = data_dir / rel
        below = [path, *(p for p in path.parents if data_dir in p.parents)]  # under data_dir
        yield e, path.is_file() and not any(p.is_symlink() for p in below)


def data_rows(
    data_dir: Path, used: set[tuple[str, str]], cycles: object = None
) -> tuple[list[list[str]], list[list[str]]]:
    """The data dir's files in the fetch manifest, still present, of a cycle built: those the
    analyses used (an ingredient table counts for any cycle that uses it) and the others."""
    built = set(cycles) if isinstance(cycles, list) else None
    used_components = {component for _, component in used}
    used_rows: list[list[str]] = []
    other_rows: list[list[str]] = []
    for e, present in listed(data_dir):
        relpath = str(e["file"])
        if not present:
            continue  # deleted since it was fetched: not used
        folder = relpath.split("/", 1)[0]
        ingredient = folder == catalog.INGREDIENT_DIR and Path(relpath).stem in (
            catalog.INGREDIENT_TABLES
        )
        if built is not None and folder[:1].isdigit() and folder not in built and not ingredient:
            continue
        row = [relpath, str(e["size"]), str(e["sha256"]), str(e["source"])]
        key = _key(relpath)
        if (ingredient and Path(relpath).stem in used_components) or key in used:
            used_rows.append(row)
        else:
            other_rows.append(row)
    return used_rows, other_rows
