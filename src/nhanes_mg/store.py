"""The results store: each unit of work kept under a hash of exactly what it depends on.

As R's ``targets``: the analytic build is keyed by the data files it reads (their sha256, size
and modification time as the fetch manifest records them), the cycles and the code; each
specification's results by its own text, the build's key, the options and the code. A ``run``
reuses every entry whose key matches and recomputes the rest; the report is always assembled
anew. Entries live in ``{data_dir}/.results/{kind}-{key}/``: the pickled result and the files it
wrote, each with its sha256 in ``entry.json``. An entry that does not verify is deleted and
recomputed, never used. ``nhanes-mg cache clear`` (or :meth:`ResultStore.clear`) empties it.

Pickle is the serializer because the results are the package's own typed objects (frozen
dataclasses holding polars frames), written and read by the same code version only (the code
hash is part of every key); nothing from outside is ever unpickled.

Examples
--------
>>> import tempfile, pathlib
>>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()))
>>> key = store.key("spec", {"text": "id = 'X'"})
>>> store.get(key) is None
True
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "tables").mkdir(), (folder / "tables" / "X.csv").write_text("a\\n1\\n")
>>> store.put(key, {"answer": 42}, folder, ["tables/X.csv"])
>>> payload, files = store.get(key)
>>> payload, [str(f) for f in files]
({'answer': 42}, ['tables/X.csv'])
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from nhanes_mg import __version__

STORE_DIR = ".results"
_PAYLOAD = "payload.pkl"
_ENTRY = "entry.json"


@cache
def code_version() -> str:
    """A hash of the package's own files (code, shipped specs, tables): any change to them
    makes every stored result stale."""
    digest = hashlib.sha256(__version__.encode())
    root = resources.files("nhanes_mg")
    for path in sorted(_package_files(Path(str(root)))):
        digest.update(str(path.relative_to(Path(str(root)))).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _package_files(root: Path) -> Iterable[Path]:
    for path in root.rglob("*"):
        if (
            path.is_file()
            and path.suffix in (".py", ".toml", ".tsv")
            and "__pycache__" not in (path.parts)
        ):
            yield path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ResultStore:
    """Stored results of a data dir (see the module docstring)."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / STORE_DIR

    @staticmethod
    def key(kind: str, *parts: Any) -> str:
        """``{kind}-{hash}`` of the parts (JSON-serializable) and the code version."""
        text = json.dumps([kind, code_version(), *parts], sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    def get(self, key: str) -> tuple[Any, list[Path]] | None:
        """The stored payload and the relative paths of its files, or None (absent, or damaged:
        then the entry is removed so that it is recomputed)."""
        folder = self.root / key
        if not (folder / _ENTRY).is_file():
            return None
        try:
            entry = json.loads((folder / _ENTRY).read_text())
            for rel, digest in entry["files"].items():
                if _sha256(folder / "files" / rel) != digest:
                    raise ValueError(f"{rel} changed")
            if _sha256(folder / _PAYLOAD) != entry["payload"]:
                raise ValueError("payload changed")
            with open(folder / _PAYLOAD, "rb") as fh:
                payload = pickle.load(fh)  # our own entry, verified just above
        except Exception:  # damaged in any way: never used, recomputed
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return payload, [Path(rel) for rel in entry["files"]]

    def put(self, key: str, payload: Any, folder: Path, relpaths: Sequence[str | Path]) -> None:
        """Store ``payload`` and copies of ``folder/relpath`` files; all or nothing."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".part-"))
        try:
            files: dict[str, str] = {}
            for rel in relpaths:
                target = tmp / "files" / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / rel, target)
                files[str(rel)] = _sha256(target)
            with open(tmp / _PAYLOAD, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
            entry = {"key": key, "payload": _sha256(tmp / _PAYLOAD), "files": files}
            (tmp / _ENTRY).write_text(json.dumps(entry, indent=1))
            final = self.root / key
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def restore(self, key: str, relpaths: Sequence[Path], folder: Path) -> list[Path]:
        """Copy an entry's files into ``folder`` (same relative layout); their new paths."""
        out = []
        for rel in relpaths:
            source = self.root / key / "files" / rel
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
            out.append(target)
        return out

    def clear(self) -> int:
        """Remove every stored result; how many entries there were."""
        if not self.root.exists():
            return 0
        n = sum(1 for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        shutil.rmtree(self.root)
        return n
