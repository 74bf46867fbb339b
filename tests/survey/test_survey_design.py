"""SurveyDesign: lonely PSUs (golden), pooled weights, domains and bad input (typed errors)."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import DesignError, EstimationError, NhanesError
from nhanes_mg.survey import (
    SurveyDesign,
    SurveyWarning,
    svyciprop,
    svycoxph,
    svyglm,
    svymean,
    svyquantile,
    svytotal,
)

from golden_data import Golden


def _toy(n_strata: int = 6, per_psu: int = 20, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_strata * 2 * per_psu
    return pl.DataFrame(
        {
            "sdmvstra": np.repeat(np.arange(1, n_strata + 1), 2 * per_psu),
            "sdmvpsu": np.tile(np.repeat([1, 2], per_psu), n_strata),
            "wt_mec": rng.uniform(1, 3, n),
            "x": rng.normal(size=n),
            "g": rng.choice(["a", "b"], n),
        }
    )


# ----------------------------------------------------------------- lonely PSUs against R
@pytest.mark.mirror
@pytest.mark.parametrize("option", ["remove", "adjust", "average", "certainty"])
def test_lonely_psu_options_match_r(lonely: pl.DataFrame, golden: Golden, option: str) -> None:
    design = SurveyDesign(
        lonely, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec", lonely_psu=option
    )  # type: ignore[arg-type]
    adults = design.subset(pl.col("age") >= 20)
    golden.assert_matches(
        f"lonely_{option}_mean_vitd_adults", svymean("vitd", adults, na_rm=True).tidy()
    )
    golden.assert_matches(
        f"lonely_{option}_total_vitd_lt50", svytotal("vitd_lt50", design, na_rm=True).tidy()
    )
    fit = svyglm("vitd ~ age + sex + bmi", adults)
    golden.assert_matches(f"lonely_{option}_glm_vitd", fit.tidy())


@pytest.mark.mirror
def test_lonely_psu_fail_names_strata(lonely: pl.DataFrame) -> None:
    with pytest.raises(DesignError, match=r"only one PSU \(sdmvstra = 50, 55\)"):
        SurveyDesign(lonely, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


# ----------------------------------------------------------------- structure
def test_df_and_pooled_weights() -> None:
    frame = _toy()
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    assert (d.n_strata, d.n_psu, d.df) == (6, 12, 6)
    d3 = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec", n_cycles=3)
    np.testing.assert_allclose(d3.weights * 3, d.weights)
    # a mean does not depend on the scaling of weights; a total does
    assert svymean("x", d3).estimate[0] == pytest.approx(svymean("x", d).estimate[0])
    assert svytotal("x", d3).estimate[0] == pytest.approx(svytotal("x", d).estimate[0] / 3)


def test_domain_variance_uses_full_design() -> None:
    """R's subset: rows outside the domain contribute zeros, PSU counts stay."""
    frame = _toy()
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    dom = d.subset(pl.col("g") == "a")
    est = svymean("x", dom)
    # hand computation with the full design
    w = np.where(frame["g"].to_numpy() == "a", frame["wt_mec"].to_numpy(), 0.0)
    x = frame["x"].to_numpy()
    m = (w * x).sum() / w.sum()
    z = w * (x - m) / w.sum()
    psu = frame["sdmvstra"].to_numpy() * 10 + frame["sdmvpsu"].to_numpy()
    totals = {p: z[psu == p].sum() for p in np.unique(psu)}
    var = 0.0
    for h in range(1, 7):
        t = np.array([totals[h * 10 + 1], totals[h * 10 + 2]])
        var += 2 * ((t - t.mean()) ** 2).sum()
    assert est.estimate[0] == pytest.approx(m, rel=1e-12)
    assert est.std_error[0] == pytest.approx(math.sqrt(var), rel=1e-10)
    # filtering the rows first would be a different (wrong) design: same mean
    filtered = SurveyDesign(
        frame.filter(pl.col("g") == "a"), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec"
    )
    assert svymean("x", filtered).estimate[0] == pytest.approx(m, rel=1e-12)


def test_subset_takes_the_conditions_specifications_write() -> None:
    """``design.subset("…")`` is the polars-expression subset, and what a specification may
    not hold (a file read, an unknown column) is one line before anything is evaluated."""
    frame = _toy()
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    by_text = d.subset("g = 'a' AND x > 0")
    by_expr = d.subset((pl.col("g") == "a") & (pl.col("x") > 0))
    assert (by_text.domain == by_expr.domain).all() and by_text.domain.any()
    assert svymean("x", by_text).estimate[0] == svymean("x", by_expr).estimate[0]
    assert svymean("x", by_text).std_error[0] == svymean("x", by_expr).std_error[0]
    with pytest.raises(NhanesError, match=r"the function read_csv\(\) is not allowed"):
        d.subset("read_csv('/etc/passwd') IS NULL")
    with pytest.raises(DesignError, match="cannot evaluate the subset condition"):
        d.subset("no_such_column > 1")


def test_tidy_columns_and_exponentiate() -> None:
    d = SurveyDesign(_toy(), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    tidy = svymean("x", d).tidy()
    assert tidy.columns == [
        "term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
        "df", "n",
    ]  # fmt: skip
    assert tidy["df"][0] == 6.0
    normal = svymean("x", d, df=math.inf).tidy()
    assert (
        normal["conf_high"][0] - normal["conf_low"][0] < tidy["conf_high"][0] - tidy["conf_low"][0]
    )


# ----------------------------------------------------------------- bad input
def test_missing_design_variable() -> None:
    with pytest.raises(DesignError, match="not in the frame: sdmvpsu"):
        SurveyDesign(_toy().drop("sdmvpsu"), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def test_missing_values_in_design_variables() -> None:
    frame = _toy().with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(None)
        .otherwise(pl.col("sdmvstra"))
        .alias("sdmvstra")
    )
    with pytest.raises(DesignError, match="'sdmvstra' has 1 missing"):
        SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    frame = _toy().with_columns(pl.lit(float("nan")).alias("wt_mec"))
    with pytest.raises(DesignError, match="'wt_mec' has"):
        SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def test_negative_and_zero_weights() -> None:
    frame = _toy().with_columns(
        pl.when(pl.int_range(pl.len()) == 0).then(-1.0).otherwise(pl.col("wt_mec")).alias("wt_mec")
    )
    with pytest.raises(DesignError, match="1 negative"):
        SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.raises(DesignError, match="zero for every row"):
        SurveyDesign(
            _toy().with_columns(wt_mec=pl.lit(0.0)),
            strata="sdmvstra",
            psu="sdmvpsu",
            weights="wt_mec",
        )
    frame = _toy().with_columns(
        pl.when(pl.int_range(pl.len()) < 5).then(0.0).otherwise(pl.col("wt_mec")).alias("wt_mec")
    )
    with pytest.warns(SurveyWarning, match="5 row"):
        d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    assert svymean("x", d).n[0] == frame.height - 5


def test_errors_are_nhanes_errors() -> None:
    assert issubclass(DesignError, NhanesError) and issubclass(EstimationError, NhanesError)


def test_empty_domain_raises() -> None:
    d = SurveyDesign(_toy(), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.warns(SurveyWarning, match="empty"):
        empty = d.subset(pl.col("g") == "zzz")
    for call in (
        lambda: svymean("x", empty),
        lambda: svytotal("x", empty),
        lambda: svyquantile("x", empty, [0.5]),
        lambda: svyglm("x ~ g", empty),
    ):
        with pytest.raises(EstimationError, match="empty"):
            call()


def test_missing_values_need_na_rm() -> None:
    frame = _toy().with_columns(
        pl.when(pl.int_range(pl.len()) % 7 == 0).then(None).otherwise(pl.col("x")).alias("x")
    )
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.raises(EstimationError, match="na_rm=True"):
        svymean("x", d)
    assert math.isfinite(svymean("x", d, na_rm=True).std_error[0])


def test_unknown_variable_and_bad_options() -> None:
    d = SurveyDesign(_toy(), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.raises(EstimationError, match="'nope'"):
        svymean("nope", d)
    with pytest.raises(DesignError, match="lonely_psu"):
        SurveyDesign(_toy(), strata="sdmvstra", psu="sdmvpsu", weights="wt_mec", lonely_psu="x")  # type: ignore[arg-type]
    with pytest.raises(EstimationError, match="other than 0 and 1"):
        svyciprop("x", d)


def test_separation_and_rank_deficiency() -> None:
    frame = _toy().with_columns(
        y=(pl.col("g") == "a").cast(pl.Int64), x2=pl.col("x") ** 2, x3=3 * pl.col("x") ** 2
    )
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.raises(EstimationError, match=r"complete separation.*g\[T.b\]"):
        svyglm("y ~ x + g", d, family="quasibinomial")
    with pytest.raises(EstimationError, match="rank deficient"):
        svyglm("x ~ x2 + x3 + g", d.subset(pl.lit(True)).subset(pl.col("x").is_not_null()))


def test_cox_bad_input() -> None:
    frame = _toy().with_columns(
        months=pl.int_range(pl.len()) % 50 + 1,
        died=(pl.int_range(pl.len()) % 5 == 0).cast(pl.Int64),
    )
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    with pytest.raises(EstimationError, match="Surv"):
        svycoxph("months ~ x", d)
    with pytest.raises(EstimationError, match="no events"):
        svycoxph("Surv(months, died) ~ x", d.subset(pl.col("died") == 0))
    fit = svycoxph("Surv(months, died) ~ x + g", d)
    assert fit.converged and fit.tidy().height == 2


def test_fast_model_matrix_equals_formulaic() -> None:
    from nhanes_mg.survey import model_matrix

    rng = np.random.default_rng(3)
    frame = _toy().with_columns(
        code=pl.Series(rng.choice([1, 2, 3, 4], 240)),
        fcode=pl.Series(rng.choice([1.0, 2.0, 3.0], 240)),
        y=pl.Series(rng.integers(0, 2, 240)),
    )
    d = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")
    for formula, ref in [
        ("y ~ x + g + code", {"code": 3}),
        ("y ~ g + x + fcode", {"fcode": 2.0, "g": "b"}),
        ("y ~ x", {}),
    ]:
        fast = model_matrix.build(d, formula, reference=ref)
        slow = model_matrix.build(d, formula, reference=ref, engine="formulaic")
        assert fast.columns == slow.columns
        assert fast.term_columns == slow.term_columns
        np.testing.assert_array_equal(fast.X, slow.X)
        np.testing.assert_array_equal(fast.y, slow.y)
        np.testing.assert_array_equal(fast.rows, slow.rows)
    for intercept in (True, False):
        fast = model_matrix.build(d, "~ x + g", extra=("y",), intercept=intercept)
        slow = model_matrix.build(
            d, "~ x + g", extra=("y",), intercept=intercept, engine="formulaic"
        )
        assert fast.columns == slow.columns and fast.term_columns == slow.term_columns
        np.testing.assert_array_equal(fast.X, slow.X)
