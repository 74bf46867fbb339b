"""The report's group differences (nhanes_mg.report.contrast_section): a table "difference
(95% CI), P, n" per analysis with a contrast, the design-based test beside it, shares in
percentage points, levels in words, every number through nhanes_mg.numbers; and the verdict
still reads the estimate rows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl

from nhanes_mg.report import contrast_section
from nhanes_mg.report.document import ReportInputs, render_markdown
from nhanes_mg.study.analysis_frame import tidy_rows
from nhanes_mg.study.results import DIFFERENCE_ROLE, TEST_ROLE, SpecResult

from hand_results import share_result


def _with_contrasts(result: SpecResult) -> SpecResult:
    by_sex = "share_below_ear_by_sex"
    difference = tidy_rows(
        pl.DataFrame({
            "term": ["female − male"], "estimate": [0.0904], "std_error": [0.021],
            "statistic": [4.3], "p_value": [0.0004], "conf_low": [0.0457], "conf_high": [0.1351],
            "df": [30.0], "n": [9876],
        }),
        analysis=by_sex, role=DIFFERENCE_ROLE, scale="difference of proportions",
        group="nh_black", outcome="Mg below the EAR", model="descriptive",
    )  # fmt: skip
    test = tidy_rows(
        pl.DataFrame({"term": ["Rao–Scott F test"], "statistic": [18.49], "p_value": [0.00021],
                      "df": [30.0], "n": [9876]}),
        analysis=by_sex, role=TEST_ROLE, scale="F on 1 and 30 df", group="nh_black",
        outcome="Mg below the EAR", model="descriptive",
    )  # fmt: skip
    return dataclasses.replace(result, table=pl.concat([result.table, difference, test]))


def test_a_table_of_differences_and_the_test_line() -> None:
    lines = contrast_section.markdown(_with_contrasts(share_result()))
    assert lines[1] == (
        "**Group differences in `share_below_ear_by_sex`** (Mg below the EAR; percentage "
        "points, 95% CI):"
    )
    assert lines[3] == "| cycle · group | difference | difference (95% CI) | P | n |"
    assert lines[5] == "| Non-Hispanic Black | female − male | 9.0 (4.6–13.5) | < 0.001 | 9,876 |"
    assert lines[7] == (
        "- Non-Hispanic Black, test of no difference across the groups compared: Rao–Scott F "
        "test, F = 18.5 (F on 1 and 30 df), P < 0.001 (n = 9,876)"
    )
    assert contrast_section.markdown(share_result()) == []  # no contrast: no lines


def test_the_report_shows_them_and_the_verdict_is_unchanged(tmp_path: Path) -> None:
    plain, with_contrasts = share_result(), _with_contrasts(share_result())
    meta: dict[str, object] = {"rows": 1, "cycles": ["2017-2018"], "gaps": []}
    texts = [
        render_markdown(ReportInputs([r], {}, tmp_path, meta), lambda p: p.name)
        for r in (plain, with_contrasts)
    ]
    assert "Group differences" not in texts[0]
    assert "| Non-Hispanic Black | female − male | 9.0 (4.6–13.5) | < 0.001 | 9,876 |" in texts[1]
    # the new rows leave the summary and the verdict where they were (the judge reads the
    # "estimate" rows)
    head = [t.split("**What was fitted**")[0] for t in texts]
    assert "**Verdict**" in head[0] and head[0] == head[1]


def test_a_level_with_a_bar_or_a_line_break_stays_in_its_cell() -> None:
    """A user's group text is data: it cannot add a column to the table."""
    result = _with_contrasts(share_result())
    hostile = result.table.with_columns(
        term=pl.when(pl.col("role") == DIFFERENCE_ROLE)
        .then(pl.lit("a | b\nc − d"))
        .otherwise(pl.col("term"))
    )
    lines = contrast_section.markdown(dataclasses.replace(result, table=hostile))
    assert lines[5] == "| Non-Hispanic Black | a \\| b c − d | 9.0 (4.6–13.5) | < 0.001 | 9,876 |"
