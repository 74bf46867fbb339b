"""How a model analysis treats imperfect data, in words and checks: which exposures a specification
may correct for day-to-day intake variation, and how it says so: ``exposure_error =
"regression_calibration"`` on a model analysis whose exposure is one nutrient's intake,
continuous (NCI: calibrated intakes are not to be cut into quantiles).

The calibration itself is :mod:`nhanes_mg.usual_intake.calibrate`; the replicate chain that
gives its variance, :mod:`nhanes_mg.study.calibrated`. This module is light (the parser
imports it).

Examples
--------
>>> intake_of("mg_food_d1 + mg_supp"), intake_of("mg_total"), intake_of("mg_food_d1")
(('mg', 'food+supplements'), ('mg', 'food+supplements'), ('mg', 'food'))
>>> intake_of("mg_total / kcal") is None
True
"""

from __future__ import annotations

from nhanes_mg.expressions import condition

EXPOSURE_ERRORS = ("none", "regression_calibration")
NUTRIENTS = ("mg", "ca")  # the nutrients whose two recall days the dataset holds
# an intake column → whether it includes supplements
_FORMS = {"food_d1": False, "food_d2": False, "food": False, "supp": True, "total": True}
_OPERATORS = set(" +()/*.0123456789")


def intake_of(exposure: str) -> tuple[str, str] | None:
    """``(nutrient, basis)`` of an exposure that is one nutrient's intake — its columns are
    that nutrient's recall, two-day, supplement or total intake, combined by arithmetic
    (``mg_food_d1 + mg_supp``) — else None. Basis: ``food+supplements`` when a supplement or
    total column is in it, else ``food``."""
    columns = condition(exposure).columns
    found: set[str] = set()
    supplements = False
    for column in columns:
        nutrient, _, form = column.partition("_")
        if nutrient not in NUTRIENTS or form not in _FORMS:
            return None
        found.add(nutrient)
        supplements = supplements or _FORMS[form]
    rest = exposure
    for column in columns:
        rest = rest.replace(column, "")
    if len(found) != 1 or not set(rest) <= _OPERATORS:
        return None
    return found.pop(), "food+supplements" if supplements else "food"


def calibration_words(nutrient: str, basis: str, covariates: list[str]) -> str:
    """What a calibrated exposure is, for the report."""
    with_covariates = ", ".join(covariates) if covariates else "no covariates"
    added = "; the person's supplement average added" if basis == "food+supplements" else ""
    return (
        f"{nutrient.capitalize()} intake corrected for day-to-day variation by regression "
        "calibration: each person's expected usual food intake given the recalls (NCI "
        f"measurement-error model with day-2 and weekend terms and {with_covariates}){added}; "
        "SEs from refitting the whole chain for each Fay-BRR replicate weight. Systematic "
        "under-reporting is not corrected"
    )


def imputation_words(m: int) -> str:
    """What ``missing = "impute"`` does, for the report."""
    return (
        f"multiply imputed (m = {m}; chained equations with predictive mean matching, the "
        "outcome, exposure, weight, PSU and stratum in every imputation model), the fits "
        "combined by Rubin's rules with Barnard–Rubin degrees of freedom on the design's"
    )
