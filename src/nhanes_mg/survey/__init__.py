"""Design-based survey estimation that agrees with R's ``survey`` package (Lumley).

Taylor-linearized variances for stratified multistage samples (NHANES: strata ``sdmvstra``,
PSUs ``sdmvpsu`` nested in strata), computed like ``survey::svyrecvar``. Function names and
argument order follow R: the variable or formula first, the design second.

===================  =====================================================
``SurveyDesign``     ``svydesign(ids=~psu, strata=~strata, weights=~w, nest=TRUE)``
``.subset(expr)``    ``subset(design, expr)`` (domain; full design kept)
``svymean``          ``svymean``
``svytotal``         ``svytotal``
``svyciprop``        ``svyciprop`` (``method="logit"`` or ``"wald"``)
``svyratio``         ``svyratio``
``svyquantile``      ``svyquantile`` (qrule "math", Woodruff intervals)
``svyby``            ``svyby``
``svyglm``           ``svyglm`` (gaussian, (quasi)binomial, (quasi)poisson)
``regtermtest``      ``regTermTest`` (Wald F with design df)
``svycoxph``         ``svycoxph`` (Efron or Breslow ties)
``svycontrast``      ``svycontrast`` (linear combinations; the fit's df)
===================  =====================================================

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
from nhanes_mg.survey.results import TIDY_COLUMNS, SurveyResult

__all__ = [
    "LONELY_PSU_OPTIONS",
    "TIDY_COLUMNS",
    "RegTermTestResult",
    "SurveyDesign",
    "SurveyResult",
    "SurveyWarning",
    "SvyCoxResult",
    "SvyGLMResult",
    "regtermtest",
    "svyby",
    "svyciprop",
    "svycontrast",
    "svycoxph",
    "svyglm",
    "svymean",
    "svyquantile",
    "svyratio",
    "svytotal",
]
