"""Hostile inputs shared by ``tests/test_faults.py`` and ``scripts/replay_faults.py`` (which
replays the same cases on the real mirror), so that the two make them alike."""

from __future__ import annotations

import json
from pathlib import Path

VICTIM_TEXT = "my own results"


def forge_manifest(data_dir: Path, victim: Path, absolute: Path) -> None:
    """Make ``data_dir``'s fetch manifest name cache files outside it (A2): DEMO_J's sha256
    becomes ``../../victim/important``, BMX_J's the absolute path ``absolute``; every entry's
    size and time are brought up to date so that the files look untouched. ``victim`` gets an
    ``important.parquet`` of its own to be overwritten. The manifest is replaced, never written
    in place (it may be a hard link to another data dir's)."""
    victim.mkdir()
    (victim / "important.parquet").write_text(VICTIM_TEXT)
    manifest = data_dir / "fetch-manifest.json"
    payload = json.loads(manifest.read_text())
    for entry in payload["files"]:
        path = data_dir / entry["file"]
        if path.exists():
            entry["size"], entry["mtime_ns"] = path.stat().st_size, path.stat().st_mtime_ns
        if entry["file"] == "2017-2018/DEMO_J.xpt":
            entry["sha256"] = "../../victim/important"
        if entry["file"] == "2017-2018/BMX_J.xpt":
            entry["sha256"] = str(absolute)
    manifest.unlink()
    manifest.write_text(json.dumps(payload))
