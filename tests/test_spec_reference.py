"""The field reference (docs/specification.md) is what the parser allows, and is current."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhanes_mg.study import spec_reference


def test_the_committed_reference_is_current() -> None:
    committed = Path(__file__).resolve().parent.parent / "docs" / "specification.md"
    assert committed.read_text(encoding="utf-8") == spec_reference.render(), (
        "run scripts/make_spec_reference.py"
    )


def test_a_field_the_parser_allows_but_the_reference_does_not_describe_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    docs = dict(spec_reference.VERDICT)
    del docs["smallest_effect"]
    sections = tuple(
        (t, a, r, docs if d is spec_reference.VERDICT else d)
        for t, a, r, d in spec_reference.SECTIONS
    )
    monkeypatch.setattr(spec_reference, "SECTIONS", sections)
    with pytest.raises(ValueError, match=r"undocumented \['smallest_effect'\]"):
        spec_reference.render()


def test_defaults_come_from_the_typed_records() -> None:
    text = spec_reference.render()
    assert "| `per` | number | 1 |" in text
    assert "| `quantiles` | integer | 4 |" in text
    assert '| `exposure_type` | text | "continuous" |' in text
    assert "| `analysis` | text | required |" in text  # VerdictRule.analysis has no default
