"""Usual intake of magnesium and calcium by the NCI method (Tooze 2006; Kipnis 2009).

The one-part "amount" model for nutrients consumed daily — Box-Cox transform, linear mixed
model with a person effect fitted by survey-weighted maximum likelihood (as MIXTRAN), Monte
Carlo usual-intake distribution with the 9-point back-transformation (as DISTRIB) — and
Fay-BRR standard errors built from the NHANES strata and PSUs.

Modules: :mod:`.model` (the fit), :mod:`.distrib` (Monte Carlo and weighted summaries),
:mod:`.brr` (replicate weights), :mod:`.estimate` (cycles × nutrients × domains),
:mod:`.data` (a minimal raw-table loader), :mod:`.run` (tables and figure for the CLI).
"""

from nhanes_mg.usual_intake.brr import brr_variance, hadamard_order, replicate_factors
from nhanes_mg.usual_intake.estimate import (
    UsualIntakeResult,
    estimate_usual_intake,
    simulate_frame,
)
from nhanes_mg.usual_intake.model import AmountFit, fit_amount_model, replace_zeros

__all__ = [
    "AmountFit",
    "UsualIntakeResult",
    "brr_variance",
    "estimate_usual_intake",
    "fit_amount_model",
    "hadamard_order",
    "replace_zeros",
    "replicate_factors",
    "simulate_frame",
]
