"""Servers that have no ``-d`` of their own (etcd, Patroni): started detached, found by /proc.

``setsid -f`` forks the server into its own session and returns at once, so it is never our
child (no zombie, no ``Popen`` left running). Its pid is then found, and re-found by every later
command, from ``/proc/<pid>/cmdline``: the program's name and a path only this stack uses (its
data folder or configuration file), so another stack's or the machine's own server is never
signalled.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

from nabd.app.stack.errors import ServiceStartError, StackError, ToolMissingError
from nabd.app.stack.ports import wait_until

SETSID: Final = Path("/usr/bin/setsid")
_LAUNCHERS: Final = frozenset({b"runuser", b"setsid"})


def spawn(argv: Sequence[str], log: Path, env: Mapping[str, str]) -> None:
    """Start ``argv`` detached (own session), its output appended to ``log``."""
    if not SETSID.exists():
        raise ToolMissingError(f"{SETSID} (util-linux) is needed to start the --ha servers")
    with log.open("ab") as out:
        result = subprocess.run(
            [str(SETSID), "-f", *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=dict(env),
            check=False,
        )
    if result.returncode != 0:
        raise ServiceStartError(f"{argv[0]} did not start (setsid exit {result.returncode})")


def find_pid(program: str, marker: Path) -> int | None:
    """The pid of the ``program`` process whose command line names ``marker``, if any.

    ``runuser``/``setsid`` launchers carry the same arguments and are skipped; ``program``
    may be the interpreter's script (``/usr/bin/patroni`` runs as ``python3 .../patroni``).
    """
    name, path = os.fsencode(program), os.fsencode(marker)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not args or os.path.basename(args[0]) in _LAUNCHERS or path not in args:
            continue
        if any(os.path.basename(a) == name for a in args[:2]):
            return int(entry.name)
    return None


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rsplit(")", 1)[-1].split()[0] != "Z"


def stop(pid: int, what: str, timeout: float) -> None:
    """SIGTERM ``pid`` and wait until it has exited; raise when it outlives ``timeout``."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        wait_until(lambda: not alive(pid), timeout=timeout, what=f"{what} (pid {pid}) to exit")
    except ServiceStartError as exc:
        raise StackError(f"{what} (pid {pid}) did not stop within {timeout:g} s") from exc
