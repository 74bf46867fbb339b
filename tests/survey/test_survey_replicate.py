"""Replicate-weight designs against R's survey (replicate_golden.csv, make_replicate_golden.R).

The golden values come from ``as.svrepdesign()`` (Fay with rho 0.3, JKn, BRR) and
``svrepdesign()`` on real NHANES tables: 2005-2006 (15 strata of 2 PSUs) and pooled 2009-2012
(29 strata, four with 3 PSUs: Fay with ``large = "merge"``), plus a synthetic design with
strata of 1 to 4 PSUs for R's ``small``/``large`` rules and lonely-PSU options. Every value is
compared at relative tolerance ``REL = 1e-9``: the observed agreement is ~1e-12 or better
(rounding: BLAS summation order, and IRLS iterates that R solves by QR and we by normal
equations), so 1e-9 leaves room for other BLAS builds while catching any real difference. The
replicate weights themselves (Hadamard matrix, order of strata, first PSU of a pair, 3-PSU
strata, JKn factors) are checked through the column sums R reports for each design.

The bootstrap cannot be compared with R (R's ``bootweights`` uses R's random numbers): its
tests check the structure (resampled PSU counts per stratum, R's scale) and that a seed
reproduces the weights.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import DesignError, EstimationError
from nhanes_mg.survey import (
    ReplicateDesign,
    SurveyDesign,
    SurveyWarning,
    as_svrepdesign,
    regtermtest,
    replicate_variance,
    svrepdesign,
    svyby,
    svyciprop,
    svyglm,
    svymean,
    svyquantile,
    svyratio,
    svytotal,
)
from nhanes_mg.survey.replicate import hadamard

import golden_data
from golden_data import REPLICATE_GOLDEN_CSV, Golden

REL = 1e-9
ADULTS = pl.col("age") >= 20
OLD_WOMEN = (pl.col("age") >= 60) & (pl.col("sex") == "2")
DIET_ADULTS = (pl.col("age") >= 20) & (pl.col("drstz") == 1)
INTERVAL = ("estimate", "std_error", "conf_low", "conf_high", "df")
mirror = pytest.mark.mirror  # the tests on real NHANES tables


@pytest.fixture(scope="module")
def rgolden() -> Golden:
    return Golden(REPLICATE_GOLDEN_CSV)


def _checked(name: str, frame: pl.DataFrame, golden: Golden) -> pl.DataFrame:
    for key, value in golden_data.checks(name, frame).items():
        expected = golden.check(key)
        assert value == pytest.approx(expected, rel=1e-12), f"{key}: {value} vs R {expected}"
    return frame


@pytest.fixture(scope="module")
def exam(mirror_dir: Path, rgolden: Golden) -> pl.DataFrame:
    return _checked("exam_2005_2006", golden_data.exam_2005_2006(mirror_dir), rgolden)


@pytest.fixture(scope="module")
def pooled(mirror_dir: Path, rgolden: Golden) -> pl.DataFrame:
    return _checked("pooled_2009_2012", golden_data.pooled_2009_2012(mirror_dir), rgolden)


def _exam_designs(exam: pl.DataFrame) -> tuple[SurveyDesign, SurveyDesign]:
    mec = SurveyDesign(exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    diet = SurveyDesign(
        exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1", allow_zero_weights=True
    )
    return mec, diet


def _pooled_designs(pooled: pl.DataFrame) -> tuple[SurveyDesign, SurveyDesign]:
    mec = SurveyDesign.pooled(pooled, cycle_col="cycle", weights="wt_mec")
    diet = SurveyDesign.pooled(
        pooled, cycle_col="cycle", weights="wt_diet1", allow_zero_weights=True
    )
    return mec, diet


def _assert_design(golden: Golden, case: str, rep: ReplicateDesign) -> float:
    """Replicates, scale, rscales, degf and the column sums of the analysis weights."""
    expected = golden.case(case)
    assert rep.n_replicates == expected["n_replicates"]["estimate"]
    assert rep.scale == pytest.approx(expected["scale"]["estimate"], rel=1e-15)
    assert rep.rscales.sum() == pytest.approx(expected["rscales_sum"]["estimate"], rel=1e-14)
    assert rep.df == expected["degf"]["estimate"]
    sums = rep.replicate_weights.sum(axis=0)
    worst = 0.0
    for r in range(rep.n_replicates):
        want = expected[f"repw_sum_{r + 1}"]["estimate"]
        assert sums[r] == pytest.approx(want, rel=1e-12), f"{case} column {r + 1}"
        worst = max(worst, abs(sums[r] - want) / abs(want))
    return worst


def _report(prefix: str, worst: dict[str, float]) -> None:
    """Print the worst relative difference from R per case (``pytest -rP`` shows it)."""
    for case, value in worst.items():
        print(f"{prefix}:{case}: worst relative difference from R {value:.1e}")
    assert max(worst.values()) < REL


def _quantile_name(term: str) -> str:
    return term.split("[q=")[1].rstrip("]")


def _run_cases(
    golden: Golden, prefix: str, rep: ReplicateDesign, diet: ReplicateDesign
) -> dict[str, float]:
    """The analyses of ``run_cases`` in make_replicate_golden.R; the worst error per case."""
    adults = rep.subset(ADULTS)
    worst: dict[str, float] = {}

    def check(case: str, tidy: pl.DataFrame, **kwargs: object) -> None:
        worst[case] = golden.assert_matches(prefix + case, tidy, rel=REL, **kwargs)  # type: ignore[arg-type]

    check("mean_vitd_all", svymean("vitd", rep, na_rm=True).tidy())
    check("mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy())
    check("mean_vitd_old_women", svymean("vitd", rep.subset(OLD_WOMEN), na_rm=True).tidy())
    check("total_vitd_lt50_adults", svytotal("vitd_lt50", adults, na_rm=True).tidy())
    check("prop_race_adults", svymean("race", adults).tidy())
    check(
        "ciprop_logit_adults",
        svyciprop("vitd_lt50", adults, na_rm=True).tidy(),
        columns=INTERVAL,
    )
    check(
        "ciprop_mean_adults",
        svyciprop("vitd_lt50", adults, method="wald", na_rm=True).tidy(),
        columns=INTERVAL,
    )
    check(
        "quantile_vitd_adults",
        svyquantile("vitd", adults, [0.25, 0.5, 0.75], na_rm=True).tidy(),
        rename=_quantile_name,
        columns=INTERVAL,
    )
    if rep.type != "JKn":
        check(
            "quantile_reps_vitd_adults",
            svyquantile("vitd", adults, [0.5], na_rm=True, interval_type="quantile").tidy(),
            rename=_quantile_name,
            columns=INTERVAL,
        )
    check(
        "by_sex_mean_vitd_adults",
        svyby("vitd", "sex", adults, svymean, na_rm=True).tidy(),
        rename=lambda t: t.split(":")[0],
        columns=("estimate", "std_error", "df"),
    )
    ratio = svyratio("calcium", "magnesium", diet.subset(DIET_ADULTS), na_rm=True)
    check("ratio_ca_mg_diet_adults", ratio.tidy(), check_n=False)
    check("glm_linear_adults", svyglm("vitd ~ age + sex + bmi", adults).tidy())
    logit = svyglm("vitd_lt50 ~ age + sex + race + bmi + pir", adults, family="quasibinomial")
    check("glm_logit_adults", logit.tidy())
    tests = [regtermtest(logit, "race"), regtermtest(logit, "sex")]
    tests.append(regtermtest(logit, ["race", "bmi"]))
    tidy = pl.concat([t.tidy().with_columns(n=pl.lit(t.num_df, pl.Int64)) for t in tests])
    check("regtermtest_logit_adults", tidy, columns=("statistic", "p_value", "df"))
    return worst


# ---------------------------------------------------------------------- construction
def test_hadamard_matches_r(rgolden: Golden) -> None:
    """survey:::hadamard(n) for n = 0..200: order, and three positional checksums."""
    for term, row in rgolden.case("hadamard").items():
        n = int(term.removeprefix("n="))
        h = hadamard(n).astype(np.int64)
        i = np.arange(1, h.shape[0] + 1)[:, None]
        j = np.arange(1, h.shape[1] + 1)[None, :]
        got = (h.shape[0], (h * i * j).sum(), (h * i * i * j).sum(), h.sum())
        want = (row["estimate"], row["std_error"], row["statistic"], row["p_value"])
        assert got == want, f"hadamard({n})"
        assert h.shape == (h.shape[0], h.shape[0]) and h.shape[0] > n
        signs = 2 * h - 1
        assert np.array_equal(signs.T @ signs, h.shape[0] * np.eye(h.shape[0], dtype=np.int64))


def test_synthetic_small_and_large_strata_rules(rgolden: Golden) -> None:
    """R's brrweights small/large rules, strata ordered as text, PSUs by first row."""
    syn = golden_data.synthetic_strata()
    even = syn.filter(pl.col("str") != 3)  # no 3-PSU stratum: large="split" works

    def design(frame: pl.DataFrame) -> SurveyDesign:
        return SurveyDesign(frame, strata="str", psu="psu", weights="w", lonely_psu="remove")

    cases = {
        "syn_brr_split_split": as_svrepdesign(design(even), "BRR", small="split", large="split"),
        "syn_fay_merge_merge": as_svrepdesign(
            design(syn), "Fay", fay_rho=0.5, small="merge", large="merge"
        ),
        "syn_fay_merge_split": as_svrepdesign(
            design(even), "Fay", fay_rho=0.3, small="merge", large="split"
        ),
        "syn_brr_split_merge": as_svrepdesign(design(syn), "BRR", small="split", large="merge"),
    }
    for name, rep in cases.items():
        _assert_design(rgolden, f"{name}:design", rep)
    with pytest.raises(DesignError, match="single PSU"):
        as_svrepdesign(design(syn), "BRR", large="merge")  # small="fail", as R
    with pytest.raises(DesignError, match="odd number of PSUs"):
        as_svrepdesign(design(syn), "BRR", small="split")  # large="split", as R


@pytest.mark.parametrize("lonely", ["remove", "adjust", "average", "certainty"])
def test_synthetic_jkn_lonely_psu(rgolden: Golden, lonely: str) -> None:
    syn = golden_data.synthetic_strata()
    design = SurveyDesign(syn, strata="str", psu="psu", weights="w", lonely_psu=lonely)  # type: ignore[arg-type]
    rep = as_svrepdesign(design, "JKn")
    _assert_design(rgolden, f"syn_jkn_{lonely}:design", rep)
    rgolden.assert_matches(f"syn_jkn_{lonely}:mean_x", svymean("x", rep).tidy(), rel=REL)


def test_synthetic_jk1_and_errors(rgolden: Golden) -> None:
    syn = golden_data.synthetic_strata()
    one = SurveyDesign(syn.filter(pl.col("str") == 100), strata="str", psu="psu", weights="w")
    _assert_design(rgolden, "syn_jk1:design", as_svrepdesign(one, "JK1"))
    stratified = SurveyDesign(syn, strata="str", psu="psu", weights="w", lonely_psu="remove")
    with pytest.raises(DesignError, match="JK1"):
        as_svrepdesign(stratified, "JK1")
    with pytest.raises(DesignError, match="fay_rho"):
        as_svrepdesign(stratified, "Fay")
    # BRR with rho > 0 is Fay, as in R
    assert as_svrepdesign(stratified, "BRR", fay_rho=0.3, small="split", large="merge").type == (
        "Fay"
    )


@mirror
def test_exam_designs_match_r(exam: pl.DataFrame, rgolden: Golden) -> None:
    mec, diet = _exam_designs(exam)
    worst = {
        "fay": _assert_design(rgolden, "fay_exam:design", as_svrepdesign(mec, "Fay", fay_rho=0.3)),
        "jkn": _assert_design(rgolden, "jkn_exam:design", as_svrepdesign(mec)),
        "brr": _assert_design(rgolden, "brr_exam:design", as_svrepdesign(mec, "BRR")),
        "fay_diet": _assert_design(
            rgolden, "fay_exam_diet:design", as_svrepdesign(diet, "Fay", fay_rho=0.3)
        ),
    }
    _report("exam designs (column sums of the replicate weights)", worst)


@mirror
def test_pooled_designs_match_r(pooled: pl.DataFrame, rgolden: Golden) -> None:
    """2009-2012: strata 100-103 come before 75 (text order); the 3-PSU strata need merge."""
    mec, _ = _pooled_designs(pooled)
    with pytest.raises(DesignError, match="large='merge'"):
        as_svrepdesign(mec, "Fay", fay_rho=0.3)  # R: "Can't split with odd numbers of PSUs"
    fay = as_svrepdesign(mec, "Fay", fay_rho=0.3, large="merge")
    jkn = as_svrepdesign(mec, "JKn")
    worst = {
        "fay": _assert_design(rgolden, "fay_pooled:design", fay),
        "jkn": _assert_design(rgolden, "jkn_pooled:design", jkn),
    }
    _report("pooled designs (column sums of the replicate weights)", worst)
    assert sorted(set(np.round(jkn.rscales, 12))) == [round(1 / 2, 12), round(2 / 3, 12)]


# ---------------------------------------------------------------------- estimators
@mirror
@pytest.mark.parametrize("kind", ["fay", "jkn"])
def test_exam_estimators_match_r(exam: pl.DataFrame, rgolden: Golden, kind: str) -> None:
    mec, diet = _exam_designs(exam)
    if kind == "fay":
        rep, drep = (
            as_svrepdesign(mec, "Fay", fay_rho=0.3),
            as_svrepdesign(diet, "Fay", fay_rho=0.3),
        )
    else:
        rep, drep = as_svrepdesign(mec, "JKn"), as_svrepdesign(diet, "JKn")
    worst = _run_cases(rgolden, f"{kind}_exam:", rep, drep)
    _report(f"{kind}_exam", worst)


@mirror
@pytest.mark.parametrize("kind", ["fay", "jkn"])
def test_pooled_estimators_match_r(pooled: pl.DataFrame, rgolden: Golden, kind: str) -> None:
    mec, diet = _pooled_designs(pooled)
    if kind == "fay":
        rep = as_svrepdesign(mec, "Fay", fay_rho=0.3, large="merge")
        drep = as_svrepdesign(diet, "Fay", fay_rho=0.3, large="merge")
    else:
        rep, drep = as_svrepdesign(mec, "JKn"), as_svrepdesign(diet, "JKn")
    worst = _run_cases(rgolden, f"{kind}_pooled:", rep, drep)
    _report(f"{kind}_pooled", worst)


@mirror
def test_mse_and_converted_domain(exam: pl.DataFrame, rgolden: Golden) -> None:
    mec, _ = _exam_designs(exam)
    fay_mse = as_svrepdesign(mec, "Fay", fay_rho=0.3, mse=True)
    adults = fay_mse.subset(ADULTS)
    worst = {}
    worst["mean_vitd_adults"] = rgolden.assert_matches(
        "fay_mse_exam:mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy(), rel=REL
    )
    fit = svyglm("vitd_lt50 ~ age + sex + race + bmi + pir", adults, family="quasibinomial")
    worst["glm_logit_adults"] = rgolden.assert_matches(
        "fay_mse_exam:glm_logit_adults", fit.tidy(), rel=REL
    )
    # converting a domain of the Taylor design keeps the domain (zero weights outside) and,
    # as R, builds the replicates from the domain's rows: PSUs ordered by their first adult
    # (another Hadamard assignment than the subset of the converted design: other SEs)
    converted = as_svrepdesign(mec.subset(ADULTS), "Fay", fay_rho=0.3)
    assert int(converted.domain.sum()) == int(exam.select(ADULTS.sum()).item())
    worst["mean_vitd_adults_converted_domain"] = rgolden.assert_matches(
        "fay_exam:mean_vitd_adults_converted_domain",
        svymean("vitd", converted, na_rm=True).tidy(),
        rel=REL,
    )
    _report("fay_mse_exam", worst)
    subset_se = svymean("vitd", as_svrepdesign(mec, "Fay", fay_rho=0.3).subset(ADULTS), na_rm=True)
    assert float(subset_se.std_error[0]) != pytest.approx(
        rgolden.case("fay_exam:mean_vitd_adults_converted_domain")["vitd"]["std_error"], rel=1e-6
    )


def _with_columns(
    exam: pl.DataFrame, rep: ReplicateDesign, prefix: str, factors: bool
) -> pl.DataFrame:
    """R's replicate weights as columns (ours: their column sums equal R's, tested above)."""
    w = rep.replicate_weights / rep.weights[:, None] if factors else rep.replicate_weights
    return exam.with_columns(
        pl.Series(f"{prefix}{r + 1}", w[:, r]) for r in range(rep.n_replicates)
    )


@mirror
def test_svrepdesign_from_columns(exam: pl.DataFrame, rgolden: Golden) -> None:
    """svrepdesign(): JKn with rscales and mse, Fay from weights and from factors, "other"."""
    mec, _ = _exam_designs(exam)
    jkn = as_svrepdesign(mec, "JKn")
    fay = as_svrepdesign(mec, "Fay", fay_rho=0.3)
    assert np.all(mec.weights > 0)  # so the factors are the analysis weights / weights
    jk_cols = _with_columns(exam, jkn, "jkw", factors=False)
    fay_cols = _with_columns(exam, fay, "fw", factors=False)
    factor_cols = _with_columns(exam, fay, "ff", factors=True)
    designs = {
        "svrep_jkn_mse": svrepdesign(
            jk_cols, weights="wt_mec", repweights="jkw[0-9]+", type="JKn", scale=1,
            rscales=jkn.rscales, mse=True,
        ),
        "svrep_fay": svrepdesign(
            fay_cols, weights="wt_mec", repweights="^fw", type="Fay", fay_rho=0.3
        ),
        "svrep_fay_factors": svrepdesign(
            factor_cols, weights="wt_mec", repweights="^ff", type="Fay", fay_rho=0.3,
            combined_weights=False,
        ),
        "svrep_other": svrepdesign(
            fay_cols, weights="wt_mec", repweights=[f"fw{r}" for r in range(1, 17)],
            type="other", scale=0.1, rscales=np.tile([0.5, 1.5], 8), mse=True,
        ),
    }  # fmt: skip
    for case, rep in designs.items():
        worst = {"design (column sums)": _assert_design(rgolden, f"{case}:design", rep)}
        adults = rep.subset(ADULTS)
        worst["mean_vitd_adults"] = rgolden.assert_matches(
            f"{case}:mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy(), rel=REL
        )
        worst["total_vitd_lt50_adults"] = rgolden.assert_matches(
            f"{case}:total_vitd_lt50_adults",
            svytotal("vitd_lt50", adults, na_rm=True).tidy(),
            rel=REL,
        )
        worst["glm_linear_adults"] = rgolden.assert_matches(
            f"{case}:glm_linear_adults", svyglm("vitd ~ age + sex + bmi", adults).tidy(), rel=REL
        )
        _report(case, worst)
    with pytest.raises(DesignError, match="rscales"):
        svrepdesign(jk_cols, weights="wt_mec", repweights="^jkw", type="JKn")
    with pytest.raises(DesignError, match="update"):
        designs["svrep_fay"].update(fw1=pl.lit(1.0))


@mirror
def test_bootstrap_structure_and_seed(exam: pl.DataFrame) -> None:
    """Not R's numbers (R's RNG): resampled PSU counts per stratum, R's scale, a seed."""
    mec, _ = _exam_designs(exam)
    boot = as_svrepdesign(mec, "bootstrap", replicates=40, seed=1)
    again = as_svrepdesign(mec, "bootstrap", replicates=40, seed=1)
    other = as_svrepdesign(mec, "bootstrap", replicates=40, seed=2)
    assert boot.n_replicates == 40 and boot.type == "bootstrap"
    assert np.array_equal(boot.replicate_weights, again.replicate_weights)
    assert not np.array_equal(boot.replicate_weights, other.replicate_weights)
    # 2 PSUs per stratum: scale = 2 / ((2 - 1) (R - 1)), rscales 1
    assert boot.scale == pytest.approx(2 / 39, rel=1e-15)
    assert np.all(boot.rscales == 1)
    factors = boot.replicate_weights / mec.weights[:, None]
    frame = pl.DataFrame({"s": exam["sdmvstra"], "p": exam["sdmvpsu"]})
    psu_rows = frame.with_row_index().group_by("s", "p").agg(pl.col("index").first())
    for s, rows in psu_rows.group_by("s"):
        f = factors[rows["index"].to_numpy()]
        assert np.allclose(f.sum(axis=0), 2), f"stratum {s}: a replicate draws 2 PSUs"
        assert set(np.round(f.ravel(), 12)) <= {0.0, 1.0, 2.0}
    m = svymean("vitd", boot.subset(ADULTS), na_rm=True)
    assert 0.5 < float(m.std_error[0]) < 2.5  # Fay and JKn give ~1.1


# ---------------------------------------------------------------------- the design object
@mirror
def test_domains_updates_and_repr(exam: pl.DataFrame) -> None:
    mec, _ = _exam_designs(exam)
    fay = as_svrepdesign(mec, "Fay", fay_rho=0.3)
    adults = fay.subset(ADULTS)
    assert len(adults) == len(fay) == exam.height
    dom = adults.domain_replicate_weights
    assert np.all(dom[~adults.domain] == 0)
    assert np.array_equal(dom[adults.domain], fay.replicate_weights[adults.domain])
    nested = adults.subset(pl.col("sex") == "2")
    assert int(nested.domain.sum()) == exam.filter(ADULTS & (pl.col("sex") == "2")).height
    updated = adults.update(vitd_nmol=pl.col("vitd") * 1.0)
    a = svymean("vitd_nmol", updated, na_rm=True).tidy()
    b = svymean("vitd", adults, na_rm=True).tidy()
    assert a["estimate"].to_list() == b["estimate"].to_list()
    assert a["std_error"].to_list() == b["std_error"].to_list()
    assert "vitd_nmol" not in adults.frame.columns
    with pytest.raises(DesignError, match="design variable"):
        fay.update(wt_mec=pl.lit(1.0))
    text = repr(adults)
    assert "type='Fay', rho=0.3, 16 replicates" in text and "df=15" in text
    with pytest.raises(EstimationError, match="replicate design"):
        svyquantile("vitd", mec, [0.5], na_rm=True, interval_type="quantile")
    # Taylor-only functions (svycoxph) say what they need; hasattr() stays False
    assert not hasattr(fay, "domain_rows")
    with pytest.raises(EstimationError, match="needs a SurveyDesign"):
        fay.psu_index  # noqa: B018


@mirror
def test_replicate_variance_api_for_outside_estimators(exam: pl.DataFrame) -> None:
    """What usual intake uses: the weights of a domain, replicate_variance of its estimates."""
    mec, _ = _exam_designs(exam)
    adults = as_svrepdesign(mec, "Fay", fay_rho=0.3).subset(ADULTS)
    vitd = adults.values("vitd")
    ok = ~np.isnan(vitd)
    x = np.where(ok, vitd, 0.0)
    w = np.where(ok, adults.domain_weights, 0.0)
    reps = adults.domain_replicate_weights * ok[:, None]
    theta = (w @ x) / w.sum()
    thetas = (reps.T @ x) / reps.sum(axis=0)
    v = replicate_variance(theta, thetas, adults)
    want = svymean("vitd", adults, na_rm=True)
    assert v.shape == (1, 1)
    assert math.sqrt(v[0, 0]) == pytest.approx(float(want.std_error[0]), rel=1e-12)
    full, each = adults.replicate_estimates(lambda wt: np.average(x, weights=wt * ok))
    assert full[0] == pytest.approx(theta, rel=1e-13)
    assert np.allclose(each[:, 0], thetas, rtol=1e-13)
    # mse=True centres on the full-sample estimate; NaN replicates are dropped as R does
    centred = ((thetas - theta) ** 2).sum() * adults.scale
    mse = ReplicateDesign(
        exam, weights="wt_mec", repweights=adults.replicate_weights, type="Fay",
        scale=adults.scale, rscales=1.0, mse=True, fay_rho=0.3,
    )  # fmt: skip
    assert replicate_variance(theta, thetas, mse)[0, 0] == pytest.approx(centred, rel=1e-12)
    broken = thetas.copy()
    broken[3] = np.nan
    with pytest.warns(SurveyWarning, match="discarded"):
        replicate_variance(theta, broken, adults)
    with pytest.raises(EstimationError, match="shape"):
        replicate_variance(theta, thetas[:5], adults)
