"""study/calibrated.py on the real mirror: the shipped calibrated sensitivity analyses of C3
(per 100 mg/day, day-1 intake) and C4 (the joint model, two-day means). Regression calibration
undoes dilution, so the calibrated odds ratio lies farther from 1 than the naive one, with a
wider interval (the calibration model's uncertainty is in it); the replicate chain's df is the
design's + 1 − p; the report names the naive and calibrated estimates and λ."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nhanes_mg.report.document import measurement_error_lines
from nhanes_mg.study.calibrated import calibrated_chain
from nhanes_mg.study.plan import compile
from nhanes_mg.study.spec import load_shipped_specs
from nhanes_mg.study.words import column_words
from nhanes_mg.survey.results import SurveyResult
from run_support import ShippedResult

pytestmark = pytest.mark.mirror


def _rows(result_table: pl.DataFrame, analysis: str, sensitivity: str | None) -> pl.DataFrame:
    rows = result_table.filter(pl.col("analysis") == analysis)
    same = pl.col("sensitivity").is_null() if sensitivity is None else (
        pl.col("sensitivity") == sensitivity)  # fmt: skip
    return rows.filter(same & pl.col("role").is_in(["estimate", "stratum effect"]))


@pytest.mark.parametrize(("spec_id", "analysis"), [
    ("C3", "deficiency_per100"), ("C4", "deficiency_interaction")])  # fmt: skip
def test_calibration_undoes_dilution(
    spec_id: str, analysis: str, shipped_result: ShippedResult
) -> None:
    result = shipped_result(spec_id)
    naive = _rows(result.table, analysis, None).filter(pl.col("role") == "estimate").row(
        0, named=True)  # fmt: skip
    fixed = _rows(result.table, analysis, "calibrated").filter(pl.col("role") == "estimate").row(
        0, named=True)  # fmt: skip
    assert fixed["estimate"] < naive["estimate"] < 1  # farther from no effect, same side
    assert math.log(fixed["conf_high"] / fixed["conf_low"]) > math.log(
        naive["conf_high"] / naive["conf_low"])  # fmt: skip
    assert fixed["n"] == naive["n"]  # the same persons
    lines = measurement_error_lines(result)
    assert len(lines) == 1 and "attenuation factor λ = 0." in lines[0]
    assert "not corrected: systematic under-reporting" in lines[0]


def test_the_calibration_model_holds_every_covariate_and_the_modifier(
    shipped_result: ShippedResult,
) -> None:
    spec = next(s for s in load_shipped_specs() if s.id == "C4")
    item = next(i for i in compile(spec, None).analyses if i.analysis.sensitivity == "calibrated")
    text = item.description
    assert item.model is not None and item.model.calibration == ("mg", "food+supplements")
    for covariate in item.model.covariates:
        assert column_words(covariate) in text  # each covariate, in words
    assert "vitd_total >= 10" in text and "Systematic under-reporting is not corrected" in text
    fit = shipped_result("C4").fit("deficiency_interaction", "calibrated")
    assert fit is not None and fit.error is None


def test_replicate_covariance_of_the_chain(analytic_frame: pl.DataFrame) -> None:
    """The chain's covariance is svrVar of the replicate coefficients (Fay ρ = 0.3), and the
    df is the design's + 1 − p."""
    frame = analytic_frame.filter(
        pl.col("cycle").cast(pl.String).is_in(["2007-2008", "2009-2010"]) & (pl.col("age") >= 20)
    )
    rows = frame.select(pl.col("recall_ok_d1").fill_null(False))["recall_ok_d1"].to_numpy()
    chain = calibrated_chain(frame, rows, "mg", "food", ["age", "sex"], "wt_diet1")
    assert chain.n_replicates >= 32 and chain.calibration.data.columns[-1] == "sex[male]"
    full = chain.exposure().to_numpy()
    again = chain.exposure(0).to_numpy()  # refitted with the first replicate's weights
    known = ~np.isnan(full)
    assert known.sum() == chain.calibration.data.n and not np.allclose(full[known], again[known])

    def fake(r: int | None) -> SurveyResult:  # a one-number "model": the mean exposure
        x = chain.exposure(r).to_numpy()
        w = chain.replicates.weights if r is None else chain.replicates.repweights[:, r]
        keep = ~np.isnan(x)
        mean = float(np.average(x[keep], weights=w[keep]))
        one = np.array([mean])
        return SurveyResult(["mean"], one, one * 0, one * 0, one * 0, one, one, one * 0,
                            np.array([keep.sum()]), vcov=np.zeros((1, 1)))  # fmt: skip

    betas = np.array([fake(r).estimate[0] for r in range(chain.n_replicates)])
    result = chain.combine(fake(None), [np.array([b]) for b in betas])
    expected = np.sum((betas - result.estimate[0]) ** 2) / (chain.n_replicates * 0.7**2)
    assert result.std_error[0] == pytest.approx(math.sqrt(expected), rel=1e-12)
    assert result.df[0] == chain.replicates.df
    assert "regression calibration" in result.method


def test_a_cox_model_on_calibrated_intake(analytic_frame: pl.DataFrame) -> None:
    """C5's all-cause mortality model with total Mg intake per 100 mg/day as the exposure:
    the calibrated chain works for Cox models too (replicate refits of svycoxph)."""
    from dataclasses import replace

    from nhanes_mg.data import catalog
    from nhanes_mg.study.analyses import run_spec
    from nhanes_mg.study.spec_types import ModelAnalysis

    c5 = next(s for s in load_shipped_specs() if s.id == "C5")
    base = c5.analysis("all_cause_per25")
    assert isinstance(base, ModelAnalysis) and base.model == "cox"
    naive = replace(base, exposure="mg_total", exposure_label="total Mg intake", per=100.0,
                    exposure_unit="mg/day", modifier=None, modifier_cut=None,
                    modifier_labels=None, compare=None, covariates=("age", "sex", "smoking"),
                    cycles=catalog.parse_cycles("2003-2006"))  # fmt: skip
    calibrated = replace(naive, exposure_error="regression_calibration",
                         sensitivity="calibrated")  # fmt: skip
    spec = replace(c5, analyses=(naive,), sensitivities=(calibrated,), statements=(),
                   verdict=None)  # fmt: skip
    result = run_spec(spec, analytic_frame)
    assert not result.notes, result.notes
    rows = result.table.filter(pl.col("role") == "estimate")
    assert rows["scale"].to_list() == ["hazard ratio", "hazard ratio"]
    first, second = rows.iter_rows(named=True)
    assert first["n"] == second["n"] and second["estimate"] > 0
    assert (second["conf_high"] / second["conf_low"]) > (first["conf_high"] / first["conf_low"])
    assert "regression calibration" in result.fits[1].description
