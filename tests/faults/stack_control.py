"""Crashing and restarting the servers of a fault stack: the broker and PostgreSQL.

Uses the stack's own code to find and start each server, so a restart is what ``nabd stack up``
does. Only the stack given is ever signalled: its broker's pid comes from its pid file and is
checked against its configuration file (``mosquitto.running_pid``), its postmaster is stopped
through ``pg_ctl -D <its data folder>``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from nabd.app.stack import lifecycle, mosquitto, postgres, wire
from nabd.app.stack.accounts import PROBE_ACCOUNT
from nabd.app.stack.layout import Layout
from nabd.app.stack.ports import wait_until
from nabd.app.stack.privileges import POSTGRES_USER, as_user, service_user
from nabd.app.stack.state import load_state
from nabd.app.stack.testing import RunningStack

DROP_NOTICE: Final = "Outgoing messages are being dropped for client"
"""What Mosquitto logs when a client's queue is full and it starts discarding (notice level)."""


class StackControl:
    """kill -9 / restart the broker, ``-m immediate`` / restart PostgreSQL, read the broker log."""

    def __init__(self, stack: RunningStack) -> None:
        self.stack = stack
        self.settings = stack.settings
        self.layout = Layout(stack.settings.root)

    # -- broker --------------------------------------------------------------------------------

    def broker_pid(self) -> int | None:
        return mosquitto.running_pid(self.layout)

    def kill_broker(self) -> None:
        """SIGKILL the broker (no persistence save) and wait until it is gone."""
        pid = self.broker_pid()
        if pid is None:
            raise AssertionError("the fault stack's broker is not running")
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.broker_pid() is None, timeout=10, what="broker death")

    def start_broker(self) -> None:
        """Start it as ``nabd stack up`` does (configuration rewritten from the state)."""
        lifecycle.up(self.settings)

    def restart_broker_with_queue_limit(self, max_queued: int) -> None:
        """Stop the broker cleanly and start it with a smaller ``max_queued_messages``.

        ``start_broker`` (or ``nabd stack up``) afterwards writes the normal configuration back.
        """
        mosquitto.stop(self.layout, self.settings.stack_timeout)
        conf = self.layout.mqtt_conf
        text = conf.read_text(encoding="utf-8")
        normal = f"max_queued_messages {mosquitto.MAX_QUEUED_MESSAGES}"
        if normal not in text:
            raise AssertionError(f"{conf} does not say {normal!r}")
        conf.write_text(text.replace(normal, f"max_queued_messages {max_queued}"), "utf-8")
        self._start_broker_as_configured()

    def restore_broker(self) -> None:
        """Back to the stack's own configuration (clean stop, then ``up``)."""
        mosquitto.stop(self.layout, self.settings.stack_timeout)
        self.start_broker()

    def _start_broker_as_configured(self) -> None:
        state = load_state(self.layout)
        if state is None or state.mqtt.gateway_port is None:
            raise AssertionError("the fault stack has no state file (or no gateways' listener)")
        creds = wire.ProbeCredentials(
            ca=self.layout.ca_cert,
            cert=self.layout.client_cert(PROBE_ACCOUNT),
            key=self.layout.client_key(PROBE_ACCOUNT),
            username=PROBE_ACCOUNT,
            password=state.mqtt.services[PROBE_ACCOUNT].password.get_secret_value(),
        )
        mosquitto.start(
            self.layout,
            self.settings.mosquitto,
            (state.mqtt.port, state.mqtt.gateway_port),
            creds,
            self.settings.stack_timeout,
        )

    def broker_log_size(self) -> int:
        return self.layout.mqtt_log.stat().st_size

    def broker_log_since(self, offset: int) -> str:
        with self.layout.mqtt_log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _pg_ctl(self, *args: str) -> None:
        install = postgres.find_install(self.settings.pg_config)
        argv = [install.binary("pg_ctl"), *args, "-D", str(self.layout.pg_data)]
        result = subprocess.run(
            as_user(service_user(POSTGRES_USER), argv),
            cwd=self.layout.pg_dir,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"pg_ctl {' '.join(args)} failed: {result.stderr.strip()}")

    def stop_postgres_immediate(self) -> None:
        """``pg_ctl stop -m immediate``: every backend is killed, no checkpoint (crash recovery
        on the next start)."""
        self._pg_ctl("stop", "-m", "immediate", "-w", "-t", "30", "-s")

    def start_postgres(self) -> None:
        install = postgres.find_install(self.settings.pg_config)
        postgres.start(install, self.layout, service_user(POSTGRES_USER), 60)

    def postgres_log(self) -> Path:
        return self.layout.pg_log


def wait_for(
    condition: Callable[[], object], what: str, timeout_s: float, interval_s: float = 0.1
) -> None:
    """Poll ``condition`` until it is truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s:g} s: {what}")
        time.sleep(interval_s)
