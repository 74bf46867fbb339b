"""study/imputation.py: MICE with predictive mean matching under the design. A simulation in
which a covariate is missing at random given the outcome: the complete-case slope is biased,
the multiply imputed one (micombine of svyglm fits) is not; the same seed gives the same
imputations; categories stay categories; bad input is one line. The fast paths against
their plain versions: each way to the k nearest against every distance, the radix order
against numpy's stable argsort, the cross-products kept up to date against X'X made anew;
a missing row predicted beyond every observed one draws among the k most extreme."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.study import imputation
from nhanes_mg.study.imputation import impute
from nhanes_mg.survey import SurveyDesign, micombine, svyglm
from run_support import ShippedResult


def _simulate(rng: np.random.Generator, n: int = 3000) -> pl.DataFrame:
    x = rng.normal(0, 1, n)
    z = 0.5 * x + rng.normal(0, 1, n)
    y = 1 + 2 * x + 0.5 * z + rng.normal(0, 1.5, n)
    # x missing at random given the outcome: mostly where y is high
    p_missing = 1 / (1 + np.exp(-(y - 2.5)))
    x_seen = np.where(rng.random(n) < p_missing, np.nan, x)
    group = np.where(z > 0.3, "high", np.where(z < -0.5, "low", "mid"))
    group_seen = np.where(rng.random(n) < 0.1, None, group)
    return pl.DataFrame(
        {
            "y": y, "x": pl.Series(x_seen).fill_nan(None), "z": z, "group": group_seen,
            "sdmvstra": np.repeat(np.arange(1, 11), n // 10), "sdmvpsu": np.tile([1, 2], n // 2),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )  # fmt: skip


def _slope(frame: pl.DataFrame) -> float:
    design = SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")
    return svyglm("y ~ x + z", design).coef["x"]


def test_imputation_removes_the_bias_of_complete_cases() -> None:
    rng = np.random.default_rng(5)
    complete_case, imputed, fmi = [], [], []
    for i in range(8):
        frame = _simulate(rng)
        complete_case.append(_slope(frame))
        imps = impute(frame, ["x"], predictors=["y", "z"], weight="w", m=10, seed=i)
        design = [SurveyDesign(f, strata="sdmvstra", psu="sdmvpsu", weights="w")
                  for f in imps.frames]  # fmt: skip
        combined = micombine([svyglm("y ~ x + z", d) for d in design])
        imputed.append(combined.coef["x"])
        assert combined.missing_information is not None
        fmi.append(float(combined.missing_information[1]))
    assert abs(np.mean(complete_case) - 2.0) > 0.15  # selection on the outcome biases it
    assert abs(np.mean(imputed) - 2.0) < 0.06  # tolerance: 3% of the true slope
    assert 0.05 < np.mean(fmi) < 0.6


def test_same_seed_same_imputations_and_categories_stay_categories() -> None:
    frame = _simulate(np.random.default_rng(6), 1000)
    first = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=42)
    again = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=42)
    other = impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=3, seed=43)
    assert all(a.equals(b) for a, b in zip(first.frames, again.frames, strict=True))
    assert not first.frames[0].equals(other.frames[0])
    assert not first.frames[0].equals(first.frames[1])  # independent chains
    assert first.counts == {"x": frame["x"].null_count(), "group": frame["group"].null_count()}
    for f in first.frames:
        assert f["group"].null_count() == 0 and set(f["group"].unique()) <= {"high", "low", "mid"}
        observed = frame["x"].drop_nulls().to_numpy()
        assert np.isin(f["x"].to_numpy(), observed).all()  # PMM: values someone reported
        # the observed values are untouched
        seen = frame["x"].is_not_null().to_numpy()
        np.testing.assert_array_equal(f["x"].to_numpy()[seen], frame["x"].to_numpy()[seen])


def test_bad_input_is_one_line() -> None:
    frame = _simulate(np.random.default_rng(7), 200)
    with pytest.raises(EstimationError, match="no column nope"):
        impute(frame, ["nope"], weight="w")
    with pytest.raises(EstimationError, match="x must be complete"):
        impute(frame, ["group"], predictors=["x"], weight="w")
    with pytest.raises(EstimationError, match="m must be at least 2"):
        impute(frame, ["x"], weight="w", m=1)
    with pytest.raises(EstimationError, match="no observed value"):
        impute(frame.with_columns(x=pl.lit(None, pl.Float64)), ["x"], weight="w")


def test_same_seed_same_imputations_on_the_fast_paths() -> None:
    """Big enough for the radix order (4,096 observed predictions) and the sorted path (more
    than 8 missing), with a categorical matched on its levels' predictions: run to run the
    same, bit for bit."""
    frame = _simulate(np.random.default_rng(8), 6000)
    assert frame["x"].null_count() > 1000
    runs = [
        impute(frame, ["x", "group"], predictors=["y", "z"], weight="w", m=2, seed=3)
        for _ in range(2)
    ]
    assert all(a.equals(b) for a, b in zip(runs[0].frames, runs[1].frames, strict=True))


def _problems(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Observed and missing predictions (dims × n): continuous, rounded (ties of value and of
    distance), missing ones beyond the observed, few and many rows, several dimensions."""
    out = []
    for trial in range(60):
        n, m = int(rng.integers(5, 9000)), int(rng.integers(1, 400))
        dims = 1 if trial % 3 else int(rng.integers(2, 5))
        obs, mis = rng.normal(size=(dims, n)), rng.normal(size=(dims, m)) * 1.5
        if trial % 2:
            obs, mis = np.round(obs, 1), np.round(mis, 1)
        if trial % 5 == 0:  # beyond every observed prediction, above and below
            mis[:, 0] = 40.0
            mis[:, -1] = -40.0
        out.append((obs, mis))
    return out


def test_every_way_to_the_nearest_gives_the_same_donors() -> None:
    """The sorted path (one dimension), the k-d tree (several) and the dispatch agree with
    every distance ranked (distance, value, row), ties and ends included."""
    for obs, mis in _problems(np.random.default_rng(9)):
        k = min(imputation.DONORS, obs.shape[1])
        every = imputation._brute_nearest(obs, mis, k)
        assert every.shape == (mis.shape[1], k)
        if obs.shape[0] == 1:
            fast = imputation._sorted_nearest(obs[0], mis[0], k)
        else:
            fast = imputation._tree_nearest(obs, mis, k)
        np.testing.assert_array_equal(fast, every)
        np.testing.assert_array_equal(imputation._k_nearest(obs, mis, k), every)
    # the rule itself, on a tie of distance (0.5 below and above: the lower value first) and
    # a tie of value (rows 1 and 3: the lower row first)
    obs = np.array([[0.0, 1.0, 2.0, 1.0, 5.0, 6.0, 7.0]])
    np.testing.assert_array_equal(
        imputation._brute_nearest(obs, np.array([[1.5]]), 5), [[1, 3, 2, 0, 4]]
    )


def test_order_is_numpys_stable_argsort() -> None:
    rng = np.random.default_rng(10)
    for trial in range(40):
        values = rng.normal(size=int(rng.integers(1, 20000)))
        if trial % 4 == 1:
            values = np.round(values, 2)  # ties: kept in row order
        if trial % 4 == 2:  # neighbours closer than the key's step (range / 2³²), ties
            values = values + rng.normal(size=len(values)) * 1e-12
            values[1::7] = values[0::7][: len(values[1::7])]
        if trial % 4 == 3:
            values[:3] = 1e12  # an outlier crowds the rest into few keys
        np.testing.assert_array_equal(imputation._order(values), np.argsort(values, kind="stable"))


def test_a_missing_row_beyond_every_observed_one_draws_among_the_k_most_extreme() -> None:
    """Predicted above (below) every observed row, a missing row's k nearest are the k
    highest (lowest) — not k copies of the single most extreme — and its donor is drawn
    among them: the old window of positions at-k … at+k-1, clipped, held copies of the last
    position and gave it every time."""
    obs = np.arange(20000, dtype=np.float64)[None, :] * 0.01
    rng = np.random.default_rng(11)
    obs = obs[:, rng.permutation(obs.shape[1])]  # rows not in the order of their values
    top = np.argsort(obs[0])[::-1][:5]
    bottom = np.argsort(obs[0])[:5]
    mis = np.array([[1e6] * 500 + [-1e6] * 500])
    nearest = imputation._k_nearest(obs, mis, 5)
    np.testing.assert_array_equal(nearest[:500], np.tile(top, (500, 1)))
    np.testing.assert_array_equal(nearest[500:], np.tile(bottom, (500, 1)))
    donors = imputation._nearest(obs, mis, np.random.default_rng(12))
    for rows, drawn in ((top, donors[:500]), (bottom, donors[500:])):
        assert set(drawn) == set(rows)
        counts = np.bincount(np.searchsorted(np.sort(rows), drawn), minlength=5)
        assert counts.min() > 60  # about 100 each of 500 draws


def test_cross_products_kept_up_to_date_equal_x_x_made_anew() -> None:
    """The products over the stable rows (made once) plus the volatile rows' (made each step)
    equal X'X, X'Y and Y'Y made from the whole design of the observed rows, strata as
    indicators, for each variable's model, whatever the imputed values; and the residual sum
    of squares taken from them equals the residuals' (the ridge included)."""
    rng = np.random.default_rng(13)
    frame = _simulate(rng, 600).with_columns(
        v=pl.when(pl.Series(rng.random(600) < 0.2))
        .then(None)
        .otherwise(pl.Series(rng.normal(size=600))),
        flag=pl.when(pl.Series(rng.random(600) < 0.1))
        .then(None)
        .otherwise(pl.Series(rng.random(600) < 0.5)),
    )
    targets = [imputation._encode(frame[c]) for c in ("x", "group", "v", "flag")]
    design = imputation._Design.of(frame, ["y", "z"], "w", "sdmvstra", "sdmvpsu", targets)
    matrix = design.matrix.copy()
    for t, at, spots in zip(design.targets, design.offsets, design.spots, strict=True):
        drawn = rng.choice(t.values[~t.missing], size=int(t.missing.sum()))
        matrix[at : at + t.width, spots] = t.columns(drawn)
    strata = (design.stratum[None, :] == np.arange(1, design.n_strata)[:, None]).astype(float)
    full = np.vstack([matrix, strata])  # every coordinate of the cross-products, a row each
    for model in design.models:
        assert model is not None
        kept = design.stable + imputation._cross(
            matrix[:, model.volatile], model.slots, design.n_strata
        )
        x = full[model.predictors][:, model.observed]
        y = full[model.responses][:, model.observed]
        np.testing.assert_allclose(
            kept[np.ix_(model.predictors, model.predictors)], x @ x.T, rtol=1e-10, atol=1e-10
        )
        np.testing.assert_allclose(
            kept[np.ix_(model.predictors, model.responses)], x @ y.T, rtol=1e-10, atol=1e-10
        )
        flat, width = kept.ravel(), len(model.predictors)
        xtx = flat[model.at_xtx].reshape(width, width)
        xty = flat[model.at_xty].reshape(width, -1)
        np.testing.assert_allclose(xtx, x @ x.T, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(flat[model.at_yy], (y * y).sum(axis=1), rtol=1e-10)
        ridge = 1e-5 * np.maximum(np.diag(xtx), 1e-12)
        beta = np.linalg.solve(xtx + np.diag(ridge), xty)
        rss = flat[model.at_yy] - np.einsum("ij,ij->j", beta, xty + ridge[:, None] * beta)
        np.testing.assert_allclose(rss, ((y - beta.T @ x) ** 2).sum(axis=1), rtol=1e-8)


@pytest.mark.mirror
def test_shipped_imputed_sensitivity_analyses(shipped_result: ShippedResult) -> None:
    """C4's joint model with its covariates multiply imputed: more participants than the
    complete cases, who was imputed said, the fraction of missing information in (0, 1), the
    combined df (Barnard–Rubin) below the design's."""
    result = shipped_result("C4")
    main = result.fit("deficiency_interaction")
    imputed = result.fit("deficiency_interaction", "imputed")
    assert main is not None and imputed is not None and imputed.error is None
    assert imputed.n > main.n and imputed.imputations == 20
    assert imputed.imputed_rows == imputed.n - main.n  # exactly the incomplete cases
    assert dict(imputed.imputed)["pir"] > 0
    assert imputed.missing_information is not None and 0 < imputed.missing_information < 1
    words = "participants with imputed values (family income to poverty ratio"
    assert words in imputed.imputed_text
    rows = result.table.filter(
        (pl.col("sensitivity") == "imputed") & (pl.col("role") == "stratum effect")
    )
    assert rows.height == 2 and (rows["df"] < 90).all() and (rows["df"] % 1 != 0).any()
