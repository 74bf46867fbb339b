"""Formula → model matrix on the complete rows of a domain (formulaic underneath)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from formulaic import Formula, model_matrix

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import Encoded, SurveyDesign


@dataclass
class ModelData:
    """Numeric model data of the complete domain rows (positions in the full frame: ``rows``)."""

    rows: np.ndarray  # bool, full length: domain & complete
    y: np.ndarray | None
    X: np.ndarray
    columns: list[str]
    term_columns: dict[str, list[int]]
    extra: dict[str, np.ndarray]
    binary: list[int] | None = None  # indices of 0/1 dummy columns, when known


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
    engine: str = "auto",
) -> ModelData:
    """Evaluate ``formula`` on the domain rows where every variable it uses is present.

    ``engine="formulaic"`` forces formulaic also for simple formulas (tests compare the two).

    ``reference`` maps a variable to its reference level: the variable becomes categorical
    (also when numeric) with that level first, so treatment contrasts compare with it.
    """
    reference = dict(reference or {})
    simple = _simple_terms(formula) if engine == "auto" else None
    variables = (
        [v for v in (simple[0], *simple[1]) if v] if simple is not None
        else required_variables(formula)
    )  # fmt: skip
    needed = sorted(set(variables) | set(extra) | set(reference))
    frame = design.frame
    absent = [v for v in needed if v not in frame.columns]
    if absent:
        raise EstimationError(f"variable(s) not in the design's frame: {', '.join(absent)}")
    # The hot path of every model fit: numpy encodings cached by the design, no polars call.
    if simple is not None:
        enc = {c: design.encoded(c) for c in needed}
        if all(e.unsupported is None for e in enc.values()):
            complete = np.ones(frame.height, dtype=bool)
            for e in enc.values():
                complete &= ~e.missing
            rows = _rows(design, complete, needed)
            return _build_simple(enc, rows, simple, reference, extra, intercept)
    schema = frame.schema
    present = [
        (pl.col(c).is_not_null() & pl.col(c).is_not_nan()) if schema[c].is_float()
        else pl.col(c).is_not_null()
        for c in needed
    ]  # fmt: skip
    complete = frame.select(pl.all_horizontal(present)).to_series().to_numpy()
    rows = _rows(design, complete, needed)
    used = frame.select(
        pl.col(c).cast(pl.Float64) if schema[c] == pl.Boolean else pl.col(c) for c in needed
    ).filter(pl.Series(rows))  # booleans are 0/1 numbers, as on the fast path
    # formulaic works on pandas; the conversion of the used columns of the domain rows is cheap.
    pdf = used.to_pandas()
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


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _simple_terms(formula: str) -> tuple[str | None, list[str]] | None:
    """``(lhs, [names])`` for formulas of plain column names joined by ``+``, else None.

    Such formulas (the usual case) are encoded directly from polars, which is several times
    faster than formulaic; anything else (functions, interactions, ``C()``, ``- 1``) goes to
    formulaic. Both give the same columns, names and order (a test checks it).
    """
    if formula.count("~") > 1:
        return None
    lhs, _, rhs = formula.rpartition("~")
    lhs = lhs.strip()
    if lhs and not _NAME.match(lhs):
        return None
    terms = [t.strip() for t in rhs.split("+")]
    if not terms or any(not _NAME.match(t) for t in terms) or len(set(terms)) != len(terms):
        return None
    return (lhs or None, terms)


def _rows(design: SurveyDesign, complete: np.ndarray, needed: list[str]) -> np.ndarray:
    dom = design.domain
    if not dom.any():
        raise EstimationError("the domain is empty")
    rows = dom & complete
    if not (rows & (design.weights > 0)).any():
        raise EstimationError(
            "no domain row with positive weight has complete data for " + ", ".join(needed)
        )
    return rows


def _build_simple(
    enc: dict[str, Encoded],
    rows: np.ndarray,
    simple: tuple[str | None, list[str]],
    reference: Mapping[str, Any],
    extra: tuple[str, ...],
    intercept: bool,
) -> ModelData:
    lhs, terms = simple
    idx = np.flatnonzero(rows)  # take() with indices beats boolean masks, column by column
    n = len(idx)
    # plan the columns (source values, and the code of a dummy's level), then fill one
    # Fortran-ordered matrix: contiguous columns are cheap to write and to scale in IRLS
    plan: list[tuple[np.ndarray | None, Any]] = []
    columns: list[str] = []
    term_columns: dict[str, list[int]] = {}
    binary: list[int] = []  # columns that can separate a binary outcome
    if intercept:
        plan.append((None, None))
        columns.append("Intercept")
        term_columns["1"] = [0]
    for term in terms:
        e = enc[term]
        start = len(columns)
        data = e.data.take(idx)
        if e.levels is None and term not in reference:
            plan.append((data, None))
            columns.append(term)
            if e.integer and np.all((data == 0) | (data == 1)):
                binary.append(start)
        else:
            if e.levels is not None:
                present = np.flatnonzero(np.bincount(data, minlength=len(e.levels)))
                code_of = {e.levels[i]: int(i) for i in present}
            else:  # a numeric column made categorical by `reference`
                uniq = np.unique(data)
                code_of = {(int(v) if e.integer else float(v)): v for v in uniq}
            values = list(code_of)
            if term in reference:
                ref = reference[term]
                if ref not in code_of:
                    raise EstimationError(
                        f"reference level {ref!r} of {term!r} does not occur among the model's "
                        f"rows (levels: {sorted(map(str, values))[:20]})"
                    )
                levels = [ref, *sorted((v for v in values if v != ref), key=_sort_key)]
            else:
                levels = sorted(values)
            if len(levels) < 2:
                raise EstimationError(
                    f"{term!r} has a single level among the model's rows: {levels[0]!r}"
                )
            plan.extend((data, code_of[level]) for level in levels[1:])
            columns.extend(f"{term}[T.{level}]" for level in levels[1:])
        term_columns[term] = list(range(start, len(columns)))
    X = np.empty((n, len(plan)), order="F")
    for j, (source, code) in enumerate(plan):
        if source is None:
            X[:, j] = 1.0
        elif code is None:
            X[:, j] = source
        else:
            np.equal(source, code, out=X[:, j], casting="unsafe")
    y = None
    if lhs is not None:
        if enc[lhs].levels is not None:
            raise EstimationError(f"the outcome {lhs!r} must be numeric or 0/1, not text")
        y = enc[lhs].data.take(idx)
    extras = {}
    for c in extra:
        if enc[c].levels is not None:
            raise EstimationError(f"{c!r} must be numeric, not text")
        extras[c] = enc[c].data.take(idx)
    if not np.all(np.isfinite(X)) or (y is not None and not np.all(np.isfinite(y))):
        raise EstimationError("the model matrix has non-finite values")
    binary += [j for j in range(len(columns)) if "[T." in columns[j]]
    return ModelData(rows, y, X, columns, term_columns, extras, binary=sorted(binary))


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.integer, np.floating)) else (1, str(v))


def check_rank(X: np.ndarray, columns: list[str], what: str) -> None:
    """Raise if the model matrix is rank deficient, naming the aliased columns."""
    from scipy.linalg import qr

    scale = np.sqrt((X**2).sum(axis=0))
    if np.all(scale > 0):
        # fast path: the eigenvalues of the scaled cross-product (p x p) show full rank
        gram = (X.T @ X) / np.outer(scale, scale)
        eig = np.linalg.eigvalsh(gram)
        if eig[0] > 1e-12 * eig[-1]:
            return
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
