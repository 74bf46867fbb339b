"""Worker processes that leave interrupts to the main process.

A Ctrl-C reaches the whole process group. If each worker raised ``KeyboardInterrupt`` it would
print a traceback of its own, and a worker that inherited the command line's SIGTERM handler
would raise ``Terminated`` instead of ending. Workers therefore start by ignoring SIGINT and
restoring SIGTERM's default: the main process alone decides — it stops them, cleans up and
exits 130 or 143. Set in each worker by the pool's ``initializer`` rather than by ignoring
SIGINT in the main process while workers start, which would swallow a Ctrl-C that arrives
in that window.
"""

from __future__ import annotations

import signal


def quiet_worker() -> None:
    """The ``initializer`` of every process pool of the package (see the module docstring).

    >>> import concurrent.futures, multiprocessing
    >>> ctx = multiprocessing.get_context("spawn")
    >>> with concurrent.futures.ProcessPoolExecutor(1, ctx, initializer=quiet_worker) as pool:
    ...     pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
    True
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
