"""The validation gallery: the status rule on hand-made numbers, the shipped targets as written
(sources read, values as printed, an expectation each), a target estimated on a small made-up
frame, the report section, the command line — and, on the real mirror, every shipped target's
status against the committed expectations (validation/expected.toml)."""

from __future__ import annotations

import math
import os
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from nhanes_mg import cli
from nhanes_mg.derive import BuildResult
from nhanes_mg.errors import SpecError
from nhanes_mg.jobs import run as pipeline
from nhanes_mg.jobs import validate as command_mod
from nhanes_mg.study.validation import (
    COLUMNS,
    DEFINITION_DIFFERS,
    NOT_ESTIMATED,
    OFF,
    STATUSES,
    WITHIN_2SE,
    WITHIN_CI,
    judge,
    load_expected,
    load_target,
    load_targets,
    parse_target,
    run_validation,
    shipped_target_paths,
)
from nhanes_mg.study.validation.gallery import SCHEMA
from nhanes_mg.study.validation.rules import Z95, combined_se, published_interval

from derive_support import session_build_in_runs

CliMain = Callable[..., tuple[int, str, str]]  # the ``cli_main`` fixture (tests/conftest.py)


# ---------------------------------------------------------------------------------- the rule


def test_inside_a_printed_ci_is_within_the_published_ci() -> None:
    r = judge(7.6, None, 6.0, 9.6, 9.5, 0.5, rounding=0.1)
    assert r.status == WITHIN_CI
    assert (r.low, r.high) == (6.0, 9.6)
    assert r.difference == pytest.approx(1.9)


def test_a_printed_se_gives_the_interval_and_the_published_se() -> None:
    # 838 (SE 25): interval 838 ± 1.96 × 25
    assert published_interval(838.0, 25.0, None, None) == pytest.approx(
        (838 - Z95 * 25, 838 + Z95 * 25)
    )
    assert judge(838.0, 25.0, None, None, 880.0, 20.0).status == WITHIN_CI
    # 900 is outside 838 ± 49 but |z| = 62 / √(20² + 25²) = 1.94
    r = judge(838.0, 25.0, None, None, 900.0, 20.0)
    assert r.status == WITHIN_2SE
    assert r.z == pytest.approx(62 / math.sqrt(20**2 + 25**2))
    assert judge(838.0, 25.0, None, None, 950.0, 20.0).status == OFF


def test_a_printed_ci_gives_the_published_se() -> None:
    se = combined_se(0.5, None, 6.0, 9.6)
    assert se == pytest.approx(math.sqrt(0.5**2 + ((9.6 - 6.0) / (2 * Z95)) ** 2))


def test_a_bare_rounded_value_adds_the_rounding_sd() -> None:
    # "49%": the true value lies in [48.5, 49.5); its SD is 1/√12 = 0.289
    assert combined_se(1.0, None, rounding=1.0) == pytest.approx(math.sqrt(1 + 1 / 12))
    r = judge(49.0, None, None, None, 47.0, 1.0, rounding=1.0)
    assert r.status == WITHIN_2SE and r.z == pytest.approx(-2 / math.sqrt(1 + 1 / 12))
    # the same gap with a value printed to 0.1: z grows past 2? no: 2 / √(1 + 0.01/12) < 2
    assert judge(49.0, None, None, None, 46.9, 1.0, rounding=0.1).status == OFF
    # without any rounding term a bare value is exact
    assert combined_se(1.0, None) == 1.0


def test_off_and_not_estimated() -> None:
    assert judge(57.6, None, None, None, 40.0, 1.0, rounding=0.1).status == OFF
    for ours, se in ((None, None), (math.nan, 1.0)):
        r = judge(57.6, None, None, None, ours, se)
        assert r.status == NOT_ESTIMATED and r.z is None and r.difference is None


def test_a_sample_size_off_by_more_than_two_percent_is_a_different_definition() -> None:
    inside = judge(838.0, 25.0, None, None, 838.0, 20.0, n=1369, published_n=914)
    assert inside.status == DEFINITION_DIFFERS  # never "within CI" on another population
    assert inside.z == 0.0 and inside.low is not None  # the numbers are still shown
    assert judge(838.0, 25.0, None, None, 838.0, 20.0, n=932, published_n=914).status == WITHIN_CI
    assert judge(838.0, 25.0, None, None, 838.0, 20.0, n=933, published_n=914).status == (
        DEFINITION_DIFFERS
    )
    assert judge(838.0, 25.0, None, None, 838.0, 20.0, n=None, published_n=914).status == (
        WITHIN_CI
    )
    # not estimated stays not estimated, whatever the n
    assert judge(838.0, 25.0, None, None, None, None, published_n=914).status == NOT_ESTIMATED


def test_no_standard_error_of_ours_is_off_unless_inside_the_ci() -> None:
    assert judge(7.6, None, 6.0, 9.6, 8.0, None).status == WITHIN_CI
    assert judge(7.6, None, None, None, 7.7, None).status == OFF


# ---------------------------------------------------------------------------------- the targets


def test_every_shipped_target_is_written_from_its_source() -> None:
    paths = shipped_target_paths()
    assert [p.name[:3] for p in paths] == [f"P{i:02d}" for i in range(1, len(paths) + 1)]
    assert len(paths) >= 30
    # at least three published models (regressions), each naming the row it compares
    models = [t for t in load_targets() if t.spec and t.spec.analyses[0].model != "descriptive"]
    assert len(models) >= 3 and all(t.selector.get("term") for t in models)
    for path, target in zip(paths, load_targets(), strict=True):
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        assert target.id == path.name[:3] == raw["id"]
        assert target.read and all(url.startswith("http") for url, _ in target.read), target.id
        assert target.topic and target.label and target.definition and target.source
        assert raw["notes"], target.id  # what was read, and what could not be
        # the published value as printed: the reference text carries the number
        printed = raw["reference"]["text"]
        value = f"{target.published:g}"
        assert value in printed.replace("·", ".").replace(",", ""), (target.id, value, printed)
        if target.published_low is not None:
            assert (
                f"{target.published_low:g}" in printed and f"{target.published_high:g}" in printed
            )
        if target.published_se is not None:
            assert f"{target.published_se:g}" in printed, target.id


def test_the_expectations_cover_every_target_and_give_a_reason_when_off() -> None:
    expected = load_expected()
    assert sorted(expected) == [t.id for t in load_targets()]
    for tid, entry in expected.items():
        assert entry["status"] in STATUSES
        if entry["status"] == OFF:
            assert entry["reason"].strip().endswith("."), tid  # one sentence, by a person


def test_the_readme_states_the_rule_and_the_expected_counts() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    part = readme[readme.index("## Validation gallery") :]
    part = part[: part.index("\n## ", 5)]
    for status in STATUSES:
        assert f"| **{status}** |" in part, status
    expected = [e["status"] for e in load_expected().values()]
    counts = ", ".join(f"{expected.count(s)} {s}" for s in STATUSES)
    assert f"**{counts}** (of {len(expected)})" in part.replace("\n", " ")
    for tid, entry in load_expected().items():
        assert f"{entry['status']} |" in next(
            line for line in part.splitlines() if line.startswith(f"| {tid} ")
        ), tid


def _target(tmp_path: Path, validation: str, analysis: str | None = None) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(
        'id = "U1"\ntitle = "t"\nclaim = "c"\ncitation = "me"\ncycles = "2017-2018"\n'
        'population = "age >= 20"\nmodel = "descriptive"\n'
        + (
            analysis
            or '[[analysis]]\nname = "estimate"\nstatistic = "proportion"\nvariable = "supp_user"\n'
        )
        + '[reference]\ntext = "50%"\nestimate = 50.0\n'
        + validation,
        encoding="utf-8",
    )
    return path


def test_a_target_names_its_mistakes(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"field 'validation.colour': unknown field; allowed"):
        load_target(_target(tmp_path, '[validation]\ncolour = "red"\n'))
    with pytest.raises(SpecError, match=r"field 'validation.rounding': must be a number"):
        load_target(_target(tmp_path, '[validation]\nrounding = "one"\n'))
    with pytest.raises(SpecError, match=r"field 'validation.analysis': 'other' is not one of"):
        load_target(_target(tmp_path, '[validation]\nanalysis = "other"\n'))
    with pytest.raises(SpecError, match=r"reference.estimate': a target needs the published"):
        parse_target({"id": "U2", "validation": {}}, "u2.toml")
    # a malformed specification is an error too, unless it names a feature it needs
    bad = '[[analysis]]\nname = "estimate"\nstatistic = "proportion"\nvariable = "no_such"\n'
    with pytest.raises(SpecError, match="unknown column 'no_such'"):
        load_target(_target(tmp_path, "[validation]\n", bad))
    # a claim's specification (no [validation]) is no target: refused, never "57.6 vs 0.6"
    with pytest.raises(SpecError, match=r"mine.toml: field 'validation': is required"):
        load_target(_target(tmp_path, ""))


def test_a_target_the_language_cannot_say_yet_is_not_estimated(tmp_path: Path) -> None:
    usual = (
        '[[analysis]]\nname = "estimate"\nstatistic = "usual_median"\nvariable = "ca"\n'
        'domains = ["age >= 20"]\n'
    )
    target = load_target(_target(tmp_path, '[validation]\nrequires = "a median"\n', usual))
    assert target.spec is None
    assert target.error is not None and target.error.startswith("needs a median: ")
    assert "'usual_median'" in target.error
    table = run_validation(pl.DataFrame(), [target], expected={})
    row = table.row(0, named=True)
    assert row["status"] == NOT_ESTIMATED and row["reason"] == target.error
    assert row["published"] == 50.0 and row["ours"] is None


def _frame() -> pl.DataFrame:
    """Made-up participants of one cycle: 2 strata × 2 PSUs, adults, supplement use."""
    n = 40
    return pl.DataFrame(
        {
            "seqn": list(range(1, n + 1)),
            "cycle": ["2017-2018"] * n,
            "sdmvstra": [1] * 20 + [2] * 20,
            "sdmvpsu": ([1] * 10 + [2] * 10) * 2,
            "wt_int": [900.0 + 15 * i for i in range(n)],
            "wt_mec": [1000.0 + 10 * i for i in range(n)],
            "age": [20.0 + i for i in range(n)],
            "sex": ["male", "female"] * (n // 2),
            "supp_user": [i % 5 < 3 for i in range(n)],
        }
    )


def _weighted_share(frame: pl.DataFrame, condition: pl.Expr) -> float:
    """The interview-weighted share of ``frame`` for which ``condition`` holds, by hand."""
    w = frame["wt_int"]
    return float((w * frame.select(condition.cast(pl.Float64))[:, 0]).sum() / w.sum())


def test_a_target_estimated_on_a_made_up_frame(tmp_path: Path) -> None:
    frame = _frame()
    # supplement use is a household-interview answer: the interview weight
    truth = _weighted_share(frame.filter(pl.col("age") >= 20), pl.col("supp_user"))
    percent = load_target(_target(tmp_path, '[validation]\nscale = "percent"\nrounding = 1.0\n'))
    table = run_validation(frame, [percent], expected={"U1": {"status": OFF, "reason": "x."}})
    assert table.columns == list(COLUMNS) and table.schema == pl.Schema(SCHEMA)
    row = table.row(0, named=True)
    assert row["ours"] == pytest.approx(100 * truth)  # our share on the printed scale
    assert row["our_low"] < row["ours"] < row["our_high"] and row["our_se"] > 0
    assert row["n"] == frame.height and row["unit"] == "%" and row["cycles"] == "2017-2018"
    assert row["difference"] == pytest.approx(row["ours"] - 50.0)
    expected_status = judge(50.0, None, None, None, row["ours"], row["our_se"], 1.0).status
    assert row["status"] == expected_status
    assert row["reason"] == ("x." if expected_status == OFF else "")
    # the same target printed as a share compares shares
    path = _target(tmp_path, '[validation]\nscale = "share"\n').read_text()
    share_target = parse_target(tomllib.loads(path.replace("estimate = 50.0", "estimate = 0.5")))
    row = run_validation(frame, [share_target], expected={}).row(0, named=True)
    assert row["ours"] == pytest.approx(truth) and row["unit"] == "share"
    # a share against a published amount cannot be compared: not estimated, and why
    amount = load_target(_target(tmp_path, '[validation]\nscale = "mg/day"\n'))
    row = run_validation(frame, [amount], expected={}).row(0, named=True)
    assert row["status"] == NOT_ESTIMATED and "published scale is 'mg/day'" in row["reason"]


def test_a_target_may_declare_its_own_variables(tmp_path: Path) -> None:
    analysis = (
        '[variables.older]\nexpr = "age >= 40"\nlabel = "aged 40 and over"\n'
        '[[analysis]]\nname = "estimate"\nstatistic = "proportion"\nvariable = "older"\n'
    )
    target = load_target(_target(tmp_path, "[validation]\n", analysis))
    frame = _frame()
    row = run_validation(frame, [target], expected={}).row(0, named=True)
    truth = _weighted_share(frame.filter(pl.col("age") >= 20), pl.col("age") >= 40)
    assert row["ours"] == pytest.approx(truth)  # a share, as printed (scale "share")
    # a table column needs a data dir to be read from: without one, not estimated (one line)
    table_var = (
        '[variables.waist]\ntable = "BMX"\ncolumn = "BMXWAIST"\n'
        '[[analysis]]\nname = "estimate"\nstatistic = "proportion"\nvariable = "waist > 100"\n'
    )
    needs = load_target(_target(tmp_path, "[validation]\n", table_var))
    row = run_validation(frame, [needs], expected={}).row(0, named=True)
    assert row["status"] == NOT_ESTIMATED and "data dir" in row["reason"]


def test_a_standardized_comparison_needs_a_standardized_analysis(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"validation.standardized': analysis 'estimate' has no"):
        load_target(_target(tmp_path, "[validation]\nstandardized = true\n"))
    analysis = (
        '[[analysis]]\nname = "estimate"\nstatistic = "proportion"\nvariable = "supp_user"\n'
        "age_standardize = { ages = [20, 40], population = [1, 1] }\n"
    )
    target = load_target(_target(tmp_path, "[validation]\nstandardized = true\n", analysis))
    frame = _frame()
    row = run_validation(frame, [target], expected={}).row(0, named=True)
    groups = (frame.filter(c) for c in (pl.col("age") < 40, pl.col("age") >= 40))
    by_hand = 0.5 * sum(_weighted_share(g, pl.col("supp_user")) for g in groups)
    assert row["ours"] == pytest.approx(by_hand)  # the standardized row, not the crude one


def test_a_target_needing_a_missing_table_is_not_estimated(tmp_path: Path) -> None:
    target = load_target(_target(tmp_path, '[validation]\nscale = "percent"\n'))
    gaps: list[dict[str, object]] = [{"table": "DSQTOT_J", "cycle": "2017-2018"}]
    row = run_validation(_frame(), [target], expected={}, gaps=gaps).row(0, named=True)
    assert row["status"] == NOT_ESTIMATED and row["ours"] is None
    assert "DSQTOT_J (2017-2018) missing" in row["reason"] and "supp_user" in row["reason"]


# ---------------------------------------------------------------------------------- outputs


def _hand_table() -> pl.DataFrame:
    base = {c: None for c in SCHEMA}
    rows = [
        base | dict(id="P01", topic="Dietary supplement use", label="adults ≥ 20", unit="%",
                    source="Data Brief 399", cycles="2017-2018", published=57.6, ours=57.8,
                    our_se=1.5, our_low=54.5, our_high=61.0, z=0.11, status=WITHIN_2SE,
                    reason=""),
        base | dict(id="P07", topic="Mean usual calcium intake", label="men 19–30", unit="mg/day",
                    source="Bailey 2010", cycles="2003-2006", published=1209.0,
                    published_se=33.0, published_low=1144.3, published_high=1273.7, ours=1000.0,
                    our_se=30.0, our_low=940.0, our_high=1060.0, z=-4.7, status=OFF,
                    reason="The source adds calcium from drinking water."),
        base | dict(id="P15", topic="Vitamin D status", label="adults 20–39", unit="%",
                    source="Herrick 2019", cycles="2011-2014", published=7.6,
                    published_low=6.0, published_high=9.6, status=NOT_ESTIMATED,
                    reason="needs something"),
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=SCHEMA)


def test_csv_figure_and_report_section(tmp_path: Path) -> None:
    from nhanes_mg.report.document import ReportInputs, render_html, render_markdown

    table = _hand_table()
    csv, png = command_mod.write_validation(table, tmp_path)
    assert csv == tmp_path / "tables" / "validation.csv"
    assert pl.read_csv(csv).columns == list(COLUMNS)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    inputs = ReportInputs([], {}, tmp_path, {"rows": 1, "cycles": [], "gaps": []})
    inputs.validation, inputs.validation_figure = table, png
    md = render_markdown(inputs, lambda p: str(p.relative_to(tmp_path)))
    assert "## Validation gallery" in md
    assert (
        "1 within two combined SEs, 1 off, 0 definition differs, 1 not estimated (of 3 targets)"
        in md
    )
    assert "| P07 men 19–30 |" in md and "1209 mg/day (SE 33)" in md
    assert "The source adds calcium from drinking water." in md
    assert "7.6% (6.0–9.6%)" in md and "](figures/validation.png)" in md
    html = render_html(inputs)
    assert '<h2 id="validation-gallery">Validation gallery</h2>' in html
    assert html.count("data:image/png;base64,") == 1
    without = render_markdown(ReportInputs([], {}, tmp_path, {"rows": 1}), str)
    assert "Validation gallery" not in without


def test_figure_reads_well_without_column_names() -> None:
    from nhanes_mg.report.validation_figure import validation_figure

    plot, height = validation_figure(_hand_table())
    assert height >= 4.0
    text = " ".join(str(plot.labels.get(k, "")) for k in ("x", "y", "title"))
    for column in ("our_low", "published_high", "published_se", "our_se"):
        assert column not in text
    panels = set(plot.data["panel"])
    assert panels == {
        "Dietary supplement use (%)",
        "Mean usual calcium intake (mg/day)",
        "Vitamin D status (%)",
    }


# ---------------------------------------------------------------------------------- command line


def test_validate_command(monkeypatch: pytest.MonkeyPatch, cli_main: CliMain) -> None:
    asked: dict[str, object] = {}

    def validate_pipeline(**kwargs: object) -> command_mod.ValidationSummary:
        asked.update(kwargs)
        return command_mod.ValidationSummary(
            _hand_table(), Path("o/tables/validation.csv"), Path("o/figures/validation.png"),
            seconds={"build": 1.0, "validation": 2.0},
        )  # fmt: skip

    monkeypatch.setattr(command_mod, "validate_pipeline", validate_pipeline)
    code, stdout, stderr = cli_main(
        "validate", "--mirror", "m", "--data-dir", "d", "--out", "o", "--spec", "mine.toml"
    )
    assert code == 0, stderr
    assert asked["mirror"] == "m" and asked["data_dir"] == Path("d")
    assert asked["out_dir"] == Path("o") and asked["spec_paths"] == [Path("mine.toml")]
    assert "Validation gallery" in stdout and "P07" in stdout
    assert (
        "1 within two combined SEs, 1 off, 0 definition differs, 1 not estimated (of 3 targets)"
        in stderr
    )


def test_validate_with_a_bad_target_is_one_line(cli_main: CliMain, tmp_path: Path) -> None:
    bad = _target(tmp_path, '[validation]\ncolour = "red"\n')
    code, _, stderr = cli_main("validate", "--spec", str(bad), "--out", str(tmp_path / "o"))
    assert code == 1
    assert stderr.strip().splitlines() == [
        f"error: {bad}: field 'validation.colour': unknown field; allowed: analysis, assay, "
        "cycle, definition, group, label, published_n, published_se, read, requires, "
        "rounding, scale, standardized, table, term, topic"
    ]


def test_run_validates_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    asked: dict[str, object] = {}

    def run_pipeline(**kwargs: object) -> pipeline.RunSummary:
        asked.update(kwargs)
        return pipeline.RunSummary(None, {}, [], Path("r.md"), Path("r.html"))

    monkeypatch.setattr(pipeline, "run_pipeline", run_pipeline)
    assert cli_main("run")[0] == 0 and asked["validate"] is True
    assert cli_main("run", "--no-validate")[0] == 0 and asked["validate"] is False


def test_run_summary_counts_the_gallery(monkeypatch: pytest.MonkeyPatch, cli_main: CliMain) -> None:
    summary = pipeline.RunSummary(None, {}, [], Path("r.md"), Path("r.html"))
    summary.validation = _hand_table()
    monkeypatch.setattr(pipeline, "run_pipeline", lambda **kwargs: summary)
    code, _, stderr = cli_main("run")
    assert code == 0
    assert "validation gallery: 0 within the published CI, 1 within two combined SEs" in stderr
    assert cli is not None


# ---------------------------------------------------------------------------------- real mirror


@pytest.mark.mirror
def test_every_target_has_its_expected_status_on_the_real_mirror(
    full_run: pipeline.RunSummary,
) -> None:
    """The gallery as ``run`` makes it: a job of the worker pool beside the claims (the
    session's run of every shipped claim, tests/conftest.py), its table and figure among the
    outputs and its section in both reports (a run without it has none: tests/test_store.py)."""
    table = full_run.validation
    assert table is not None
    out = full_run.report_html.parent
    assert (out / "figures" / "validation.png").read_bytes()[:4] == b"\x89PNG"
    assert "## Validation gallery" in full_run.report_md.read_text()
    assert '<h2 id="validation-gallery">Validation gallery</h2>' in full_run.report_html.read_text()
    assert pl.read_csv(out / "tables" / "validation.csv")["status"].to_list() == (
        table["status"].to_list()
    )
    expected = load_expected()
    got = dict(zip(table["id"], table["status"], strict=True))
    assert sorted(got) == sorted(expected)
    wrong = {
        tid: (got[tid], expected[tid]["status"])
        for tid in got
        if got[tid] != expected[tid]["status"]
    }
    assert wrong == {}, wrong  # (ours, expected) by target
    for row in table.iter_rows(named=True):
        if row["status"] == OFF:
            assert row["reason"] == expected[row["id"]]["reason"]
        if row["status"] != NOT_ESTIMATED:
            assert row["ours"] is not None and row["our_se"] > 0
            assert row["our_low"] <= row["ours"] <= row["our_high"]
            assert row["difference"] == pytest.approx(row["ours"] - row["published"])
            assert (row["z"] > 0) == (row["difference"] > 0)
    # the sample sizes the sources print, where ours is defined the same way
    n = dict(zip(table["id"], table["n"], strict=True))
    assert n["P16"] == 26010  # Liu 2018: adults ≥ 18 with 25(OH)D, 2001-2010
    assert n["P04"] == 18758  # Bailey 2011, with the interview weight's population
    # Data Brief 399 to its printed digit, with the interview weight (WTINT2YR)
    ours = dict(zip(table["id"], table["ours"], strict=True))
    assert [round(ours[t], 1) for t in ("P01", "P02", "P03")] == [57.6, 63.8, 50.8]
    assert n["P01"] == 5563
    # a printed n more than 2% from ours is "definition differs", with both n in the reason
    for row in table.iter_rows(named=True):
        if row["status"] == DEFINITION_DIFFERS:
            assert abs(row["n"] - row["published_n"]) > 0.02 * row["published_n"]
            assert f"{row['n']:,}" in row["reason"] and f"{row['published_n']:,}" in row["reason"]
        elif row["published_n"] is not None and row["n"] is not None:
            assert abs(row["n"] - row["published_n"]) <= 0.02 * row["published_n"]


def _data_dir_copy(nhanes_data_dir: Path, tmp_path: Path) -> Path:
    """The session's data dir as hard links, with its parquet cache, without its stored
    results (so that no other test finds what these store)."""
    data_dir = tmp_path / "raw"
    shutil.copytree(nhanes_data_dir, data_dir, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".results", "*.lock"))  # fmt: skip
    return data_dir


@pytest.mark.mirror
def test_validate_pipeline_writes_the_gallery_and_reuses_it(
    nhanes_data_dir: Path, mirror_dir: Path, build_result: BuildResult, tmp_path: Path
) -> None:
    data_dir = _data_dir_copy(nhanes_data_dir, tmp_path)
    mine = [p for p in shipped_target_paths() if p.name.startswith(("P15", "P16"))]
    with session_build_in_runs(build_result, data_dir) as built:
        first = command_mod.validate_pipeline(
            data_dir=data_dir, out_dir=tmp_path / "out", cycles=None, mirror=str(mirror_dir),
            spec_paths=mine,
        )  # fmt: skip
        again = command_mod.validate_pipeline(
            data_dir=data_dir, out_dir=tmp_path / "out", cycles=None, spec_paths=mine,
            do_fetch=False,
        )  # fmt: skip
    assert built == [data_dir]  # built once (the session's build), then reused
    assert first.table["id"].to_list() == ["P15", "P16"]
    assert pl.read_csv(first.table_path)["status"].to_list() == first.table["status"].to_list()
    assert first.figure_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "out" / "analytic.parquet").exists()
    assert {"build", "validation"} <= set(again.reused) and again.table.equals(first.table)
