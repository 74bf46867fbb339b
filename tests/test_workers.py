"""The worker pool of a run (nhanes_mg.workers): closed with every job done, its idle workers
end at once; closed with a job still running, that job finishes first."""

from __future__ import annotations

import signal
import time

from nhanes_mg.workers import WorkerPool


def _slow_pid(seconds: float) -> int:
    import os

    time.sleep(seconds)
    return os.getpid()


def test_closing_with_every_job_done_ends_the_idle_workers_now() -> None:
    pool = WorkerPool(2)
    processes = list(pool.start()._processes.values())  # type: ignore[union-attr]
    assert all(job.result() > 0 for job in [pool.submit(_slow_pid, 0.1) for _ in range(4)])
    pool.close()
    # ended by SIGTERM, not left to exit by themselves (exit code 0) after unloading their
    # modules while the interpreter waits for them; the executor's own thread may be the one
    # that reaps them, a moment later
    deadline = time.monotonic() + 10
    while any(p.exitcode is None for p in processes) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [p.exitcode for p in processes] == [-signal.SIGTERM] * len(processes)


def test_closing_with_a_job_running_lets_it_finish() -> None:
    pool = WorkerPool(2)
    running = pool.submit(_slow_pid, 1.0)
    pool.close()
    assert running.result(timeout=30) > 0
