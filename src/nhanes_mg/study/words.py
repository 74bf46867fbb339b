"""Columns and lists as a sentence reads them: the registry's labels, lower-cased where they are
common nouns, and lists whose items may hold commas. The report, the figures and the
descriptions of what was fitted all write columns through here.

Examples
--------
>>> words_list(["age", "race_eth", "kcal_d1", "ca_food_d1"])
'age; race and Hispanic origin; energy, day 1; calcium from food, day 1'
"""

from __future__ import annotations

from collections.abc import Sequence

from nhanes_mg.derive import registry


def in_sentence(label: str) -> str:
    """A label as it reads mid-sentence: a capital first letter lowered, unless the first word
    is an abbreviation or starts with a digit (``HbA1c``, ``BMI``, ``25(OH)D``).

    >>> in_sentence("Total magnesium intake"), in_sentence("HbA1c"), in_sentence("BMI")
    ('total magnesium intake', 'HbA1c', 'BMI')
    """
    first = label.split(" ", 1)[0]
    if len(first) > 1 and first[1:].islower() and not first[:1].isdigit():
        return label[0].lower() + label[1:]
    return label


def column_words(column: str) -> str:
    """A column inside a sentence: its registry label :func:`in_sentence` (a declared or
    unknown column: its name as the specification wrote it).

    >>> column_words("race_eth"), column_words("pir"), column_words("my_score")
    ('race and Hispanic origin', 'family income to poverty ratio', 'my_score')
    """
    label = registry.labels().get(column)
    return in_sentence(label) if label else column


def listing(items: Sequence[str]) -> str:
    """Items as a list in a sentence: commas, or semicolons when an item has a comma.

    >>> listing(["age", "sex"]), listing(["age", "energy, day 1"])
    ('age, sex', 'age; energy, day 1')
    """
    return ("; " if any("," in i for i in items) else ", ").join(items)


def words_list(columns: Sequence[str]) -> str:
    """Columns as a list of :func:`column_words` in a sentence."""
    return listing([column_words(c) for c in columns])
