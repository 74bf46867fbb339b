"""Differences between the domains of a usual-intake result, with replicate errors.

Every domain of a population is a mask on the same modelled persons, summarised from the same
full-sample and replicate fits (:mod:`nhanes_mg.usual_intake.estimate`), so a difference
between two domains is computed in the full sample and in each replicate
(``UsualIntakeResult.replicates``) and its variance is the replicate formula of the domains'
own SEs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy import special

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey.results import critical_value
from nhanes_mg.usual_intake.arrays import CONFIDENCE, STAT_NAMES
from nhanes_mg.usual_intake.estimate import UsualIntakeResult


def domain_differences(
    result: UsualIntakeResult, pairs: Sequence[tuple[str, str]], statistic: str
) -> pl.DataFrame:
    """Differences of a statistic between domains of a result (``pairs`` of domain labels,
    ``(domain, reference)``), in every population × nutrient × basis × method.

    Every domain of a population is summarised from the same full-sample and replicate fits
    (domains are masks on the same modelled persons), so the difference is computed in the
    full sample and in each replicate, and its variance is the replicate formula that gives
    each domain's own SE (Fay BRR, ``mse``: ``Σ_r (d_r − d)² / (R (1 − ρ)²)``); Student t on
    the population's design df for the P value and the 95% CI, as for the domains. ``n`` is
    the two domains' n added (a person in both counts twice). Columns: ``population``,
    ``nutrient``, ``basis``, ``method``, ``domain``, ``reference``, ``estimate``,
    ``std_error``, ``statistic``, ``p_value``, ``conf_low``, ``conf_high``, ``df``, ``n``.
    A pair with a domain the result does not hold raises :class:`EstimationError`.
    """
    if statistic not in STAT_NAMES:
        raise EstimationError(f"usual intake: no statistic {statistic!r} ({', '.join(STAT_NAMES)})")
    state = result._require_state()
    units = {u.label: u for u in state.units}
    known = set(result.table["domain"])
    for pair in pairs:
        for label in pair:
            if label not in known:
                raise EstimationError(f"usual intake: no domain {label!r} in this result")
    key = ["population", "nutrient", "basis", "method"]
    full = result.table.select(*key, "domain", "n", statistic)
    reps = result.replicates.select(*key, "domain", "replicate", statistic)
    rows = []
    for a, b in pairs:
        pair_full = full.filter(pl.col("domain") == a).join(
            full.filter(pl.col("domain") == b), on=key, suffix="_ref"
        )
        pair_reps = reps.filter(pl.col("domain") == a).join(
            reps.filter(pl.col("domain") == b), on=[*key, "replicate"], suffix="_ref"
        )
        for row in pair_full.iter_rows(named=True):
            unit = units[row["population"]]
            theta = row[statistic] - row[f"{statistic}_ref"]
            mine = pair_reps.filter(*(pl.col(k) == row[k] for k in key)).sort("replicate")
            d_r = (mine[statistic] - mine[f"{statistic}_ref"]).to_numpy()
            se = math.nan
            if unit.n_replicates and len(d_r) == unit.n_replicates and np.isfinite(d_r).all():
                v = unit.design.variance(np.array([theta]), d_r[:, None])
                se = float(np.sqrt(v[0]))
            df = unit.design.df
            t = theta / se if se > 0 else math.nan
            q = critical_value(CONFIDENCE, df) if df > 0 else math.nan
            rows.append(
                {
                    **{k: row[k] for k in key},
                    "domain": a,
                    "reference": b,
                    "estimate": theta,
                    "std_error": se,
                    "statistic": t,
                    # Student t's two-sided tail, as scipy.stats' t.sf computes it
                    "p_value": float(2 * special.stdtr(df, -abs(t))) if df > 0 else math.nan,
                    "conf_low": theta - q * se,
                    "conf_high": theta + q * se,
                    "df": df,
                    "n": int(row["n"] + row["n_ref"]),
                }
            )
    schema: dict[str, Any] = {
        **dict.fromkeys((*key, "domain", "reference"), pl.String),
        **dict.fromkeys(
            ("estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high", "df"),
            pl.Float64,
        ),
        "n": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema)
