"""Means, totals, proportions, ratios, quantiles and by-group estimates (R's ``svymean`` …).

Every function takes the variable first and the design second, like R, and returns a
:class:`~nhanes_mg.survey.results.SurveyResult`. Intervals use Student t with the design's
degrees of freedom by default (``df=None``); pass ``df=math.inf`` for R's default normal
intervals of ``confint(svymean(...))``.

Each accepts a :class:`SurveyDesign` (Taylor linearization, R's ``svydesign``) or a
:class:`~nhanes_mg.survey.replicate.ReplicateDesign` (R's ``svrepdesign``): then the estimate
is computed with the full-sample weights and with every replicate's weights (means, totals
and ratios as one matrix product of the replicate weights), and the variance is R's
``svrVar`` of the replicate estimates; the design df is R's ``degf`` of a replicate design.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

import numpy as np
import polars as pl
from scipy.special import expit, logit

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, Variable, _name
from nhanes_mg.survey.glm import intercept_logit_refits, irls
from nhanes_mg.survey.mi import ImputationDesigns
from nhanes_mg.survey.replicate import ReplicateDesign
from nhanes_mg.survey.results import SurveyResult, critical_value, make_result, wald

AnyDesign = SurveyDesign | ReplicateDesign

Variables = Variable | Sequence[Variable]


def _as_list(x: Variables) -> list[Variable]:
    if isinstance(x, (str, pl.Expr)):
        return [x]
    return list(x)


def _matrix(design: AnyDesign, x: Variables) -> tuple[np.ndarray, list[str]]:
    """Full-length value matrix (NaN = missing); text/categorical columns become indicators."""
    if isinstance(design, ReplicateDesign):
        design = design._base
    cols: list[np.ndarray] = []
    names: list[str] = []
    for var in _as_list(x):
        series = design._series(var)
        name = _name(var)
        if series.dtype in (pl.String, pl.Categorical) or isinstance(series.dtype, pl.Enum):
            if isinstance(series.dtype, pl.Enum):
                levels = [v for v in series.dtype.categories.to_list()]
            else:
                levels = sorted(series.drop_nulls().cast(pl.String).unique().to_list())
            text = series.cast(pl.String)
            miss = text.is_null().to_numpy()
            for level in levels:
                ind = (text == level).fill_null(False).cast(pl.Float64).to_numpy().copy()
                ind[miss] = np.nan
                cols.append(ind)
                names.append(f"{name}[{level}]")
        else:
            cols.append(design.values(var))
            names.append(name)
    if not cols:
        raise EstimationError("no variable given")
    return np.column_stack(cols), names


def _rows(design: AnyDesign, values: np.ndarray, na_rm: bool, what: str) -> np.ndarray:
    """Domain rows with complete values; raise on missing values unless ``na_rm``."""
    dom = design.domain
    if not dom.any():
        raise EstimationError(f"{what}: the domain is empty")
    missing = np.isnan(values).any(axis=1) if values.ndim == 2 else np.isnan(values)
    n_miss = int((missing & dom).sum())
    if n_miss and not na_rm:
        raise EstimationError(
            f"{what}: {n_miss} row(s) in the domain have missing values; pass na_rm=True to "
            "estimate on the complete rows (the design is kept)"
        )
    rows = dom & ~missing
    if not (rows & (design.weights > 0)).any():
        raise EstimationError(f"{what}: no observation with positive weight in the domain")
    return rows


def _df(design: AnyDesign, df: float | None) -> float:
    return float(design.df) if df is None else float(df)


def _replicate_linear(
    design: ReplicateDesign, values: np.ndarray, rows: np.ndarray, mean: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted totals (or means) of ``values`` on ``rows`` and their replicate covariance.

    R's ``svytotal``/``svymean`` of a ``svyrep.design``: the replicate estimates are one
    matrix product of the rows' replicate weights with the values.
    """
    estimate, replicates = _replicate_estimates(design, values, rows, mean)
    return estimate, design.replicate_variance(estimate, replicates)


def _replicate_estimates(
    design: ReplicateDesign, values: np.ndarray, rows: np.ndarray, mean: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted totals (or means) of ``values`` on ``rows``: full sample (p,) and every
    replicate's (R, p)."""
    idx = np.flatnonzero(rows)
    z = values.take(idx, axis=0)
    w = design.weights.take(idx)
    reps_w = design.replicate_weights_of(idx)
    estimate = w @ z
    replicates = reps_w.T @ z
    if mean:
        estimate = estimate / w.sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            replicates = replicates / reps_w.sum(axis=0)[:, None]
    return estimate, replicates


def svymean(
    x: Variables,
    design: AnyDesign | ImputationDesigns,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    df: float | None = None,
) -> SurveyResult:
    """Weighted mean(s) with linearization SEs (R: ``svymean(~x, design)``).

    Parameters
    ----------
    x : str, polars.Expr or a list of them
        Numeric or boolean columns/expressions; text and categorical columns give the
        proportion in each level (terms ``"name[level]"``).
    design : SurveyDesign
        The design, possibly a domain made with :meth:`SurveyDesign.subset`.
    na_rm : bool
        Drop rows with missing values from the estimate (they stay in the design). Without it
        missing values raise :class:`~nhanes_mg.errors.EstimationError`.
    level : float
        Confidence level.
    df : float, optional
        Degrees of freedom of the t intervals; default the design df of the domain (R:
        ``confint(m, df = degf(design))``); ``math.inf`` gives normal intervals.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svymean
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 2, 2, 2], "sdmvpsu": [1, 2, 2, 1, 1, 2],
    ...                       "wt_mec": [2.0, 1.0, 1.0, 1.0, 3.0, 2.0],
    ...                       "x": [1.0, 3.0, 2.0, 5.0, 4.0, 6.0]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> svymean("x", d).tidy().select("term", "estimate").row(0)
    ('x', 3.6)
    """
    if isinstance(design, ImputationDesigns):  # each imputation, combined (Rubin's rules)
        return design.fit(lambda d: svymean(x, d, na_rm=na_rm, level=level, df=df))
    if isinstance(design, ReplicateDesign):
        values, names = _matrix(design, x)
        rows = _rows(design, values, na_rm, "svymean")
        mean, v = _replicate_linear(design, values, rows, mean=True)
        n = int((rows & (design.weights > 0)).sum())
        return make_result(names, mean, v, _df(design, df), n, level, "mean")
    values, names = _matrix(design, x)
    rows = _rows(design, values, na_rm, "svymean")
    w = np.where(rows, design.weights, 0.0)
    total_w = w.sum()
    z = np.where(rows[:, None], values, 0.0)
    mean = (w @ z) / total_w
    infl = w[:, None] * (z - mean) / total_w
    v = design.variance(infl, rows)
    n = int((rows & (w > 0)).sum())
    return make_result(names, mean, v, _df(design, df), n, level, "mean")


def svytotal(
    x: Variables,
    design: AnyDesign,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    df: float | None = None,
) -> SurveyResult:
    """Weighted population total(s) (R: ``svytotal(~x, design)``); arguments as :func:`svymean`.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svytotal
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
    ...                       "wt_mec": [10.0, 20.0, 30.0, 40.0], "x": [1, 0, 1, 1]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> svytotal("x", d).estimate[0]
    np.float64(80.0)
    """
    if isinstance(design, ReplicateDesign):
        values, names = _matrix(design, x)
        rows = _rows(design, values, na_rm, "svytotal")
        total, v = _replicate_linear(design, values, rows, mean=False)
        n = int((rows & (design.weights > 0)).sum())
        return make_result(names, total, v, _df(design, df), n, level, "total")
    values, names = _matrix(design, x)
    rows = _rows(design, values, na_rm, "svytotal")
    w = np.where(rows, design.weights, 0.0)
    z = np.where(rows[:, None], values, 0.0)
    infl = w[:, None] * z
    total = infl.sum(axis=0)
    v = design.variance(infl, rows)
    n = int((rows & (w > 0)).sum())
    return make_result(names, total, v, _df(design, df), n, level, "total")


def svyciprop(
    x: Variable,
    design: AnyDesign,
    *,
    method: Literal["logit", "wald", "mean"] = "logit",
    level: float = 0.95,
    df: float | None = None,
    na_rm: bool = False,
) -> SurveyResult:
    """A proportion with a confidence interval that stays in [0, 1] (R: ``svyciprop``).

    Parameters
    ----------
    x : str or polars.Expr
        A 0/1 or boolean variable, e.g. ``pl.col("lbdvidms") < 50``.
    method : {"logit", "wald", "mean"}
        ``"logit"`` (R's default): the interval of the logit of the proportion, back
        transformed; ``"wald"`` (R's ``method = "mean"``): proportion ± t × SE.
    df : float, optional
        Default the design df of the domain, as R's ``df = degf(design)``.

    Notes
    -----
    ``std_error`` is the SE of the proportion itself for both methods (R's ``SE()`` of a
    ``svyciprop``); ``statistic`` is estimate / std_error.

    With a replicate design, R's ``"logit"`` interval comes from ``svyglm(y ~ 1, design,
    family = quasibinomial)``: the intercept refitted with every replicate's weights gives the
    SE of the logit, and the estimate is the expit of the fitted intercept (equal to the
    weighted proportion up to IRLS convergence, ~1e-9). This is done the same way here.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyciprop
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 2, 2, 2], "sdmvpsu": [1, 2, 2, 1, 1, 2],
    ...                       "wt_mec": [2.0, 1.0, 1.0, 1.0, 3.0, 2.0],
    ...                       "vitd": [20.0, 60.0, 45.0, 80.0, 30.0, 70.0]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> r = svyciprop(pl.col("vitd") < 50, d)
    >>> round(float(r.estimate[0]), 3)
    0.6
    """
    if method not in ("logit", "wald", "mean"):
        raise EstimationError(f"svyciprop: method must be 'logit' or 'wald', not {method!r}")
    values, names = _matrix(design, x)
    if values.shape[1] != 1:
        raise EstimationError("svyciprop: x must be one 0/1 or boolean variable")
    rows = _rows(design, values, na_rm, "svyciprop")
    y = values[rows, 0]
    if not np.all((y == 0) | (y == 1)):
        raise EstimationError(f"svyciprop: {names[0]!r} takes values other than 0 and 1")
    m = svymean(x, design, na_rm=na_rm, level=level, df=df)
    p = float(m.estimate[0])
    se = float(m.std_error[0])
    ddf = float(m.df[0])
    if method == "logit":
        if p <= 0 or p >= 1:
            raise EstimationError(
                f"svyciprop: the proportion of {names[0]!r} is {p:g} in this domain; the logit "
                "interval is undefined (use method='wald' or check the domain)"
            )
        if isinstance(design, ReplicateDesign):
            eta, se_eta = _replicate_logit(design, values, rows)
            p = float(expit(eta))  # R reports expit of the fitted intercept
        else:
            eta = logit(p)
            se_eta = se / (p * (1 - p))
        q = critical_value(level, ddf)
        lo, hi = expit(eta - q * se_eta), expit(eta + q * se_eta)
        stat, pval, _, _ = wald(np.array([p]), np.array([se]), ddf, level)
        return SurveyResult(
            terms=names,
            estimate=np.array([p]),
            std_error=np.array([se]),
            statistic=stat,
            p_value=pval,
            conf_low=np.array([lo]),
            conf_high=np.array([hi]),
            df=np.array([ddf]),
            n=m.n,
            vcov=m.vcov,
            level=level,
            method="ciprop-logit",
        )
    m.method = "ciprop-wald"
    return m


def _replicate_logit(
    design: ReplicateDesign, values: np.ndarray, rows: np.ndarray
) -> tuple[float, float]:
    """(intercept, its replicate SE) of ``svyglm(y ~ 1, design, family = quasibinomial)``."""
    idx = np.flatnonzero(rows)
    y = np.ascontiguousarray(values[idx, 0])
    ones = np.ones((len(idx), 1), order="F")
    # R: svyglm rescales the weights to mean 1 over the domain, rows with missing data
    # included (glm drops them after)
    w = design.weights.take(idx) / design._base.domain_weight_mean()
    fit = irls(ones, y, w, "quasibinomial")
    if not fit.converged:
        raise EstimationError("svyciprop: the logistic fit of the proportion did not converge")
    betas = intercept_logit_refits(y, design.replicate_weights_of(idx), float(fit.beta[0]))
    v = design.replicate_variance(fit.beta, betas)
    return float(fit.beta[0]), float(np.sqrt(v[0, 0]))


def svyratio(
    numerator: Variable,
    denominator: Variable,
    design: AnyDesign,
    *,
    na_rm: bool = False,
    level: float = 0.95,
    df: float | None = None,
) -> SurveyResult:
    """Ratio of weighted totals (= ratio of means), R: ``svyratio(~num, ~den, design)``.

    Rows with a missing numerator or denominator are dropped from both (with ``na_rm``).

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyratio
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
    ...                       "wt_diet1": [1.0, 1.0, 1.0, 1.0],
    ...                       "calcium": [900.0, 1000.0, 800.0, 1100.0],
    ...                       "magnesium": [300.0, 350.0, 250.0, 300.0]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1")
    >>> round(float(svyratio("calcium", "magnesium", d).estimate[0]), 4)
    3.1667
    """
    num = design.values(numerator)
    den = design.values(denominator)
    both = np.column_stack([num, den])
    rows = _rows(design, both, na_rm, "svyratio")
    term = f"{_name(numerator)}/{_name(denominator)}"
    if isinstance(design, ReplicateDesign):
        # R: the ratio of the means of numerator and denominator, in each replicate too
        idx = np.flatnonzero(rows)
        totals = design.weights.take(idx) @ both.take(idx, axis=0)
        if totals[1] == 0:
            raise EstimationError("svyratio: the weighted total of the denominator is zero")
        reps = design.replicate_weights_of(idx).T @ both.take(idx, axis=0)
        ratio = totals[0] / totals[1]
        with np.errstate(invalid="ignore", divide="ignore"):
            v = design.replicate_variance(ratio, reps[:, 0] / reps[:, 1])
        n = int((rows & (design.weights > 0)).sum())
        return make_result([term], np.array([ratio]), v, _df(design, df), n, level, "ratio")
    w = np.where(rows, design.weights, 0.0)
    y = np.where(rows, num, 0.0)
    xx = np.where(rows, den, 0.0)
    tx = w @ xx
    if tx == 0:
        raise EstimationError("svyratio: the weighted total of the denominator is zero")
    ratio = (w @ y) / tx
    infl = w * (y - ratio * xx) / tx
    v = design.variance(infl, rows)
    n = int((rows & (w > 0)).sum())
    return make_result([term], np.array([ratio]), v, _df(design, df), n, level, "ratio")


def _qrule_math(xs: np.ndarray, cumw: np.ndarray, total: float, p: float) -> float:
    """R's ``qrule_math`` on sorted values: the smallest x with weighted CDF ≥ p."""
    pos = int(np.searchsorted(cumw, p * total, side="right")) - 1
    pos = max(pos, 0)
    nxt = pos if pos == len(xs) - 1 else pos + 1
    wlow = p - cumw[pos] / total
    return float(xs[pos] if wlow == 0 else xs[nxt])


def svyquantile(
    x: Variable,
    design: AnyDesign,
    quantiles: Sequence[float] = (0.5,),
    *,
    level: float = 0.95,
    df: float | None = None,
    na_rm: bool = False,
    interval_type: Literal["mean", "quantile"] = "mean",
) -> SurveyResult:
    """Weighted quantiles with Woodruff intervals (R ≥ 4.1 ``svyquantile`` defaults).

    Matches ``svyquantile(~x, design, quantiles, alpha = 1 - level)`` with its defaults
    ``qrule = "math"`` (the smallest value whose weighted CDF reaches p) and
    ``interval.type = "mean"`` (Woodruff): the interval of the CDF at the estimate,
    ``F ± t(df) × SE(F)``, mapped back through the quantile rule; the SE is the interval
    width / (2 t). ``df`` defaults to the design df of the complete rows of the domain.
    A CDF interval reaching below 0 or above 1 gives a NaN bound, as in R (with a warning).

    With a replicate design ``SE(F)`` is the replicate SE of the CDF at the estimate (R's
    default ``interval.type = "mean"`` for a ``svyrep.design``); ``interval_type="quantile"``
    (replicate designs only, R's ``interval.type = "quantile"``) instead computes the
    quantile with every replicate's weights, and the interval is the estimate ± t × their
    replicate SE (R warns that jackknife SEs of quantiles are not valid; so do we).

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyquantile
    >>> frame = pl.DataFrame({"sdmvstra": [i // 10 for i in range(80)],
    ...                       "sdmvpsu": [1, 2] * 40, "wt_mec": [1.0, 2.0] * 40,
    ...                       "x": [float((7 * i) % 80) for i in range(80)]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> svyquantile("x", d, [0.5]).tidy().select("estimate", "conf_low", "conf_high").row(0)
    (39.0, 36.0, 43.0)
    """
    replicate = design if isinstance(design, ReplicateDesign) else None
    if interval_type not in ("mean", "quantile"):
        raise EstimationError(
            f"svyquantile: interval_type must be 'mean' or 'quantile', not {interval_type!r}"
        )
    if interval_type == "quantile" and replicate is None:
        raise EstimationError(
            "svyquantile: interval_type='quantile' needs a replicate design (R's option of "
            "svyquantile.svyrep.design); Taylor designs use Woodruff intervals"
        )
    values = design.values(x)
    rows = _rows(design, values[:, None], na_rm, "svyquantile")
    keep = rows & (design.weights > 0)
    xv = values[keep]
    wv = design.weights[keep]
    order = np.argsort(xv, kind="stable")
    xs = xv[order]
    # R accumulates sums and cumulative sums in long double; do the same so that ties with
    # the target p × total are decided identically.
    total = float(np.cumsum(wv.astype(np.longdouble))[-1])
    cumw = np.cumsum(wv[order].astype(np.longdouble)).astype(float)
    ddf = float(design.degf(rows)) if df is None else float(df)
    q = critical_value(level, ddf)
    name = _name(x)
    reps_w: np.ndarray | None = None
    if replicate is not None:
        idx = np.flatnonzero(rows)
        reps_w = replicate.replicate_weights_of(idx)
        if interval_type == "quantile" and replicate.type in ("JK1", "JKn"):
            warnings.warn(
                "Jackknife replicate weights may not give valid standard errors for quantiles "
                "(R's warning)",
                SurveyWarning,
                stacklevel=2,
            )
    est, se, lo, hi = [], [], [], []
    for p in quantiles:
        if not 0 <= p <= 1:
            raise EstimationError(f"svyquantile: quantile {p} is not in [0, 1]")
        qhat = _qrule_math(xs, cumw, total, p)
        if replicate is not None and interval_type == "quantile":
            assert reps_w is not None
            theta = _replicate_quantiles(values[rows], reps_w, p)
            f_se = float(np.sqrt(replicate.replicate_variance(qhat, theta)[0, 0]))
            est.append(qhat)
            lo.append(qhat - q * f_se)
            hi.append(qhat + q * f_se)
            se.append(f_se)
            continue
        below = np.where(rows, (values <= qhat).astype(float), 0.0)
        w = np.where(rows, design.weights, 0.0)
        wsum = w.sum()
        f = (w @ below) / wsum
        if replicate is not None:
            assert reps_w is not None
            b = below[rows]
            with np.errstate(invalid="ignore", divide="ignore"):
                f_reps = (reps_w.T @ b) / reps_w.sum(axis=0)
            var = replicate.replicate_variance(f, f_reps)
        else:
            var = design.variance(w * (below - f) / wsum, rows)  # type: ignore[union-attr]
        f_se = float(np.sqrt(var[0, 0]))
        plo, phi = f - q * f_se, f + q * f_se
        low = _qrule_math(xs, cumw, total, plo) if plo >= 0 else math.nan
        up = _qrule_math(xs, cumw, total, phi) if phi <= 1 else math.nan
        if math.isnan(low) or math.isnan(up):
            warnings.warn(
                f"svyquantile: the CDF interval of the {p} quantile of {name} leaves [0, 1]; "
                "that bound is NaN (as in R)",
                SurveyWarning,
                stacklevel=2,
            )
        est.append(qhat)
        lo.append(low)
        hi.append(up)
        se.append((up - low) / (2 * q))
    estimate = np.array(est)
    std_error = np.array(se)
    stat, pval, _, _ = wald(estimate, std_error, ddf, level)
    k = len(est)
    return SurveyResult(
        terms=[f"{name}[q={p:g}]" for p in quantiles],
        estimate=estimate,
        std_error=std_error,
        statistic=stat,
        p_value=pval,
        conf_low=np.array(lo),
        conf_high=np.array(hi),
        df=np.full(k, ddf),
        n=np.full(k, int(keep.sum()), dtype=np.int64),
        vcov=None,
        level=level,
        method="quantile" if interval_type == "mean" else "quantile-replicates",
    )


def _replicate_quantiles(x: np.ndarray, weights: np.ndarray, p: float) -> np.ndarray:
    """R's ``qrule_math(x, w_r, p)`` for every replicate column ``w_r`` of ``weights``."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    out = np.empty(weights.shape[1])
    for r in range(weights.shape[1]):
        wr = weights[order, r]
        nonzero = wr != 0  # R's qrule_math drops zero weights first
        if not nonzero.any():
            out[r] = math.nan
            continue
        cum = np.cumsum(wr[nonzero].astype(np.longdouble))
        out[r] = _qrule_math(xs[nonzero], cum.astype(float), float(cum[-1]), p)
    return out


def svyby(
    x: Any,
    by: str | Sequence[str],
    design: AnyDesign,
    fun: Callable[..., SurveyResult],
    *,
    covmat: bool = False,
    **kwargs: Any,
) -> SurveyResult:
    """Apply an estimator in each group, as domains of the full design (R: ``svyby``).

    Groups are the distinct non-missing values (combinations) of ``by`` among domain rows
    with positive weight, sorted. Terms read ``"by=level: term"``; ``result.extra["groups"]``
    holds a polars frame with one row per term and the group values.

    With ``covmat=True`` (R's ``svyby(..., covmat = TRUE)``) the result's ``vcov`` is the
    full covariance of every group's estimates, so that :func:`svycontrast` gives
    differences between groups with their design-based SE (the groups share PSUs: their
    estimates are correlated). Taylor designs: the variance of the groups' influence values
    taken together (R's ``svyrecvar`` of the bound influence matrices, standardized designs'
    post-strata included); replicate designs: R's ``svrVar`` of the groups' replicate
    estimates taken together. Only for ``svymean``, ``svytotal``, ``svyratio`` and
    ``svyciprop`` (whose covariance is that of the mean, as R's ``SE`` of it); the groups'
    own rows (estimates, SEs, intervals) are the same as without it.

    Examples
    --------
    >>> import polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyby, svymean
    >>> frame = pl.DataFrame({"sdmvstra": [1, 1, 1, 1, 2, 2, 2, 2],
    ...                       "sdmvpsu": [1, 1, 2, 2, 1, 1, 2, 2],
    ...                       "wt_mec": [1.0] * 8, "sex": [1, 2] * 4,
    ...                       "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]})
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> svyby("x", "sex", d, svymean).tidy()["term"].to_list()
    ['sex=1: x', 'sex=2: x']
    >>> both = svyby("x", "sex", d, svymean, covmat=True)
    >>> both.vcov.shape, bool(np.allclose(np.diag(both.vcov), both.std_error**2))
    ((2, 2), True)
    """
    if covmat and fun not in _JOINT:
        raise EstimationError(
            f"svyby: covmat=True is available for svymean, svytotal, svyratio and svyciprop, "
            f"not {getattr(fun, '__name__', fun)!r}"
        )
    by_cols = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by_cols if c not in design.frame.columns]
    if missing:
        raise EstimationError(f"svyby: grouping column(s) not in the frame: {missing}")
    active = design.domain & (design.weights > 0)
    groups = (
        design.frame.select(by_cols).filter(pl.Series(active)).drop_nulls().unique().sort(by_cols)
    )
    if groups.height == 0:
        raise EstimationError("svyby: no group has observations in the domain")
    parts: list[SurveyResult] = []
    labels: list[str] = []
    group_rows: list[dict[str, Any]] = []
    domains: list[AnyDesign] = []
    for row in groups.iter_rows(named=True):
        cond = pl.lit(True)
        for col, val in row.items():
            cond = cond & (pl.col(col) == val)
        domains.append(design.subset(cond))
        if fun is svyratio:  # svyratio(numerator, denominator, design): R's ~num, ~den
            rest = {k: v for k, v in kwargs.items() if k != "denominator"}
            res = svyratio(x, _denominator(kwargs), domains[-1], **rest)
        else:
            res = fun(x, domains[-1], **kwargs)
        label = ", ".join(f"{c}={v}" for c, v in row.items())
        parts.append(res)
        labels.extend(f"{label}: {t}" for t in res.terms)
        group_rows.extend([row] * len(res.terms))
    out = SurveyResult(
        terms=labels,
        estimate=np.concatenate([r.estimate for r in parts]),
        std_error=np.concatenate([r.std_error for r in parts]),
        statistic=np.concatenate([r.statistic for r in parts]),
        p_value=np.concatenate([r.p_value for r in parts]),
        conf_low=np.concatenate([r.conf_low for r in parts]),
        conf_high=np.concatenate([r.conf_high for r in parts]),
        df=np.concatenate([r.df for r in parts]),
        n=np.concatenate([r.n for r in parts]),
        vcov=_joint_vcov(x, fun, design, domains, kwargs) if covmat else None,
        level=parts[0].level,
        method=f"by({parts[0].method})",
        extra={"groups": pl.DataFrame(group_rows, schema=groups.schema)},
    )
    return out


def _joint_vcov(
    x: Any,
    fun: Callable[..., SurveyResult],
    design: AnyDesign,
    domains: Sequence[AnyDesign],
    kwargs: dict[str, Any],
) -> np.ndarray:
    """The covariance of every domain's estimates of ``fun`` taken together (svyby's
    ``covmat``): influence values (Taylor) or replicate estimates (replicate designs) of the
    domains side by side, through the design's own variance."""
    na_rm = bool(kwargs.get("na_rm", False))
    ratio = fun is svyratio
    mean = fun is not svytotal
    if isinstance(design, ReplicateDesign):
        thetas, reps = [], []
        for d in domains:
            assert isinstance(d, ReplicateDesign)
            values = _ratio_values(d, x, kwargs) if ratio else _matrix(d, x)[0]
            rows = _rows(d, values, na_rm, "svyby")
            est, rep = _replicate_estimates(d, values, rows, mean=False if ratio else mean)
            if ratio:  # the ratio of the totals, in each replicate too
                with np.errstate(invalid="ignore", divide="ignore"):
                    est, rep = est[:1] / est[1:], rep[:, :1] / rep[:, 1:]
            thetas.append(est)
            reps.append(rep)
        return design.replicate_variance(np.concatenate(thetas), np.hstack(reps))
    columns = []
    for d in domains:
        assert isinstance(d, SurveyDesign)
        values = _ratio_values(d, x, kwargs) if ratio else _matrix(d, x)[0]
        rows = _rows(d, values, na_rm, "svyby")
        w = np.where(rows, d.weights, 0.0)
        z = np.where(rows[:, None], values, 0.0)
        if ratio:
            tx = w @ z[:, 1]
            r = (w @ z[:, 0]) / tx
            columns.append((w * (z[:, 0] - r * z[:, 1]) / tx)[:, None])
        elif mean:
            columns.append(w[:, None] * (z - (w @ z) / w.sum()) / w.sum())
        else:
            columns.append(w[:, None] * z)
    return design.variance(np.hstack(columns), design.domain)


def _denominator(kwargs: dict[str, Any]) -> Variable:
    if "denominator" not in kwargs:
        raise EstimationError("svyby: svyratio needs denominator=... (R: ~num, ~den)")
    return cast(Variable, kwargs["denominator"])


def _ratio_values(design: AnyDesign, x: Any, kwargs: dict[str, Any]) -> np.ndarray:
    """svyby(numerator, ..., svyratio, denominator=...): the two columns of the ratio."""
    return np.column_stack([design.values(x), design.values(_denominator(kwargs))])


_JOINT = (svymean, svytotal, svyratio, svyciprop)
