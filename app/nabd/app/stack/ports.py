"""Free local ports, and waiting with a deadline for a condition to become true."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Collection
from typing import Final

from nabd.app.stack.errors import ServiceStartError

LOCALHOST: Final = "127.0.0.1"
"""The stack's servers listen here only: never on a routable address."""


def port_is_free(port: int) -> bool:
    """Whether nothing listens on ``127.0.0.1:port`` right now.

    With SO_REUSEADDR, as PostgreSQL and Mosquitto bind: connections of a server just stopped
    (TIME_WAIT) do not count as taken, only another listener does.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError:
            return False
    return True


def require_free(port: int, why: str) -> None:
    """Raise :class:`ServiceStartError` when something else already listens on ``port``."""
    if not port_is_free(port):
        raise ServiceStartError(f"port {port} ({why}) is taken by another program")


def free_port(exclude: Collection[int] = ()) -> int:
    """A port the kernel considers free on 127.0.0.1, not one of ``exclude``."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOCALHOST, 0))
            port = int(sock.getsockname()[1])
        if port not in exclude:
            return port


def wait_until(
    check: Callable[[], bool], *, timeout: float, what: str, detail: Callable[[], str] = str
) -> None:
    """Poll ``check`` until it is true; raise :class:`ServiceStartError` after ``timeout`` s.

    Servers started as daemons give no event to wait on, so polling with a growing interval
    (capped at 0.2 s) is the honest way; the deadline keeps a broken server from hanging us.
    """
    deadline = time.monotonic() + timeout
    interval = 0.02
    while not check():
        if time.monotonic() >= deadline:
            raise ServiceStartError(f"{what} not ready after {timeout:g} s. {detail()}".strip())
        time.sleep(interval)
        interval = min(interval * 2, 0.2)
