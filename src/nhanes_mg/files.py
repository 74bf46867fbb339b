"""Writing output files so that a failure never leaves a half-written file under its name.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out" / "note.txt"
>>> atomic_write(target, lambda p: p.write_text("done"))
>>> target.read_text()
'done'
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


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
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
