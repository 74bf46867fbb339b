"""plotnine figures of a specification's results: trends, groups, forests and curves.

One figure per kind of result in a specification: ``{id}.png`` for the kind the verdict rests
on, ``{id}_{kind}.png`` for the others (kinds: ``trend`` over cycles, ``groups``, ``forest`` of
odds/hazard ratios, ``forest_linear`` of differences, ``usual`` intake beside day 1) and
``{id}_curve.png`` (``{id}_curve_{statement}.png`` for a claim with several statements): the
specification curve, every analysis's and sensitivity analysis's estimate of the judged row,
sorted, coloured by its verdict, each beside the published value it is compared with.

Everything reads the tidy table's columns (``role``, ``cycle``, ``group``, ``stratum``,
``sensitivity``); shares are drawn as %, panels are titled by the analyses' labels.
"""

from __future__ import annotations

import math
import textwrap
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd
import polars as pl
from plotnine import (
    aes,
    coord_flip,
    element_text,
    facet_wrap,
    geom_hline,
    geom_line,
    geom_linerange,
    geom_point,
    geom_pointrange,
    geom_ribbon,
    ggplot,
    labs,
    position_dodge,
    scale_color_manual,
    scale_shape_manual,
    scale_x_continuous,
    scale_y_log10,
    theme,
    theme_bw,
)

from nhanes_mg.data import catalog
from nhanes_mg.files import atomic_write, inside
from nhanes_mg.study import verdicts
from nhanes_mg.study.results import RATIO_SCALES, SpecResult, VariantVerdict, Verdict
from nhanes_mg.study.spec_types import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    UsualIntakeAnalysis,
)

DPI = 120
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


def figure_kind(analysis: Analysis) -> str:
    if isinstance(analysis, UsualIntakeAnalysis):
        return "usual"
    if isinstance(analysis, ModelAnalysis):
        return "forest_linear" if analysis.model == "linear" else "forest"
    return "trend" if analysis.by and analysis.by[0] == "cycle" else "groups"


def write_figures(result: SpecResult, folder: Path, stamp: str = "") -> list[Path]:
    """Write the figures of one specification; returns their paths (main figure first)."""
    table = result.table.filter(pl.col("sensitivity").is_null())
    if table.is_empty():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    spec = result.spec
    kinds: dict[str, list[str]] = {}
    for name in table["analysis"].unique(maintain_order=True):
        kinds.setdefault(figure_kind(spec.analysis(name)), []).append(name)
    main = figure_kind(spec.analysis(spec.verdict.analysis)) if spec.verdict else None
    plots: list[tuple[str, ggplot, float]] = []
    for kind in sorted(kinds, key=lambda k: k != main):
        sub = table.filter(pl.col("analysis").is_in(kinds[kind]))
        if kind.startswith("forest"):
            plot = _forest(result, sub, synthetic=bool(stamp))
        else:
            plot = {"trend": _trend, "groups": _groups, "usual": _usual}[kind](result, sub)
        plots.append((kind, plot, _height(sub)))
    curve_titles: dict[str, str] = {}
    for v in result.verdicts:
        curve = _curve(result, v)
        if curve is not None:
            kind = f"curve_{v.statement}" if v.statement else "curve"
            curve_titles[kind] = " — specification curve" + (
                f" of statement ({v.statement}): {v.text}" if v.statement else ""
            )
            lines = sum(len(_curve_label(c, v).splitlines()) for c in v.curve)
            plots.append((kind, curve, max(3.0, 1.4 + 0.25 * lines + 0.2 * len(v.curve))))
    dose = _dose_response(result)
    if dose is not None:
        plots.append(("spline", dose, 4.5))
    survival = _survival(result)
    if survival is not None:
        plots.append(("survival", survival, 4.5))
    paths = []
    for i, (kind, plot, height) in enumerate(plots):
        suffix = {
            **curve_titles,
            "spline": " — dose–response",
            "survival": " — unadjusted survival by exposure category (survey-weighted)",
        }
        title = spec.title + suffix.get(kind, "")
        width = 70 if kind.startswith("curve") else 100  # long row names narrow that plot
        title = "\n".join(textwrap.wrap(title, width)) + (f"\n{stamp}" if stamp else "")
        plot = (
            plot
            + labs(title=title)
            + theme(plot_title=element_text(size=10), figure_size=(10, height))
        )
        path = inside(folder, f"{spec.id}.png" if i == 0 else f"{spec.id}_{kind}.png")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plotnine's notes on saving are not for users
            atomic_write(path, _saver(plot))
        paths.append(path)
    return paths


def _saver(plot: ggplot) -> Callable[[Path], None]:
    """Save as PNG to a given (temporary) path: the name there has no .png to go by."""

    def save(path: Path) -> None:
        plot.save(path, format="png", dpi=DPI, verbose=False)

    return save


def _height(table: pl.DataFrame) -> float:
    rows = math.ceil(table["analysis"].n_unique() / 2)  # two panels a row
    return max(4.0, min(3.0 * rows + 1.0, 14.0))


def panel_title(analysis: Analysis, words: Mapping[str, tuple[str, str]] | None = None) -> str:
    r"""A panel's title: the analysis's label, or its outcome and exposure (never a column).

    ``words`` maps a column to its label and unit (a specification's declared variables), for
    a descriptive analysis of that column without a label of its own.

    >>> from nhanes_mg.study.spec import ModelAnalysis
    >>> panel_title(ModelAnalysis(name="a", outcome="y", outcome_label="deficiency",
    ...     exposure="mg_total", exposure_label="total Mg intake", exposure_type="quantiles",
    ...     covariates=("age",)))
    'deficiency by quartiles of total Mg intake\n(adjusted)'
    """
    if analysis.label:
        text = analysis.label
    elif isinstance(analysis, ModelAnalysis):
        adjusted = "adjusted" if analysis.covariates else "crude"
        expo = analysis.exposure_label or analysis.exposure
        if analysis.exposure_type == "quantiles":
            k = analysis.quantiles
            groups = {3: "tertiles", 4: "quartiles", 5: "quintiles"}.get(k, f"{k} quantile groups")
            expo = f"{groups} of {expo}"
        elif analysis.exposure_type == "cutpoints":
            expo = f"categories of {expo}"
        elif analysis.per != 1:
            expo = f"{expo} (per {analysis.per:g} {analysis.exposure_unit}".rstrip() + ")"
        text = f"{analysis.outcome_label or analysis.outcome} by {expo} ({adjusted})"
    elif isinstance(analysis, DescriptiveAnalysis) and words and analysis.variable in words:
        label, unit = words[analysis.variable]
        if analysis.statistic == "proportion":
            text = f"{label}, % of participants"
        else:
            what = "median" if analysis.statistic == "quantile" and analysis.q == 0.5 else ""
            what = what or {"mean": "mean", "quantile": f"{analysis.q:.0%} quantile"}.get(
                analysis.statistic, analysis.statistic
            )
            text = f"{label}, {what}" + (f" ({unit})" if unit else "")
    else:
        text = analysis.name.replace("_", " ")
    return "\n".join(textwrap.wrap(text, 44))  # two panels a row, a legend beside


def _panels(result: SpecResult, table: pl.DataFrame) -> pl.DataFrame:
    words = {v.name: (v.label or v.name.replace("_", " "), v.unit) for v in result.spec.variables}
    titles = {a.name: panel_title(a, words) for a in result.spec.analyses}
    return table.with_columns(panel=pl.col("analysis").replace_strict(titles))


def _percent(table: pl.DataFrame) -> pl.DataFrame:
    """Shares as % (estimate and interval)."""
    share = pl.col("scale") == "proportion"
    return table.with_columns(
        [
            pl.when(share).then(pl.col(c) * 100).otherwise(pl.col(c)).alias(c)
            for c in ("estimate", "conf_low", "conf_high")
        ]
    )


def _y_label(table: pl.DataFrame) -> str:
    scales = set(table["scale"].drop_nulls().to_list())
    if scales == {"proportion"}:
        return "% (95% CI)"
    if scales == {"ratio"}:
        return "ratio of mean intakes, mg/mg (95% CI)"
    if table["panel"].n_unique() == 1:  # one panel: its title names the quantity and unit
        return f"{table['panel'][0].replace(chr(10), ' ')} (95% CI)"
    return "estimate (95% CI), unit as in each panel"


def _mid_year(cycle: str) -> float:
    c = catalog.get_cycle(cycle)
    return (c.begin + c.end + 1) / 2


def _trend(result: SpecResult, table: pl.DataFrame) -> ggplot:
    roles = ["estimate", "age-standardized"]  # crude, and standardized where asked for
    data = _percent(_panels(result, table.filter(pl.col("role").is_in(roles))))
    standardized = (data["role"] == "age-standardized").any()
    data = data.with_columns(
        year=pl.col("cycle").map_elements(_mid_year, return_dtype=pl.Float64),
        group=pl.col("group").fill_null("all participants")
        + pl.when(pl.col("role") == "age-standardized")
        .then(pl.lit(", age-standardized"))
        .otherwise(pl.lit(", crude" if standardized else "")),
    )
    cycles = {_mid_year(c): c for c in data["cycle"].unique().to_list()}
    breaks = sorted(cycles)
    frame = data.to_pandas()  # plotnine draws from pandas: convert at the library boundary
    plot = (
        ggplot(frame, aes("year", "estimate", color="group", group="group"))
        + theme_bw()
        + geom_ribbon(aes(ymin="conf_low", ymax="conf_high", fill="group"), alpha=0.15, color=None)
        + geom_line()
        + geom_point(size=1.5)
        + facet_wrap("panel", scales="free", ncol=2)
        + labs(x="survey cycle", y=_y_label(data), color="", fill="")
        + theme(axis_text_x=element_text(rotation=45, ha="right", size=7))
    )
    rule = result.spec.verdict
    titles = {a.name: panel_title(a) for a in result.spec.analyses}
    if rule is not None and rule.analysis in set(table["analysis"]):
        panel = titles[rule.analysis]
        if rule.kind == "threshold" and rule.value is not None:
            value = rule.value * (100 if set(data["scale"]) == {"proportion"} else 1)
            ref = pd.DataFrame({"panel": [panel], "value": [value]})
            plot += geom_hline(
                aes(yintercept="value"), data=ref, linetype="dashed", color="firebrick"
            )
        points = result.spec.reference.points
        if points:
            kind = [
                "published range" if p.low is not None and p.high is not None else "published bound"
                for p in points
            ]
            pts = pd.DataFrame(
                {
                    "panel": [panel] * len(points),
                    "year": [p.year for p in points],
                    "low": [p.low if p.low is not None else p.high for p in points],
                    "high": [p.high if p.high is not None else p.low for p in points],
                    "what": kind,
                }
            )
            plot += geom_linerange(
                aes("year", ymin="low", ymax="high"),
                data=pts,
                inherit_aes=False,
                size=1.2,
                color="black",
            )
            plot += geom_point(
                aes("year", "high", shape="what"),
                data=pts,
                inherit_aes=False,
                color="black",
                size=2.5,
            )
            plot += scale_shape_manual(values={"published range": "_", "published bound": "v"})
            breaks = sorted({*breaks, *(p.year for p in points)})
    # a cycle's break is labelled as the cycle ("2001–02"), a published year as the year
    labels = [f"{cycles[b][:4]}–{cycles[b][7:]}" if b in cycles else f"{int(b)}" for b in breaks]
    return plot + scale_x_continuous(breaks=breaks, labels=labels) + labs(shape="")


def _groups(result: SpecResult, table: pl.DataFrame) -> ggplot:
    data = _percent(_panels(result, table.filter(pl.col("role") == "estimate"))).with_columns(
        first=pl.col("group").fill_null(pl.col("term")),
        second=pl.col("subgroup").fill_null("all participants"),
    )
    dodge = position_dodge(width=0.4)
    return (
        ggplot(data.to_pandas(), aes("first", "estimate", color="second"))  # pandas: plotnine
        + theme_bw()
        + geom_pointrange(aes(ymin="conf_low", ymax="conf_high"), position=dodge)
        + facet_wrap("panel", scales="free_y", ncol=2)
        + labs(x="", y=_y_label(data), color="")
    )


def _usual(result: SpecResult, table: pl.DataFrame) -> ggplot:
    """Usual intake (NCI) beside day 1, per cycle, as %."""
    data = _percent(_panels(result, table.filter(pl.col("role") == "estimate")))
    dodge = position_dodge(width=0.5)
    plot = (
        ggplot(data.to_pandas(), aes("cycle", "estimate", color="term"))  # pandas: plotnine
        + theme_bw()
        + geom_pointrange(aes(ymin="conf_low", ymax="conf_high"), position=dodge)
        + facet_wrap("panel", scales="free_y", ncol=2)
        + labs(x="survey cycle", y="% (95% CI)", color="intake")
    )
    rule = result.spec.verdict
    if rule is not None and rule.kind == "threshold" and rule.value is not None:
        plot += geom_hline(yintercept=rule.value * 100, linetype="dashed", color="firebrick")
    return plot


def _forest(result: SpecResult, table: pl.DataFrame, synthetic: bool = False) -> ggplot:
    spec = result.spec
    data = _panels(
        result, table.filter(pl.col("role").is_in(["estimate", "reference", "stratum effect"]))
    )
    data = data.with_columns(
        stratum=pl.col("stratum").fill_null("all participants"),
        # the reference category: a point at 1 (or 0) with no interval
        conf_low=pl.col("conf_low").fill_null(pl.col("estimate")),
        conf_high=pl.col("conf_high").fill_null(pl.col("estimate")),
        source=pl.lit("synthetic (ours)" if synthetic else "NHANES (ours)"),
    )
    ref, rule = spec.reference, spec.verdict
    if (
        rule is not None
        and rule.kind == "effect"
        and ref.estimate is not None
        and rule.analysis in set(data["analysis"])
    ):
        published = pl.DataFrame(
            {
                "panel": [panel_title(spec.analysis(rule.analysis))],
                "term": [rule.term],
                "estimate": [ref.estimate],
                "conf_low": [ref.conf_low or ref.estimate],
                "conf_high": [ref.conf_high or ref.estimate],
                "stratum": ["published"],
                "source": ["published"],
            }
        )
        data = pl.concat([data, published], how="diagonal_relaxed")
    scales = set(data["scale"].drop_nulls().to_list())
    ratio_scale = scales <= set(RATIO_SCALES)
    dodge = position_dodge(width=0.5)
    frame = data.to_pandas()  # plotnine draws from pandas
    order = list(dict.fromkeys(frame["term"]))[::-1]  # flipped: the first ends on top
    frame["term"] = pd.Categorical(frame["term"], categories=order, ordered=True)
    if ratio_scale:
        words = " or ".join(sorted(s for s in scales))
        axis = f"{words} (95% CI), log scale"
    else:
        outcomes = {
            a.outcome_label
            for a in spec.analyses
            if isinstance(a, ModelAnalysis) and a.name in set(table["analysis"])
        }
        axis = f"difference in {' / '.join(sorted(outcomes))} (95% CI)"
    plot = (
        ggplot(frame, aes("term", "estimate", color="stratum", shape="source"))
        + theme_bw()
        + geom_hline(yintercept=1.0 if ratio_scale else 0.0, linetype="dashed", color="grey")
        + geom_pointrange(aes(ymin="conf_low", ymax="conf_high"), position=dodge, size=0.4)
        + facet_wrap("panel", scales="free", ncol=2)
        + coord_flip()
        + labs(y=axis, x="", color="", shape="")
    )
    if ratio_scale:
        plot = plot + scale_y_log10()
    return plot


def _curve_label(row: VariantVerdict, v: Verdict) -> str:
    """A curve row's name as drawn: wrapped, the main row marked."""
    return "\n".join(textwrap.wrap(("▶ " if row is v.main else "") + row.label, 42))


def _curve(result: SpecResult, v: Verdict) -> ggplot | None:
    """A statement's specification curve: its estimate in every analysis and sensitivity
    analysis, sorted, coloured by verdict, each row's own published value beside it."""
    rows_in = [c for c in v.curve if math.isfinite(c.estimate)]
    # a row on another scale (a difference beside ratios) cannot share a log axis: it is
    # named under the axis instead of leaving an empty row
    elsewhere = [c.label for c in rows_in if v.ratio_scale and not c.conf_low > 0]
    rows_in = [c for c in rows_in if c.label not in elsewhere]
    if not rows_in:
        return None
    names: dict[int, str] = {}
    for c in sorted(rows_in, key=lambda c: c.estimate):
        name = _curve_label(c, v)
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
    frame = data.to_pandas()  # plotnine draws from pandas
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
        ggplot(frame, aes("variant", "estimate", color="verdict"))
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
        plot += scale_y_log10(breaks=[b for b in RATIO_BREAKS if low / 1.1 <= b <= high * 1.1])
    return plot


# log-axis breaks of ratio curves: plotnine's defaults can leave a whole side unlabelled
RATIO_BREAKS = (0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


def _dose_response(result: SpecResult) -> ggplot | None:
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
    outcome = analysis.outcome_label if isinstance(analysis, ModelAnalysis) else ""
    y = f"{what}{' of ' + outcome if outcome else ''}\n(95% CI{', log scale' if ratio else ''})"
    caption = (
        f"Reference: {first['reference']:.4g}{unit.replace(',', '')} (the weighted median of the "
        f"reference category). Natural cubic spline, knots at the weighted 10th, 50th and 90th "
        f"percentiles ({first['knots']}), adjusted as the model; P for non-linearity "
        f"{first['p_nonlinear']:.2g}."
    )
    curve_pd = curve.to_pandas()  # plotnine draws from pandas: convert at the library boundary
    plot = (
        ggplot(curve_pd, aes("value", "estimate"))
        + theme_bw()
        + geom_hline(yintercept=1.0 if ratio else 0.0, linetype="dashed", color="grey")
        + geom_ribbon(aes(ymin="conf_low", ymax="conf_high"), alpha=0.2, fill="#4477aa")
        + geom_line(color="#4477aa")
        + labs(
            x=f"{first['exposure']}{unit}",
            y=y,
            shape="",
            caption="\n".join(textwrap.wrap(caption, 125)),
        )
        + theme(plot_caption=element_text(ha="left", size=8))
    )
    if points.height:
        plot += geom_pointrange(
            aes("value", "estimate", ymin="conf_low", ymax="conf_high", shape="kind"),
            data=points.with_columns(kind=pl.lit("quantile estimate")).to_pandas(),
            color="black",
        )
    if ratio:
        low = float(curve["conf_low"].min())  # type: ignore[arg-type]
        high = float(curve["conf_high"].max())  # type: ignore[arg-type]
        plot += scale_y_log10(breaks=[b for b in RATIO_BREAKS if low <= b <= high])
    return plot


def _survival(result: SpecResult) -> ggplot | None:
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
    ranged = "range" in data.columns and data["range"].is_not_null().all()
    data = data.with_columns(
        years=pl.col("time") / 12,
        label=(pl.col("group") + " (" + pl.col("range") + ")") if ranged else pl.col("group"),
        **{c: pl.col(c) * 100 for c in ("survival", "conf_low", "conf_high")},
    )
    frame = data.to_pandas()  # plotnine draws from pandas: convert at the library boundary
    order = data["label"].unique(maintain_order=True).to_list()
    exposure = data["exposure"][0]
    frame["label"] = pd.Categorical(frame["label"], categories=order, ordered=True)
    outcome = analysis.outcome_label if isinstance(analysis, ModelAnalysis) else ""
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
            caption="Unadjusted survey survival curves: the exponentiated Nelson–Aalen "
            "(Breslow) estimator, as R's svykm(se = TRUE), not the product-limit "
            "(Kaplan–Meier) one.",
        )
        + theme(plot_caption=element_text(ha="left", size=8))
    )
    if "stratum" in data.columns and data["stratum"].is_not_null().all():
        strata = data["stratum"].unique(maintain_order=True).to_list()
        frame["stratum"] = pd.Categorical(frame["stratum"], categories=strata, ordered=True)
        plot += facet_wrap("stratum")
    return plot


def _is_share(result: SpecResult) -> bool:
    rule = result.spec.verdict
    if rule is None:
        return False
    rows = result.table.filter(pl.col("analysis") == rule.analysis)
    return bool(rows.height) and rows["scale"][0] == "proportion"
