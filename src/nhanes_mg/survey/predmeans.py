"""Predictive margins of a survey-weighted GLM (R's ``svypredmeans``).

Matches ``survey::svypredmeans(adjustmodel, groupfactor)`` (survey 4.1-1) step by step:

1. the rows averaged over are those of the adjustment model (``adjustmodel$survey.design``:
   the domain rows with every variable of the model present; a missing group is allowed);
2. the model is refitted with the group added as a factor (``update(adjustmodel,
   . ~ . + .groupfactor)``; rows with a missing group drop out of this fit only);
3. for each level ``g`` of the group, every averaged row is predicted with its group set to
   ``g`` (``mu_i(g) = linkinv(x_i' b_adj + b_g)``) and the predictions are averaged with the
   sampling weights: the margin is ``svymean`` of the predictions;
4. the covariance is ``svymean``'s linearization variance of the predictions plus
   ``G' V(b) G``, with ``G[:, g] = Σ w_i mu_eta(eta_i(g)) x_i(g) / Σ w_i`` (the derivative
   of the margin with respect to the refitted coefficients) and ``V(b)`` the refit's
   design-based covariance. (R neglects the covariance between the two parts; so does this.)

The margins are adjusted means (gaussian) or adjusted prevalences (binomial) "as if everyone
were in group g", standardized to the covariate distribution of the whole domain.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import model_matrix
from nhanes_mg.survey.design import SurveyDesign
from nhanes_mg.survey.glm import SvyGLMResult, _family, svyglm
from nhanes_mg.survey.results import SurveyResult, make_result

GROUP_COLUMN = "svypredmeans_group_"  # R's .groupfactor


def svypredmeans(
    fit: SvyGLMResult,
    group: str,
    design: SurveyDesign | None = None,
    *,
    reference: Mapping[str, Any] | None = None,
    levels: Sequence[Any] | None = None,
    level: float = 0.95,
    df: float | None = None,
) -> SurveyResult:
    """Predictive margins (adjusted means or prevalences) by the levels of a factor.

    R: ``svypredmeans(adjustmodel, ~factor(group))``.

    Parameters
    ----------
    fit : SvyGLMResult
        The adjustment model, from :func:`~nhanes_mg.survey.glm.svyglm`, *without* the group
        (as in R; the group is added here).
    group : str
        Column of the grouping factor (any type; taken as categorical).
    design : SurveyDesign
        The design (and domain) the adjustment model was fitted on. The result of ``svyglm``
        does not carry its design, so it is passed here; if ``fit`` has a ``design``
        attribute, that is the default.
    reference : mapping, optional
        The ``reference`` given to ``svyglm`` for ``fit`` (it decides which numeric columns
        are categorical; the margins do not depend on the reference levels themselves).
    levels : sequence, optional
        The levels to predict at (R's ``predictat``); default every level of the group among
        the averaged rows, sorted (R lists them in order of appearance).
    level : float
        Confidence level.
    df : float, optional
        Degrees of freedom of the t intervals; default the design df of the averaged rows
        (R's ``confint`` of the result is normal: pass ``df=math.inf``).

    Returns
    -------
    SurveyResult
        One term per level (the level as text), ``method="predmeans"``; ``vcov`` is the full
        covariance; ``extra`` holds ``"model"`` (the refit with the group),
        ``"addvar"`` (``G' V(b) G``) and ``"meanvar"`` (the variance of the mean of the
        predictions).

    Raises
    ------
    EstimationError
        No design, a group column that is missing or has fewer than two levels among the
        refit's rows, a fit that does not match the design (different rows or columns), or the
        group already in the model (its columns would be aliased, as in R).

    Examples
    --------
    >>> import numpy as np, polars as pl
    >>> from nhanes_mg.survey.design import SurveyDesign
    >>> from nhanes_mg.survey.glm import svyglm
    >>> rng = np.random.default_rng(5)
    >>> n = 600
    >>> frame = pl.DataFrame({
    ...     "sdmvstra": np.repeat(np.arange(1, 11), 60), "sdmvpsu": np.tile([1, 2], 300),
    ...     "wt_mec": rng.uniform(1, 3, n), "age": rng.uniform(20, 80, n),
    ...     "bmi_cat": rng.choice(["normal", "obese", "overweight"], n)})
    >>> frame = frame.with_columns(
    ...     low=(pl.col("age") / 100 + pl.Series(rng.uniform(0, 1, n))) > 0.8)
    >>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    >>> fit = svyglm("low ~ age", design, family="quasibinomial")
    >>> margins = svypredmeans(fit, "bmi_cat", design)
    >>> margins.terms
    ['normal', 'obese', 'overweight']
    >>> bool(np.all((margins.estimate > 0) & (margins.estimate < 1)))
    True
    """
    if not isinstance(fit, SvyGLMResult):
        raise EstimationError(
            f"svypredmeans: fit must be a svyglm result, not {type(fit).__name__}"
        )
    if design is None:
        design = getattr(fit, "design", None)
        if design is None:
            raise EstimationError(
                "svypredmeans: pass the design the adjustment model was fitted on "
                "(svypredmeans(fit, group, design))"
            )
    if not isinstance(design, SurveyDesign):
        raise EstimationError(
            f"svypredmeans: design must be a SurveyDesign, not {type(design).__name__}"
        )
    if group not in design.column_names:
        raise EstimationError(f"svypredmeans: group column {group!r} is not in the design")
    family = fit.family
    reference = dict(reference or {})
    # 1. the rows of the adjustment model and its model matrix there
    adjust = model_matrix.build(design, fit.formula, reference=reference)
    if list(adjust.columns) != list(fit.terms):
        raise EstimationError(
            "svypredmeans: the fit's columns differ from the model rebuilt on this design "
            f"({list(fit.terms)} vs {list(adjust.columns)}); pass the design and the "
            "reference= used for svyglm"
        )
    idx = adjust.index  # frame row of each averaged row
    w = design.weights.take(idx)
    if int(np.count_nonzero(w > 0)) != int(fit.n[0]):
        raise EstimationError(
            f"svypredmeans: the fit used {int(fit.n[0])} rows but its model has "
            f"{int(np.count_nonzero(w > 0))} on this design; pass the design it was fitted on"
        )
    x_adj = np.asarray(adjust.X, dtype=float)
    # 2. the refit with the group (a text copy of the column: always a factor)
    raw = design.frame.get_column(group)
    text = _as_text(raw)
    updated = design.update(**{GROUP_COLUMN: text})
    observed = text.gather(idx).drop_nulls()
    if levels is None:
        pairs = pl.DataFrame({"raw": raw.gather(idx), "text": text.gather(idx)}).drop_nulls()
        wanted = pairs.unique("text").sort("raw")["text"].to_list()
    else:
        wanted = _as_text(pl.Series(list(levels), dtype=raw.dtype)).to_list()
    if observed.n_unique() < 2:
        raise EstimationError(
            f"svypredmeans: {group!r} has fewer than two levels among the model's rows"
        )
    lhs, rhs = fit.formula.split("~", 1)
    formula = f"{lhs}~ {rhs.strip()} + {GROUP_COLUMN}"
    rows = np.zeros(len(design), dtype=bool)
    rows[idx] = True
    # R refits on adjustmodel$survey.design: its rows rescale the weights (IRLS start)
    model = svyglm(
        formula,
        updated.subset(rows),
        family=family,  # type: ignore[arg-type]
        reference=reference,
    )
    group_cols = (model.term_columns or {}).get(GROUP_COLUMN, [])
    adj_cols = [j for j in range(len(model.terms)) if j not in set(group_cols)]
    if [model.terms[j] for j in adj_cols] != list(fit.terms):
        raise EstimationError(
            f"svypredmeans: {group!r} is already in the adjustment model (or aliased with it); "
            "fit the model without the group, as R's svypredmeans expects"
        )
    col_of_level: dict[str, int] = {}
    for j in group_cols:
        term = model.terms[j]
        prefix = f"{GROUP_COLUMN}[T."
        if term.startswith(prefix) and term.endswith("]"):
            col_of_level[term[len(prefix) : -1]] = j
    known = set(observed.unique().to_list())
    unknown = [g for g in wanted if g not in known]
    if unknown:
        raise EstimationError(
            f"svypredmeans: level(s) {unknown} of {group!r} do not occur among the refit's rows"
        )
    beta = np.asarray(model.estimate, dtype=float)
    assert model.vcov is not None
    eta_adj = x_adj @ beta[adj_cols]
    linkinv, mu_eta, _, _, _ = _family(family)
    total_w = w.sum()
    p2 = len(beta)
    fits = np.empty((len(idx), len(wanted)))
    dg_deta = np.empty((p2, len(wanted)))
    for k, g in enumerate(wanted):
        col = col_of_level.get(g)  # None: the reference level
        eta = eta_adj + (beta[col] if col is not None else 0.0)
        fits[:, k] = linkinv(eta)
        weighted = w * mu_eta(eta)
        grad = np.zeros(p2)
        grad[adj_cols] = weighted @ x_adj
        if col is not None:
            grad[col] = weighted.sum()
        dg_deta[:, k] = grad / total_w
    # 3.-4. svymean of the predictions over the averaged rows, plus the coefficients' part
    means = (w @ fits) / total_w
    influence = w[:, None] * (fits - means) / total_w
    meanvar = design.variance(influence, idx)
    addvar = dg_deta.T @ model.vcov @ dg_deta
    vcov = addvar + meanvar
    ddf = float(design.degf(rows)) if df is None else float(df)
    n = int(np.count_nonzero(w > 0))
    return make_result(
        wanted,
        means,
        vcov,
        ddf,
        n,
        level,
        "predmeans",
        model=model,
        addvar=addvar,
        meanvar=meanvar,
        group=group,
    )


def _as_text(series: pl.Series) -> pl.Series:
    """A column as text levels: whole floats without ".0" (NHANES codes read as floats)."""
    if series.dtype.is_float():
        series = series.fill_nan(None)
        values = series.drop_nulls()
        if len(values) and bool((values == values.round(0)).all()):
            return series.cast(pl.Int64).cast(pl.String)
    return series.cast(pl.String)
