"""One nhanes-mg run at a time per data dir: an advisory ``flock`` on ``.nhanes-mg.lock``.

Two runs writing into one data dir (fetch replacing files, the parquet cache, a build reading
them) would each succeed and leave outputs that depend on how they interleaved. Every command
that reads or writes a data dir holds :func:`data_dir_lock` while it does; a second run waits
for the first, after saying so once.

The lock is the kernel's ``flock`` on an open file: it is released when the holder closes it,
exits or dies (even on ``kill -9``), so it never goes stale. The file itself stays behind (it
holds the holder's pid and what it is doing, or nothing when free) and is harmless.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from nhanes_mg.errors import NhanesError
from nhanes_mg.files import check_data_dir

LOCK_NAME = ".nhanes-mg.lock"

# Locks this process holds, per (lock file, thread), with their nesting depth: a thread that
# already holds a data dir's lock and asks again (``run`` holding it around a build that takes it
# too) goes on at once instead of waiting for itself. Another thread of this process still waits
# (flock locks of two opens of one file exclude each other, also within one process).
_held: dict[tuple[str, int], int] = {}
_held_guard = threading.Lock()


def _holder(fd: int) -> str:
    """The pid the holder wrote into the lock file, or ``unknown`` (not written yet)."""
    try:
        first = os.pread(fd, 256, 0).decode("utf-8", "replace").split(maxsplit=1)
    except OSError:
        return "unknown"
    return first[0] if first and first[0].isdigit() else "unknown"


@contextmanager
def data_dir_lock(
    data_dir: str | os.PathLike[str],
    what: str,
    wait_message: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the data dir's lock for the ``with`` block (waiting for another run to finish).

    Parameters
    ----------
    data_dir
        The data dir (``--data-dir``); created if missing. The lock file is
        ``data_dir/.nhanes-mg.lock``.
    what
        What this run does there (``"fetch"``, ``"build"``, ``"run"`` …): written into the lock
        file beside the pid, for whoever looks at it.
    wait_message
        Called once, before waiting, when another process holds the lock, with
        ``"another nhanes-mg run is using <data_dir> (pid N); waiting …"``; not called when
        the lock is free. ``None``: wait silently.

    Yields
    ------
    Path
        The lock file.

    Raises
    ------
    NhanesError
        The data dir cannot be created or the lock file not opened (e.g. a read-only dir).

    Notes
    -----
    The lock is released when the block ends, also on an exception or ``KeyboardInterrupt``
    (a Ctrl-C while waiting ends the wait). It is reentrant within one thread: a nested
    ``data_dir_lock`` on the same dir does not wait for itself. It is advisory and as reliable
    as ``flock`` on the file system (local disks: yes; some network file systems: no).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "raw"
    >>> with data_dir_lock(folder, "build", wait_message=print) as lock:
    ...     lock.name, lock.read_text().split()[1]
    ('.nhanes-mg.lock', 'build')
    >>> with data_dir_lock(folder, "run"):  # free again: no message, no wait
    ...     pass
    """
    folder = Path(data_dir)
    path = folder / LOCK_NAME
    key = (str(path.resolve()), threading.get_ident())
    with _held_guard:
        if key in _held:
            _held[key] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield path
        finally:
            with _held_guard:
                _held[key] -= 1
        return

    check_data_dir(folder)  # a file or an unwritable folder: one line saying what to do
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # never through a link: a data dir someone else filled may hold a symbolic link (or a
        # hard link) in the lock file's place, whose target the truncation below would empty
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NhanesError(
                f"cannot lock {folder} for {what}: {path} is a symbolic link, not the lock "
                "file; remove it"
            ) from exc
        raise NhanesError(f"cannot lock {folder} for {what}: {exc.strerror or exc}") from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
        os.close(fd)
        raise NhanesError(
            f"cannot lock {folder} for {what}: {path} is not a plain file of its own (a link "
            "or a special file); remove it"
        )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if wait_message is not None:
                wait_message(
                    f"another nhanes-mg run is using {folder} (pid {_holder(fd)}); waiting …"
                )
            fcntl.flock(fd, fcntl.LOCK_EX)  # blocks until the holder closes, exits or dies
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {what}\n".encode(), 0)
        remove_stale_temporaries(folder)  # under the lock, no other run is writing here
        with _held_guard:
            _held[key] = 1
        try:
            yield path
        finally:
            with _held_guard:
                del _held[key]
            # Still holding the lock: empty the file so a later waiter never reads a stale pid.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # releases the flock (if held)


def remove_stale_temporaries(folder: Path) -> int:
    """Remove the temporaries a killed run left in a data dir (``.NAME.XXXX.part`` files of
    atomic writes and downloads, ``.results/.part-*`` store entries); how many. Called with the
    data dir's lock held: every writer of the data dir holds it, so none is in flight. Links
    are never followed."""
    removed = 0
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in files:
            path = Path(root) / name
            if name.startswith(".") and name.endswith(".part") and not path.is_symlink():
                path.unlink(missing_ok=True)
                removed += 1
        for name in list(dirs):
            path = Path(root) / name
            if name.startswith(".part-") and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
                dirs.remove(name)
                removed += 1
    return removed
