"""``tables/verdicts.csv``: every row of every statement's specification curve, with its
comparator, verdict and E-values (:func:`verdicts_table`); :func:`evalues_of` gives a curve
row's E-values, or why it has none."""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from nhanes_mg.study.evalues import EValues, evalues
from nhanes_mg.study.results import SpecResult, VariantVerdict, Verdict


def evalues_of(
    result: SpecResult, verdict: Verdict, variant: VariantVerdict
) -> tuple[EValues | None, str]:
    """E-values of a curve row's odds or hazard ratio (an effect rule), or why there are
    none: an estimate on the other side of the claim has nothing the claim predicts for
    confounding to explain away."""
    if not result.spec.outputs.evalues or verdict.kind != "effect":
        return None, ""
    if variant.scale not in ("odds ratio", "hazard ratio") or not math.isfinite(variant.estimate):
        return None, ""
    fit = result.fit(variant.analysis, variant.sensitivity)
    if fit is None or fit.outcome_share is None:
        return None, ""
    claimed_below = variant.direction == "below"
    if (variant.estimate > 1) == claimed_below and variant.estimate != 1:
        return None, (
            "no E-value: the estimate lies on the other side of the claim, so there is no "
            "association of the claimed kind for confounding to explain away"
        )
    return evalues(
        variant.estimate,
        variant.conf_low,
        variant.conf_high,
        variant.scale,
        fit.outcome_share,
    ), ""


VERDICTS_SCHEMA = {
    "claim": pl.String,
    "statement": pl.String,
    "main": pl.Boolean,
    "analysis": pl.String,
    "sensitivity": pl.String,
    "label": pl.String,
    "row": pl.String,
    "n": pl.Int64,
    "scale": pl.String,
    "estimate": pl.Float64,
    "conf_low": pl.Float64,
    "conf_high": pl.Float64,
    "ours": pl.String,
    "comparator": pl.String,
    "published": pl.Float64,
    "published_low": pl.Float64,
    "published_high": pl.Float64,
    "verdict": pl.String,
    "why": pl.String,
    "note": pl.String,
    "curve": pl.String,
    "caution": pl.String,
    "evalue": pl.Float64,
    "evalue_limit": pl.Float64,
    "evalue_note": pl.String,
}


def verdicts_table(results: Sequence[SpecResult]) -> pl.DataFrame:
    """Every statement's specification curve, one row per analysis and sensitivity analysis
    (``verdicts.csv``): the main row of each statement has ``main`` true and carries the
    curve's summary; ``statement`` is empty for a claim with one statement."""
    rows = []
    for r in results:
        for v in r.verdicts:
            for c in v.curve:
                ev, note = evalues_of(r, v, c)
                main = c is v.main
                rows.append(
                    {
                        "claim": r.spec.id,
                        "statement": v.statement or None,
                        "main": main,
                        "analysis": c.analysis,
                        "sensitivity": c.sensitivity,
                        "label": c.label,
                        "row": c.row,
                        "n": c.n,
                        "scale": c.scale or None,
                        "estimate": c.estimate,
                        "conf_low": c.conf_low,
                        "conf_high": c.conf_high,
                        "ours": c.ours,
                        "comparator": c.comparator,
                        "published": c.published,
                        "published_low": c.published_low,
                        "published_high": c.published_high,
                        "verdict": c.verdict,
                        "why": c.why,
                        "note": c.note or None,
                        "curve": v.summary if main else None,
                        "caution": (v.caution or None) if main else None,
                        "evalue": ev.estimate if ev else None,
                        "evalue_limit": ev.limit if ev else None,
                        "evalue_note": note or None,
                    }
                )
    return pl.DataFrame(rows, schema=VERDICTS_SCHEMA)
