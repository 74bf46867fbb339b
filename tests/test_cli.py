"""The command line without the mirror: the terminal summary of a run (on small fixed results,
tests/hand_results.py), --version, the specification listing, and how the console entry point
turns every way out into one line and an exit code."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from nhanes_mg import __version__, cli
from nhanes_mg.data.fetch import FetchReport
from nhanes_mg.errors import NhanesError, SpecError
from nhanes_mg.jobs import run as pipeline
from nhanes_mg.jobs.run import RunSummary
from nhanes_mg.study.results import FitInfo, SpecResult

from hand_results import forest_result, share_result

CliMain = Callable[..., tuple[int, str, str]]  # the ``cli_main`` fixture (tests/conftest.py)


def _summary(results: list[SpecResult], **more: object) -> RunSummary:
    return RunSummary(
        fetch=FetchReport(missing=["linked mortality (2007-2008): not in the mirror"]),
        analytic={"rows": 23456, "cycles": ["2015-2016", "2017-2018"], "gaps": []},
        results=results,
        report_md=Path("out/report.md"),
        report_html=Path("out/report.html"),
        warnings=["C4 skipped: none of its cycles (2007-2010) is among --cycles"],
        seconds={"fetch": 0.5, "build": 2.25, "analyses": 10.0, "report": 1.0},
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture()
def consoles(monkeypatch: pytest.MonkeyPatch) -> tuple[Console, Console]:
    """The CLI's stdout and stderr consoles, recording (wide: no cell is folded)."""
    out = Console(record=True, width=400, file=io.StringIO())
    err = Console(record=True, width=400, file=io.StringIO())
    monkeypatch.setattr(cli, "out", out)
    monkeypatch.setattr(cli, "console", err)
    return out, err


def test_summary_table_has_every_claim_verdict_why_and_curve(
    consoles: tuple[Console, Console],
) -> None:
    share, forest = share_result(), forest_result()
    assert share.verdict is not None and forest.verdict is not None
    cli._print_summary(_summary([share, forest]))
    out, err = (c.export_text() for c in consoles)
    assert "Claims and verdicts" in out and "SYNTHETIC" not in out
    lines = out.splitlines()
    t1 = next(i for i, line in enumerate(lines) if "T1 Share of adults below the magnesium" in line)
    assert "54.7% (51.2–58.3%)" in lines[t1] and "consistent" in lines[t1]
    assert "estimates 54.7% to 60.0% across 2 analyses; 2 exclude 50%" in lines[t1]
    assert share.verdict.why in lines[t1 + 1]  # the reason under the verdict
    t3 = next(i for i, line in enumerate(lines) if "T3 Magnesium intake and vitamin D" in line)
    assert "0.40 (0.28–0.57)" in lines[t3] and "estimates 0.40 to 0.90 across 3" in lines[t3]
    assert forest.verdict.why in lines[t3 + 1]
    assert "warning: C4 skipped: none of its cycles (2007-2010) is among --cycles" in err
    assert "1 file(s) not offered by the source" in err
    assert "not estimated" not in err
    assert (
        "✓ report: out/report.html and out/report.md (fetch 0.5 s, build 2.2 s, analyses 10.0 s, "
        "report 1.0 s)"
    ) in err


def test_summary_names_what_was_not_estimated_incomplete_and_reused(
    consoles: tuple[Console, Console],
) -> None:
    forest = forest_result()
    failed = [
        FitInfo(f.analysis, f.sensitivity, f.label, f.description, error="VID_D missing")
        if f.sensitivity else f
        for f in forest.fits
    ]  # fmt: skip
    failed[1] = FitInfo("deficiency_adjusted", None, "", "", incomplete=("VID_D (2005-2006)",))
    forest.fits = failed
    cli._print_summary(_summary([share_result(), forest], reused=["build", "T1"]), synthetic=True)
    out, err = (c.export_text() for c in consoles)
    assert "Claims and verdicts — SYNTHETIC DATA, not for inference" in out
    # one line per reason, naming the analyses
    assert (
        "T3: not estimated (2: deficiency_adjusted [non_users], deficiency_adjusted [two_day]) — "
        "VID_D missing"
    ) in err
    assert "T3: estimated without VID_D (2005-2006) (--allow-incomplete)" in err
    assert "reused (nothing they depend on changed): build, T1; computed: T3" in err


def test_summary_of_a_claim_without_a_verdict(consoles: tuple[Console, Console]) -> None:
    bare = share_result()
    bare.verdicts = []
    cli._print_summary(_summary([bare]))
    out, _ = (c.export_text() for c in consoles)
    row = next(line for line in out.splitlines() if "T1 Share" in line)
    assert row.count("—") == 2  # no estimate, no verdict


def test_version(cli_main: CliMain) -> None:
    assert cli_main("--version") == (0, f"nhanes-mg {__version__}\n", "")
    result = CliRunner().invoke(cli.app, ["version"])
    assert result.exit_code == 0 and result.output == f"nhanes-mg {__version__}\n"


def test_specs_lists_the_shipped_ones_and_checks_a_users(cli_main: CliMain, tmp_path: Path) -> None:
    listed = CliRunner().invoke(cli.app, ["specs"])
    assert listed.exit_code == 0
    for sid in ("C1", "C4", "C7"):
        assert sid in listed.output
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "X"\nmodel = "probit"\n')
    code, _, stderr = cli_main("specs", "--spec", str(bad))
    assert code == 1
    assert "bad.toml: field 'model': 'probit' is not one of" in stderr
    assert "Traceback" not in stderr and len(stderr.strip().splitlines()) == 1


def test_specs_prints_a_users_plan(cli_main: CliMain, tmp_path: Path) -> None:
    from nhanes_mg.study.spec import shipped_spec_paths

    own = tmp_path / "mine.toml"
    own.write_text(next(p for p in shipped_spec_paths() if p.name.startswith("C3")).read_text())
    code, out, _ = cli_main("specs", "--spec", str(own), "--data-dir", str(tmp_path / "none"))
    assert code == 0
    assert "cycles are checked against the data at run time" in out
    assert "deficiency_adjusted" in out and "population: age >= 20" in out
    assert "exposure: 4 weighted quantiles in the domain, reference Q1" in out
    assert not (tmp_path / "none").exists()  # printing a plan writes nothing


def _raising(error: BaseException) -> Callable[..., object]:
    def app(*args: object, **kwargs: object) -> object:
        raise error

    return app


@pytest.mark.parametrize(
    ("error", "code", "line"),
    [
        (NhanesError("C3: VID_D (2005-2006) missing"), 1, "error: C3: VID_D (2005-2006) missing"),
        (SpecError("x.toml: field 'model': bad"), 1, "error: x.toml: field 'model': bad"),
        (KeyboardInterrupt(), 130, "error: interrupted"),
        (cli.Terminated(), 143, "error: terminated"),
        (PermissionError(13, "Permission denied", "/data/raw/x.xpt"), 1,
         "error: /data/raw/x.xpt: Permission denied"),
        (ValueError("boom"), 1,
         "error: unexpected ValueError: boom (run with --debug for the traceback)"),
    ],
)  # fmt: skip
def test_main_turns_every_way_out_into_one_line_and_an_exit_code(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain, error: BaseException, code: int, line: str
) -> None:
    monkeypatch.setattr(cli, "app", _raising(error))
    exit_code, stdout, stderr = cli_main("run")
    assert exit_code == code
    assert stderr.splitlines() == [line] and stdout == ""


@pytest.mark.parametrize(("returned", "code", "err"), [(130, 130, "error: interrupted\n"),
                                                       (3, 3, ""), (None, 0, "")])  # fmt: skip
def test_main_passes_on_the_apps_exit_code(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain, returned: int | None, code: int, err: str
) -> None:
    monkeypatch.setattr(cli, "app", lambda *args, **kwargs: returned)
    assert cli_main("run")[::2] == (code, err)


def test_debug_shows_the_traceback_of_an_unexpected_error(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    monkeypatch.setattr(cli, "_DEBUG", True)
    monkeypatch.setattr(cli, "app", _raising(ValueError("boom")))
    with pytest.raises(ValueError, match="boom"):
        cli_main("run")


def test_run_with_a_claim_left_incomplete_exits_1_after_the_report(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    summary = _summary([share_result()])
    summary.incomplete = [("T1", "not estimated: VID_D (2005-2006) missing — needed for x")]
    asked: dict[str, object] = {}

    def run_pipeline(**kwargs: object) -> RunSummary:
        asked.update(kwargs)
        return summary

    monkeypatch.setattr(pipeline, "run_pipeline", run_pipeline)
    code, stdout, stderr = cli_main("run", "--only", "C3", "--cycles", "2005-2006")
    assert code == 1
    chosen = asked["specs"]  # --only C3: the specifications read once, by the command
    assert [s.id for s in chosen] == ["C3"] and asked["cycles"] == "2005-2006"
    assert asked["allow_incomplete"] is False
    assert "Claims and verdicts" in stdout  # the summary first, then the one error line
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("error: T1 not estimated: VID_D (2005-2006) missing")
    assert "--allow-incomplete" in error
    assert sum(line.startswith("error:") for line in stderr.splitlines()) == 1

    code, _, stderr = cli_main("run", "--only", "C3", "--allow-incomplete")
    assert code == 0 and asked["allow_incomplete"] is True
    assert "error:" not in stderr


def test_run_exits_1_when_a_declared_verdict_matched_no_row(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    """A verdict whose row exists in no table (a term the parser could not check: a `by`
    group's values come from the data) ends the run with one line naming the rows there were."""
    share = share_result()
    (verdict,) = share.verdicts
    assert verdict.main is not None
    unmatched = dataclasses.replace(
        verdict.main,
        verdict="not estimated",
        why="no row matches share_below_ear / 2019-2020 (its rows: share, 2015-2016; …)",
        unmatched=True,
    )
    share.verdicts = [dataclasses.replace(verdict, main=unmatched, curve=[unmatched])]
    monkeypatch.setattr(pipeline, "run_pipeline", lambda **_: _summary([share]))
    code, stdout, stderr = cli_main("run", "--only", "C2")
    assert code == 1 and "Claims and verdicts" in stdout
    error = stderr.strip().splitlines()[-1]
    assert error.startswith("error: ") and "verdict: not estimated: no row matches" in error
    assert "(its rows: share, 2015-2016" in error


def test_run_exits_1_when_an_analysis_could_not_be_estimated(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain
) -> None:
    """Not estimated for a reason of its own (separation, an empty domain …) is never exit 0;
    an analysis whose cycles were left out by --cycles is not a failure."""
    share = share_result()
    share.fits = [
        *share.fits,
        FitInfo("other", None, "", "", error="none of its cycles …", outside_cycles=True),
    ]
    monkeypatch.setattr(pipeline, "run_pipeline", lambda **_: _summary([share]))
    assert cli_main("run", "--only", "C2")[0] == 0
    share.fits = [*share.fits, FitInfo("sep", "s1", "", "", error="perfectly predicted by Q4")]
    code, _, stderr = cli_main("run", "--only", "C2")
    assert code == 1
    assert stderr.strip().splitlines()[-1] == (
        "error: T1: sep [s1] not estimated: perfectly predicted by Q4"
    )


def test_a_tilde_in_a_path_option_is_the_home_folder(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain, tmp_path: Path
) -> None:
    """``--data-dir=~/x`` (the shell leaves ~ alone after =) is ~/x, never a folder named ~."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    code, _, stderr = cli_main("cache", "clear", "--data-dir=~/x")
    assert code == 0 and str(home / "x") in stderr
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("amount", ["nan", "inf", "-5"])
def test_a_non_finite_amount_is_refused(cli_main: CliMain, amount: str) -> None:
    code, _, stderr = cli_main("usual-intake", "--above", f"mg={amount}", "--data-dir", "none")
    assert code == 1
    assert stderr.strip() == f"error: --above 'mg={amount}': the amount must be a finite number ≥ 0"


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_workers_setting_is_one_line_before_anything_is_made(
    monkeypatch: pytest.MonkeyPatch, cli_main: CliMain, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("NHANES_MG_WORKERS", value)
    raw = tmp_path / "raw"
    code, stdout, stderr = cli_main("run", "--data-dir", str(raw), "--out", str(tmp_path / "o"))
    assert code == 1 and stdout == ""
    # the one line (rich at its lowest declared version ends the progress display with a
    # blank line before it)
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"error: NHANES_MG_WORKERS={value!r}: not a whole number of worker processes (1 or "
        "more; unset it for one per core)"
    ]
    assert not raw.exists() and not (tmp_path / "o").exists()
