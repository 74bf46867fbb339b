"""Shared set-up of the derive tests: a data dir of links into the real mirror (the parquet
cache goes there, never into the mirror) and one build per test session."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable
from pathlib import Path

import pytest

from nhanes_mg.derive import BuildResult, MissingTableWarning, build_analytic


def link_tree(mirror: Path, target: Path, skip: Iterable[str] = ()) -> Path:
    """Symlink every file of ``mirror`` (except the relative paths in ``skip``) into ``target``."""
    skipped = set(skip)
    for path in mirror.rglob("*"):
        rel = path.relative_to(mirror)
        if path.is_dir() or rel.parts[0] == ".cache" or str(rel) in skipped:
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            dest.symlink_to(path)
    return target


def data_dir(factory: pytest.TempPathFactory, mirror: Path, name: str = "derive-data") -> Path:
    """One linked data dir per session (a fixed name under the session's base temp)."""
    target = factory.getbasetemp() / name
    if not (target / "2005-2006").is_dir():
        link_tree(mirror, target)
    return target


@functools.cache
def built(path: str, cycles: str | None = None) -> BuildResult:
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingTableWarning)  # the full mirror has no gap
        return build_analytic(path, cycles)
