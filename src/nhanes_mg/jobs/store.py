"""The results store: each unit of work kept under a hash of exactly what it depends on.

As R's ``targets``: the analytic build is keyed by the data files it reads (their sha256, size
and modification time as the fetch manifest records them), the cycles and the code; each
specification's results by its own text, the build's key, the options and the code. A ``run``
reuses every entry whose key matches and recomputes the rest; the report is always assembled
anew. Entries live in ``{data_dir}/.results/{kind}-{key}/``; ``nhanes-mg cache clear`` (or
:meth:`ResultStore.clear`) empties it.

**An entry is data, never code.** It holds a :class:`Payload`: JSON (numbers, text, lists,
tables of them) and named polars frames as parquet, beside the files its computation wrote;
nothing is unpickled. A data dir may come from someone else, so an entry is used only when
(a) every path it names is a plain relative path inside the entry (no ``..``, no absolute
path, no link), (b) every file has the sha256 its ``entry.json`` lists, and (c) that
``entry.json`` carries an HMAC-SHA256 made with **this user's** store key
(``~/.config/nhanes-mg/store.key``, created on first use, mode 0600; ``$NHANES_MG_STORE_KEY``
names another file). An entry made or edited by anyone without that key does not verify: it is
deleted and recomputed, never used (recompute-on-doubt); so is an entry that is a link (the
link itself is removed, never what it points at). A store folder that is a link is refused
(:class:`~nhanes_mg.errors.DataDirError`): nothing is read or written through it. Where no
key file can be kept, a key lives for the process only, so nothing is reused across runs.

Examples
--------
>>> import tempfile, pathlib
>>> store = ResultStore(pathlib.Path(tempfile.mkdtemp()))
>>> key = store.key("spec", {"text": "id = 'X'"})
>>> store.get(key) is None
True
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "tables").mkdir(), (folder / "tables" / "X.csv").write_text("a\\n1\\n")
>>> store.put(key, Payload({"answer": 42}), folder, ["tables/X.csv"])
>>> payload, files = store.get(key)
>>> payload.data, [str(f) for f in files]
({'answer': 42}, ['tables/X.csv'])
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

import polars as pl

from nhanes_mg import __version__
from nhanes_mg.files import own_folder

STORE_DIR = ".results"
_ENTRY = "entry.json"
_DATA = "data.json"
KEY_ENV = "NHANES_MG_STORE_KEY"


@dataclass
class Payload:
    """What an entry holds besides its files: JSON-able ``data`` and named polars ``frames``."""

    data: Any = None
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)


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


def key_path() -> Path:
    """Where this user's store key lives (``$NHANES_MG_STORE_KEY``, else the config dir)."""
    named = os.environ.get(KEY_ENV)
    if named:
        return Path(named).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "nhanes-mg" / "store.key"


@cache
def store_key() -> bytes:
    """This user's store key: read, or made on first use (0600, never through a link); a
    key for this process alone when none can be kept."""
    path = key_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as fh:
                secret = fh.read()
            if len(secret) >= 32:
                return secret
            raise OSError("store key too short") from None
        with os.fdopen(fd, "wb") as fh:
            secret = os.urandom(32)
            fh.write(secret)
        return secret
    except OSError:
        return os.urandom(32)  # nothing kept: stored results are not reused across runs


def _mac(entry: dict[str, Any]) -> str:
    text = json.dumps({k: v for k, v in entry.items() if k != "mac"}, sort_keys=True)
    return hmac.new(store_key(), text.encode(), hashlib.sha256).hexdigest()


def _plain(rel: str) -> PurePosixPath:
    """A relative path an entry may name: no absolute path, no ``..``, no empty part."""
    path = PurePosixPath(rel)
    if path.is_absolute() or not path.parts or any(p in ("", ".", "..") for p in path.parts):
        raise ValueError(f"{rel!r} is not a plain relative path")
    return path


def _regular(path: Path) -> None:
    """A plain file, not a link or anything else (every component of ``path`` below the
    entry is checked by the caller's walk)."""
    if not stat.S_ISREG(os.lstat(path).st_mode):
        raise ValueError(f"{path} is not a plain file")


def _no_links(root: Path, rel: PurePosixPath) -> Path:
    """``root / rel`` with no link among its components below ``root``."""
    current = root
    for part in rel.parts:
        current = current / part
        if os.path.islink(current):
            raise ValueError(f"{current} is a link")
    return current


def _real_folder(path: Path) -> bool:
    """``path`` is a folder itself, or absent (not a link, not a file)."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return True


def _remove(path: Path) -> None:
    """Remove ``path`` whatever it is, never following a link: a link or a file is unlinked
    (what a link points at is kept), a folder removed with its content."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISDIR(mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class ResultStore:
    """Stored results of a data dir (see the module docstring)."""

    def __init__(self, data_dir: Path):
        self.root = Path(data_dir) / STORE_DIR

    @staticmethod
    def key(kind: str, *parts: Any) -> str:
        """``{kind}-{hash}`` of the parts (JSON-serializable) and the code version."""
        text = json.dumps([kind, code_version(), *parts], sort_keys=True, default=str)
        return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"

    def has(self, key: str) -> bool:
        """An entry is there under ``key`` (not yet verified: :meth:`get` does that)."""
        _plain(key)
        return _real_folder(self.root) and (self.root / key / _ENTRY).is_file()

    def get(self, key: str) -> tuple[Payload, list[Path]] | None:
        """The stored payload and the relative paths of its files, or None (absent, damaged,
        not made with this user's key, or a link: then the entry — a link itself, never
        what it points at — is removed so that it is recomputed).

        Raises :class:`~nhanes_mg.errors.DataDirError` when the store folder is a link."""
        _plain(key)
        folder = own_folder(self.root) / key
        if not _real_folder(folder):
            _remove(folder)  # a link or a file in an entry's place: removed, recomputed
            return None
        if not (folder / _ENTRY).is_file():
            return None
        try:
            _regular(folder / _ENTRY)
            entry = json.loads((folder / _ENTRY).read_text())
            if entry.get("key") != key or not hmac.compare_digest(
                str(entry.get("mac", "")), _mac(entry)
            ):
                raise ValueError("not made with this user's store key")
            names = {**{f"files/{r}": d for r, d in entry["files"].items()},
                     **{f"frames/{n}.parquet": d for n, d in entry["frames"].items()},
                     _DATA: entry["data"]}  # fmt: skip
            for rel, digest in names.items():
                path = _no_links(folder, _plain(rel))
                _regular(path)
                if _sha256(path) != digest:
                    raise ValueError(f"{rel} changed")
            data = json.loads((folder / _DATA).read_text())
            frames = {
                n: pl.read_parquet(folder / "frames" / f"{n}.parquet") for n in entry["frames"]
            }
        except Exception:  # damaged or forged in any way: never used, recomputed
            shutil.rmtree(folder, ignore_errors=True)
            return None
        return Payload(data, frames), [Path(str(_plain(rel))) for rel in entry["files"]]

    def put(self, key: str, payload: Payload, folder: Path, relpaths: Sequence[str | Path]) -> None:
        """Store ``payload`` and copies of ``folder/relpath`` files; all or nothing."""
        _plain(key)
        own_folder(self.root).mkdir(parents=True, exist_ok=True)  # never through a link
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".part-"))
        try:
            files: dict[str, str] = {}
            for rel in relpaths:
                target = tmp / "files" / _plain(str(rel))
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / rel, target)
                files[str(rel)] = _sha256(target)
            (tmp / "frames").mkdir()
            frames: dict[str, str] = {}
            for name, frame in payload.frames.items():
                path = tmp / "frames" / f"{_plain(name)}.parquet"
                frame.write_parquet(path)
                frames[name] = _sha256(path)
            (tmp / _DATA).write_text(json.dumps(payload.data))
            entry: dict[str, Any] = {
                "key": key,
                "data": _sha256(tmp / _DATA),
                "frames": frames,
                "files": files,
            }
            entry["mac"] = _mac(entry)
            (tmp / _ENTRY).write_text(json.dumps(entry, indent=1))
            final = self.root / key
            _remove(final)  # an old entry, or a link or file in its place (never its target)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def stored_file(self, key: str, rel: str | Path) -> Path:
        """The path of one file of an entry :meth:`get` verified, to read in place."""
        source = _no_links(self.root / key / "files", _plain(str(rel)))
        _regular(source)
        return source

    def restore(self, key: str, relpaths: Sequence[Path], folder: Path) -> list[Path]:
        """Copy an entry's files into ``folder`` (same relative layout); their new paths.
        Only the plain relative paths :meth:`get` verified are accepted."""
        out = []
        for rel in relpaths:
            plain = _plain(str(rel))
            source = _no_links(self.root / key / "files", plain)
            _regular(source)
            target = folder / plain
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target, follow_symlinks=False)
            out.append(target)
        return out

    def clear(self) -> int:
        """Remove every stored result; how many entries there were."""
        if not _real_folder(self.root):
            self.root.unlink()  # the link (or file) only, never what it points at
            return 0
        if not self.root.exists():
            return 0
        n = sum(1 for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))
        shutil.rmtree(self.root)
        return n
