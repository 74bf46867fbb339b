"""The gallery's figure: ours beside the published estimate, one row per target, by topic.

Reads the gallery's table (:func:`nhanes_mg.study.validation.run_validation`): everything is on the
published scale already (shares in %). Each topic is a panel with its own axis and unit; each
target a row, labelled by its id and population; the published value (black square, its 95%
interval when printed or derived from a printed SE) above ours (circle, 95% CI), coloured by
status (amber: *definition differs*, our n more than 2% from the source's). A target we could
not estimate shows the published value and says so.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import pandas as pd
import polars as pl
from plotnine import (
    aes,
    element_text,
    facet_wrap,
    geom_errorbarh,
    geom_point,
    geom_text,
    ggplot,
    guide_legend,
    guides,
    labs,
    position_nudge,
    scale_color_manual,
    scale_shape_manual,
    theme,
    theme_bw,
)

from nhanes_mg.figure_files import plot_data, save_png
from nhanes_mg.study.validation import rules

PUBLISHED = "published (bar: its 95% CI, or ± 1.96 SE)"
COLOURS = {
    PUBLISHED: "#000000",
    f"ours: {rules.WITHIN_CI}": "#176b2c",
    f"ours: {rules.WITHIN_2SE}": "#2b7bba",
    f"ours: {rules.OFF}": "#b00020",
    f"ours: {rules.DEFINITION_DIFFERS}": "#d08c00",
}
NOT_ESTIMATED_GREY = "#888888"
UNIT_WORDS = {"%": "%", "share": "share", "mg/day": "mg/day"}


def _panel(topic: str, unit: str) -> str:
    words = UNIT_WORDS.get(unit, unit)
    return f"{topic} ({words})" if words else topic


def _row_label(row: dict[str, object]) -> str:
    return f"{row['id']}  {row['label']}"


def validation_figure(table: pl.DataFrame, stamp: str = "") -> tuple[ggplot, float]:
    """The figure and its height in inches."""
    rows = list(table.sort("id").iter_rows(named=True))
    points: list[dict[str, object]] = []
    notes: list[dict[str, object]] = []
    for r in rows:
        panel = _panel(str(r["topic"]), str(r["unit"] or ""))
        label = _row_label(r)
        low, high = r["published_low"], r["published_high"]
        points.append(
            {
                "panel": panel,
                "target": label,
                "value": r["published"],
                "low": low if low is not None else r["published"],
                "high": high if high is not None else r["published"],
                "what": PUBLISHED,
            }
        )
        if r["ours"] is not None and math.isfinite(r["ours"]):
            points.append(
                {
                    "panel": panel,
                    "target": label,
                    "value": r["ours"],
                    "low": r["our_low"] if r["our_low"] is not None else r["ours"],
                    "high": r["our_high"] if r["our_high"] is not None else r["ours"],
                    "what": f"ours: {r['status']}",
                }
            )
        else:
            notes.append(
                {"panel": panel, "target": label, "value": r["published"], "text": "not estimated"}
            )
    frame = plot_data(points)
    # targets top to bottom in id order (the y axis counts upwards)
    order = [_row_label(r) for r in rows][::-1]
    frame["target"] = pd.Categorical(frame["target"], categories=order, ordered=True)
    nudge_ours, nudge_pub = -0.17, 0.17
    ours = frame[frame["what"] != PUBLISHED]
    pub = frame[frame["what"] == PUBLISHED]
    present = [k for k in COLOURS if k in set(frame["what"])]
    # one legend: colour and shape both say what a point is (published, or ours and its status)
    shapes = {k: ("s" if k == PUBLISHED else "o") for k in present}
    plot = (
        # grouped by what a point is, not plotnine's default (one group per target, each
        # drawn apart): the nudges do not depend on groups
        ggplot(frame, aes(x="value", y="target", color="what", shape="what", group="what"))
        + theme_bw()
        + geom_errorbarh(
            aes(xmin="low", xmax="high"), data=pub[pub["low"] < pub["high"]], height=0.18,
            position=position_nudge(y=nudge_pub),
        )
        + geom_point(data=pub, size=2.4, position=position_nudge(y=nudge_pub))
        + geom_errorbarh(
            aes(xmin="low", xmax="high"), data=ours, height=0.18,
            position=position_nudge(y=nudge_ours),
        )
        + geom_point(data=ours, size=2.4, position=position_nudge(y=nudge_ours))
        + facet_wrap("panel", scales="free", ncol=1)
        + scale_color_manual(values={k: COLOURS[k] for k in present}, breaks=present)
        + scale_shape_manual(values=shapes, breaks=present)
        + guides(color=guide_legend(ncol=2), shape=guide_legend(ncol=2))
        + labs(
            x="estimate and its 95% interval, on the published scale (unit in each panel's title)",
            y="",
            color=" ",
            shape=" ",
        )
        + theme(
            legend_position="bottom",
            strip_text=element_text(size=9, ha="left"),
            axis_text_y=element_text(size=8),
            plot_title=element_text(size=10),
        )
    )  # fmt: skip
    if notes:
        note = plot_data(notes)
        note["target"] = pd.Categorical(note["target"], categories=order, ordered=True)
        plot += geom_text(
            aes(x="value", y="target", label="text"),
            data=note,
            inherit_aes=False,
            size=7,
            color=NOT_ESTIMATED_GREY,
            ha="left",
            nudge_y=-0.2,
        )
    title = "Published NHANES estimates reproduced: ours beside the published value"
    title = "\n".join(textwrap.wrap(title, 90)) + (f"\n{stamp}" if stamp else "")
    n_panels = len({p["panel"] for p in points})
    height = max(4.0, 1.6 + 0.42 * len(rows) + 0.45 * n_panels)
    return plot + labs(title=title), height


def write_validation_figure(table: pl.DataFrame, path: Path, stamp: str = "") -> Path:
    """Write ``figures/validation.png`` (atomically); returns its path."""
    plot, height = validation_figure(table, stamp)
    plot = plot + theme(figure_size=(9, height))
    path.parent.mkdir(parents=True, exist_ok=True)

    save_png(plot, path)
    return path
