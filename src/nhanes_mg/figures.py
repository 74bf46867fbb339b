"""plotnine figures of a specification's results: trends over cycles, group estimates, forests.

One figure per kind of result in a specification: ``{id}.png`` for the kind the verdict rests
on, ``{id}_{kind}.png`` for the others (kinds: ``trend``, ``groups``, ``forest`` of ratios,
``forest_linear`` of differences).
"""

from __future__ import annotations

import math
import textwrap
import warnings
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
    geom_point,
    geom_pointrange,
    geom_ribbon,
    ggplot,
    labs,
    position_dodge,
    scale_y_log10,
    theme,
    theme_bw,
)

from nhanes_mg.analyses import SpecResult, model_of

DPI = 120


def figure_kind(result: SpecResult, analysis_name: str) -> str:
    analysis = next(a for a in result.spec.analyses if a.name == analysis_name)
    model = model_of(result.spec, analysis)
    if model == "linear":
        return "forest_linear"  # differences: a linear axis, apart from the ratio panels
    if model != "descriptive":
        return "forest"
    return "trend" if analysis.by and analysis.by[0] == "cycle" else "groups"


def write_figures(result: SpecResult, folder: Path, stamp: str = "") -> list[Path]:
    """Write the figures of one specification; returns their paths (main figure first)."""
    table = result.table
    if table.is_empty():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, list[str]] = {}
    for name in table["analysis"].unique(maintain_order=True):
        kinds.setdefault(figure_kind(result, name), []).append(name)
    main = figure_kind(result, result.spec.verdict["analysis"]) if result.spec.verdict else None
    order = sorted(kinds, key=lambda k: k != main)
    paths = []
    for i, kind in enumerate(order):
        sub = table.filter(pl.col("analysis").is_in(kinds[kind]))
        if kind.startswith("forest"):
            plot = _forest(result, sub, synthetic=bool(stamp))
        else:
            plot = {"trend": _trend, "groups": _groups}[kind](result, sub)
        title = result.spec.title + (f"\n{stamp}" if stamp else "")
        plot = (
            plot
            + labs(title=title)
            + theme(plot_title=element_text(size=10), figure_size=(10, _height(kind, sub)))
        )
        path = folder / (f"{result.spec.id}.png" if i == 0 else f"{result.spec.id}_{kind}.png")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plotnine's notes on saving are not for users
            plot.save(path, dpi=DPI, verbose=False)
        paths.append(path)
    return paths


def _height(kind: str, table: pl.DataFrame) -> float:
    n_panels = table["analysis"].n_unique()
    rows = math.ceil(n_panels / 2)  # two panels a row
    return max(4.0, min(3.0 * rows + 1.0, 14.0))


def _labels(result: SpecResult) -> dict[str, str]:
    """Panel titles: the analysis's label, or its name and outcome for models."""
    labels = {
        a.name: a.label or f"{a.name.replace('_', ' ')}\n{a.outcome_label or a.outcome}"
        for a in result.spec.analyses
    }
    # two panels a row: wrap what would run past a panel's width
    return {k: "\n".join(textwrap.wrap(v, 52)) if "\n" not in v else v for k, v in labels.items()}


def _trend(result: SpecResult, table: pl.DataFrame) -> ggplot:
    labels = _labels(result)
    data = (
        table.filter(~pl.col("term").str.starts_with("trend"))
        .with_columns(
            cycle=pl.col("term").str.split(" · ").list.get(0),
            group=pl.col("term").str.split(" · ").list.slice(1).list.join(" · "),
            panel=pl.col("analysis").replace_strict(labels, default=pl.col("analysis")),
        )
        .with_columns(group=pl.when(pl.col("group") == "").then(pl.lit("all")).otherwise("group"))
    )
    # plotnine draws from pandas: convert at the library boundary
    frame = data.to_pandas()
    plot = (
        ggplot(frame, aes("cycle", "estimate", color="group", group="group"))
        + theme_bw()
        + geom_ribbon(aes(ymin="conf_low", ymax="conf_high", fill="group"), alpha=0.15, color=None)
        + geom_line()
        + geom_point(size=1.5)
        + facet_wrap("panel", scales="free_y", ncol=2)
        + labs(x="survey cycle", y="estimate (95% CI)", color="", fill="")
        + theme(axis_text_x=element_text(rotation=45, ha="right", size=7))
    )
    rule = result.spec.verdict
    if rule and rule.get("rule") in ("above", "below"):
        ref = pl.DataFrame({"panel": [labels[rule["analysis"]]], "value": [float(rule["value"])]})
        plot = plot + geom_hline(
            aes(yintercept="value"), data=ref.to_pandas(), linetype="dashed", color="firebrick"
        )
    return plot


def _groups(result: SpecResult, table: pl.DataFrame) -> ggplot:
    labels = _labels(result)
    data = table.with_columns(
        first=pl.col("term").str.split(" · ").list.get(0),
        second=pl.col("term").str.split(" · ").list.slice(1).list.join(" · "),
        panel=pl.col("analysis").replace_strict(labels, default=pl.col("analysis")),
    )
    dodge = position_dodge(width=0.4)
    return (
        ggplot(data.to_pandas(), aes("first", "estimate", color="second"))  # pandas: plotnine
        + theme_bw()
        + geom_pointrange(aes(ymin="conf_low", ymax="conf_high"), position=dodge)
        + facet_wrap("panel", scales="free_y", ncol=2)
        + labs(x="", y="estimate (95% CI)", color="")
    )


def _forest(result: SpecResult, table: pl.DataFrame, synthetic: bool = False) -> ggplot:
    spec = result.spec
    labels = _labels(result)
    data = table.filter(pl.col("conf_low").is_not_null() | (pl.col("estimate") == 1.0)).filter(
        ~pl.col("term").str.starts_with("P for")
    )
    data = data.with_columns(
        panel=pl.col("analysis").replace_strict(labels, default=pl.col("analysis")),
        stratum=pl.col("stratum").fill_null("overall"),
        # the reference category: a point at 1 (or 0) with no interval
        conf_low=pl.col("conf_low").fill_null(pl.col("estimate")),
        conf_high=pl.col("conf_high").fill_null(pl.col("estimate")),
        source=pl.lit("synthetic (ours)" if synthetic else "NHANES (ours)"),
    )
    ref = spec.reference
    rule = spec.verdict
    if rule and {"estimate", "conf_low", "conf_high"} <= set(ref):
        published = pl.DataFrame({
            "panel": [labels[rule["analysis"]]], "term": [rule["term"]],
            "estimate": [float(ref["estimate"])], "conf_low": [float(ref["conf_low"])],
            "conf_high": [float(ref["conf_high"])], "stratum": ["published"],
            "source": ["published"],
        })  # fmt: skip
        data = pl.concat([data, published], how="diagonal_relaxed")
    ratio_scale = data["scale"].drop_nulls().is_in(["odds ratio", "hazard ratio"]).all()
    dodge = position_dodge(width=0.5)
    # first term on top: plotnine draws categories bottom-up, so reverse the table's order
    frame = data.to_pandas()  # plotnine draws from pandas
    order = list(dict.fromkeys(frame["term"]))[::-1]  # flipped: the first ends on top
    frame["term"] = pd.Categorical(frame["term"], categories=order, ordered=True)
    axis = "odds / hazard ratio (95% CI), log scale" if ratio_scale else "estimate (95% CI)"
    # terms on the x axis, dodged by stratum, then flipped: a horizontal forest plot
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
