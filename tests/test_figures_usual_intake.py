"""The ``usual-intake`` command's figure shows what was asked: the domains (a row of panels
each), the pooled population (in its title, with its cycles) and the basis (food beside food +
supplements when there are supplement data). From a small simulated frame (no mirror)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.jobs.usual_intake import figure_data, figure_title, run_usual_intake
from nhanes_mg.usual_intake import estimate_usual_intake, simulate_frame
from nhanes_mg.usual_intake.domains import Domain


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    one = simulate_frame(n=800, seed=1)
    # a second cycle, so that the two can be pooled
    two = one.with_columns(pl.lit("2017-2018").alias("cycle"), pl.col("seqn") + 100_000)
    return pl.concat([one.with_columns(pl.lit("2015-2016").alias("cycle")), two])


def test_the_figure_draws_each_domain_of_the_pooled_population(frame: pl.DataFrame) -> None:
    domains = [Domain("women", "sex = 'female'"), Domain("men", "sex = 'male'")]
    result = estimate_usual_intake(
        frame.with_columns(pl.col("cycle").cast(pl.String)),
        cycles=[],
        nutrients=("mg",),
        pools={"2015-2018": ("2015-2016", "2017-2018")},
        domains=domains,
        population="age >= 19",
        n_brr=0,
        n_sim=10,
    )
    data = figure_data(result)
    assert list(data["domain"].cat.categories) == ["women", "men"]
    assert data.attrs["population"] == "2015-2018" and data.attrs["pooled"]
    title = figure_title(data)
    assert title.startswith("NHANES 2015-2018 (2015-2016 and 2017-2018 pooled), age ≥ 19 years")
    # the share below the EAR the figure prints is the table's, domain by domain
    table = result.table.filter(
        (pl.col("basis") == "food") & (pl.col("method") == "usual") & (pl.col("nutrient") == "mg")
    )
    for domain in ("women", "men"):
        shown = data[(data["domain"] == domain) & data["method"].str.startswith("usual")]
        shown = shown[shown["basis"] == "food"]["below"].iloc[0]
        expected = table.filter(pl.col("domain") == domain)["pct_below_ear"][0]
        assert shown == pytest.approx(expected, abs=0.05)


def test_run_writes_the_figure_of_the_domains_asked_for(tmp_path: Path) -> None:
    run_usual_intake(
        simulate_frame(n=800, seed=2),
        tmp_path,
        nutrients=("mg",),
        n_brr=0,
        n_sim=10,
        domains=[("girls and women", "sex = 'female'")],
    )
    assert (tmp_path / "figures" / "usual_intake_vs_day1.png").stat().st_size > 10_000
