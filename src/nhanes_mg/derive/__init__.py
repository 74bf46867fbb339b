"""Derive the participant-level analytic dataset (issue 4).

>>> from nhanes_mg.derive import build_analytic, write_analytic  # doctest: +SKIP
>>> result = build_analytic("data/raw")  # doctest: +SKIP
>>> write_analytic(result, "outputs")  # doctest: +SKIP
"""

from nhanes_mg.derive.build import (
    ANALYTIC_NAME,
    BuildResult,
    MissingTableWarning,
    build_analytic,
    format_summary,
    read_metadata,
    write_analytic,
)
from nhanes_mg.derive.dictionary import VARIABLES, column_order, data_dictionary

__all__ = [
    "ANALYTIC_NAME",
    "VARIABLES",
    "BuildResult",
    "MissingTableWarning",
    "build_analytic",
    "column_order",
    "data_dictionary",
    "format_summary",
    "read_metadata",
    "write_analytic",
]
