"""The output folder (``--out``): always exactly one whole run's output.

A run writes into a hidden staging folder inside ``--out`` and, at the end, **replaces the
folder's managed content as a whole**: every top-level entry the previous run wrote is moved
aside, the new entries are moved in (renames, on one file system), the marker
(:data:`MARKER`, listing them) is rewritten, and what was moved aside is deleted. If any step
fails, the moves are undone: the folder keeps the previous run's output, never a mix. A
second run with other options (``--only``, ``--spec``, another data dir, ``validate``)
therefore leaves no tables or figures of the first beside a report that does not list them.

The package writes, replaces and deletes only names of :data:`KNOWN`, its fixed set of output
names. A folder (``--out`` is the user's, or someone else's) is one of ours only when it is
empty or holds a marker (a plain file) listing what it holds; then only the entries listed
there **and** in :data:`KNOWN` are replaced: a marker is never trusted to name anything else
(one listing ``chapter1.docx`` does not make it ours). Anything else — a folder without a
marker that holds files, even ones named ``report.md`` or ``figures``; an entry the marker
does not list — is refused before any work, in one line naming it: the package never deletes
what it did not make. Another run's output folder inside it (``outputs/demo``, holding its own
marker) is left alone. Staging folders left by a run that was killed (``kill -9``) carry their
process id and are removed by the next run once that process is gone.

Examples
--------
>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "outputs"
>>> check_output_folder(out)
>>> stage = staging_folder(out)
>>> _ = (stage / "report.md").write_text("first")
>>> commit(stage, out)
1
>>> stage = staging_folder(out)
>>> _ = (stage / "tables").mkdir(), (stage / "tables" / "X.csv").write_text("x")
>>> commit(stage, out)
1
>>> sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
['tables']
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from nhanes_mg.errors import OutputError
from nhanes_mg.files import atomic_write

MARKER = ".nhanes-mg-output"  # JSON: the top-level entries of the run the folder holds
# every name the package writes at the top of an output folder, declared once: a commit of any
# other name is refused, and no other name is ever replaced or deleted
KNOWN = frozenset(
    {
        "analytic.parquet",
        "analytic.json",
        "data_dictionary.md",
        "tables",
        "figures",
        "report.md",
        "report.html",
    }
)
_TEMPORARY = (".staging-", ".old-")


def _managed(out_dir: Path) -> set[str] | None:
    """The names the folder's current run owns — those its marker lists that are also the
    package's own (:data:`KNOWN`) — or None when it has no marker (a plain file, not a link)."""
    marker = out_dir / MARKER
    try:
        if not stat.S_ISREG(os.lstat(marker).st_mode):
            return None
    except FileNotFoundError:
        return None
    try:
        listed = json.loads(marker.read_text()).get("entries", [])
        return {n for n in listed if isinstance(n, str) and n in KNOWN}
    except (OSError, ValueError, AttributeError, TypeError):
        return set()  # a damaged marker owns nothing: what the folder holds is refused


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(out_dir: Path) -> None:
    """Staging and set-aside folders of runs whose process is gone (killed, power cut)."""
    for path in out_dir.iterdir():
        if not path.name.startswith(_TEMPORARY) or path.is_symlink() or not path.is_dir():
            continue
        pid = path.name.split("-")[1] if path.name.count("-") >= 2 else ""
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def check_output_folder(out_dir: Path) -> None:
    """Raise :class:`OutputError` (one line naming it) unless ``out_dir`` can hold one run's
    output: a folder (made if missing), writable, holding nothing but a previous run's."""
    if out_dir.is_symlink():
        raise OutputError(f"--out {out_dir}: is a link; give the folder itself")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"--out {out_dir}: is a file, not a folder; give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"--out {out_dir}: cannot create it ({exc.strerror})") from exc
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError(f"--out {out_dir}: not writable; give a folder you can write to")
    _remove_stale(out_dir)
    managed = _managed(out_dir)
    foreign = sorted(
        p.name
        for p in out_dir.iterdir()
        if not (p.name == MARKER and managed is not None)
        and not p.name.startswith(_TEMPORARY)
        and p.name not in (managed or ())
        and not (p.is_dir() and not p.is_symlink() and (p / MARKER).is_file())  # a nested run
    )
    if foreign:
        shown = ", ".join(foreign[:3]) + (" …" if len(foreign) > 3 else "")
        raise OutputError(
            f"--out {out_dir}: holds files nhanes-mg did not write ({shown}); give an empty "
            "or new folder (a run replaces the whole content of its output folder"
            + ("; this one has no marker of a run)" if managed is None else ")")
        )


def staging_folder(out_dir: Path) -> Path:
    """A fresh hidden folder inside ``out_dir`` (same file system: moves are renames),
    named with this process's id so that a later run can tell it is stale."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=out_dir, prefix=f".staging-{os.getpid()}-"))


def commit(stage: Path, out_dir: Path) -> int:
    """Replace ``out_dir``'s managed content with ``stage``'s, as a whole (module docstring);
    the number of files now in place."""
    new = sorted(p.name for p in stage.iterdir())
    unknown = [n for n in new if n not in KNOWN]
    if unknown:  # a writer's name missing from KNOWN: a later run could not replace it
        raise OutputError(f"--out {out_dir}: {unknown[0]!r} is not one of nhanes-mg's outputs")
    count = sum(1 for p in stage.rglob("*") if p.is_file())
    old_names = [n for n in sorted(_managed(out_dir) or ()) if os.path.lexists(out_dir / n)]
    aside = Path(tempfile.mkdtemp(dir=out_dir, prefix=f".old-{os.getpid()}-"))
    moved_old: list[str] = []
    moved_new: list[str] = []
    try:
        for name in old_names:
            os.replace(out_dir / name, aside / name)
            moved_old.append(name)
        for name in new:
            os.replace(stage / name, out_dir / name)
            moved_new.append(name)
        atomic_write(
            out_dir / MARKER, lambda p: p.write_text(json.dumps({"entries": new}, indent=1))
        )
        shutil.rmtree(stage, ignore_errors=True)  # empty now
    except BaseException:
        for name in reversed(moved_new):  # undo: the previous run's output, whole
            os.replace(out_dir / name, stage / name)
        for name in reversed(moved_old):
            os.replace(aside / name, out_dir / name)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return count


@dataclass
class Staging:
    """The staging folder of a job (:func:`staged`) and, once committed, the number of files
    it put in place."""

    path: Path
    moved: int = 0


@contextmanager
def staged(out_dir: Path) -> Iterator[Staging]:
    """The one way a job writes into ``out_dir``: the output folder checked
    (:func:`check_output_folder`), a staging folder inside it for the block to fill, committed
    as a whole when the block ends without an error (:func:`commit`), removed in every case —
    shared by ``run``, ``validate``, ``build`` and ``usual-intake``.

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "out"
    >>> with staged(out) as staging:
    ...     _ = (staging.path / "report.md").write_text("#")
    >>> staging.moved, sorted(p.name for p in out.iterdir())
    (1, ['.nhanes-mg-output', 'report.md'])
    """
    check_output_folder(out_dir)
    staging = Staging(staging_folder(out_dir))
    try:
        yield staging
        staging.moved = commit(staging.path, out_dir)
    finally:
        shutil.rmtree(staging.path, ignore_errors=True)
