"""Linear contrasts of estimates with their design-based covariance (R's ``svycontrast``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.results import SurveyResult, wald

Contrasts = Mapping[str, Mapping[str, float]] | Mapping[str, Sequence[float]] | Sequence[float]


def svycontrast(
    fit: SurveyResult,
    contrasts: Contrasts,
    level: float | None = None,
) -> SurveyResult:
    """Linear combinations ``L b`` of estimates, covariance ``L V L'`` (R: ``svycontrast``).

    Parameters
    ----------
    fit : SurveyResult
        Any result with ``terms``, ``estimate`` and ``vcov``: a :func:`svyglm` or
        :func:`svycoxph` fit, a :func:`svymean` or :func:`svytotal` result, …
    contrasts : mapping or sequence
        One of

        - ``{"name": {"term": weight, ...}, ...}``: named contrasts, each a mapping from term
          name to weight; terms not named get weight 0 (R's
          ``svycontrast(fit, list(name = c(term = 1, ...)))``);
        - ``{"name": [w1, ..., wp], ...}``: named contrasts, each a full weight vector in the
          order of ``fit.terms``;
        - ``[w1, ..., wp]``: one contrast, named ``"contrast"`` as in R.
    level : float, optional
        Confidence level of the intervals; the fit's ``level`` by default.

    Returns
    -------
    SurveyResult
        One row per contrast, ``method="contrast"``; ``vcov`` is the full ``L V L'``, and
        ``extra["weights"]`` the contrast matrix ``L`` (rows = contrasts, columns = ``fit.terms``).
        ``tidy(exponentiate=True)`` gives ratios (odds, hazard, rate) as for the fit.

    Raises
    ------
    EstimationError
        A term name the fit does not have (the message lists the known ones), a weight vector
        of the wrong length, an empty set of contrasts, or a fit without a covariance matrix.

    Notes
    -----
    The statistic ``L b / sqrt(L V L')``, its p-value and the interval use the degrees of
    freedom of the fit's own rows (``fit.df``): ``df_residual`` = design df + 1 − p for
    :func:`svyglm` (t), the normal reference for :func:`svycoxph` unless it was fitted with
    ``df="design"``, the design df for :func:`svymean`. A contrast that picks one coefficient
    therefore reproduces that coefficient's row of ``fit.tidy()``. If the terms in a contrast
    have different df (not the case for model fits), the smallest is used. In R the same
    interval is ``confint(svycontrast(fit, ...), df = fit$df.residual)`` for a ``svyglm``
    (``confint`` of a ``svystat`` defaults to ``df = Inf``) and ``confint(svycontrast(...))``
    for a ``svycoxph``. ``n`` is the fit's.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svycontrast, svyglm
    >>> rng = np.random.default_rng(3)
    >>> n = 400
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 9), 50), "sdmvpsu": np.tile([1, 2], 200),
    ...     "wt_mec": rng.uniform(1, 3, n), "x": rng.normal(size=n),
    ...     "women": rng.integers(0, 2, n).astype(float)})
    >>> frame = frame.with_columns(y=(pl.col("x") * (1 + pl.col("women"))
    ...                               + pl.Series(rng.normal(size=n))) > 0)
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> fit = svyglm("y ~ x * women", design, family="quasibinomial")
    >>> fit.terms
    ['Intercept', 'x', 'women', 'x:women']
    >>> con = svycontrast(fit, {"x_in_women": {"x": 1, "x:women": 1}, "x_in_men": {"x": 1}})
    >>> con.tidy(exponentiate=True)["term"].to_list()
    ['x_in_women', 'x_in_men']
    >>> bool(con.estimate[1] == fit.estimate[1]), float(con.df[0]), fit.df_residual
    (True, 5.0, 5.0)
    """
    if fit.vcov is None:
        raise EstimationError(
            f"svycontrast: the {fit.method or 'given'} result has no covariance matrix"
        )
    terms = list(fit.terms)
    names, weights = _contrast_matrix(contrasts, terms)
    beta = np.asarray(fit.estimate, dtype=float)
    vcov = np.asarray(fit.vcov, dtype=float)
    if vcov.shape != (len(terms), len(terms)):
        raise EstimationError(
            f"svycontrast: the covariance matrix is {vcov.shape}, not {len(terms)} x {len(terms)}"
        )
    lvl = fit.level if level is None else float(level)
    est = weights @ beta
    cov = weights @ vcov @ weights.T
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    fit_df = np.broadcast_to(np.asarray(fit.df, dtype=float), (len(terms),))
    fit_n = np.broadcast_to(np.asarray(fit.n, dtype=np.int64), (len(terms),))
    k = len(names)
    df = np.empty(k)
    n = np.empty(k, dtype=np.int64)
    for i in range(k):
        used = weights[i] != 0
        if not used.any():
            used = np.ones(len(terms), dtype=bool)
        df[i] = float(fit_df[used].min())
        n[i] = int(fit_n[used].min())
    stat = np.empty(k)
    p = np.empty(k)
    lo = np.empty(k)
    hi = np.empty(k)
    for value in np.unique(df):
        rows = df == value
        stat[rows], p[rows], lo[rows], hi[rows] = wald(est[rows], se[rows], float(value), lvl)
    return SurveyResult(
        terms=names,
        estimate=est,
        std_error=se,
        statistic=stat,
        p_value=p,
        conf_low=lo,
        conf_high=hi,
        df=df,
        n=n,
        vcov=cov,
        level=lvl,
        method="contrast",
        extra={"weights": weights, "columns": terms, "fit_method": fit.method},
    )


def _contrast_matrix(contrasts: Contrasts, terms: list[str]) -> tuple[list[str], np.ndarray]:
    """Contrast names and the (contrasts x terms) weight matrix."""
    if isinstance(contrasts, Mapping):
        items = list(contrasts.items())
    elif isinstance(contrasts, str | bytes):
        raise EstimationError(
            f"svycontrast: contrasts must be a mapping or a weight vector, not {contrasts!r}"
        )
    else:
        items = [("contrast", contrasts)]
    if not items:
        raise EstimationError("svycontrast: no contrasts given")
    names: list[str] = []
    rows: list[np.ndarray] = []
    for name, spec in items:
        names.append(str(name))
        rows.append(_one_row(str(name), spec, terms))
    return names, np.vstack(rows)


def _one_row(name: str, spec: object, terms: list[str]) -> np.ndarray:
    p = len(terms)
    if isinstance(spec, Mapping):
        row = np.zeros(p)
        index = {t: j for j, t in enumerate(terms)}
        for term, w in spec.items():
            if term not in index:
                raise EstimationError(
                    f"svycontrast: contrast {name!r} names {term!r}, which is not a term of the "
                    f"fit (terms: {', '.join(terms)})"
                )
            row[index[term]] += _weight(name, term, w)
        return row
    if isinstance(spec, str | bytes) or not isinstance(spec, Sequence | np.ndarray):
        raise EstimationError(
            f"svycontrast: contrast {name!r} must be a mapping term → weight or a vector of "
            f"{p} weights, not {spec!r}"
        )
    values = [_weight(name, f"#{j + 1}", w) for j, w in enumerate(spec)]
    if len(values) != p:
        raise EstimationError(
            f"svycontrast: contrast {name!r} has {len(values)} weights but the fit has {p} "
            f"terms ({', '.join(terms)})"
        )
    return np.asarray(values, dtype=float)


def _weight(name: str, term: str, w: object) -> float:
    try:
        value = float(w)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise EstimationError(
            f"svycontrast: the weight of {term!r} in contrast {name!r} is not a number: {w!r}"
        ) from None
    if not math.isfinite(value):
        raise EstimationError(
            f"svycontrast: the weight of {term!r} in contrast {name!r} is not finite: {w!r}"
        )
    return value
