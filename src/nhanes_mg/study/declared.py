"""The derive step for the variables a specification declares in ``[variables]``.

The shared analytic dataset (:mod:`nhanes_mg.derive`) is built once for every specification;
a specification that brings its own NHANES columns gets them joined on SEQN afterwards, cycle
by cycle, from the tables the catalog names (``BIOPRO`` is ``L40_B`` in 2001-2002), with its
missing-value codes made null; expression variables are then computed in declaration order.
A table or column a requested cycle lacks stops the run with one line naming the file, the
variable, the table and the cycle — before any estimation, and never as a silent column of
nulls.

Examples
--------
>>> from nhanes_mg.study.spec import DeclaredVariable
>>> subsamples((DeclaredVariable("waist_cm", table="BMX", column="BMXWAIST"),))
{'waist_cm': 'exam'}
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import polars as pl

from nhanes_mg.data import catalog
from nhanes_mg.data.read import load_table
from nhanes_mg.derive.lineage import subsample_of
from nhanes_mg.errors import CatalogError, MissingTableError, SpecError
from nhanes_mg.expressions import sql_expr, variables_of
from nhanes_mg.study.spec_columns import suggestion
from nhanes_mg.study.spec_types import DeclaredVariable, Spec


def components(specs: Iterable[Spec]) -> list[str]:
    """The table components the specifications' declared variables are read from."""
    found = [v.table for s in specs for v in s.variables if v.table is not None]
    return list(dict.fromkeys(found))


def spec_cycles(spec: Spec) -> tuple[catalog.Cycle, ...]:
    """Every cycle any analysis of the specification asks for."""
    cycles = {c for a in (*spec.analyses, *spec.sensitivities) for c in spec.cycles_of(a)}
    return tuple(sorted(cycles, key=lambda c: c.begin))


def subsamples(variables: Iterable[DeclaredVariable]) -> dict[str, str]:
    """The NHANES subsample each declared variable needs (its table's, or for an expression the
    smallest among the columns it uses), for the weight rule of :mod:`nhanes_mg.study.weights`."""
    rank = catalog.SUBSAMPLES.index
    out: dict[str, str] = {}
    for v in variables:
        if v.table is not None:
            out[v.name] = catalog.COMPONENT_SUBSAMPLE[v.table]  # every known component has one
        else:
            used = variables_of([v.expr])
            subs = [out[u] if u in out else subsample_of(u) for u in used]
            out[v.name] = max(subs, key=rank, default="interview")
    return out


def attach(frame: pl.DataFrame, spec: Spec, data_dir: str | Path) -> pl.DataFrame:
    """``frame`` with the specification's declared variables added (a copy; rows unchanged).

    Raises :class:`SpecError` naming the file, the variable, the table and the cycle when a
    requested cycle lacks the table or the column.
    """
    if not spec.variables:
        return frame
    present = set(frame.get_column("cycle").cast(pl.String).unique().to_list())
    cycles = [c for c in spec_cycles(spec) if c.years in present]
    out = frame
    for variable in spec.variables:
        if variable.table is not None:
            values = _column(variable, cycles, spec.path, data_dir)
            out = out.join(values, on="seqn", how="left")
        else:
            out = out.with_columns(sql_expr(str(variable.expr)).alias(variable.name))
    return out


def with_expressions(frame: pl.DataFrame, spec: Spec) -> pl.DataFrame:
    """``frame`` with the specification's declared *expressions* that it lacks and whose
    columns it has (they read no file): what :func:`nhanes_mg.study.analyses.run_spec` adds
    itself, so that a specification with ``vitd_total_ln = { expr = "ln(vitd_total + 1)" }``
    runs on the analytic dataset as it is. A variable from a table still needs :func:`attach`.
    """
    out = frame
    for variable in spec.variables:
        if variable.table is not None or variable.name in out.columns:
            continue
        if all(c in out.columns for c in variables_of([str(variable.expr)])):
            out = out.with_columns(sql_expr(str(variable.expr)).alias(variable.name))
    return out


def _column(
    variable: DeclaredVariable, cycles: list[catalog.Cycle], path: str, data_dir: str | Path
) -> pl.DataFrame:
    """SEQN and the declared column over the cycles, missing codes made null."""
    table = str(variable.table)
    where = f"{path}: variables.{variable.name}"
    parts = []
    for cycle in cycles:
        column = variable.column_for(cycle.years)
        if not column:
            raise SpecError(f"{where}: no column given for {cycle.years}")
        try:
            name = catalog.table_name(table, cycle)
        except CatalogError as exc:
            raise SpecError(
                f"{where}: NHANES {cycle.years} has no {table} table; limit the "
                "specification's cycles or drop the variable"
            ) from exc
        try:
            raw = load_table(data_dir, table, cycle)
        except MissingTableError as exc:
            raise SpecError(f"{where}: {exc}") from exc
        if column not in raw.columns:
            hint = suggestion(column, [c for c in raw.columns if c != "SEQN"])
            raise SpecError(
                f"{where}: column {column} is not in {name} ({cycle.years}){hint}; a column "
                'CDC renamed can be given per cycle: column = { "2001-2002" = …, "2003-2018" = … }'
            )
        repeated = raw.filter(pl.col("SEQN").is_duplicated())["SEQN"]
        if len(repeated):  # a long table (one row per supplement, food …) would multiply people
            raise SpecError(
                f"{where}: {name} ({cycle.years}) has several rows for SEQN {repeated[0]}; a "
                "declared variable comes from a table with one row per participant"
            )
        values = raw.select(pl.col("SEQN").cast(pl.Int64).alias("seqn"), pl.col(column))
        parts.append(values.rename({column: variable.name}))
    joined = pl.concat(parts, how="vertical_relaxed")
    value = pl.col(variable.name)
    if joined.schema[variable.name].is_numeric():
        value = value.cast(pl.Float64)
        if variable.missing:
            value = pl.when(value.is_in(list(variable.missing))).then(None).otherwise(value)
    return joined.select("seqn", value.alias(variable.name))
