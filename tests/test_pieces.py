"""A specification's analyses as pieces: how they are cut, and what each piece's stored
estimates are keyed by (:mod:`nhanes_mg.study.pieces`)."""

from __future__ import annotations

import dataclasses

import pytest

from nhanes_mg.study.pieces import PRESENTATION_FIELDS, estimation_basis, parts_of
from nhanes_mg.study.spec import load_shipped_specs
from nhanes_mg.study.spec_types import Spec, UsualIntakeAnalysis

SPECS = {s.id: s for s in load_shipped_specs()}


@pytest.mark.parametrize("spec_id", sorted(SPECS))
def test_every_analysis_is_in_one_piece(spec_id: str) -> None:
    spec = SPECS[spec_id]
    positions = [i for part in parts_of(spec) for i in part]
    assert sorted(positions) == list(range(len(spec.analyses) + len(spec.sensitivities)))


def test_usual_intake_analyses_share_one_piece() -> None:
    c2 = SPECS["C2"]
    analyses = (*c2.analyses, *c2.sensitivities)
    usual = [i for i, a in enumerate(analyses) if isinstance(a, UsualIntakeAnalysis)]
    assert len(usual) > 1
    assert tuple(usual) in parts_of(c2)


def _retold(spec: Spec) -> Spec:
    """The same specification in other words: every presentation field changed."""
    return dataclasses.replace(
        spec, title="another title", claim="another claim", source="elsewhere",
        citation="someone 2030", notes="other notes", limits="other limits",
        statements=spec.statements[:1], verdict=None,
    )  # fmt: skip


@pytest.mark.parametrize("spec_id", sorted(SPECS))
def test_the_words_of_a_specification_key_no_estimate(spec_id: str) -> None:
    spec = SPECS[spec_id]
    retold = _retold(spec)
    assert {"title", "claim", "statements", "verdict"} <= PRESENTATION_FIELDS
    for part in parts_of(spec):
        assert estimation_basis(spec, part) == estimation_basis(retold, part)


def test_an_edited_analysis_keys_its_own_piece_only() -> None:
    c7 = SPECS["C7"]
    first = c7.analyses[0]
    edited = dataclasses.replace(
        c7, analyses=(dataclasses.replace(first, population="age >= 21"), *c7.analyses[1:])
    )
    basis = {part: estimation_basis(c7, part) for part in parts_of(c7)}
    changed = [part for part in parts_of(c7) if estimation_basis(edited, part) != basis[part]]
    assert changed == [(0,)]  # (its sensitivity analyses, made when the file is read: not here)
    # the specification's own population reaches every piece
    moved = dataclasses.replace(c7, population=c7.population + " AND age >= 21")
    assert all(estimation_basis(c7, p) != estimation_basis(moved, p) for p in parts_of(c7))


def test_a_usual_intake_piece_reads_the_other_analyses() -> None:
    c2 = SPECS["C2"]
    group = next(p for p in parts_of(c2) if len(p) > 1)
    other = next(i for i in range(len(c2.analyses)) if i not in group)
    analyses = list(c2.analyses)
    analyses[other] = dataclasses.replace(analyses[other], label="another label")
    edited = dataclasses.replace(c2, analyses=tuple(analyses))
    assert estimation_basis(c2, group) != estimation_basis(edited, group)
