"""The data-dir lock: a second process waits for the first, says so once, and nothing goes stale.

Ordering is read from timestamps the processes write into a shared log, never from how long
anything took; the only timeouts are generous bounds on polling, so a slow machine cannot fail
these tests.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from nhanes_mg.data.lock import LOCK_NAME, data_dir_lock
from nhanes_mg.errors import NhanesError

PATIENCE = 120.0  # seconds: an upper bound for polling, not a speed requirement

# The second run: takes the lock (reporting the wait message to a file), logs when it has it.
CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nhanes_mg.data.lock import data_dir_lock

    data_dir, log, messages = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])

    def note(message):
        with messages.open("a") as fh:
            fh.write(message + "\\n")

    with data_dir_lock(data_dir, "child", wait_message=note):
        with log.open("a") as fh:
            fh.write(f"child acquired {time.time_ns()}\\n")
    """
)


def _wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.02)


def _is_free(data_dir: Path) -> bool:
    """Whether the lock can be taken right now (a fresh open: separate from any other)."""
    fd = os.open(data_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def _child(data_dir: Path, log: Path, messages: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), str(log), str(messages)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_second_process_waits_until_the_first_releases(tmp_path: Path) -> None:
    data_dir, log, messages = tmp_path / "raw", tmp_path / "log.txt", tmp_path / "messages.txt"
    with data_dir_lock(data_dir, "parent") as lock:
        assert lock == data_dir / LOCK_NAME
        assert lock.read_text().split() == [str(os.getpid()), "parent"]
        child = _child(data_dir, log, messages)
        # the child has found the lock taken (it says so before it blocks)
        _wait_for(messages.exists, "the child's wait message")
        assert not log.exists()  # ... and is waiting, not running
        with log.open("a") as fh:
            fh.write(f"parent released {time.time_ns()}\n")
    _, err = child.communicate(timeout=PATIENCE)
    assert child.returncode == 0, err.decode()
    lines = log.read_text().splitlines()
    assert [line.rsplit(" ", 1)[0] for line in lines] == ["parent released", "child acquired"]
    released, acquired = (int(line.rsplit(" ", 1)[1]) for line in lines)
    assert released <= acquired
    # said once, naming the holder's pid and the data dir
    assert messages.read_text().splitlines() == [
        f"another nhanes-mg run is using {data_dir} (pid {os.getpid()}); waiting …"
    ]
    assert _is_free(data_dir)
    assert lock.read_text() == ""  # no stale pid left behind


def test_no_message_and_no_wait_when_free(tmp_path: Path) -> None:
    said: list[str] = []
    for what in ("fetch", "build"):
        with data_dir_lock(tmp_path / "raw", what, wait_message=said.append) as lock:
            assert lock.read_text().split()[1] == what
            assert not _is_free(tmp_path / "raw")
    assert said == []
    assert _is_free(tmp_path / "raw")


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_released_after_an_exception(tmp_path: Path, error: BaseException) -> None:
    with pytest.raises(type(error)), data_dir_lock(tmp_path, "build"):
        assert not _is_free(tmp_path)
        raise error
    assert _is_free(tmp_path)
    # and another process gets it without waiting
    log, messages = tmp_path / "log.txt", tmp_path / "messages.txt"
    child = _child(tmp_path, log, messages)
    _, err = child.communicate(timeout=PATIENCE)
    assert child.returncode == 0, err.decode()
    assert log.read_text().startswith("child acquired")
    assert not messages.exists()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib\n"
            "from nhanes_mg.data.lock import data_dir_lock\n"
            "with data_dir_lock(sys.argv[1], 'fetch'):\n"
            "    pathlib.Path(sys.argv[2]).touch()\n"
            "    time.sleep(600)\n",
            str(tmp_path / "raw"),
            str(ready),
        ]
    )
    try:
        _wait_for(ready.exists, "the holder to take the lock")
        assert not _is_free(tmp_path / "raw")
        holder.kill()  # SIGKILL: no clean-up code runs
        holder.wait(timeout=PATIENCE)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    said: list[str] = []
    with data_dir_lock(tmp_path / "raw", "build", wait_message=said.append):
        pass
    assert said == []  # the file stayed, the lock did not


def test_reentrant_in_one_thread_exclusive_across_threads(tmp_path: Path) -> None:
    said: list[str] = []
    order: list[str] = []
    with data_dir_lock(tmp_path, "run", wait_message=said.append):
        with data_dir_lock(tmp_path, "build", wait_message=said.append):
            order.append("nested")
        assert not _is_free(tmp_path)  # the outer block still holds it

        def other() -> None:
            with data_dir_lock(tmp_path, "thread", wait_message=said.append):
                order.append("thread")

        thread = threading.Thread(target=other)
        thread.start()
        _wait_for(lambda: bool(said), "the other thread's wait message")
        order.append("outer done")
    thread.join(timeout=PATIENCE)
    assert not thread.is_alive()
    assert order == ["nested", "outer done", "thread"]
    assert said == [f"another nhanes-mg run is using {tmp_path} (pid {os.getpid()}); waiting …"]
    assert _is_free(tmp_path)


def test_an_unusable_data_dir_is_an_nhanes_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    # the data dir's own check names it and says what to do, before any lock file is made
    with (
        pytest.raises(NhanesError, match=r"cannot write to the data dir .*raw .*writable"),
        data_dir_lock(blocker / "raw", "build"),
    ):
        pass


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_in_the_lock_files_place_is_refused_and_its_target_kept(
    tmp_path: Path, link: str
) -> None:
    """A data dir someone else filled: the lock file is a link to a file of ours; taking the
    lock must neither follow it nor empty the target."""
    data_dir = tmp_path / "raw"
    data_dir.mkdir()
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    if link == "symbolic":
        (data_dir / LOCK_NAME).symlink_to(target)
    else:
        os.link(target, data_dir / LOCK_NAME)
    refused = pytest.raises(NhanesError, match=r"is (a symbolic link|not a plain file)")
    with refused as info, data_dir_lock(data_dir, "build"):
        pass
    assert "remove it" in str(info.value) and str(data_dir / LOCK_NAME) in str(info.value)
    assert target.read_text() == "keep me\n"


def test_a_killed_runs_temporaries_are_removed_when_the_lock_is_taken(tmp_path: Path) -> None:
    data_dir = tmp_path / "raw"
    (data_dir / "2005-2006").mkdir(parents=True)
    (data_dir / ".results" / ".part-abc").mkdir(parents=True)
    (data_dir / ".results" / ".part-abc" / "data.json").write_text("{}")
    part = data_dir / "2005-2006" / ".DEMO_D.xpt.x1y2.part"
    part.write_bytes(b"half a download")
    keep = data_dir / "2005-2006" / "DEMO_D.xpt"
    keep.write_bytes(b"whole")
    elsewhere = tmp_path / "elsewhere.part"
    elsewhere.write_text("not ours")
    (data_dir / ".link.part").symlink_to(elsewhere)
    with data_dir_lock(data_dir, "build"):
        pass
    assert not part.exists() and not (data_dir / ".results" / ".part-abc").exists()
    assert keep.read_bytes() == b"whole" and elsewhere.read_text() == "not ours"
