"""Usual intake of magnesium and calcium by the NCI method (Tooze 2006; Kipnis 2009).

The one-part "amount" model for nutrients consumed daily — Box-Cox transform, linear mixed
model with a person effect fitted by survey-weighted maximum likelihood (as MIXTRAN), Monte
Carlo usual-intake distribution with the 9-point back-transformation (as DISTRIB) — summarised
in any domains (SQL conditions over the analytic dataset), with replicate (Fay-BRR) standard
errors and t-based intervals.

Modules: :mod:`.model` (the fit), :mod:`.distrib` (Monte Carlo and weighted summaries),
:mod:`.domains` (domain conditions), :mod:`.replicates` (the replicate weights: the one adapter
to the survey engine's ``as_svrepdesign``), :mod:`.estimate` (cycles × nutrients ×
domains; :func:`summarize_domains` for more domains later, without refitting), :mod:`.run`
(tables and figure for the CLI).

Names are loaded on first use, so that specifications can import :mod:`.domains` without the
numerical core.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nhanes_mg.usual_intake.domains import DEFAULT_DOMAINS, Domain
    from nhanes_mg.usual_intake.estimate import (
        UsualIntakeResult,
        estimate_usual_intake,
        summarize_domains,
    )
    from nhanes_mg.usual_intake.model import AmountFit, fit_amount_model, replace_zeros
    from nhanes_mg.usual_intake.replicates import ReplicateWeights, replicate_design
    from nhanes_mg.usual_intake.simulate import simulate_frame

_WHERE = {
    "DEFAULT_DOMAINS": "domains",
    "Domain": "domains",
    "UsualIntakeResult": "estimate",
    "estimate_usual_intake": "estimate",
    "simulate_frame": "simulate",
    "summarize_domains": "estimate",
    "AmountFit": "model",
    "fit_amount_model": "model",
    "replace_zeros": "model",
    "ReplicateWeights": "replicates",
    "replicate_design": "replicates",
}

__all__ = [
    "DEFAULT_DOMAINS",
    "AmountFit",
    "Domain",
    "ReplicateWeights",
    "UsualIntakeResult",
    "estimate_usual_intake",
    "fit_amount_model",
    "replace_zeros",
    "replicate_design",
    "simulate_frame",
    "summarize_domains",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'nhanes_mg.usual_intake' has no attribute {name!r}")
    return getattr(importlib.import_module(f"nhanes_mg.usual_intake.{module}"), name)
