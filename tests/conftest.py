"""Shared fixtures: the real NHANES mirror, unpacked once per test session.

``NHANES_MG_MIRROR`` may point at an unpacked mirror (a folder holding ``2005-2006/`` …) to skip
unpacking. Otherwise ``../shared/nhanes/nhanes-mirror-2001-2018.tar.xz`` is unpacked into a
temporary folder. Without it the mirror tests skip, except in CI (``CI=true``), where a missing
mirror is a failure: CI must exercise real data.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHIVE = REPO.parent / "shared" / "nhanes" / "nhanes-mirror-2001-2018.tar.xz"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _find_mirror_root(folder: Path) -> Path:
    """The folder holding the cycle folders (the archive wraps them in ``nhanes-mirror/``)."""
    inner = folder / "nhanes-mirror"
    return inner if inner.is_dir() else folder


@pytest.fixture(scope="session")
def mirror_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unpacked real NHANES mirror 2001-2018 (read-only by convention)."""
    env = os.environ.get("NHANES_MG_MIRROR")
    if env:
        root = _find_mirror_root(Path(env))
        if not (root / "2005-2006").is_dir():
            pytest.fail(f"NHANES_MG_MIRROR={env} holds no unpacked mirror (no 2005-2006/)")
        return root
    if not ARCHIVE.exists():
        message = f"the NHANES mirror archive is missing: {ARCHIVE}"
        if _in_ci():
            pytest.fail(message + " (CI must run the real-data tests)")
        pytest.skip(message)
    target = tmp_path_factory.mktemp("mirror")
    with tarfile.open(ARCHIVE, "r:xz") as tar:
        tar.extractall(target, filter="data")
    return _find_mirror_root(target)


@pytest.fixture(scope="session")
def mirror_archive() -> Path:
    """The packed mirror (the folder form that ``--mirror ../shared/nhanes`` takes)."""
    if not ARCHIVE.exists():
        if _in_ci():
            pytest.fail(f"the NHANES mirror archive is missing: {ARCHIVE}")
        pytest.skip(f"the NHANES mirror archive is missing: {ARCHIVE}")
    return ARCHIVE


@pytest.fixture(scope="session")
def nhanes_data_dir(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path) -> Path:
    """A data dir filled by ``fetch`` from the real mirror, as a user's would be."""
    from nhanes_mg.fetch import fetch

    data_dir = tmp_path_factory.mktemp("data_raw")
    fetch(data_dir=data_dir, mirror=mirror_dir)
    return data_dir


@pytest.fixture(scope="session")
def analytic_frame(nhanes_data_dir: Path):  # type: ignore[no-untyped-def]
    """The analytic dataset 2001-2018 built from the fetched real mirror (once a session)."""
    import warnings

    from nhanes_mg.derive import build_analytic

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return build_analytic(nhanes_data_dir).frame
