"""Design-based survey estimation that agrees with R's ``survey`` package (Lumley).

Taylor-linearized variances for stratified multistage samples (NHANES: strata ``sdmvstra``,
PSUs ``sdmvpsu`` nested in strata), computed like ``survey::svyrecvar``. Function names and
argument order follow R: the variable or formula first, the design second.

========================  =====================================================
``SurveyDesign``          ``svydesign(ids=~psu, strata=~strata, weights=~w, nest=TRUE)``
``.subset(expr)``         ``subset(design, expr)`` (domain; full design kept)
``svymean``               ``svymean``
``svytotal``              ``svytotal``
``svyciprop``             ``svyciprop`` (``method="logit"`` or ``"wald"``)
``svyratio``              ``svyratio``
``svyquantile``           ``svyquantile`` (qrule "math", Woodruff intervals)
``svyby``                 ``svyby``
``svyglm``                ``svyglm`` (gaussian, (quasi)binomial, (quasi)poisson)
``regtermtest``           ``regTermTest`` (Wald F with design df)
``svycoxph``              ``svycoxph`` (Efron or Breslow ties)
``svycontrast``           ``svycontrast`` (linear combinations; the fit's df)
``ReplicateDesign``       ``svrepdesign`` object (``svyrep.design``): replicate weights
``as_svrepdesign``        ``as.svrepdesign`` (JKn, JK1, BRR, Fay, bootstrap)
``svrepdesign``           ``svrepdesign`` (replicate-weight columns, scale, rscales, mse)
``replicate_variance``    ``svrVar`` (variance from per-replicate estimates)
``svychisq``              ``svychisq`` (Rao-Scott F, "Chisq", Wald; two-way tables)
``svypredmeans``          ``svypredmeans`` (predictive margins of a ``svyglm``)
``svystandardize``        ``svystandardize`` (direct standardization; 2000 U.S. standard)
``svykm``                 ``svykm`` (se=TRUE: exp(-H) with SEs; se=FALSE: product-limit)
``ModelTerms``            a model given by its columns (no formula to parse)
``micombine``             ``mitools::MIcombine`` (Rubin's rules; Barnard–Rubin df)
``ImputationDesigns``     ``svydesign(data = imputationList(…))``; ``svyglm`` etc. on it
``ns(x, ...)`` term       ``splines::ns`` in ``svyglm`` / ``svycoxph`` formulas
``spline_curve``          ``svycontrast`` of the basis difference f(v) - f(reference)
``spline_nonlinearity``   ``regTermTest`` of the spline's non-linear part
``spline_knots``          ``svyquantile(qrule = "math")`` as knots
========================  =====================================================

The estimators from ``svymean`` to ``regtermtest`` also take a ``ReplicateDesign``: estimates
with the full-sample weights and each replicate's, variance as R's ``svrVar``, intervals on R's
replicate ``degf`` (see :mod:`nhanes_mg.survey.replicate`); ``svycoxph``, ``svychisq``,
``svypredmeans``, ``svystandardize`` and ``svykm`` are Taylor-linearization only.

Every result has ``.tidy(exponentiate=False)`` → a polars frame with the columns
``term, estimate, std_error, statistic, p_value, conf_low, conf_high, df, n``.

Examples
--------
>>> import polars as pl
>>> from nhanes_mg.survey import SurveyDesign, svymean
>>> frame = pl.DataFrame({"sdmvstra": [1, 1, 2, 2], "sdmvpsu": [1, 2, 1, 2],
...                       "wt_mec": [1.0, 2.0, 1.0, 1.0], "x": [1.0, 2.0, 3.0, 4.0]})
>>> design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
>>> svymean("x", design).tidy().columns
['term', 'estimate', 'std_error', 'statistic', 'p_value', 'conf_low', 'conf_high', 'df', 'n']
"""

from nhanes_mg.survey.chisq import SvyChisqResult, svychisq
from nhanes_mg.survey.contrast import svycontrast
from nhanes_mg.survey.cox import SvyCoxResult, svycoxph
from nhanes_mg.survey.design import LONELY_PSU_OPTIONS, SurveyDesign, SurveyWarning
from nhanes_mg.survey.estimators import (
    svyby,
    svyciprop,
    svymean,
    svyquantile,
    svyratio,
    svytotal,
)
from nhanes_mg.survey.glm import RegTermTestResult, SvyGLMResult, regtermtest, svyglm
from nhanes_mg.survey.km import SvyKMResult, svykm
from nhanes_mg.survey.mi import ImputationDesigns, MIResult, micombine
from nhanes_mg.survey.predmeans import svypredmeans
from nhanes_mg.survey.replicate import (
    ReplicateDesign,
    as_svrepdesign,
    replicate_variance,
    svrepdesign,
)
from nhanes_mg.survey.results import TIDY_COLUMNS, SurveyResult
from nhanes_mg.survey.spline_curve import spline_curve, spline_nonlinearity, spline_term
from nhanes_mg.survey.splines import NaturalSpline, ns_basis, spline_knots
from nhanes_mg.survey.standardize import (
    US2000_ADULT,
    US2000_STANDARD,
    US2000_STANDARD_WEIGHTS,
    StandardizedDesign,
    nchs_adult_age_group,
    nchs_age_group,
    svystandardize,
)
from nhanes_mg.survey.terms import ModelTerms

__all__ = [
    "LONELY_PSU_OPTIONS",
    "TIDY_COLUMNS",
    "US2000_ADULT",
    "US2000_STANDARD",
    "US2000_STANDARD_WEIGHTS",
    "ImputationDesigns",
    "MIResult",
    "ModelTerms",
    "NaturalSpline",
    "RegTermTestResult",
    "ReplicateDesign",
    "StandardizedDesign",
    "SurveyDesign",
    "SurveyResult",
    "SurveyWarning",
    "SvyChisqResult",
    "SvyCoxResult",
    "SvyGLMResult",
    "SvyKMResult",
    "as_svrepdesign",
    "micombine",
    "nchs_adult_age_group",
    "nchs_age_group",
    "ns_basis",
    "regtermtest",
    "replicate_variance",
    "spline_curve",
    "spline_knots",
    "spline_nonlinearity",
    "spline_term",
    "svrepdesign",
    "svyby",
    "svychisq",
    "svyciprop",
    "svycontrast",
    "svycoxph",
    "svyglm",
    "svykm",
    "svymean",
    "svypredmeans",
    "svyquantile",
    "svyratio",
    "svystandardize",
    "svytotal",
]
