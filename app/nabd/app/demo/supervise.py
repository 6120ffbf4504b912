"""The demo's processes: started as their real commands, each with only its own credentials,
stopped with SIGTERM (what systemd sends) and a deadline, SIGKILL only past it.

Every process gets the demo's environment without any ``NABD_*`` variable, plus exactly the
variables its component reads: ingest and analytics their own database login and broker
account, a gateway its broker account, a device process nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

__all__ = ["Child", "Supervisor", "nabd_command", "service_environment", "wait_for"]

_POLL_S: Final = 0.05


def nabd_command(*args: str) -> list[str]:
    """``nabd ARGS`` with this interpreter (the same installation as the demo)."""
    return [sys.executable, "-m", "nabd.app.cli", *args]


BROKER: Final = ("NABD_MQTT_HOST", "NABD_MQTT_PORT", "NABD_MQTT_CA_FILE")


def service_environment(env: Mapping[str, str], component: str) -> dict[str, str]:
    """From a stack's variables, only the broker's address and ``component``'s own login and
    broker account (``NABD_<COMPONENT>_*``): least privilege per process."""
    prefix = f"NABD_{component.upper()}_"
    return {k: v for k, v in env.items() if k.startswith(prefix) or k in BROKER}


def _clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("NABD_")}
    return {**base, "PYTHONUNBUFFERED": "1", **extra}


@dataclass
class Child:
    """One running process and its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path
    _handle: IO[bytes] = field(repr=False)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float) -> int:
        """SIGTERM, wait up to ``timeout_s``, then SIGKILL; returns the exit status."""
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=timeout_s)
        self._handle.close()
        return code

    def tail(self, lines: int = 5) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])


class Supervisor:
    """Starts children, notices when one dies, stops them in the order asked."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: dict[str, Child] = {}

    def start(self, name: str, argv: Sequence[str], env: Mapping[str, str]) -> Child:
        log = self.log_dir / f"{name}.log"
        handle = log.open("ab")
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=_clean_environment(env),
            start_new_session=True,  # Ctrl-C reaches the demo only; it stops the rest in order
        )
        child = Child(name, process, log, handle)
        self.children[name] = child
        return child

    def dead(self) -> list[Child]:
        """Children that exited on their own."""
        return [c for c in self.children.values() if not c.running]

    def signal(self, names: Sequence[str]) -> None:
        """SIGTERM the named children without waiting for them."""
        for name in names:
            child = self.children.get(name)
            if child is not None and child.running:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)

    def stop(self, names: Sequence[str], timeout_s: float) -> dict[str, int]:
        """SIGTERM every named child at once, then wait for each (deadline ``timeout_s``)."""
        chosen = [self.children[n] for n in names if n in self.children]
        for child in chosen:
            if child.running:
                with contextlib.suppress(ProcessLookupError):
                    child.process.send_signal(signal.SIGTERM)
        codes = {child.name: child.stop(timeout_s) for child in chosen}
        for name in codes:
            del self.children[name]
        return codes

    def stop_all(self, timeout_s: float) -> dict[str, int]:
        return self.stop(list(self.children), timeout_s)


def wait_for(check: Callable[[], bool], deadline_s: float, what: str) -> None:
    """Poll ``check()`` until true; TimeoutError naming ``what`` after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    while not check():
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not within {deadline_s:g} s")
        time.sleep(_POLL_S)
