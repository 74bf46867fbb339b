"""Shared set-up of the derive tests: what the session's build of the real mirror holds (the
``session_build`` and ``build_result`` fixtures of tests/conftest.py), and a data dir of hard
links into the real mirror with files left out (the parquet cache goes there, never into the
mirror)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from nhanes_mg.derive import BuildResult


@dataclass(frozen=True)
class SessionBuild:
    """The session's one build of the real mirror's analytic dataset, and the warnings it gave
    (as ``type: message``)."""

    result: BuildResult
    warnings: list[str]


@contextmanager
def session_build_in_runs(result: BuildResult, *data_dirs: Path) -> Iterator[list[Path]]:
    """Within the block, a full build (all cycles, default options) of one of ``data_dirs`` —
    copies of the session's data dir — is the session's ``result``, not a new build of the same
    files; any other build is made as usual. Yields the data dirs it stood in for, in order."""
    from nhanes_mg import derive

    real = derive.build_analytic
    asked: list[Path] = []

    def build_analytic(data_dir: Path, cycles: object = None, **options: object) -> BuildResult:
        if cycles is None and not options and Path(data_dir) in data_dirs:
            asked.append(Path(data_dir))
            return result
        return real(data_dir, cycles, **options)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(derive, "build_analytic", build_analytic)
        yield asked


def fill_cache(data_dir: Path, relpath: str) -> None:
    """Parse one fetched XPT file of ``data_dir`` into its parquet cache (for a process pool:
    nothing is sent back)."""
    from nhanes_mg.data import read

    read.load_file(data_dir, relpath)


def link_tree(mirror: Path, target: Path, skip: Iterable[str] = ()) -> Path:
    """Hard-link every file of ``mirror`` (except the relative paths in ``skip``) into ``target``
    (copied where the file systems differ): a data dir holds files, never links, which the
    readers refuse."""
    skipped = set(skip)
    for path in mirror.rglob("*"):
        rel = path.relative_to(mirror)
        if path.is_dir() or rel.parts[0] == ".cache" or str(rel) in skipped:
            continue
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.exists():
            try:
                os.link(path, dest)
            except OSError:
                shutil.copyfile(path, dest)
    return target
