"""Which sample weight an analysis needs: the weight of the smallest subsample it uses (NCHS).

NHANES samples nest: everyone interviewed ⊃ examined in the MEC ⊃ a reliable day-1 dietary
recall ⊃ reliable recalls on both days. NCHS's rule is to use the weight of the smallest
subsample among the variables analysed: ``wt_int`` (WTINT2YR) when every variable comes from
the household interview (supplement use, diagnosed diabetes, age …), ``wt_mec`` (WTMEC2YR) once
an exam or laboratory variable is used, ``wt_diet1`` (WTDRD1) once a day-1 recall is, ``wt_diet2``
(WTDR2D) once both recall days are (a two-day mean intake, for instance).

Each variable's subsample comes from its lineage (:func:`nhanes_mg.derive.lineage.subsample_of`: the
tables it is read from and their subsamples); nothing here lists variables again.

Examples
--------
>>> subsample_of("mg_total"), subsample_of("mg_food_d1"), subsample_of("vitd_25oh_nmol")
('diet2', 'diet1', 'exam')
>>> choice = choose_weight(["vitd_25oh_nmol < 30", "mg_food_d1 + mg_supp", "age >= 20"])
>>> choice.weight, choice.reason
('wt_diet1', 'day-1 dietary recall (magnesium from food, day 1) → WTDRD1')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from nhanes_mg.data import catalog
from nhanes_mg.derive.lineage import subsample_of
from nhanes_mg.expressions import variables_of
from nhanes_mg.study.words import column_words

WEIGHT_OF_SUBSAMPLE: dict[str, str] = {
    "interview": "wt_int",
    "exam": "wt_mec",
    "diet1": "wt_diet1",
    "diet2": "wt_diet2",
}
CDC_NAME = {"wt_int": "WTINT2YR", "wt_mec": "WTMEC2YR", "wt_diet1": "WTDRD1", "wt_diet2": "WTDR2D"}
_WORDS = {
    "interview": "household interview only",
    "exam": "MEC exam or laboratory",
    "diet1": "day-1 dietary recall",
    "diet2": "both dietary recall days",
}


@dataclass(frozen=True)
class WeightChoice:
    """The weight an analysis uses, and why (for the report)."""

    weight: str
    subsample: str
    reason: str
    explicit: bool = False


def choose_weight(
    expressions: Iterable[str | None],
    explicit: str = "auto",
    declared: Mapping[str, str] | None = None,
) -> WeightChoice:
    """The weight for an analysis using these expressions (or ``explicit`` when not "auto").

    ``declared`` gives the subsample of a specification's own variables
    (:func:`nhanes_mg.study.declared.subsamples`). The reason names the variable that set the
    subsample, as the report prints it.
    """
    variables = variables_of(expressions)
    rank = catalog.SUBSAMPLES.index
    sub, why_var = "interview", ""
    for v in variables:
        s = declared[v] if declared and v in declared else subsample_of(v)
        if rank(s) > rank(sub):
            sub, why_var = s, v
    weight = WEIGHT_OF_SUBSAMPLE[sub]
    words = _WORDS[sub] + (f" ({column_words(why_var)})" if why_var else "")
    if explicit != "auto":
        note = "" if explicit == weight else f"; the rule would give {CDC_NAME[weight]} for {words}"
        return WeightChoice(explicit, sub, f"set by the specification{note}", explicit=True)
    return WeightChoice(weight, sub, f"{words} → {CDC_NAME[weight]}")
