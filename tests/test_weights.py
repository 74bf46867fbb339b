"""The weight rule: the weight of the smallest subsample among the variables analysed."""

from __future__ import annotations

import pytest

from nhanes_mg.derive.dictionary import DERIVED_FROM, VARIABLES
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.weights import choose_weight, subsample_of


@pytest.mark.parametrize(
    ("variable", "subsample"),
    [
        ("age", "interview"),
        ("supp_user", "interview"),
        ("mg_supp", "interview"),  # the 30-day questionnaire is asked at home
        ("vitd_25oh_nmol", "exam"),
        ("bmi", "exam"),
        ("diabetes", "exam"),  # HbA1c is part of it
        ("mg_food_d1", "diet1"),
        ("recall_ok_d1", "diet1"),
        ("mg_food", "diet2"),  # the mean of both recall days
        ("mg_total", "diet2"),  # inherited through DERIVED_FROM
        ("ca_mg_ratio_total", "diet2"),
        ("mg_total_d1", "diet1"),
        ("mg_ear", "interview"),
        ("mort_status", "interview"),
    ],
)
def test_subsample_of(variable: str, subsample: str) -> None:
    assert subsample_of(variable) == subsample


def test_every_derived_variable_has_a_lineage() -> None:
    names = {v.name for v in VARIABLES}
    assert set(DERIVED_FROM) <= names
    for parents in DERIVED_FROM.values():
        assert set(parents) <= names


def test_two_day_exposure_needs_the_two_day_weight() -> None:
    choice = choose_weight(["vitd_25oh_nmol < 30", "mg_total", "kcal", "age >= 20"])
    assert choice.weight == "wt_diet2" and "WTDR2D" in choice.reason
    assert "total magnesium intake" in choice.reason  # the column that set it, in words


def test_day_one_exposure_with_lab_outcome_takes_the_day_one_weight() -> None:
    choice = choose_weight(["vitd_25oh_nmol < 30", "mg_food_d1 + mg_supp", "recall_ok_d1"])
    assert choice.weight == "wt_diet1"


def test_interview_only_takes_the_interview_weight() -> None:
    choice = choose_weight(["supp_user", "age >= 20", "sex = 'female'"])
    assert choice.weight == "wt_int" and choice.subsample == "interview"
    assert "WTINT2YR" in choice.reason
    # one exam variable moves it to the MEC weight (the smaller subsample)
    assert choose_weight(["supp_user", "age >= 20", "bmi >= 30"]).weight == "wt_mec"


def test_exam_only_takes_the_mec_weight() -> None:
    assert choose_weight(["vitd_25oh_nmol < 50", "age >= 20", "bmi"]).weight == "wt_mec"


def test_an_explicit_weight_wins_and_says_what_the_rule_would_give() -> None:
    choice = choose_weight(["mg_total"], explicit="wt_diet1")
    assert choice.weight == "wt_diet1" and choice.explicit
    assert "set by the specification" in choice.reason and "WTDR2D" in choice.reason


def test_variables_of_expressions() -> None:
    got = variables_of(["CASE WHEN mg_total >= 300 THEN 'a' END", None, "age >= 20 AND sex = 'm'"])
    assert got == ["mg_total", "age", "sex"]
