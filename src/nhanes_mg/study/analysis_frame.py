"""What every kind of analysis shares: the tidy table's columns, the analysed frame (its cycles
and weight), the design, SQL flags and weighted quantiles, and the sentence that describes a
model. :mod:`nhanes_mg.study.analyses` runs the kinds (:mod:`.descriptive`, :mod:`.usual`,
:mod:`.models`), each of which builds on these.
"""

from __future__ import annotations

import warnings
from typing import Any

import polars as pl

from nhanes_mg.errors import SpecError
from nhanes_mg.expressions import Condition, condition
from nhanes_mg.study.exposure_error import calibration_words, imputation_words, intake_of
from nhanes_mg.study.spec_types import (
    Analysis,
    DescriptiveAnalysis,
    UsualIntakeAnalysis,
)
from nhanes_mg.study.words import column_words, words_list
from nhanes_mg.survey import (
    SurveyDesign,
    svyquantile,
)
from nhanes_mg.survey.design import SurveyWarning
from nhanes_mg.survey.results import TIDY_SCHEMA

# The tidy table: structure columns, then a survey result's tidy columns, then what they are.
_STRUCTURE = ("analysis", "sensitivity", "role", "term", "cycle", "group", "subgroup", "stratum")
TABLE_SCHEMA: dict[str, Any] = {
    **{c: pl.String for c in _STRUCTURE},
    **{c: t for c, t in TIDY_SCHEMA.items() if c != "term"},
    **{c: pl.String for c in ("scale", "outcome", "model")},
}
TABLE_COLUMNS: tuple[str, ...] = tuple(TABLE_SCHEMA)  # the tidy table's columns, in order
ROLES = (
    "estimate",
    "reference",
    "trend",
    "interaction",
    "stratum effect",
    "modification contrast",
    "group difference",  # a descriptive or usual-intake analysis's `contrast` (.contrasts)
    "group test",
)
SCALES = {"logistic": "odds ratio", "cox": "hazard ratio", "linear": "difference"}
CONTRAST_SCALES = {
    "logistic": "ratio of odds ratios",
    "cox": "ratio of hazard ratios",
    "linear": "difference of differences",
}
OUTCOME_COL, EXPOSURE_COL, TREND_COL, MODIFIER_COL, TIME_COL, DOMAIN_COL = (
    "_y",
    "_x",
    "_trend",
    "_mod",
    "_time",
    "_dom",
)
Z95 = 1.959963984540054


SPLINE_KNOTS = (0.10, 0.50, 0.90)  # interior knots: weighted percentiles (Harrell's three)
SPLINE_BOUNDARY = (0.05, 0.95)  # boundary knots, and the range the curve is drawn over


def describe_model(analysis: Analysis) -> str:
    """One sentence on what an analysis estimates, for the report."""
    if isinstance(analysis, UsualIntakeAnalysis):
        cut = "EAR" if analysis.statistic == "usual_below_ear" else "RDA"
        labels = ", ".join(f"'{label}'" for label, _ in analysis.domains)
        what = (
            f"mean usual intake of {analysis.variable.capitalize()}"
            if analysis.statistic == "usual_mean"
            else f"share below the {analysis.variable.capitalize()} {cut} from usual intake"
        )
        return (
            f"{what} "
            f"({analysis.basis}; NCI method, Fay-BRR replicate SEs, 95% CI from t on the "
            f"design df) beside day 1, domain{'s' if len(analysis.domains) > 1 else ''} "
            f"{labels} of the population"
        )
    if isinstance(analysis, DescriptiveAnalysis):
        by = f" by {words_list(analysis.by)}" if analysis.by else ""
        variable = column_words(analysis.variable)
        what = {
            "ratio": f"ratio of means ({variable}) / ({column_words(analysis.denominator or '')})",
            "mean": f"mean of {variable}",
            "quantile": f"{analysis.q:.0%} quantile of {variable}",
            "proportion": f"share with {variable}",
        }[analysis.statistic]
        std = analysis.age_standardize
        beside = f", crude and directly age-standardized to {std.description}" if std else ""
        return f"survey-weighted {what}{by}{beside}"
    words = {
        "logistic": "survey logistic regression",
        "linear": "survey linear regression",
        "cox": "survey Cox proportional-hazards model (Efron ties)",
    }[analysis.model]
    expo = analysis.exposure_label or analysis.exposure
    if analysis.exposure_type == "quantiles":
        expo = f"weighted quantiles ({analysis.quantiles}) of {expo} in the domain"
    elif analysis.exposure_type == "cutpoints":
        expo = f"{expo} cut at {', '.join(f'{c:g}' for c in analysis.cutpoints)}"
    elif analysis.exposure_type == "spline":
        *first, last = (f"{100 * p:g}th" for p in SPLINE_KNOTS)
        inner = f"{', '.join(first)} and {last}"
        outer = " and ".join(f"{100 * p:g}th" for p in SPLINE_BOUNDARY)
        expo = (
            f"a natural cubic spline of {expo} ({len(SPLINE_KNOTS) + 1} df; knots at its "
            f"weighted {inner} percentiles in the domain, boundary knots at the {outer})"
        )
    elif analysis.per != 1:
        expo = f"{expo} per {analysis.per:g} {analysis.exposure_unit}".rstrip()
    if analysis.reference_category:
        expo += f" (reference {analysis.reference_category})"
    if analysis.exposure_error == "regression_calibration":
        intake = intake_of(analysis.exposure)
        assert intake is not None  # the parser checked it
        inputs = [*analysis.covariates, *([analysis.modifier] if analysis.modifier else [])]
        expo += f" ({calibration_words(*intake, inputs)})"
    covs = words_list(analysis.covariates) if analysis.covariates else "none (crude)"
    extra = ""
    if analysis.modifier:
        extra = (
            f"; effect modifier {column_words(analysis.modifier)}: joint model with exposure × "
            "modifier terms, stratum effects as linear contrasts"
        )
    outcome = analysis.outcome_label or analysis.outcome
    if analysis.missing == "impute":
        extra += f"; missing covariates {imputation_words(analysis.imputations)}"
    return f"{words} of {outcome} on {expo}; adjusted for {covs}{extra}"


# ---------------------------------------------------------------------------------- helpers


def sql_series(frame: pl.DataFrame, text: str | Condition, where: str) -> pl.Series:
    """An expression (parsed by :func:`~nhanes_mg.expressions.condition`, once) on ``frame``."""
    parsed = text if isinstance(text, Condition) else condition(text)
    try:
        return frame.select(parsed.expr.alias("_"))["_"]
    except Exception as exc:
        raise SpecError(
            f"{where}: cannot evaluate {parsed.text!r} on the analytic dataset ({exc})"
        ) from exc


def flag(frame: pl.DataFrame, text: str | Condition | None, where: str) -> pl.Series:
    """A condition on ``frame``: true where it holds, false where not or unknown."""
    if not text:
        return pl.Series([True] * frame.height)
    values = sql_series(frame, text, where)
    if values.dtype != pl.Boolean:
        shown = text.text if isinstance(text, Condition) else text
        raise SpecError(f"{where}: {shown!r} is not a condition (it gives {values.dtype})")
    return values.fill_null(False)


def design_for(frame: pl.DataFrame, weight: str) -> SurveyDesign:
    # People outside the weight's subsample (null weight) are in the sample with weight 0:
    # they stay in the design, as in R, and contribute to no estimate.
    frame = frame.with_columns(pl.col(weight).fill_null(0.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SurveyWarning)
        return SurveyDesign.pooled(
            frame, weights=weight, allow_zero_weights=True, lonely_psu="adjust"
        )


def as_model_column(series: pl.Series) -> pl.Series:
    """Booleans → 0/1; an Enum stays one (a factor whose first level is the reference, as
    in R: male, never smoked, less than high school), a Categorical → text."""
    if series.dtype == pl.Categorical:
        return series.cast(pl.String)
    if series.dtype == pl.Boolean:
        return series.cast(pl.Float64)
    return series


def weighted_quantiles(design: SurveyDesign, column: str, probs: list[float]) -> list[float]:
    res = svyquantile(column, design, probs, na_rm=True)
    return [float(v) for v in res.estimate]


def rows_of(analytic: pl.DataFrame, cycles: tuple[str, ...]) -> pl.DataFrame:
    """The rows of the cycles an analysis keeps (its plan's)."""
    return analytic.filter(pl.col("cycle").cast(pl.String).is_in(list(cycles)))


def tidy_rows(tidy: pl.DataFrame, **columns: Any) -> pl.DataFrame:
    """A tidy survey result with the table's remaining columns set."""
    out = tidy.with_columns(**{k: pl.lit(v, TABLE_SCHEMA[k]) for k, v in columns.items()})
    return out.with_columns(
        [pl.lit(None, TABLE_SCHEMA[c]).alias(c) for c in TABLE_COLUMNS if c not in out.columns]
    ).select([pl.col(c).cast(TABLE_SCHEMA[c]) for c in TABLE_COLUMNS])
