"""Derive the participant-level analytic dataset (issue 4).

Each variable is declared once in :mod:`nhanes_mg.derive.registry`; the build
(:mod:`nhanes_mg.derive.build`), the data dictionary (:mod:`nhanes_mg.derive.dictionary`) and
the synthetic demo tables (:mod:`nhanes_mg.derive.demo`) follow from those declarations.

>>> from nhanes_mg.derive import build_analytic, write_analytic  # doctest: +SKIP
>>> result = build_analytic("data/raw")  # doctest: +SKIP
>>> write_analytic(result, "outputs")  # doctest: +SKIP
"""

from nhanes_mg.derive.build import (
    ANALYTIC_NAME,
    BuildResult,
    build_analytic,
    format_summary,
    read_metadata,
    write_analytic,
    write_seam,
)
from nhanes_mg.derive.registry import column_order, fetched_components, labels, schema, units
from nhanes_mg.derive.steps import MissingTableWarning

__all__ = [
    "ANALYTIC_NAME",
    "VARIABLES",
    "BuildResult",
    "MissingTableWarning",
    "build_analytic",
    "column_order",
    "data_dictionary",
    "fetched_components",
    "format_summary",
    "labels",
    "read_metadata",
    "schema",
    "units",
    "write_analytic",
    "write_seam",
]


def data_dictionary() -> str:
    """The data dictionary as markdown (:func:`nhanes_mg.derive.dictionary.data_dictionary`)."""
    # lazy: as VARIABLES below
    from nhanes_mg.derive.dictionary import data_dictionary as render

    return render()


def __getattr__(name: str) -> object:
    # lazy: VARIABLES (the dictionary's rows) is imported on first use, so that
    # ``python -m nhanes_mg.derive.dictionary`` does not import that module twice
    if name == "VARIABLES":
        from nhanes_mg.derive.dictionary import VARIABLES  # lazy: see above

        return VARIABLES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
