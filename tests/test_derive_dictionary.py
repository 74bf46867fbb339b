"""The committed data dictionary is the one the code generates."""

from __future__ import annotations

from pathlib import Path

from nhanes_mg.derive import VARIABLES, data_dictionary

DOC = Path(__file__).resolve().parents[1] / "docs" / "data_dictionary.md"


def test_committed_dictionary_is_current() -> None:
    assert DOC.read_text() == data_dictionary(), (
        "docs/data_dictionary.md is stale: regenerate with "
        "`python -m nhanes_mg.derive.dictionary "
        "> docs/data_dictionary.md`"
    )


def test_every_variable_has_rule_and_source() -> None:
    text = data_dictionary()
    for v in VARIABLES:
        assert v.rule, v.name
        assert f"`{v.name}`" in text
    assert "DSQ2" in text and "DSQTOT" in text and "LBDVIDMS" in text and "LBXVIDMS" in text
