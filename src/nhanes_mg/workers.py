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
from concurrent.futures import ProcessPoolExecutor


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


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and terminate the worker processes (an interrupt or a
    failure: they would go on writing)."""
    # ProcessPoolExecutor has no public terminate before Python 3.14: its processes are
    # reached through the private mapping, as the standard library's own tests do.
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)
