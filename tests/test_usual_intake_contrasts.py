"""Differences between the domains of a usual-intake analysis (spec field ``contrast``): the
share below the EAR of women minus men, its SE from the same Fay-BRR replicates as each
domain's (the difference in every replicate, then the BRR formula), t on the design df.

R cannot fit the NCI method, so the check is internal: on real NHANES 2015-2018, the
difference's SE equals the BRR formula applied, here, to per-replicate differences of the
replicate shares, and the same formula applied to one domain's replicate shares gives that
domain's own SE in the table."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from scipy import stats

from nhanes_mg.errors import SpecError
from nhanes_mg.study.analyses import run_spec
from nhanes_mg.study.results import DIFFERENCE_ROLE
from nhanes_mg.study.spec import parse_spec
from nhanes_mg.study.spec_types import GroupContrast

DOMAINS = [
    {"label": "women", "where": "sex = 'female'"},
    {"label": "men", "where": "sex = 'male'"},
    {"label": "51+", "where": "age >= 51"},
]


def _spec(**analysis: Any) -> dict[str, Any]:
    return {
        "id": "U2", "title": "t", "claim": "c", "citation": "x", "cycles": "2015-2018",
        "population": "age >= 19", "model": "descriptive",
        "analysis": [{"name": "mg_ear", "statistic": "usual_below_ear", "variable": "mg",
                      "pool": True, "domains": DOMAINS, **analysis}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("value", "pairs"),
    [
        ([["women", "men"]], (("women", "men"),)),
        (True, (("men", "women"), ("51+", "women"))),
        ("men", (("women", "men"), ("51+", "men"))),
    ],
)
def test_pairs_of_domains_true_or_a_reference(value: object, pairs: object) -> None:
    (analysis,) = parse_spec(_spec(contrast=value), "u.toml").analyses
    assert analysis.kind == "usual_intake"
    assert analysis.contrast == GroupContrast("", pairs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("analysis", "field", "words"),
    [
        ({"contrast": [["women", "boys"]]}, "contrast\\[0\\]",
         "'boys' is not a domain label \\(women, men, 51\\+\\)"),
        ({"contrast": "boys"}, "contrast", "'boys' is not a domain label"),
        ({"contrast": [["women", "men"], ["women", "men"]]}, "contrast\\[1\\]",
         "the pair .* is given twice"),
        ({"contrast": 2}, "contrast", "must be true, a domain label or pairs"),
        ({"contrast": True, "domains": ["sex = 'female'"]}, "contrast",
         "needs at least two domains"),
    ],
)  # fmt: skip
def test_a_bad_contrast_is_one_line_naming_the_field(
    analysis: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(SpecError, match=f"^u.toml: field 'analysis\\[0\\].{field}': {words}"):
        parse_spec(_spec(**analysis), "u.toml")


@pytest.mark.mirror
def test_the_difference_se_is_the_brr_formula_on_replicate_differences(
    analytic_frame: pl.DataFrame,
) -> None:
    spec = parse_spec(_spec(contrast=[["women", "men"], ["51+", "women"]]), "u.toml")
    result = run_spec(spec, analytic_frame)
    assert not result.notes, result.notes
    table = result.table
    diff = table.filter(pl.col("role") == DIFFERENCE_ROLE)
    assert diff["term"].to_list() == ["women − men", "51+ − women"]
    assert diff["cycle"].unique().to_list() == ["2015-2018"]
    assert diff["scale"].unique().to_list() == ["difference of proportions"]
    # the shared estimation behind the analysis: its replicate shares of every domain
    (estimated,) = result.usual_cache.values()
    rho, r_count = estimated.info["fay_rho"], estimated.info["replicates"]["2015-2018"]
    assert r_count == 32  # Fay BRR over the 30 strata of 2015-2018 (R's Hadamard order)
    labels = {d["label"]: f"(age >= 19) AND ({d['where']})" for d in DOMAINS}

    def brr(theta: float, reps: np.ndarray) -> float:
        assert len(reps) == r_count and np.isfinite(reps).all()
        return float(np.sqrt(np.sum((reps - theta) ** 2) / (r_count * (1 - rho) ** 2)))

    def shares(label: str) -> tuple[float, np.ndarray, dict[str, Any]]:
        where = (
            (pl.col("domain") == labels[label])
            & (pl.col("basis") == "food")
            & (pl.col("method") == "usual")
        )
        row = estimated.table.filter(where).row(0, named=True)
        reps = estimated.replicates.filter(where).sort("replicate")
        assert reps["replicate"].to_list() == list(range(r_count))
        return row["pct_below_ear"] / 100, reps["pct_below_ear"].to_numpy() / 100, row

    for (a, b), row in zip(
        (("women", "men"), ("51+", "women")), diff.iter_rows(named=True), strict=True
    ):
        theta_a, reps_a, row_a = shares(a)
        theta_b, reps_b, row_b = shares(b)
        # each domain's own SE in the table is the formula on its replicate shares
        assert brr(theta_a, reps_a) == pytest.approx(row_a["pct_below_ear_se"] / 100, rel=1e-12)
        theta = theta_a - theta_b
        se = brr(theta, reps_a - reps_b)
        assert row["estimate"] == pytest.approx(theta, rel=1e-12)
        assert row["std_error"] == pytest.approx(se, rel=1e-12)
        # correlated domains: not the SE of independent estimates
        independent = float(np.hypot(brr(theta_a, reps_a), brr(theta_b, reps_b)))
        assert abs(row["std_error"] - independent) > 0.1 * independent
        assert row["df"] == 30.0
        assert row["statistic"] == pytest.approx(theta / se, rel=1e-12)
        assert row["p_value"] == pytest.approx(2 * stats.t.sf(abs(theta / se), 30), rel=1e-9)
        half = stats.t.ppf(0.975, 30) * se
        assert (row["conf_low"], row["conf_high"]) == pytest.approx(
            (theta - half, theta + half), rel=1e-12
        )
        assert row["n"] == row_a["n"] + row_b["n"]
