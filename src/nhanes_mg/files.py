"""Writing output files so that a failure never leaves a half-written file under its name, and
telling a user in one line when a data dir cannot take them.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "note.txt"
>>> atomic_write(target, lambda p: p.write_text("done"))
>>> target.read_text()
'done'
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

import polars as pl

from nhanes_mg.errors import DataDirError, OutputError


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Call ``write(tmp)`` on a temp file beside ``path``, then rename it into place.

    The folder is created if needed; on any error the temp file is removed and ``path`` keeps
    its old content (or stays absent). The file gets the usual mode (``0666 & ~umask``), not
    the ``0600`` of ``mkstemp``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(fd)
    try:
        write(Path(tmp))
        usual_mode(Path(tmp))
        os.replace(tmp, path)
    except OSError as exc:
        if exc.filename is None or str(exc.filename) == tmp:  # name the file the user knows
            raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, checked to lie directly in ``folder``: a file name from a
    specification (its id) can never become a path elsewhere.

    >>> inside(Path("out/tables"), "C3_fits.csv").name
    'C3_fits.csv'
    >>> inside(Path("out/tables"), "../../x.csv")
    Traceback (most recent call last):
    ...
    nhanes_mg.errors.OutputError: out/tables: '../../x.csv' is not a file name of this folder
    """
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise OutputError(f"{folder}: {name!r} is not a file name of this folder")
    return folder / name


def own_folder(path: Path) -> Path:
    """``path`` checked, links not followed (``lstat``), to be a real folder of its own or
    absent: a data dir someone else filled may hold a link in the place of one of its folders
    (``.cache``, ``.results``, ``2017-2018`` …) whose target a write would land in. Raises
    :class:`~nhanes_mg.errors.DataDirError` naming it.

    >>> import tempfile, pathlib
    >>> data = pathlib.Path(tempfile.mkdtemp())
    >>> (data / ".cache").symlink_to(tempfile.mkdtemp())
    >>> own_folder(data / ".cache")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nhanes_mg.errors.DataDirError: .../.cache: is a link, not a folder of its own; nhanes-mg ...
    """
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return path
    if stat.S_ISLNK(mode):
        what = "a link, not a folder of its own"
    elif not stat.S_ISDIR(mode):
        what = "not a folder"
    else:
        return path
    raise DataDirError(
        f"{path}: is {what}; nhanes-mg writes only into folders of the data dir itself, never "
        "through a link: remove it (it is made again) and run the command again"
    )


def own_folders(data_dir: Path, relpath: str | Path) -> Path:
    """Every folder from ``data_dir`` (excluded: the user named it) down to ``relpath``'s
    folder checked with :func:`own_folder`; that folder."""
    folder = data_dir
    for part in Path(relpath).parent.parts:
        folder = own_folder(folder / part)
    return folder


def usual_mode(path: Path) -> None:
    """Give a temp file the mode any new file gets (``0666 & ~umask``), not ``mkstemp``'s 0600."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def unwritable_error(folder: Path, exc: OSError) -> DataDirError:
    """The one-line error for a write into a data dir that the system refused."""
    reason = exc.strerror or exc.__class__.__name__
    return DataDirError(
        f"cannot write to the data dir {folder} ({reason}): pass a writable --data-dir "
        "or fix its permissions (and free space)"
    )


def check_data_dir(data_dir: Path, *, writable: bool = True) -> None:
    """Raise :class:`~nhanes_mg.errors.DataDirError` naming ``data_dir`` unless it is usable.

    A file where the folder should be is refused. With ``writable`` the folder is created if
    missing and a probe file is written and removed, so that an unwritable data dir fails
    up front in one line rather than half-way through, as some other error.

    >>> import tempfile, pathlib
    >>> check_data_dir(pathlib.Path(tempfile.mkdtemp()) / "raw")
    """
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(
            f"the data dir {data_dir} is a file, not a folder: pass --data-dir a folder "
            "(it is created if missing)"
        )
    if not writable:
        return
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=data_dir, prefix=".write-test.", suffix=".part")
        try:
            os.close(fd)
        finally:
            os.unlink(probe)
    except OSError as exc:
        raise unwritable_error(data_dir, exc) from exc


# a cell a spreadsheet would run as a formula (OWASP's "CSV injection"): = + - @ tab CR first
FORMULA_START = r"^[=+\-@\t\r]"


def write_csv(path: Path, frame: pl.DataFrame) -> None:
    """Write ``frame`` as CSV (atomically), every text cell that starts like a spreadsheet
    formula prefixed with ``'`` so that a label a specification brought
    (``=HYPERLINK(…)``) is shown, never run. Numbers are written as numbers.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
    >>> write_csv(target, pl.DataFrame({"label": ["=1+1", "fine"], "x": [-1.5, 2.0]}))
    >>> target.read_text().splitlines()
    ['label,x', "'=1+1,-1.5", 'fine,2.0']
    """
    text = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    safe = frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START))
        .then(pl.lit("'") + pl.col(c))
        .otherwise(pl.col(c))
        .alias(c)
        for c in text
    )
    atomic_write(path, safe.write_csv)
