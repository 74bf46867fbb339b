"""Formula (or :class:`~nhanes_mg.survey.terms.ModelTerms`) → model matrix on the complete rows
of a domain (formulaic underneath for what the fast path cannot encode)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import polars as pl

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import splines as _splines
from nhanes_mg.survey._scratch import scratch
from nhanes_mg.survey.design import Encoded, SurveyDesign
from nhanes_mg.survey.terms import ModelTerms

if TYPE_CHECKING:
    from formulaic import Formula


@dataclass
class ModelData:
    """Numeric model data of the complete domain rows.

    ``rows`` marks them in the full frame; ``idx`` gives the frame row of each row of ``X``
    (``y``, ``extra``), in the matrix's order: grouped by PSU on the fast path (the PSU totals
    of the sandwich are then sums of contiguous segments), frame order otherwise. On the fast
    path the dense ``X`` is made on first use: the GLM works from ``cells`` when it can.
    """

    row_mask: np.ndarray | None  # bool, full length: domain & complete (None: from idx)
    y: np.ndarray | None
    columns: list[str]
    term_columns: dict[str, list[int]]
    extra: dict[str, np.ndarray]
    binary: list[int] | None = None  # indices of 0/1 dummy columns, when known
    idx: np.ndarray | None = None  # frame row of each matrix row (None: frame order)
    cells: Cells | None = None  # the dummy columns as functions of a few row cells
    psu: np.ndarray | None = None  # the PSU of each row
    weights: np.ndarray | None = None  # the design weight of each row
    dense: np.ndarray | None = None  # X, once made
    make_dense: Callable[[], np.ndarray] | None = field(default=None, repr=False)
    n_frame: int = 0  # rows of the design's frame

    @property
    def rows(self) -> np.ndarray:
        """Full-length mask of the model's rows (domain and complete data)."""
        if self.row_mask is None:
            assert self.idx is not None
            mask = np.zeros(self.n_frame, dtype=bool)
            mask[self.idx] = True
            self.row_mask = mask
        return self.row_mask

    @property
    def X(self) -> np.ndarray:
        """The model matrix (n x p, Fortran order)."""
        if self.dense is None:
            assert self.make_dense is not None
            self.dense = self.make_dense()
        return self.dense

    @property
    def index(self) -> np.ndarray:
        """Frame row of each matrix row."""
        return np.flatnonzero(self.rows) if self.idx is None else self.idx


@dataclass
class Cells:
    """The model matrix as continuous columns and cells of categorical levels.

    A cell is a combination of levels of the categorical terms. The rows are sorted by cell
    (``cell`` is non-decreasing, ``counts`` rows per cell); the dummy columns ``columns`` of
    ``X`` are a function of a row's cell, ``X[i, columns] == values[cell[i]]``; the intercept
    (if any) is 1; the other columns are ``X[:, continuous] == xc``. Products with the
    dummy columns are sums over a few hundred cells instead of thousands of rows (the GLM's
    ``X'WX``, ``X @ beta``, ``X' v``, see :class:`~nhanes_mg.survey.glm.CellOps`).
    """

    cell: np.ndarray  # int, row -> cell 0..K-1 (non-decreasing)
    counts: np.ndarray  # rows per cell
    columns: list[int]  # the dummy columns of X
    values: np.ndarray  # K x len(columns): their values in each cell
    continuous: list[int]  # the numeric columns of X (not the intercept)
    intercept: int | None  # the intercept's column, if any
    xc: np.ndarray  # n x len(continuous), Fortran order
    level_of_cell: list[np.ndarray]  # per categorical term: its level (0 = reference) by cell
    n_levels: list[int]  # per categorical term: its number of levels
    first_columns: list[int]  # per categorical term: its first dummy column


@lru_cache(maxsize=1024)
def _variables(
    formula: str, reference: tuple[str, ...], extra: tuple[str, ...], engine: str
) -> tuple[tuple[str | None, list[str]] | None, list[str]]:
    """The simple-formula parse (or None) and the variables a model needs, per formula.

    (Cached: callers must not modify the lists.)
    """
    simple = _simple_terms(formula, dict.fromkeys(reference)) if engine == "auto" else None
    variables = (
        [_variable(v) for v in (simple[0], *simple[1]) if v] if simple is not None
        else required_variables(formula)
    )  # fmt: skip
    return simple, sorted(set(variables) | set(extra) | set(reference))


@lru_cache(maxsize=256)
def _parsed(formula: str) -> Formula:
    """A formula parsed once per process (formulaic's parser costs ~0.3 ms a call)."""
    # lazy: formulaic (a tenth of a second to import) only for what the fast path leaves
    from formulaic import Formula

    return Formula(formula)


def required_variables(formula: str) -> list[str]:
    if "ns(" in formula and _splines.parse(formula) is not None:  # natural spline terms
        return _splines.required_variables(formula, required_variables)
    try:
        return sorted(_parsed(formula).required_variables)
    except Exception as exc:
        raise EstimationError(f"cannot parse formula {formula!r}: {exc}") from exc


def build(
    design: SurveyDesign,
    formula: str | ModelTerms,
    *,
    reference: Mapping[str, Any] | None = None,
    extra: tuple[str, ...] = (),
    intercept: bool = True,
    engine: str = "auto",
    scratch_x: bool = False,
    lazy_dense: bool = False,
) -> ModelData:
    """Evaluate ``formula`` on the domain rows where every variable it uses is present.

    ``engine="formulaic"`` forces formulaic also for simple formulas (tests compare the two).
    ``scratch_x=True`` builds ``X`` in this thread's reusable scratch buffers (see
    :mod:`~nhanes_mg.survey._scratch`): only for callers that drop it before the next build.
    ``lazy_dense=True`` describes the categorical columns by :class:`Cells` when that pays
    off and makes the dense ``X`` only when it is asked for.

    ``reference`` maps a variable to its reference level: the variable becomes categorical
    (also when numeric) with that level first, so treatment contrasts compare with it.
    """
    if isinstance(formula, ModelTerms):  # columns given: nothing to parse
        return _build_terms(design, formula, reference, extra, intercept, scratch_x, lazy_dense)
    if "ns(" in formula and (spline := _splines.parse(formula)) is not None:
        # ns() terms: the base formula with a placeholder column each, then the basis columns
        return _splines.expand(
            design, spline, build, reference, extra=extra, intercept=intercept, engine=engine,
            scratch_x=scratch_x, lazy_dense=lazy_dense,
        )  # fmt: skip
    reference = dict(reference or {})
    simple, needed = _variables(formula, tuple(sorted(reference)), tuple(extra), engine)
    _check_present(design, needed)
    if simple is not None:
        model = _build_fast(
            design, simple, needed, reference, extra, intercept, scratch_x, lazy_dense
        )
        if model is not None:
            return model
    frame = design.frame
    schema = frame.schema
    present = [
        (pl.col(c).is_not_null() & pl.col(c).is_not_nan()) if schema[c].is_float()
        else pl.col(c).is_not_null()
        for c in needed
    ]  # fmt: skip
    complete = frame.select(pl.all_horizontal(present)).to_series().to_numpy()
    rows = design.domain & complete
    _check_rows(design, rows, needed)
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
        from formulaic import model_matrix  # lazy, as in _parsed

        mm = model_matrix(_parsed(formula), pdf, na_action="raise")
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
    return ModelData(rows, y, columns, term_columns, extras, dense=X)


def _check_present(design: SurveyDesign, needed: list[str]) -> None:
    absent = [v for v in needed if v not in design.column_names]
    if absent:
        raise EstimationError(f"variable(s) not in the design's frame: {', '.join(absent)}")


def _build_terms(
    design: SurveyDesign,
    terms: ModelTerms,
    reference: Mapping[str, Any] | None,
    extra: tuple[str, ...],
    intercept: bool,
    scratch_x: bool,
    lazy_dense: bool,
) -> ModelData:
    """:func:`build` for columns given as :class:`ModelTerms` (no formula to parse)."""
    reference = dict(reference or {})
    simple = (terms.outcome, list(terms.columns))
    named = [v for v in (terms.outcome, *terms.columns) if v]
    needed = sorted(set(named) | set(extra) | set(reference))
    _check_present(design, needed)
    model = _build_fast(design, simple, needed, reference, extra, intercept, scratch_x, lazy_dense)
    if model is not None:
        return model
    return build(  # a column the fast path cannot encode: the same model through formulaic
        design, terms.formula, reference=reference, extra=extra, intercept=intercept,
        engine="formulaic", scratch_x=scratch_x, lazy_dense=lazy_dense,
    )  # fmt: skip


def _build_fast(
    design: SurveyDesign,
    simple: tuple[str | None, list[str]],
    needed: list[str],
    reference: dict[str, Any],
    extra: tuple[str, ...],
    intercept: bool,
    scratch_x: bool,
    lazy_dense: bool,
) -> ModelData | None:
    """The hot path of every model fit: numpy encodings cached by the design, no polars
    call. None when a column cannot be encoded so (formulaic then builds the model)."""
    domain_rows = design.domain_rows()
    if len(domain_rows) == 0:
        raise EstimationError("the domain is empty")
    # each column on the domain's rows, grouped by PSU (cached by the design)
    enc = {c: design.domain_encoded(c) for c in needed}
    if any(e.unsupported is not None for e in enc.values()):
        return None
    keep: np.ndarray | None = None
    for e in enc.values():
        if e.complete:
            continue
        keep = e.present.copy() if keep is None else np.logical_and(keep, e.present, out=keep)
    select = None if keep is None or keep.all() else np.flatnonzero(keep)
    weights = design.domain_row_weights()
    if (select is not None and len(select) == 0) or not (
        design.domain_weights_positive()
        or ((weights if select is None else weights.take(select)) > 0).any()
    ):
        raise EstimationError(
            "no domain row with positive weight has complete data for " + ", ".join(needed)
        )
    model = _build_simple(
        enc, select, None, domain_rows, design.domain_psu(), weights, simple, reference,
        extra, intercept, scratch_x, lazy_dense,
    )  # fmt: skip
    model.n_frame = len(design)
    return model


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CAT = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$")


def _variable(term: str) -> str:
    """The column of a simple term: ``x`` → ``x``, ``C(x)`` → ``x``."""
    m = _CAT.match(term)
    return m.group(1) if m else term


def _simple_terms(
    formula: str, reference: Mapping[str, Any] | None = None
) -> tuple[str | None, list[str]] | None:
    """``(lhs, [terms])`` for formulas of plain column names and ``C(name)`` joined by ``+``.

    Such formulas (the usual case) are encoded directly from the design's numpy columns,
    which is several times faster than formulaic; anything else (functions, interactions,
    ``- 1``, a ``reference`` for a ``C()`` term) goes to formulaic. Both give the same
    columns, names and order (a test checks it).
    """
    parsed = _parse_simple(formula)
    if parsed is None:
        return None
    lhs, terms, categorical = parsed
    if reference and any(v in reference for v in categorical):
        return None
    return (lhs, list(terms))


@lru_cache(maxsize=1024)
def _parse_simple(formula: str) -> tuple[str | None, tuple[str, ...], frozenset[str]] | None:
    """The parse of :func:`_simple_terms`, once per formula: (lhs, terms, C() variables)."""
    if formula.count("~") > 1:
        return None
    lhs, _, rhs = formula.rpartition("~")
    lhs = lhs.strip()
    if lhs and not _NAME.match(lhs):
        return None
    terms = [re.sub(r"\s+", "", t) for t in rhs.split("+")]
    if not terms or len(set(terms)) != len(terms):
        return None
    variables = []
    categorical = []
    for t in terms:
        if _NAME.match(t):
            variables.append(t)
        elif m := _CAT.match(t):
            variables.append(m.group(1))
            categorical.append(m.group(1))
        else:
            return None
    if len(set(variables)) != len(variables):  # x and C(x) together: formulaic decides
        return None
    return (lhs or None, tuple(terms), frozenset(categorical))


def _check_rows(design: SurveyDesign, rows: np.ndarray, needed: list[str]) -> None:
    if not design.domain.any():
        raise EstimationError("the domain is empty")
    if not (rows & (design.weights > 0)).any():
        raise EstimationError(
            "no domain row with positive weight has complete data for " + ", ".join(needed)
        )


def _build_simple(
    enc: dict[str, Encoded],
    select: np.ndarray | None,
    rows: np.ndarray | None,
    domain_rows: np.ndarray,
    domain_psu: np.ndarray,
    domain_weights: np.ndarray,
    simple: tuple[str | None, list[str]],
    reference: Mapping[str, Any],
    extra: tuple[str, ...],
    intercept: bool,
    scratch_x: bool = False,
    lazy_dense: bool = False,
) -> ModelData:
    """The model data of a simple formula from the columns' encodings on the domain's rows.

    ``select`` picks the model's rows among the domain's (None: all). The rows come out
    grouped by PSU, or, with ``lazy_dense`` and categorical terms, sorted by cell (the
    order in which the GLM's products are cheapest; see :class:`Cells`).
    """
    lhs, terms = simple
    n = len(domain_rows) if select is None else len(select)

    def take(source: np.ndarray, positions: np.ndarray | None, name: str) -> np.ndarray:
        """``source`` (on the domain's rows) at ``positions``; None: all, in order."""
        if positions is None:
            return source  # read-only, shared with the design's cache
        if not scratch_x:
            return source.take(positions)
        # mode="clip": a checked take into `out` would be buffered (3x slower)
        out = scratch(name, (len(positions),), dtype=source.dtype.type)
        return np.take(source, positions, out=out, mode="clip")

    # 1. each categorical term's codes on the model's rows (PSU order) and their values
    codes: dict[int, tuple[np.ndarray, list[Any]]] = {}
    for i, term in enumerate(terms):
        var = _variable(term)
        e = enc[var]
        if e.levels is None and var not in reference and var == term:
            continue  # numeric
        data = take(e.data, select, f"model.column{i}")
        if e.levels is not None:
            codes[i] = (data, list(e.levels))
        else:  # a numeric column made categorical by `reference` or C()
            if not e.finite and not np.all(np.isfinite(data)):
                raise EstimationError("the model matrix has non-finite values")
            uniq, inverse = np.unique(data, return_inverse=True)
            as_int = e.integer and not e.boolean  # formulaic sees booleans as 0.0/1.0
            codes[i] = (inverse.reshape(-1), [int(v) if as_int else float(v) for v in uniq])
    # 2. the codes present among the model's rows: from the rows' cells (combinations of
    # codes) when there are few, else term by term
    cells = (
        _cells([c for c, _ in codes.values()], [len(v) for _, v in codes.values()], n)
        if lazy_dense
        else None
    )
    present_codes = {
        i: (cells.present_codes[t] if cells is not None else
            np.flatnonzero(np.bincount(data, minlength=len(names))))
        for t, (i, (data, names)) in enumerate(codes.items())
    }  # fmt: skip

    # 3. the columns: ("value", variable) | ("one",) | ("dummy", term, level)
    plan: list[tuple[Any, ...]] = []
    columns: list[str] = []
    term_columns: dict[str, list[int]] = {}
    binary: list[int] = []  # columns that can separate a binary outcome
    if intercept:
        plan.append(("one",))
        columns.append("Intercept")
        term_columns["1"] = [0]
    positions: list[np.ndarray] = []  # per categorical term: code -> level (0 = reference)
    n_levels: list[int] = []
    first_columns: list[int] = []
    for i, term in enumerate(terms):
        var = _variable(term)
        e = enc[var]
        start = len(columns)
        if i not in codes:
            if not e.finite or e.integer:  # look at the model's rows
                data = take(e.data, select, f"model.column{i}")
                if not e.finite and not np.all(np.isfinite(data)):
                    raise EstimationError("the model matrix has non-finite values")
                if e.integer and np.all((data == 0) | (data == 1)):
                    binary.append(start)
            plan.append(("value", var))
            columns.append(term)
        else:
            names = codes[i][1]
            code_of = {names[int(c)]: int(c) for c in present_codes[i]}
            values = list(code_of)
            if var in reference:
                ref = reference[var]
                if ref not in code_of:
                    raise EstimationError(
                        f"reference level {ref!r} of {var!r} does not occur among the model's "
                        f"rows (levels: {sorted(map(str, values))[:20]})"
                    )
                others = [v for v in values if v != ref]
                levels = [ref, *(others if e.ordered else sorted(others, key=_sort_key))]
            else:
                levels = values if e.ordered else sorted(values)
            if len(levels) < 2:
                raise EstimationError(
                    f"{term!r} has a single level among the model's rows: {levels[0]!r}"
                )
            position = np.zeros(len(names), dtype=np.int64)
            position[[code_of[level] for level in levels]] = np.arange(len(levels))
            plan.extend(("dummy", len(positions), k) for k in range(1, len(levels)))
            columns.extend(f"{term}[T.{level}]" for level in levels[1:])
            binary.extend(range(start, len(columns)))
            positions.append(position)
            n_levels.append(len(levels))
            first_columns.append(start)
        term_columns[term] = list(range(start, len(columns)))
    if lhs is not None and enc[lhs].levels is not None:
        raise EstimationError(f"the outcome {lhs!r} must be numeric or 0/1, not text")
    for c in extra:
        if enc[c].levels is not None:
            raise EstimationError(f"{c!r} must be numeric, not text")

    # 4. the rows' order, and the level of each row in each categorical term
    order: np.ndarray | None = select
    if cells is not None:  # sorted by cell (stable: by PSU within a cell)
        order = cells.perm if select is None else select.take(cells.perm)  # on the domain
        level_of_cell = [
            position.take(cell_codes)
            for position, cell_codes in zip(positions, cells.cell_codes, strict=True)
        ]
    else:  # grouped by PSU
        row_levels = [
            position.take(data)
            for position, (data, _) in zip(positions, codes.values(), strict=True)
        ]

    def level_of_row(term: int) -> np.ndarray:
        """The level (0 = reference) of each row in categorical term ``term``."""
        if cells is None:
            return row_levels[term]
        return cast(np.ndarray, level_of_cell[term].take(cells.cell))

    def per_row(source: np.ndarray, name: str) -> np.ndarray:
        return take(source, order, name)

    y = None
    if lhs is not None:
        y = per_row(enc[lhs].data, "model.y")
        if not enc[lhs].finite and not np.all(np.isfinite(y)):
            raise EstimationError("the model matrix has non-finite values")
    extras = {c: per_row(enc[c].data, f"model.extra.{c}") for c in extra}
    idx = domain_rows if order is None else domain_rows.take(order)
    psu = domain_psu if order is None else domain_psu.take(order)
    weights = domain_weights if order is None else domain_weights.take(order)

    def make_dense() -> np.ndarray:
        shape = (n, len(plan))
        X = scratch("model.X", shape, "F") if scratch_x else np.empty(shape, order="F")
        for j, item in enumerate(plan):
            if item[0] == "one":
                X[:, j] = 1.0
            elif item[0] == "value":
                X[:, j] = per_row(enc[item[1]].data, "model.dense_value")
            else:
                np.equal(level_of_row(item[1]), item[2], out=X[:, j], casting="unsafe")
        return X

    model = ModelData(
        rows,
        y,
        columns,
        term_columns,
        extras,
        binary=sorted(binary),
        idx=idx,
        psu=psu,
        weights=weights,
        make_dense=make_dense,
    )
    if cells is None:
        model.dense = make_dense()
        return model
    assert order is not None
    continuous = [j for j, item in enumerate(plan) if item[0] == "value"]
    shape = (n, len(continuous))
    xc = scratch("model.xc", shape, "F") if scratch_x else np.empty(shape, order="F")
    for i, j in enumerate(continuous):
        np.take(enc[plan[j][1]].data, order, out=xc[:, i], mode="clip")
    dummies = [
        levels[:, None] == np.arange(1, k)
        for levels, k in zip(level_of_cell, n_levels, strict=True)
    ]
    model.cells = Cells(
        cell=cells.cell,
        counts=cells.counts,
        columns=[j for j, item in enumerate(plan) if item[0] == "dummy"],
        values=np.hstack(dummies).astype(np.float64),
        continuous=continuous,
        intercept=0 if intercept else None,
        xc=xc,
        level_of_cell=level_of_cell,
        n_levels=n_levels,
        first_columns=first_columns,
    )
    return model


@dataclass
class _RawCells:
    """Rows by their combination of category codes (see :func:`_cells`)."""

    cell: np.ndarray  # cell of each row, rows sorted by cell (non-decreasing)
    perm: np.ndarray  # the stable permutation that sorts the rows by cell
    counts: np.ndarray  # rows per cell
    cell_codes: list[np.ndarray]  # per term: the code of each cell
    present_codes: list[np.ndarray]  # per term: the codes that occur (sorted)


def _cells(codes: list[np.ndarray], n_codes: list[int], n: int) -> _RawCells | None:
    """The cells of the categorical terms (their combinations of codes that occur), when
    there are few enough to pay off (at most n / 8)."""
    if not codes:
        return None
    size = math.prod(n_codes)
    if size > 4 * n + 1024:
        return None
    cell = scratch("model.cell", (n,), dtype=np.int64)
    cell[:] = codes[0]
    stride = n_codes[0]
    for data, k in zip(codes[1:], n_codes[1:], strict=True):
        step = scratch("model.cell2", (n,), dtype=np.int64)
        cell += np.multiply(data, np.int64(stride), out=step)
        stride *= k
    counts = np.bincount(cell, minlength=size)
    present = np.flatnonzero(counts)
    if len(present) > n // 8:  # cells hardly fewer than rows: the dense product is as fast
        return None
    rank = np.zeros(size, dtype=np.int16 if len(present) <= 32767 else np.int64)
    rank[present] = np.arange(len(present))
    perm = np.argsort(rank.take(cell), kind="stable")  # 16-bit keys: a radix sort
    counts = counts[present]
    cell_codes = []
    stride = 1
    for k in n_codes:
        cell_codes.append((present // stride) % k)
        stride *= k
    present_codes = [
        np.flatnonzero(np.bincount(c, minlength=k))
        for c, k in zip(cell_codes, n_codes, strict=True)
    ]
    sorted_cell = np.repeat(np.arange(len(present)), counts)
    return _RawCells(sorted_cell, perm, counts, cell_codes, present_codes)


def _sort_key(v: Any) -> tuple[int, Any]:
    return (0, v) if isinstance(v, (int, float, np.integer, np.floating)) else (1, str(v))


def check_rank(X: np.ndarray, columns: list[str], what: str) -> None:
    """Raise if the model matrix is rank deficient, naming the aliased columns."""
    from scipy.linalg import qr

    if X.shape[1] <= 12 and X.flags.f_contiguous:  # BLAS gemm: faster than syrk when thin
        from scipy.linalg import blas

        cross = blas.dgemm(1.0, X, X, trans_a=1)
    else:
        cross = X.T @ X
    scale = np.sqrt(np.diag(cross))
    if np.all(scale > 0):
        # fast path: the eigenvalues of the scaled cross-product (p x p) show full rank
        eig = np.linalg.eigvalsh(cross / np.outer(scale, scale))
        if eig[0] > 1e-12 * eig[-1]:
            return
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
