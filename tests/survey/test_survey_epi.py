"""svychisq, svypredmeans, svystandardize and svykm against R's survey (golden_epi.csv).

Golden cases (``tests/golden/survey/make_golden_epi.R``, survey 4.1-1), on NHANES 2005-2006 exam
participants (DEMO_D + VID_D + BMX_D + DIQ_D, ``golden_data.epi_exam_2005_2006``) and the
2005-2006 linked mortality file (``epi_mortality_2005_2006``); every value is compared at a
relative tolerance of 1e-6 (``REL``), none looser:

- ``svychisq``: vitamin D category (deficient < 30, insufficient 30-49, sufficient >= 50
  nmol/L) x race/ethnicity, all ages and adults, with the F (Rao-Scott second order), Chisq
  (first order), Wald and adjusted Wald statistics; diagnosed diabetes x sex (2 x 2); BMI
  category x vitamin D category among women (a domain of a domain);
- ``svypredmeans``: prevalence of vitamin D < 50 nmol/L by BMI category from a quasibinomial
  model on age and sex (the rows with a missing BMI are averaged over, as in R), and mean
  vitamin D by race/ethnicity from a linear model on age, sex and BMI; with the covariances of
  the margins and R's added variance term;
- ``svystandardize``: prevalence of vitamin D < 50 nmol/L and of diagnosed diabetes by sex,
  standardized to the 2000 U.S. standard population over ages 20-39/40-59/60+, with and
  without ``excluding_missing``, over the whole domain (``over = ~1``), and mean vitamin D by
  race/ethnicity; the standardized weight totals of each age x sex cell;
- ``svykm``: mortality of adults by sex (and overall) with ``se = TRUE`` at every event time
  and at 12, 36, 60, 84 and 108 months, and the product-limit curves (``se = FALSE``).

Run ``pytest tests/survey/test_survey_epi.py -k golden -s`` to print the worst relative
difference of every case. The unit tests need no mirror.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import DesignError, EstimationError
from nhanes_mg.survey.chisq import svychisq
from nhanes_mg.survey.design import SurveyDesign, SurveyWarning
from nhanes_mg.survey.estimators import svyby, svymean
from nhanes_mg.survey.glm import svyglm
from nhanes_mg.survey.km import svykm
from nhanes_mg.survey.predmeans import svypredmeans
from nhanes_mg.survey.standardize import (
    US2000_ADULT,
    US2000_STANDARD,
    US2000_STANDARD_WEIGHTS,
    StandardizedDesign,
    nchs_adult_age_group,
    nchs_age_group,
    svystandardize,
)

import golden_data
from golden_data import GOLDEN_EPI_CSV, Golden

REL = 1e-6
TIMES = (12, 36, 60, 84, 108)


def _same(term: str) -> str:
    return term


def _report(case: str, worst: float) -> None:
    print(f"\n{case}: worst relative difference vs R {worst:.2e}")


# ------------------------------------------------------------------ fixtures (real mirror)


@pytest.fixture(scope="module")
def epi_golden() -> Golden:
    return Golden(GOLDEN_EPI_CSV)


def _checked(name: str, frame: pl.DataFrame, golden: Golden, extra=()) -> pl.DataFrame:
    for key, value in golden_data.epi_checks(name, frame, extra).items():
        expected = golden.check(key)
        assert value == pytest.approx(expected, rel=1e-12), f"{key}: {value} vs R {expected}"
    return frame


@pytest.fixture(scope="module")
def epi_exam(mirror_dir: Path, epi_golden: Golden) -> pl.DataFrame:
    return _checked("epi_exam_2005_2006", golden_data.epi_exam_2005_2006(mirror_dir), epi_golden)


@pytest.fixture(scope="module")
def epi_design(epi_exam: pl.DataFrame) -> SurveyDesign:
    return SurveyDesign(epi_exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


@pytest.fixture(scope="module")
def epi_adults(epi_design: SurveyDesign) -> SurveyDesign:
    return epi_design.subset(pl.col("age") >= 20)


@pytest.fixture(scope="module")
def mortality_adults(mirror_dir: Path, epi_golden: Golden) -> SurveyDesign:
    frame = _checked(
        "epi_mortality_2005_2006",
        golden_data.epi_mortality_2005_2006(mirror_dir),
        epi_golden,
        ("months", "died"),
    )
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    return design.subset((pl.col("age") >= 20) & pl.col("eligible"))


def _assert_scalars(golden: Golden, case: str, values: dict[str, float]) -> float:
    """Golden rows ``term`` -> ``estimate`` of a case (infinite values must be equal)."""
    expected = golden.case(case)
    assert sorted(expected) == sorted(values), case
    worst = 0.0
    for term, got in values.items():
        exp = expected[term]["estimate"]
        if math.isinf(exp):
            assert got == exp, f"{case} {term}: {got} vs R {exp}"
            continue
        assert got == pytest.approx(exp, rel=REL, abs=0), f"{case} {term}: {got} vs R {exp}"
        if exp != 0:
            worst = max(worst, abs(got - exp) / abs(exp))
    return worst


# ------------------------------------------------------------------ svychisq (golden)

CHISQ_CASES = [
    ("chisq_F_vitdcat_race_all", "all", "~vitd_cat + race", "F"),
    ("chisq_Chisq_vitdcat_race_all", "all", "~vitd_cat + race", "Chisq"),
    ("chisq_Wald_vitdcat_race_all", "all", "~vitd_cat + race", "Wald"),
    ("chisq_adjWald_vitdcat_race_all", "all", "~vitd_cat + race", "adjWald"),
    ("chisq_F_vitdcat_race_adults", "adults", "~vitd_cat + race", "F"),
    ("chisq_Chisq_vitdcat_race_adults", "adults", "~vitd_cat + race", "Chisq"),
    ("chisq_F_diabetes_sex_adults", "adults", "~diabetes + sex", "F"),
    ("chisq_F_bmicat_vitdcat_women", "women", "~bmi_cat + vitd_cat", "F"),
]


@pytest.mark.mirror
@pytest.mark.parametrize(("case", "domain", "formula", "statistic"), CHISQ_CASES)
def test_golden_svychisq(
    epi_design: SurveyDesign,
    epi_adults: SurveyDesign,
    epi_golden: Golden,
    case: str,
    domain: str,
    formula: str,
    statistic: str,
) -> None:
    design = {
        "all": epi_design,
        "adults": epi_adults,
        "women": epi_adults.subset(pl.col("sex") == "2"),
    }[domain]
    test = svychisq(formula, design, statistic)  # type: ignore[arg-type]
    got = {"statistic": test.statistic, "ndf": test.ndf, "ddf": test.ddf, "p_value": test.p_value}
    _report(case, _assert_scalars(epi_golden, case, got))
    tidy = test.tidy()
    assert tidy["statistic"][0] == test.statistic and tidy["test"][0] == statistic


# ------------------------------------------------------------------ svypredmeans (golden)


def _assert_margins(golden: Golden, case: str, result) -> float:
    worst = golden.assert_matches(case, result.tidy(), rename=_same, rel=REL)
    for key, row in golden.case(case + ":vcov").items():
        a, b = key.split("|")
        got = result.vcov[result.terms.index(a), result.terms.index(b)]
        assert got == pytest.approx(row["estimate"], rel=REL, abs=0), f"{case} cov {key}"
        worst = max(worst, abs(got - row["estimate"]) / abs(row["estimate"]))
    for term, row in golden.case(case + ":addvar").items():
        j = result.terms.index(term)
        got = result.extra["addvar"][j, j]
        assert got == pytest.approx(row["estimate"], rel=REL, abs=0), f"{case} addvar {term}"
        worst = max(worst, abs(got - row["estimate"]) / abs(row["estimate"]))
    return worst


@pytest.mark.mirror
def test_golden_predmeans_logistic(epi_adults: SurveyDesign, epi_golden: Golden) -> None:
    fit = svyglm("vitd_lt50 ~ age + sex", epi_adults, family="quasibinomial")
    margins = svypredmeans(fit, "bmi_cat", epi_adults)
    assert margins.terms == ["1_lt25", "2_25to30", "3_ge30"]
    case = "predmeans_logit_vitdlt50_bmicat"
    _report(case, _assert_margins(epi_golden, case, margins))
    # the refit has the group; its rows exclude the missing BMI, the averaged rows do not
    model = margins.extra["model"]
    assert int(model.n[0]) < int(margins.n[0]) == int(fit.n[0])


@pytest.mark.mirror
def test_golden_predmeans_linear(epi_adults: SurveyDesign, epi_golden: Golden) -> None:
    fit = svyglm("vitd ~ age + sex + bmi", epi_adults)
    margins = svypredmeans(fit, "race", epi_adults)
    case = "predmeans_linear_vitd_race"
    _report(case, _assert_margins(epi_golden, case, margins))


# ------------------------------------------------------------------ svystandardize (golden)


def _by_term(term: str) -> str:
    return term.split(":")[0]  # "sex=1: vitd_lt50" -> "sex=1"


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("case", "outcome", "over", "excluding"),
    [
        ("standardize_vitdlt50_by_sex", "vitd_lt50", "sex", "vitd_lt50"),
        ("standardize_diabetes_by_sex", "diabetes", "sex", "diabetes"),
        ("standardize_vitdlt50_by_sex_all_rows", "vitd_lt50", "sex", None),
        ("standardize_vitd_by_race", "vitd", "race", "vitd"),
    ],
)
def test_golden_standardize_by(
    epi_adults: SurveyDesign,
    epi_golden: Golden,
    case: str,
    outcome: str,
    over: str,
    excluding: str | None,
) -> None:
    std = svystandardize(epi_adults, "agecat", over, US2000_ADULT, excluding_missing=excluding)
    result = svyby(outcome, over, std, svymean, na_rm=True)
    _report(case, epi_golden.assert_matches(case, result.tidy(), rename=_by_term, rel=REL))


@pytest.mark.mirror
def test_golden_standardize_overall_and_weights(
    epi_adults: SurveyDesign, epi_golden: Golden
) -> None:
    std = svystandardize(
        epi_adults, "agecat", None, list(US2000_ADULT.values()), excluding_missing="vitd_lt50"
    )
    case = "standardize_vitdlt50_overall"
    worst = epi_golden.assert_matches(case, svymean("vitd_lt50", std, na_rm=True).tidy(), rel=REL)
    _report(case, worst)
    std = svystandardize(epi_adults, "agecat", "sex", US2000_ADULT, excluding_missing="vitd_lt50")
    frame = std.frame
    got = {}
    for s in ("1", "2"):
        for a in US2000_ADULT:
            sel = (
                std.domain
                & ((frame["sex"] == s) & (frame["agecat"] == a)).fill_null(False).to_numpy()
            )
            got[f"sex={s},agecat={a}"] = float(std.weights[sel].sum())
    _report("standardize_vitdlt50_weights", _assert_scalars(
        epi_golden, "standardize_vitdlt50_weights", got))  # fmt: skip


# ------------------------------------------------------------------ svykm (golden)


def _km_frame(frame: pl.DataFrame, label: str | None = None) -> pl.DataFrame:
    """The curve as golden rows: term ``sex=1:t=12``, std_error = R's sqrt(varlog)."""
    prefix = pl.lit(f"{label}:") if label else pl.lit("sex=") + pl.col("group") + pl.lit(":")
    return frame.select(
        term=prefix + pl.lit("t=") + pl.col("time").cast(pl.Int64).cast(pl.String),
        estimate="survival",
        std_error="std_error_log",
        conf_low="conf_low",
        conf_high="conf_high",
        n=pl.col("n_event") if "n_event" in frame.columns else pl.lit(None, pl.Int64),
    )


KM_COLUMNS = ("estimate", "std_error", "conf_low", "conf_high")


@pytest.mark.mirror
def test_golden_km_se_by_sex(mortality_adults: SurveyDesign, epi_golden: Golden) -> None:
    km = svykm("months", "died", mortality_adults, group="sex", se=True)
    worst = epi_golden.assert_matches(
        "km_se_by_sex", _km_frame(km.tidy()), rename=_same, rel=REL, columns=KM_COLUMNS
    )
    _report("km_se_by_sex", worst)
    at = km.at(TIMES)
    worst = epi_golden.assert_matches(
        "km_se_by_sex:at", _km_frame(at), rename=_same, rel=REL, columns=KM_COLUMNS,
        check_n=False,
    )  # fmt: skip
    _report("km_se_by_sex:at", worst)
    tidy = km.tidy()
    assert np.allclose(tidy["std_error"], tidy["survival"] * tidy["std_error_log"], rtol=1e-15)


@pytest.mark.mirror
def test_golden_km_se_overall(mortality_adults: SurveyDesign, epi_golden: Golden) -> None:
    km = svykm("months", "died", mortality_adults)
    assert km.tidy()["group"].null_count() == km.tidy().height
    worst = epi_golden.assert_matches(
        "km_se_overall", _km_frame(km.tidy(), "all"), rename=_same, rel=REL, columns=KM_COLUMNS
    )
    _report("km_se_overall", worst)
    worst = epi_golden.assert_matches(
        "km_se_overall:at", _km_frame(km.at(TIMES), "all"), rename=_same, rel=REL,
        columns=KM_COLUMNS, check_n=False,
    )  # fmt: skip
    _report("km_se_overall:at", worst)


@pytest.mark.mirror
def test_golden_km_product_limit(mortality_adults: SurveyDesign, epi_golden: Golden) -> None:
    km = svykm("months", "died", mortality_adults, group="sex", se=False)
    worst = epi_golden.assert_matches(
        "km_by_sex", _km_frame(km.tidy()), rename=_same, rel=REL, columns=("estimate",),
        check_n=False,
    )  # fmt: skip
    worst = max(worst, epi_golden.assert_matches(
        "km_by_sex:at", _km_frame(km.at(TIMES)), rename=_same, rel=REL, columns=("estimate",),
        check_n=False,
    ))  # fmt: skip
    _report("km_by_sex", worst)


# ------------------------------------------------------------------ unit tests (synthetic)


@pytest.fixture(scope="module")
def toy() -> SurveyDesign:
    rng = np.random.default_rng(21)
    n = 900
    age = rng.integers(1, 86, n)
    sex = rng.choice(["1", "2"], n)
    group = rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-1 + 0.02 * age + 0.5 * (group == "c") + 0.3 * x)))
    t = rng.exponential(300 / (1 + age / 40), n)
    frame = pl.DataFrame(
        {
            "sdmvstra": np.repeat(np.arange(1, 16), 60),
            "sdmvpsu": np.tile(np.repeat([1, 2], 30), 15),
            "wt_mec": rng.uniform(1, 4, n),
            "age": age,
            "sex": sex,
            "grp": group,
            "x": x,
            "y": (rng.uniform(size=n) < p).astype(float),
            "z": 2 * x + rng.normal(size=n) + (group == "b"),
            "months": np.minimum(np.ceil(t), 120).astype(float),
            "died": (t <= 120).astype(int),
        }
    ).with_columns(nchs_adult_age_group("age"))
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def test_chisq_is_symmetric_and_checks_input(toy: SurveyDesign) -> None:
    a = svychisq("~grp + sex", toy)
    b = svychisq(["sex", "grp"], toy)
    assert a.statistic == pytest.approx(b.statistic, rel=1e-12)
    assert a.ndf == pytest.approx(b.ndf, rel=1e-12) and a.ddf == pytest.approx(b.ddf, rel=1e-12)
    assert a.ddf == pytest.approx(a.ndf * toy.df, rel=1e-15)
    chisq = svychisq("grp + sex", toy, statistic="Chisq")
    assert chisq.statistic == a.pearson and chisq.ddf == math.inf and chisq.ndf == 2
    assert a.table.height == 6 and a.table["total"].sum() == pytest.approx(toy.weights.sum())
    with pytest.raises(EstimationError, match="two-way"):
        svychisq("~grp + sex + age", toy)
    with pytest.raises(EstimationError, match="statistic"):
        svychisq("~grp + sex", toy, statistic="lincom")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match="1 level"):
        svychisq("~grp + sex", toy.subset(pl.col("sex") == "1"))


def test_chisq_of_a_column_equals_chisq_of_its_expression_for_every_type(
    toy: SurveyDesign,
) -> None:
    """A column of the frame is a factor from its cached encoding, an expression by polars:
    the same levels, labels, table and test for text, Enum, integer, float (NaN and null
    missing), boolean (null missing) columns, in a domain."""
    rng = np.random.default_rng(3)
    n = toy.frame.height
    frame = toy.frame.with_columns(
        grp_enum=pl.col("grp").cast(pl.Enum(["c", "a", "b"])),  # not in sorted order
        band=pl.Series(rng.integers(0, 3, n)),
        share=pl.Series(np.where(rng.uniform(size=n) < 0.1, np.nan, rng.integers(0, 3, n) / 2)),
        flag=pl.Series([None if u < 0.05 else bool(u < 0.5) for u in rng.uniform(size=n)]),
    ).with_columns(
        share=pl.when(pl.int_range(pl.len()) % 17 == 0).then(None).otherwise(pl.col("share"))
    )
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    domain = design.subset(pl.col("age") >= 20)
    for column in ("grp", "grp_enum", "band", "share", "flag"):
        fast = svychisq([column, "sex"], domain)
        slow = svychisq([pl.col(column).alias(column), "sex"], domain)
        assert fast.table.equals(slow.table), column
        assert fast.statistic == pytest.approx(slow.statistic, rel=1e-13), column
        assert fast.p_value == pytest.approx(slow.p_value, rel=1e-13), column
    levels = svychisq(["grp_enum", "sex"], domain).table["grp_enum"].unique(maintain_order=True)
    assert levels.to_list() == ["c", "a", "b"]  # an Enum's levels in its order, as R's factor


def test_chisq_wald_and_first_order_agree_on_a_2x2(toy: SurveyDesign) -> None:
    f = svychisq("~y + sex", toy, statistic="F")
    assert f.ndf == pytest.approx(1.0, rel=1e-12)  # a 2 x 2 table: one design effect
    first = svychisq("~y + sex", toy, statistic="Chisq")
    assert first.p_value == pytest.approx(f.p_value, rel=0.2)  # chi2 vs F(1, nu)
    wald = svychisq("~y + sex", toy, statistic="Wald")
    adj = svychisq("~y + sex", toy, statistic="adjWald")
    assert wald.ndf == adj.ndf == 1 and adj.ddf == toy.df
    assert adj.statistic == pytest.approx(wald.statistic, rel=1e-12)  # (nu - 1 + 1) / nu = 1


def test_predmeans_without_covariates_are_the_group_means(toy: SurveyDesign) -> None:
    fit = svyglm("z ~ 1", toy)
    margins = svypredmeans(fit, "grp", toy)
    means = svyby("z", "grp", toy, svymean)
    assert np.allclose(margins.estimate, means.estimate, rtol=1e-12, atol=0)
    assert margins.terms == ["a", "b", "c"] and margins.method == "predmeans"
    only = svypredmeans(fit, "grp", toy, levels=["c", "a"])
    assert only.terms == ["c", "a"]
    assert only.estimate[0] == pytest.approx(margins.estimate[2], rel=1e-14)
    assert math.isinf(svypredmeans(fit, "grp", toy, df=math.inf).df[0])


def test_predmeans_logistic_margins_and_errors(toy: SurveyDesign) -> None:
    fit = svyglm("y ~ age + x", toy, family="quasibinomial")
    margins = svypredmeans(fit, "grp", toy)
    assert np.all((margins.estimate > 0) & (margins.estimate < 1))
    vcov = margins.vcov
    assert np.allclose(vcov, margins.extra["addvar"] + margins.extra["meanvar"], rtol=1e-14)
    with_group = svyglm("y ~ age + x + grp", toy, family="quasibinomial")
    with pytest.raises(EstimationError, match=r"already in the adjustment model|rank"):
        svypredmeans(with_group, "grp", toy)
    with pytest.raises(EstimationError, match="pass the design"):
        svypredmeans(fit, "grp")
    with pytest.raises(EstimationError, match="rows"):
        svypredmeans(fit, "grp", toy.subset(pl.col("age") > 30))
    with pytest.raises(EstimationError, match="not in the design"):
        svypredmeans(fit, "nope", toy)


def test_standardize_weights_follow_the_standard(toy: SurveyDesign) -> None:
    adults = toy.subset(pl.col("age") >= 20)
    std = svystandardize(adults, "agecat", "sex", US2000_ADULT)
    assert isinstance(std, StandardizedDesign)
    frame = std.frame
    total = sum(US2000_ADULT.values())
    for s in ("1", "2"):
        group = std.domain & (frame["sex"] == s).to_numpy()
        assert std.weights[group].sum() == pytest.approx(adults.weights[group].sum(), rel=1e-12)
        for a, pop in US2000_ADULT.items():
            cell = group & (frame["agecat"] == a).fill_null(False).to_numpy()
            share = std.weights[cell].sum() / std.weights[group].sum()
            assert share == pytest.approx(pop / total, rel=1e-12)
    # the standardized mean is the standard-weighted average of the age-specific means
    for s in ("1", "2"):
        women = std.subset(pl.col("sex") == s)
        assert isinstance(women, StandardizedDesign)
        est = svymean("y", women).estimate[0]
        by_age = [svymean("y", adults.subset((pl.col("sex") == s) & (pl.col("agecat") == a)))
                  for a in US2000_ADULT]  # fmt: skip
        direct = sum(
            p / total * m.estimate[0] for p, m in zip(US2000_ADULT.values(), by_age, strict=True)
        )
        assert est == pytest.approx(direct, rel=1e-12)
    assert "StandardizedDesign(" in repr(std)


def test_standardize_variance_treats_the_standard_as_fixed(toy: SurveyDesign) -> None:
    adults = toy.subset(pl.col("age") >= 20)
    std = svystandardize(adults, "agecat", "sex", US2000_ADULT)
    women = svymean("y", std.subset(pl.col("sex") == "2"))
    total = sum(US2000_ADULT.values())
    # Var(sum_a P_a mean_a) from the joint covariance of the age-specific means
    rows = adults.domain & (adults.frame["sex"] == "2").to_numpy()
    y = adults.values("y")
    w = adults.weights
    influence = np.zeros((len(w), 3))
    for j, a in enumerate(US2000_ADULT):
        cell = rows & (adults.frame["agecat"] == a).fill_null(False).to_numpy()
        mean = (w[cell] @ y[cell]) / w[cell].sum()
        influence[cell, j] = w[cell] * (y[cell] - mean) / w[cell].sum()
    props = np.array(list(US2000_ADULT.values())) / total
    var = props @ adults.variance(influence) @ props
    assert women.std_error[0] == pytest.approx(math.sqrt(var), rel=1e-10)


def test_standardize_checks_population_and_refuses_svyglm(toy: SurveyDesign) -> None:
    adults = toy.subset(pl.col("age") >= 20)
    with pytest.raises(DesignError, match="missing value"):
        svystandardize(toy, "agecat", "sex", US2000_ADULT)  # children have no adult group
    with pytest.raises(DesignError, match="not in the data"):
        svystandardize(adults, "agecat", "sex", {**US2000_ADULT, "85+": 1})
    with pytest.raises(DesignError, match="3 level"):
        svystandardize(adults, "agecat", "sex", [1.0, 2.0])
    std = svystandardize(adults, "agecat", "sex", US2000_ADULT)
    with pytest.raises(EstimationError, match="standardization"):
        svyglm("y ~ x", std, family="quasibinomial")
    lone = adults.subset(~((pl.col("sex") == "2") & (pl.col("agecat") == "60+")))
    with pytest.warns(SurveyWarning, match="absent from the sample"):
        svystandardize(lone, "agecat", "sex", US2000_ADULT)


def test_standard_population_constants() -> None:
    total = sum(US2000_ADULT.values())
    assert total == 195_850  # the NCHS tutorial's total for ages 20 and over
    assert round(US2000_ADULT["20-39"] / total, 6) == 0.396579  # the tutorial's P/T
    assert sum(US2000_STANDARD_WEIGHTS.values()) == pytest.approx(1.0, abs=1e-12)
    all_ages = sum(US2000_STANDARD.values())
    for key, count in US2000_STANDARD.items():
        assert count / all_ages == pytest.approx(US2000_STANDARD_WEIGHTS[key], abs=1e-6)
    assert list(US2000_STANDARD) == sorted(US2000_STANDARD)  # sorted order = age order
    ages = pl.DataFrame({"age": [0, 1, 4, 5, 14, 15, 24, 25, 64, 65, 84, 85, 99]})
    groups = ages.select(nchs_age_group("age"))["agegroup"].to_list()
    assert groups == ["00", "01-04", "01-04", "05-14", "05-14", "15-24", "15-24", "25-34",
                      "55-64", "65-74", "75-84", "85+", "85+"]  # fmt: skip


def test_km_product_limit_equals_classic_km_with_equal_weights() -> None:
    frame = pl.DataFrame(
        {
            "sdmvstra": [1] * 6 + [2] * 6,
            "sdmvpsu": [1, 1, 1, 2, 2, 2] * 2,
            "w": [2.0] * 12,
            "t": [1.0, 2, 2, 3, 4, 5, 5, 6, 7, 8, 8, 9],
            "d": [1, 1, 0, 1, 0, 1, 1, 0, 1, 1, 1, 0],
        }
    )
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
    km = svykm("t", "d", design, se=False).tidy()
    at_risk, surv, expected = 12, 1.0, [1.0]
    for time in sorted(set(frame["t"].to_list())):
        rows = frame.filter(pl.col("t") == time)
        surv *= 1 - rows["d"].sum() / at_risk
        at_risk -= rows.height
        expected.append(surv)
    assert np.allclose(km["survival"], expected, rtol=1e-14)
    assert km["time"][0] == 0 and km["n_risk"][0] == 12
    se = svykm("t", "d", design).tidy()
    deaths = frame.filter(pl.col("d") == 1).group_by("t").len().sort("t")
    hazard = 0.0
    for (time, d), s in zip(deaths.iter_rows(), se["survival"], strict=True):
        hazard += d / frame.filter(pl.col("t") >= time).height
        assert s == pytest.approx(math.exp(-hazard), rel=1e-14)
    assert bool((se["conf_high"] <= 1).all()) and bool((se["conf_low"] < se["survival"]).all())
    early = svykm("t", "d", design).at([0.5, 100])
    assert early["survival"].to_list()[0] == 1.0 and early["std_error"].to_list()[0] == 0.0
    assert early["survival"][1] == se["survival"][-1]


def test_km_groups_domains_and_errors(toy: SurveyDesign) -> None:
    km = svykm("months", "died", toy, group="sex")
    assert km.tidy()["group"].unique().sort().to_list() == ["1", "2"]
    women = svykm("months", "died", toy.subset(pl.col("sex") == "2")).tidy()
    both = km.tidy().filter(pl.col("group") == "2")
    assert np.allclose(both["survival"], women["survival"], rtol=1e-14)
    assert np.allclose(both["std_error"], women["std_error"], rtol=1e-12)
    with pytest.raises(EstimationError, match="0/1"):
        svykm("months", "age", toy)
    with pytest.raises(EstimationError, match="SurveyDesign"):
        svykm("months", "died", toy.frame)  # type: ignore[arg-type]
