"""The figures beside a specification's estimates: its specification curves (every analysis's
estimate of a judged row, sorted, coloured by its verdict, beside the published value it is
compared with), the dose–response curve of a quantile or spline analysis and the survey
survival curves of a Cox analysis by exposure category.
"""

from __future__ import annotations

import math
import textwrap

import pandas as pd
import polars as pl
from plotnine import (
    aes,
    coord_flip,
    element_text,
    facet_wrap,
    geom_hline,
    geom_line,
    geom_point,
    geom_pointrange,
    geom_ribbon,
    ggplot,
    labs,
    scale_color_manual,
    scale_y_log10,
    theme,
    theme_bw,
)

from nhanes_mg.figure_files import plot_data
from nhanes_mg.report.figure_plan import curve_rows
from nhanes_mg.report.labels import (
    exposure_words,
    outcome_words,
    spec_words,
)
from nhanes_mg.study import verdicts
from nhanes_mg.study.results import (
    RATIO_SCALES,
    SURVIVAL_ESTIMATOR,
    SpecResult,
    VariantVerdict,
    Verdict,
)
from nhanes_mg.study.spec_types import (
    ModelAnalysis,
)

VERDICT_COLOURS = {
    verdicts.CONSISTENT: "#176b2c",
    verdicts.STRONGER: "#2b7bba",
    verdicts.WEAKER: "#9a6700",
    verdicts.INCONCLUSIVE: "#777777",
    verdicts.NOT_REPRODUCED: "#555555",
    verdicts.NO_EFFECT_OF_SIZE: "#6a3d9a",
    verdicts.CONTRADICTED: "#b00020",
    verdicts.NOT_ESTIMATED: "#bbbbbb",
    "published": "#000000",
}


def curve_label(row: VariantVerdict, v: Verdict) -> str:
    """A curve row's name as drawn: wrapped, the main row marked."""
    return "\n".join(textwrap.wrap(("▶ " if row is v.main else "") + row.label, 42))


def curve(result: SpecResult, v: Verdict) -> ggplot | None:
    """A statement's specification curve: its estimate in every analysis and sensitivity
    analysis, sorted, coloured by verdict, each row's own published value beside it."""
    rows_in, elsewhere = curve_rows(v)
    if not rows_in:
        return None
    names: dict[int, str] = {}
    for c in sorted(rows_in, key=lambda c: c.estimate):
        name = curve_label(c, v)
        while name in names.values():
            name += " "  # two rows with one label stay two rows
        names[id(c)] = name
    rows = [
        {
            "variant": names[id(c)],
            "estimate": c.estimate,
            "conf_low": c.conf_low,
            "conf_high": c.conf_high,
            "verdict": c.verdict,
            "published": math.nan if c.published is None else c.published,
        }
        for c in rows_in
    ]
    data = pl.DataFrame(rows)
    share = v.percent
    if share:
        data = data.with_columns(
            [pl.col(c) * 100 for c in ("estimate", "conf_low", "conf_high", "published")]
        )
    frame = plot_data(data)
    order = [names[id(c)] for c in sorted(rows_in, key=lambda c: c.estimate)]
    frame["variant"] = pd.Categorical(frame["variant"], categories=order, ordered=True)
    null = v.null if v.null is not None else 0.0
    if share:
        null *= 100
    main = v.main or rows_in[0]
    scale = "share" if share else (main.scale or "estimate")
    what = {
        "threshold": f"{scale} ({main.outcome})" if main.outcome and not share else scale,
        "effect": (
            f"{scale} {'in' if scale.startswith('difference') else 'of'} {main.outcome}"
            if main.outcome
            else scale
        ),
        "modification": f"{scale} ({main.outcome}): the claimed stratum's effect relative to "
        "the other's",
    }[v.kind]
    unit = "%" if share else ("log scale" if v.ratio_scale else "")
    axis = f"{what} (95% CI{', ' + unit if unit else ''}); dashed: " + (
        f"the claim's threshold {null:g}{'%' if share else ''}"
        if v.kind == "threshold"
        else "no difference between the strata"
        if v.kind == "modification"
        else "no effect"
    )
    if v.smallest is not None:
        shown = f"{100 * v.smallest:g}%" if share else f"{v.smallest:g}"
        axis += f"; dotted: the smallest effect of interest, {shown}"
    if any(c.published is not None for c in rows_in):
        axis += "; ◇ the published estimate the row is compared with"
    if elsewhere:
        axis += f". On another scale, in the table: {'; '.join(elsewhere)}"
    if v.summary:
        axis += f". {v.summary[0].upper()}{v.summary[1:]}"
    colours = {k: c for k, c in VERDICT_COLOURS.items() if k in set(frame["verdict"])}
    published = frame[frame["published"].notna()]
    plot = (
        # grouped by verdict, not plotnine's default (one group per variant, each drawn
        # apart at ~13 ms): nothing is dodged, so the points are where they were
        ggplot(frame, aes("variant", "estimate", color="verdict", group="verdict"))
        + theme_bw()
        + geom_hline(yintercept=null, linetype="dashed", color="grey")
        + geom_pointrange(aes(ymin="conf_low", ymax="conf_high"), size=0.5)
        + coord_flip()
        + scale_color_manual(values=colours)
        + labs(x="", y="\n".join(textwrap.wrap(axis, 95)), color="verdict")
    )
    if v.smallest is not None:
        plot += geom_hline(
            yintercept=v.smallest * (100 if share else 1), linetype="dotted", color="#6a3d9a"
        )
    if len(published):
        plot += geom_point(
            aes("variant", "published"),
            data=published,
            shape="D",
            fill="none",
            color="black",
            size=3,
            inherit_aes=False,
        )
    if v.ratio_scale:
        values = [*frame["conf_low"], *frame["conf_high"], *published["published"], null]
        values += [] if v.smallest is None else [v.smallest]
        low, high = min(values), max(values)
        plot += scale_y_log10(breaks=ratio_breaks(low / 1.1, high * 1.1))
    return plot


# log-axis breaks of ratio curves: plotnine's defaults can leave a whole side unlabelled
RATIO_BREAKS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)
# on an axis spanning more than a factor of 4 the breaks near 1 would print into each other
# ("0.80.9"): the coarser set
WIDE_RATIO_BREAKS = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)


def ratio_breaks(low: float, high: float) -> list[float]:
    """The log axis's labelled ratios between ``low`` and ``high``.

    >>> ratio_breaks(0.6, 1.3)
    [0.7, 0.8, 0.9, 1.0, 1.25]
    >>> ratio_breaks(0.15, 2.2)
    [0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0]
    """
    breaks = WIDE_RATIO_BREAKS if high > 4 * low else RATIO_BREAKS
    return [b for b in breaks if low <= b <= high]


def dose_response(result: SpecResult) -> ggplot | None:
    """The verdict analysis's adjusted dose–response curve (natural spline) with its 95%
    band, its quantile estimates at their categories' weighted medians, and P non-linear."""
    table = result.dose_response
    if not table.height:
        return None
    name = result.shown_analysis(table)
    data = table.filter(pl.col("analysis") == name)
    curve = data.filter(pl.col("role") == "curve")
    estimates = result.table.filter(
        (pl.col("analysis") == name)
        & pl.col("sensitivity").is_null()
        & pl.col("role").is_in(["estimate", "reference"])
        & pl.col("stratum").is_null()
    ).select(group="term", estimate="estimate", conf_low="conf_low", conf_high="conf_high")
    points = (
        data.filter(pl.col("role") == "category")
        .select("group", "value")
        .join(estimates, on="group", how="inner")
        .with_columns(
            pl.col("conf_low").fill_null(pl.col("estimate")),
            pl.col("conf_high").fill_null(pl.col("estimate")),
        )
    )
    scale = result.table.filter(pl.col("analysis") == name)["scale"].drop_nulls()
    ratio = scale.len() > 0 and scale[0] in RATIO_SCALES
    first = data.row(0, named=True)
    unit = f", {first['unit']}" if first["unit"] else ""
    what = scale[0] if scale.len() else "difference"
    analysis = result.spec.analysis(name)
    words = spec_words(result.spec)
    outcome = outcome_words(analysis, words) if isinstance(analysis, ModelAnalysis) else ""
    exposure = (
        exposure_words(analysis, words)[0]
        if isinstance(analysis, ModelAnalysis)
        else str(first["exposure"])
    )
    y = f"{what}{' of ' + outcome if outcome else ''}\n(95% CI{', log scale' if ratio else ''})"
    caption = (
        f"Reference: {first['reference']:.4g}{unit.replace(',', '')} (the weighted median of the "
        f"reference category). Natural cubic spline, knots at the weighted 10th, 50th and 90th "
        f"percentiles ({first['knots']}), adjusted as the model; P for non-linearity "
        f"{first['p_nonlinear']:.2g}."
    )
    curve_pd = plot_data(curve)
    plot = (
        ggplot(curve_pd, aes("value", "estimate"))
        + theme_bw()
        + geom_hline(yintercept=1.0 if ratio else 0.0, linetype="dashed", color="grey")
        + geom_ribbon(aes(ymin="conf_low", ymax="conf_high"), alpha=0.2, fill="#4477aa")
        + geom_line(color="#4477aa")
        + labs(
            x=f"{exposure}{unit}",
            y=y,
            shape="",
            caption="\n".join(textwrap.wrap(caption, 125)),
        )
        + theme(plot_caption=element_text(ha="left", size=8))
    )
    if points.height:
        plot += geom_pointrange(
            aes("value", "estimate", ymin="conf_low", ymax="conf_high", shape="kind"),
            data=plot_data(points.with_columns(kind=pl.lit("quantile estimate"))),
            color="black",
        )
    if ratio:
        low = float(curve["conf_low"].min())  # type: ignore[arg-type]
        high = float(curve["conf_high"].max())  # type: ignore[arg-type]
        plot += scale_y_log10(breaks=ratio_breaks(low, high))
    return plot


def survival(result: SpecResult) -> ggplot | None:
    """Unadjusted survey survival curves of the verdict's Cox analysis by exposure category
    (each category's range in its unit), within each stratum of the claim's modifier when the
    analysis has one, with pointwise 95% bands. R's ``svykm(se = TRUE)`` estimates survival as
    the exponentiated Nelson–Aalen (Breslow) cumulative hazard, not the product-limit
    estimator; the figure says so."""
    curves = result.survival
    if not curves.height:
        return None
    name = result.shown_analysis(curves)
    analysis = result.spec.analysis(name)
    data = curves.filter(pl.col("analysis") == name).sort("group_order", "time")
    words = spec_words(result.spec)
    expo, unit = (
        exposure_words(analysis, words) if isinstance(analysis, ModelAnalysis) else ("", "")
    )
    ranges = data["range"] if "range" in data.columns else pl.Series([None] * data.height)
    labels = {
        (g, r): category_label(g, r, "" if unit == "ratio" else unit)  # a ratio has none
        for g, r in zip(data["group"].to_list(), ranges.to_list(), strict=True)
    }
    data = data.with_columns(
        years=pl.col("time") / 12,
        label=pl.Series([labels[k] for k in zip(data["group"], ranges, strict=True)]),
        **{c: pl.col(c) * 100 for c in ("survival", "conf_low", "conf_high")},
    )
    frame = plot_data(data)
    order = data["label"].unique(maintain_order=True).to_list()
    frame["label"] = pd.Categorical(frame["label"], categories=order, ordered=True)
    outcome = outcome_words(analysis, words) if isinstance(analysis, ModelAnalysis) else ""
    exposure = expo or str(data["exposure"][0])
    legend = f"{exposure}, weighted quartile" if data["group"][0] == "Q1" else exposure
    plot = (
        ggplot(frame, aes("years", "survival", color="label", fill="label"))
        + theme_bw()
        + geom_ribbon(aes(ymin="conf_low", ymax="conf_high"), alpha=0.15, color="none")
        + geom_line()
        + labs(
            x="years since the examination",
            y=f"% free of {outcome or 'the event'} (95% CI)",
            color=legend,
            fill=legend,
            caption=f"Unadjusted survey survival curves: {SURVIVAL_ESTIMATOR}.",
        )
        + theme(plot_caption=element_text(ha="left", size=8))
    )
    if "stratum" in data.columns and data["stratum"].is_not_null().all():
        strata = data["stratum"].unique(maintain_order=True).to_list()
        frame["stratum"] = pd.Categorical(frame["stratum"], categories=strata, ordered=True)
        plot += facet_wrap("stratum")
    return plot


def category_label(group: str, range_: str | None, unit: str) -> str:
    """An exposure category as a legend names it: its range with the unit (``≤ 50 nmol/L``),
    a quantile group with its range beside it (``Q1 (≤ 48.8 nmol/L)``).

    >>> category_label("≤ 50", "≤ 50", "nmol/L"), category_label("50–75", "50–75", "")
    ('≤ 50 nmol/L', '50–75')
    >>> category_label("Q1", "≤ 48.8 nmol/L", "nmol/L")
    'Q1 (≤ 48.8 nmol/L)'
    """
    if not range_:
        return group
    if unit and not range_.endswith(unit):
        range_ = f"{range_} {unit}"
    return range_ if range_.startswith(group) else f"{group} ({range_})"
