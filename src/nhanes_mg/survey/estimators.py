"""Means, totals, proportions, ratios, quantiles and by-group estimates (R's ``svymean`` …).

Every function takes the variable first and the design second, like R, and returns a
:class:`~nhanes_mg.survey.results.SurveyResult`. Intervals use Student t with the design's
degrees of freedom by default (``df=None``); pass ``df=math.inf`` for R's default normal
intervals of ``confint(svymean(...))``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
from scipy.special import expit, logit

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning, Variable, _name
from nhanes_mg.survey.results import SurveyResult, critical_value, make_result, wald

Variables = Variable | Sequence[Variable]


def _as_list(x: Variables) -> list[Variable]:
    if isinstance(x, (str, pl.Expr)):
        return [x]
    return list(x)


def _matrix(design: SurveyDesign, x: Variables) -> tuple[np.ndarray, list[str]]:
    """Full-length value matrix (NaN = missing); text/categorical columns become indicators."""
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


def _rows(design: SurveyDesign, values: np.ndarray, na_rm: bool, what: str) -> np.ndarray:
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


def _df(design: SurveyDesign, df: float | None) -> float:
    return float(design.df) if df is None else float(df)


def svymean(
    x: Variables,
    design: SurveyDesign,
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
    design: SurveyDesign,
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
    design: SurveyDesign,
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


def svyratio(
    numerator: Variable,
    denominator: Variable,
    design: SurveyDesign,
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
    term = f"{_name(numerator)}/{_name(denominator)}"
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
    design: SurveyDesign,
    quantiles: Sequence[float] = (0.5,),
    *,
    level: float = 0.95,
    df: float | None = None,
    na_rm: bool = False,
) -> SurveyResult:
    """Weighted quantiles with Woodruff intervals (R ≥ 4.1 ``svyquantile`` defaults).

    Matches ``svyquantile(~x, design, quantiles, alpha = 1 - level)`` with its defaults
    ``qrule = "math"`` (the smallest value whose weighted CDF reaches p) and
    ``interval.type = "mean"`` (Woodruff): the interval of the CDF at the estimate,
    ``F ± t(df) × SE(F)``, mapped back through the quantile rule; the SE is the interval
    width / (2 t). ``df`` defaults to the design df of the complete rows of the domain.
    A CDF interval reaching below 0 or above 1 gives a NaN bound, as in R (with a warning).

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
    est, se, lo, hi = [], [], [], []
    for p in quantiles:
        if not 0 <= p <= 1:
            raise EstimationError(f"svyquantile: quantile {p} is not in [0, 1]")
        qhat = _qrule_math(xs, cumw, total, p)
        below = np.where(rows, (values <= qhat).astype(float), 0.0)
        w = np.where(rows, design.weights, 0.0)
        wsum = w.sum()
        f = (w @ below) / wsum
        var = design.variance(w * (below - f) / wsum, rows)
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
        method="quantile",
    )


def svyby(
    x: Any,
    by: str | Sequence[str],
    design: SurveyDesign,
    fun: Callable[..., SurveyResult],
    **kwargs: Any,
) -> SurveyResult:
    """Apply an estimator in each group, as domains of the full design (R: ``svyby``).

    Groups are the distinct non-missing values (combinations) of ``by`` among domain rows
    with positive weight, sorted. Terms read ``"by=level: term"``; ``result.extra["groups"]``
    holds a polars frame with one row per term and the group values.

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
    """
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
    for row in groups.iter_rows(named=True):
        cond = pl.lit(True)
        for col, val in row.items():
            cond = cond & (pl.col(col) == val)
        res = fun(x, design.subset(cond), **kwargs)
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
        vcov=None,
        level=parts[0].level,
        method=f"by({parts[0].method})",
        extra={"groups": pl.DataFrame(group_rows, schema=groups.schema)},
    )
    return out
