"""Design-based tests of independence in a two-way table (R's ``svychisq``).

Matches ``survey:::svychisq.survey.design`` (survey 4.1-1) for a Taylor-linearized design:

- the cells are the levels of ``interaction(factor(rows), factor(cols))`` (the row variable's
  level varying fastest); ``p`` = their weighted proportions among the rows where both
  variables are present, with the covariance ``V`` of ``svymean`` of the cell indicators;
- Pearson's X² of the weighted table rescaled to ``N`` rows (``svytable(..., Ntotal = N)``,
  ``chisq.test(correct = FALSE)``), ``N`` = the number of rows of the design (domain), also
  those with a missing value;
- ``C`` = the interaction columns of ``~ factor(rows) * factor(cols)`` on the cell grid,
  residualized on the main effects (``qr.resid``); the generalized design effects
  ``Delta = (C' D⁻¹ C / N)⁻¹ C' D⁻¹ V D⁻¹ C`` with ``D = diag(p)`` (0 for empty cells);
- ``statistic="F"`` (R's default, Rao & Scott's second-order correction):
  ``F = X² / tr(Delta)`` on ``d0 = tr(Delta)² / tr(Delta²)`` and ``d0 · nu`` degrees of
  freedom, ``nu`` = #PSUs − #strata of the design (domain);
- ``statistic="Chisq"`` (first-order correction): the statistic reported is X² itself and the
  p-value is that of ``X² / mean(diag(Delta))`` on ``(r − 1)(c − 1)`` df (chi-square);
- ``statistic="Wald"`` / ``"adjWald"``: the Wald test of ``Y_ij = T_ij − T_i. T_.j / T`` = 0
  for the cells with ``i, j > 1`` (totals ``T`` by ``svytotal``, covariance by the delta
  method): ``F = W / ((r − 1)(c − 1))`` on ``((r − 1)(c − 1), nu)`` df, or the adjusted
  ``F = W (nu − k + 1) / (k nu)`` on ``(k, nu − k + 1)`` df, ``k = (r − 1)(c − 1)``.

R's ``"lincom"`` and ``"saddlepoint"`` (exact distributions of a linear combination of
chi-squares) are not implemented.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign, Variable, _label, _name
from nhanes_mg.survey.results import chi2_sf, f_sf

Statistic = Literal["F", "Chisq", "Wald", "adjWald"]
STATISTICS: tuple[str, ...] = ("F", "Chisq", "Wald", "adjWald")

_TWO_TERMS = re.compile(
    r"^\s*~?\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*\+\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*$"
)


@dataclass(frozen=True)
class SvyChisqResult:
    """A design-based test of independence (R's ``htest`` from ``svychisq``).

    Attributes
    ----------
    statistic : float
        F (``"F"``, ``"Wald"``, ``"adjWald"``) or Pearson's X² (``"Chisq"``).
    ndf, ddf : float
        Numerator and denominator degrees of freedom (``ddf`` is ``inf`` for ``"Chisq"``,
        whose ``ndf`` is the chi-square df).
    p_value : float
    test : str
        ``"F"``, ``"Chisq"``, ``"Wald"`` or ``"adjWald"``.
    method : str
        R's ``method`` text.
    rows, cols : str
        The two variables.
    pearson : float
        Pearson's X² of the weighted table rescaled to ``n_rows`` rows (R's uncorrected
        statistic).
    design_effects : ndarray
        Eigenvalues of ``Delta`` (the generalized design effects), largest first.
    n_rows : int
        ``N``: rows of the design's domain (as R's ``nrow`` of the model matrix).
    table : polars.DataFrame
        The weighted cell totals: one row per cell, columns ``rows``, ``cols``, ``total``.
    """

    statistic: float
    ndf: float
    ddf: float
    p_value: float
    test: str
    method: str
    rows: str
    cols: str
    pearson: float
    design_effects: np.ndarray
    n_rows: int
    table: pl.DataFrame

    def tidy(self) -> pl.DataFrame:
        """One row: ``term`` (``"rows:cols"``), ``statistic``, ``ndf``, ``ddf``, ``p_value``,
        ``test``, ``method``."""
        return pl.DataFrame(
            {
                "term": [f"{self.rows}:{self.cols}"],
                "statistic": [self.statistic],
                "ndf": [self.ndf],
                "ddf": [self.ddf],
                "p_value": [self.p_value],
                "test": [self.test],
                "method": [self.method],
            },
            schema={
                "term": pl.String,
                "statistic": pl.Float64,
                "ndf": pl.Float64,
                "ddf": pl.Float64,
                "p_value": pl.Float64,
                "test": pl.String,
                "method": pl.String,
            },
        )


def _two_variables(x: str | Sequence[Variable]) -> tuple[Variable, Variable]:
    if isinstance(x, str):
        m = _TWO_TERMS.match(x)
        if m is None:
            raise EstimationError(
                f"svychisq: {x!r} is not a two-way table formula such as '~ rows + cols' "
                "(only 2-way tables, as in R)"
            )
        return m.group(1), m.group(2)
    pair = list(x)
    if len(pair) != 2:
        raise EstimationError(f"svychisq: need exactly two variables, got {len(pair)}")
    return pair[0], pair[1]


def _factor(design: SurveyDesign, var: Variable, rows: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes 0..k-1 (-1 = missing) of a variable at the frame ``rows`` (the domain's), levels =
    its sorted distinct values there (R: ``factor()`` of the design's variables); an Enum's
    in its order.

    A column of the frame comes from its encoding, made once per design and shared by its
    domains (:meth:`SurveyDesign.encoded`): a Table 1 tests each of its characteristics
    against the same groups in the same domain, and the polars way (distinct values, then
    codes by ``replace_strict``) cost several milliseconds each time."""
    enc = design.encoded(var) if isinstance(var, str) else None
    if enc is not None and enc.unsupported is None:
        data = enc.data[rows]
        if enc.levels is not None:  # text or Enum: codes into its (sorted or Enum) levels
            present = np.flatnonzero(np.bincount(data[data >= 0], minlength=len(enc.levels)))
            recode = np.full(len(enc.levels), -1, dtype=np.int64)
            recode[present] = np.arange(len(present))
            codes = np.where(data >= 0, recode[np.maximum(data, 0)], -1)
            return codes, [_label(enc.levels[i]) for i in present]
        known = ~np.isnan(data)
        values, inverse = np.unique(data[known], return_inverse=True)
        codes = np.full(len(data), -1, dtype=np.int64)
        codes[known] = inverse
        if enc.boolean:
            return codes, [_label(bool(v)) for v in values]
        return codes, [_label(int(v) if enc.integer else float(v)) for v in values]
    series = design._series(var)[rows]
    if series.dtype.is_float():
        series = series.fill_nan(None)
    levels = series.drop_nulls().unique().sort().to_list()
    codes = series.replace_strict(
        levels, list(range(len(levels))), default=-1, return_dtype=pl.Int64
    ).to_numpy()
    return np.asarray(codes, dtype=np.int64), [_label(v) for v in levels]


def svychisq(
    x: str | Sequence[Variable],
    design: SurveyDesign,
    statistic: Statistic = "F",
) -> SvyChisqResult:
    """Test of association in a two-way table of a survey design (R: ``svychisq``).

    Parameters
    ----------
    x : str or a pair of variables
        ``"~ rows + cols"`` (R's formula) or ``[rows, cols]`` (column names or polars
        expressions). Numeric and text columns are taken as factors.
    design : SurveyDesign
        The design, possibly a domain (:meth:`SurveyDesign.subset`).
    statistic : {"F", "Chisq", "Wald", "adjWald"}
        ``"F"`` (R's default): Rao-Scott second-order corrected F; ``"Chisq"``: Pearson X²
        with the first-order (mean design effect) correction of its p-value; ``"Wald"``,
        ``"adjWald"``: design-based Wald tests. See the module notes for the formulas.

    Returns
    -------
    SvyChisqResult
        ``statistic``, ``ndf``, ``ddf``, ``p_value`` and ``.tidy()``.

    Raises
    ------
    EstimationError
        Not two variables, an empty domain, a variable with fewer than two levels, a level
        that has no row with the other variable present.

    Notes
    -----
    Rows with a missing value of either variable are left out of the table (R's
    ``na.rm = TRUE``) but stay in the design and in ``N``; ``nu`` counts the PSUs and strata
    of all the rows of the domain (R's ``svychisq`` counts those of the subset design, also
    rows with weight 0).

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey.design import SurveyDesign
    >>> rng = np.random.default_rng(7)
    >>> n = 400
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 9), 50), "sdmvpsu": np.tile([1, 2], 200),
    ...     "wt_mec": rng.uniform(1, 3, n), "sex": rng.choice(["1", "2"], n),
    ...     "vitd_cat": rng.choice(["deficient", "insufficient", "sufficient"], n)})
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> test = svychisq("~ vitd_cat + sex", design)
    >>> test.test, test.tidy().columns
    ('F', ['term', 'statistic', 'ndf', 'ddf', 'p_value', 'test', 'method'])
    >>> bool(0 < test.p_value < 1), bool(test.ddf == test.ndf * design.df)
    (True, True)
    """
    if not isinstance(design, SurveyDesign):
        raise EstimationError(
            f"svychisq: design must be a SurveyDesign (Taylor linearization), not "
            f"{type(design).__name__}"
        )
    if statistic not in STATISTICS:
        raise EstimationError(
            f"svychisq: statistic must be one of {', '.join(STATISTICS)}, not {statistic!r}"
        )
    row_var, col_var = _two_variables(x)
    dom = design.domain
    if not dom.any():
        raise EstimationError("svychisq: the domain is empty")
    # the domain's rows only: every other row is outside the table (and zero in it)
    in_domain = np.flatnonzero(dom)
    ra, row_levels = _factor(design, row_var, in_domain)
    cb, col_levels = _factor(design, col_var, in_domain)
    nr, nc = len(row_levels), len(col_levels)
    names = (_name(row_var), _name(col_var))
    for name, k in zip(names, (nr, nc), strict=True):
        if k < 2:
            raise EstimationError(f"svychisq: {name!r} has {k} level(s) in the domain; need 2")
    n_rows = len(in_domain)
    nu = design.degf_of_psus(design.psu_index[in_domain])
    known = (ra >= 0) & (cb >= 0)
    idx = in_domain[known]  # the frame rows in the table
    w_in = np.asarray(design.weights)[idx]
    if not (w_in > 0).any():
        raise EstimationError("svychisq: no row with positive weight has both variables")
    k = nr * nc
    cell_in = (ra + nr * cb)[known]  # row level fastest, as R's interaction()
    totals = np.bincount(cell_in, weights=w_in, minlength=k)
    grid = totals.reshape(nc, nr).T  # nr x nc weighted table
    empty_rows = [row_levels[i] for i in np.flatnonzero(grid.sum(axis=1) == 0)]
    empty_cols = [col_levels[j] for j in np.flatnonzero(grid.sum(axis=0) == 0)]
    if empty_rows or empty_cols:
        raise EstimationError(
            "svychisq: level(s) without weighted observations of the other variable: "
            + ", ".join(
                [f"{names[0]}={v}" for v in empty_rows] + [f"{names[1]}={v}" for v in empty_cols]
            )
        )
    table = pl.DataFrame(
        {
            names[0]: [row_levels[i % nr] for i in range(k)],
            names[1]: [col_levels[i // nr] for i in range(k)],
            "total": totals,
        }
    )
    pearson = _pearson(grid, n_rows)
    onehot = np.zeros((len(idx), k))
    onehot[np.arange(len(idx)), cell_in] = 1.0
    if statistic in ("Wald", "adjWald"):
        return _wald(statistic, design, onehot, idx, w_in, nr, nc, nu, names, pearson, n_rows,
                     table)  # fmt: skip

    total_w = w_in.sum()
    p = totals / total_w
    influence = w_in[:, None] * (onehot - p) / total_w  # the table's rows (others: zero)
    V = design.variance(influence, idx)
    C = _interaction_contrasts(nr, nc)
    inv_p = np.divide(1.0, p, out=np.zeros_like(p), where=p != 0)
    denom = C.T @ (inv_p[:, None] / n_rows * C)
    numr = C.T @ (inv_p[:, None] * V * inv_p[None, :]) @ C
    delta = np.linalg.solve(denom, numr)
    trace = float(np.trace(delta))
    d0 = trace**2 / float(np.trace(delta @ delta))
    effects = np.sort(np.linalg.eigvals(delta).real)[::-1]
    if statistic == "F":
        f_stat = pearson / trace
        return SvyChisqResult(
            statistic=f_stat,
            ndf=d0,
            ddf=d0 * nu,
            p_value=_f_sf(f_stat, d0, d0 * nu),
            test="F",
            method="Pearson's X^2: Rao & Scott adjustment",
            rows=names[0],
            cols=names[1],
            pearson=pearson,
            design_effects=effects,
            n_rows=n_rows,
            table=table,
        )
    df_chisq = delta.shape[1]
    return SvyChisqResult(
        statistic=pearson,
        ndf=float(df_chisq),
        ddf=math.inf,
        p_value=chi2_sf(pearson / float(np.mean(np.diag(delta))), df_chisq),
        test="Chisq",
        method="Pearson's X^2: Rao & Scott adjustment",
        rows=names[0],
        cols=names[1],
        pearson=pearson,
        design_effects=effects,
        n_rows=n_rows,
        table=table,
    )


def _pearson(grid: np.ndarray, n_rows: int) -> float:
    """Pearson's X² of the table rescaled to ``n_rows`` (R's ``chisq.test(correct=FALSE)``)."""
    tbl = grid * (n_rows / grid.sum())
    expected = np.outer(tbl.sum(axis=1), tbl.sum(axis=0)) / tbl.sum()
    return float(np.sum((tbl - expected) ** 2 / expected))


def _interaction_contrasts(nr: int, nc: int) -> np.ndarray:
    """R's ``qr.resid(qr(X1), X12[, -(1:(nr + nc - 1))])`` on ``expand.grid(rows, cols)``:
    the row-by-column interaction columns, residualized on the intercept and main effects."""
    r = np.tile(np.arange(nr), nc)  # expand.grid: rows vary fastest
    c = np.repeat(np.arange(nc), nr)
    row_d = (r[:, None] == np.arange(1, nr)[None, :]).astype(float)
    col_d = (c[:, None] == np.arange(1, nc)[None, :]).astype(float)
    x1 = np.column_stack([np.ones(nr * nc), row_d, col_d])
    inter = np.column_stack(
        [row_d[:, i] * col_d[:, j] for j in range(nc - 1) for i in range(nr - 1)]
    )
    q, _ = np.linalg.qr(x1)
    return np.asarray(inter - q @ (q.T @ inter))


def _f_sf(f_stat: float, ndf: float, ddf: float) -> float:
    return f_sf(f_stat, ndf, ddf)


def _wald(
    statistic: str,
    design: SurveyDesign,
    onehot: np.ndarray,
    rows: np.ndarray,
    w: np.ndarray,
    nr: int,
    nc: int,
    nu: int,
    names: tuple[str, str],
    pearson: float,
    n_rows: int,
    table: pl.DataFrame,
) -> SvyChisqResult:
    """R's Wald and adjusted Wald tests (``svytotal`` of cells, row and column indicators, 1)
    over the table's ``rows`` (frame rows; ``onehot`` and ``w`` are theirs)."""
    k = nr * nc
    r = np.arange(k) % nr
    c = np.arange(k) // nr
    rows_ind = onehot @ (r[:, None] == np.arange(nr)[None, :]).astype(float)
    cols_ind = onehot @ (c[:, None] == np.arange(nc)[None, :]).astype(float)
    values = np.column_stack([onehot, rows_ind, cols_ind, np.ones(len(rows))])
    influence = w[:, None] * values
    t = influence.sum(axis=0)
    sigma = design.variance(influence, rows)
    t_cell, t_row, t_col, t_all = t[:k], t[k : k + nr], t[k + nr : k + nr + nc], t[-1]
    jac = np.zeros((k, k + nr + nc + 1))
    jac[:, :k] = np.eye(k)
    jac[np.arange(k), k + r] = -t_col[c] / t_all
    jac[np.arange(k), k + nr + c] = -t_row[r] / t_all
    jac[:, -1] = t_row[r] * t_col[c] / t_all**2
    y = t_cell - t_row[r] * t_col[c] / t_all
    v = jac @ sigma @ jac.T
    use = np.flatnonzero((r > 0) & (c > 0))  # R: matrix(1:(nr*nc), nr)[-1, -1]
    wald = float(y[use] @ np.linalg.solve(v[np.ix_(use, use)], y[use]))
    ndf = (nr - 1) * (nc - 1)
    if statistic == "Wald":
        f_stat, ddf = wald / ndf, float(nu)
    else:
        ddf = float(nu - ndf + 1)
        f_stat = wald * ddf / (ndf * nu)
    p = _f_sf(f_stat, ndf, ddf) if ddf > 0 else math.nan
    return SvyChisqResult(
        statistic=f_stat,
        ndf=float(ndf),
        ddf=ddf,
        p_value=p,
        test=statistic,
        method="Design-based Wald test of association",
        rows=names[0],
        cols=names[1],
        pearson=pearson,
        design_effects=np.empty(0),
        n_rows=n_rows,
        table=table,
    )
