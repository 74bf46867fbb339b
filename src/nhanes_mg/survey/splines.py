"""Natural cubic spline terms in survey model formulas, equal to R's ``splines::ns``.

A formula term ``ns(x, knots=[...], Boundary.knots=[lo, hi])`` or ``ns(x, df=k)`` in
:func:`~nhanes_mg.survey.svyglm` or :func:`~nhanes_mg.survey.svycoxph` expands to the columns
of R's natural spline basis, named as R names them: the term label is R's deparse of the call
(``ns(x, knots = c(200, 300), Boundary.knots = c(50, 800))``) and the columns are the label
followed by ``1``, ``2``, … The arguments follow R's ``ns(x, df, knots, intercept,
Boundary.knots)``; lists are written ``[a, b]`` or ``c(a, b)``; ``boundary_knots`` is accepted
for ``Boundary.knots``. ``x`` must be a numeric column of the design's frame.

Knots that the data choose (as R's svyglm chooses them)
    ``df=k`` places ``k - 1 - intercept`` interior knots at *unweighted* quantiles (R's type 7)
    of ``x``, and a missing ``Boundary.knots`` is the range of ``x``. As in R's ``svyglm``,
    which evaluates ``ns()`` on ``model.frame(design)``, these are taken over the rows of the
    design's domain where ``x`` is present (including rows that lack the outcome or another
    covariate; R drops incomplete rows only after building the basis). Unweighted quantiles
    describe the sample, not the population: :func:`spline_knots` gives design-weighted
    percentiles in the domain, to be written into the formula explicitly.

The basis
    R's ``ns`` is the cubic B-spline basis on the knots (boundary knots repeated four times)
    with the two second-derivative conditions at the boundary knots removed by a QR
    decomposition of the constraint matrix: the basis is ``Q' B`` without its first two rows,
    ``Q`` from the Householder QR of ``t(const)`` (LINPACK ``dqrdc2``, R's default ``qr``).
    Beyond the boundary knots the basis continues linearly (value and slope at the knot).
    Every step is reproduced here, so the columns, not just their span, equal R's (to
    ~1e-15), and so do the coefficients of a model.

Why parts are hand-written
    ``scipy.interpolate.BSpline`` gives the B-spline values and derivatives (R's
    ``splineDesign``). The rest is R-specific and written out: the Householder reflections
    follow LINPACK's ``dqrdc2``/``dqrsl`` (LAPACK's ``dgeqrf`` skips a reflection when the
    sub-column is zero, where LINPACK reflects and flips a sign; writing the two reflections
    out removes any doubt about which ``Q`` is used); the linear extrapolation, the type-7
    quantiles with R's arithmetic and the deparse of the term label are ``ns``'s own.
    formulaic has no ``ns`` (its ``cr`` is mgcv's cubic regression spline: the same space
    with the same knots, but another basis, so other coefficients and other names).

After the fit: :mod:`nhanes_mg.survey.spline_curve` (curves, tests of non-linearity).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from scipy.interpolate import BSpline

from nhanes_mg.errors import EstimationError

if TYPE_CHECKING:
    from nhanes_mg.survey.design import SurveyDesign
    from nhanes_mg.survey.model_matrix import ModelData

__all__ = [
    "NaturalSpline",
    "ns_basis",
    "spline_design",
    "spline_knots",
]

# ------------------------------------------------------------------------------------ basis


def spline_design(
    knots: Sequence[float] | np.ndarray, x: Sequence[float] | np.ndarray, ord: int = 4,
    derivs: int | Sequence[int] = 0,
) -> np.ndarray:  # fmt: skip
    """B-spline basis (or its derivatives) at ``x``, as R's ``splines::splineDesign``.

    ``knots`` is the full, non-decreasing knot sequence; ``x`` must lie within
    ``[knots[ord - 1], knots[-ord]]`` (R's ``outer.ok = FALSE``); ``derivs`` is one order of
    derivative for all ``x`` or one per ``x``. Returns ``len(x)`` x ``len(knots) - ord``.
    """
    t = np.asarray(knots, dtype=float)
    xs = np.atleast_1d(np.asarray(x, dtype=float))
    k = ord - 1
    nb = len(t) - ord
    if nb < 1 or np.any(np.diff(t) < 0):
        raise EstimationError("spline_design: the knots must be non-decreasing, >= 2 * ord")
    if xs.size and (xs.min() < t[k] or xs.max() > t[nb]):
        raise EstimationError(
            f"spline_design: x must be within [{t[k]:g}, {t[nb]:g}] (the boundary knots)"
        )
    d = np.broadcast_to(np.asarray(derivs, dtype=int), xs.shape)
    out = np.empty((xs.size, nb))
    spline = BSpline(t, np.eye(nb), k, extrapolate=True)  # x is in range: no extrapolation
    for order in np.unique(d):
        rows = d == order
        f = spline if order == 0 else spline.derivative(int(order))
        out[rows] = f(xs[rows])
    return out


def _r_quantile7(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """R's ``quantile(x, probs)`` (type 7) with R's arithmetic."""
    xs = np.sort(x)
    n = len(xs)
    index = 1 + max(n - 1, 0) * probs
    lo = np.floor(index).astype(np.int64)
    hi = np.ceil(index).astype(np.int64)
    qs = xs[lo - 1]
    xhi = xs[hi - 1]
    h = index - lo
    interp = (index > lo) & (xhi != qs)
    return np.where(interp, (1 - h) * qs + h * xhi, qs)


def _householder(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LINPACK ``dqrdc2`` without pivoting: the reflection vectors (columns of the returned
    matrix below and on the diagonal) and ``qraux``, as R's ``qr(a)`` stores them."""
    x = np.array(a, dtype=float)
    n, p = x.shape
    qraux = np.zeros(p)
    for j in range(min(n, p)):
        if j == n - 1:
            break
        nrmxl = float(np.sqrt(x[j:, j] @ x[j:, j]))
        if nrmxl == 0.0:
            continue
        if x[j, j] != 0.0:
            nrmxl = math.copysign(nrmxl, x[j, j])
        x[j:, j] /= nrmxl
        x[j, j] += 1.0
        for col in range(j + 1, p):
            t = -(x[j:, j] @ x[j:, col]) / x[j, j]
            x[j:, col] += t * x[j:, j]
        qraux[j] = x[j, j]
        x[j, j] = -nrmxl
    return x, qraux


def _qty(qr: np.ndarray, qraux: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``qr.qty(qr, y)`` (LINPACK ``dqrsl``): ``Q' y`` for the columns of ``y``."""
    out = np.array(y, dtype=float)
    n = qr.shape[0]
    for j in range(min(qr.shape[1], n - 1)):
        if qraux[j] == 0.0:
            continue
        v = qr[j:, j].copy()
        v[0] = qraux[j]
        t = -(v @ out[j:]) / v[0]
        out[j:] += np.outer(v, t)
    return out


@dataclass(frozen=True)
class NaturalSpline:
    """A natural cubic spline basis with its knots resolved (R's ``ns`` object).

    ``label`` is the formula term as R deparses it (the columns are ``label1``, ``label2``…);
    ``variable`` the column it is a function of.
    """

    variable: str
    knots: tuple[float, ...]
    boundary_knots: tuple[float, float]
    intercept: bool = False
    label: str = ""

    @property
    def df(self) -> int:
        """The number of columns: interior knots + 1 + intercept."""
        return len(self.knots) + 1 + int(self.intercept)

    @property
    def columns(self) -> list[str]:
        return [f"{self.label}{i}" for i in range(1, self.df + 1)]

    def basis(self, x: Sequence[float] | np.ndarray) -> np.ndarray:
        """The basis at ``x`` (``len(x)`` x ``df``), equal to R's ``predict(ns(...), x)``."""
        return _ns(np.asarray(x, dtype=float), self.knots, self.boundary_knots, self.intercept)

    def linear(self) -> np.ndarray:
        """The coefficients ``c`` with ``basis(x) @ c = x - lo`` (lo the lower boundary knot;
        the natural spline space holds the straight lines, and without an intercept column
        its functions are 0 at ``lo``)."""
        lo, hi = self.boundary_knots
        grid = np.unique(np.r_[np.linspace(lo, hi, 4 * self.df + 8), self.knots])
        basis = self.basis(grid)
        coef, *_ = np.linalg.lstsq(basis, grid - lo, rcond=None)
        resid = float(np.max(np.abs(basis @ coef - (grid - lo))))
        if resid > 1e-8 * max(hi - lo, 1.0):
            raise EstimationError(f"{self.label}: cannot express x in the basis ({resid:g})")
        return np.asarray(coef)


def _ns(
    x: np.ndarray, knots: Sequence[float], boundary: tuple[float, float], intercept: bool
) -> np.ndarray:
    """R's ``ns`` basis at ``x`` (no missing values) for resolved knots."""
    lo, hi = boundary
    a_knots = np.sort(np.r_[[lo] * 4, np.asarray(knots, dtype=float), [hi] * 4])
    nb = len(a_knots) - 4
    basis = np.zeros((len(x), nb))
    left = x < lo
    right = x > hi
    inside = ~(left | right)
    if inside.any():
        basis[inside] = spline_design(a_knots, x[inside])
    for side, pivot in ((left, lo), (right, hi)):
        if side.any():
            tt = spline_design(a_knots, [pivot, pivot], derivs=[0, 1])
            basis[side] = np.column_stack((np.ones(int(side.sum())), x[side] - pivot)) @ tt
    const = spline_design(a_knots, [lo, hi], derivs=[2, 2])
    if not intercept:
        const = const[:, 1:]
        basis = basis[:, 1:]
    qr, qraux = _householder(const.T)
    return np.ascontiguousarray(_qty(qr, qraux, basis.T)[2:].T)


def ns_basis(
    x: Sequence[float] | np.ndarray,
    df: int | None = None,
    knots: Sequence[float] | None = None,
    intercept: bool = False,
    boundary_knots: Sequence[float] | None = None,
) -> np.ndarray:
    """R's ``splines::ns(x, df, knots, intercept, Boundary.knots)``.

    Missing values (NaN) give rows of NaN, as in R. ``df`` places ``df - 1 - intercept``
    interior knots at the type-7 quantiles of the non-missing ``x`` inside the boundary knots
    (R's rule); ``boundary_knots`` defaults to the range of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> b = ns_basis([0.0, 1.0, 2.5, 4.0], knots=[1.0, 2.0], boundary_knots=[0.0, 4.0])
    >>> b.shape
    (4, 3)
    >>> bool(np.all(b[0] == 0))
    True
    """
    xs = np.asarray(x, dtype=float)
    spec = resolve("x", xs, df=df, knots=knots, intercept=intercept, boundary_knots=boundary_knots)
    out = np.full((len(xs), spec.df), np.nan)
    ok = ~np.isnan(xs)
    out[ok] = spec.basis(xs[ok])
    return out


def resolve(
    variable: str,
    values: np.ndarray,
    *,
    df: int | None = None,
    knots: Sequence[float] | None = None,
    intercept: bool = False,
    boundary_knots: Sequence[float] | None = None,
    label: str = "",
) -> NaturalSpline:
    """The knots of ``ns(...)`` as R chooses them from ``values`` (missing values dropped)."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if boundary_knots is not None:
        if len(boundary_knots) != 2:
            raise EstimationError(f"{label or 'ns'}: Boundary.knots must be two numbers")
        lo, hi = sorted(float(b) for b in boundary_knots)
        inside = x[(x >= lo) & (x <= hi)]
    else:
        if x.size == 0:
            raise EstimationError(f"{label or 'ns'}: {variable!r} has no values to place knots")
        lo, hi = float(x.min()), float(x.max())
        inside = x
    if df is not None and knots is None:
        n_inner = int(df) - 1 - int(intercept)
        if n_inner < 0:
            raise EstimationError(f"{label or 'ns'}: df must be at least {1 + int(intercept)}")
        if n_inner > 0:
            if inside.size == 0:
                raise EstimationError(f"{label or 'ns'}: no values of {variable!r} for knots")
            probs = np.arange(n_inner + 2) * (1.0 / (n_inner + 1))
            inner = tuple(float(q) for q in _r_quantile7(inside, probs[1:-1]))
        else:
            inner = ()
    else:
        inner = tuple(sorted(float(k) for k in (knots or ())))
    if not lo < hi:
        raise EstimationError(f"{label or 'ns'}: the boundary knots must differ ({lo}, {hi})")
    if any(not math.isfinite(k) for k in (*inner, lo, hi)):
        raise EstimationError(f"{label or 'ns'}: the knots must be finite")
    if any(k <= lo or k >= hi for k in inner):
        raise EstimationError(
            f"{label or 'ns'}: the interior knots {list(inner)} must lie strictly between the "
            f"boundary knots {lo:g} and {hi:g}"
        )
    return NaturalSpline(variable, inner, (lo, hi), bool(intercept), label)


# ------------------------------------------------------------------- weighted-percentile knots


def spline_knots(design: SurveyDesign, variable: str, probs: Sequence[float]) -> list[float]:
    """Design-weighted percentiles of ``variable`` in the design's domain, to use as knots.

    The rows of the domain with the variable present and a positive weight; the quantile is
    the smallest value whose weighted cumulative share reaches ``p`` (R's
    ``svyquantile(~x, design, probs, qrule = "math")``). Pass the result explicitly:
    ``f"ns(x, knots={knots[1:-1]}, Boundary.knots={[knots[0], knots[-1]]})"``, or restrict
    the design to the model's complete rows first (``design.subset(...)``) if the knots
    should describe exactly those rows.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
    ...                       "w": [1.0, 1.0, 1.0, 3.0], "x": [1.0, 2.0, 3.0, 4.0]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
    >>> spline_knots(d, "x", [0.25, 0.5, 0.9])
    [2.0, 3.0, 4.0]
    """
    p = np.asarray(probs, dtype=float)
    if p.size == 0 or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise EstimationError("spline_knots: probs must be numbers in [0, 1]")
    x = domain_values(design, variable)
    w = np.asarray(design.weights, dtype=float)[np.asarray(design.domain, dtype=bool)]
    keep = ~np.isnan(x) & (w > 0)
    x, w = x[keep], w[keep]
    if x.size == 0:
        raise EstimationError(f"spline_knots: no domain row with {variable!r} and weight > 0")
    values, inverse = np.unique(x, return_inverse=True)
    totals = np.bincount(inverse.reshape(-1), weights=w).astype(np.float64)
    cum = np.cumsum(totals) / totals.sum()
    # R: approx(cumw, x, xout = p, method = "constant", f = 1, rule = 2, ties = min)
    pos = np.searchsorted(cum, p, side="left")
    return [float(v) for v in values[np.minimum(pos, len(values) - 1)]]


def domain_values(design: SurveyDesign, variable: str) -> np.ndarray:
    """``variable`` on the domain's rows, as floats (missing: NaN)."""
    if variable not in design.column_names:
        raise EstimationError(f"variable not in the design's frame: {variable}")
    col = design.frame.get_column(variable)
    if not (col.dtype.is_numeric() or col.dtype == pl.Boolean):
        raise EstimationError(f"ns(): {variable!r} must be numeric, not {col.dtype}")
    x = col.cast(pl.Float64).fill_null(float("nan")).to_numpy()
    return np.asarray(x[np.asarray(design.domain, dtype=bool)], dtype=float)


# ------------------------------------------------------------------------------- the formula

_NS_CALL = re.compile(r"(?<![A-Za-z0-9_.])ns\s*\(")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ARG_NAMES = {
    "df": "df",
    "knots": "knots",
    "intercept": "intercept",
    "boundary.knots": "Boundary.knots",
    "boundary_knots": "Boundary.knots",
}
_POSITIONAL = ("df", "knots", "intercept", "Boundary.knots")


@dataclass(frozen=True)
class SplineCall:
    """One ``ns(...)`` term of a formula, as written (knots may still depend on the data)."""

    variable: str
    label: str  # R's deparse of the call
    placeholder: str  # the term standing in for it in the base formula
    df: int | None
    knots: tuple[float, ...] | None
    boundary_knots: tuple[float, float] | None
    intercept: bool

    @property
    def data_dependent(self) -> bool:
        return self.boundary_knots is None or (self.knots is None and self.df is not None)

    def resolve(self, values: np.ndarray | None = None) -> NaturalSpline:
        if values is None:
            if self.data_dependent:
                raise EstimationError(
                    f"{self.label}: the knots depend on the data; pass the design"
                )
            values = np.empty(0)
        return resolve(
            self.variable, values, df=self.df, knots=self.knots, intercept=self.intercept,
            boundary_knots=self.boundary_knots, label=self.label,
        )  # fmt: skip


@dataclass(frozen=True)
class SplineFormula:
    """A formula with its ``ns()`` terms replaced by placeholders (see :func:`parse`)."""

    base: str
    calls: tuple[SplineCall, ...]


def _split_top(text: str, seps: str) -> list[tuple[str, str]]:
    """``text`` split at the characters of ``seps`` outside brackets: (separator, part)."""
    parts: list[tuple[str, str]] = []
    depth = 0
    start = 0
    sep = ""
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in seps:
            parts.append((sep, text[start:i]))
            sep = ch
            start = i + 1
    parts.append((sep, text[start:]))
    return parts


def _number(text: str, label: str) -> float:
    try:
        return float(text.strip().rstrip("L"))
    except ValueError:
        raise EstimationError(f"{label}: {text.strip()!r} is not a number") from None


def _numbers(text: str, label: str) -> tuple[tuple[float, ...], str]:
    """Numbers written ``c(a, b)``, ``[a, b]``, ``(a, b)`` or ``a``, and R's deparse of them."""
    s = text.strip()
    m = re.fullmatch(r"(?:c\s*\((.*)\)|\[(.*)\]|\((.*)\))", s, re.S)
    inner = s if m is None else next(g for g in m.groups() if g is not None)
    values = tuple(_number(v, label) for v in inner.split(",")) if inner.strip() else ()
    shown = ", ".join(_r_number(v) for v in values)
    return values, (shown if m is None else f"c({shown})")


def _r_number(v: float) -> str:
    """A number as R's ``deparse`` writes it: the fewest significant digits (at most 15) that
    give the value to 15 digits, in fixed notation unless the scientific one is shorter."""
    if v == 0:
        return "0"
    mant, _, exp = f"{v:.14e}".partition("e")
    digits = mant.replace("-", "").replace(".", "").rstrip("0") or "0"
    e = int(exp)
    sig = len(digits)
    sci_mant = digits[0] + ("." + digits[1:] if sig > 1 else "")
    sci = f"{'-' if v < 0 else ''}{sci_mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    fixed = f"{v:.{max(0, sig - 1 - e)}f}"
    return fixed if len(fixed) <= len(sci) else sci


def _parse_call(text: str) -> SplineCall:
    """``ns(x, ...)`` → its arguments and R's label (``deparse`` of the call)."""
    where = text.strip()
    inner = text[text.index("(") + 1 : text.rindex(")")]
    args = [a for _, a in _split_top(inner, ",")]
    variable = args[0].strip()
    if not _NAME.match(variable):
        raise EstimationError(
            f"{where}: ns() takes a column name; make {variable!r} a column of the frame first"
        )
    label_args = [variable]
    df: int | None = None
    knots: tuple[float, ...] | None = None
    boundary: tuple[float, ...] | None = None
    intercept = False
    seen: set[str] = set()
    for i, arg in enumerate(args[1:]):
        m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=(?!=)(.*)", arg, re.S)
        if m:
            name = _ARG_NAMES.get(m.group(1).lower())
            if name is None:
                raise EstimationError(
                    f"{where}: unknown argument {m.group(1)!r} of ns() (df, knots, "
                    "intercept, Boundary.knots)"
                )
            raw = m.group(2).strip()
        else:
            if (seen and len(seen) != i) or i >= len(_POSITIONAL):
                raise EstimationError(f"{where}: positional argument after a named one")
            name, raw = _POSITIONAL[i], arg.strip()
        if name in seen:
            raise EstimationError(f"{where}: {name} given twice")
        seen.add(name)
        if raw in ("NULL", "None"):
            shown = "NULL"
        elif name == "df":
            value = _number(raw, where)
            if value != int(value) or value < 0:
                raise EstimationError(f"{where}: df must be a whole number")
            df = int(value)
            shown = _r_number(value)
        elif name == "knots":
            knots, shown = _numbers(raw, where)
        elif name == "Boundary.knots":
            boundary, shown = _numbers(raw, where)
            if len(boundary) != 2:
                raise EstimationError(f"{where}: Boundary.knots must be two numbers")
        else:
            if raw not in ("TRUE", "FALSE", "True", "False", "T", "F"):
                raise EstimationError(f"{where}: intercept must be TRUE or FALSE")
            intercept = raw in ("TRUE", "True", "T")
            shown = {"True": "TRUE", "False": "FALSE"}.get(raw, raw)
        label_args.append(f"{name} = {shown}" if m else shown)
    b = None if boundary is None else (float(boundary[0]), float(boundary[1]))
    label = f"ns({', '.join(label_args)})"
    return SplineCall(variable, label, variable, df, knots, b, intercept)


@lru_cache(maxsize=256)
def parse(formula: str) -> SplineFormula | None:
    """The ``ns()`` terms of ``formula`` and the formula with each replaced by its variable
    (``I(x)`` when ``x`` is used elsewhere too), or None if it has none.

    ``ns()`` terms must be joined to the rest by ``+`` (no interactions with them).
    """
    if not _NS_CALL.search(formula):
        return None
    lhs, tilde, rhs = formula.partition("~")
    if not tilde:
        return None
    parts = _split_top(rhs, "+-")
    calls: list[SplineCall] = []
    pieces: list[str] = []
    others: list[str] = []
    for sep, part in parts:
        stripped = part.strip()
        if _NS_CALL.match(stripped) and stripped.endswith(")") and _closes_at_end(stripped):
            if sep == "-":
                raise EstimationError(f"cannot remove a spline term: {formula!r}")
            calls.append(_parse_call(stripped))
            pieces.append(f"{sep}\x00{len(calls) - 1}\x00")
        else:
            if _NS_CALL.search(stripped):
                raise EstimationError(
                    f"{stripped!r}: ns() terms must be main effects joined by '+' (no "
                    "interactions or functions of them)"
                )
            others.append(stripped)
            pieces.append(f"{sep}{part}")
    other_text = " ".join([lhs, *others])
    seen: set[str] = set()
    final: list[SplineCall] = []
    for call in calls:
        if call.variable in seen:
            raise EstimationError(
                f"{formula!r}: two ns() terms of {call.variable!r} (their bases are collinear)"
            )
        seen.add(call.variable)
        used = re.search(rf"(?<![A-Za-z0-9_.]){re.escape(call.variable)}(?![A-Za-z0-9_])",
                         other_text)  # fmt: skip
        placeholder = f"I({call.variable})" if used else call.variable
        if used and re.search(rf"I\(\s*{re.escape(call.variable)}\s*\)", other_text):
            raise EstimationError(f"{formula!r}: cannot use ns({call.variable}) with I(...)")
        final.append(dataclasses.replace(call, placeholder=placeholder))
    text = "".join(pieces)
    for i, call in enumerate(final):
        text = text.replace(f"\x00{i}\x00", f" {call.placeholder} ")
    return SplineFormula(f"{lhs}~{text}", tuple(final))


def _closes_at_end(term: str) -> bool:
    """The parenthesis opened by ``ns(`` closes at the end of ``term``."""
    depth = 0
    start = term.index("(")
    for i, ch in enumerate(term[start:], start):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i == len(term) - 1
    return False


def required_variables(formula: str, fallback: Callable[[str], list[str]]) -> list[str]:
    """The columns a formula with ``ns()`` terms needs."""
    spline = parse(formula)
    if spline is None:
        return fallback(formula)
    return sorted(set(fallback(spline.base)) | {c.variable for c in spline.calls})


class SplineColumns(dict[str, list[int]]):
    """``term_columns`` of a model with spline terms: also the resolved splines by label
    (so that :func:`spline_curve` knows the knots a fit used)."""

    splines: dict[str, NaturalSpline]

    def __init__(self, items: Mapping[str, list[int]], splines: Mapping[str, NaturalSpline]):
        super().__init__(items)
        self.splines = dict(splines)


def expand(
    design: SurveyDesign,
    spline: SplineFormula,
    build: Callable[..., ModelData],
    reference: Mapping[str, Any] | None,
    **kwargs: Any,
) -> ModelData:
    """The model data of a formula with ``ns()`` terms: the base formula's, with each
    placeholder column replaced by the spline's basis columns (same position, so the
    columns come in R's order)."""
    for call in spline.calls:
        if reference and call.variable in reference:
            raise EstimationError(f"{call.label}: {call.variable!r} cannot have a reference level")
    data = build(design, spline.base, reference=reference, **kwargs)
    resolved: dict[str, NaturalSpline] = {}
    for call in spline.calls:
        cols = data.term_columns.get(call.placeholder)
        if cols is None or len(cols) != 1:
            raise EstimationError(f"{call.label}: {call.variable!r} must be a numeric column")
        values = domain_values(design, call.variable) if call.data_dependent else None
        ns = call.resolve(values)
        _replace_column(data, cols[0], call.placeholder, ns)
        resolved[ns.label] = ns
    data.term_columns = SplineColumns(data.term_columns, resolved)
    return data


def _replace_column(data: ModelData, j: int, key: str, ns: NaturalSpline) -> None:
    """Column ``j`` of ``data`` (the variable's values) → the ``ns.df`` basis columns."""
    k = ns.df
    shift = k - 1

    def moved(i: int) -> int:
        return i if i < j else i + shift

    cells = data.cells
    if data.dense is not None:
        x = np.array(data.dense[:, j])
    elif cells is not None:
        x = np.array(cells.xc[:, cells.continuous.index(j)])
    else:
        x = np.array(data.X[:, j])
    basis = ns.basis(x)

    def widen(X: np.ndarray) -> np.ndarray:
        out = np.empty((X.shape[0], X.shape[1] + shift), order="F")
        out[:, :j] = X[:, :j]
        out[:, j : j + k] = basis
        out[:, j + k :] = X[:, j + 1 :]
        return out

    if data.dense is not None:
        data.dense = widen(data.dense)
    if data.make_dense is not None:
        make = data.make_dense
        data.make_dense = lambda: widen(make())
    if cells is not None:
        pos = cells.continuous.index(j)
        xc = np.empty((cells.xc.shape[0], cells.xc.shape[1] + shift), order="F")
        xc[:, :pos] = cells.xc[:, :pos]
        xc[:, pos : pos + k] = basis
        xc[:, pos + k :] = cells.xc[:, pos + 1 :]
        cells.continuous = [
            *map(moved, cells.continuous[:pos]), *range(j, j + k),
            *map(moved, cells.continuous[pos + 1 :]),
        ]  # fmt: skip
        cells.xc = xc
        cells.columns = [moved(i) for i in cells.columns]
        cells.first_columns = [moved(i) for i in cells.first_columns]
        if cells.intercept is not None:
            cells.intercept = moved(cells.intercept)
    data.columns = [*data.columns[:j], *ns.columns, *data.columns[j + 1 :]]
    data.term_columns = {
        (ns.label if t == key else t): (list(range(j, j + k)) if t == key else
                                         [moved(i) for i in ix])
        for t, ix in data.term_columns.items()
    }  # fmt: skip
    if data.binary is not None:
        data.binary = [moved(i) for i in data.binary if i != j]
