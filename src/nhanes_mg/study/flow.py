"""Who was analysed: the exclusion cascade (sample flow) and the missingness of each variable.

A model analysis starts from every participant of the cycles it fits and loses people step by
step: each clause of its population (the specification's, then the analysis's; the top-level
``AND`` clauses of its parsed :class:`~nhanes_mg.expressions.Condition`, so the steps read as
the user wrote them), the weight's subsample (no positive weight), then a missing outcome,
exposure, follow-up time, covariate or modifier, in that order. The last ``n_after`` is the
analysed n.

Missingness is reported in the *eligible* sample (population and subsample, before any
complete-case step): the weighted share missing for each variable, and a note when
complete-case analysis loses more than :data:`COMPLETE_CASE_NOTE` of it (weighted).

Examples
--------
>>> population_clauses("age >= 20 AND recall_ok_d1 AND NOT coalesce(pregnant, false)")
['age >= 20', 'recall_ok_d1', 'NOT COALESCE(pregnant, FALSE)']
>>> population_clauses("a OR b")
['a OR b']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from nhanes_mg.expressions import Condition, condition

if TYPE_CHECKING:
    import numpy as np

COMPLETE_CASE_NOTE = 0.10  # note when complete-case analysis loses more than this (weighted)

FLOW_SCHEMA: dict[str, pl.DataType] = {
    "step": pl.Int64(),
    "kind": pl.String(),  # start | population | subsample | missing | imputed
    "condition": pl.String(),  # in words, as the report prints it
    "variable": pl.String(),  # the variable a missing step is about (else null)
    "n_before": pl.Int64(),
    "n_lost": pl.Int64(),
    "n_after": pl.Int64(),
}
MISSING_SCHEMA: dict[str, pl.DataType] = {
    "variable": pl.String(),
    "role": pl.String(),  # outcome | exposure | time | covariate | modifier
    "n_eligible": pl.Int64(),
    "n_missing": pl.Int64(),
    "pct_missing_weighted": pl.Float64(),
}


def population_clauses(text: str | None) -> list[str]:
    """The top-level ``AND`` clauses of a population (one clause if it cannot be split)."""
    return list(condition(text).clauses) if text else []


@dataclass(frozen=True)
class Needed:
    """A variable the analysis needs, with its values (nulls are missing) and its role."""

    name: str
    role: str
    values: pl.Series
    imputed: bool = False  # missing values multiply imputed, not left out


def sample_flow(
    frame: pl.DataFrame,
    populations: Sequence[Condition],
    weight: pl.Series,
    weight_words: str,
    needed: Sequence[Needed],
) -> tuple[pl.DataFrame, pl.DataFrame, str | None]:
    """The cascade, the missingness table and a note (or ``None``) on complete-case losses.

    ``frame`` holds the analysis's cycles; ``weight`` its weight (null or 0 outside the
    subsample); ``needed`` the outcome, exposure, … in cascade order.
    """
    import numpy as np  # lazy: the report imports this module, a reused run need not load numpy

    keep = np.ones(frame.height, dtype=bool)
    rows: list[dict[str, object]] = []

    def step(kind: str, condition: str, variable: str | None, mask: np.ndarray) -> None:
        nonlocal keep
        before = int(keep.sum())
        keep = keep & mask
        after = int(keep.sum())
        rows.append(
            dict(
                step=len(rows),
                kind=kind,
                condition=condition,
                variable=variable,
                n_before=before,
                n_lost=before - after,
                n_after=after,
            )
        )

    step("start", "all participants of the cycles fitted", None, keep.copy())
    for parsed in populations:
        for clause, expr in zip(parsed.clauses, parsed.clause_exprs, strict=True):
            flag = frame.select(expr.fill_null(False).alias("_"))["_"]
            step("population", clause, None, flag.to_numpy().astype(bool))
    w = weight.fill_null(0.0).to_numpy().astype(float)
    step("subsample", f"in the weight's subsample ({weight_words})", None, w > 0)
    eligible = keep.copy()
    missing_rows = []
    w_eligible = float(w[eligible].sum())
    for need in needed:
        present = need.values.is_not_null().to_numpy()
        if need.values.dtype.is_float():
            present &= ~np.isnan(need.values.fill_null(0.0).to_numpy())
        if need.imputed:  # nobody is left out: the missing values are imputed
            step("imputed", f"{need.name} imputed where missing", need.name, np.ones_like(present))
        else:
            step("missing", f"{need.name} not missing", need.name, present)
        lost = eligible & ~present
        missing_rows.append(
            dict(
                variable=need.name,
                role=need.role,
                n_eligible=int(eligible.sum()),
                n_missing=int(lost.sum()),
                pct_missing_weighted=100 * float(w[lost].sum()) / w_eligible
                if w_eligible
                else None,
            )
        )
    flow = pl.DataFrame(rows, schema=FLOW_SCHEMA)
    missing = pl.DataFrame(missing_rows, schema=MISSING_SCHEMA)
    complete_lost = float(w[eligible & ~keep].sum()) / w_eligible if w_eligible else 0.0
    note = None
    if complete_lost > COMPLETE_CASE_NOTE:
        worst = missing.sort("pct_missing_weighted", descending=True).head(3)
        most = ", ".join(
            f"{r['variable']} {r['pct_missing_weighted']:.0f}%"
            for r in worst.iter_rows(named=True)
            if r["pct_missing_weighted"]
        )
        note = (
            f"complete-case analysis leaves out {100 * complete_lost:.0f}% of the eligible "
            f"sample (weighted; most missing: {most})"
        )
    return flow, missing, note
