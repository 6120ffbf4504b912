"""The guard that starts a node's Patroni again (``nabd.app.stack.patroni_guard``), run as the
stack runs it (the system's ``python3``, the script's path) around a stand-in command that
records each of its starts: a killed child is started again, a guard told to stop (SIGTERM)
does not, and exits with its child's status (128 + N for signal N) once that child has exited."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

from nabd.app.stack import ha
from tests.faults.stack_control import wait_for


def _pids(record: Path) -> list[int]:
    if not record.exists():
        return []
    return [int(line) for line in record.read_text().split()]


def test_a_killed_child_is_started_again_and_sigterm_ends_the_guarding(tmp_path: Path) -> None:
    record = tmp_path / "starts"
    child = f"echo $$ >> {record}; exec sleep 60"
    log = tmp_path / "guard.log"
    with log.open("wb") as out:
        guard = subprocess.Popen(
            [str(ha.PYTHON), str(ha.GUARD), "--", "/bin/sh", "-c", child], stderr=out
        )
    try:
        wait_for(lambda: len(_pids(record)) == 1, "the first start", 10)
        first = _pids(record)[0]
        os.kill(first, signal.SIGKILL)
        started = time.monotonic()
        wait_for(lambda: len(_pids(record)) == 2, "the start after the kill", 10)
        assert time.monotonic() - started < 5  # RESTART_DELAY_S (1 s), loaded machine
        second = _pids(record)[1]
        assert second != first
        guard.send_signal(signal.SIGTERM)  # stop guarding: the child is not restarted
        time.sleep(0.3)
        assert guard.poll() is None  # still waiting for its child
        os.kill(second, signal.SIGTERM)
        assert guard.wait(10) == 128 + signal.SIGTERM  # its child's end, as a shell says
        assert len(_pids(record)) == 2
        assert "exited with -9" in log.read_text()
    finally:
        if guard.poll() is None:
            guard.kill()
            guard.wait()
        for pid in _pids(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_restart_later_than_fence_after_stops_the_server_first(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    server = subprocess.Popen(  # a stand-in postmaster: its command line names the folder
        [str(ha.PYTHON), "-c", "import time; time.sleep(60)", str(data)]
    )
    (data / "postmaster.pid").write_text(f"{server.pid}\n{data}\n")
    record = tmp_path / "starts"
    child = f"echo $$ >> {record}; exec sleep 60"
    log = tmp_path / "guard.log"
    argv = [str(ha.PYTHON), str(ha.GUARD), "--data", str(data), "--fence-after", "0.5"]
    with log.open("wb") as out:
        guard = subprocess.Popen([*argv, "--", "/bin/sh", "-c", child], stderr=out)
    try:
        wait_for(lambda: len(_pids(record)) == 1, "the first start", 10)
        assert server.poll() is None  # a guard alone never touches the server
        os.kill(_pids(record)[0], signal.SIGKILL)
        wait_for(lambda: len(_pids(record)) == 2, "the start after the kill", 10)
        assert server.wait(10) == -signal.SIGQUIT  # stopped before the restart (1 s > 0.5 s)
        assert "was stopped first (SIGQUIT)" in log.read_text()
    finally:
        guard.send_signal(signal.SIGTERM)
        for pid in _pids(record):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        guard.wait(10)
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_guard_refuses_a_command_line_it_does_not_understand() -> None:
    for argv in ([], ["--data"], ["--fence-after", "x", "--", "true"], ["patroni"]):
        done = subprocess.run(
            [str(ha.PYTHON), str(ha.GUARD), *argv], capture_output=True, check=False
        )
        assert done.returncode == 2, argv
        assert b"usage: patroni_guard.py" in done.stderr
