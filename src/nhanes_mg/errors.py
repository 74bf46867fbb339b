"""Typed errors: every failure a user can act on is an :class:`NhanesError`.

The CLI prints ``str(error)`` on one line and exits non-zero; no traceback.
"""

from __future__ import annotations


class NhanesError(Exception):
    """Base class of every error nhanes-mg raises on purpose."""


class CatalogError(NhanesError):
    """An unknown cycle, table or mortality file was asked for."""


class FetchError(NhanesError):
    """A download or mirror copy failed."""


class NetworkUnavailableError(FetchError):
    """CDC could not be reached at all (no network, DNS failure, proxy refusal)."""


class DataDirError(FetchError):
    """The data dir cannot hold the files: it is a file, or it cannot be written."""


class InvalidFileError(NhanesError):
    """A file is not what it claims to be: HTML instead of XPT, truncated, wrong width."""


class MissingTableError(NhanesError):
    """A table the analysis needs is not in the data directory."""


class SpecError(NhanesError):
    """A model specification is malformed (names the file, the field and what is allowed)."""


class DesignError(NhanesError):
    """A survey design cannot be built or used (missing design variables, bad weights, ...)."""


class EstimationError(NhanesError):
    """A model could not be estimated (non-convergence, separation, empty domain)."""


class OutsideCyclesError(EstimationError):
    """None of an analysis's cycles is among those built (``--cycles``): left out as asked."""


class IncompleteDataError(MissingTableError):
    """A table (or column) an analysis needs is missing or damaged in one of its cycles."""


class OutputError(NhanesError):
    """An output folder cannot be created or written (names the path)."""


class SettingError(NhanesError):
    """An environment setting of nhanes-mg has a value it cannot use (names the setting)."""
