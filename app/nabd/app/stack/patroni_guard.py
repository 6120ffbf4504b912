"""Keeps one node's Patroni running: started again at once when it dies (``--ha`` stacks).

Why. Patroni starts PostgreSQL detached (its own session), so a Patroni that dies alone leaves
its PostgreSQL running *unsupervised*. On the primary's node that is the dangerous failure:
nobody renews the leader key, the replica is promoted after the ttl (10 s), and the old server
still accepts connections as read-write (two primaries). With synchronous replication its
commits then wait for the standby that left, for ever (a ``statement_timeout`` does not cover
that wait: PostgreSQL disables it before the commit's wait), so nothing is acknowledged there,
but a client connected to it, or reaching it first in its host list, hangs: writes stop until
someone starts that Patroni again (measured: no commit for 46 s, until ``nabd stack up``).
Production answers with systemd (``Restart=``) and Patroni's watchdog; this stack has neither
(no ``/dev/watchdog`` here), so each node's Patroni runs under this guard, which does what
``Restart=always`` does: a Patroni started again within the ttl finds its PostgreSQL running and
its leader key still its own, and carries on without a failover.

**Synchronous replication is restored.** Patroni 3.0.2 started again on a running primary
rewrites its configuration *without* ``synchronous_standby_names`` and, finding the ``/sync`` key
in etcd unchanged (same leader, same standby), never sets it again ("no action"): the primary
would go on **asynchronously**, acknowledging commits the standby may not have (measured: a
later failover lost 120 acknowledged readings; docs/reliability.md). So before each restart the
guard deletes ``/sync`` when it names this node as leader (``--etcd URL --sync-key KEY --name
NODE``): the restarted Patroni finds no synchronous standby recorded and assigns one at its
first loop, in ``postgresql.conf`` first, then in etcd. Only the leader writes that key, and
this node's lock is still valid, so no other node's key is deleted; while the key is empty the
two-node cluster's only replica, which was the sync standby, stays the only candidate.

**A late restart is fenced.** Patroni started again on a server that has meanwhile been
replaced (its leader key expired, the replica promoted) first rewrites and reloads the server's
configuration, *without* ``synchronous_standby_names``, and only then sees the other leader and
demotes it: the reload releases every commit that was waiting for the lost standby, and their
clients are told "committed" a moment before the server is stopped and rewound (measured
without this fence: 32 acknowledged readings lost; docs/reliability.md). So when more than
``--fence-after`` seconds (half the ttl) have passed since Patroni died, or whenever
``nabd stack up`` finds a server running without its Patroni, the server is stopped first
(SIGQUIT to its postmaster: PostgreSQL's immediate shutdown; waiting commits end with an error,
nothing is released) and Patroni starts it again as whatever the cluster says it is.

How. ``python3 patroni_guard.py --data DIR --fence-after S -- PATRONI_ARGV...``: runs the
command, waits for it, runs it again ``RESTART_DELAY_S`` later whenever it exits (fencing the
server in ``DIR`` first if the restart comes later than ``S``), unless the guard was told to
stop guarding (SIGTERM/SIGINT): then it exits with Patroni's status once Patroni has exited. It
does not pass the signal on: ``nabd stack down`` stops Patroni itself, as it did before (Patroni
may run under ``runuser``, which is the guard's child), after telling the guard. Standard
library only, run as a script by the system's ``python3`` (the one Patroni uses): it must not
depend on the virtual environment of whoever started the stack. Killing the guard itself (``kill
-9``) leaves Patroni running unguarded, as before this guard; ``nabd stack up`` starts a new one
(``nabd.app.stack.ha``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Final

RESTART_DELAY_S: Final = 1.0
"""Short against the ttl (10 s): the restarted Patroni must renew the key before it expires."""
MAX_DELAY_S: Final = 30.0
HEALTHY_RUN_S: Final = 10.0
"""A Patroni that exits sooner than this after its start (a bad configuration, a port taken)
is started again after twice the previous delay, up to ``MAX_DELAY_S``: a failing start must not
spin; one that ran longer is restarted after ``RESTART_DELAY_S`` again."""


FENCE_WAIT_S: Final = 60.0
ETCD_TIMEOUT_S: Final = 3.0


def _etcd(url: str, call: str, key: str) -> dict[str, Any]:
    """etcd v3's JSON gateway: ``POST URL/v3/kv/CALL`` for ``key`` (base64, as it asks)."""
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"not an etcd URL: {url}")
    body = json.dumps({"key": base64.b64encode(key.encode()).decode()}).encode()
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(f"{url}/v3/kv/{call}", data=body, headers=headers)  # noqa: S310
    with urllib.request.urlopen(request, timeout=ETCD_TIMEOUT_S) as reply:  # noqa: S310
        answer = json.loads(reply.read())
    return answer if isinstance(answer, dict) else {}


def release_sync_key(url: str, key: str, name: str) -> str:
    """Delete Patroni's ``/sync`` key if it names ``name`` as leader; what was done."""
    try:
        found = _etcd(url, "range", key).get("kvs") or []
        if not found:
            return "no sync key"
        value = json.loads(base64.b64decode(found[0].get("value", "")))
        if not isinstance(value, dict) or value.get("leader") != name:
            return f"sync key belongs to {value.get('leader') if isinstance(value, dict) else '?'}"
        _etcd(url, "deleterange", key)
    except (OSError, ValueError) as exc:
        return f"sync key not released ({exc})"
    return f"sync key of leader {name} deleted (standby {value.get('sync_standby')})"


def postmaster(data: Path) -> int | None:
    """The running postmaster of the cluster in ``data`` (its ``postmaster.pid``, checked
    against the process's command line, which names the folder), or ``None``."""
    try:
        pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if os.fsencode(data) in args else None


def fence(data: Path) -> bool:
    """Stop the server in ``data`` at once (SIGQUIT: immediate shutdown) and wait until its
    postmaster has exited; ``False`` when none was running."""
    pid = postmaster(data)
    if pid is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGQUIT)
    deadline = time.monotonic() + FENCE_WAIT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return True


def _alive(pid: int) -> bool:
    """Exists and is not a zombie (an exited process its parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


@dataclass
class _Options:
    command: list[str]
    data: Path | None = None
    fence_after: float = float("inf")
    etcd: str | None = None
    sync_key: str | None = None
    name: str | None = None


_VALUE_OPTIONS: Final = ("--data", "--fence-after", "--etcd", "--sync-key", "--name")


def _options(argv: list[str]) -> _Options | None:
    values: dict[str, str] = {}
    while argv and argv[0] != "--":
        if len(argv) < 2 or argv[0] not in _VALUE_OPTIONS:
            return None
        values[argv[0]] = argv[1]
        argv = argv[2:]
    command = argv[1:] if argv else []
    if not command:
        return None
    fence_after = float(values.get("--fence-after", "inf"))
    data = Path(values["--data"]) if "--data" in values else None
    etcd, key, name = values.get("--etcd"), values.get("--sync-key"), values.get("--name")
    return _Options(command, data, fence_after, etcd, key, name)


def main(argv: list[str]) -> int:
    try:
        options = _options(argv)
    except ValueError:
        options = None
    if options is None:
        print(
            "usage: patroni_guard.py [--data DIR --fence-after S --etcd URL --sync-key KEY "
            "--name NODE] -- PATRONI [ARGS...]",
            file=sys.stderr,
        )
        return 2
    data, fence_after, argv = options.data, options.fence_after, options.command
    stopping = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    delay = RESTART_DELAY_S
    while True:
        started = time.monotonic()
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        code = child.wait()
        died = time.monotonic()
        if stopping.is_set():
            return code if code >= 0 else 128 - code  # killed by signal N: 128 + N, as a shell
        ran = time.monotonic() - started
        delay = RESTART_DELAY_S if ran >= HEALTHY_RUN_S else min(2 * delay, MAX_DELAY_S)
        print(
            f"patroni_guard: {argv[0]} exited with {code} after {ran:.1f} s; "
            f"starting it again in {delay:g} s",
            file=sys.stderr,
            flush=True,
        )
        if stopping.wait(delay):
            return 0
        if data is not None and time.monotonic() - died > fence_after and fence(data):
            print(
                f"patroni_guard: restart {time.monotonic() - died:.1f} s after the exit "
                f"(over {fence_after:g} s): the server in {data} was stopped first (SIGQUIT)",
                file=sys.stderr,
                flush=True,
            )
        if options.etcd and options.sync_key and options.name:
            done = release_sync_key(options.etcd, options.sync_key, options.name)
            print(f"patroni_guard: {done}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
