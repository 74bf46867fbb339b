"""Formula → model matrix on the complete rows of a domain (formulaic underneath)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from formulaic import Formula, model_matrix

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign


@dataclass
class ModelData:
    """Numeric model data of the complete domain rows (positions in the full frame: ``rows``)."""

    rows: np.ndarray  # bool, full length: domain & complete
    y: np.ndarray | None
    X: np.ndarray
    columns: list[str]
    term_columns: dict[str, list[int]]
    extra: dict[str, np.ndarray]


def required_variables(formula: str) -> list[str]:
    try:
        return sorted(Formula(formula).required_variables)
    except Exception as exc:
        raise EstimationError(f"cannot parse formula {formula!r}: {exc}") from exc


def build(
    design: SurveyDesign,
    formula: str,
    *,
    reference: Mapping[str, Any] | None = None,
    extra: tuple[str, ...] = (),
    intercept: bool = True,
) -> ModelData:
    """Evaluate ``formula`` on the domain rows where every variable it uses is present.

    ``reference`` maps a variable to its reference level: the variable becomes categorical
    (also when numeric) with that level first, so treatment contrasts compare with it.
    """
    reference = dict(reference or {})
    variables = required_variables(formula)
    needed = sorted(set(variables) | set(extra) | set(reference))
    frame = design.frame
    absent = [v for v in needed if v not in frame.columns]
    if absent:
        raise EstimationError(f"variable(s) not in the design's frame: {', '.join(absent)}")
    sub = frame.select(needed)
    complete = np.ones(frame.height, dtype=bool)
    for col in needed:
        s = sub[col]
        ok = s.is_not_null()
        if s.dtype.is_float():
            ok = ok & s.is_not_nan().fill_null(False)
        complete &= ok.to_numpy()
    dom = design.domain
    if not dom.any():
        raise EstimationError("the domain is empty")
    rows = dom & complete
    if not (rows & (design.weights > 0)).any():
        raise EstimationError(
            "no domain row with positive weight has complete data for " + ", ".join(needed)
        )
    # formulaic works on pandas; the conversion of the used columns of the domain rows is cheap.
    pdf = sub.filter(pl.Series(rows)).to_pandas()
    for col, ref in reference.items():
        observed = pd.unique(pdf[col])
        if ref not in set(observed.tolist()):
            raise EstimationError(
                f"reference level {ref!r} of {col!r} does not occur among the model's rows "
                f"(levels: {sorted(map(str, observed))[:20]})"
            )
        others = sorted((v for v in observed if v != ref), key=_sort_key)
        pdf[col] = pd.Categorical(pdf[col], categories=[ref, *others])
    for col in pdf.columns:
        if isinstance(pdf[col].dtype, pd.CategoricalDtype) and col not in reference:
            pdf[col] = pdf[col].cat.remove_unused_categories()
    try:
        mm = model_matrix(formula, pdf, na_action="raise")
    except Exception as exc:
        raise EstimationError(f"cannot build the model matrix of {formula!r}: {exc}") from exc
    if hasattr(mm, "rhs"):
        lhs, rhs = mm.lhs, mm.rhs
    else:
        lhs, rhs = None, mm
    X = np.asarray(rhs, dtype=float)
    columns = [str(c) for c in rhs.columns]
    term_columns = {str(t): list(ix) for t, ix in rhs.model_spec.term_indices.items()}
    if not intercept and "Intercept" in columns:
        j = columns.index("Intercept")
        X = np.delete(X, j, axis=1)
        columns.pop(j)
        term_columns = {t: [i - (i > j) for i in ix] for t, ix in term_columns.items() if t != "1"}
    y = None
    if lhs is not None:
        if lhs.shape[1] != 1:
            raise EstimationError(
                f"the outcome of {formula!r} must be one numeric or 0/1 column, got "
                f"{list(lhs.columns)}"
            )
        y = np.asarray(lhs, dtype=float)[:, 0]
    if not np.all(np.isfinite(X)) or (y is not None and not np.all(np.isfinite(y))):
        raise EstimationError(f"the model matrix of {formula!r} has non-finite values")
    extras = {c: pdf[c].to_numpy(dtype=float) for c in extra}
    return ModelData(rows, y, X, columns, term_columns, extras)


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.integer, np.floating)) else (1, str(v))


def check_rank(X: np.ndarray, columns: list[str], what: str) -> None:
    """Raise if the model matrix is rank deficient, naming the aliased columns."""
    from scipy.linalg import qr

    scale = np.sqrt((X**2).sum(axis=0))
    scale[scale == 0] = 1.0
    _, r, piv = qr(X / scale, mode="economic", pivoting=True)
    d = np.abs(np.diag(r))
    rank = int((d > 1e-9 * d[0]).sum()) if d.size else 0
    if rank < X.shape[1]:
        aliased = [columns[i] for i in piv[rank:]]
        raise EstimationError(
            f"{what}: the model matrix is rank deficient; aliased column(s): "
            f"{', '.join(aliased)} (empty category in the domain, or collinear terms)"
        )
