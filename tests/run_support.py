"""Types shared by the tests that read the session's shipped-claim results (conftest.py's
``shipped_result`` fixture); a module of its own because ``conftest`` is not importable by
name (tests/survey has a conftest of its own)."""

from __future__ import annotations

from collections.abc import Callable

from nhanes_mg.study.results import SpecResult

ShippedResult = Callable[[str], SpecResult]
"""``shipped_result("C3")``: ``run_spec`` of a shipped specification, once a session."""
