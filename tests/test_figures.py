"""The figures of small fixed results (tests/hand_results.py): which files, PNG, and what the
plots say — panel titles and axes in words (never a column name), shares as %, thresholds and
published estimates where they belong. The plots are read from their plotnine objects, not
from pixels."""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path

import pandas as pd
import polars as pl
import pytest
from plotnine import aes, geom_hline, ggplot

from nhanes_mg.report import figure_curves, figures
from nhanes_mg.report.figure_plan import figure_plan, figure_shares
from nhanes_mg.study.results import SpecResult
from nhanes_mg.study.spec import parse_spec

from hand_results import COLUMN_NAMES, FOREST_SPEC, forest_result, share_result

PNG = b"\x89PNG\r\n\x1a\n"
SNAKE = re.compile(r"\b_?[a-z0-9]+_[a-z0-9_]+\b")  # mg_total, share_below_ear, _x


@pytest.fixture(scope="module")
def share() -> SpecResult:
    return share_result()


@pytest.fixture(scope="module")
def forest() -> SpecResult:
    return forest_result()


def _main(result: SpecResult, analysis: str) -> pl.DataFrame:
    return result.table.filter(pl.col("sensitivity").is_null() & (pl.col("analysis") == analysis))


def _data(plot: ggplot) -> pd.DataFrame:
    """What the plot draws (plotnine keeps pandas)."""
    assert isinstance(plot.data, pd.DataFrame)
    return plot.data


def _words(plot: ggplot) -> list[str]:
    """Every text a reader sees that the plot is given: axis and legend titles, panel titles."""
    texts = [str(v) for v in vars(plot.labels).values() if v is not None]
    if "panel" in _data(plot):
        texts += [str(p) for p in _data(plot)["panel"].unique()]
    return texts


def _no_column_names(plot: ggplot) -> None:
    _no_column_names_in(_words(plot))


def _no_column_names_in(texts: list[str]) -> None:
    for text in texts:
        assert not SNAKE.search(text), text
        assert not any(name in text for name in COLUMN_NAMES), text


def _hlines(plot: ggplot) -> list[float]:
    """The y values of the plot's horizontal reference lines (each a layer with its data)."""
    values: list[float] = []
    for layer in plot.layers:
        if isinstance(layer.geom, geom_hline):
            column = layer.mapping["yintercept"]
            data = layer.geom.data
            assert isinstance(data, pd.DataFrame)
            values += [float(v) for v in data[column]]
    return values


def test_write_figures_writes_one_png_per_kind_main_first(
    tmp_path: Path, share: SpecResult, forest: SpecResult
) -> None:
    paths = figures.write_figures(share, tmp_path / "figures")
    assert [p.name for p in paths] == ["T1.png", "T1_groups.png", "T1_curve.png"]
    paths += figures.write_figures(forest, tmp_path / "figures")
    assert [p.name for p in paths[3:]] == ["T3.png", "T3_curve.png"]
    for path in paths:
        assert path.read_bytes()[:8] == PNG, path
    # written atomically: nothing else is left in the folder
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(p.name for p in paths)


def test_two_shares_draw_every_figure_once(tmp_path: Path, share: SpecResult) -> None:
    """Two workers drawing their shares of a claim's figures draw each figure once, the
    same bytes as one process drawing them all."""
    whole = figures.write_figures(share, tmp_path / "whole")
    drawn = []
    for k in (0, 1):
        folder = tmp_path / f"share{k}"
        assert [p.name for p in figures.write_figures(share, folder, share=(k, 2))] == [
            p.name for p in whole
        ]  # every path named, whichever share draws it
        drawn += sorted(p.name for p in folder.iterdir())
    assert sorted(drawn) == sorted(p.name for p in whole)  # each drawn once
    for p in whole:
        k = figure_shares(figure_plan(share), 2)[[q.name for q in whole].index(p.name)]
        assert (tmp_path / f"share{k}" / p.name).read_bytes() == p.read_bytes()


def test_no_main_rows_no_figure(tmp_path: Path, share: SpecResult) -> None:
    only_sensitivity = SpecResult(
        spec=share.spec, table=share.table.filter(pl.col("sensitivity").is_not_null())
    )
    assert figures.write_figures(only_sensitivity, tmp_path / "figures") == []


def test_trend_of_a_share_in_percent_with_the_threshold(share: SpecResult) -> None:
    plot = figures._trend(share, _main(share, "share_below_ear"))
    _no_column_names(plot)
    assert plot.labels.x == "survey cycle" and plot.labels.y == "% (95% CI)"
    data = _data(plot).set_index("cycle")
    assert data.loc["2017-2018", "estimate"] == pytest.approx(54.7)
    assert data.loc["2017-2018", "conf_low"] == pytest.approx(51.2)
    assert set(data["panel"]) == {"share below the EAR, food"}
    assert len(data) == 2  # the estimates only, not the trend row
    assert _hlines(plot) == [pytest.approx(50.0)]  # the claim's 50 %, as %


def test_groups_panel_is_titled_by_its_label(share: SpecResult) -> None:
    plot = figures._groups(share, _main(share, "share_below_ear_by_sex"))
    _no_column_names(plot)
    data = _data(plot)
    assert set(data["first"]) == {"Male", "Female"}  # the registry's words
    assert data["estimate"].max() == pytest.approx(59.0)
    assert plot.labels.y == "% (95% CI)"


def test_forest_of_odds_ratios_with_the_published_estimate(forest: SpecResult) -> None:
    table = forest.table.filter(pl.col("sensitivity").is_null())
    plot, _ = figures._forest(forest, table)
    _no_column_names(plot)
    # one stratum: colour says ours vs published (no "all participants" legend of one entry)
    assert plot.mapping["color"] == "source" and plot.mapping["shape"] == "source"
    assert plot.labels.y == "odds ratio (95% CI), log scale"
    data = _data(plot)
    assert set(data["panel"]) == {
        "25(OH)D < 30 nmol/L by quartiles of total Mg\nintake (crude)",
        "25(OH)D < 30 nmol/L by quartiles of total Mg\nintake (adjusted)",
    }
    assert "P for trend" not in set(data["term"])  # a P value is not a point
    # the reference category: a point at 1 with no interval
    q1 = data[data["term"] == "Q1"]
    assert (q1["estimate"] == 1.0).all() and (q1["conf_low"] == q1["conf_high"]).all()
    published = data[data["source"] == "published"]
    assert len(published) == 1
    row = published.iloc[0]
    shown = (row["term"], row["estimate"], row["conf_low"], row["conf_high"])
    assert shown == ("Q4", 0.34, 0.21, 0.56)
    assert row["panel"].endswith("(adjusted)")  # beside the estimate the verdict reads
    assert _hlines(plot) == [1.0]  # no effect on the ratio scale
    assert any(type(s).__name__ == "scale_y_log10" for s in plot.scales)


def _drawn(plot: ggplot) -> list[pd.DataFrame]:
    """Each layer's data as plotnine draws it (positions dodged), rows in a fixed order,
    without the group ids."""
    import matplotlib.pyplot as plt

    built = copy.deepcopy(plot)
    plt.close(built.draw())
    frames = [layer.data.drop(columns="group") for layer in built.layers]
    order = ["PANEL", "x", "y", "yintercept"]
    return [
        f.sort_values([c for c in order if c in f.columns]).reset_index(drop=True) for f in frames
    ]


def _default_groups(plot: ggplot) -> ggplot:
    """The plot with plotnine's own groups (every discrete column: one per row here)."""
    default = copy.deepcopy(plot)
    default.mapping = aes(**{k: v for k, v in plot.mapping.items() if k != "group"})
    return default


def test_forest_series_groups_draw_where_plotnines_default_groups_do(
    forest: SpecResult,
) -> None:
    """The forest groups its rows by series (stratum × source), since plotnine draws group by
    group: the dodged positions within each term are those of its default groups."""
    table = forest.table.filter(pl.col("sensitivity").is_null())
    women = table.with_columns(
        stratum=pl.lit("women"), estimate=pl.col("estimate") * 1.1
    )  # a second stratum: ours dodged three ways beside the published
    plot, _ = figures._forest(forest, pl.concat([table, women], how="diagonal_relaxed"))
    assert plot.mapping["group"] == "series"
    assert _data(plot)["series"].nunique() == 3
    for mine, default in zip(_drawn(plot), _drawn(_default_groups(plot)), strict=True):
        pd.testing.assert_frame_equal(mine, default)
    (verdict,) = forest.verdicts
    curve = figure_curves.curve(forest, verdict)
    assert curve is not None and curve.mapping["group"] == "verdict"
    for mine, default in zip(_drawn(curve), _drawn(_default_groups(curve)), strict=True):
        pd.testing.assert_frame_equal(mine, default)


def test_curve_is_sorted_coloured_by_verdict_with_each_rows_published_value(
    forest: SpecResult,
) -> None:
    (verdict,) = forest.verdicts
    plot = figure_curves.curve(forest, verdict)
    assert plot is not None
    _no_column_names(plot)
    data = _data(plot)
    assert list(data["variant"].cat.categories) == [
        "▶ main analysis",
        "supplement non-users",
        "two-day mean intakes",
    ]  # fmt: skip  (sorted by estimate, the main one marked)
    assert list(data["verdict"]) == ["consistent", "consistent", "not reproduced"]
    # each row's own comparator: supplement non-users are another population, held against none
    published = list(data["published"])
    assert published[0] == published[2] == 0.34 and math.isnan(published[1])
    assert plot.labels.y.replace("\n", " ").startswith(
        "odds ratio (95% CI, log scale); dashed: no effect; ◇ the published estimate the row is "
        "compared with. Estimates 0.40 to 0.90 across 3 analyses"
    )
    assert _hlines(plot) == [1.0]


def test_curve_of_a_share_in_percent(share: SpecResult) -> None:
    (verdict,) = share.verdicts
    plot = figure_curves.curve(share, verdict)
    assert plot is not None
    _no_column_names(plot)
    assert list(_data(plot)["estimate"]) == [pytest.approx(54.7), pytest.approx(60.0)]
    assert plot.labels.y.startswith("share (95% CI, %); dashed: the claim's threshold 50%")
    assert _hlines(plot) == [pytest.approx(50.0)]


def test_an_unlabelled_analysis_reads_in_the_registry_words() -> None:
    """Without labels a panel, term and axis fall back to the registry's labels and units of
    the outcome and exposure columns, never to the columns themselves."""
    raw = {**FOREST_SPEC, "analysis": [
        {k: v for k, v in a.items() if not k.endswith("_label")} for a in FOREST_SPEC["analysis"]
    ]}  # fmt: skip
    result = forest_result()
    bare = SpecResult(spec=parse_spec(raw), table=result.table, fits=result.fits)
    plot, _ = figures._forest(bare, bare.table.filter(pl.col("sensitivity").is_null()))
    _no_column_names(plot)
    panels = set(_data(plot)["panel"])
    assert "serum 25(OH)D < 30 nmol/L by quartiles of\ntotal magnesium intake (adjusted)" in panels


def test_the_column_name_check_is_not_vacuous() -> None:
    """The check above catches a column name and an analysis name where a reader would see it."""
    with pytest.raises(AssertionError, match="mg_total"):
        _no_column_names_in(["by mg_total"])
    with pytest.raises(AssertionError, match="deficiency_crude"):
        _no_column_names_in(["deficiency_crude"])
