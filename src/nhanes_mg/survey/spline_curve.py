"""After a fit with natural spline terms: the curve against a reference value and the tests.

:func:`spline_curve` gives the log-odds (log-hazard, mean) difference between each value
and a reference value, with design-based pointwise intervals (:func:`svycontrast` on the
basis difference); :func:`spline_nonlinearity` tests whether the curve is a straight line
(see its notes), and ``regtermtest(fit, term)`` with the term label (or
:func:`spline_term`) tests the overall association, as R's ``regTermTest(fit, ~ns(...))``.

The basis and the formula terms are :mod:`nhanes_mg.survey.splines`; these functions read a
fitted model, so they sit above the GLM and contrast modules, which the basis must not import.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.contrast import svycontrast
from nhanes_mg.survey.design import SurveyDesign
from nhanes_mg.survey.glm import RegTermTestResult, regtermtest
from nhanes_mg.survey.results import SurveyResult
from nhanes_mg.survey.splines import NaturalSpline, SplineColumns, domain_values, parse


def _fit_splines(fit: SurveyResult, design: SurveyDesign | None) -> dict[str, NaturalSpline]:
    """The resolved spline terms of a fit, by label."""
    term_columns = getattr(fit, "term_columns", None)
    if isinstance(term_columns, SplineColumns):
        return term_columns.splines
    formula = str(getattr(fit, "formula", "") or "")
    spline = parse(formula[formula.index("~") :]) if "~" in formula else None
    if spline is None:
        raise EstimationError("the fit has no ns() term")
    out = {}
    for call in spline.calls:
        if call.data_dependent and design is None:
            raise EstimationError(
                f"{call.label}: its knots depend on the data and this fit does not carry them; "
                "pass design= (the design the model was fitted on)"
            )
        values = domain_values(design, call.variable) if design is not None else None
        out[call.label] = call.resolve(values if call.data_dependent else None)
    return out


def spline_term(
    fit: SurveyResult, variable: str, *, design: SurveyDesign | None = None
) -> NaturalSpline:
    """The resolved spline of ``variable`` (a column name or a term label) in a fit.

    ``design`` is needed only for a :func:`svycoxph` fit whose knots depend on the data
    (``df=`` or no ``Boundary.knots``); :func:`svyglm` fits carry their knots.
    """
    splines = _fit_splines(fit, design)
    if variable in splines:
        return splines[variable]
    found = [s for s in splines.values() if s.variable == variable]
    if len(found) != 1:
        raise EstimationError(
            f"no single ns() term of {variable!r} in the fit (spline terms: {list(splines)})"
        )
    return found[0]


def spline_curve(
    fit: SurveyResult,
    variable: str,
    at: Sequence[float],
    reference: float,
    *,
    exponentiate: bool = True,
    level: float | None = None,
    design: SurveyDesign | None = None,
) -> pl.DataFrame:
    """The fitted curve of a spline term relative to a reference value, with pointwise CIs.

    For each value ``v`` of ``at``: ``f(v) - f(reference)`` = ``(B(v) - B(reference)) · b``
    (``B`` the basis, ``b`` the term's coefficients), its design-based SE and interval from
    :func:`svycontrast` (t with the fit's df for :func:`svyglm`, normal for
    :func:`svycoxph`). This is basis-invariant: any basis of the same space gives the same
    curve. With ``exponentiate=True`` the estimate and interval are odds, hazard or rate
    ratios (``std_error`` stays on the log scale, as in ``tidy(exponentiate=True)``). Other
    terms are held fixed, so without interactions the curve is the same at every covariate
    value. At the reference value itself the difference is 0 with SE 0 and no p-value (NaN).

    Parameters
    ----------
    fit : SvyGLMResult or SvyCoxResult
        A model with an ``ns()`` term of ``variable``.
    variable : str
        The column inside ``ns()``, or the term's label when the column has several.
    at, reference : values of the variable
    level : float, optional
        Confidence level (the fit's by default).
    design : SurveyDesign, optional
        Only for a :func:`svycoxph` fit whose knots depend on the data (see
        :func:`spline_term`).

    Returns
    -------
    polars.DataFrame
        ``value, estimate, std_error, conf_low, conf_high, p_value, df``, one row per ``at``.

    Notes
    -----
    In R: ``B <- ns(x, knots = ..., Boundary.knots = ...)``, ``L <- predict(B, at) -
    predict(B, rep(reference, length(at)))`` placed in the term's columns, then
    ``svycontrast(fit, L)`` and ``confint(con, df = fit$df.residual)`` (``df = Inf`` for
    ``svycoxph``); ``make_golden_splines.R`` does exactly this.

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey import SurveyDesign, svyglm
    >>> rng = np.random.default_rng(2)
    >>> n = 600
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 7), 100), "sdmvpsu": np.tile([1, 2], 300),
    ...     "wt_mec": rng.uniform(1, 3, n), "mg": rng.uniform(100, 600, n)})
    >>> frame = frame.with_columns(
    ...     low=pl.Series(rng.uniform(size=n)) < 0.6 - 0.0008 * pl.col("mg"))
    >>> d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> fit = svyglm("low ~ ns(mg, knots=[250, 400], Boundary.knots=[120, 580])", d,
    ...              family="quasibinomial")
    >>> fit.terms[1]
    'ns(mg, knots = c(250, 400), Boundary.knots = c(120, 580))1'
    >>> curve = spline_curve(fit, "mg", [150, 300, 450], reference=300)
    >>> curve.columns
    ['value', 'estimate', 'std_error', 'conf_low', 'conf_high', 'p_value', 'df']
    >>> float(curve["estimate"][1])
    1.0
    """
    ns = spline_term(fit, variable, design=design)
    cols = [fit.terms.index(c) for c in ns.columns]
    values = np.asarray(at, dtype=float)
    if values.size == 0:
        raise EstimationError("spline_curve: no values in at=")
    diff = ns.basis(values) - ns.basis(np.array([float(reference)]))
    contrasts: dict[str, list[float]] = {}
    for i in np.flatnonzero(values != reference):
        row = np.zeros(len(fit.terms))
        row[cols] = diff[i]
        contrasts[f"#{i}"] = row.tolist()
    frame = {
        "value": values,
        "estimate": np.zeros(len(values)),
        "std_error": np.zeros(len(values)),
        "conf_low": np.zeros(len(values)),
        "conf_high": np.zeros(len(values)),
        "p_value": np.full(len(values), np.nan),
        "df": np.full(len(values), float(np.min(fit.df)) if len(fit.df) else math.inf),
    }
    if contrasts:
        con = svycontrast(fit, contrasts, level=level)
        rows = np.flatnonzero(values != reference)
        for name, source in (
            ("estimate", con.estimate), ("std_error", con.std_error),
            ("conf_low", con.conf_low), ("conf_high", con.conf_high),
            ("p_value", con.p_value), ("df", con.df),
        ):  # fmt: skip
            frame[name][rows] = source
    if exponentiate:
        for name in ("estimate", "conf_low", "conf_high"):
            frame[name] = np.exp(frame[name])
    return pl.DataFrame(frame)


def spline_nonlinearity(
    fit: SurveyResult,
    variable: str,
    *,
    df: float | None = None,
    design: SurveyDesign | None = None,
) -> RegTermTestResult:
    """Wald test that the spline of ``variable`` is a straight line (H0: linear in x).

    The basis spans the straight lines: ``B c = x - lo`` for one vector ``c``
    (:meth:`NaturalSpline.linear`). The curve is linear exactly when the term's coefficients
    are a multiple of ``c``; the test is the joint Wald F of the ``k - 1`` contrasts
    orthogonal to ``c`` (``k`` the term's columns), on (k - 1, df_residual) degrees of
    freedom. It equals ``regTermTest`` of the non-linear columns of the same model written
    as ``x + nonlinear part`` — e.g. ``y ~ x + rcs_1 + ... + rcs_{k-1}`` with the restricted
    cubic spline terms of the same knots (boundary knots as the outer knots), whose span with
    ``x`` is that of ``ns`` — which is how the golden value is computed in R. The statistic
    does not depend on the choice of the orthogonal contrasts. The overall association (all
    ``k`` columns) is ``regtermtest(fit, spline_term(fit, variable).label)``.
    """
    ns = spline_term(fit, variable, design=design)
    cols = [fit.terms.index(c) for c in ns.columns]
    if len(cols) < 2:
        raise EstimationError(f"{ns.label}: one column; the curve is a straight line")
    if fit.vcov is None:
        raise EstimationError("spline_nonlinearity: the fit has no covariance matrix")
    c = ns.linear()
    # T = [c, N] with N an orthonormal basis of c's complement; b_S = T g, g = T^-1 b_S
    q, _ = np.linalg.qr(np.column_stack((c, np.eye(len(c))[:, : len(c) - 1])), mode="complete")
    t = np.column_stack((c, q[:, 1:]))
    t_inv = np.linalg.inv(t)
    p = len(fit.terms)
    full = np.eye(p)
    full[np.ix_(cols, cols)] = t_inv
    beta = full @ np.asarray(fit.estimate, dtype=float)
    vcov = full @ np.asarray(fit.vcov, dtype=float) @ full.T
    nonlinear = f"{ns.label} (non-linear)"
    names = list(fit.terms)
    names[cols[0]] = f"{ns.variable} (linear)"
    for i, j in enumerate(cols[1:], 1):
        names[j] = f"{ns.label} nonlinear{i}"
    reparam = dataclasses.replace(
        fit,
        terms=names,
        estimate=beta,
        vcov=vcov,
        term_columns={nonlinear: cols[1:]},  # type: ignore[call-arg]
    )
    return regtermtest(reparam, nonlinear, df=df)
