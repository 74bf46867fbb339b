"""Every column a specification names is checked before any data is read."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from nhanes_mg.errors import SpecError
from nhanes_mg.study.spec import load_shipped_specs, parse_spec, shipped_spec_paths
from nhanes_mg.study.spec_columns import (
    analytic_columns,
    check_columns,
    suggestion,
    unknown_columns,
)

EXAMPLE = Path(__file__).parents[1] / "examples" / "waist_vitd.toml"


def _raw(name: str) -> dict[str, Any]:
    path = next(p for p in shipped_spec_paths() if p.name.startswith(name))
    return tomllib.loads(path.read_text(encoding="utf-8"))


def test_shipped_specs_and_the_example_name_only_real_columns() -> None:
    for spec in load_shipped_specs():
        check_columns(spec)
    check_columns(parse_spec(tomllib.loads(EXAMPLE.read_text(encoding="utf-8")), str(EXAMPLE)))


@pytest.mark.parametrize(
    ("where", "edit", "field", "bad", "hint"),
    [
        ("C3", lambda r: r.update(population="age >= 20 AND recall_okk_d1"), "population",
         "recall_okk_d1", "recall_ok_d1"),
        ("C3", lambda r: r["analysis"][0].update(exposure="mg_food_d1 + mg_sup"),
         "analysis[0].exposure", "mg_sup", "mg_supp"),
        ("C3", lambda r: r["analysis"][0].update(outcome="vitd_25oh < 30"),
         "analysis[0].outcome", "vitd_25oh", "vitd_25oh_nmol"),
        ("C3", lambda r: r["analysis"][0].update(covariates=["age", "sexx"]),
         "analysis[0].covariates", "sexx", "sex"),
        ("C7", lambda r: r["analysis"][0].update(by=["Mg_intakes"]), "analysis[0].by",
         "Mg_intakes", "Mg_intake"),
        ("C5", lambda r: r["analysis"][0].update(time="followup_months_exm"), "analysis[0].time",
         "followup_months_exm", "followup_months_exam"),
        ("C3", lambda r: r["sensitivity"][0].update(population="NOT supp_usr"),
         "sensitivity[0].population", "supp_usr", "supp_user"),
    ],
)  # fmt: skip
def test_a_misspelt_column_names_file_field_and_a_real_column(
    where: str, edit: Any, field: str, bad: str, hint: str
) -> None:
    raw = _raw(where)
    edit(raw)
    with pytest.raises(SpecError) as caught:
        parse_spec(raw, "mine.toml")
    message = str(caught.value)
    assert message.startswith(f"mine.toml: field '{field}': unknown column {bad!r}"), message
    assert f"(did you mean {hint!r}?)" in message
    assert "\n" not in message


def test_suggestions_come_from_public_columns_only() -> None:
    columns = analytic_columns()
    assert columns and not any(c.startswith("_") for c in columns)
    assert "_ridstatr" not in suggestion("_ridstatr", columns)  # internal columns never offered
    assert unknown_columns("age >= 20 AND sexx = 'male'", columns) == ["sexx"]


def test_declared_variables_extend_the_columns_in_order() -> None:
    raw = _raw("C7")
    raw["variables"] = {
        "waist_cm": {"table": "BMX", "column": "BMXWAIST", "unit": "cm"},
        "high_waist": {"expr": "waist_cm >= 102"},
    }
    raw["population"] += " AND high_waist"
    spec = parse_spec(raw, "mine.toml")
    assert [v.name for v in spec.variables] == ["waist_cm", "high_waist"]
    raw["variables"] = {
        "high_waist": {"expr": "waist >= 102"},
        "waist_cm": raw["variables"]["waist_cm"],
    }
    with pytest.raises(SpecError, match=r"variables.high_waist.expr': unknown column 'waist'"):
        parse_spec(raw, "mine.toml")  # a variable may use only those declared before it


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"table": "BMXX", "column": "BMXWAIST"}, "unknown table component 'BMXX'"),
        ({"table": "BMX"}, "needs both table and column"),
        ({"expr": "age > 1", "table": "BMX", "column": "X"}, "either table and column, or expr"),
        ({"table": "BMX", "column": "BMXWAIST", "missing": ["."]}, "list of numeric codes"),
        ({"table": "BMX", "column": "BMXWAIST", "units": "cm"}, "unknown field"),
        ({"table": "GLU", "column": "LBXGLU"}, "fasting subsample, whose weight"),
    ],
)
def test_malformed_declarations_are_one_line(entry: dict[str, Any], message: str) -> None:
    raw = _raw("C7")
    raw["variables"] = {"waist_cm": entry}
    with pytest.raises(SpecError, match=message):
        parse_spec(raw, "mine.toml")


def test_a_declared_name_cannot_shadow_an_analytic_column() -> None:
    raw = _raw("C3")
    raw["variables"] = {"bmi": {"table": "BMX", "column": "BMXBMI"}}
    with pytest.raises(SpecError, match="'bmi' is already an analytic column"):
        parse_spec(raw, "mine.toml")


def test_columns_per_cycle() -> None:
    raw = _raw("C7")
    raw["variables"] = {
        "phosphorus": {"table": "BIOPRO", "column": {"2001-2002": "LBDSPH", "2003-2018": "lbxsph"}}
    }
    (variable,) = parse_spec(raw, "mine.toml").variables
    assert variable.column_for("2001-2002") == "LBDSPH"
    assert variable.column_for("2005-2006") == "LBXSPH"
    assert variable.source_text == "BIOPRO.LBDSPH/LBXSPH"


def test_specs_command_fails_before_any_work(tmp_path: Path, cli_main: Any) -> None:
    bad = tmp_path / "bad.toml"
    text = next(p for p in shipped_spec_paths() if p.name.startswith("C7")).read_text("utf-8")
    bad.write_text(text.replace("mg_total >= 300", "mg_totl >= 300"), encoding="utf-8")
    code, _, err = cli_main("specs", "--spec", str(bad))
    assert code == 1
    assert "unknown column 'mg_totl' (did you mean 'mg_total'?)" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = cli_main("run", "--spec", str(bad), "--mirror", str(tmp_path / "none"))
    assert code == 1 and "mg_totl" in err
    assert not (tmp_path / "data").exists()  # nothing fetched or built
