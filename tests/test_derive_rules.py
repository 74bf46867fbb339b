"""Unit tests of the derivation rules on small frames (no data needed)."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.derive import rules
from nhanes_mg.derive.mortality import mortality_columns
from nhanes_mg.derive.registry import SOURCES


def _frame(ages: list[float], sexes: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"age": ages, "sex": sexes})


@pytest.mark.parametrize(
    ("age", "sex", "ear", "rda"),
    [
        (0.0, "male", None, None),
        (1.0, "female", 65.0, 80.0),
        (3.0, "male", 65.0, 80.0),
        (4.0, "male", 110.0, 130.0),
        (8.0, "female", 110.0, 130.0),
        (9.0, "male", 200.0, 240.0),
        (13.0, "female", 200.0, 240.0),
        (14.0, "male", 340.0, 410.0),
        (18.0, "female", 300.0, 360.0),
        (19.0, "male", 330.0, 400.0),
        (30.0, "female", 255.0, 310.0),
        (31.0, "male", 350.0, 420.0),
        (31.0, "female", 265.0, 320.0),
        (85.0, "female", 265.0, 320.0),
        (40.0, None, None, None),
    ],
)
def test_mg_ear_rda(age: float, sex: str | None, ear: float | None, rda: float | None) -> None:
    out = pl.DataFrame({"age": [age], "sex": [sex]}, schema={"age": pl.Float64, "sex": pl.Utf8})
    got = out.select(e=rules.mg_ear(), r=rules.mg_rda()).row(0)
    assert got == (ear, rda)


@pytest.mark.parametrize(
    ("age", "sex", "ear", "rda"),
    [
        (2.0, "male", 500.0, 700.0),
        (5.0, "female", 800.0, 1000.0),
        (9.0, "male", 1100.0, 1300.0),
        (18.0, "female", 1100.0, 1300.0),
        (19.0, "female", 800.0, 1000.0),
        (50.0, "female", 800.0, 1000.0),
        (51.0, "female", 1000.0, 1200.0),
        (51.0, "male", 800.0, 1000.0),
        (70.0, "male", 800.0, 1000.0),
        (71.0, "male", 1000.0, 1200.0),
        (0.5, "male", None, None),
    ],
)
def test_ca_ear_rda(age: float, sex: str, ear: float | None, rda: float | None) -> None:
    got = _frame([age], [sex]).select(e=rules.ca_ear(), r=rules.ca_rda()).row(0)
    assert got == (ear, rda)


def test_sex_enum_works_in_lookup() -> None:
    df = _frame([45.0, 45.0], ["male", "female"]).with_columns(
        pl.col("sex").cast(pl.Enum(list(rules.SEX_LEVELS)))
    )
    assert df.select(rules.mg_ear())["literal"].to_list() == [350.0, 265.0]


def test_null_codes_is_per_variable() -> None:
    df = pl.DataFrame({"pir": [0.5, 5.0, None], "alq": [3.0, 777.0, 999.0]})
    out = df.select(
        rules.null_codes(pl.col("pir"), ()), rules.null_codes(pl.col("alq"), (777.0, 999.0))
    )
    assert out["pir"].to_list() == [0.5, 5.0, None]  # PIR 5 is a value
    assert out["alq"].to_list() == [3.0, None, None]


def test_spec_codes_pir_has_none_and_alq130_depends_on_cycle() -> None:
    by_name = {s.name: s for s in SOURCES}
    assert by_name["pir"].codes_for("D") == ()
    assert by_name["alq_drinks_per_day"].codes_for("B") == (77.0, 99.0)
    assert by_name["alq_drinks_per_day"].codes_for("J") == (777.0, 999.0)
    assert by_name["_smq020"].codes_for("F") == (7.0, 9.0)


def test_recode_unlisted_codes_are_null() -> None:
    df = pl.DataFrame({"x": [1.0, 2.0, 7.0, 9.0, None]})
    out = df.select(rules.recode(pl.col("x"), {1.0: "male", 2.0: "female"}, rules.SEX_LEVELS))
    assert out["x"].to_list() == ["male", "female", None, None, None]
    assert out["x"].dtype == pl.Enum(list(rules.SEX_LEVELS))


def test_ratio() -> None:
    df = pl.DataFrame({"ca": [900.0, 500.0, 500.0, None], "mg": [300.0, 0.0, None, 250.0]})
    assert df.select(r=rules.ratio("ca", "mg"))["r"].to_list() == [3.0, None, None, None]


@pytest.mark.parametrize(
    ("cuts", "expected"),
    [
        ((30.0, 50.0), ["deficient", "insufficient", "insufficient", "sufficient", "sufficient"]),
        ((25.0, 75.0), ["deficient", "insufficient", "insufficient", "insufficient", "sufficient"]),
    ],
)
def test_vitd_status_cutpoints(cuts: tuple[float, float], expected: list[str]) -> None:
    df = pl.DataFrame({"v": [20.0, 30.0, 49.9, 50.0, 80.0]})
    assert df.select(s=rules.vitd_status("v", cuts))["s"].to_list() == expected


def test_vitd_status_rejects_bad_cutpoints() -> None:
    with pytest.raises(ValueError, match="increase"):
        rules.vitd_status("v", (50.0, 30.0))


def test_day_mean_uses_available_days() -> None:
    df = pl.DataFrame({"a": [100.0, 100.0, None, None], "b": [200.0, None, 300.0, None]})
    assert df.select(m=rules.day_mean("a", "b"))["m"].to_list() == [150.0, 100.0, 300.0, None]


def test_egfr_known_values() -> None:
    # CKD-EPI 2021: female 60 y, Scr 0.7 -> 142 * 0.9938^60 * 1.012 ≈ 98.4
    df = pl.DataFrame(
        {"scr": [0.7, 2.0, 1.0], "age": [60.0, 70.0, 12.0], "sex": ["female", "male", "male"]}
    )
    e = df.select(e=rules.egfr_ckd_epi_2021())["e"].to_list()
    assert e[0] == pytest.approx(142 * 0.9938**60 * 1.012, rel=1e-9)
    assert e[1] == pytest.approx(142 * (2.0 / 0.9) ** -1.2 * 0.9938**70, rel=1e-9)
    assert e[2] is None  # adults only


def test_mortality_columns() -> None:
    raw = pl.DataFrame(
        {
            "SEQN": [1, 2, 3, 4, 5, 6],
            "ELIGSTAT": [1, 1, 1, 1, 2, 1],
            "MORTSTAT": [0, 1, 1, 1, None, 1],
            "UCOD_LEADING": [None, "001", "005", "002", None, "010"],
            "PERMTH_EXM": [120, 30, 40, 50, None, 60],
            "PERMTH_INT": [121, 31, 41, 51, None, 61],
        }
    )
    out = mortality_columns(raw.lazy(), 2019).collect()
    assert out["mort_eligible"].to_list() == [True, True, True, True, False, True]
    assert out["mort_status"].to_list() == [0, 1, 1, 1, None, 1]
    assert out["mort_cause"].to_list() == [None, "cvd", "cvd", "cancer", None, "other"]
    assert out["followup_months_exam"].to_list() == [120.0, 30.0, 40.0, 50.0, None, 60.0]
    assert out["mortality_release"].unique().to_list() == [2019]


def test_yes_no_codes_and_missing_codes() -> None:
    df = pl.DataFrame({"mcq220": [1.0, 2.0, 3.0, 7.0, 9.0, None]})
    assert df.select(c=rules.yes_no("mcq220"))["c"].to_list() == [
        True,
        False,
        None,  # 3 is not an answer of MCQ220
        None,  # refused
        None,  # don't know
        None,
    ]
    # DIQ010: 3 (borderline) counts as no for diabetes_diagnosed
    out = df.rename({"mcq220": "diq010"}).select(d=rules.yes_no("diq010", no=(2.0, 3.0)))
    assert out["d"].to_list() == [True, False, False, None, None, None]


def test_any_yes_for_cvd_history() -> None:
    # MCQ160B, C, D, E, F of eight people (7/9 left in, as if not nulled before)
    rows: list[tuple[list[float | None], bool | None]] = [
        ([1.0, 2.0, 2.0, 2.0, 2.0], True),  # one yes
        ([2.0, 2.0, 2.0, 2.0, 1.0], True),  # stroke only
        ([9.0, 1.0, None, 7.0, None], True),  # a yes wins over unanswered and 7/9 items
        ([2.0, 2.0, 2.0, 2.0, 2.0], False),  # all answered no
        ([2.0, 2.0, 9.0, 2.0, 2.0], None),  # don't know, no yes: could have been one
        ([2.0, 7.0, 2.0, 2.0, 2.0], None),  # refused
        ([2.0, 2.0, 2.0, None, 2.0], None),  # an unanswered item
        ([None, None, None, None, None], None),  # not asked (under 20)
    ]
    items = ["b", "c", "d", "e", "f"]
    df = pl.DataFrame(
        {k: [r[0][i] for r in rows] for i, k in enumerate(items)},
        schema={k: pl.Float64 for k in items},
    )
    got = df.select(cvd=rules.any_yes(items))["cvd"]
    assert got.dtype == pl.Boolean
    assert got.to_list() == [r[1] for r in rows]
    # the same after the build's per-variable nulling of 7/9
    nulled = df.select(rules.null_codes(pl.col(k), (7.0, 9.0)) for k in items)
    assert nulled.select(cvd=rules.any_yes(items))["cvd"].to_list() == [r[1] for r in rows]


def test_medical_history_sources_declared_in_every_cycle() -> None:
    by_name = {s.name: s for s in SOURCES}
    for name in ("_mcq160b", "_mcq160c", "_mcq160d", "_mcq160e", "_mcq160f", "_mcq220"):
        source = by_name[name]
        assert source.component == "MCQ"
        for letter in "BCDEFGHIJ":
            assert source.column_for(letter) == name[1:].upper()
            assert source.codes_for(letter) == (7.0, 9.0)
