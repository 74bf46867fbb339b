"""The compiled plan (study/plan.py): what it says is what ``run`` does — the cycles kept and
left out, the weight and the error of every analysis of every shipped specification agree with
the fit the run records — and it is printed in words."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.expressions import condition
from nhanes_mg.study.declared import with_expressions
from nhanes_mg.study.plan import Schema, compile
from nhanes_mg.study.spec import load_shipped_specs
from run_support import ShippedResult

SPECS = {s.id: s for s in load_shipped_specs()}


@pytest.mark.mirror
@pytest.mark.parametrize("spec_id", sorted(SPECS))
def test_the_plan_is_what_runs(
    spec_id: str, analytic_frame: pl.DataFrame, shipped_result: ShippedResult
) -> None:
    frame = with_expressions(analytic_frame, SPECS[spec_id])  # as run_spec: C3's log intake
    plan = compile(SPECS[spec_id], Schema.of(frame))
    result = shipped_result(spec_id)
    assert len(plan.analyses) == len(result.fits)
    for item, fit in zip(plan.analyses, result.fits, strict=True):
        assert (item.analysis.name, item.analysis.sensitivity) == (fit.analysis, fit.sensitivity)
        assert item.description == fit.description
        if item.error is not None:
            assert fit.error == str(item.error)
            continue
        assert item.dropped == fit.dropped, item.name
        if fit.error is None:  # estimated: on the plan's cycles, with the plan's weight
            assert item.kept == fit.cycles, item.name
            assert item.weight.weight == fit.weight
            assert fit.weight_reason.startswith(item.weight.reason)


def test_populations_are_parsed_conditions_not_text() -> None:
    spec = SPECS["C4"]
    plan = compile(spec, None)
    item = next(i for i in plan.analyses if i.analysis.population)
    spec_pop, own = item.populations
    assert spec_pop is condition(spec.population)  # the one parse of that text
    assert own is condition(item.analysis.population or "")
    assert item.population is not None
    assert item.population.clauses == spec_pop.clauses + own.clauses


def test_plan_in_words_without_data() -> None:
    plan = compile(SPECS["C4"], None)
    assert not plan.checked
    text = plan.text()
    first = plan.analyses[0]
    assert f"population: {' AND '.join(first.populations[0].clauses)}" in text
    assert "checked against the data at run time" in text
    assert "weight: WTDR2D — both dietary recall days (total magnesium intake) → WTDR2D" in text
    # the joint model in words: the exposure's term, the modifier, their product
    assert "total Mg intake, per 100 mg/day × vitd_total >= 10" in text
    assert "_e0" not in text and "_y" not in text  # no internal column names
    assert "judged by statement 'a'" in text


def test_model_columns_of_each_coding() -> None:
    c3 = compile(SPECS["C3"], None).analyses[0].model
    assert c3 is not None and c3.coding == "quantiles"
    assert dict(c3.columns) == {"_e1": "Q2", "_e2": "Q3", "_e3": "Q4"} and c3.reference == "Q1"
    assert c3.trend is not None and c3.trend.columns[0] == "_trend"
    c4 = compile(SPECS["C4"], None).analyses[0].model
    assert c4 is not None and c4.joint is not None
    assert c4.joint.columns[:3] == ("_e0", "_mod", "_e0_m")
    c5 = compile(SPECS["C5"], None).analyses[0].model
    assert c5 is not None and c5.terms.time == "_time"


def test_schema_reads_measured_columns_and_positive_weights() -> None:
    frame = pl.DataFrame(
        {
            "cycle": ["2001-2002", "2001-2002", "2003-2004"],
            "wt_diet2": [0.0, None, 3.0],
            "mg_total": [None, None, 300.0],
        }
    )
    schema = Schema.of(frame)
    assert schema.measured["2001-2002"] == {"wt_diet2"}  # a 0 weight is a value …
    assert schema.weighted["2001-2002"] == frozenset()  # … but not a positive one
    assert schema.measured["2003-2004"] == {"wt_diet2", "mg_total"}
