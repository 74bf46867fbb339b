"""Figure layouts of users' specifications, from small results made here (no mirror): usual
intake by domain, a share by race crude beside age-standardized, a ratio trend with the
claim's threshold in every panel of its quantity, and the published values of each statement
in a forest. The plots are read from their plotnine objects (data, mappings, layers)."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
from plotnine import geom_hline, geom_text, ggplot

from nhanes_mg.derive import registry
from nhanes_mg.report import figure_curves, figures
from nhanes_mg.study.results import SpecResult
from nhanes_mg.study.spec import parse_spec

from hand_results import rows

BASE: dict[str, Any] = {
    "title": "a user's question",
    "claim": "a claim",
    "source": "a unit test",
    "citation": "none",
    "cycles": "2015-2018",
    "population": "age >= 19",
    "model": "descriptive",
}
RAW_CODES = ("_", "nh white", "nh black", "mexican american", "usual_below_ear")


def _share(analysis: str, est: float, **more: Any) -> dict[str, Any]:
    return {"analysis": analysis, "role": "estimate", "estimate": est, "conf_low": est - 0.03,
            "conf_high": est + 0.03, "std_error": 0.015, "n": 2000, "scale": "proportion",
            **more}  # fmt: skip


def _data(plot: ggplot) -> pd.DataFrame:
    assert isinstance(plot.data, pd.DataFrame)
    return plot.data


def _layer_data(plot: ggplot, geom: type) -> list[pd.DataFrame]:
    out = []
    for layer in plot.layers:
        if isinstance(layer.geom, geom) and isinstance(layer.geom.data, pd.DataFrame):
            out.append(layer.geom.data)
    return out


def _texts(plot: ggplot) -> list[str]:
    """Axis and legend titles, panel titles, x labels: what a reader sees of the words."""
    texts = [str(v) for v in vars(plot.labels).values() if v]
    texts += [str(p) for p in _data(plot)["panel"].unique()]
    for scale in plot.scales:
        labels = getattr(scale, "labels", None)
        if isinstance(labels, (list, tuple)):
            texts += [str(t) for t in labels]
    return texts


def _no_raw_codes(plot: ggplot) -> None:
    for text in _texts(plot):
        assert not any(code in text for code in RAW_CODES), text


def test_usual_intake_by_domain_one_position_per_domain_and_intake() -> None:
    """Women vs men, 2015-2018 pooled: four points at four x positions, coloured by intake,
    the panel titled in words (the analysis has no label), not by its name."""
    spec = parse_spec({**BASE, "id": "UI", "analysis": [
        {"name": "below_ear_51_70", "statistic": "usual_below_ear", "variable": "mg",
         "basis": "food", "pool": True, "domains": [
             {"label": "women", "where": "sex = 'female'"},
             {"label": "men", "where": "sex = 'male'"}]},
    ]})  # fmt: skip
    table = rows(*(
        _share("below_ear_51_70", est, term=term, cycle="2015-2018", group=group)
        for group, term, est in (("women", "day 1", 0.54), ("women", "usual intake", 0.50),
                                 ("men", "day 1", 0.58), ("men", "usual intake", 0.55))
    ))  # fmt: skip
    plot = figures._usual(SpecResult(spec=spec, table=table), table)
    data = _data(plot)
    assert data.groupby(["domain", "intake"])["xpos"].nunique().eq(1).all()
    assert data["xpos"].nunique() == 4  # nobody drawn on top of another domain
    women = data[data["domain"] == "women"]["xpos"]
    men = data[data["domain"] == "men"]["xpos"]
    assert women.max() < men.min()  # each domain at its own place on the axis
    assert plot.mapping["color"] == "intake"
    assert plot.labels.x == "domain (2015–2018, pooled)"
    assert list(data["panel"].unique()) == ["Mg intake below the EAR, food: usual intake\nvs day 1"]
    _no_raw_codes(plot)


def test_usual_intake_by_cycle_and_domain_has_both_legends() -> None:
    spec = parse_spec({**BASE, "id": "UJ", "cycles": "2015-2018", "analysis": [
        {"name": "below", "label": "below the EAR", "statistic": "usual_below_ear",
         "variable": "mg", "domains": [{"label": "women", "where": "sex = 'female'"},
                                       {"label": "men", "where": "sex = 'male'"}]},
    ]})  # fmt: skip
    table = rows(*(
        _share("below", 0.5, term=term, cycle=cycle, group=group)
        for cycle in ("2015-2016", "2017-2018") for group in ("women", "men")
        for term in ("day 1", "usual intake")
    ))  # fmt: skip
    plot = figures._usual(SpecResult(spec=spec, table=table), table)
    data = _data(plot)
    assert data["xpos"].nunique() == 8
    assert (plot.mapping["color"], plot.mapping["shape"]) == ("domain", "intake")
    assert (plot.labels.color, plot.labels.shape) == ("domain", "intake")


def test_age_standardized_share_by_race_beside_the_crude() -> None:
    spec = parse_spec({**BASE, "id": "US", "analysis": [
        {"name": "vitd_below_50_by_race", "statistic": "proportion",
         "variable": "vitd_25oh_nmol < 50", "by": ["race_eth"], "age_standardize": "adult"},
    ]})  # fmt: skip
    given = []
    for i, level in enumerate(("mexican_american", "other_hispanic", "nh_white", "nh_black")):
        for role in ("estimate", "age-standardized"):
            given.append(
                _share("vitd_below_50_by_race", 0.2 + 0.1 * i, role=role, term=level, group=level)
            )
    table = rows(*given)
    plot = figures._groups(SpecResult(spec=spec, table=table), table)
    data = _data(plot)
    assert set(data["role"]) == {"estimate", "age-standardized"}  # standardized rows drawn
    assert data["xpos"].nunique() == 8  # crude and standardized side by side in each group
    assert plot.mapping["color"] == "estimate_kind" and plot.labels.color == "estimate"
    assert next(iter(data["estimate_kind"].cat.categories)) == "crude"
    words = registry.level_labels()["race_eth"]
    assert set(data["first"]) == {words[c] for c in ("mexican_american", "other_hispanic",
                                                     "nh_white", "nh_black")}  # fmt: skip
    assert plot.labels.x == "race and Hispanic origin"
    assert data["estimate"].max() == 50.0  # shares as %
    assert plot.labels.y == "% (95% CI)"
    _no_raw_codes(plot)


def test_one_series_has_no_legend() -> None:
    spec = parse_spec({**BASE, "id": "UK", "analysis": [
        {"name": "by_sex", "statistic": "proportion", "variable": "vitd_25oh_nmol < 50",
         "by": ["sex"]},
    ]})  # fmt: skip
    table = rows(*(_share("by_sex", 0.3, term=s, group=s) for s in ("male", "female")))
    plot = figures._groups(SpecResult(spec=spec, table=table), table)
    assert "color" not in plot.mapping and "shape" not in plot.mapping


RATIO_SPEC: dict[str, Any] = {
    **BASE, "id": "UR", "cycles": "2015-2018", "analysis": [
        {"name": "ratio_food", "label": "Ca:Mg, ratio of mean intakes", "statistic": "ratio",
         "variable": "ca_food_d1", "denominator": "mg_food_d1", "by": ["cycle"]},
        {"name": "mean_ratio", "label": "mean of individual Ca:Mg", "statistic": "mean",
         "variable": "CASE WHEN mg_food_d1 > 0 THEN ca_food_d1 / mg_food_d1 END",
         "by": ["cycle"]},
        {"name": "share_above", "label": "share with Ca:Mg > 2.8", "statistic": "proportion",
         "variable": "ca_food_d1 > 2.8 * mg_food_d1", "by": ["cycle"]},
    ],
    "reference": {"text": "Rosanoff 2010: above 3.0", "points": [
        {"label": "Rosanoff 2010: 1977, range", "year": 1977.0, "low": 2.3, "high": 2.9}]},
    "verdict": {"rule": "threshold", "direction": "above", "value": 2.8,
                "analysis": "ratio_food", "cycle": "2017-2018"},
}  # fmt: skip


def _ratio_result() -> SpecResult:
    spec = parse_spec(RATIO_SPEC)
    given = []
    for cycle in ("2015-2016", "2017-2018"):
        for name, est, scale in (("ratio_food", 3.1, "ratio"), ("mean_ratio", 3.3, "mean"),
                                 ("share_above", 0.55, "proportion")):  # fmt: skip
            given.append({**_share(name, est, cycle=cycle, term=cycle), "scale": scale})
    return SpecResult(spec=spec, table=rows(*given))


def test_the_threshold_is_drawn_and_labelled_in_every_panel_of_its_quantity() -> None:
    result = _ratio_result()
    plot = figures._trend(result, result.table)
    (lines,) = _layer_data(plot, geom_hline)
    panels = set(_data(plot)["panel"])
    ratio_panels = {p for p in panels if "share" not in p}
    assert set(lines["panel"]) == ratio_panels and len(ratio_panels) == 2  # not the share
    assert set(lines["value"]) == {2.8}
    texts = [t for t in _layer_data(plot, geom_text) if "text" in t]
    assert set(texts[0]["text"]) == {"claim: above 2.8"}
    assert any(p.endswith("(%)") for p in panels)  # the share panel carries its unit


def test_wide_trend_axis_labels_do_not_crowd() -> None:
    """A panel reaching back to 1977: every other cycle, none within 3 years of a published
    year; a panel of cycles only: every cycle."""
    cycles = {2001.0 + 2 * i + 1: f"c{i}" for i in range(9)}  # 2002, 2004, … 2018
    breaks = figures._year_breaks(cycles, {1977.0, 1994.0, 2008.0})
    wide = breaks((1975.0, 2019.0))
    assert min(b - a for a, b in itertools.pairwise(wide)) > 3
    assert {1977.0, 1994.0, 2008.0} <= set(wide)
    assert breaks((2001.0, 2019.0)) == sorted(cycles)


def test_every_statements_published_value_is_drawn_in_the_claims_panel_order() -> None:
    """Two statements (deficiency, insufficiency), each with its published OR: both drawn,
    once each in the legend, the claim's verdict analysis first whatever the names' order."""
    common = {"exposure": "mg_total", "exposure_type": "quantiles", "quantiles": 4,
              "covariates": ["age"]}  # fmt: skip
    spec = parse_spec({**BASE, "id": "UF", "model": "logistic", "analysis": [
        {"name": "b_insufficiency", "outcome": "vitd_25oh_nmol < 50", **common},
        {"name": "a_deficiency", "outcome": "vitd_25oh_nmol < 30", **common},
    ], "statement": [
        {"name": "deficiency", "text": "less deficiency", "analyses": ["a_deficiency"],
         "reference": {"text": "Deng 2013: OR 0.34", "estimate": 0.34, "conf_low": 0.21,
                       "conf_high": 0.56},
         "verdict": {"rule": "effect", "direction": "below", "analysis": "b_insufficiency",
                     "term": "Q4"}},
        {"name": "insufficiency", "text": "less insufficiency", "analyses": ["a_deficiency"],
         "reference": {"text": "Deng 2013: OR 0.62", "estimate": 0.62, "conf_low": 0.46,
                       "conf_high": 0.82},
         "verdict": {"rule": "effect", "direction": "below", "analysis": "a_deficiency",
                     "term": "Q4"}},
    ]})  # fmt: skip
    given: list[dict[str, Any]] = []
    for name in ("b_insufficiency", "a_deficiency"):
        given.append({"analysis": name, "role": "reference", "term": "Q1", "estimate": 1.0,
                      "scale": "odds ratio"})  # fmt: skip
        for term in ("Q2", "Q3", "Q4"):
            given.append({"analysis": name, "role": "estimate", "term": term, "estimate": 0.7,
                          "conf_low": 0.5, "conf_high": 0.9, "scale": "odds ratio"})  # fmt: skip
    result = SpecResult(spec=spec, table=rows(*given))
    plot, height = figures._forest(result, result.table)
    data = _data(plot)
    published = data[data["source"] != "NHANES (ours)"]
    assert sorted(published["estimate"]) == [0.34, 0.62]
    assert set(published["source"]) == {"published (Deng 2013)"}  # one legend entry
    assert next(iter(data["panel"].cat.categories)).startswith(
        "serum 25(OH)D < 50"
    )  # verdict first
    assert 3.0 <= height <= 16.0


def test_survival_categories_carry_their_range_and_unit() -> None:
    assert figure_curves.category_label("≤ 50", "≤ 50", "nmol/L") == "≤ 50 nmol/L"
    assert figure_curves.category_label("50–75", "50–75 nmol/L", "nmol/L") == "50–75 nmol/L"
    assert (
        figure_curves.category_label("Q2", "48.8–64.1 nmol/L", "nmol/L") == "Q2 (48.8–64.1 nmol/L)"
    )
