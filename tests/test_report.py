"""The report, tables and verdicts.csv of small fixed results (tests/hand_results.py): what each
claim's section says (verdict and why, robustness, what it cannot test, what was fitted), how
numbers are shown (shares as %, P values, thousands), which data files are listed, and that the
HTML is self-contained and escaped."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import json
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg.derive import registry
from nhanes_mg.errors import InvalidFileError
from nhanes_mg.report import document as report
from nhanes_mg.report.document import ReportInputs, render_html, render_markdown
from nhanes_mg.study import verdicts
from nhanes_mg.study.results import SpecResult
from run_support import ShippedResult

from hand_results import forest_result, share_result

PNG = b"\x89PNG\r\n\x1a\n" + b"not really an image"
META: dict[str, object] = {
    "rows": 23456,
    "cycles": ["2003-2004", "2005-2006", "2015-2016", "2017-2018"],
    "gaps": [],
}


@pytest.fixture(scope="module")
def results() -> list[SpecResult]:
    return [share_result(), forest_result()]


def _data_dir(folder: Path) -> Path:
    """A data dir whose fetch manifest lists: a file of a built cycle, one of a cycle not
    built, the ingredient database, a mortality file and a file deleted since it was fetched."""
    entries = []
    for relpath in ("2005-2006/DEMO_D.xpt", "2011-2012/DEMO_G.xpt", "1999-2000/DSII.xpt",
                    "linked_mortality/NHANES_2005_2006_MORT_2015_PUBLIC.dat",
                    "2003-2004/VID_C.xpt"):  # fmt: skip
        path = folder / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(relpath.encode())
        entries.append({"file": relpath, "size": path.stat().st_size,
                        "sha256": hashlib.sha256(relpath.encode()).hexdigest(),
                        "source": f"/mirror/{relpath}"})  # fmt: skip
    (folder / "2003-2004" / "VID_C.xpt").unlink()
    (folder / "fetch-manifest.json").write_text(json.dumps({"files": entries, "absent": []}))
    return folder


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, results: list[SpecResult]) -> ReportInputs:
    folder = tmp_path_factory.mktemp("report")
    figure = folder / "out" / "figures" / "T1.png"
    figure.parent.mkdir(parents=True)
    figure.write_bytes(PNG)
    return ReportInputs(results, {"T1": [figure]}, _data_dir(folder / "raw"), META)


@pytest.fixture(scope="module")
def md(inputs: ReportInputs) -> str:
    return render_markdown(inputs, lambda p: f"figures/{p.name}")


@pytest.fixture(scope="module")
def page(inputs: ReportInputs) -> str:
    return render_html(inputs)


def _section(md: str, sid: str) -> str:
    return md.split(f"\n## {sid}. ")[1].split("\n## ")[0]


def test_summary_has_every_claim_with_its_verdict_and_curve(md: str) -> None:
    summary = md.split("## Summary")[1].split("\n## ")[0]
    assert (
        "| [T1](#T1): Share of adults below the magnesium EAR (hand-made) | about half of adults "
        "below the EAR | 54.7% (51.2–58.3%) | **consistent** | estimates 54.7% to 60.0% across 2 "
        "analyses; 2 exclude 50% on the claimed side |"
    ) in summary
    assert (
        "| [T3](#T3): Magnesium intake and vitamin D deficiency (hand-made) | OR 0.34 (0.21–0.56), "
        "Q4 "
        "vs Q1 | 0.40 (0.28–0.57) | **consistent** | estimates 0.40 to 0.90 across 3 analyses; "
        "2 exclude no effect on the claimed side |"
    ) in summary


def test_claim_section_states_verdict_reason_curve_and_limits(
    md: str, results: list[SpecResult]
) -> None:
    forest = results[1]
    assert forest.verdict is not None
    section = _section(md, "T3")
    assert "> Higher magnesium intake goes with less vitamin D deficiency." in section
    assert "- **Source**: a unit test; evidence cited: Deng X et al. BMC Med 2013;11:187" in section
    assert "- **Published**: OR 0.34 (0.21–0.56), Q4 vs Q1" in section
    assert "- **Ours** (deficiency_adjusted, Q4): 0.40 (0.28–0.57); E-value" in section
    assert f"- **Verdict**: **consistent** — {forest.verdict.why}" in section
    assert "overlaps the published CI 0.21–0.56" in forest.verdict.why
    assert (
        "- **Specification curve**: estimates 0.40 to 0.90 across 3 analyses; 2 exclude no "
        "effect on the claimed side"
    ) in section
    assert (
        "- **What this cannot test**: Cross-sectional: says nothing about which comes first."
    ) in section
    assert "- **Notes**: Day-1 intakes with the day-1 weight." in section
    # the curve: each analysis with its row, n, its own comparator, verdict and why, sorted
    curve = section.split("**Specification curve**: every analysis")[1].split("\n\n**")[0]
    lines = [line for line in curve.splitlines() if line.startswith("| ")][2:]
    assert [line.split(" | ")[3] for line in lines] == [
        "0.40 (0.28–0.57)", "0.55 (0.33–0.92)", "0.90 (0.60–1.35)",
    ]  # fmt: skip
    assert lines[0].startswith("| ▶ main analysis | Q4 | 4,321 |")
    assert (
        "| two-day mean intakes | Q4 | 4,321 | 0.90 (0.60–1.35) | OR 0.34 (0.21–0.56), Q4 vs Q1 "
        "| not reproduced | the CI includes no effect and excludes the published 0.34 |"
    ) in section
    assert "Incomplete data" not in section


def test_fits_table_gives_cycles_n_events_and_weight(md: str) -> None:
    section = _section(md, "T3")
    assert "| analysis | model | cycles fitted | n (unweighted) | events | weight |" in section
    assert (
        "| deficiency_adjusted | survey logistic (quasibinomial), quartiles | 2003-2004, "
        "2005-2006 | 4,321 | 321 | a day-1 intake → WTDRD1 |"
    ) in section
    assert "| deficiency_adjusted [two_day: two-day mean intakes] |" in section
    assert "| 3,579 | 287 |" in section
    assert "<details><summary>Cut points</summary>" in section
    assert "- `deficiency_adjusted`: 212, 276.5, 351" in section


def test_numbers_shares_as_percent_ratios_plain_p_values_rounded(md: str) -> None:
    share = _section(md, "T1")
    assert (
        "| share_below_ear | estimate | share | 2017-2018 | 54.7% (51.2–58.3%) |  | 4,000 | "
        "proportion |"
    ) in share
    assert "| share_below_ear_by_sex | estimate | share | Female | 59.0% (55.0–63.0%) |" in share
    women = "| share_below_ear [women] | estimate | share | 2017-2018 | 60.0% (55.0–65.0%) |"
    assert women in share
    # a trend is not a share: three significant digits below 0.1, one minus sign, "to"
    assert "| share_below_ear | trend | trend |  | 0.0130 (−0.0200 to 0.0460) | 0.430 |" in share
    forest = _section(md, "T3")
    # trailing zeros kept: 0.40, not 0.4
    assert "| deficiency_adjusted | estimate | Q4 |  | 0.40 (0.28–0.57) | 0.010 | 4,321 |" in forest
    assert "| deficiency_adjusted | reference | Q1 |  | 1.00 |  | 4,321 | odds ratio |" in forest
    assert "| deficiency_adjusted | trend | P for trend |  |  | < 0.001 |" in forest


def test_figures_are_linked_in_markdown_and_embedded_in_html(md: str, page: str) -> None:
    assert "![T1](figures/T1.png)" in _section(md, "T1")
    assert "![T3]" not in md  # no figure given for T3
    assert f'src="data:image/png;base64,{base64.b64encode(PNG).decode("ascii")}"' in page
    assert 'src="figures/' not in page


def test_data_section_lists_the_files_of_the_built_cycles_with_sha256(md: str) -> None:
    data = md.split("\n## Data\n")[1].split("\n## ")[0]
    assert (
        "Analytic dataset: 23456 participants, cycles 2003-2004, 2005-2006, 2015-2016, "
        "2017-2018. Gaps: 0 missing table(s)."
    ) in data
    sha = hashlib.sha256(b"2005-2006/DEMO_D.xpt").hexdigest()
    assert f"| 2005-2006/DEMO_D.xpt | 20 | {sha} | /mirror/2005-2006/DEMO_D.xpt |" in data
    assert "| 1999-2000/DSII.xpt |" in data  # the ingredient database serves every cycle
    assert "| linked_mortality/NHANES_2005_2006_MORT_2015_PUBLIC.dat |" in data
    assert "2011-2012/DEMO_G.xpt" not in data  # a cycle not built
    # the files the analyses read are listed; the others folded away under a summary
    used, others = data.split("<details><summary>The other ")
    assert "**The 2 data files the analyses above read**" in used
    assert "2005-2006/DEMO_D.xpt" in used and "1999-2000/DSII.xpt" in used  # Mg intake's
    assert "linked_mortality/" in others  # no survival analysis here
    assert "2003-2004/VID_C.xpt" not in data  # deleted since it was fetched: not used


def test_methods_state_every_verdict_rule_and_software_versions(md: str) -> None:
    methods = md.split("\n## Methods\n")[1].split("\n## ")[0]
    for word, rule in verdicts.VOCABULARY:
        assert f"{word}: {rule}" in methods, word
    software = md.split("\n## Software\n")[1]
    assert "| nhanes-mg |" in software and "| polars |" in software


def test_html_has_the_same_content_escaped(page: str, results: list[SpecResult]) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert '<h2 id="T3">T3. Magnesium intake and vitamin D deficiency (hand-made)</h2>' in page
    assert '<a href="#T1">T1</a>' in page
    assert '<strong class="v-consistent">consistent</strong>' in page
    forest = results[1]
    assert forest.verdict is not None
    why = html.escape(forest.verdict.why, quote=False)
    verdict = '<strong class="v-consistent">consistent</strong>'
    assert f"<li><strong>Verdict</strong>: {verdict} — {why}" in page
    assert (
        "<li><strong>Specification curve</strong>: estimates 0.40 to 0.90 across 3 analyses; 2 "
        "exclude no effect on the claimed side"
    ) in page
    assert "<li><strong>What this cannot test</strong>: Cross-sectional" in page
    assert "<details><summary>Table (tables/T3.csv)</summary>" in page  # long tables fold
    fitted = "<td>deficiency_adjusted</td>\n<td>survey logistic (quasibinomial), quartiles</td>"
    assert fitted in page
    assert "<td>4,321</td>\n<td>321</td>" in page
    assert "<td>54.7% (51.2–58.3%)</td>" in page
    assert "<code>age &gt;= 20 AND recall_ok_d1</code>" in page  # escaped, not markup
    assert "SYNTHETIC" not in page


def test_synthetic_results_are_stamped(inputs: ReportInputs, tmp_path: Path) -> None:
    stamped = dataclasses.replace(inputs, synthetic=True)
    assert report.SYNTHETIC_STAMP in render_markdown(stamped, str)
    page = render_html(stamped)
    assert f'<blockquote class="stamp">\n<p><strong>{report.SYNTHETIC_STAMP}.' in page
    report.write_tables(inputs.results[0], tmp_path / "tables", synthetic=True)
    table = pl.read_csv(tmp_path / "tables" / "T1.csv")
    assert (table["data"] == report.SYNTHETIC_STAMP).all()


def test_incomplete_and_not_estimated_are_said_beside_the_verdict(
    inputs: ReportInputs, results: list[SpecResult]
) -> None:
    forest = results[1]
    fits = list(forest.fits)
    fits[1] = dataclasses.replace(fits[1], incomplete=("VID_D (2005-2006)",))
    fits[3] = dataclasses.replace(fits[3], error="2 rows match the rule's term")
    changed = dataclasses.replace(forest, fits=fits)
    md = render_markdown(dataclasses.replace(inputs, results=[changed]), str)
    section = _section(md, "T3")
    verdict_line = next(i for i, line in enumerate(section.splitlines()) if "**Verdict" in line)
    assert section.splitlines()[verdict_line + 1] == (
        "- **⚠ Incomplete data**: estimated without VID_D (2005-2006) (--allow-incomplete)"
    )
    assert (
        "| deficiency_adjusted [two_day: two-day mean intakes] | survey logistic (quasibinomial), "
        "quartiles |  |  |  | not estimated: 2 rows match the rule's term |"
    ) in section


def test_write_report_tables_and_verdicts_csv(inputs: ReportInputs, tmp_path: Path) -> None:
    for result in inputs.results:
        report.write_tables(result, tmp_path / "tables")
    md_path, html_path = report.write_report(inputs, tmp_path)
    assert (md_path, html_path) == (tmp_path / "report.md", tmp_path / "report.html")
    assert "## T3." in md_path.read_text(encoding="utf-8")
    fits = pl.read_csv(tmp_path / "tables" / "T3_fits.csv")
    assert fits.columns[:4] == ["analysis", "sensitivity", "label", "cycles"]
    adjusted = fits.filter(pl.col("sensitivity").is_null()).row(1, named=True)
    assert adjusted["cycles"] == "2003-2004; 2005-2006" and adjusted["n"] == 4321
    assert adjusted["events"] == 321 and adjusted["weight"] == "wt_diet1"
    table = pl.read_csv(tmp_path / "tables" / "T1.csv")
    assert table.height == inputs.results[0].table.height and "data" not in table.columns
    rows = pl.read_csv(tmp_path / "tables" / "verdicts.csv")
    t3 = rows.filter(pl.col("claim") == "T3")
    assert t3["verdict"].to_list() == ["consistent", "consistent", "not reproduced"]
    assert t3["sensitivity"].to_list() == [None, "non_users", "two_day"]
    assert t3["main"].to_list() == [True, False, False]
    assert t3["statement"].to_list() == [None, None, None]  # one statement: no name
    # the curve's summary belongs to the main row only
    assert t3["curve"].to_list()[1:] == [None, None]
    assert t3["curve"][0].startswith("estimates 0.40 to 0.90 across 3 analyses")
    assert t3["estimate"][0] == pytest.approx(0.40) and t3["row"][0] == "Q4"
    # supplement non-users are another population: no published number is inherited
    assert t3["published"].to_list() == [0.34, None, 0.34]
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]  # nothing half-written


def test_evalues_use_the_weighted_share_and_none_on_the_wrong_side(
    results: list[SpecResult],
) -> None:
    forest = results[1]
    (verdict,) = forest.verdicts
    main = verdict.main
    assert main is not None
    fit = forest.fit(main.analysis)
    assert fit is not None and fit.events == 321 and fit.n == 4321  # 7.4% of the sample
    rare, note = report.evalues_of(forest, verdict, main)
    assert rare is not None and not rare.common and note == ""
    # the same sample with a weighted prevalence of 20% (say, the cases carry large weights):
    # common, so the OR is taken to the risk-ratio scale first (√OR)
    fits = [dataclasses.replace(f, outcome_share=0.20) if f is fit else f for f in forest.fits]
    common, _ = report.evalues_of(dataclasses.replace(forest, fits=fits), verdict, main)
    assert common is not None and common.common
    assert common.estimate == pytest.approx(
        1 / 0.40**0.5 + (1 / 0.40**0.5 * (1 / 0.40**0.5 - 1)) ** 0.5
    )
    # an estimate on the other side of the claim (OR > 1, claimed below 1): none, and why
    wrong = dataclasses.replace(main, estimate=1.6, conf_low=1.2, conf_high=2.1)
    none, why = report.evalues_of(forest, verdict, wrong)
    assert none is None and why.startswith("no E-value: the estimate lies on the other side")


# ------------------------------------------------------------ real results (the mirror)


@pytest.mark.mirror
def test_what_was_fitted_counts_the_design_n_for_every_analysis_kind(
    shipped_result: ShippedResult, analytic_frame: pl.DataFrame
) -> None:
    """n is each participant once: a descriptive analysis by cycle with age-standardized rows
    beside the crude ones, a usual-intake share and a survey model."""
    c6 = shipped_result("C6")
    fit = c6.fit("diabetes_prevalence_by_cycle")
    assert fit is not None
    by_hand = analytic_frame.filter(  # the population of the specification, by polars
        pl.col("age") >= 20,
        pl.col("recall_ok_d1"),
        ~pl.col("pregnant").fill_null(False),
        pl.col("diabetes").is_not_null(),
        pl.col("wt_mec") > 0,
    ).height
    assert fit.n == by_hand
    rows = c6.table.filter(
        pl.col("analysis") == "diabetes_prevalence_by_cycle", pl.col("sensitivity").is_null()
    )
    assert rows.filter(pl.col("role") == "age-standardized").height == 9
    assert report.numbers.count(fit.n) in report.render_markdown(
        ReportInputs([c6], {}, Path("/nonexistent"), META), lambda p: p.name
    )
    for spec_id in ("C2", "C3"):
        result = shipped_result(spec_id)
        spec = result.spec
        kinds = {(a.name, a.sensitivity): a.kind for a in (*spec.analyses, *spec.sensitivities)}
        for f in result.fits:
            if f.error:
                continue
            own = result.table.filter(
                pl.col("analysis") == f.analysis,
                pl.col("sensitivity").eq_missing(f.sensitivity),
                pl.col("role") == "estimate",
            )
            # a model's rows each hold the whole sample; a share's rows split it by cycle
            # and domain, the day-1 and usual-intake rows of one domain the same people
            top = own.group_by("cycle", "group").agg(pl.col("n").max())["n"]
            expected = top.max() if kinds[f.analysis, f.sensitivity] == "model" else top.sum()
            assert f.n == expected, (spec_id, f.analysis, f.sensitivity)


@pytest.mark.mirror
def test_table_one_is_in_words_with_one_p_per_characteristic(
    shipped_result: ShippedResult,
) -> None:
    result = shipped_result("C3")
    name, headers, rows = report.table1_rows(result)
    fit = result.fit(name)
    assert fit is not None
    assert headers[:2] == ["Characteristic", "Overall"] and headers[-1] == "P"
    assert headers[2].startswith("Q1 (≤ ") and headers[2].endswith(" mg/day)")
    assert rows[0] == ["n (unweighted)", report.numbers.count(fit.n), *rows[0][2:]]
    codes = {code for words in registry.level_labels().values() for code in words}
    labels = [row[0] for row in rows]
    for label in labels:
        assert label.removeprefix(report.INDENT) not in codes - {"other"}, (
            label
        )  # no raw level code
        assert "_" not in label, label  # nor a column name
    assert report.INDENT + "Non-Hispanic White" in labels
    race = labels.index("Race and Hispanic origin, % (SE)")
    assert rows[race][-1] == "< 0.001" and all(r[-1] == "" for r in rows[race + 1 : race + 6])
    p_values = [r[-1] for r in rows if r[-1]]
    assert len(p_values) == len(
        result.table1.filter(pl.col("analysis") == name)["variable"].unique()
    )


@pytest.mark.mirror
def test_sample_flow_steps_are_numbered_as_shown_and_named_in_words(
    shipped_result: ShippedResult,
) -> None:
    _, rows = report.flow_rows(shipped_result("C3"))
    assert [r[0] for r in rows] == [str(i) for i in range(len(rows))]
    assert any(r[1] == "family income to poverty ratio not missing" for r in rows)
    assert any(r[1] == "age ≥ 20 years" for r in rows)  # the condition in words


@pytest.mark.mirror
def test_terminal_report_and_csv_show_one_estimate_text(
    shipped_result: ShippedResult, tmp_path: Path
) -> None:
    """The verdict's estimate as the terminal prints it is the report's, character for
    character, and the CSV holds the numbers it was formatted from."""
    result = shipped_result("C3")
    md = report.render_markdown(ReportInputs([result], {}, Path("/nonexistent"), META), str)
    table = report.verdicts_table([result])
    for row in table.iter_rows(named=True):
        text = report.numbers.estimate_ci(
            row["estimate"], row["conf_low"], row["conf_high"], null=1.0
        )
        assert text in row["ours"] and text in md


def test_a_level_is_indented_under_its_characteristic_in_the_html() -> None:
    """The parser strips a cell's leading whitespace; the indent survives it."""
    from nhanes_mg.report import markup

    page = markup.to_html(f"| a |\n| --- |\n| {report.INDENT}Male |\n")
    assert "<td>\u200b\u00a0\u00a0\u00a0\u00a0Male</td>" in page


def test_a_hostile_manifest_cannot_make_the_report_probe_outside_the_data_dir(
    tmp_path: Path, results: list[SpecResult]
) -> None:
    """The manifest is the data dir's (untrusted): an entry outside it, absolute or through a
    link is never listed, whether or not the file it names exists."""
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    data = tmp_path / "raw"
    (data / "2005-2006").mkdir(parents=True)
    (data / "2005-2006" / "DEMO_D.xpt").write_text("demo")
    (data / "2005-2006" / "VID_D.xpt").symlink_to(outside)

    def manifest(*names: str) -> None:
        entries = [{"file": n, "size": 1, "sha256": "0" * 64, "source": "s"} for n in names]
        (data / "fetch-manifest.json").write_text(json.dumps({"files": entries, "absent": []}))

    for name in ("../secret.txt", str(outside)):  # the manifest is refused, naming the field
        manifest(name, "2005-2006/DEMO_D.xpt")
        with pytest.raises(InvalidFileError, match=r"fetch-manifest\.json: field 'file'"):
            render_markdown(ReportInputs(results, {}, data, META), lambda p: p.name)
    manifest("2005-2006/VID_D.xpt", "2005-2006/DEMO_D.xpt")  # a link: never listed
    md = render_markdown(ReportInputs(results, {}, data, META), lambda p: p.name)
    listed = md.split("\n## Data\n")[1]
    assert "DEMO_D.xpt" in listed
    assert "secret" not in listed and "VID_D" not in listed
