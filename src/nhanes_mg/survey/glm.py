"""Design-based generalized linear models (R's ``svyglm``) and Wald tests (``regTermTest``)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy import stats
from scipy.special import xlogy

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import _formula
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning
from nhanes_mg.survey.results import SurveyResult, wald

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
    eig = np.linalg.eigvalsh(xtwx * np.outer(d, d))
    if eig[0] <= 1e-12 * eig[-1]:
        raise _RankDeficient


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


def irls(
    X: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    family: str,
    *,
    tol: float = 1e-8,
    maxit: int = 25,
) -> IRLSFit:
    """Weighted IRLS with R's ``glm.fit`` start, convergence rule and step-halving.

    Steps are solved as Newton increments (``beta + (X'WX)^-1 X'W z_resid``), so the limit is
    the root of the weighted score to machine precision whatever the conditioning of ``X``.
    """
    linkinv, mu_eta_f, variance, dev_resid, start = _family(family)
    logit = family in ("binomial", "quasibinomial")
    if logit and np.all((y == 0) | (y == 1)):

        def dev_resid(y: np.ndarray, mu: np.ndarray, w: np.ndarray) -> np.ndarray:
            return -2 * w * np.log(np.where(y > 0, mu, 1 - mu))

    mu = start(y, w)
    eta = _link(family, mu)
    beta = np.zeros(X.shape[1])
    # the first step solves for beta from the starting eta (R does the same)
    dev_old = float(dev_resid(y, mu, w).sum())
    converged = False
    it = 0
    first = True
    buf = np.empty_like(X)
    for it in range(1, maxit + 1):  # noqa: B007
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
        sx = np.multiply(X, np.sqrt(ww)[:, None], out=buf)
        xtwx = sx.T @ sx  # numpy uses a symmetric rank-k update for A.T @ A
        if first:
            _check_full_rank(xtwx)
        rhs = X.T @ (ww * (eta - X @ beta) + wz if first else wz)
        try:
            step = np.linalg.solve(xtwx, rhs)
        except np.linalg.LinAlgError as exc:
            raise _RankDeficient from exc
        new_beta = step if first else beta + step
        first = False
        eta_new = X @ new_beta
        mu_new = linkinv(eta_new)
        dev = float(dev_resid(y, mu_new, w).sum())
        halvings = 0
        while not math.isfinite(dev) and halvings < 30:
            new_beta = (new_beta + beta) / 2
            eta_new = X @ new_beta
            mu_new = linkinv(eta_new)
            dev = float(dev_resid(y, mu_new, w).sum())
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


def svyglm(
    formula: str,
    design: SurveyDesign,
    *,
    family: Family = "gaussian",
    reference: Mapping[str, Any] | None = None,
    level: float = 0.95,
    tol: float = 1e-8,
    maxit: int = 25,
) -> SvyGLMResult:
    """Survey-weighted GLM with design-based (sandwich) SEs, as R's ``svyglm``.

    Parameters
    ----------
    formula : str
        Wilkinson formula in formulaic syntax (``"y ~ x1 + C(x2) + x3:x4"``). Text and
        categorical columns are categorical automatically; ``C(x)`` makes a numeric column
        categorical. The first level (sorted) is the reference unless ``reference`` says
        otherwise.
    design : SurveyDesign
        Full design, possibly a domain (``design.subset(...)``); the model is fitted on the
        domain rows with complete data, the variance uses the full design.
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
    ``degf``). Simple formulas (column names joined by ``+``) are encoded directly from the
    design's cached numpy columns; others (``C()``, ``I()``, functions, ``:``, ``*``) go
    through formulaic, with identical column names.

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
    if family not in FAMILIES:
        raise EstimationError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    if "~" not in formula:
        raise EstimationError(f"svyglm: formula {formula!r} has no '~'")
    data = _formula.build(design, formula, reference=reference)
    rows = data.rows
    X, y = data.X, data.y
    assert y is not None
    w_full = design.weights[rows]
    if family in ("binomial", "quasibinomial") and not np.all((y >= 0) & (y <= 1)):
        raise EstimationError(f"svyglm: the outcome of {formula!r} must be in [0, 1] for {family}")
    if family in ("poisson", "quasipoisson") and np.any(y < 0):
        raise EstimationError(f"svyglm: the outcome of {formula!r} is negative ({family})")
    pos = w_full > 0
    if family in ("binomial", "quasibinomial"):
        cols = data.binary
        if pos.all():
            _check_separation(X, y, data.columns, cols)
        else:
            _check_separation(X[pos], y[pos], data.columns, cols)
    # R rescales the weights to mean 1 over the domain rows (rescale=TRUE). The limit does not
    # depend on it, but IRLS starts from it, so the same constant gives R's very iterates.
    w = w_full / design.weights[design.domain].mean()
    try:
        fit = irls(X, y, w, family, tol=tol, maxit=maxit)
    except _RankDeficient:
        _formula.check_rank(X[pos], data.columns, "svyglm")  # raises, naming the columns
        raise EstimationError("svyglm: the model matrix is rank deficient") from None
    if not fit.converged:
        raise EstimationError(
            f"svyglm: IRLS did not converge in {maxit} iterations (possible separation or a "
            "badly scaled covariate); raise maxit or simplify the model"
        )
    if family in ("binomial", "quasibinomial"):
        extreme = int(((fit.mu < 10 * _EPS) | (fit.mu > 1 - 10 * _EPS))[pos].sum())
        if extreme:
            warnings.warn(
                f"svyglm: fitted probabilities numerically 0 or 1 for {extreme} row(s) "
                "(quasi-separation); estimates may be unreliable",
                SurveyWarning,
                stacklevel=2,
            )
    # Sandwich as R's svy.varcoef: influence = estfun @ (X'WX)^-1 with estfun = x times the
    # working residual (y - mu) / mu_eta(eta) times the working weight of the fit.
    _, mu_eta_f, _, _, _ = _family(family)
    resid_w = (y - fit.mu) / mu_eta_f(fit.eta) * fit.working_weights
    # (X'WX)^-1 through the equilibrated cross-product (p x p): as accurate as R's QR here and
    # far cheaper than a QR of the n x p matrix
    xtwx = fit.xtwx
    dscale = 1 / np.sqrt(np.diag(xtwx))
    a_inv = np.linalg.inv(xtwx * np.outer(dscale, dscale)) * np.outer(dscale, dscale)
    # V(estfun @ A) = A' V(estfun) A: aggregate the n x p scores first, multiply after
    meat = design.variance(X * resid_w[:, None], rows)  # the model's rows; zero elsewhere
    vcov = a_inv @ meat @ a_inv
    p = X.shape[1]
    df_res = float(design.degf(rows) + 1 - p)
    se = np.sqrt(np.diag(vcov))
    stat, pval, lo, hi = wald(fit.beta, se, df_res, level)
    n = int((rows & (design.weights > 0)).sum())
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
        method=f"svyglm-{family}",
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


def _check_separation(
    X: np.ndarray, y: np.ndarray, columns: list[str], candidates: list[int] | None = None
) -> None:
    """Raise on complete separation by a 0/1 column (an estimate would run off to ±inf).

    ``candidates``: the indices of the columns that may be 0/1 (all when None).
    """
    if candidates is not None:
        sub = X[:, candidates]
        _check_separation_cols(sub, y, [columns[j] for j in candidates])
    else:
        _check_separation_cols(X, y, columns)
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
                    raise EstimationError(
                        f"svyglm: complete separation: every row with {columns[j]} = 1 has "
                        f"outcome {int(count > 0)}; its coefficient is infinite (merge "
                        "categories or drop the term)"
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
        p = float(stats.chi2.sf(chisq, k))
    else:
        stat = chisq / k
        p = float(stats.f.sf(stat, k, ddf))
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
