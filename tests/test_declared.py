"""A specification's own NHANES variables, read from the real mirror and joined on SEQN."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from nhanes_mg.data.read import load_table
from nhanes_mg.derive import BuildResult
from nhanes_mg.derive.registry import FETCHED_UNREAD
from nhanes_mg.errors import SpecError
from nhanes_mg.jobs.run import RunSummary, run_pipeline
from nhanes_mg.jobs.store import ResultStore
from nhanes_mg.study import declared
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import Spec

from derive_support import session_build_in_runs

EXAMPLE = Path(__file__).parents[1] / "examples" / "waist_vitd.toml"
# variables from tables no variable of the analytic dataset reads (BPQ, KIQ_U)
EXAMPLE_UNREAD = Path(__file__).parents[1] / "examples" / "told_conditions_vitd.toml"


def _example(**changes: Any) -> Spec:
    raw = tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
    raw["variables"].update(changes.pop("variables", {}))  # added after the example's own
    raw.update(changes)
    return parse_spec(raw, "waist_vitd.toml")


def test_subsamples_follow_the_table_and_the_expression() -> None:
    spec = _example()
    assert declared.subsamples(spec.variables) == {
        "waist_cm": "exam",
        "uric_acid": "exam",
        "high_waist": "exam",  # from waist_cm (sex alone would be the interview)
    }
    assert declared.components([spec]) == ["BMX", "BIOPRO"]


@pytest.mark.mirror
def test_attach_reads_each_cycle_and_keeps_every_row(
    analytic_frame: pl.DataFrame, nhanes_data_dir: Path
) -> None:
    spec = _example()
    out = declared.attach(analytic_frame, spec, nhanes_data_dir)
    assert out.height == analytic_frame.height
    assert out.columns[-3:] == ["waist_cm", "uric_acid", "high_waist"]
    # by hand: BMX_J's waist for the 2017-2018 participants
    bmx = load_table(nhanes_data_dir, "BMX", "2017-2018").select(
        pl.col("SEQN").cast(pl.Int64).alias("seqn"), pl.col("BMXWAIST").alias("expected")
    )
    mine = out.filter(pl.col("cycle") == "2017-2018").join(bmx, on="seqn", how="inner")
    assert mine.height == bmx.height
    assert (mine["waist_cm"] - mine["expected"]).abs().max() == 0
    # cycles outside the specification's are not read (2001-2006 stay null)
    early = out.filter(pl.col("cycle").cast(pl.String) < "2007")
    assert early["waist_cm"].null_count() == early.height
    men = out.filter((pl.col("sex") == "male") & pl.col("waist_cm").is_not_null())
    assert men["high_waist"].to_list() == (men["waist_cm"] >= 102).to_list()


@pytest.mark.mirror
def test_a_column_a_cycle_lacks_is_one_line_naming_it(
    analytic_frame: pl.DataFrame, nhanes_data_dir: Path
) -> None:
    raw_vars = {"phosphorus": {"table": "BIOPRO", "column": "LBXSPH"}}
    spec = _example(cycles="2001-2006", variables=raw_vars)
    with pytest.raises(SpecError) as caught:
        declared.attach(analytic_frame, spec, nhanes_data_dir)
    message = str(caught.value)
    assert message.startswith(
        "waist_vitd.toml: variables.phosphorus: column LBXSPH is not in L40_B (2001-2002)"
    )
    assert "\n" not in message
    # the same variable, its 2001-2002 name given per cycle, and a missing-value code
    raw_vars = {
        "phosphorus": {
            "table": "BIOPRO",
            "column": {"2001-2002": "LBDSPH", "2003-2006": "LBXSPH"},
            "missing": [3.0],
        }
    }
    spec = _example(cycles="2001-2006", variables=raw_vars)
    out = declared.attach(analytic_frame, spec, nhanes_data_dir)
    by_cycle = out.group_by("cycle").agg(pl.col("phosphorus").is_not_null().sum()).sort("cycle")
    assert by_cycle["phosphorus"].head(3).min() > 3000  # every cycle read
    assert not (out["phosphorus"] == 3.0).any()  # the code became null


@pytest.mark.mirror
def test_a_table_a_cycle_lacks_is_one_line_naming_it(
    analytic_frame: pl.DataFrame, nhanes_data_dir: Path
) -> None:
    pth = {"pth_pg_ml": {"table": "PTH", "column": "LBXPT21"}}
    spec = _example(cycles="2003-2008", variables=pth)
    with pytest.raises(SpecError, match=r"variables.pth_pg_ml: NHANES 2003-2004 has no PTH table"):
        declared.attach(analytic_frame, spec, nhanes_data_dir)


@pytest.mark.mirror
def test_a_table_with_several_rows_per_person_is_refused(
    analytic_frame: pl.DataFrame, nhanes_data_dir: Path
) -> None:
    """DSQ2 has one row per supplement a participant took: joining it would multiply people."""
    product = {"supp_days": {"table": "DSQ2", "column": "DSD103"}}
    spec = _example(cycles="2005-2006", variables=product)
    with pytest.raises(SpecError, match=r"variables.supp_days: DSQ2_D \(2005-2006\) has several "):
        declared.attach(analytic_frame, spec, nhanes_data_dir)


@pytest.mark.mirror
def test_a_user_spec_runs_end_to_end(
    nhanes_data_dir: Path,
    mirror_dir: Path,
    build_result: BuildResult,
    tmp_path: Path,
) -> None:
    try:
        with session_build_in_runs(build_result, nhanes_data_dir):
            summary: RunSummary = run_pipeline(
                data_dir=nhanes_data_dir,
                out_dir=tmp_path,
                spec_paths=[EXAMPLE, EXAMPLE_UNREAD],
                do_fetch=False,
            )
    finally:  # the session's data dir is shared: leave no stored build for other tests
        shutil.rmtree(ResultStore(nhanes_data_dir).root, ignore_errors=True)
    result, unread = summary.results
    table = pl.read_csv(tmp_path / "tables" / "U1.csv")
    odds = table.filter(pl.col("analysis") == "deficiency_by_waist")
    assert odds["term"].to_list() == ["waist circumference, per 10 cm"]
    assert odds["n"][0] > 20_000
    means = table.filter(pl.col("analysis") == "uric_acid_mean").sort("group")
    assert means["group"].to_list() == ["female", "male"]
    assert 4 < means["estimate"][0] < means["estimate"][1] < 7  # mg/dL, men higher
    fits = {f.analysis: f for f in result.fits}
    assert fits["deficiency_by_waist"].weight == "wt_mec"
    assert "waist_cm" in fits["deficiency_by_waist"].weight_reason
    report = summary.report_md.read_text(encoding="utf-8")
    assert "`waist_cm` (waist circumference, cm; BMX.BMXWAIST)" in report
    dictionary = (tmp_path / "data_dictionary.md").read_text(encoding="utf-8")
    assert "| U1 | `uric_acid` | serum uric acid | mg/dL | BIOPRO.LBXSUA |" in dictionary
    # BPQ and KIQ_U: tables the analytic dataset does not read
    assert set(FETCHED_UNREAD) >= {"BPQ", "KIQ_U"}
    shares = pl.read_csv(tmp_path / "tables" / "U2.csv").filter(
        pl.col("analysis") == "weak_kidneys_share"
    )
    assert shares.height == 2 and shares["estimate"].is_between(0.01, 0.06).all()
    fit = unread.fit("deficiency_by_hypertension")
    assert fit is not None and fit.n > 25_000 and fit.cycles[0] == "2007-2008"
    t1 = unread.table1.filter(pl.col("label") == "told of weak or failing kidneys")
    assert t1.height == 3  # [outputs] table1_extra: a declared variable in Table 1 (+ overall)
