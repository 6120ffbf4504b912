"""Keeps one node's Patroni running: started again at once when it dies (``--ha`` stacks).

Why. Patroni starts PostgreSQL detached (its own session), so a Patroni that dies alone leaves
its PostgreSQL running *unsupervised*. On the primary's node that is the dangerous failure:
nobody renews the leader key, the replica is promoted after the ttl (10 s), and the old server
still accepts connections as read-write. With synchronous replication its commits then wait
for a standby that left; a commit whose wait is cancelled (a client's ``statement_timeout``)
is reported *committed* by PostgreSQL (a warning, "canceling wait for synchronous
replication"), so a client could acknowledge data that exists only on the server about to be
rewound. Production answers with systemd (``Restart=``) and Patroni's watchdog; this stack has
neither (no ``/dev/watchdog`` here), so each node's Patroni runs under this guard, which does
what ``Restart=always`` does: a Patroni started again within the ttl finds its PostgreSQL
running and its leader key still its own, and carries on without a failover; one started later
finds another leader and demotes (rewinds) its server, which ends the split brain.

How. ``python3 patroni_guard.py PATRONI_ARGV...``: runs the command, waits for it, runs it
again ``RESTART_DELAY_S`` later whenever it exits, unless the guard was told to stop guarding
(SIGTERM/SIGINT): then it exits with Patroni's status once Patroni has exited. It does not pass
the signal on: ``nabd stack down`` stops Patroni itself, as it did before (Patroni may run
under ``runuser``, which is the guard's child), after telling the guard. Standard
library only, run as a script by the system's ``python3`` (the one Patroni uses): it must not
depend on the virtual environment of whoever started the stack. Killing the guard itself
(``kill -9``) leaves Patroni running unguarded, as before this guard; ``nabd stack up`` starts
a new one (``nabd.app.stack.ha``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from types import FrameType
from typing import Final

RESTART_DELAY_S: Final = 1.0
"""Short against the ttl (10 s): the restarted Patroni must renew the key before it expires."""
MAX_DELAY_S: Final = 30.0
HEALTHY_RUN_S: Final = 10.0
"""A Patroni that exits sooner than this after its start (a bad configuration, a port taken)
is started again after twice the previous delay, up to ``MAX_DELAY_S``: a failing start must not
spin; one that ran longer is restarted after ``RESTART_DELAY_S`` again."""


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: patroni_guard.py PATRONI [ARGS...]", file=sys.stderr)
        return 2
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


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
