"""Design-based generalized linear models (R's ``svyglm``) and Wald tests (``regTermTest``).

With a :class:`SurveyDesign` the covariance is the linearization sandwich of R's
``svyglm.survey.design``; with a :class:`~nhanes_mg.survey.replicate.ReplicateDesign` the
model is refitted with every replicate's weights, as R's ``svyglm.svyrep.design``.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, cast

import numpy as np
import polars as pl
from scipy.linalg import blas, lapack
from scipy.special import xlogy

from nhanes_mg.errors import EstimationError
from nhanes_mg.expressions import condition
from nhanes_mg.survey import model_matrix
from nhanes_mg.survey._scratch import scratch
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, psu_totals
from nhanes_mg.survey.mi import ImputationDesigns
from nhanes_mg.survey.replicate import ReplicateDesign
from nhanes_mg.survey.results import SurveyResult, chi2_sf, f_sf, wald
from nhanes_mg.survey.terms import ModelTerms

Family = Literal["gaussian", "binomial", "quasibinomial", "poisson", "quasipoisson"]
FAMILIES: tuple[str, ...] = ("gaussian", "binomial", "quasibinomial", "poisson", "quasipoisson")
_EPS = np.finfo(float).eps


def _family(name: str) -> tuple[Any, Any, Any, Any, Any]:
    """(linkinv, mu_eta, variance, deviance residuals, starting mu) of R's default links."""
    if name == "gaussian":
        return (
            lambda eta: eta,
            lambda eta: np.ones_like(eta),
            lambda mu: np.ones_like(mu),
            lambda y, mu, w: w * (y - mu) ** 2,
            lambda y, w: y.copy(),
        )
    if name in ("binomial", "quasibinomial"):

        def linkinv(eta: np.ndarray) -> np.ndarray:
            # R's logit_linkinv: exp(eta) / (1 + exp(eta)), exp floored/capped beyond +-30
            tmp = np.exp(np.clip(eta, -30.0, 30.0))
            if eta.min() < -30 or eta.max() > 30:
                tmp = np.where(eta < -30, _EPS, np.where(eta > 30, 1 / _EPS, tmp))
            return tmp / (1 + tmp)

        def mu_eta(eta: np.ndarray) -> np.ndarray:
            e = np.exp(-np.abs(eta))
            return np.maximum(e / (1 + e) ** 2, _EPS)

        def dev(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
            a = xlogy(y, y) - xlogy(y, mu)
            b = xlogy(1 - y, 1 - y) - xlogy(1 - y, 1 - mu)
            return 2 * w * (a + b)

        return (
            linkinv,
            mu_eta,
            lambda mu: mu * (1 - mu),
            dev,
            lambda y, w: (w * y + 0.5) / (w + 1),
        )
    if name in ("poisson", "quasipoisson"):

        def dev_p(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
            return 2 * w * (xlogy(y, y) - xlogy(y, mu) - (y - mu))

        return (
            lambda eta: np.maximum(np.exp(eta), _EPS),
            lambda eta: np.maximum(np.exp(eta), _EPS),
            lambda mu: mu,
            dev_p,
            lambda y, w: y + 0.1,
        )
    raise EstimationError(f"family must be one of {', '.join(FAMILIES)}, not {name!r}")


def _link(name: str, mu: np.ndarray) -> np.ndarray:
    if name == "gaussian":
        return mu
    if name in ("binomial", "quasibinomial"):
        return np.log(mu / (1 - mu))
    return np.log(mu)


class _RankDeficient(Exception):
    """The weighted cross-product is singular (svyglm names the aliased columns)."""


def _check_full_rank(xtwx: np.ndarray) -> None:
    diag = np.diag(xtwx)
    if np.any(diag <= 0):
        raise _RankDeficient
    d = 1 / np.sqrt(diag)
    eig, _, info = lapack.dsyevd(xtwx * np.outer(d, d), compute_v=0)
    if info != 0 or eig[0] <= 1e-12 * eig[-1]:
        raise _RankDeficient


def _solve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.linalg.solve`` (LAPACK dgesv) without its per-call overhead; singular: raise."""
    _, _, x, info = lapack.dgesv(a, b)
    if info != 0:
        raise _RankDeficient
    return cast(np.ndarray, x)


@dataclass
class IRLSFit:
    beta: np.ndarray
    mu: np.ndarray
    eta: np.ndarray
    working_weights: np.ndarray
    xtwx: np.ndarray
    deviance: float
    iterations: int
    converged: bool


def _crossprod(a: np.ndarray) -> np.ndarray:
    """``a.T @ a`` for a tall matrix. numpy calls BLAS ``syrk``, which OpenBLAS runs slowly
    for a few columns; ``gemm`` is 2-3 times faster up to ~12 columns (and slower beyond)."""
    if a.shape[1] <= 12 and a.flags.f_contiguous:
        return cast(np.ndarray, blas.dgemm(1.0, a, a, trans_a=1))
    return cast(np.ndarray, a.T @ a)


class DenseOps:
    """The products of IRLS and of the sandwich with a dense model matrix ``X``."""

    def __init__(self, X: np.ndarray) -> None:
        self.X = X
        self.p = X.shape[1]
        self.buf: np.ndarray | None = None

    def mul(self, beta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``X @ beta`` (into ``out`` when given)."""
        return cast(np.ndarray, np.matmul(self.X, beta, out=out))

    def tmul(self, v: np.ndarray) -> np.ndarray:
        """``X.T @ v``."""
        return cast(np.ndarray, self.X.T @ v)

    def gram(self, ww: np.ndarray) -> np.ndarray:
        """``X' diag(ww) X``."""
        if self.buf is None:
            self.buf = scratch("gram.dense", self.X.shape, "F")
        sx = np.multiply(self.X, np.sqrt(ww)[:, None], out=self.buf)
        return _crossprod(sx)

    def psu_totals(self, r: np.ndarray, psu: np.ndarray, n_psu: int) -> np.ndarray:
        """PSU totals of the scores ``X * r`` (row ``i`` in PSU ``psu[i]``)."""
        scores = np.multiply(self.X, r[:, None], out=scratch("glm.scores", self.X.shape, "F"))
        return psu_totals(scores, psu, n_psu)


class CellOps:
    """The same products from :class:`~nhanes_mg.survey.model_matrix.Cells`, without dense ``X``.

    The rows are sorted by cell. The numeric columns need row-level products; every product
    with the intercept or a dummy column is a sum over cells of cell totals, which are sums
    of contiguous segments: ``X'WX`` is one pass over the numeric columns plus products of
    K x p cell tables. For the 20-column logistic model of the benchmark (five categorical
    terms, ~570 cells, five numeric columns) this does about a fifth of the dense work.
    Results equal the dense products up to rounding (~1e-16).
    """

    def __init__(self, cells: model_matrix.Cells, p: int) -> None:
        self.p = p
        self.cells = cells
        self.cont = np.asarray(cells.continuous, dtype=np.intp)
        self.xc = cells.xc
        self.counts = cells.counts
        self.k = len(cells.counts)
        self.starts = np.concatenate(([0], np.cumsum(cells.counts)[:-1]))
        # the columns that are functions of the cell, and their values in each cell
        if cells.intercept is not None:
            self.by_cell = np.asarray([cells.intercept, *cells.columns], dtype=np.intp)
            self.v = np.hstack((np.ones((self.k, 1)), cells.values))
        else:
            self.by_cell = np.asarray(cells.columns, dtype=np.intp)
            self.v = cells.values
        self.inverse = np.argsort(np.concatenate((self.cont, self.by_cell)))
        self.buf = scratch("cells.buf", self.xc.shape, "F")

    def mul(self, beta: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        by_cell = np.repeat(self.v @ beta[self.by_cell], self.counts)
        if out is None:
            out = np.empty(len(by_cell))
        if len(self.cont):
            np.matmul(self.xc, beta[self.cont], out=out)
            out += by_cell
        else:
            out[:] = by_cell
        return out

    def tmul(self, v: np.ndarray) -> np.ndarray:
        out = np.empty(self.p)
        out[self.cont] = self.xc.T @ v
        out[self.by_cell] = self.v.T @ np.add.reduceat(v, self.starts)
        return out

    def gram(self, ww: np.ndarray) -> np.ndarray:
        c = len(self.cont)
        v = self.v
        sw = np.add.reduceat(ww, self.starts)  # cell totals of w
        g = np.empty((self.p, self.p))  # numeric columns first, then those of the cells
        if c:
            wx = np.multiply(self.xc, ww[:, None], out=self.buf)
            totals = np.add.reduceat(wx, self.starts, axis=0)  # cell totals of w * xc
            g[:c, :c] = blas.dgemm(1.0, wx, self.xc, trans_a=1) if c <= 12 else wx.T @ self.xc
            g[c:, :c] = v.T @ totals
            g[:c, c:] = g[c:, :c].T
        g[c:, c:] = (v * sw[:, None]).T @ v
        return cast(np.ndarray, g.take(self.inverse, axis=0).take(self.inverse, axis=1))

    def psu_totals(self, r: np.ndarray, psu: np.ndarray, n_psu: int) -> np.ndarray:
        """PSU totals of the scores ``X * r`` (row ``i`` in PSU ``psu[i]``).

        The columns of the cells (intercept, dummies): the rows of a cell come in PSU order,
        so the rows of a (cell, PSU) pair are a contiguous run; ``r`` summed by run makes a
        PSU x cell table, times the cells' values. The numeric columns: sums by PSU.
        """
        cell = self.cells.cell
        n = len(r)
        totals = np.empty((n_psu, self.p))
        if n == 0:
            totals[:] = 0.0
            return totals
        new_run = np.empty(n, dtype=bool)
        new_run[0] = True
        np.not_equal(cell[1:], cell[:-1], out=new_run[1:])
        new_run[1:] |= psu[1:] != psu[:-1]
        starts = np.flatnonzero(new_run)
        run_psu = psu.take(starts)
        table = scratch("cells.psu_table", (n_psu * self.k,))
        table[:] = 0.0
        np.add.at(table, run_psu * self.k + cell.take(starts), np.add.reduceat(r, starts))
        totals[:, self.by_cell] = table.reshape(n_psu, self.k) @ self.v
        if len(self.cont):
            scores = np.multiply(self.xc, r[:, None], out=self.buf)
            for i, j in enumerate(self.cont):
                totals[:, j] = np.bincount(psu, scores[:, i], minlength=n_psu)
        return totals


def irls(
    X: np.ndarray | DenseOps | CellOps,
    y: np.ndarray,
    w: np.ndarray,
    family: str,
    *,
    tol: float = 1e-8,
    maxit: int = 25,
    start: np.ndarray | None = None,
) -> IRLSFit:
    """Weighted IRLS with R's ``glm.fit`` start, convergence rule and step-halving.

    Steps are solved as Newton increments (``beta + (X'WX)^-1 X'W z_resid``), so the limit is
    the root of the weighted score to machine precision whatever the conditioning of ``X``.
    ``X`` is a dense matrix or the products of one (:class:`DenseOps`, :class:`CellOps`).
    ``start`` gives starting coefficients (R's ``glm.fit(start = )``: the first deviance is
    that of ``X start``), as R's replicate refits of ``svyglm`` do; by default R's
    ``mustart`` of the family.
    """
    ops = DenseOps(X) if isinstance(X, np.ndarray) else X
    linkinv, mu_eta_f, variance, dev_resid, mustart = _family(family)
    logit = family in ("binomial", "quasibinomial")
    if logit and np.all((y == 0) | (y == 1)):
        return _irls_logit01(ops, y, w, tol, maxit, start)

    def deviance(mu: np.ndarray) -> float:
        return float(dev_resid(y, mu, w).sum())

    first = start is None
    if start is None:
        mu = mustart(y, w)
        eta = _link(family, mu)
        beta = np.zeros(ops.p)
    else:
        beta = np.array(start, dtype=np.float64)
        eta = ops.mul(beta)
        mu = linkinv(eta)
    # without a start the first step solves for beta from the starting eta (R does the same)
    dev_old = deviance(mu)
    converged = False
    it = 0
    for it in range(1, maxit + 1):
        if logit:
            # canonical link: mu_eta = V(mu) = mu (1 - mu), so W = w mu (1 - mu) and
            # W z = w (y - mu) (R floors mu_eta at machine epsilon; so do we)
            var = np.maximum(mu * (1 - mu), _EPS)
            ww = w * var
            wz = w * (y - mu)
        else:
            mu_eta = mu_eta_f(eta)
            ww = w * mu_eta**2 / variance(mu)
            wz = ww * (y - mu) / mu_eta
        xtwx = ops.gram(ww)
        if it == 1:
            _check_full_rank(xtwx)
        rhs = ops.tmul(ww * eta + wz) if first else ops.tmul(wz)  # first: from beta = 0
        try:
            step = np.linalg.solve(xtwx, rhs)
        except np.linalg.LinAlgError as exc:
            raise _RankDeficient from exc
        new_beta = step if first else beta + step
        first = False
        eta_new = ops.mul(new_beta)
        mu_new = linkinv(eta_new)
        dev = deviance(mu_new)
        halvings = 0
        while not math.isfinite(dev) and halvings < 30:
            new_beta = (new_beta + beta) / 2
            eta_new = ops.mul(new_beta)
            mu_new = linkinv(eta_new)
            dev = deviance(mu_new)
            halvings += 1
        if not math.isfinite(dev):
            raise EstimationError("svyglm: the deviance is not finite; no valid fit")
        beta, eta, mu = new_beta, eta_new, mu_new
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    # As R's glm.fit, the working weights returned are those of the last iteration (computed
    # at the previous iterate); svyglm's sandwich uses them, so keeping them matches R exactly.
    return IRLSFit(beta, mu, eta, ww, xtwx, dev, it, converged)


def _irls_logit01(
    ops: DenseOps | CellOps,
    y: np.ndarray,
    w: np.ndarray,
    tol: float,
    maxit: int,
    start: np.ndarray | None = None,
) -> IRLSFit:
    """:func:`irls` for a logistic model of a 0/1 outcome, in preallocated vectors.

    The same arithmetic as the general loop (R's ``glm.fit`` with the logit link, whose
    ``mu_eta`` equals the variance ``mu (1 - mu)``), written with ``out=`` buffers: a fit makes
    no n-length temporaries, which the allocator would return to the kernel and fault back
    in on the next fit. The deviance is ``-2 sum w (y log mu + (1 - y) log(1 - mu))``, from
    ``log mu = eta - log1p(exp(eta))`` once eta is the linear predictor.
    """
    n = len(y)
    eta, mu, tmp, ww, wz = (
        scratch(f"irls.{name}", (n,)) for name in ("eta", "mu", "tmp", "ww", "wz")
    )

    w_event = w * y  # the weights split by outcome, for the deviance
    w_other = w - w_event
    log_p = scratch("irls.log_p", (n,))

    def deviance(mu: np.ndarray) -> float:
        # mu is never 0 or 1 (linkinv keeps it in [eps / (1 + eps), 1 / (1 + eps)])
        events = w_event @ np.log(mu, out=log_p)
        others = w_other @ np.log1p(np.negative(mu, out=log_p), out=log_p)
        return -2.0 * float(events + others)

    def linkinv_deviance(eta: np.ndarray, mu: np.ndarray) -> float:
        """mu = R's logit_linkinv(eta), and the deviance at mu."""
        if eta.min() < -30 or eta.max() > 30:  # R's bounds: exp(eta) capped
            e = np.exp(np.clip(eta, -30.0, 30.0))
            np.copyto(mu, np.where(eta < -30, _EPS, np.where(eta > 30, 1 / _EPS, e)))
            np.divide(mu, np.add(mu, 1.0, out=tmp), out=mu)
            return deviance(mu)
        e = np.exp(eta, out=mu)
        # log mu = eta - log1p(e), log(1 - mu) = -log1p(e): one logarithm for both
        log1p_e = np.log1p(e, out=log_p)
        dev = -2.0 * float(w_event @ eta - w @ log1p_e)
        np.divide(e, np.add(e, 1.0, out=tmp), out=mu)
        return dev

    first = start is None
    if start is None:
        np.multiply(w, y, out=mu)  # R's mustart: (w y + 0.5) / (w + 1)
        mu += 0.5
        mu /= np.add(w, 1.0, out=tmp)
        np.log(np.divide(mu, np.subtract(1.0, mu, out=tmp), out=eta), out=eta)  # the logit
        beta = np.zeros(ops.p)
        dev_old = deviance(mu)  # the first step solves for beta from the starting eta, as R
    else:  # R's glm.fit(start = ): eta = X start, the deviance there
        beta = np.array(start, dtype=np.float64)
        ops.mul(beta, out=eta)
        dev_old = linkinv_deviance(eta, mu)
    converged = False
    it = 0
    xtwx = np.empty((ops.p, ops.p))
    dev = math.nan
    for it in range(1, maxit + 1):
        # W = w mu (1 - mu) (R floors mu_eta at machine epsilon; so do we), W z = w (y - mu)
        var = np.subtract(1.0, mu, out=tmp)
        np.multiply(var, mu, out=var)
        np.maximum(var, _EPS, out=var)
        np.multiply(w, var, out=ww)
        np.subtract(y, mu, out=wz)
        np.multiply(wz, w, out=wz)
        xtwx = ops.gram(ww)
        if it == 1:
            _check_full_rank(xtwx)
        if it == 1 and first:
            rhs = ops.tmul(np.add(np.multiply(ww, eta, out=tmp), wz, out=tmp))  # beta = 0
        else:
            rhs = ops.tmul(wz)
        step = _solve(xtwx, rhs)
        new_beta = step if it == 1 and first else beta + step
        ops.mul(new_beta, out=eta)
        dev = linkinv_deviance(eta, mu)
        halvings = 0
        while not math.isfinite(dev) and halvings < 30:
            new_beta = (new_beta + beta) / 2
            ops.mul(new_beta, out=eta)
            dev = linkinv_deviance(eta, mu)
            halvings += 1
        if not math.isfinite(dev):
            raise EstimationError("svyglm: the deviance is not finite; no valid fit")
        beta = new_beta
        if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
            converged = True
            break
        dev_old = dev
    # copies: the buffers are reused by the next fit
    return IRLSFit(beta, mu.copy(), eta.copy(), ww.copy(), xtwx, dev, it, converged)


@dataclass(repr=False)
class SvyGLMResult(SurveyResult):
    """A fitted :func:`svyglm`: a :class:`SurveyResult` plus the model's pieces.

    Attributes (beyond :class:`SurveyResult`)
    -----------------------------------------
    formula, family : str
    columns : list of str
        Model-matrix columns (= ``terms``), formulaic names such as ``"ridreth1[T.1]"``.
    term_columns : dict
        Formula term → indices of its columns (used by :func:`regtermtest`).
    df_residual : float
        ``degf(design) + 1 - p`` as R's ``svyglm`` (the df of t statistics and intervals).
    naive_vcov : ndarray
        The model-based ``(X'WX)^-1`` with rescaled weights (R's ``naive.cov``).
    converged : bool; iterations : int; deviance : float
    """

    formula: str = ""
    family: str = ""
    columns: list[str] | None = None
    term_columns: dict[str, list[int]] | None = None
    df_residual: float = math.inf
    naive_vcov: np.ndarray | None = None
    converged: bool = True
    iterations: int = 0
    deviance: float = math.nan

    @property
    def coef(self) -> dict[str, float]:
        """Coefficients by column name."""
        return dict(zip(self.terms, map(float, self.estimate), strict=True))


_OUTCOME = "_outcome_condition"  # the column an outcome condition is evaluated into
_NAME = re.compile(r"^\s*[A-Za-z_][A-Za-z0-9_.]*\s*$")


def _condition_outcome(
    formula: str, design: SurveyDesign | ReplicateDesign
) -> tuple[str, SurveyDesign | ReplicateDesign]:
    """``"vitd < 30 ~ x"`` → ``"_outcome_condition ~ x"`` on the design with that column (1
    where the condition holds, 0 where not, null where it cannot be told). A plain column or
    a formulaic expression (``I(…)``, ``np.log(…)``) on the left is left to formulaic."""
    lhs, _, rhs = formula.partition("~")
    if (
        _NAME.match(lhs)
        or lhs.strip().startswith(("I(", "C(", "np."))
        or not any(
            op in lhs.upper() for op in ("<", ">", "=", " IN ", " AND ", " OR ", " BETWEEN ")
        )
    ):
        return formula, design
    parsed = condition(lhs.strip())  # one line naming what is not allowed
    missing = [c for c in parsed.columns if c not in design.column_names]
    if missing:
        raise EstimationError(f"variable(s) not in the design's frame: {', '.join(missing)}")
    return f"{_OUTCOME} ~{rhs}", design.update(**{_OUTCOME: parsed.expr.cast(pl.Float64)})


def svyglm(
    formula: str | ModelTerms,
    design: SurveyDesign | ReplicateDesign | ImputationDesigns,
    *,
    family: Family = "gaussian",
    reference: Mapping[str, Any] | None = None,
    level: float = 0.95,
    tol: float = 1e-8,
    maxit: int = 25,
    start: np.ndarray | None = None,
) -> SvyGLMResult:
    """Survey-weighted GLM with design-based (sandwich) SEs, as R's ``svyglm``.

    Parameters
    ----------
    formula : str or ModelTerms
        Wilkinson formula in formulaic syntax (``"y ~ x1 + C(x2) + x3:x4"``). Text and
        categorical columns are categorical automatically; ``C(x)`` makes a numeric column
        categorical. The first level (sorted) is the reference unless ``reference`` says
        otherwise. The outcome may be an SQL condition as specifications write one
        (``"vitd_25oh_nmol < 30 ~ age + sex"``): true is 1, false 0, null missing.
        Programs that make their own model columns pass them as
        :class:`~nhanes_mg.survey.terms.ModelTerms` (used as named, nothing parsed).
    design : SurveyDesign, ReplicateDesign or ImputationDesigns
        Full design, possibly a domain (``design.subset(...)``); the model is fitted on the
        domain rows with complete data, the variance uses the full design. For
        :class:`~nhanes_mg.survey.mi.ImputationDesigns` the model is fitted on each
        imputation and the fits combined by Rubin's rules (an ``MIResult``). With replicate
        weights the model is refitted with each replicate (see Notes).
    family : {"gaussian", "binomial", "quasibinomial", "poisson", "quasipoisson"}
        Canonical links (identity, logit, log). Binomial and quasibinomial give identical
        estimates and SEs here (the design-based variance does not use the dispersion).
    reference : mapping, optional
        Reference level per variable, e.g. ``{"ridreth1": 3}``; such a variable is treated as
        categorical even when numeric (write it plainly in the formula, not inside ``C()``).
    level : float
        Confidence level of the intervals (t with ``df_residual`` = design df + 1 − p).
    tol, maxit : float, int
        R's ``glm.control(epsilon, maxit)``.
    start : array, optional
        Starting coefficients of the IRLS (R's ``svyglm(start = )``), in the model's column
        order: a refit of the same model on a slightly different version of the data (a
        replicate of a calibration chain) converges in fewer steps to the same limit, within
        the convergence rule.

    Returns
    -------
    SvyGLMResult
        ``.tidy(exponentiate=True)`` gives odds ratios (binomial) or rate ratios (poisson);
        ``std_error`` stays on the coefficient (log) scale.

    Raises
    ------
    EstimationError
        Empty domain, rank-deficient model (names the aliased columns), non-convergence,
        complete separation (names the column), outcome outside {0, 1} for binomial.

    Notes
    -----
    The fit follows R's ``glm.fit`` step by step (same start, weights rescaled to mean 1 over
    the domain, same convergence rule ``|dev - dev_old| / (|dev| + 0.1) < tol``) and the
    sandwich uses the working weights of the last iteration, as ``svy.varcoef`` does; this
    is why coefficients and SEs agree with R to ~1e-12 rather than ~1e-7. Degrees of freedom
    are counted on the domain rows with complete data (R drops incomplete rows before
    ``degf``). Simple formulas (column names and ``C(name)`` joined by ``+``) are encoded
    directly from the design's cached numpy columns, and the categorical columns are handled
    as cells of levels (:class:`CellOps`); others (``I()``, functions, ``:``, ``*``) go
    through formulaic, with identical column names. Row order and summation order differ
    from R's, so results agree with R to rounding (~1e-12 relative), not bit for bit.

    Replicate designs follow R's ``svyglm.svyrep.design``: the full-sample fit as above, then
    one IRLS fit per replicate on the same rows with weights ``w_r / sum(w_r)`` started at the
    full-sample coefficients (R's ``glm.fit(start = beta0)``, same convergence rule, so the
    same iterates); the covariance is ``svrVar`` of the replicate coefficients and
    ``df_residual`` is ``degf(design) + 1 - p`` with R's replicate ``degf`` of the domain
    (rows with missing data included, as R computes it before dropping them). A replicate
    whose fit is singular (a category absent from it) gives NaN and is discarded with a
    warning, as R discards replicates with NA coefficients.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyglm
    >>> rng = np.random.default_rng(0)
    >>> n = 400
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat([1, 2, 3, 4], 100), "sdmvpsu": np.tile([1, 2], 200),
    ...     "wt_mec": rng.uniform(1, 3, n), "age": rng.uniform(20, 80, n),
    ...     "sex": rng.choice(["male", "female"], n)})
    >>> frame = frame.with_columns(
    ...     low_vitd=(pl.col("age") / 100 + pl.Series(rng.uniform(0, 1, n))) > 0.9)
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> fit = svyglm("low_vitd ~ age + sex", design, family="quasibinomial",
    ...              reference={"sex": "male"})
    >>> fit.tidy(exponentiate=True)["term"].to_list()
    ['Intercept', 'age', 'sex[T.female]']
    >>> fit.df_residual
    2.0
    """
    if isinstance(design, ImputationDesigns):
        return design.fit(  # type: ignore[return-value]
            lambda d: svyglm(formula, d, family=family, reference=reference, level=level,
                             tol=tol, maxit=maxit, start=start)
        )  # fmt: skip
    if family not in FAMILIES:
        raise EstimationError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    if isinstance(formula, ModelTerms):
        shown = formula.formula
    elif "~" not in formula:
        raise EstimationError(f"svyglm: formula {formula!r} has no '~'")
    else:
        shown = formula
        formula, design = _condition_outcome(formula, design)
    replicate = design if isinstance(design, ReplicateDesign) else None
    # the rows, full-sample weights and domain (of a replicate design: its row store)
    base = design._base if isinstance(design, ReplicateDesign) else design
    data = model_matrix.build(base, formula, reference=reference, scratch_x=True, lazy_dense=True)
    idx = data.index  # frame row of each model row (fast path: sorted by cell or by PSU)
    y = data.y
    assert y is not None
    p = len(data.columns)
    if start is not None and np.shape(start) != (p,):
        raise EstimationError(
            f"svyglm: start has {np.size(start)} coefficient(s); the model of {shown!r} has {p} "
            f"({', '.join(data.columns)})"
        )
    ops = CellOps(data.cells, p) if data.cells is not None else DenseOps(data.X)
    w_full = base.weights.take(idx) if data.weights is None else data.weights
    if family in ("binomial", "quasibinomial") and not (y.min() >= 0 and y.max() <= 1):
        raise EstimationError(f"svyglm: the outcome of {shown!r} must be in [0, 1] for {family}")
    if family in ("poisson", "quasipoisson") and y.min() < 0:
        raise EstimationError(f"svyglm: the outcome of {shown!r} is negative ({family})")
    pos = w_full > 0
    all_pos = bool(pos.all())
    if family in ("binomial", "quasibinomial"):
        if data.binary is not None:  # known 0/1 columns: their sums over the rows in use
            used = pos.astype(np.float64)
            _check_separation_sums(
                ops.tmul(y * used), ops.tmul(used), int(used.sum()), data.columns, data.binary
            )
            _check_outcome_varies(y if all_pos else y[pos])
        elif all_pos:
            _check_separation(data.X, y, data.columns)
        else:
            _check_separation(data.X[pos], y[pos], data.columns)
    # R rescales the weights to mean 1 over the domain rows (rescale=TRUE). The limit does not
    # depend on it, but IRLS starts from it, so the same constant gives R's very iterates.
    w = w_full / base.domain_weight_mean()
    try:
        fit = irls(ops, y, w, family, tol=tol, maxit=maxit, start=start)
    except _RankDeficient:
        model_matrix.check_rank(data.X[pos], data.columns, "svyglm")  # raises, naming columns
        raise EstimationError("svyglm: the model matrix is rank deficient") from None
    if not fit.converged:
        raise EstimationError(
            f"svyglm: IRLS did not converge in {maxit} iterations (possible separation or a "
            "badly scaled covariate); raise maxit or simplify the model"
        )
    if family in ("binomial", "quasibinomial"):
        mu_pos = fit.mu if all_pos else fit.mu[pos]
        extreme = int(np.count_nonzero((mu_pos < 10 * _EPS) | (mu_pos > 1 - 10 * _EPS)))
        if extreme:
            warnings.warn(
                f"svyglm: fitted probabilities numerically 0 or 1 for {extreme} row(s) "
                "(quasi-separation); estimates may be unreliable",
                SurveyWarning,
                stacklevel=2,
            )
    if replicate is not None:
        return _replicate_glm(
            replicate, shown, family, data, ops, y, fit, idx, p, pos, level, tol, maxit
        )
    # Sandwich as R's svy.varcoef: influence = estfun @ (X'WX)^-1 with estfun = x times the
    # working residual (y - mu) / mu_eta(eta) times the working weight of the fit.
    _, mu_eta_f, _, _, _ = _family(family)
    resid_w = np.subtract(y, fit.mu, out=scratch("glm.resid", (len(y),)))
    resid_w /= mu_eta_f(fit.eta)
    resid_w *= fit.working_weights
    # (X'WX)^-1 through the equilibrated cross-product (p x p): as accurate as R's QR here and
    # far cheaper than a QR of the n x p matrix
    xtwx = fit.xtwx
    dscale = 1 / np.sqrt(np.diag(xtwx))
    equilibrated = xtwx * np.outer(dscale, dscale)
    a_inv = _solve(equilibrated, np.eye(len(dscale))) * np.outer(dscale, dscale)  # = inv()
    # V(estfun @ A) = A' V(estfun) A: PSU totals of the n x p scores first, multiply after
    psu = base.psu_index.take(idx) if data.psu is None else data.psu
    totals = ops.psu_totals(resid_w, psu, base.n_psu)
    meat = base.variance_of_totals(totals, idx)  # the model's rows; zero elsewhere
    vcov = a_inv @ meat @ a_inv
    df_res = float(base.degf_of_psus(psu if all_pos else psu[pos]) + 1 - p)
    return _glm_result(
        fit, data, vcov, a_inv, df_res, pos, level, f"svyglm-{family}", shown, family
    )


def _glm_result(
    fit: IRLSFit,
    data: model_matrix.ModelData,
    vcov: np.ndarray,
    a_inv: np.ndarray,
    df_res: float,
    pos: np.ndarray,
    level: float,
    method: str,
    formula: str,
    family: str,
) -> SvyGLMResult:
    """A fit's result from its covariance (Taylor or replicate) and residual df."""
    p = len(fit.beta)
    se = np.sqrt(np.diag(vcov))
    stat, pval, lo, hi = wald(fit.beta, se, df_res, level)
    n = int(np.count_nonzero(pos))
    return SvyGLMResult(
        terms=list(data.columns),
        estimate=fit.beta,
        std_error=se,
        statistic=stat,
        p_value=pval,
        conf_low=lo,
        conf_high=hi,
        df=np.full(p, df_res),
        n=np.full(p, n, dtype=np.int64),
        vcov=vcov,
        level=level,
        method=method,
        formula=formula,
        family=family,
        columns=list(data.columns),
        term_columns=data.term_columns,
        df_residual=df_res,
        naive_vcov=a_inv,
        converged=fit.converged,
        iterations=fit.iterations,
        deviance=fit.deviance,
    )


def replicate_refits(
    ops: np.ndarray | DenseOps | CellOps,
    y: np.ndarray,
    weights: np.ndarray,
    family: str,
    beta0: np.ndarray,
    *,
    tol: float = 1e-8,
    maxit: int = 25,
) -> np.ndarray:
    """Coefficients refitted with each replicate's weights (R's ``svyglm.svyrep.design``).

    ``weights`` is the m x R matrix of the model rows' analysis replicate weights; column
    ``r`` is normalised to sum 1 and IRLS starts at ``beta0`` (R: ``glm.fit(X, y, weights =
    w_r / sum(w_r), start = beta0)``). A singular replicate fit gives a row of NaN (R: NA
    coefficients, later discarded by ``svrVar``); a fit that does not converge keeps its last
    iterate with a warning, as R's ``glm.fit``. Returns R x p.
    """
    n_rep = weights.shape[1]
    betas = np.empty((n_rep, len(beta0)))
    if family == "gaussian":
        # identity link: glm.fit's first step from beta0 is the weighted least-squares fit
        # (its second step only confirms it), taken here as beta0 + a Newton increment
        lin = DenseOps(ops) if isinstance(ops, np.ndarray) else ops
        resid = y - lin.mul(beta0)
        for r in range(n_rep):
            wr = np.array(weights[:, r], dtype=np.float64)
            total = wr.sum()
            try:
                if not total > 0:
                    raise _RankDeficient
                wr /= total
                xtwx = lin.gram(wr)
                _check_full_rank(xtwx)
                betas[r] = beta0 + _solve(xtwx, lin.tmul(wr * resid))
            except _RankDeficient:
                betas[r] = np.nan
        return betas
    not_converged = 0
    for r in range(n_rep):
        wr = np.array(weights[:, r], dtype=np.float64)
        total = wr.sum()
        if not total > 0:
            betas[r] = np.nan
            continue
        wr /= total
        try:
            fit = irls(ops, y, wr, family, tol=tol, maxit=maxit, start=beta0)
        except (_RankDeficient, EstimationError):
            betas[r] = np.nan
            continue
        not_converged += not fit.converged
        betas[r] = fit.beta
    if not_converged:
        warnings.warn(
            f"svyglm: {not_converged} replicate fit(s) did not converge in {maxit} iterations "
            "(their last iterate is used, as R's glm.fit)",
            SurveyWarning,
            stacklevel=3,
        )
    return betas


def intercept_logit_refits(
    y: np.ndarray,
    weights: np.ndarray,
    beta0: float,
    *,
    tol: float = 1e-8,
    maxit: int = 25,
) -> np.ndarray:
    """:func:`replicate_refits` of ``y ~ 1`` (logit link, 0/1 ``y``) from weighted counts.

    With one constant column every row has the same ``mu``, so the IRLS of R's ``glm.fit``
    (start ``beta0``, weights ``w_r / sum(w_r)``, Newton steps, deviance rule) needs only
    the weighted numbers of events and non-events of each replicate: the same iterates,
    without a pass over the rows per iteration. Returns R values (NaN: no weight).
    """
    events = weights.T @ y
    totals = weights.sum(axis=0)
    out = np.full(weights.shape[1], np.nan)
    for r in range(weights.shape[1]):
        if not totals[r] > 0:
            continue
        s1 = events[r] / totals[r]  # normalised weights: events + non-events = 1
        s0 = (totals[r] - events[r]) / totals[r]

        def mu_dev(beta: float, s1: float = s1, s0: float = s0) -> tuple[float, float]:
            e = math.exp(min(max(beta, -30.0), 30.0))  # R's logit_linkinv bounds
            if beta < -30:
                e = _EPS
            elif beta > 30:
                e = 1 / _EPS
            mu = e / (1 + e)
            dev = -2.0 * (
                (s1 * math.log(mu) if s1 else 0.0) + (s0 * math.log1p(-mu) if s0 else 0.0)
            )
            return mu, dev

        beta = float(beta0)
        mu, dev_old = mu_dev(beta)
        for _ in range(maxit):
            var = max(mu * (1 - mu), _EPS)
            beta = beta + (s1 - (s1 + s0) * mu) / ((s1 + s0) * var)
            mu, dev = mu_dev(beta)
            if abs(dev - dev_old) / (abs(dev) + 0.1) < tol:
                break
            dev_old = dev
        out[r] = beta
    return out


def _replicate_glm(
    design: ReplicateDesign,
    formula: str,
    family: str,
    data: model_matrix.ModelData,
    ops: DenseOps | CellOps,
    y: np.ndarray,
    fit: IRLSFit,
    idx: np.ndarray,
    p: int,
    pos: np.ndarray,
    level: float,
    tol: float,
    maxit: int,
) -> SvyGLMResult:
    """The replicate covariance of a full-sample fit (R's ``svyglm.svyrep.design``)."""
    weights = design.replicate_weights_of(idx)
    betas = replicate_refits(ops, y, weights, family, fit.beta, tol=tol, maxit=maxit)
    vcov = design.replicate_variance(fit.beta, betas)
    a_inv = np.linalg.inv(fit.xtwx)  # R's naive.cov: summary(glm)$cov.unscaled
    df_res = float(design.df + 1 - p)
    method = f"svyglm-{family}-{design.type}"
    result = _glm_result(fit, data, vcov, a_inv, df_res, pos, level, method, formula, family)
    result.extra = {"replicates": betas}
    return result


def _check_separation(X: np.ndarray, y: np.ndarray, columns: list[str]) -> None:
    """Raise on complete separation by a 0/1 column (an estimate would run off to ±inf)."""
    _check_separation_cols(X, y, columns)
    _check_outcome_varies(y)


def _check_separation_sums(
    events: np.ndarray, total: np.ndarray, n: int, columns: list[str], candidates: list[int]
) -> None:
    """The same for known 0/1 columns, from their sums: events (sum of y where the column is
    1) and rows (where it is 1), among ``n`` rows."""
    for j in candidates:
        count, on = events[j], total[j]
        if 0 < on < n and (count == 0 or count == on):
            _separation(columns[j], count)


def _check_outcome_varies(y: np.ndarray) -> None:
    if np.all(y == 0) or np.all(y == 1):
        raise EstimationError(f"svyglm: the outcome is always {int(y[0])} in the domain")


def _check_separation_cols(X: np.ndarray, y: np.ndarray, columns: list[str]) -> None:
    if X.shape[1] == 0:
        return
    n_on = X.sum(axis=0)
    sq = (X * X).sum(axis=0)
    binary = (n_on == sq) & (n_on > 0) & (n_on < len(y))  # 0/1 columns, not constant
    if binary.any():
        xb = X[:, binary]
        if np.all((xb == 0) | (xb == 1)):
            ones = y @ xb  # events among rows with the column = 1
            for j, count, total in zip(np.flatnonzero(binary), ones, n_on[binary], strict=True):
                if count == 0 or count == total:
                    _separation(columns[j], count)


def _separation(column: str, count: float) -> NoReturn:
    raise EstimationError(
        f"svyglm: complete separation: every row with {column} = 1 has outcome "
        f"{int(count > 0)}; its coefficient is infinite (merge categories or drop the term)"
    )


@dataclass(repr=False)
class RegTermTestResult(SurveyResult):
    """A Wald test of several coefficients (R's ``regTermTest``).

    ``tidy()`` has one row: ``term`` = the tested terms joined by ``" + "``, ``statistic`` = F
    (or chi-square when the denominator df is infinite), ``p_value``, ``df`` = denominator df;
    ``estimate``, ``std_error`` and the interval are null. The numerator df is ``num_df``.
    """

    f_stat: float = math.nan
    chisq: float = math.nan
    num_df: int = 0
    den_df: float = math.inf

    def tidy(self, exponentiate: bool = False) -> pl.DataFrame:
        frame = super().tidy(exponentiate=False)
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias(c)
            for c in ("estimate", "std_error", "conf_low", "conf_high")
        )


def regtermtest(
    model: SurveyResult,
    terms: str | Sequence[str],
    *,
    null: Sequence[float] | None = None,
    df: float | None = None,
) -> RegTermTestResult:
    """Joint Wald test that all coefficients of some terms are zero (R: ``regTermTest``).

    F = β' V⁻¹ β / k on (k, ddf) degrees of freedom, with ddf the model's residual design df
    (``df_residual`` of :func:`svyglm`, ``df_residual`` of :func:`svycoxph`) unless ``df`` is
    given; ``df=math.inf`` gives the chi-square test.

    Parameters
    ----------
    model : SvyGLMResult or SvyCoxResult
    terms : str or list of str
        Formula terms (``"ridreth1"``, ``"C(mg_q)"``, ``"age:sex"``) or model-matrix column
        names; all their columns are tested together.

    Notes
    -----
    For a :func:`svycoxph` model this tests the columns named; R's ``regTermTest`` in survey
    4.1-1 picks coefficients shifted by one for ``svycoxph`` fits (a bug), so the golden value
    of that case is computed in R from ``coef()`` and ``vcov()`` directly.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyglm, regtermtest
    >>> rng = np.random.default_rng(1)
    >>> n = 300
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 7), 50), "sdmvpsu": np.tile([1, 2], 150),
    ...     "wt_mec": rng.uniform(1, 2, n), "x": rng.normal(size=n),
    ...     "grp": rng.choice(["a", "b", "c"], n)})
    >>> frame = frame.with_columns(y=pl.col("x") + pl.Series(rng.normal(size=n)))
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> test = regtermtest(svyglm("y ~ x + grp", d), "grp")
    >>> test.num_df, test.den_df
    (2, 3.0)
    """
    names = [terms] if isinstance(terms, str) else list(terms)
    term_columns: dict[str, list[int]] = getattr(model, "term_columns", None) or {}
    index: list[int] = []
    for t in names:
        if t in term_columns:
            index.extend(term_columns[t])
        elif t in model.terms:
            index.append(model.terms.index(t))
        else:
            known = [k for k in term_columns if k != "1"]
            raise EstimationError(f"regtermtest: no term {t!r} in the model (terms: {known})")
    index = sorted(set(index))
    if model.vcov is None:
        raise EstimationError("regtermtest: the model has no covariance matrix")
    beta = np.asarray(model.estimate)[index]
    if null is not None:
        beta = beta - np.asarray(null, dtype=float)
    v = model.vcov[np.ix_(index, index)]
    chisq = float(beta @ np.linalg.solve(v, beta))
    k = len(index)
    ddf = float(getattr(model, "df_residual", math.inf)) if df is None else float(df)
    if math.isinf(ddf):
        stat = chisq
        p = chi2_sf(chisq, k)
    else:
        stat = chisq / k
        p = f_sf(stat, k, ddf)
    nan = np.array([math.nan])
    return RegTermTestResult(
        terms=[" + ".join(names)],
        estimate=nan,
        std_error=nan,
        statistic=np.array([stat]),
        p_value=np.array([p]),
        conf_low=nan,
        conf_high=nan,
        df=np.array([ddf]),
        n=np.asarray(model.n[:1]),
        vcov=None,
        method="regtermtest-wald",
        f_stat=stat if not math.isinf(ddf) else math.nan,
        chisq=chisq,
        num_df=k,
        den_df=ddf,
    )
