"""The words a figure prints: panel titles, axis and legend labels, group names and units.

Nothing a reader sees in a figure is a column name, an SQL fragment or a raw code: a column
is written with its label from the variable registry (or the specification's declared
variables), a condition with its labels, symbols and unit (``vitd_25oh_nmol < 50`` →
``serum 25(OH)D < 50 nmol/L``), a category code with its words (``nh_black`` →
``non-Hispanic Black``).

>>> expression_words("vitd_25oh_nmol < 50 AND NOT supp_user")
'serum 25(OH)D < 50 nmol/L and not supplement use, past 30 days'
>>> level_words("nh_white"), level_words("lt_high_school"), level_words("female")
('Non-Hispanic White', 'Less than high school', 'Female')
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from functools import cache

from nhanes_mg.derive import registry
from nhanes_mg.study.spec_types import (
    Analysis,
    DescriptiveAnalysis,
    ModelAnalysis,
    Spec,
    UsualIntakeAnalysis,
)
from nhanes_mg.study.words import in_sentence

Words = Mapping[str, tuple[str, str]]  # column → (label, unit)

NUTRIENT_WORDS = {"mg": "Mg", "ca": "Ca"}
BASIS_WORDS = {"food": "food", "food+supplements": "food + supplements"}
USUAL_WORDS = {
    "usual_below_ear": "below the EAR",
    "usual_below_rda": "below the RDA",
    "usual_mean": "mean usual intake",
}
_SYMBOLS = ((">=", "≥"), ("<=", "≤"), ("<>", "≠"), ("!=", "≠"))
_KEYWORDS = {"AND": "and", "OR": "or", "NOT": "not", "IS": "is", "NULL": "missing"}
_UNKNOWN_AS_FALSE = re.compile(r"(?i)coalesce\(\s*([A-Za-z_]\w*)\s*,\s*false\s*\)")
_TOKEN = re.compile(r"'[^']*'|[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|>=|<=|<>|!=|\S")


@cache
def registry_words() -> dict[str, tuple[str, str]]:
    """Every registry column's (label, unit), the label as it reads inside a sentence."""
    labels, units = registry.labels(), registry.units()
    return {name: (in_sentence(labels[name]), units.get(name, "")) for name in labels}


def spec_words(spec: Spec) -> dict[str, tuple[str, str]]:
    """The registry's words with the specification's declared variables over them."""
    own = {
        v.name: (v.label or v.name.replace("_", " "), v.unit)
        for v in spec.variables  # a declared variable without a label still reads as words
    }
    return {**registry_words(), **own}


def column_words(name: str, words: Words | None = None) -> tuple[str, str]:
    """A column's (label, unit); an unknown name with its underscores as spaces."""
    table = registry_words() if words is None else words
    return table.get(name, (name.replace("_", " "), ""))


def level_words(value: object) -> str:
    """A category value as words: the registry's (declared beside the levels), else the value
    with spaces for underscores."""
    text = registry.level_words(value)
    return text if text != str(value) else text.replace("_", " ")


def expression_words(text: str, words: Words | None = None) -> str:
    """An SQL expression in words: columns by their labels, a number compared with a column
    followed by that column's unit, operators as symbols, keywords in lower case."""
    table = registry_words() if words is None else words
    text = _UNKNOWN_AS_FALSE.sub(r"\1", text)  # "coalesce(pregnant, false)": pregnant
    out: list[str] = []
    unit = ""  # the unit of the last column, for the number compared with it
    for token in _TOKEN.findall(text):
        if token in table:
            label, unit = table[token]
            out.append(label)
        elif token.upper() in _KEYWORDS:
            out.append(_KEYWORDS[token.upper()])
        elif token[0].isdigit() and unit and out and out[-1] in "<>=≥≤≠":
            out.append(f"{token} {unit}")
            unit = ""
        elif token.startswith("'"):
            out.append(level_words(token.strip("'")))
        else:
            out.append(dict(_SYMBOLS).get(token, token.replace("_", " ")))
    joined = " ".join(out)
    return re.sub(r"\( | \)", lambda m: m.group(0).strip(), joined)


def exposure_words(analysis: ModelAnalysis, words: Words | None = None) -> tuple[str, str]:
    """A model's exposure: (label, unit), from the analysis, else from its column."""
    label, unit = column_words(analysis.exposure, words)
    if analysis.exposure not in (words or registry_words()):
        label = expression_words(analysis.exposure, words)
    return analysis.exposure_label or label, analysis.exposure_unit or unit


def outcome_words(analysis: ModelAnalysis, words: Words | None = None) -> str:
    """A model's outcome in words (its label, else its expression with labels and unit)."""
    if analysis.outcome_label:
        return analysis.outcome_label
    label, unit = column_words(analysis.outcome, words)
    if analysis.outcome in (words or registry_words()):
        return f"{label}, {unit}" if unit else label
    return expression_words(analysis.outcome, words)


def term_words(analysis: Analysis, term: str, words: Words | None = None) -> str:
    """A model row's term with the exposure column (if the term names it) in words."""
    if not isinstance(analysis, ModelAnalysis) or analysis.exposure_label:
        return term
    label, unit = exposure_words(analysis, words)
    text = term.replace(analysis.exposure, label, 1) if analysis.exposure in term else term
    if unit and analysis.exposure_type == "spline" and analysis.contrast and unit not in text:
        text += f" {unit}"
    return text


def usual_words(analysis: UsualIntakeAnalysis) -> str:
    """A usual-intake analysis in words: ``usual Mg intake below the EAR, food``."""
    nutrient = NUTRIENT_WORDS.get(analysis.variable, analysis.variable)
    basis = BASIS_WORDS.get(analysis.basis, analysis.basis)
    if analysis.statistic == "usual_mean":
        return f"mean usual {nutrient} intake, {basis} (mg/day)"
    what = USUAL_WORDS.get(analysis.statistic, analysis.statistic.replace("_", " "))
    return f"{nutrient} intake {what}, {basis}: usual intake vs day 1"


def panel_title(analysis: Analysis, words: Words | None = None, width: int = 44) -> str:
    r"""A panel's title: the analysis's label, or its quantity in words (never a column).

    ``words`` maps a column to its label and unit (the registry's and a specification's
    declared variables, :func:`spec_words`).

    >>> panel_title(ModelAnalysis(name="a", outcome="y", outcome_label="deficiency",
    ...     exposure="mg_total", exposure_label="total Mg intake", exposure_type="quantiles",
    ...     covariates=("age",)))
    'deficiency by quartiles of total Mg intake\n(adjusted)'
    >>> panel_title(DescriptiveAnalysis(name="b", statistic="proportion",
    ...     variable="vitd_25oh_nmol < 50", by=("race_eth",)))
    'serum 25(OH)D < 50 nmol/L, % of\nparticipants, by race and Hispanic origin'
    """
    if analysis.label:
        text = analysis.label
    elif isinstance(analysis, ModelAnalysis):
        adjusted = "adjusted" if analysis.covariates else "crude"
        expo, unit = exposure_words(analysis, words)
        if analysis.exposure_type == "quantiles":
            k = analysis.quantiles
            groups = {3: "tertiles", 4: "quartiles", 5: "quintiles"}.get(k, f"{k} quantile groups")
            expo = f"{groups} of {expo}"
        elif analysis.exposure_type == "cutpoints":
            expo = f"categories of {expo}"
        elif analysis.exposure_type == "spline":
            expo = f"{expo} (natural spline{', ' + unit if unit else ''})"
        elif analysis.per != 1 or unit:
            expo = f"{expo} (per {analysis.per:g} {unit}".rstrip() + ")"
        text = f"{outcome_words(analysis, words)} by {expo} ({adjusted})"
    elif isinstance(analysis, DescriptiveAnalysis):
        text = _descriptive_words(analysis, words)
    else:
        text = usual_words(analysis)
    return "\n".join(textwrap.wrap(text, width))  # two panels a row, a legend beside


def _descriptive_words(analysis: DescriptiveAnalysis, words: Words | None) -> str:
    label, unit = column_words(analysis.variable, words)
    if analysis.variable not in (words or registry_words()):
        label, unit = expression_words(analysis.variable, words), ""
    if analysis.statistic == "proportion":
        text = f"{label}, % of participants"
    elif analysis.statistic == "ratio":
        den = expression_words(analysis.denominator or "", words)
        text = f"ratio of mean {label} to mean {den}"
    else:
        what = "median" if analysis.statistic == "quantile" and analysis.q == 0.5 else ""
        what = what or {"mean": "mean", "quantile": f"{analysis.q:.0%} quantile of"}.get(
            analysis.statistic, analysis.statistic
        )
        text = f"{what} {label}" + (f" ({unit})" if unit else "")
    by = [b for b in analysis.by if b != "cycle"]
    if by:
        text += ", by " + " and ".join(column_words(b, words)[0] for b in by)
    return text


def by_words(analysis: Analysis, index: int, words: Words | None = None) -> str:
    """The words of a descriptive analysis's ``index``-th grouping column other than the
    cycle (empty when it has none): an axis or legend title."""
    if not isinstance(analysis, DescriptiveAnalysis):
        return ""
    by = [b for b in analysis.by if b != "cycle"]
    return column_words(by[index], words)[0] if index < len(by) else ""
