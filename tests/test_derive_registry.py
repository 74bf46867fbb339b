"""The variable registry: declarations checked, what follows from them, one entry per variable."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data import catalog, fetch, read
from nhanes_mg.derive import build_analytic, demo, registry
from nhanes_mg.derive.dictionary import data_dictionary
from nhanes_mg.derive.registry import (
    BOOL,
    F64,
    REGISTRY,
    Registry,
    RegistryError,
    group,
    var,
)
from nhanes_mg.derive.sources import Q1, cdc
from nhanes_mg.errors import CatalogError

# What `fetch` got before the registry existed: the registry must not change it.
FETCHED_BEFORE = (
    "DEMO", "VID", "BMX", "SMQ", "DIQ", "MCQ", "PAQ", "ALQ", "BPQ", "KIQ_U", "DR1TOT",
    "DR2TOT", "DSQ1", "DSQ2", "DSQTOT", "DS1TOT", "DS2TOT", "GHB", "BIOPRO", "PTH",
)  # fmt: skip

# Three ordinary variables, each one entry: a CDC column the demo does not simulate, a column
# of a table nothing read before (with per-cycle names, L13_C before TCHOL_D), a rule over
# variables already there.
NEW = group(
    "Added in a test",
    var("waist_cm", F64, "cm", "Waist circumference", "Waist circumference.",
        source=cdc("BMX", "BMXWAIST", demo=(60.0, 140.0))),
    var("tchol", F64, "mg/dL", "Total cholesterol", "Total cholesterol.",
        source=cdc("TCHOL", "LBXTC", demo=(100.0, 300.0))),
    var("bp_told", BOOL, "", "Told of high blood pressure", "BPQ020: 1 → true, 2 → false.",
        columns={"_bpq020": cdc("BPQ", "BPQ020", Q1)}, expr=pl.col("_bpq020") == 1),
    var("obese", BOOL, "", "Obesity", "bmi ≥ 30.", expr=pl.col("bmi") >= 30),
)  # fmt: skip


def test_schema_is_the_dataset_columns_in_order() -> None:
    schema = registry.schema()
    assert list(schema) == registry.column_order()
    assert not [name for name in schema if name.startswith("_")]
    assert schema["cycle"] == pl.Enum([c.years for c in catalog.parse_cycles(None)])
    assert registry.schema(["2007-2008"])["cycle"] == pl.Enum(["2007-2008"])
    assert schema["seqn"] == pl.Int64 and schema["sdmvstra"] == pl.Int64
    assert schema["vitd_status"] == pl.Enum(["deficient", "insufficient", "sufficient"])
    assert schema["mort_ucod_leading"] == pl.String


def test_every_variable_is_documented() -> None:
    labels, units = registry.labels(), registry.units()
    assert list(labels) == list(units) == registry.column_order()
    for v in REGISTRY.variables:
        assert v.label and v.rule and v.group, v.name
        assert "\n" not in v.label and "|" not in v.label, v.name
    assert len(set(labels.values())) == len(labels)  # no two columns share a label


def test_lineage_read_off_the_rules() -> None:
    assert registry.DERIVED_FROM["mg_total"] == ("mg_food", "mg_supp")
    assert registry.DERIVED_FROM["mg_food"] == ("mg_food_d1", "mg_food_d2")
    assert set(registry.DERIVED_FROM["mg_ear"]) == {"age", "sex"}
    assert registry.DERIVED_FROM["ckd"] == ("egfr",)
    assert "hba1c" in registry.DERIVED_FROM["diabetes"]
    dsq2 = ("DSQ2", "DSPI", "DSII", "DSBI")  # the 2001-2006 derivation's tables
    assert {
        "mg_supp": dsq2,
        "ca_supp": dsq2,
        "vitd_supp": dsq2,
        "ds_products": ("DSQ2",),
        "ds_unmatched_products": ("DSQ2", "DSPI"),
        "ds_unquantified_products": dsq2,
        "ds_implausible_products": dsq2,
        "ds_unreconciled_products": dsq2,
        "supp_quality": dsq2,
        "mg_supp_user": dsq2,
        "ca_supp_user": dsq2,
        "mg_antacid": dsq2,
        "ca_antacid": dsq2,
        "mg_supp_user_excl_antacid": dsq2,
        "ca_supp_user_excl_antacid": dsq2,
    } == registry.EXTRA_COMPONENTS
    lineage = REGISTRY.lineage
    assert lineage["smoking"].sources == ("_smq020", "_smq040")
    assert lineage["supp_user"].sources == ("_dsd010",)
    assert lineage["bmi"].sources == ("bmi",)  # a published column is its own source
    assert lineage["mort_status"].cited == (registry.MORT_SRC,)
    assert lineage["mort_eligible"].cited == (registry.MORT_SRC,)  # through helper columns
    # every name a rule uses is declared: the lineage covers every dataset variable
    assert set(lineage) == set(registry.column_order())


def test_sources_named_once_with_their_cycles() -> None:
    by_name: dict[str, list[str]] = {}
    for source in registry.SOURCES:
        by_name.setdefault(source.name, []).append(source.component)
    assert by_name["_dsd010"] == ["DSQ1", "DSQTOT"]  # one name, a table per cycle range
    mg = next(s for s in registry.sources_of("DR1TOT") if s.name == "_mg_d1")
    assert (mg.column_for("B"), mg.column_for("C")) == ("DRXTMAGN", "DR1TMAGN")
    vid = next(s for s in registry.SOURCES if s.name == "vitd_25oh_nmol")
    assert (vid.column_for("D"), vid.column_for("E")) == ("LBDVIDMS", "LBXVIDMS")


def test_components_exist_once() -> None:
    assert registry.COMPONENTS[0] == "DEMO"
    assert "DSQ2" in registry.COMPONENTS  # read by a named function, not a Source
    assert not set(registry.COMPONENTS) & set(catalog.INGREDIENT_TABLES)
    assert registry.fetched_components() == FETCHED_BEFORE
    assert set(registry.COMPONENTS) | set(registry.FETCHED_UNREAD) == set(FETCHED_BEFORE)


def test_stages_only_use_what_came_before() -> None:
    made = {s.name for s in registry.SOURCES} | {registry.KEY}
    made |= {v.name for v in REGISTRY.entries if v.step in REGISTRY.cycle_steps}
    for stage in REGISTRY.stages:
        for v in stage:
            expr = v.expression()
            assert expr is not None
            assert set(expr.meta.root_names()) <= made, v.name
        made |= {v.name for v in stage}
    assert [s.name for s in REGISTRY.frame_steps] == ["energy_adjustment"]
    assert {s.name for s in REGISTRY.cycle_steps} == {
        "cycle_label",
        "supplements_dsq2",
        "linked_mortality",
    }


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ((var("age", F64, "y", "Age again", "Twice.", source=cdc("DEMO", "RIDAGEYR")),),
         "declared twice"),
        ((var("x", F64, "", "X", "Uses nothing known.", expr=pl.col("nope") + 1),),
         "unknown column 'nope'"),
        ((var("x", F64, "", "X", "No rule."),), "exactly one of"),
        ((var("x", F64, "", "", "No label.", expr=pl.col("age")),), "label, rule, group"),
        ((var("x", F64, "", "X", "Unknown table.", source=cdc("NOPE", "NOPE1")),),
         "unknown table component"),
        ((var("x", F64, "", "X", "A loop.", expr=pl.col("y")),
          var("y", F64, "", "Y", "A loop.", expr=pl.col("x"))), "uses itself"),
        ((var("x", F64, "", "X", "After the frame steps.", expr=pl.col("mg_food_eadj")),),
         "made after every expression"),
    ],
)  # fmt: skip
def test_contradictory_declarations_are_refused(
    entries: tuple[registry.Variable, ...], message: str
) -> None:
    with pytest.raises((RegistryError, CatalogError), match=message):
        REGISTRY.extended(*group("Test", *entries))


def test_a_new_variable_is_one_entry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    extended = REGISTRY.extended(*NEW)
    assert isinstance(extended, Registry)
    monkeypatch.setattr(registry, "REGISTRY", extended)
    # the build reads TCHOL now: fetch gets it by default, the demo writes it
    assert "TCHOL" in registry.fetched_components()
    cycles = ["2003-2004", "2007-2008"]
    mirror = demo.write_synthetic_mirror(tmp_path / "mirror", n_per_cycle=200, cycles=cycles)
    assert (mirror / "2003-2004" / "L13_C.xpt").exists()
    assert (mirror / "2007-2008" / "TCHOL_E.xpt").exists()
    bmx = read.read_xpt(mirror / "2007-2008" / "BMX_E.xpt")
    assert bmx["BMXWAIST"].drop_nulls().is_between(60, 140).all()
    fetch.fetch(
        ",".join(cycles), registry.fetched_components(), data_dir=tmp_path / "data", mirror=mirror
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = build_analytic(tmp_path / "data", cycles)
    frame = result.frame
    assert frame.columns == extended.column_order()
    assert frame.schema == pl.Schema(extended.schema(cycles))
    for name in ("waist_cm", "tchol", "bp_told", "obese"):
        assert frame[name].null_count() < frame.height, name
    assert frame.filter(pl.col("bmi") >= 30)["obese"].all()
    text = data_dictionary(extended)
    assert "## Added in a test" in text
    assert "| `tchol` | Float64 | mg/dL | Total cholesterol |" in text
    assert "TCHOL.LBXTC (2001-2018)" in text
    assert "derived from `bmi`" in text
    assert "BPQ020: 7/9" in text


def test_the_demo_build_has_the_declared_schema(tmp_path: Path) -> None:
    cycles = ["2005-2006", "2011-2012"]
    mirror = demo.write_synthetic_mirror(tmp_path / "mirror", n_per_cycle=150, cycles=cycles)
    fetch.fetch(
        ",".join(cycles), registry.fetched_components(), data_dir=tmp_path / "data", mirror=mirror
    )
    result = build_analytic(tmp_path / "data", cycles)
    assert result.frame.schema == pl.Schema(registry.schema(cycles))
