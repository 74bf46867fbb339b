"""Group differences of descriptive analyses (spec field ``contrast``,
nhanes_mg.study.contrasts): each level minus the reference with its design-based SE from the
groups' joint influence values, and the overall test (Rao–Scott F for a share, Wald F for a
mean) — checked against R's svyby(covmat = TRUE) + svycontrast, svychisq and
regTermTest(svyglm(...)) (tests/golden/study/make_golden_contrasts.R → golden_contrasts.csv;
relative tolerance 1e-9)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from nhanes_mg.errors import EstimationError, SpecError
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.contrasts import difference_term
from nhanes_mg.study.results import DIFFERENCE_ROLE, TEST_ROLE
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import GroupContrast
from nhanes_mg.survey import SurveyDesign, svyby, svycontrast, svymean, svyquantile

GOLDEN = Path(__file__).parent / "golden" / "study" / "golden_contrasts.csv"
TOLERANCE = 1e-9  # relative; both sides compute in double precision
RACE = ("mexican_american", "other_hispanic", "nh_white", "nh_black", "other")


def _spec(*analyses: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {
        "id": "U1", "title": "t", "claim": "c", "citation": "x", "cycles": "2011-2012",
        "population": "age >= 20", "model": "descriptive", "analysis": list(analyses), **top,
    }  # fmt: skip


def _analysis(name: str, statistic: str, by: str, **more: Any) -> dict[str, Any]:
    variable = "vitd_25oh_nmol < 50" if statistic == "proportion" else "vitd_25oh_nmol"
    return {"name": name, "statistic": statistic, "variable": variable, "by": [by], **more}


# ------------------------------------------------------------------------ the specification


def test_a_by_column_or_pairs_of_its_levels() -> None:
    spec = parse_spec(
        _spec(
            _analysis("a", "proportion", "sex", contrast="sex"),
            _analysis("b", "mean", "race_eth", contrast=[["nh_black", "nh_white"]]),
        ),
        "u.toml",
    )
    a, b = spec.analyses
    assert a.contrast == GroupContrast("sex") and a.kind == "descriptive"
    assert b.contrast == GroupContrast("race_eth", (("nh_black", "nh_white"),))


@pytest.mark.parametrize(
    ("analysis", "field", "words"),
    [
        (_analysis("a", "proportion", "sex", contrast="race_eth"), "contrast",
         "'race_eth' is not one of the analysis's by columns \\(sex\\)"),
        (_analysis("a", "proportion", "sex", contrast=[["female", "men"]]), "contrast\\[0\\]",
         "'men' is not a level of sex \\(male, female\\)"),
        (_analysis("a", "proportion", "sex", contrast=[["female", "female"]]),
         "contrast\\[0\\]", "compares .female. with itself"),
        (_analysis("a", "proportion", "sex", contrast=[["female"]]), "contrast\\[0\\]",
         "must be a pair of names"),
        (_analysis("a", "proportion", "sex", contrast=[]), "contrast", "needs at least one pair"),
        (_analysis("a", "proportion", "sex", contrast=3), "contrast", "must be a by column"),
        ({**_analysis("a", "mean", "sex"), "by": ["sex", "race_eth"],
          "contrast": [["female", "male"]]}, "contrast",
         "pairs of levels need exactly one by column besides cycle"),
        ({**_analysis("a", "quantile", "sex"), "contrast": "sex"}, "contrast",
         "group differences need a mean, a proportion or a ratio"),
        ({"name": "m", "model": "logistic", "outcome": "diabetes", "exposure": "mg_total",
          "contrast": "sex"}, "contrast", "in a model analysis: .* are for descriptive"),
    ],
)  # fmt: skip
def test_a_bad_contrast_is_one_line_naming_the_field(
    analysis: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError, match=f"^u.toml: field 'analysis\\[0\\].{field}': {words}"):
        parse_spec(_spec(analysis), "u.toml")


@pytest.mark.mirror
def test_a_level_known_only_from_the_data_is_checked_there(
    analytic_frame_2011: pl.DataFrame,
) -> None:
    groups = {"age_group": "CASE WHEN age < 60 THEN 'under 60' ELSE '60+' END"}
    bad = _analysis("a", "mean", "age_group", groups=groups, contrast=[["60+", "under 50"]])
    spec = parse_spec(_spec(bad), "u.toml")  # its levels are known only from the data
    with pytest.raises(
        SpecError, match="contrast: 'under 50' is not a level of age_group in the data "
        "\\(levels: 60\\+, under 60\\)",
    ):  # fmt: skip
        run_spec(spec, analytic_frame_2011)


def test_a_difference_reads_in_words() -> None:
    assert difference_term("female", "male") == "Female − Male"
    assert difference_term("nh_asian", "mexican_american") == (
        "Non-Hispanic Asian − Mexican American"
    )


# ------------------------------------------------------------------------- the survey engine


def _toy() -> SurveyDesign:
    rng = np.random.default_rng(7)
    n = 600
    frame = pl.DataFrame({
        "s": np.repeat(np.arange(1, 7), 100), "p": np.tile([1, 2], 300),
        "w": rng.uniform(1, 3, n), "g": rng.choice(["a", "b", "c"], n),
        "y": rng.normal(size=n),
    })  # fmt: skip
    return SurveyDesign(frame, strata="s", psu="p", weights="w")


def test_svyby_covmat_keeps_each_group_and_adds_their_covariance() -> None:
    design = _toy()
    plain, joint = svyby("y", "g", design, svymean), svyby("y", "g", design, svymean, covmat=True)
    assert plain.vcov is None and joint.vcov is not None
    np.testing.assert_allclose(np.diag(joint.vcov), plain.std_error**2, rtol=1e-12)
    assert joint.tidy().equals(plain.tidy())
    # the difference's variance is not the sum of the two variances: the groups share PSUs
    diff = svycontrast(joint, [1, -1, 0])
    independent = float(np.sqrt(plain.std_error[0] ** 2 + plain.std_error[1] ** 2))
    assert abs(float(diff.std_error[0]) - independent) > 1e-4
    # … and equals the SE of the mean of the difference of the two groups' influence values
    w, y, g = (design.frame[c].to_numpy() for c in ("w", "y", "g"))
    infl = np.zeros(len(w))
    for level, sign in (("a", 1.0), ("b", -1.0)):
        m = g == level
        infl[m] = sign * w[m] * (y[m] - np.average(y[m], weights=w[m])) / w[m].sum()
    assert float(diff.std_error[0]) == pytest.approx(
        float(np.sqrt(design.variance(infl)[0, 0])), rel=1e-12
    )


def test_svyby_covmat_is_refused_where_there_is_no_covariance() -> None:
    with pytest.raises(EstimationError, match="covmat=True is available for svymean"):
        svyby("y", "g", _toy(), svyquantile, covmat=True)


# ---------------------------------------------------------------------------- R's numbers


@pytest.fixture(scope="module")
def analytic_frame_2011(analytic_frame: pl.DataFrame) -> pl.DataFrame:
    return analytic_frame.filter(pl.col("cycle").cast(pl.String) == "2011-2012")


@pytest.fixture(scope="module")
def contrasts(analytic_frame_2011: pl.DataFrame) -> pl.DataFrame:
    spec = _spec(
        *(
            _analysis(f"{stat}_{by}", stat, col, contrast=col)
            for stat in ("proportion", "mean")
            for by, col in (("sex", "sex"), ("race", "race_eth"))
        )
    )
    result = run_spec(parse_spec(spec, "u.toml"), analytic_frame_2011)
    assert not result.notes, result.notes
    return result.table


def _golden(case: str) -> list[dict[str, Any]]:
    numbers = ("estimate", "std_error", "conf_low", "conf_high", "statistic", "p_value", "df", "n")
    golden = pl.read_csv(
        GOLDEN, null_values="", schema_overrides=dict.fromkeys(numbers, pl.Float64)
    )
    return golden.filter(pl.col("case") == case).to_dicts()


@pytest.mark.mirror
@pytest.mark.parametrize("by", ["sex", "race"])
@pytest.mark.parametrize(("statistic", "what"), [("proportion", "share"), ("mean", "mean")])
def test_differences_and_test_match_r(
    contrasts: pl.DataFrame, by: str, statistic: str, what: str
) -> None:
    rows = contrasts.filter(pl.col("analysis") == f"{statistic}_{by}")
    differences = rows.filter(pl.col("role") == DIFFERENCE_ROLE)
    golden = _golden(f"{what}_{by}")
    assert differences.height == len(golden) == (1 if by == "sex" else 4)
    for r in golden:
        level, reference = r["term"].split(" - ")
        ours = differences.filter(pl.col("term") == difference_term(level, reference))
        assert ours.height == 1, r["term"]
        row = ours.row(0, named=True)
        for col in ("estimate", "std_error", "statistic", "p_value", "df"):
            assert row[col] == pytest.approx(r[col], rel=TOLERANCE), (r["term"], col)
        assert row["scale"] == f"difference of {'proportions' if what == 'share' else 'means'}"
    test = rows.filter(pl.col("role") == TEST_ROLE).row(0, named=True)
    f, ndf = _golden(f"{what}_{by}_test")
    assert test["term"] == ("Rao–Scott F test" if what == "share" else "Wald F test")
    for col in ("statistic", "p_value", "df"):
        assert test[col] == pytest.approx(f[col], rel=TOLERANCE), col
    assert test["scale"] == f"F on {ndf['estimate']:.4g} and {f['df']:.4g} df"
    # the test's n: everyone compared; each difference's: its two groups
    estimates = rows.filter(pl.col("role") == "estimate")
    assert test["n"] == estimates["n"].sum()


@pytest.mark.mirror
def test_within_each_cycle_and_the_verdict_reads_the_estimates(
    analytic_frame: pl.DataFrame,
) -> None:
    analysis = {
        **_analysis("by_cycle", "proportion", "sex"),
        "by": ["cycle", "sex"],
        "contrast": [["female", "male"]],
        "cycles": ["2011-2012", "2013-2014"],
    }
    verdict = {"analysis": "by_cycle", "term": "2013-2014 · female", "rule": "threshold",
               "direction": "above", "value": 0.2}  # fmt: skip
    spec = parse_spec(_spec(analysis, verdict=verdict, cycles="2011-2014"), "u.toml")
    result = run_spec(spec, analytic_frame)
    table = result.table
    diff = table.filter(pl.col("role") == DIFFERENCE_ROLE)
    assert diff["cycle"].to_list() == ["2011-2012", "2013-2014"]
    assert diff["term"].unique().to_list() == ["Female − Male"]
    assert table.filter(pl.col("role") == TEST_ROLE)["cycle"].to_list() == diff["cycle"].to_list()
    # the 2011-2012 difference is the one computed on that cycle alone (cycles are domains)
    golden = _golden("share_sex")[0]
    first = diff.row(0, named=True)
    assert first["estimate"] == pytest.approx(golden["estimate"], rel=TOLERANCE)
    assert first["std_error"] == pytest.approx(golden["std_error"], rel=TOLERANCE)
    # the verdict still reads the estimate row, not a difference
    main = result.verdicts[0].main
    assert main is not None
    share = table.filter((pl.col("role") == "estimate") & (pl.col("term") == "2013-2014 · female"))[
        "estimate"
    ][0]
    assert main.estimate == pytest.approx(share)
