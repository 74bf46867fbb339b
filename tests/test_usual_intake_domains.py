"""Usual intake in any domain: domains as masks of the full design, summaries later without
refitting, the population and weight of a specification, pooled cycles, the CLI's --domain."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from nhanes_mg.errors import SpecError
from nhanes_mg.usual_intake import (
    DEFAULT_DOMAINS,
    Domain,
    estimate_usual_intake,
    simulate_frame,
    summarize_domains,
)
from nhanes_mg.usual_intake.arrays import STAT_NAMES
from nhanes_mg.usual_intake.domains import as_domains, parse_domain_option

KEY = ["population", "nutrient", "basis", "method"]
VALUES = [c for s in STAT_NAMES for c in (s, f"{s}_se", f"{s}_low", f"{s}_high")]


def _frame(n: int = 2500, seed: int = 4, cycle: str = "2005-2006", strata0: int = 1):
    """simulate_frame with ages 1-80, IOM Mg EAR/RDA by age and sex, supplements (a few
    unknown) and a second weight."""
    from nhanes_mg.derive import rules

    frame = simulate_frame(n=n, seed=seed, cycle=cycle)
    rng = np.random.default_rng(seed + 1)
    age = rng.integers(1, 81, n).astype(float)
    supp = np.where(rng.random(n) < 0.3, rng.choice([50.0, 100.0, 250.0], n), 0.0)
    supp[rng.random(n) < 0.03] = np.nan
    return frame.with_columns(
        pl.Series("age", age),
        pl.Series("mg_supp", supp),
        pl.Series("supp_user", np.nan_to_num(supp) > 0),
        pl.Series("wt_diet2", frame["wt_diet1"].to_numpy() * rng.uniform(0.5, 1.5, n)),
        pl.col("sdmvstra") + (strata0 - 1),
    ).with_columns(rules.mg_ear().alias("mg_ear"), rules.mg_rda().alias("mg_rda"))


@pytest.fixture(scope="module")
def sim() -> tuple[pl.DataFrame, object]:
    frame = _frame()
    res = estimate_usual_intake(frame, nutrients=("mg",), n_sim=20, n_jobs=1)
    return frame, res


def tidy_rows(table: pl.DataFrame, domain: str) -> pl.DataFrame:
    return table.filter(pl.col("domain") == domain).sort(KEY)


def _same(a: pl.DataFrame, b: pl.DataFrame) -> None:
    """The same estimates, SEs and CIs (percentiles exactly; sums up to their order)."""
    assert a.select(KEY).equals(b.select(KEY))
    for col in VALUES:
        x, y = a[col].to_numpy(), b[col].to_numpy()
        np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12, equal_nan=True, err_msg=col)


def test_a_domain_equals_the_built_in_domain_it_restates(sim) -> None:
    _, res = sim
    mine = summarize_domains(
        res, [("men", "sex = 'male'"), "age BETWEEN 51 AND 70 AND sex = 'female'"]
    )
    assert mine.columns == res.table.columns
    men, builtin = tidy_rows(mine, "men"), tidy_rows(res.table, "male")
    assert men.height == 4 and men["domain_where"][0] == "sex = 'male'"
    _same(men, builtin)
    women = tidy_rows(mine, "age BETWEEN 51 AND 70 AND sex = 'female'")
    _same(women, tidy_rows(res.table, "female 51-70"))


def test_population_is_a_domain_anded_into_every_domain(sim) -> None:
    _, res = sim
    out = summarize_domains(
        res, ["TRUE", ("51-70", "age BETWEEN 51 AND 70")], population="sex = 'female'"
    )
    _same(tidy_rows(out, "TRUE"), tidy_rows(res.table, "female"))
    women = tidy_rows(out, "51-70")
    assert women["domain_where"][0] == "(sex = 'female') AND (age BETWEEN 51 AND 70)"
    _same(women, tidy_rows(res.table, "female 51-70"))
    assert res.info["population"] is None


def test_summaries_later_equal_summaries_at_estimation(sim) -> None:
    frame, res = sim
    domains = [("young women", "sex = 'female' AND age < 30"), "NOT supp_user"]
    direct = estimate_usual_intake(frame, nutrients=("mg",), n_sim=20, n_jobs=1, domains=domains)
    later = res.summarize(domains)
    assert direct.table.equals(later)
    assert set(direct.table["domain"]) == {"young women", "NOT supp_user"}


@pytest.mark.parametrize("basis", ["food", "food+supplements"])
def test_share_below_ear_in_a_domain_by_hand_from_the_draws(sim, basis) -> None:
    frame, res = sim
    where = "age BETWEEN 9 AND 13 AND NOT supp_user OR age >= 71"
    row = summarize_domains(res, [where]).filter(
        (pl.col("basis") == basis) & (pl.col("method") == "usual")
    )
    draws = res.draws.join(frame.select("seqn", "supp_user"), on="seqn")
    assert draws.height == res.draws.height == frame.height
    d = draws.filter(pl.sql_expr(where))
    if basis != "food":
        d = d.filter(pl.col("supp_mg").is_not_nan())  # unknown supplements: out
    usual = d["usual_mg"].to_numpy() + (
        np.nan_to_num(d["supp_mg"].to_numpy())[:, None] if basis != "food" else 0.0
    )
    assert usual.shape == (d.height, res.info["n_sim"])
    w = d["weight"].to_numpy()
    share = 100 * np.sum(w * (usual < d["ear_mg"].to_numpy()[:, None]).mean(axis=1)) / w.sum()
    mean = np.sum(w * usual.mean(axis=1)) / w.sum()
    assert row["n"][0] == d.height
    assert row["pct_below_ear"][0] == pytest.approx(share, rel=1e-12)
    assert row["mean"][0] == pytest.approx(mean, rel=1e-12)


def test_draws_carry_seqn_cycle_and_model_strata(sim) -> None:
    frame, res = sim
    draws = res.draws
    assert draws.columns[:6] == ["seqn", "cycle", "fit_stratum", "weight", "age", "sex"]
    assert draws["seqn"].is_unique().all()
    assert set(draws["fit_stratum"]) == set(res.models["fit_stratum"])
    one = draws.filter(pl.col("seqn") == 7).row(0, named=True)
    person = frame.filter(pl.col("seqn") == 7).row(0, named=True)
    band = next(b for b in ("1-8", "9-18", "19-50", "51+") if _in_band(person["age"], b))
    assert one["fit_stratum"] == f"{person['sex']} {band}"
    assert one["weight"] == person["wt_diet1"] and one["day1_mg"] == person["mg_food_d1"]
    assert len(one["usual_mg"]) == res.info["n_sim"]


def _in_band(age: float, band: str) -> bool:
    lo, _, hi = band.rstrip("+").partition("-")
    return int(lo) <= age <= (int(hi) if hi else 200)


def test_intervals_use_t_on_the_design_degrees_of_freedom(sim) -> None:
    _, res = sim
    row = tidy_rows(res.table, "all").filter(pl.col("method") == "usual").row(0, named=True)
    assert row["df"] == 15.0  # 15 strata of 2 PSUs
    t = stats.t.ppf(0.975, 15)
    for s in ("mean", "p50", "pct_below_ear", "pct_below_rda"):
        assert row[f"{s}_low"] == pytest.approx(row[s] - t * row[f"{s}_se"], rel=1e-12)
        assert row[f"{s}_high"] == pytest.approx(row[s] + t * row[f"{s}_se"], rel=1e-12)


def test_an_empty_domain_is_a_row_with_n_zero(sim) -> None:
    _, res = sim
    out = summarize_domains(res, ["age > 200"])
    assert out.height == 4 and (out["n"] == 0).all() and out["mean"].is_nan().all()


def test_summaries_of_chosen_populations_only(sim) -> None:
    from nhanes_mg.errors import EstimationError

    _, res = sim
    assert set(res.summarize(["TRUE"], populations=["2005-2006"])["population"]) == {"2005-2006"}
    with pytest.raises(EstimationError, match="no population '2017-2018'"):
        res.summarize(["TRUE"], populations=["2017-2018"])


def test_share_above_an_amount(sim) -> None:
    frame, _ = sim
    res = estimate_usual_intake(
        frame, nutrients=("mg",), n_sim=20, n_brr=0, domains=["TRUE"], above={"mg": 350}
    )
    row = res.table.filter((pl.col("method") == "usual") & (pl.col("basis") == "food"))
    usual = res.draws["usual_mg"].to_numpy()
    w = res.draws["weight"].to_numpy()
    expect = 100 * np.sum(w * (usual > 350).mean(axis=1)) / w.sum()
    assert row["pct_above_cut"][0] == pytest.approx(expect, rel=1e-12)
    assert row["above_cut"][0] == 350.0


def test_weight_is_honoured(sim) -> None:
    frame, _ = sim
    other = estimate_usual_intake(
        frame, nutrients=("mg",), n_sim=20, n_brr=0, weight="wt_diet2", domains=["TRUE"]
    )
    swapped = estimate_usual_intake(
        frame.with_columns(pl.col("wt_diet2").alias("wt_diet1")),
        nutrients=("mg",),
        n_sim=20,
        n_brr=0,
        domains=["TRUE"],
    )
    assert other.info["weight"] == "wt_diet2"
    _same(other.table, swapped.table)
    assert other.models.drop("beta").equals(swapped.models.drop("beta"))


def test_pooled_cycles_share_one_replicate_design() -> None:
    a = _frame(600, seed=5, cycle="2003-2004", strata0=29)
    b = _frame(600, seed=6, cycle="2005-2006", strata0=44)
    res = estimate_usual_intake(
        pl.concat([a, b]),
        nutrients=("mg",),
        cycles=[],
        pools={"2003-2006": ("2003-2004", "2005-2006")},
        n_sim=10,
        domains=["TRUE"],
        stratify=False,  # one model per cycle: quick
    )
    assert res.info["replicates"] == {"2003-2006": 32} and res.info["df"] == {"2003-2006": 30.0}
    assert set(res.table["population"]) == {"2003-2006"}
    row = res.table.filter((pl.col("method") == "day1") & (pl.col("basis") == "food"))
    assert row["n"][0] == 1200
    both = pl.concat([a, b])
    w = both["wt_diet1"].to_numpy()  # each cycle's weights halved: the same shares
    below = (both["mg_food_d1"] < both["mg_ear"]).to_numpy()
    assert row["pct_below_ear"][0] == pytest.approx(100 * w[below].sum() / w.sum(), rel=1e-12)


# -------------------------------------------------------------------------------- errors
def test_unknown_column_or_bad_condition_fails_before_any_fitting(sim, monkeypatch) -> None:
    from nhanes_mg.usual_intake import estimate as module

    frame, _ = sim

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("fitted before the domains were checked")

    monkeypatch.setattr(module, "fit_amount_model", boom)
    cases = {
        "sex = 'male' AND agee >= 20": "no column 'agee' in the analytic dataset "
        "(did you mean 'age'?)",
        "age >>> 3": "cannot parse it as an SQL expression near character 7",
        "age + 1": "is not a condition (it gives Float64)",
    }
    for where, message in cases.items():
        with pytest.raises(SpecError, match=r"^--domain") as info:
            estimate_usual_intake(
                frame, nutrients=("mg",), domains=[Domain(where, where, "--domain")]
            )
        assert message in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(SpecError, match="population 'ckdd': no column 'ckdd'"):
        estimate_usual_intake(frame, nutrients=("mg",), population="ckdd")
    with pytest.raises(SpecError, match="given twice"):
        estimate_usual_intake(frame, nutrients=("mg",), domains=["age > 3", "age > 3"])


def test_domain_forms() -> None:
    assert as_domains(None) == DEFAULT_DOMAINS and len(DEFAULT_DOMAINS) == 29
    got = as_domains(["age 19+", {"where": "age < 9"}, ("kids", "age < 9 AND NOT supp_user")])
    assert [(d.label, d.where) for d in got] == [
        ("age 19+", "age >= 19"),
        ("age < 9", "age < 9"),
        ("kids", "age < 9 AND NOT supp_user"),
    ]
    assert parse_domain_option("men 20+: sex = 'male' AND age >= 20", "--domain") == Domain(
        "men 20+", "sex = 'male' AND age >= 20", "--domain"
    )
    # a colon inside a quoted value is no label
    text = "education = 'a: b'"
    assert parse_domain_option(text).label == text
    with pytest.raises(SpecError, match="unknown key 'whre'"):
        as_domains([{"whre": "age > 1", "where": "age > 2"}])


# -------------------------------------------------------------------------------- specs
SPEC = """
id = "U1"
title = "usual intake in any domain"
claim = "…"
citation = "…"
cycles = "2003-2006"
population = "age >= 1"
model = "descriptive"

[[analysis]]
name = "pooled"
statistic = "usual_below_ear"
variable = "mg"
basis = "food+supplements"
pool = true
weight = "wt_diet2"
domains = [{ label = "men 20+", where = "sex = 'male' AND age >= 20" }, "age BETWEEN 9 AND 13"]

[[analysis]]
name = "means"
statistic = "usual_mean"
variable = "mg"
basis = "food"
domain = "female 51-70"
cycles = ["2005-2006"]
"""


def test_spec_domains_pool_population_and_weight() -> None:
    import tomllib

    from nhanes_mg.study.analyses import run_spec
    from nhanes_mg.study.spec import parse_spec

    spec = parse_spec(tomllib.loads(SPEC))
    pooled, means = spec.analyses
    assert pooled.pool and pooled.domains == (
        ("men 20+", "sex = 'male' AND age >= 20"),
        ("age BETWEEN 9 AND 13", "age BETWEEN 9 AND 13"),
    )
    assert means.domains == (("female 51-70", "sex = 'female' AND age BETWEEN 51 AND 70"),)
    frame = pl.concat(
        [_frame(1000, seed=5, cycle="2003-2004", strata0=29), _frame(1000, 6, "2005-2006", 44)]
    )
    result = run_spec(spec, frame)
    assert not result.notes, result.notes
    table = result.table
    rows = table.filter(pl.col("analysis") == "pooled")
    assert set(rows["cycle"]) == {"2003-2006"}
    assert rows["group"].to_list() == ["men 20+", "men 20+", *["age BETWEEN 9 AND 13"] * 2]
    fit = result.fit("pooled", None)
    assert fit is not None and fit.weight == "wt_diet2"
    assert fit.cycles == ("2003-2004", "2005-2006")
    direct = (
        estimate_usual_intake(
            frame,
            nutrients=("mg",),
            cycles=[],
            pools={"2003-2006": ("2003-2004", "2005-2006")},
            weight="wt_diet2",
            population="age >= 1",
            domains=[("men 20+", "sex = 'male' AND age >= 20")],
            n_brr=0,  # the same point estimate, without replicates: quicker
        )
        .table.filter((pl.col("basis") == "food+supplements") & (pl.col("method") == "usual"))
        .row(0, named=True)
    )
    ours = rows.filter(pl.col("term") == "usual intake").row(0, named=True)
    assert ours["estimate"] == pytest.approx(direct["pct_below_ear"] / 100, rel=1e-12)
    assert ours["df"] == 30.0  # one design over the 30 pooled strata
    half = stats.t.ppf(0.975, 30) * ours["std_error"]
    assert ours["conf_low"] == pytest.approx(ours["estimate"] - half, rel=1e-12)
    mean = table.filter((pl.col("analysis") == "means") & (pl.col("term") == "usual intake"))
    assert mean["scale"][0] == "mean" and 150 < mean["estimate"][0] < 500
    assert mean["group"][0] is None


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ('domains = ["age >>> 3"]', "field 'analysis[0].domains[0]': cannot parse"),
        ("domains = [3]", "field 'analysis[0].domains[0]': a domain is an SQL condition"),
        ("domains = []", "field 'analysis[0].domains': needs at least one domain"),
        ('domain = "all"\ndomains = ["TRUE"]', "give domain (one) or domains (a list)"),
        ('domains = ["age > 1", {label = "age > 1", where = "age > 2"}]', "given twice"),
    ],
)
def test_spec_domain_errors_name_the_field(field: str, message: str) -> None:
    import tomllib

    from nhanes_mg.study.spec import parse_spec

    text = SPEC.split("[[analysis]]")[0] + (
        '[[analysis]]\nname = "a"\nstatistic = "usual_below_ear"\nvariable = "mg"\n' + field
    )
    with pytest.raises(SpecError, match="<spec>: ") as info:
        parse_spec(tomllib.loads(text))
    assert message in str(info.value)


# -------------------------------------------------------------------------------- CLI
def test_cli_malformed_domain_is_one_line_before_anything_is_built(cli_main, tmp_path) -> None:
    code, out, err = cli_main(
        "usual-intake", "--domain", "age >>> 3", "--data-dir", str(tmp_path / "none")
    )
    assert code == 1 and out == ""
    assert err.strip().startswith(
        "error: --domain 'age >>> 3': cannot parse it as an SQL expression near character 7"
    )
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "none").exists()


@pytest.mark.mirror
def test_cli_unknown_column_names_the_option_and_the_column(cli_main, nhanes_data_dir) -> None:
    code, out, err = cli_main(
        "usual-intake",
        "--cycles",
        "2005-2006",
        "--domain",
        "sex = 'male' AND agee >= 20",
        "--data-dir",
        str(nhanes_data_dir),
    )
    assert code == 1 and out == ""
    assert err.strip() == (
        "error: --domain \"sex = 'male' AND agee >= 20\": no column 'agee' in the analytic "
        "dataset (did you mean 'age'?)"
    )


@pytest.mark.mirror
def test_cli_pooled_cycles_and_user_domains(cli_main, nhanes_data_dir, tmp_path) -> None:
    code, out, err = cli_main(
        "usual-intake",
        "--cycles",
        "2011-2014",
        "--pool",
        "--nutrients",
        "mg",
        "--domain",
        "men 20+: sex = 'male' AND age >= 20",
        "--domain",
        "age BETWEEN 9 AND 13 AND NOT supp_user",
        "--data-dir",
        str(nhanes_data_dir),
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    print(out)
    assert "% < EAR (95% CI)" in out and "men 20+" in out and "2011-2014" in out
    table = pl.read_csv(tmp_path / "out" / "tables" / "usual_intake.csv")
    assert set(table["population"]) == {"2011-2014"}
    assert set(table["domain"]) == {"men 20+", "age BETWEEN 9 AND 13 AND NOT supp_user"}
    men = table.filter(
        (pl.col("domain") == "men 20+")
        & (pl.col("method") == "usual")
        & (pl.col("basis") == "food")
    ).row(0, named=True)
    assert men["domain_where"] == "sex = 'male' AND age >= 20"
    assert men["df"] >= 25 and 0.3 < men["pct_below_ear_se"] < 4
    assert men["pct_below_ear_low"] < men["pct_below_ear"] < men["pct_below_ear_high"]
    assert men["pct_below_rda"] > men["pct_below_ear"]
