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
import re
import textwrap
import warnings
from collections.abc import Callable, Mapping, Sequence
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
    geom_text,
    ggplot,
    guide_legend,
    guides,
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
from nhanes_mg.figure_files import plot_data, save_png
from nhanes_mg.files import inside
from nhanes_mg.report import figure_curves
from nhanes_mg.report.figure_plan import PlannedFigure, figure_plan, figure_shares, panel_order
from nhanes_mg.report.figures_published import (
    is_share,
    published_values,
    same_quantity,
    thresholds,
)
from nhanes_mg.report.labels import (
    by_words,
    column_words,
    level_words,
    outcome_words,
    panel_title,
    spec_words,
    term_words,
)
from nhanes_mg.study.results import RATIO_SCALES, SpecResult
from nhanes_mg.study.spec_types import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    ReferencePoint,
    UsualIntakeAnalysis,
)

__all__ = ["panel_title", "write_figures"]

OURS = "#2b5c8a"  # our estimates, when colour says nothing else
THRESHOLD = "firebrick"  # a claim's threshold


def write_figures(
    result: SpecResult, folder: Path, stamp: str = "", share: tuple[int, int] = (0, 1)
) -> list[Path]:
    """Write the figures of one specification (:func:`~nhanes_mg.report.figure_plan.
    figure_plan`); returns their paths (main figure first).

    ``share = (k, n)``: only the figures of the k-th of n shares (:func:`~nhanes_mg.report.
    figure_plan.figure_shares`: n processes then draw one specification's figures together,
    each building only its own plots); the paths returned are still all of them, in order.
    """
    planned = figure_plan(result)
    if not planned:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    table = result.table.filter(pl.col("sensitivity").is_null())
    shares = figure_shares(planned, share[1])
    spec = result.spec
    paths = []
    for i, figure in enumerate(planned):
        path = inside(folder, figure.name)
        paths.append(path)
        if shares[i] != share[0]:
            continue  # another process draws it
        plot, height, suffix = _plot(result, table, figure, stamp)
        width = 70 if figure.kind.startswith("curve") else 100  # long row names narrow it
        title = "\n".join(textwrap.wrap(spec.title + suffix, width)) + (
            f"\n{stamp}" if stamp else ""
        )
        plot = (
            plot
            + labs(title=title)
            + theme(plot_title=element_text(size=10), figure_size=(10, height))
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # plotnine's notes on saving are not for users
            save_png(plot, path)
    return paths


def _plot(
    result: SpecResult, table: pl.DataFrame, figure: PlannedFigure, stamp: str
) -> tuple[ggplot, float, str]:
    """One planned figure's plot, its height (inches) and what its title adds."""
    v = figure.verdict
    if v is not None:
        plot = figure_curves.curve(result, v)
        assert plot is not None  # planned: it has rows to draw
        lines = sum(len(figure_curves.curve_label(c, v).splitlines()) for c in v.curve)
        suffix = " — specification curve" + (
            f" of statement ({v.statement}): {v.text}" if v.statement else ""
        )
        return plot, max(3.0, 1.4 + 0.25 * lines + 0.2 * len(v.curve)), suffix
    if figure.kind in ("spline", "survival"):
        draw = figure_curves.dose_response if figure.kind == "spline" else figure_curves.survival
        made = draw(result)
        assert made is not None  # planned: it has rows to draw
        suffix = {
            "spline": " — dose–response",
            "survival": " — unadjusted survival by exposure category (survey-weighted)",
        }[figure.kind]
        return made, 4.5, suffix
    sub = table.filter(pl.col("analysis").is_in(figure.analyses))
    if figure.kind.startswith("forest"):
        plot, height = _forest(result, sub, synthetic=bool(stamp))
        return plot, height, ""
    layout = {"trend": _trend, "groups": _groups, "usual": _usual}[figure.kind]
    return layout(result, sub), _height(sub), ""


def _height(table: pl.DataFrame) -> float:
    rows = math.ceil(table["analysis"].n_unique() / 2)  # two panels a row
    return max(3.6, min(3.0 * rows + 1.0, 14.0))


def _unit(analysis: Analysis, words: Mapping[str, tuple[str, str]]) -> str:
    """The unit of an analysis's estimates ("%" for shares; "" when unknown or none)."""
    if is_share(analysis):
        return "%"
    if isinstance(analysis, UsualIntakeAnalysis):
        return "mg/day"
    if isinstance(analysis, DescriptiveAnalysis) and analysis.statistic in ("mean", "quantile"):
        return column_words(analysis.variable, words)[1]
    return ""


def _panels(result: SpecResult, table: pl.DataFrame, units: bool = False) -> pl.DataFrame:
    """The table with each row's panel title, ordered as :func:`panel_order`; ``units``:
    each title ends with its unit (when the panels' units differ, the axis cannot say it)."""
    spec = result.spec
    words = spec_words(spec)
    titles = {}
    for name in panel_order(spec, table["analysis"].unique(maintain_order=True).to_list()):
        a = spec.analysis(name)
        title = panel_title(a, words)
        unit = _unit(a, words)
        if units and unit and unit not in title:
            title += f" ({unit})"
        titles[name] = title
    order = pl.Enum(list(dict.fromkeys(titles.values())))
    return table.with_columns(
        panel=pl.col("analysis").replace_strict(titles, return_dtype=pl.String).cast(order)
    )


def _percent(table: pl.DataFrame) -> pl.DataFrame:
    """Shares as % (estimate and interval)."""
    share = pl.col("scale") == "proportion"
    return table.with_columns(
        [
            pl.when(share).then(pl.col(c) * 100).otherwise(pl.col(c)).alias(c)
            for c in ("estimate", "conf_low", "conf_high")
        ]
    )


def _units_differ(result: SpecResult, names: list[str]) -> bool:
    words = spec_words(result.spec)
    return len({_unit(result.spec.analysis(n), words) for n in names}) > 1


def _y_label(result: SpecResult, table: pl.DataFrame) -> str:
    words = spec_words(result.spec)
    names = table["analysis"].unique().to_list()
    units = {_unit(result.spec.analysis(n), words) for n in names}
    scales = set(table["scale"].drop_nulls().to_list())
    if units == {"%"}:
        return "% (95% CI)"
    if scales == {"ratio"}:
        return "ratio of mean intakes (95% CI)"
    if len(units) == 1 and table["panel"].n_unique() == 1:  # its title names the quantity
        unit = units.pop()
        return f"{unit} (95% CI)" if unit else "estimate (95% CI)"
    return "estimate (95% CI), unit in each panel's title"


def _mid_year(cycle: str) -> float:
    c = catalog.get_cycle(cycle)
    return (c.begin + c.end + 1) / 2


def _cycle_text(cycle: str) -> str:
    """``2001–02``; a pool of cycles ``2015–2018, pooled``."""
    if len(cycle) == 9 and cycle[4] == "-" and int(cycle[5:]) - int(cycle[:4]) == 1:
        return f"{cycle[:4]}–{cycle[7:]}"
    return cycle.replace("-", "–") + (", pooled" if len(cycle) == 9 else "")


def _year_breaks(
    cycles: Mapping[float, str], published: set[float]
) -> Callable[[tuple[float, float]], list[float]]:
    """Each panel's x breaks: every cycle, or every other one (and the published years) in a
    panel whose axis reaches back to published years decades before the cycles, so that the
    labels do not overlap."""

    def breaks(limits: tuple[float, float]) -> list[float]:
        low, high = limits
        inside_ = sorted(y for y in cycles if low <= y <= high)
        span = high - low
        shown = {y for y in published if low <= y <= high}
        if span > 25:  # 2-year cycles over decades: every other cycle, none beside a year
            inside_ = inside_[::2] if len(inside_) % 2 else inside_[1::2]
            inside_ = [y for y in inside_ if all(y == p or abs(y - p) > 3 for p in shown)]
        return sorted({*inside_, *shown})

    return breaks


def _trend(result: SpecResult, table: pl.DataFrame) -> ggplot:
    spec = result.spec
    roles = ["estimate", "age-standardized"]  # crude, and standardized where asked for
    names = table["analysis"].unique(maintain_order=True).to_list()
    units = _units_differ(result, names)
    data = _percent(_panels(result, table.filter(pl.col("role").is_in(roles)), units=units))
    standardized = (data["role"] == "age-standardized").any()
    data = data.with_columns(
        year=pl.col("cycle").map_elements(_mid_year, return_dtype=pl.Float64),
        series=pl.col("group")
        .map_elements(level_words, return_dtype=pl.String)
        .fill_null("all participants")
        + pl.when(pl.col("role") == "age-standardized")
        .then(pl.lit(", age-standardized"))
        .otherwise(pl.lit(", crude" if standardized else "")),
    )
    # series in the table's order (age groups as the specification gave them), everyone first
    order = data["series"].unique(maintain_order=True).to_list()
    order.sort(key=_series_key)
    words = spec_words(spec)
    legend = next((w for n in names if (w := by_words(spec.analysis(n), 0, words))), "")
    cycles = {_mid_year(c): _cycle_text(c) for c in data["cycle"].unique().to_list()}
    frame = plot_data(data)
    frame["series"] = pd.Categorical(frame["series"], categories=order)  # unordered: hues
    several = data["series"].n_unique() > 1
    mapping = aes("year", "estimate", color="series", group="series") if several else None
    plot = (
        ggplot(frame, mapping or aes("year", "estimate", group="series"))
        + theme_bw()
        + facet_wrap("panel", scales="free", ncol=2)
        + labs(x="survey cycle", y=_y_label(result, data), color=legend, fill=legend)
        + theme(axis_text_x=element_text(rotation=45, ha="right", size=7))
    )
    if several:
        plot += geom_ribbon(
            aes(ymin="conf_low", ymax="conf_high", fill="series"), alpha=0.15, color=None
        )
        plot = plot + geom_line() + geom_point(size=1.5)
    else:  # one series: its colour would say nothing, so no legend for it
        plot += geom_ribbon(aes(ymin="conf_low", ymax="conf_high"), alpha=0.15, fill=OURS)
        plot = plot + geom_line(color=OURS) + geom_point(size=1.5, color=OURS)
    plot = _threshold_layers(result, data, plot, x="year")
    published: set[float] = set()
    rule = spec.verdict
    points = spec.reference.points
    if rule is not None and rule.analysis in names and points:
        panel = data.filter(pl.col("analysis") == rule.analysis)["panel"][0]

        def what(p: ReferencePoint) -> str:
            source = p.label.split(":")[0] if ":" in p.label else "published"
            if p.low is not None and p.high is not None:
                return f"{source}: range over groups"
            return f"{source}: {'upper' if p.high is not None else 'lower'} bound"

        kind = [what(p) for p in points]
        pts = plot_data(
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
        shapes = {
            k: "_" if k.endswith("range over groups") else "v" if "upper" in k else "^"
            for k in kind
        }
        plot += scale_shape_manual(values=shapes)
        published = {p.year for p in points}

    # a cycle's break is labelled as the cycle ("2001–02"), a published year as the year
    def label(breaks: Sequence[float] | Sequence[str]) -> Sequence[str]:
        return [cycles.get(float(b), f"{float(b):.0f}") for b in breaks]

    return (
        plot
        + scale_x_continuous(breaks=_year_breaks(cycles, published), labels=label)
        + labs(shape="")
    )


def _series_key(series: str) -> tuple[int, float, str]:
    """Everyone first, then groups named by a number (age groups) by that number, then the
    others as they came: ``1-8`` before ``9-18`` before ``19-30``."""
    if series.startswith("all participants"):
        return (0, 0.0, "")
    digits = re.match(r"\d+(?:\.\d+)?", series)
    return (1, float(digits.group()), series) if digits else (2, 0.0, "")


def _threshold_layers(result: SpecResult, data: pl.DataFrame, plot: ggplot, x: str) -> ggplot:
    """The claim's thresholds as labelled dashed lines, in every panel of their quantity
    (the label at the left end of each panel's x values)."""
    spec = result.spec
    rows = []
    for t in thresholds(spec):
        if t.analysis not in {a.name for a in spec.analyses}:
            continue
        judged = spec.analysis(t.analysis)
        share = is_share(judged)
        for name in data["analysis"].unique(maintain_order=True).to_list():
            if not same_quantity(judged, spec.analysis(name)):
                continue
            panel = data.filter(pl.col("analysis") == name)
            rows.append(
                {
                    "panel": panel["panel"][0],
                    "value": t.value * (100 if share else 1),
                    "x": float(panel[x].min()),  # type: ignore[arg-type]
                    "text": t.label(percent=share),
                }
            )
    if not rows:
        return plot
    lines = plot_data(rows).drop_duplicates(["panel", "value"])
    return (
        plot
        + geom_hline(aes(yintercept="value"), data=lines, linetype="dashed", color=THRESHOLD)
        + geom_text(
            aes("x", "value", label="text"),
            data=lines,
            inherit_aes=False,
            ha="left",
            va="bottom",
            size=7,
            color=THRESHOLD,
        )
    )


def _dodged(
    data: pl.DataFrame, x: str, series: list[str], width: float = 0.6
) -> tuple[pl.DataFrame, dict[float, str]]:
    """Numeric x positions: each ``x`` category at 1, 2, … (in the table's order), each
    combination of the ``series`` columns beside the others within it (its own offset), so
    that no two groups or domains are drawn at one position. Returns the table with ``xpos``
    and the categories' labels by position."""
    categories = data[x].unique(maintain_order=True).to_list()
    combos = data.select(series).unique(maintain_order=True).rows() if series else [()]
    step = width / max(len(combos), 1)
    offsets = {c: (i - (len(combos) - 1) / 2) * step for i, c in enumerate(combos)}
    xpos = [
        categories.index(row[0]) + 1 + offsets[tuple(row[1:])]
        for row in data.select([x, *series]).rows()
    ]
    labels = {float(i + 1): "\n".join(textwrap.wrap(str(c), 16)) for i, c in enumerate(categories)}
    return data.with_columns(xpos=pl.Series(xpos, dtype=pl.Float64)), labels


def _point_layers(
    data: pl.DataFrame,
    labels: dict[float, str],
    colour: str | None,
    shape: str | None,
    titles: tuple[str, str],
) -> ggplot:
    """Dodged points with 95% CIs; colour and shape legends only for what varies."""
    frame = plot_data(data)
    mapping = {"x": "xpos", "y": "estimate", "ymin": "conf_low", "ymax": "conf_high"}
    if colour:
        mapping["color"] = colour
    if shape:
        mapping["shape"] = shape
    point = geom_pointrange(size=0.5) if colour else geom_pointrange(size=0.5, color=OURS)
    return (
        ggplot(frame, aes(**mapping))
        + theme_bw()
        + point
        + facet_wrap("panel", scales="free", ncol=2)
        + scale_x_continuous(breaks=list(labels), labels=list(labels.values()), expand=(0, 0.5))
        + labs(color=titles[0], shape=titles[1])
    )


def _groups(result: SpecResult, table: pl.DataFrame) -> ggplot:
    """Estimates by group: one position per group, a second grouping beside it (colour),
    the age-standardized estimate beside the crude one (shape)."""
    spec = result.spec
    words = spec_words(spec)
    roles = ["estimate", "age-standardized"]
    names = table["analysis"].unique(maintain_order=True).to_list()
    data = _percent(
        _panels(result, table.filter(pl.col("role").is_in(roles)), _units_differ(result, names))
    )
    standard = next(
        (
            a.age_standardize
            for n in names
            if isinstance(a := spec.analysis(n), DescriptiveAnalysis) and a.age_standardize
        ),
        None,
    )
    std_words = (
        "\n".join(textwrap.wrap(f"age-standardized ({standard.source or standard.name})", 30))
        if standard
        else "age-standardized"
    )
    data = data.with_columns(
        first=pl.col("group")
        .fill_null(pl.col("term"))
        .map_elements(level_words, return_dtype=pl.String),
        second=pl.col("subgroup")
        .map_elements(level_words, return_dtype=pl.String)
        .fill_null("all participants"),
        estimate_kind=pl.when(pl.col("role") == "age-standardized")
        .then(pl.lit(std_words))
        .otherwise(pl.lit("crude"))
        .cast(pl.Enum(["crude", std_words])),  # the crude first, in the legend too
    )
    series = [c for c in ("second", "estimate_kind") if data[c].n_unique() > 1]
    data, labels = _dodged(data, "first", series)
    first = spec.analysis(names[0])
    colour = series[0] if series else None
    shape = series[1] if len(series) > 1 else None
    titles = (
        by_words(first, 1, words) if colour == "second" else "estimate",
        "estimate" if shape else "",
    )
    plot = _point_layers(data, labels, colour, shape, titles)
    plot += labs(x=by_words(first, 0, words), y=_y_label(result, data))
    plot = _threshold_layers(result, data.with_columns(x=pl.lit(0.6)), plot, x="x")
    return _published_layer(result, data, plot, match=("group",))


def _usual(result: SpecResult, table: pl.DataFrame) -> ggplot:
    """Usual intake (NCI) beside day 1: by cycle (or pooled), each domain beside the others,
    as %; the published values and the claim's threshold where they belong."""
    names = table["analysis"].unique(maintain_order=True).to_list()
    data = _percent(
        _panels(result, table.filter(pl.col("role") == "estimate"), _units_differ(result, names))
    ).with_columns(
        cycle_text=pl.col("cycle").map_elements(_cycle_text, return_dtype=pl.String),
        domain=pl.col("group").fill_null("all"),
        intake=pl.col("term"),
    )
    cycles = data["cycle"].n_unique() > 1
    domains = data["domain"].n_unique() > 1
    if cycles or not domains:  # by cycle, the domains (if several) beside each other
        x, series = "cycle_text", (["domain", "intake"] if domains else ["intake"])
        xlab = "survey cycle"
    else:  # one cycle or pool: by domain
        x, series, xlab = "domain", ["intake"], f"domain ({data['cycle_text'][0]})"
    data, labels = _dodged(data, x, series)
    colour, shape = series[0], (series[1] if len(series) > 1 else None)
    plot = _point_layers(
        data, labels, colour, shape, ("domain" if colour == "domain" else "intake", "intake")
    )
    plot += labs(x=xlab, y=_y_label(result, data))
    plot = _threshold_layers(result, data.with_columns(x=pl.lit(0.6)), plot, x="x")
    return _published_layer(result, data, plot, match=("cycle", "group"))


def _published_layer(
    result: SpecResult, data: pl.DataFrame, plot: ggplot, match: tuple[str, ...]
) -> ggplot:
    """Each published value as a hollow black diamond beside the estimate it is compared
    with (same analysis, term and the ``match`` columns), labelled with its source."""
    rows = []
    for p in published_values(result.spec):
        if p.term is None:
            continue
        want = pl.col("analysis") == p.analysis
        want &= pl.col("term") == p.term
        for column in match:
            value = getattr(p, column)
            if value is not None:
                want &= pl.col(column) == value
        hit = data.filter(want)
        if hit.is_empty():
            continue
        share = is_share(result.spec.analysis(p.analysis))
        scale = 100 if share else 1
        rows.append(
            {
                "panel": hit["panel"][0],
                "xpos": float(hit["xpos"][0]),
                "estimate": p.estimate * scale,
                "text": p.label(percent=share),
            }
        )
    if not rows:
        return plot
    frame = plot_data(rows)
    # a label right of a point in the axis's left half, left of one in its right half: it
    # stays inside the panel
    middle = (data["xpos"].min() + data["xpos"].max()) / 2  # type: ignore[operator]
    right = frame["xpos"] > middle
    plot = plot + geom_point(
        aes("xpos", "estimate"),
        data=frame,
        inherit_aes=False,
        shape="D",
        fill="none",
        color="black",
        size=3,
    )
    for part, ha, pad in ((frame[~right], "left", "  {}"), (frame[right], "right", "{}  ")):
        if len(part):
            plot += geom_text(
                aes("xpos", "estimate", label="text"),
                data=part.assign(text=part["text"].map(pad.format)),
                inherit_aes=False,
                ha=ha,
                size=7,
            )
    return plot


def _forest(
    result: SpecResult, table: pl.DataFrame, synthetic: bool = False
) -> tuple[ggplot, float]:
    """Odds/hazard ratios (log axis) or differences by term, one panel per analysis (the
    claim's first), each stratum beside the others, the published estimates beside ours.
    Returns the plot and its height (inches), from the panels' rows."""
    spec = result.spec
    words = spec_words(spec)
    data = _panels(
        result, table.filter(pl.col("role").is_in(["estimate", "reference", "stratum effect"]))
    )
    terms = {
        (a, t): term_words(spec.analysis(a), t, words)
        for a, t in data.select("analysis", "term").unique().rows()
    }
    ours = "synthetic (ours)" if synthetic else "NHANES (ours)"
    data = data.with_columns(
        term=pl.struct("analysis", "term").map_elements(
            lambda r: terms[(r["analysis"], r["term"])], return_dtype=pl.String
        ),
        stratum=pl.col("stratum").fill_null("all participants"),
        # the reference category: a point at 1 (or 0) with no interval
        conf_low=pl.col("conf_low").fill_null(pl.col("estimate")),
        conf_high=pl.col("conf_high").fill_null(pl.col("estimate")),
        source=pl.lit(ours),
    )
    published = [
        {
            "panel": data.filter(pl.col("analysis") == p.analysis)["panel"][0],
            "analysis": p.analysis,
            "term": terms.get((p.analysis, p.term), p.term),
            "estimate": p.estimate,
            "conf_low": p.conf_low if p.conf_low is not None else p.estimate,
            "conf_high": p.conf_high if p.conf_high is not None else p.estimate,
            "stratum": p.stratum or "all participants",
            "source": "published" if p.source == "published" else f"published ({p.source})",
        }
        for p in published_values(spec)
        if p.analysis in set(data["analysis"]) and p.term is not None
    ]
    if published:
        extra = pl.DataFrame(published).with_columns(pl.col("panel").cast(data["panel"].dtype))
        data = pl.concat([data, extra], how="diagonal_relaxed")
    scales = set(data["scale"].drop_nulls().to_list())
    ratio_scale = scales <= set(RATIO_SCALES)
    dodge = position_dodge(width=0.6)
    data = data.with_columns(
        term=pl.col("term").map_elements(
            lambda t: "\n".join(textwrap.wrap(t, 24)), return_dtype=pl.String
        )
    )
    frame = plot_data(data)
    order = list(dict.fromkeys(frame["term"]))[::-1]  # flipped: the first ends on top
    frame["term"] = pd.Categorical(frame["term"], categories=order, ordered=True)
    everyone = ["all participants"] if "all participants" in set(frame["stratum"]) else []
    strata_order = list(dict.fromkeys([*everyone, *frame["stratum"]]))
    frame["stratum"] = pd.Categorical(frame["stratum"], categories=strata_order)
    if ratio_scale:
        axis = f"{' or '.join(sorted(scales))} (95% CI), log scale"
    else:
        outcomes = {
            outcome_words(a, words)
            for a in spec.analyses
            if isinstance(a, ModelAnalysis) and a.name in set(table["analysis"])
        }
        axis = f"difference in {' / '.join(sorted(outcomes))} (95% CI)"
    strata = data["stratum"].n_unique() > 1
    sources = data["source"].n_unique() > 1
    mapping = {"x": "term", "y": "estimate", "ymin": "conf_low", "ymax": "conf_high"}
    if strata:
        mapping["color"] = "stratum"
    if sources:
        mapping["shape"] = "source"
    if sources and not strata:  # ours and the published: colour and shape say which
        mapping["color"] = "source"
    # one group per series (stratum × source) instead of plotnine's default, one per row
    # (every discrete column, the term too): it draws group by group at ~13 ms each; within a
    # term the dodge orders the series as the default groups did (tests/test_figures.py)
    source = pd.Categorical(frame["source"])  # in sorted order, as plotnine orders text
    frame["series"] = frame["stratum"].cat.codes * len(source.categories) + source.codes
    mapping["group"] = "series"
    if strata or sources:
        point = geom_pointrange(position=dodge, size=0.4)
    else:  # one series: a legend would say nothing
        point = geom_pointrange(position=dodge, size=0.4, color=OURS)
    panels = data["panel"].n_unique()
    ncol = 1 if panels <= 3 else 2  # a few panels: each the full width, the legend beside
    plot = (
        ggplot(frame, aes(**mapping))
        + theme_bw()
        + geom_hline(yintercept=1.0 if ratio_scale else 0.0, linetype="dashed", color="grey")
        + point
        + facet_wrap("panel", scales="free", ncol=ncol)
        + coord_flip()
        + labs(y=axis, x="", color="", shape="")
    )
    legend_rows = 0
    if ncol == 2:  # two columns of panels: the legend below them keeps their width
        legend_rows = math.ceil(len(strata_order) / 2) if strata else 1
        plot = plot + theme(legend_position="bottom") + guides(color=guide_legend(ncol=2))
    if sources and not strata:
        plot += scale_color_manual(
            values={ours: OURS, **{s: "black" for s in set(data["source"]) if s != ours}}
        )
    if ratio_scale:
        plot = plot + scale_y_log10()
    # each row of panels as high as its panel with the most rows (terms × strata)
    rows_per_panel = (
        data.group_by("panel").agg(n=pl.col("term").n_unique() * pl.col("stratum").n_unique())
        .sort("panel")["n"].to_list()
    )  # fmt: skip
    height = (
        1.4
        + 0.3 * legend_rows
        + sum(
            0.9 + 0.22 * max(rows_per_panel[i : i + ncol])
            for i in range(0, len(rows_per_panel), ncol)
        )
    )
    return plot, min(max(height, 3.0), 16.0)
