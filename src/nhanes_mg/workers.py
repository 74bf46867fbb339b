"""Worker processes: one pool per job (:class:`WorkerPool`), leaving interrupts to the main
process.

A Ctrl-C reaches the whole process group. If each worker raised ``KeyboardInterrupt`` it would
print a traceback of its own, and a worker that inherited the command line's SIGTERM handler
would raise ``Terminated`` instead of ending. Workers therefore start by ignoring SIGINT and
restoring SIGTERM's default: the main process alone decides — it stops them, cleans up and
exits 130 or 143. Set in each worker by the pool's ``initializer`` rather than by ignoring
SIGINT in the main process while workers start, which would swallow a Ctrl-C that arrives
in that window.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, TypeVar

from nhanes_mg.errors import SettingError

T = TypeVar("T")
WORKERS_SETTING = "NHANES_MG_WORKERS"  # a job's worker processes when not given (else: cores)


def default_workers(environ: Mapping[str, str] = os.environ) -> int:
    """How many worker processes a job uses when its caller does not say: the environment's
    :data:`WORKERS_SETTING` (1 keeps all the work in the job's own process), else one per
    core.

    >>> default_workers({WORKERS_SETTING: "1"})
    1
    >>> default_workers({WORKERS_SETTING: "two"})
    Traceback (most recent call last):
    ...
    nhanes_mg.errors.SettingError: NHANES_MG_WORKERS='two': not a whole number of worker ...
    """
    value = environ.get(WORKERS_SETTING, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise SettingError(
            f"{WORKERS_SETTING}={value!r}: not a whole number of worker processes (1 or more; "
            "unset it for one per core)"
        )
    return int(value)


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
    """Cancel what has not started and terminate the worker processes: on an interrupt or a
    failure (they would go on writing), or once every job is in (:meth:`WorkerPool.close`)."""
    # ProcessPoolExecutor has no public terminate before Python 3.14: its processes are
    # reached through the private mapping, as the standard library's own tests do.
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=5)


def _warm_worker(modules: tuple[str, ...]) -> None:
    """A run's worker: :func:`quiet_worker`, then the modules its jobs will need imported
    (while the main process still fetches or builds, not when the first job arrives)."""
    quiet_worker()
    for name in modules:
        importlib.import_module(name)


def _ready() -> int:
    return os.getpid()


class WorkerPool:
    """The worker processes of one job (``run``), started once and used by each of its
    stages: the parse of a first build's files, the analyses, the figures.

    Nothing starts until :meth:`start` (a run with every result reused never starts a
    process). :meth:`start` spawns every worker at once and each imports ``modules`` on its
    own, so that their start-up overlaps the main process's work. Leave it with :meth:`close`
    (after the work is collected), or :meth:`stop` on an interrupt or a failure; as a context
    manager it does one or the other.

    >>> with WorkerPool(2, ("json",)) as pool:
    ...     pool.start() is not None and pool.submit(sum, [1, 2]).result()
    3
    """

    def __init__(self, workers: int | None = None, modules: tuple[str, ...] = ()) -> None:
        self.size = workers or default_workers()
        self.modules = modules
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[Future[Any]] = []

    @property
    def started(self) -> bool:
        """The workers were started (their ``modules`` are set)."""
        return self._pool is not None

    @property
    def parallel(self) -> bool:
        """More than one worker allowed (else jobs run in the main process)."""
        return self.size > 1

    def start(self) -> ProcessPoolExecutor | None:
        """The executor, its workers spawned now (None with one worker allowed)."""
        if self._pool is None and self.parallel:
            context = multiprocessing.get_context("spawn")  # polars advises against fork
            self._pool = ProcessPoolExecutor(
                self.size, mp_context=context, initializer=_warm_worker, initargs=(self.modules,)
            )
            # spawned on demand: one task per worker makes them all start now
            for _ in range(self.size):
                self._pool.submit(_ready)
        return self._pool

    def submit(self, fn: Callable[..., T], /, *args: Any) -> Future[T]:
        """Run ``fn(*args)`` in a worker (starting the pool if needed); with one worker
        allowed, here and now (the future it returns is done), so that a job has one code
        path whatever the number of workers."""
        pool = self.start()
        if pool is not None:
            submitted = pool.submit(fn, *args)
            # the jobs not done yet (:meth:`close`), not every result of the run kept alive
            self._pending = [job for job in self._pending if not job.done()]
            self._pending.append(submitted)
            return submitted
        done: Future[T] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # as a worker's would, raised by .result(); interrupts go on
            done.set_exception(exc)
        return done

    def close(self) -> None:
        """Let the workers end, without waiting for them: the main process goes on. When every
        job submitted is done they are ended at once (an idle worker holds nothing; one left
        to exit by itself unloads plotnine, pandas … while the interpreter waits for it at its
        own exit); else they finish their jobs first."""
        if self._pool is not None:
            if all(job.done() for job in self._pending):
                stop_pool(self._pool)
            else:
                self._pool.shutdown(wait=False)
            self._pool = None
            self._pending = []

    def stop(self) -> None:
        """Terminate the workers now (see :func:`stop_pool`)."""
        if self._pool is not None:
            stop_pool(self._pool)
            self._pool = None

    @contextlib.contextmanager
    def stopping(self, then: Callable[[], object] | None = None) -> Iterator[None]:
        """A block on whose interrupt or failure the workers are stopped at once (before
        the enclosing blocks clean up what they wrote), and ``then`` called (to remove what
        the stopped workers half-wrote)."""
        try:
            yield
        except BaseException:
            if self._pool is not None:
                self.stop()
                if then is not None:
                    then()
            raise

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None:
            self.close()
        else:
            self.stop()
