"""Natural spline terms (``ns()``) in survey formulas against R's splines and survey packages.

Golden values: ``tests/golden/survey/make_golden_splines.R`` → ``golden_splines.csv`` (real
NHANES tables, 17 significant digits). Tolerances:

- the basis itself (``ns_basis`` vs ``splines::ns`` at fixed points, no mirror needed):
  1e-12 relative to the largest basis value;
- everything else, relative 1e-6 (as the other golden tests): coefficients, SEs, intervals,
  statistics, p-values and df of ``svyglm``/``svycoxph`` fits with ``ns()`` terms (the basis
  equals R's exactly, so the coefficients are compared, not only basis-invariant
  quantities), the curve ``f(v) - f(300)`` with its SE and interval (``spline_curve``, which
  is basis-invariant), ``regtermtest`` of the spline term (overall association) and the test
  of non-linearity (``spline_nonlinearity``; R: the same model written as ``x`` + restricted
  cubic spline terms, ``regTermTest`` of the non-linear terms). Observed agreement is ~1e-11.

Cases: vitamin D deficiency (quasibinomial) and 25(OH)D (gaussian) on day-1 food magnesium,
adults with a reliable recall, 2005-2006, day-1 weights; all-cause mortality 2003-2006 (Cox);
knots fixed (200, 300, 400; boundary 100, 700), from ``df=`` (R's unweighted quantiles over
the domain's rows with x present), and design-weighted (``spline_knots``).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError
from nhanes_mg.survey import SurveyDesign, model_matrix, regtermtest, svycontrast, svycoxph, svyglm
from nhanes_mg.survey.spline_curve import spline_curve, spline_nonlinearity, spline_term
from nhanes_mg.survey.splines import NaturalSpline, ns_basis, parse, spline_knots

import golden_data
from golden_data import GOLDEN_DIR, Golden

REL = 1e-6
GOLDEN_SPLINES = GOLDEN_DIR / "golden_splines.csv"
NS = "ns(magnesium, knots=[200, 300, 400], Boundary.knots=[100, 700])"
LABEL = "ns(magnesium, knots = c(200, 300, 400), Boundary.knots = c(100, 700))"
AT = [50, 100, 150, 200, 250, 300, 350, 400, 500, 600, 700, 900]


@pytest.fixture(scope="module")
def gs() -> Golden:
    return Golden(GOLDEN_SPLINES)


# ------------------------------------------------------------------------------- the basis


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("ns_basis_fixed", {"knots": [200, 300, 400], "boundary_knots": [100, 700]}),
        (
            "ns_basis_intercept",
            {"knots": [200, 300, 400], "boundary_knots": [100, 700], "intercept": True},
        ),
        ("ns_basis_df5", {"df": 5}),
        ("ns_basis_one_knot", {"knots": [300], "boundary_knots": [0, 3000]}),
    ],
)
def test_basis_equals_r(gs: Golden, case: str, kwargs: dict) -> None:
    """Inside, on and beyond the boundary knots (linear extrapolation), with and without the
    intercept column, knots from df (type-7 quantiles): R's very columns."""
    rows = gs.case(case)
    points = sorted({float(k.split("|")[0]) for k in rows})
    k = max(int(t.split("|")[1]) for t in rows)
    expected = np.array([[rows[f"{x:.17g}|{j}"]["estimate"] for j in range(1, k + 1)]
                         for x in points])  # fmt: skip
    got = ns_basis(np.array(points), **kwargs)
    assert got.shape == expected.shape
    worst = np.abs(got - expected).max() / np.abs(expected).max()
    assert worst <= 1e-12
    _report(case, worst)


def test_basis_missing_values_and_errors() -> None:
    b = ns_basis([1.0, np.nan, 3.0], knots=[2.0], boundary_knots=[0.0, 4.0])
    assert np.isnan(b[1]).all() and np.isfinite(b[[0, 2]]).all()
    with pytest.raises(EstimationError, match="strictly between"):
        ns_basis([1.0, 2.0], knots=[5.0], boundary_knots=[0.0, 4.0])
    with pytest.raises(EstimationError, match="must differ"):
        ns_basis([1.0, 1.0])


def test_linear_direction() -> None:
    """The basis spans the straight lines: B c = x - lo, also beyond the boundary knots."""
    for intercept in (False, True):
        ns = NaturalSpline("x", (2.0, 3.5), (1.0, 6.0), intercept, "ns(x)")
        x = np.linspace(-5.0, 15.0, 41)
        assert np.allclose(ns.basis(x) @ ns.linear(), x - 1.0, atol=1e-10)


# ----------------------------------------------------------------------- formula and naming


@pytest.mark.parametrize(
    ("formula", "label"),
    [
        ("y ~ ns(x, knots=[200, 300], Boundary.knots=[50, 800])",
         "ns(x, knots = c(200, 300), Boundary.knots = c(50, 800))"),
        ("y ~ ns(x, knots = c(300))", "ns(x, knots = c(300))"),
        ("y ~ ns(x, knots=300)", "ns(x, knots = 300)"),
        ("y ~ ns(x,4)", "ns(x, 4)"),
        ("y ~ ns(x, df=4, intercept=T)", "ns(x, df = 4, intercept = T)"),
        ("y ~ ns(x, boundary_knots=[-1.5, 1e5])", "ns(x, Boundary.knots = c(-1.5, 1e+05))"),
        ("y ~ ns(x, knots=[0.0001, 1/4])", None),
    ],
)  # fmt: skip
def test_labels_as_r_deparses(formula: str, label: str | None) -> None:
    """Labels checked against R's ``deparse(quote(...))`` of the same calls."""
    if label is None:
        with pytest.raises(EstimationError, match="not a number"):
            parse(formula)
        return
    spline = parse(formula)
    assert spline is not None
    assert spline.calls[0].label == label


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("y ~ ns(x, df=3):z", "main effects"),
        ("y ~ log(ns(x, df=3))", "main effects"),
        ("y ~ ns(log(x), df=3)", "column name"),
        ("y ~ ns(x, df=3) + ns(x, df=2)", "collinear"),
        ("y ~ ns(x, degree=3)", "unknown argument"),
        ("y ~ ns(x, df=2.5)", "whole number"),
        ("y ~ z - ns(x, df=3)", "remove"),
        ("y ~ ns(x, Boundary.knots=[1])", "two numbers"),
    ],
)
def test_formula_errors(formula: str, message: str) -> None:
    with pytest.raises(EstimationError, match=message):
        parse(formula)


def test_no_spline_terms() -> None:
    assert parse("y ~ x + means(z)") is None
    assert parse("y ~ x + z") is None
    assert model_matrix.required_variables("y ~ ns(x, df=3) + C(g) + z") == ["g", "x", "y", "z"]


@pytest.fixture(scope="module")
def toy() -> SurveyDesign:
    rng = np.random.default_rng(7)
    n = 800
    x = rng.gamma(4.0, 60.0, n)
    z = rng.normal(size=n)
    grp = rng.choice(["a", "b", "c"], n)
    eta = -1 + 0.004 * x - 0.000006 * (x - 200) ** 2 + 0.3 * z + 0.4 * (grp == "b")
    x[rng.choice(n, 25, replace=False)] = np.nan
    frame = pl.DataFrame({
        "sdmvstra": np.repeat(np.arange(1, 11), n // 10), "sdmvpsu": np.tile([1, 2], n // 2),
        "w": rng.uniform(1, 4, n), "x": x, "z": z, "grp": grp,
        "y": (rng.uniform(size=n) < 1 / (1 + np.exp(-eta))).astype(float),
        "yl": eta + rng.normal(size=n), "t": rng.exponential(10, n).round() + 1,
        "d": (rng.uniform(size=n) < 0.3).astype(int),
    }).with_columns(pl.col("x").fill_nan(None))  # fmt: skip
    return SurveyDesign(frame, strata="sdmvstra", psu="sdmvpsu", weights="w")


def _with_basis(design: SurveyDesign, ns: NaturalSpline) -> SurveyDesign:
    """The design with the basis as plain columns b1..bk (what R's model.frame holds)."""
    x = design.frame["x"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    basis = np.full((len(x), ns.df), np.nan)
    ok = ~np.isnan(x)
    basis[ok] = ns.basis(x[ok])
    cols = {f"b{j + 1}": pl.Series(basis[:, j]).fill_nan(None) for j in range(ns.df)}
    return SurveyDesign(
        design.frame.with_columns(**cols), strata="sdmvstra", psu="sdmvpsu", weights="w"
    )


def test_engines_and_column_order(toy: SurveyDesign) -> None:
    """The fast path, formulaic, and the cell representation give the same matrix; the basis
    takes the place of the term, as in R's column order."""
    formula = "y ~ z + ns(x, knots=[150, 250, 350]) + grp"
    label = "ns(x, knots = c(150, 250, 350))"
    built = [
        model_matrix.build(toy, formula, engine=engine, lazy_dense=lazy)
        for engine in ("auto", "formulaic")
        for lazy in (False, True)
    ]
    ref = built[0]
    assert ref.columns == [
        "Intercept", "z", f"{label}1", f"{label}2", f"{label}3", f"{label}4",
        "grp[T.b]", "grp[T.c]",
    ]  # fmt: skip
    assert ref.term_columns[label] == [2, 3, 4, 5]
    order = np.argsort(ref.index)
    for other in built[1:]:
        assert other.columns == ref.columns
        assert dict(other.term_columns) == dict(ref.term_columns)
        back = np.argsort(other.index)
        assert np.array_equal(other.index[back], ref.index[order])
        assert np.allclose(other.X[back], ref.X[order], rtol=0, atol=1e-15)
        assert np.array_equal(other.y[back], ref.y[order])
    assert built[1].cells is not None  # the cell path was exercised


def test_fit_equals_explicit_basis_columns(toy: SurveyDesign) -> None:
    """svyglm with ns() = svyglm on the basis written out as columns (knots from the data:
    R's quantiles of x over the domain's rows with x present)."""
    dom = toy.subset(pl.col("z") > -1.5)
    fit = svyglm("y ~ ns(x, df=4) + z + grp", dom, family="quasibinomial")
    ns = spline_term(fit, "x")
    xs = dom.frame.filter(dom.domain)["x"].drop_nulls().to_numpy()
    assert ns.knots == pytest.approx(np.quantile(xs, [0.25, 0.5, 0.75]), rel=1e-15)
    assert ns.boundary_knots == (xs.min(), xs.max())
    plain = _with_basis(toy, ns).subset(pl.col("z") > -1.5)
    ref = svyglm("y ~ b1 + b2 + b3 + b4 + z + grp", plain, family="quasibinomial")
    assert np.allclose(fit.estimate, ref.estimate, rtol=1e-10, atol=0)
    assert np.allclose(fit.std_error, ref.std_error, rtol=1e-10, atol=0)
    assert fit.df_residual == ref.df_residual and fit.n[0] == ref.n[0]
    overall = regtermtest(fit, ns.label)
    assert overall.f_stat == pytest.approx(regtermtest(ref, ["b1", "b2", "b3", "b4"]).f_stat)


def test_variable_used_elsewhere(toy: SurveyDesign) -> None:
    """ns(x) with x also in an interaction: the placeholder is I(x)."""
    fit = svyglm("yl ~ ns(x, knots=[200]) + x:z", toy)
    label = "ns(x, knots = c(200))"
    assert fit.terms[:3] == ["Intercept", f"{label}1", f"{label}2"]
    ns = spline_term(fit, "x")
    ref = svyglm("yl ~ b1 + b2 + x:z", _with_basis(toy, ns))
    assert np.allclose(fit.estimate, ref.estimate, rtol=1e-10)
    assert np.allclose(fit.std_error, ref.std_error, rtol=1e-10)


def test_model_errors(toy: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="numeric"):
        svyglm("y ~ ns(grp, df=3)", toy)
    with pytest.raises(EstimationError, match="reference"):
        svyglm("y ~ ns(x, df=3)", toy, reference={"x": 100})
    with pytest.raises(EstimationError, match="rank deficient"):
        svyglm("yl ~ ns(x, df=3) + x", toy)  # x is in the span of the basis
    with pytest.raises(EstimationError, match="cannot use"):
        svyglm("yl ~ ns(x, df=3) + I(x)", toy)


def test_nonlinearity_equals_rcs_reparametrization(toy: SurveyDesign) -> None:
    """spline_nonlinearity = regtermtest of the restricted cubic spline terms in
    ``y ~ x + rcs1 + rcs2``; the overall test equals regtermtest of the ns term."""
    knots = [100.0, 180.0, 260.0, 420.0]
    fit = svyglm("y ~ ns(x, knots=[180, 260], Boundary.knots=[100, 420]) + z", toy,
                 family="quasibinomial")  # fmt: skip
    x = toy.frame["x"].cast(pl.Float64).fill_null(np.nan).to_numpy()

    def pos3(u: np.ndarray) -> np.ndarray:
        return np.maximum(u, 0) ** 3

    t = knots
    rcs = {
        f"r{j + 1}": pl.Series(
            (pos3(x - t[j]) - pos3(x - t[2]) * (t[3] - t[j]) / (t[3] - t[2])
             + pos3(x - t[3]) * (t[2] - t[j]) / (t[3] - t[2])) / (t[3] - t[0]) ** 2
        ).fill_nan(None)
        for j in range(2)
    }  # fmt: skip
    alt = SurveyDesign(toy.frame.with_columns(**rcs), strata="sdmvstra", psu="sdmvpsu",
                       weights="w")  # fmt: skip
    ref = svyglm("y ~ x + r1 + r2 + z", alt, family="quasibinomial")
    nonlinear = spline_nonlinearity(fit, "x")
    expected = regtermtest(ref, ["r1", "r2"])
    assert nonlinear.f_stat == pytest.approx(expected.f_stat, rel=1e-9)
    assert nonlinear.p_value[0] == pytest.approx(expected.p_value[0], rel=1e-9)
    assert (nonlinear.num_df, nonlinear.den_df) == (2, fit.df_residual)
    overall = regtermtest(fit, spline_term(fit, "x").label)
    assert overall.f_stat == pytest.approx(regtermtest(ref, ["x", "r1", "r2"]).f_stat, rel=1e-9)


def test_curve_is_a_contrast(toy: SurveyDesign) -> None:
    fit = svyglm("y ~ ns(x, df=3) + z", toy, family="quasibinomial")
    curve = spline_curve(fit, "x", [100, 200, 300], reference=200, exponentiate=False)
    assert curve.columns == [
        "value", "estimate", "std_error", "conf_low", "conf_high", "p_value", "df",
    ]  # fmt: skip
    ns = spline_term(fit, "x")
    weights = dict.fromkeys(fit.terms, 0.0)
    for name, w in zip(ns.columns, (ns.basis([300.0]) - ns.basis([200.0]))[0], strict=True):
        weights[name] = w
    con = svycontrast(fit, {"300": weights})
    row = curve.row(2, named=True)
    assert row["estimate"] == pytest.approx(con.estimate[0], rel=1e-12)
    assert row["std_error"] == pytest.approx(con.std_error[0], rel=1e-12)
    assert row["conf_low"] == pytest.approx(con.conf_low[0], rel=1e-12)
    at_ref = curve.row(1, named=True)
    assert (at_ref["estimate"], at_ref["std_error"]) == (0.0, 0.0)
    ratios = spline_curve(fit, "x", [100, 200, 300], reference=200)
    assert np.allclose(ratios["estimate"], np.exp(curve["estimate"]))
    assert ratios["std_error"].equals(curve["std_error"])
    with pytest.raises(EstimationError, match="no single ns"):
        spline_curve(fit, "z", [1.0], reference=0.0)


def test_cox_with_data_dependent_knots(toy: SurveyDesign) -> None:
    """svycoxph keeps only the formula: data-dependent knots need the design again."""
    fit = svycoxph("Surv(t, d) ~ ns(x, df=3) + z", toy)
    assert fit.terms[:3] == ["ns(x, df = 3)1", "ns(x, df = 3)2", "ns(x, df = 3)3"]
    with pytest.raises(EstimationError, match="pass design="):
        spline_curve(fit, "x", [100.0], reference=200.0)
    curve = spline_curve(fit, "x", [100.0], reference=200.0, design=toy)
    assert curve["df"][0] == math.inf
    assert spline_nonlinearity(fit, "x", design=toy).num_df == 2


def test_spline_knots_weighted(toy: SurveyDesign) -> None:
    """The smallest x whose weighted cumulative share reaches p (R's qrule "math")."""
    dom = toy.subset(pl.col("grp") == "a")
    frame = dom.frame.filter(pl.Series(dom.domain)).filter(pl.col("x").is_not_null()).sort("x")
    share = frame["w"].cum_sum() / frame["w"].sum()
    probs = [0.1, 0.5, 0.9]
    expected = [float(frame["x"][int(np.searchsorted(share.to_numpy(), p))]) for p in probs]
    assert spline_knots(dom, "x", probs) == expected
    with pytest.raises(EstimationError, match="probs"):
        spline_knots(dom, "x", [1.5])


# ------------------------------------------------------------------------- golden: the mirror


def _checked(name: str, frame: pl.DataFrame, gs: Golden) -> pl.DataFrame:
    for key, value in golden_data.checks(name, frame).items():
        assert value == pytest.approx(gs.check(key), rel=1e-12), key
    return frame


@pytest.fixture(scope="module")
def diet(mirror_dir: Path, gs: Golden) -> SurveyDesign:
    """2005-2006 adults with a reliable day-1 recall, day-1 weights (a domain)."""
    exam = _checked("exam_2005_2006", golden_data.exam_2005_2006(mirror_dir), gs)
    design = SurveyDesign(
        exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_diet1", allow_zero_weights=True
    )
    return design.subset((pl.col("age") >= 20) & (pl.col("drstz") == 1))


def _report(case: str, worst: float) -> None:
    """The worst relative difference from R (``pytest -m mirror -rP`` shows them)."""
    print(f"{case}: worst relative difference from R {worst:.1e}")


def _rel(got: float, expected: float) -> float:
    return abs(got - expected) / abs(expected) if expected else abs(got)


def _match_curve(gs: Golden, case: str, curve: pl.DataFrame) -> None:
    expected = gs.case(case)
    rows = {float(r["value"]): r for r in curve.iter_rows(named=True)}
    assert sorted(float(k) for k in expected) == sorted(v for v in rows if v != 300)
    worst = 0.0
    for term, exp in expected.items():
        row = rows[float(term)]
        for col in ("estimate", "std_error", "conf_low", "conf_high", "p_value", "df"):
            assert row[col] == pytest.approx(exp[col], rel=REL), (case, term, col)
            worst = max(worst, _rel(row[col], exp[col]))
    _report(case, worst)


def _match_test(gs: Golden, case: str, test) -> None:
    (exp,) = gs.case(case).values()
    assert test.f_stat == pytest.approx(exp["statistic"], rel=REL)
    assert test.p_value[0] == pytest.approx(exp["p_value"], rel=REL)
    assert (test.num_df, test.den_df) == (exp["n"], exp["df"])
    _report(case, max(_rel(test.f_stat, exp["statistic"]), _rel(test.p_value[0], exp["p_value"])))


def _match_fit(gs: Golden, case: str, fit) -> None:
    _report(case, gs.assert_matches(case, fit.tidy(), rel=REL))


@pytest.mark.mirror
@pytest.mark.parametrize(
    ("kind", "outcome", "family"),
    [("logit", "vitd_lt50", "quasibinomial"), ("linear", "vitd", "gaussian")],
)
def test_fixed_knots_match_r(diet: SurveyDesign, gs: Golden, kind, outcome, family) -> None:
    fit = svyglm(f"{outcome} ~ {NS} + age + sex", diet, family=family)
    assert fit.terms[1:5] == [f"{LABEL}{j}" for j in range(1, 5)]
    _match_fit(gs, f"glm_{kind}_ns", fit)
    curve = spline_curve(fit, "magnesium", AT, reference=300, exponentiate=False)
    _match_curve(gs, f"curve_{kind}_ns", curve)
    _match_test(gs, f"regtermtest_{kind}_ns", regtermtest(fit, LABEL))
    _match_test(gs, f"overall_rcs_{kind}_ns", regtermtest(fit, LABEL))
    _match_test(gs, f"nonlinear_{kind}_ns", spline_nonlinearity(fit, "magnesium"))


@pytest.mark.mirror
def test_df_knots_match_r(diet: SurveyDesign, mirror_dir: Path, gs: Golden) -> None:
    """ns(x, df=4): knots at unweighted quantiles over the domain's rows with x present (R
    evaluates ns() on model.frame(design) before dropping rows without the outcome)."""
    fit = svyglm("vitd_lt50 ~ ns(magnesium, df=4) + age + sex", diet, family="quasibinomial")
    _match_fit(gs, "glm_logit_ns_df", fit)
    ns = spline_term(fit, "magnesium")
    knots = gs.case("ns_df_knots_logit")
    assert ns.knots == tuple(knots[f"knot{j}"]["estimate"] for j in (1, 2, 3))
    assert ns.boundary_knots == (knots["lower"]["estimate"], knots["upper"]["estimate"])
    _match_test(gs, "regtermtest_logit_ns_df", regtermtest(fit, "ns(magnesium, df = 4)"))
    # BMI is missing for some adults: R drops them before the quantiles
    exam = golden_data.exam_2005_2006(mirror_dir)
    adults = SurveyDesign(exam, strata="sdmvstra", psu="sdmvpsu", weights="wt_mec").subset(
        pl.col("age") >= 20
    )
    fit = svyglm("vitd ~ ns(bmi, df=3) + age + sex", adults)
    _match_fit(gs, "glm_linear_ns_bmi_df", fit)
    ns = spline_term(fit, "bmi")
    knots = gs.case("ns_df_knots_bmi")
    assert ns.knots == (knots["knot1"]["estimate"], knots["knot2"]["estimate"])  # R's very knots
    assert ns.boundary_knots == (knots["lower"]["estimate"], knots["upper"]["estimate"])


@pytest.mark.mirror
def test_weighted_knots_match_r(diet: SurveyDesign, gs: Golden) -> None:
    probs = [0.05, 0.275, 0.5, 0.725, 0.95]
    knots = spline_knots(diet, "magnesium", probs)
    expected = {float(k): v["estimate"] for k, v in gs.case("quantile_math_mg").items()}
    assert knots == [expected[p] for p in probs]
    fit = svyglm(
        f"vitd ~ ns(magnesium, knots={knots[1:4]}, Boundary.knots={[knots[0], knots[4]]})"
        " + age + sex",
        diet,
    )
    _match_fit(gs, "glm_linear_ns_wknots", fit)


@pytest.mark.mirror
def test_cox_matches_r(mortality: pl.DataFrame, gs: Golden) -> None:
    _checked("mortality_2003_2006", mortality, gs)
    design = SurveyDesign.pooled(mortality, cycle_col="cycle", weights="wt_mec")
    adults = design.subset((pl.col("age") >= 20) & pl.col("eligible"))
    fit = svycoxph(f"Surv(months, died) ~ {NS} + age + sex", adults)
    _match_fit(gs, "cox_ns", fit)
    _match_curve(gs, "curve_cox_ns", spline_curve(fit, "magnesium", AT, 300, exponentiate=False))
    _match_test(gs, "regtermtest_cox_ns", regtermtest(fit, LABEL))
    _match_test(gs, "nonlinear_cox_ns", spline_nonlinearity(fit, "magnesium"))
