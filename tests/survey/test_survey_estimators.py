"""Means, totals, proportions, ratios, quantiles and svyby against R's survey (golden.csv)."""

from __future__ import annotations

import polars as pl
import pytest

from nhanes_mg.survey import (
    SurveyDesign,
    svyby,
    svyciprop,
    svymean,
    svyquantile,
    svyratio,
    svytotal,
)

from golden_data import Golden

pytestmark = pytest.mark.mirror

ADULTS = pl.col("age") >= 20
OLD_WOMEN = (pl.col("age") >= 60) & (pl.col("sex") == "2")


@pytest.fixture(scope="module")
def design(exam: pl.DataFrame) -> SurveyDesign:
    return SurveyDesign(exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def test_mean_overall_and_in_domains(design: SurveyDesign, golden: Golden) -> None:
    golden.assert_matches("mean_vitd_all", svymean("vitd", design, na_rm=True).tidy())
    adults = design.subset(ADULTS)
    golden.assert_matches("mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy())
    old = design.subset(OLD_WOMEN)
    golden.assert_matches("mean_vitd_old_women", svymean("vitd", old, na_rm=True).tidy())
    two = svymean(["vitd", "bmi"], adults, na_rm=True)
    golden.assert_matches("mean_two_vars_adults", two.tidy())


def test_domain_keeps_design(design: SurveyDesign) -> None:
    """Filtering rows first gives the same mean but (in general) a different SE."""
    adults = design.subset(ADULTS)
    assert len(adults) == len(design)
    assert adults.n_psu == design.n_psu


def test_total_and_categorical_proportions(design: SurveyDesign, golden: Golden) -> None:
    adults = design.subset(ADULTS)
    golden.assert_matches(
        "total_vitd_lt50_adults", svytotal("vitd_lt50", adults, na_rm=True).tidy()
    )
    golden.assert_matches("prop_race_adults", svymean("race", adults).tidy())


def test_ciprop_logit_and_wald(design: SurveyDesign, golden: Golden) -> None:
    adults = design.subset(ADULTS)
    cols = ("estimate", "std_error", "conf_low", "conf_high", "df")
    logit = svyciprop("vitd_lt50", adults, na_rm=True)
    golden.assert_matches("ciprop_logit_adults", logit.tidy(), columns=cols)
    wald = svyciprop("vitd_lt50", adults, method="wald", na_rm=True)
    golden.assert_matches("ciprop_mean_adults", wald.tidy(), columns=cols)
    # an expression works as well as a 0/1 column
    old = svyciprop(pl.col("vitd") < 50, design.subset(OLD_WOMEN), na_rm=True)
    golden.assert_matches(
        "ciprop_logit_old_women",
        old.tidy(),
        rename=lambda t: "vitd_lt50",
        columns=cols,
        check_n=False,
    )


def test_ratio_on_diet_weights(exam: pl.DataFrame, golden: Golden) -> None:
    diet = SurveyDesign(
        exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1", allow_zero_weights=True
    )
    dom = diet.subset((pl.col("age") >= 20) & (pl.col("drstz") == 1))
    ratio = svyratio("calcium", "magnesium", dom, na_rm=True)
    golden.assert_matches("ratio_ca_mg_diet_adults", ratio.tidy(), check_n=False)
    golden.assert_matches("mean_mg_diet_adults", svymean("magnesium", dom, na_rm=True).tidy())


def test_zero_weights_warn(exam: pl.DataFrame) -> None:
    with pytest.warns(UserWarning, match="wt_diet1 == 0"):
        SurveyDesign(exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1")


def _quantile_name(term: str) -> str:
    return term.split("[q=")[1].rstrip("]")


def test_quantiles_match_r_default(design: SurveyDesign, golden: Golden) -> None:
    """qrule 'math' estimates and Woodruff ('mean') intervals, t with the design df."""
    adults = design.subset(ADULTS)
    cols = ("estimate", "std_error", "conf_low", "conf_high")
    q = svyquantile("vitd", adults, [0.1, 0.25, 0.5, 0.75, 0.9], na_rm=True)
    golden.assert_matches("quantile_vitd_adults", q.tidy(), rename=_quantile_name, columns=cols)
    q = svyquantile("vitd", design.subset(OLD_WOMEN), [0.5], na_rm=True)
    golden.assert_matches("quantile_vitd_old_women", q.tidy(), rename=_quantile_name, columns=cols)
    q = svyquantile("bmi", design, [0.25, 0.5, 0.75], na_rm=True)
    golden.assert_matches("quantile_bmi_all", q.tidy(), rename=_quantile_name, columns=cols)


def test_svyby_sex(design: SurveyDesign, golden: Golden) -> None:
    by = svyby("vitd", "sex", design.subset(ADULTS), svymean, na_rm=True)
    golden.assert_matches(
        "by_sex_mean_vitd_adults",
        by.tidy(),
        rename=lambda t: t.split(":")[0],
        columns=("estimate", "std_error", "df"),
    )
    groups = by.extra["groups"]
    assert isinstance(groups, pl.DataFrame)
    assert groups["sex"].to_list() == ["1", "2"]


def test_pooled_cycles(pooled: pl.DataFrame, golden: Golden) -> None:
    design = SurveyDesign.pooled(pooled, cycle_col="cycle", weights="wt_mec")
    assert design.n_cycles == 3
    adults = design.subset(ADULTS)
    golden.assert_matches("pooled_mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy())
    first = adults.subset(pl.col("cycle") == "2001-2002")
    golden.assert_matches(
        "pooled_prop_vitd_lt50_by_cycle_2001", svymean("vitd_lt50", first, na_rm=True).tidy()
    )
    q = svyquantile("vitd", adults, [0.5], na_rm=True)
    golden.assert_matches(
        "pooled_quantile_vitd_adults",
        q.tidy(),
        rename=_quantile_name,
        columns=("estimate", "std_error", "conf_low", "conf_high"),
    )
    # the plain constructor with n_cycles gives the same design
    same = SurveyDesign(
        pooled, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec", n_cycles=3
    ).subset(ADULTS)
    a = svymean("vitd", adults, na_rm=True).tidy()
    b = svymean("vitd", same, na_rm=True).tidy()
    assert a.equals(b)
