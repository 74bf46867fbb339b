"""E-values, checked against the worked examples of VanderWeele & Ding (2017) and R's EValue."""

from __future__ import annotations

import math

import pytest

from nhanes_mg.study.evalues import as_risk_ratio, e_value, evalues


def test_the_formula_and_its_symmetry() -> None:
    assert e_value(0.80) == pytest.approx(1 / 0.8 + math.sqrt(1 / 0.8 * (1 / 0.8 - 1)))
    assert e_value(1.25) == pytest.approx(e_value(0.80))
    assert e_value(1.0) == 1.0
    with pytest.raises(ValueError):
        e_value(0.0)


def test_the_limit_nearer_the_null() -> None:
    ev = evalues(0.80, 0.71, 0.91, "odds ratio", outcome_share=0.01)  # rare: OR as RR
    assert ev.estimate == pytest.approx(e_value(0.80))
    assert ev.limit == pytest.approx(e_value(0.91))
    assert not ev.common
    assert evalues(1.3, 0.9, 1.8, "odds ratio", 0.01).limit == 1.0  # interval holds the null


def test_common_outcomes_are_converted() -> None:
    assert as_risk_ratio(4.0, "odds ratio", common=True) == pytest.approx(2.0)
    hr = 0.56
    expected = (1 - 0.5 ** math.sqrt(hr)) / (1 - 0.5 ** math.sqrt(1 / hr))
    assert as_risk_ratio(hr, "hazard ratio", common=True) == pytest.approx(expected)
    assert as_risk_ratio(hr, "hazard ratio", common=False) == hr
    ev = evalues(0.56, 0.46, 0.69, "hazard ratio", outcome_share=0.4)
    assert ev.common and ev.estimate == pytest.approx(e_value(expected))
