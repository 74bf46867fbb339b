"""What the tests of runs share: the type of the session's shipped-claim results (conftest.py's
``shipped_result`` fixture) and the check that a run's report is the one its results make; a
module of its own because ``conftest`` is not importable by name (tests/survey has a conftest
of its own)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

from nhanes_mg.derive.build import SEAM_FIGURE
from nhanes_mg.jobs import validate
from nhanes_mg.jobs.run import RunSummary
from nhanes_mg.report.document import ReportInputs, write_report
from nhanes_mg.report.figure_plan import figure_paths
from nhanes_mg.study.results import SpecResult

ShippedResult = Callable[[str], SpecResult]
"""``shipped_result("C3")``: ``run_spec`` of a shipped specification, once a session."""


def assert_report_rendered_again(summary: RunSummary, data_dir: Path, late: Path) -> None:
    """The report ``summary``'s run wrote (however early it was rendered) is the one its
    results, figures, gallery and seam figure make when rendered again now into ``late``:
    the same but for its hour."""
    out = summary.report_html.parent
    inputs = ReportInputs(
        summary.results, {r.spec.id: figure_paths(r, out / "figures") for r in summary.results},
        data_dir, summary.analytic, seam_figure=out / SEAM_FIGURE,
    )  # fmt: skip
    if summary.validation is not None:
        inputs.validation, inputs.validation_figure = summary.validation, out / validate.FIGURE
    late.mkdir(exist_ok=True)
    write_report(inputs, late)
    generated = re.compile(r"Generated [0-9-]+ [0-9:]+ UTC")
    for name in ("report.html", "report.md"):
        ours, again = ((d / name).read_text() for d in (out, late))
        again = again.replace(f"]({os.path.relpath(out, late)}/", "](")  # its links
        assert generated.sub("", ours) == generated.sub("", again), name
