"""SurveyDesign.update(): the same estimates as a design built from scratch, original unchanged.

"The same" is exact: an updated design shares the original's encodings, a design built from
scratch makes its own, and the estimates must agree to the last bit (tidy frames ``equals``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import DesignError
from nhanes_mg.survey import SurveyDesign, svycoxph, svyglm, svymean, svytotal

DESIGN = dict(strata="sdmvstra", psu="sdmvpsu", weights="wt_mec")


def _frame(n_strata: int = 8, per_psu: int = 40, seed: int = 5) -> pl.DataFrame:
    """A toy sample in a shuffled row order (PSUs interleaved, as in NHANES files)."""
    rng = np.random.default_rng(seed)
    n = n_strata * 2 * per_psu
    age = rng.uniform(20, 85, n)
    hazard = np.exp(-5 + 0.04 * age)
    t = rng.exponential(1 / hazard)
    frame = pl.DataFrame(
        {
            "sdmvstra": np.repeat(np.arange(1, n_strata + 1) + 30, 2 * per_psu),
            "sdmvpsu": np.tile(np.repeat([1, 2], per_psu), n_strata),
            "wt_mec": rng.uniform(500, 3000, n),
            "age": age,
            "sex": rng.choice(["1", "2"], n),
            "race": rng.choice(["1", "2", "3", "4", "5"], n),
            "bmi": np.where(rng.uniform(size=n) < 0.05, np.nan, rng.normal(28, 5, n)),
            "mg": rng.normal(300, 80, n),
            "months": np.minimum(np.ceil(t), 120),
            "died": (t <= 120).astype(np.int64),
        }
    ).with_columns(
        pl.when(pl.col("bmi").is_nan()).then(None).otherwise(pl.col("bmi")).alias("bmi"),
        low=(pl.col("age") / 100 + pl.Series(rng.uniform(0, 1, n)) > 0.95).cast(pl.Float64),
    )
    return frame.sample(fraction=1.0, shuffle=True, seed=seed)


NEW = {
    "mg_cat": pl.when(pl.col("mg") < 250)
    .then(pl.lit("low"))
    .when(pl.col("mg") < 350)
    .then(pl.lit("mid"))
    .otherwise(pl.lit("high")),
    "trend": pl.col("mg") / 100,
    "older": (pl.col("age") >= 60).cast(pl.Float64),
}
ADULTS = pl.col("age") >= 30


def _pair(frame: pl.DataFrame) -> tuple[SurveyDesign, SurveyDesign, SurveyDesign]:
    """(original domain, its update, the same domain built from scratch on the new frame)."""
    base = SurveyDesign(frame, **DESIGN).subset(ADULTS)
    svymean("age", base)  # encode some columns first: the update shares them
    updated = base.update(**NEW)
    scratch = SurveyDesign(frame.with_columns(**NEW), **DESIGN).subset(ADULTS)
    return base, updated, scratch


def test_update_equals_design_from_scratch() -> None:
    _, updated, scratch = _pair(_frame())
    for estimate in (
        lambda d: svymean(["trend", "older", "mg_cat"], d),
        lambda d: svytotal("older", d),
        lambda d: svyglm("low ~ mg_cat + trend + age + sex + race + bmi", d,
                         family="quasibinomial", reference={"mg_cat": "low"}),
        lambda d: svyglm("trend ~ older + race + bmi", d),
        lambda d: svycoxph("Surv(months, died) ~ mg_cat + age + sex + bmi", d),
        # domains of the updated design, also on the new columns
        lambda d: svymean("trend", d.subset(pl.col("mg_cat") == "high")),
        lambda d: svyglm("low ~ trend + age", d.subset(pl.col("older") == 1),
                         family="quasibinomial"),
        lambda d: svycoxph("Surv(months, died) ~ trend + age", d.subset(pl.col("sex") == "2")),
    ):  # fmt: skip
        assert estimate(updated).tidy().equals(estimate(scratch).tidy())


def test_update_leaves_the_original_unchanged() -> None:
    frame = _frame()
    base = SurveyDesign(frame, **DESIGN).subset(ADULTS)
    before = svyglm("low ~ age + sex + mg", base, family="quasibinomial").tidy()
    mean_before = svymean("mg", base).tidy()
    updated = base.update(mg=pl.col("mg") * 2, extra=pl.lit(1.0))
    # the original: same frame, same estimates, no new column
    assert base.frame is frame and "extra" not in base.frame.columns
    assert svyglm("low ~ age + sex + mg", base, family="quasibinomial").tidy().equals(before)
    assert svymean("mg", base).tidy().equals(mean_before)
    # the update sees the replaced column (not the original's cached encoding of it)
    doubled = svymean("mg", updated)
    assert doubled.estimate[0] == pytest.approx(2 * mean_before["estimate"][0], rel=1e-14)
    assert doubled.std_error[0] == pytest.approx(2 * mean_before["std_error"][0], rel=1e-12)
    assert svymean("extra", updated).estimate[0] == 1.0


def test_update_shares_the_sample_and_keeps_the_domain() -> None:
    base = SurveyDesign(_frame(), **DESIGN).subset(ADULTS)
    updated = base.update(older=(pl.col("age") >= 60))
    assert updated.weights is base.weights
    assert updated.domain is base.domain
    assert updated.psu_index is base.psu_index
    assert (updated.df, updated.n_strata, updated.n_psu) == (base.df, base.n_strata, base.n_psu)
    # updates chain; a later update's columns do not leak into the earlier one
    again = updated.update(older2=pl.col("older").cast(pl.Float64) * 2)
    assert "older2" not in updated.frame.columns
    assert svymean("older2", again).estimate[0] == pytest.approx(
        2 * svymean(pl.col("older").cast(pl.Float64), updated).estimate[0], rel=1e-14
    )


def test_update_accepts_series_arrays_and_scalars() -> None:
    frame = _frame()
    base = SurveyDesign(frame, **DESIGN)
    values = frame["mg"].to_numpy() / 100
    updated = base.update(
        from_array=values, from_series=pl.Series("ignored_name", values), constant=3.0
    )
    a = svymean("from_array", updated).tidy().drop("term")
    assert a.equals(svymean("from_series", updated).tidy().drop("term"))
    assert a.equals(svymean(pl.lit(pl.Series(values)), base).tidy().drop("term"))
    assert svymean("constant", updated).estimate[0] == 3.0


def test_update_rejects_bad_input() -> None:
    base = SurveyDesign(_frame(), **DESIGN)
    with pytest.raises(DesignError, match="at least one"):
        base.update()
    with pytest.raises(DesignError, match="design variable"):
        base.update(wt_mec=pl.col("wt_mec") * 2)
    with pytest.raises(DesignError, match="has 3 values"):
        base.update(short=pl.Series([1.0, 2.0, 3.0]))
    with pytest.raises(DesignError, match="cannot evaluate"):
        base.update(bad=pl.col("no_such_column") + 1)


def test_reweighted_equals_design_from_scratch_and_shares_the_sample() -> None:
    """A replicate's weights on a domain design that has encoded its columns: the estimates
    (and their design-based SEs) of a design built anew with those weights, pooled alike."""
    frame = _frame().with_columns(cycle=pl.Series(np.arange(_frame().height) % 2))
    rng = np.random.default_rng(11)
    other = frame["wt_mec"].to_numpy() * rng.choice([0.3, 1.7], frame.height)
    other[:7] = 0.0  # rows out of the replicate stay in the design, as everywhere
    base = SurveyDesign.pooled(frame, cycle_col="cycle", weights="wt_mec").subset(ADULTS)
    model = "low ~ mg + age + sex + race + bmi"
    svyglm(model, base, family="quasibinomial")  # encode the model's columns first
    reweighted = base.reweighted(other).update(trend=pl.col("mg") / 100)
    scratch = (
        SurveyDesign.pooled(
            frame.with_columns(wt_mec=pl.Series(other), trend=pl.col("mg") / 100),
            cycle_col="cycle", weights="wt_mec", allow_zero_weights=True,
        ).subset(ADULTS)
    )  # fmt: skip
    for estimate in (
        lambda d: svyglm(model, d, family="quasibinomial"),
        lambda d: svyglm("trend ~ older + race + bmi", d.update(**NEW)),
        lambda d: svymean(["mg", "trend"], d),
        lambda d: svytotal("low", d),
        lambda d: svycoxph("Surv(months, died) ~ trend + age", d),
    ):
        assert estimate(reweighted).tidy().equals(estimate(scratch).tidy())
    assert np.array_equal(reweighted.weights, other / 2) and reweighted.domain is base.domain
    assert reweighted.psu_index is base.psu_index and reweighted.df == scratch.df
    # the original keeps its weights (and its estimates)
    assert np.array_equal(base.weights, frame["wt_mec"].to_numpy() / 2)


def test_reweighted_rejects_bad_weights() -> None:
    base = SurveyDesign(_frame(), **DESIGN)
    n = len(base)
    for weights, match in (
        (np.ones(n - 1), "weights for a design of"),
        (np.full(n, -1.0), "non-negative"),
        (np.zeros(n), "one positive"),
        (np.r_[np.nan, np.ones(n - 1)], "finite"),
    ):
        with pytest.raises(DesignError, match=match):
            base.reweighted(weights)


@pytest.mark.mirror
def test_update_on_nhanes_equals_design_from_scratch(
    pooled: pl.DataFrame, mortality: pl.DataFrame
) -> None:
    """The golden datasets: a logistic model, a Cox model, a mean and a domain."""
    mg = pl.col("magnesium")
    new = {
        "mg_q": pl.when(mg < 250).then(pl.lit("a")).when(mg < 350).then(pl.lit("b"))
        .when(mg.is_not_null()).then(pl.lit("c")),
        "mg100": mg / 100,
    }  # fmt: skip
    domain = (pl.col("age") >= 20) & (pl.col("drstz") == 1)
    kwargs = dict(strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1", n_cycles=3)
    base = SurveyDesign(pooled, allow_zero_weights=True, **kwargs).subset(domain)  # type: ignore[arg-type]
    formula = "vitd_lt50 ~ mg_q + age + sex + race + educ + bmi + pir + kcal1000 + cycle"
    svyglm(formula.replace("mg_q", "mg_cat"), base, family="quasibinomial")  # warm the cache
    updated = base.update(**new)
    scratch = SurveyDesign(
        pooled.with_columns(**new),
        allow_zero_weights=True,
        **kwargs,  # type: ignore[arg-type]
    ).subset(domain)
    for estimate in (
        lambda d: svyglm(formula, d, family="quasibinomial", reference={"race": "3"}),
        lambda d: svymean("mg100", d, na_rm=True),
        lambda d: svymean("vitd", d.subset(pl.col("mg_q") == "a"), na_rm=True),
    ):
        assert estimate(updated).tidy().equals(estimate(scratch).tidy())

    adults = (pl.col("age") >= 20) & pl.col("eligible")
    cox_base = SurveyDesign.pooled(mortality, cycle_col="cycle", weights="wt_mec").subset(adults)
    cox_new = {"vitd_q": (pl.col("vitd") < 50).cast(pl.Float64), "age10": pl.col("age") / 10}
    cox_updated = cox_base.update(**cox_new)
    cox_scratch = SurveyDesign.pooled(
        mortality.with_columns(**cox_new), cycle_col="cycle", weights="wt_mec"
    ).subset(adults)
    cox = "Surv(months, died) ~ age10 + sex + race + bmi + vitd_q"
    assert (
        svycoxph(cox, cox_updated, reference={"race": "3"})
        .tidy()
        .equals(svycoxph(cox, cox_scratch, reference={"race": "3"}).tidy())
    )
