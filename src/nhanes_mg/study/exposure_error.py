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
>>> intake_of("mg_total / kcal") is None, intake_of("mg_total * 2") is None
(True, True)
"""

from __future__ import annotations

from nhanes_mg.study.words import words_list

EXPOSURE_ERRORS = ("none", "regression_calibration")
NUTRIENTS = ("mg", "ca")  # the nutrients whose two recall days the dataset holds
# The exposures that estimate a person's usual intake in its own unit (mg/day), so that the
# calibrated usual intake can stand in their place: {n} is the nutrient. Anything else (a
# ratio, a scaled or transformed intake) would be replaced by a number in another unit.
_FORMS = {
    "{n}_food_d1": "food",
    "{n}_food": "food",
    "{n}_total": "food+supplements",
    "{n}_food_d1 + {n}_supp": "food+supplements",
    "{n}_food + {n}_supp": "food+supplements",
}


def intake_of(exposure: str) -> tuple[str, str] | None:
    """``(nutrient, basis)`` of an exposure that is one nutrient's intake as recorded — a
    day-1, two-day or total intake, or food plus supplements written as a sum — else None
    (spaces and case do not matter)."""
    text = " ".join(exposure.lower().replace("+", " + ").split())
    for nutrient in NUTRIENTS:
        for form, basis in _FORMS.items():
            if text == form.format(n=nutrient):
                return nutrient, basis
    return None


def calibration_words(nutrient: str, basis: str, covariates: list[str]) -> str:
    """What a calibrated exposure is, for the report."""
    with_covariates = words_list(covariates) if covariates else "no covariates"
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
