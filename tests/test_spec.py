"""Specifications: the shipped ones load; malformed ones name the file, the field, the choices."""

from __future__ import annotations

from pathlib import Path

import pytest

from nhanes_mg.errors import SpecError
from nhanes_mg.spec import load_shipped_specs, load_spec

GOOD = """
id = "X1"
title = "t"
claim = "c"
citation = "someone 2020"
cycles = "2005-2010"
weight = "wt_diet1"
population = "age >= 20"
model = "logistic"

[covariate_sets]
adj = ["age", "sex"]

[[analysis]]
name = "a"
outcome = "vitd_25oh_nmol < 30"
exposure = "mg_total"
exposure_type = "quantiles"
covariates = "@adj"

[verdict]
rule = "effect_below_1"
analysis = "a"
term = "Q4"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "my.toml"
    path.write_text(text)
    return path


def test_shipped_specs_cover_the_claims() -> None:
    specs = load_shipped_specs()
    assert [s.id for s in specs] == ["C1", "C2", "C3", "C4", "C5", "C6", "C7"]
    for spec in specs:
        assert spec.verdict, f"{spec.id} has no verdict rule"
        assert spec.claim and spec.citation


def test_good_spec(tmp_path: Path) -> None:
    spec = load_spec(_write(tmp_path, GOOD))
    assert [c.years for c in spec.cycles] == ["2005-2006", "2007-2008", "2009-2010"]
    assert spec.analyses[0].covariates == ("age", "sex")
    assert spec.analyses[0].quantiles == 4


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('model = "logistic"', 'model = "probit"',
         r"field 'model': 'probit' is not one of: descriptive, linear, logistic, cox"),
        ('weight = "wt_diet1"', 'weight = "WTDRD1"', r"field 'weight': 'WTDRD1' is not one of"),
        ('exposure_type = "quantiles"', 'exposure_type = "tertiles"',
         r"field 'analysis\[0\]\.exposure_type': 'tertiles' is not one of: continuous"),
        ('covariates = "@adj"', 'covariates = "@other"',
         r"field 'analysis\[0\]\.covariates': '@other' names no covariate set; sets: @adj"),
        ('population = "age >= 20"', 'population = "age >= >= 20"',
         r"field 'population': cannot parse"),
        ('cycles = "2005-2010"', 'cycles = "1980-1990"', r"field 'cycles': no NHANES cycle"),
        ('term = "Q4"', 'terms = "Q4"', r"field 'verdict\.term': is required"),
        ('analysis = "a"\nterm', 'analysis = "b"\nterm',
         r"field 'verdict\.analysis': 'b' is not one of: a"),
        ('name = "a"', 'name = "a"\nquantiles = 40',
         r"field 'analysis\[0\]\.quantiles': must be 2"),
        ('name = "a"', 'name = "a"\ncolour = "red"',
         r"field 'analysis\[0\]\.colour': unknown field"),
        ('id = "X1"', 'id = 1', r"field 'id': must be str, not 1"),
    ],
)  # fmt: skip
def test_malformed_spec_names_file_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpecError, match=message) as info:
        load_spec(path)
    assert str(info.value).startswith(str(path))


def test_cutpoints_must_increase(tmp_path: Path) -> None:
    text = GOOD.replace(
        'exposure_type = "quantiles"', 'exposure_type = "cutpoints"\ncutpoints = [2.8, 1.7]'
    )
    with pytest.raises(SpecError, match=r"cutpoints': must be distinct and increasing"):
        load_spec(_write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="is not valid TOML"):
        load_spec(_write(tmp_path, "id = [unclosed"))
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "absent.toml")


def test_cox_needs_time(tmp_path: Path) -> None:
    text = GOOD.replace('model = "logistic"', 'model = "cox"')
    with pytest.raises(SpecError, match=r"field 'analysis\[0\]\.time': is required"):
        load_spec(_write(tmp_path, text))
