"""The main job end to end on the real mirror: every table, figure and the report."""

from __future__ import annotations

import math
from html import escape as html_escape
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.data.fetch import read_manifest
from nhanes_mg.errors import SpecError
from nhanes_mg.jobs.run import RunSummary, select_specs
from nhanes_mg.study.spec_types import curve_members, judged_rows
from run_support import assert_report_rendered_again

REQUIRED = ["term", "estimate", "std_error", "statistic", "p_value", "conf_low", "conf_high",
            "df", "n", "scale"]  # fmt: skip


def test_select_specs_rejects_unknown_ids() -> None:
    with pytest.raises(SpecError, match="--only C9: no such specification; known: C1"):
        select_specs(["C9"])


@pytest.mark.mirror
def test_every_output_is_written(full_run: RunSummary) -> None:
    out = full_run.report_html.parent
    assert (out / "analytic.parquet").exists() and (out / "data_dictionary.md").exists()
    assert full_run.fetch is not None and full_run.fetch.fetched == []  # data dir was complete
    for result in full_run.results:
        sid = result.spec.id
        table = pl.read_csv(out / "tables" / f"{sid}.csv")
        assert set(REQUIRED) <= set(table.columns), sid
        assert table.height > 0, sid
        figure = out / "figures" / f"{sid}.png"
        assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", sid
        # the complete mirror leaves no row of any specification curve unestimated
        assert result.verdicts, sid
        for v in result.verdicts:
            judged = [(c.label, c.verdict, c.why) for c in v.curve]
            assert all(verdict != "not estimated" for _, verdict, _ in judged), (sid, judged)
    assert full_run.incomplete == []
    verdicts = pl.read_csv(out / "tables" / "verdicts.csv")
    main = verdicts.filter(pl.col("main"))
    assert main.select("claim", "statement").rows() == [
        (r.spec.id, v.statement or None) for r in full_run.results for v in r.verdicts
    ]
    html = full_run.report_html.read_text()
    assert 'src="figures/' not in html and "data:image/png;base64," in html  # self-contained
    for result in full_run.results:
        assert f'id="{result.spec.id}"' in html
        claim = result.spec.claim.split(";")[0][:40]
        assert claim.replace("&", "&amp;").replace('"', "&quot;") in html


@pytest.mark.mirror
def test_report_names_the_data(full_run: RunSummary, nhanes_data_dir: Path) -> None:
    md = full_run.report_md.read_text()
    manifest = read_manifest(nhanes_data_dir)
    demo = manifest["2005-2006/DEMO_D.xpt"]
    assert str(demo["sha256"]) in md
    assert "| polars |" in md and "## Methods" in md


def _expected(
    lo: float,
    hi: float,
    null: float,
    above: bool,
    pub: tuple[float, ...] | None,
    smallest: float | None = None,
) -> str:
    """The verdict table re-stated independently of nhanes_mg.study.verdicts (README wording)."""
    sign = 1 if above else -1
    lo_s, hi_s = sorted((sign * (lo - null), sign * (hi - null)))
    if hi_s < 0:
        return "contradicted"
    if lo_s <= 0 and smallest is not None and hi_s < sign * (smallest - null):
        return "no effect of the claimed size"
    if lo_s <= 0:
        if pub is None or lo <= pub[0] <= hi:
            return "inconclusive"
        return "not reproduced"
    if pub is None:
        return "consistent"
    p_lo, p_hi = (pub[1], pub[2]) if len(pub) == 3 else (pub[0], pub[0])
    if lo <= p_hi and hi >= p_lo:
        return "consistent"
    farther = sign * (min(lo, hi) if above else max(lo, hi)) > sign * (p_hi if above else p_lo)
    return "stronger than published" if farther else "weaker than published"


RATIO_SCALES = ("odds ratio", "hazard ratio", "ratio of odds ratios", "ratio of hazard ratios")


@pytest.mark.mirror
def test_verdicts_follow_from_the_numbers(full_run: RunSummary) -> None:
    """Every row of every statement's specification curve: its numbers are the fitted table's
    row its comparator points at (no number typed twice), and its verdict follows from them by
    the README's rules; the main verdict is printed in the report."""
    html = full_run.report_html.read_text()
    checked = 0
    for result in full_run.results:
        sid = result.spec.id
        for statement, verdict in zip(result.spec.statements, result.verdicts, strict=True):
            rule = statement.verdict
            assert verdict.statement == statement.name and verdict.main is not None, sid
            members = [
                (a, c) for a in curve_members(result.spec, statement)
                for c in judged_rows(statement, a)
            ]  # fmt: skip
            assert len(members) == len(verdict.curve), sid
            for (analysis, comparator), row_verdict in zip(members, verdict.curve, strict=True):
                what = (sid, statement.name, analysis.name, analysis.sensitivity)
                rows = result.table.filter(
                    (pl.col("analysis") == analysis.name)
                    & pl.col("sensitivity").eq_missing(pl.lit(analysis.sensitivity, pl.String))
                )
                role = "modification contrast" if rule.kind == "modification" else "estimate"
                if comparator.stratum is not None:
                    role = "stratum effect"
                    rows = rows.filter(pl.col("stratum") == comparator.stratum)
                picked = rows.filter(pl.col("role") == role)
                for column in ("term", "cycle", "group"):
                    want = getattr(comparator, column)
                    if want is not None and not (column == "term" and picked.height == 1):
                        picked = picked.filter(pl.col(column) == want)
                assert picked.height == 1, what
                row = picked.row(0, named=True)
                est, lo, hi = row["estimate"], row["conf_low"], row["conf_high"]
                ratio = row["scale"] in RATIO_SCALES
                null = rule.value if rule.kind == "threshold" else (1.0 if ratio else 0.0)
                assert null is not None
                above = (analysis.verdict_direction or rule.direction) == "above"
                pub = None
                if comparator.estimate is not None:
                    pub = (comparator.estimate,) if comparator.conf_low is None else (
                        comparator.estimate, comparator.conf_low, comparator.conf_high)  # fmt: skip
                if rule.kind == "modification":
                    fit = result.fit(analysis.name, analysis.sensitivity)
                    assert fit is not None and fit.strata is not None
                    claimed = fit.strata[0] if rule.stronger_in == "modifier" else fit.strata[1]
                    if rule.stronger_in == "complement":  # the contrast faces the complement
                        est, lo, hi = (1 / est, 1 / hi, 1 / lo) if ratio else (-est, -hi, -lo)
                    expected = _expected(lo, hi, null, above, pub, rule.smallest_effect)
                    effect = rows.filter(
                        (pl.col("role") == "stratum effect") & (pl.col("stratum") == claimed)
                        & (pl.col("term") == row["term"])
                    ).row(0, named=True)  # fmt: skip
                    in_stratum = _expected(
                        effect["conf_low"], effect["conf_high"], null, above, None
                    )
                    if (
                        expected
                        in ("consistent", "stronger than published", "weaker than published")
                        and in_stratum != "consistent"
                    ):
                        expected = "inconclusive"  # fmt: skip
                else:
                    expected = _expected(lo, hi, null, above, pub, rule.smallest_effect)
                assert (row_verdict.estimate, row_verdict.conf_low) == pytest.approx((est, lo)), (
                    what
                )
                assert row_verdict.verdict == expected, (*what, row, row_verdict.why)
                # the curve's count reads the interval, whatever the verdict's word
                sides = [(x - null) if not ratio else math.log(x / null) for x in (lo, hi)]
                if not above:
                    sides = [-x for x in sides[::-1]]
                side = 1 if sides[0] > 0 else -1 if sides[1] < 0 else 0
                assert row_verdict.side == side, what
                assert row_verdict.published == comparator.estimate, what
                checked += 1
            # the report prints the numbers the rule saw, the verdict and the curve
            for text in (verdict.ours, verdict.verdict, verdict.summary):
                assert html_escape(text) in html, (sid, text)
    assert checked >= 60  # every row of every shipped curve


@pytest.mark.mirror
def test_report_states_what_was_fitted(full_run: RunSummary) -> None:
    md = full_run.report_md.read_text()
    c6 = next(r for r in full_run.results if r.spec.id == "C6")
    cox = c6.fit("cancer_mortality_by_ratio")
    assert cox is not None
    # the C6 section lists each analysis with its own cycles, n, events and weight
    section = md.split("## C6.")[1].split("\n## ")[0]
    assert "2003-2004, 2005-2006, 2011-2012, 2013-2014" in section
    assert f"{cox.n:,}" in section and f"{cox.events:,}" in section
    assert "2003-2004 … 2017-2018 (left out: 2001-2002: no WTDR2D weight)" in section
    assert "both dietary recall days (Ca:Mg intake ratio, total) → WTDR2D" in section
    assert "What this cannot test" in section and "ecological" in section
    fits = pl.read_csv(full_run.report_html.parent / "tables" / "C6_fits.csv")
    assert {"cycles", "n", "events", "weight", "weight_reason"} <= set(fits.columns)
    # the share that makes an outcome common for the E-values is the survey-weighted one:
    # Table 1's weighted prevalence of the same sample (another code path), not events / n
    main = fits.filter(
        (pl.col("analysis") == "diabetes_by_ratio") & pl.col("sensitivity").is_null()
    ).row(0, named=True)
    table1 = pl.read_csv(full_run.report_html.parent / "tables" / "C6_table1.csv")
    overall = table1.filter(
        (pl.col("analysis") == "diabetes_by_ratio") & (pl.col("variable") == "diabetes")
        & (pl.col("group") == "Overall")
    ).row(0, named=True)  # fmt: skip
    assert main["outcome_share"] == pytest.approx(overall["estimate"] / 100, rel=1e-9)
    assert abs(main["outcome_share"] - main["events"] / main["n"]) > 0.01
    assert "exponentiated Nelson–Aalen (Breslow)" in section  # what the survival curves are


@pytest.mark.mirror
def test_c2_rests_on_usual_intake_with_day_1_beside(full_run: RunSummary) -> None:
    """C2 reports the NCI usual-intake share below the EAR beside the day-1 share; one day
    overstates it (Rosanoff 2012: 48% in 2005-06 from usual intake, food). Its verdict reads
    usual intake below the RDA, the claim's 'recommended amount'."""
    c2 = next(r for r in full_run.results if r.spec.id == "C2")
    rows = c2.table.filter(pl.col("analysis") == "usual_below_ear_food")
    by_term = {(c, t): e for c, t, e in rows.select("cycle", "term", "estimate").iter_rows()}
    assert by_term[("2005-2006", "usual intake")] < by_term[("2005-2006", "day 1")]
    assert by_term[("2005-2006", "usual intake")] == pytest.approx(0.48, abs=0.03)
    assert rows["conf_low"].is_not_null().all()
    assert c2.spec.verdict is not None and c2.spec.verdict.term == "usual intake"
    # Rosanoff's food shares are held against our food shares of their own cycles only
    inadequacy = next(v for v in c2.verdicts if v.statement == "inadequacy")
    compared = {(c.analysis, c.row): c.published for c in inadequacy.curve if c.published}
    assert compared == {
        ("usual_below_ear_food", "usual intake, 2005-2006"): 0.48,
        ("usual_below_ear_food", "usual intake, 2001-2002"): 0.56,
    }
    most = next(v for v in c2.verdicts if v.statement == "most")
    assert all(c.published is None for c in most.curve)  # Dai's 79%: the direction only
    rda = c2.table.filter(
        (pl.col("analysis") == "usual_below_rda_total_adults") & pl.col("sensitivity").is_null()
    )
    assert set(rda["term"]) == {"usual intake", "day 1"}


@pytest.mark.mirror
def test_the_report_is_the_one_its_results_make(
    full_run: RunSummary, nhanes_data_dir: Path, tmp_path: Path
) -> None:
    """Rendered while the workers drew the last figures (once the gallery was in) or after,
    the report is the one this run's results, figures, gallery and seam figure make, rendered
    again now: the same but for its hour."""
    assert_report_rendered_again(full_run, nhanes_data_dir, tmp_path)
