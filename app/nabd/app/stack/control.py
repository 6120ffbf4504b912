"""Changing the running broker's accounts without a restart, and ending stored sessions.

The stack's admin account publishes dynamic-security commands on ``$CONTROL`` and waits for
the plugin's answers (matched by correlation data, so another admin's traffic is ignored). A
refused command raises; a delete of something already gone does not (removal is idempotent).
"""

from __future__ import annotations

import json
import os
import secrets
import ssl
from collections.abc import Sequence
from typing import Final

from nabd.app.stack import wire
from nabd.app.stack.dynsec import CONTROL_TOPIC, RESPONSE_TOPIC, Command
from nabd.app.stack.errors import StackError

_BATCH: Final = 200
"""Commands per message: the plugin saves its whole file after each command, a message only
bounds how long one answer takes."""
_GONE: Final = ("not found",)


class BrokerControlError(StackError):
    """The broker refused an account change, or did not answer."""


def _admin_id() -> str:
    return f"nabd-stack-admin-{os.getpid()}-{secrets.token_hex(3)}"


def _subscribed(sock: ssl.SSLSocket) -> None:
    sock.sendall(wire.subscribe_packet(1, RESPONSE_TOPIC))
    while True:
        kind, body = wire.read_packet(sock)
        if kind == wire.SUBACK:
            if body[-1] == 0x80:
                raise BrokerControlError(
                    "the broker has no dynamic security (started by an older Nabd?): restart "
                    "it with `nabd stack down && nabd stack up`"
                )
            return


def _answers(sock: ssl.SSLSocket, tags: set[str]) -> dict[str, Command]:
    """Read the plugin's responses until every tagged command has one."""
    found: dict[str, Command] = {}
    while tags - found.keys():
        kind, body = wire.read_packet(sock)
        if kind != wire.PUBLISH:
            continue
        topic, payload = wire.publish_payload(body)
        if topic != RESPONSE_TOPIC:
            continue
        for response in json.loads(payload).get("responses", []):
            tag = response.get("correlationData")
            if tag in tags:
                found[tag] = response
    return found


def run(
    port: int, admin: wire.ProbeCredentials, commands: Sequence[Command], timeout: float
) -> list[tuple[Command, str]]:
    """Send ``commands`` in order; return each refused one with the plugin's error text.

    Deleting what does not exist counts as done. The caller decides what a refusal means.
    """
    refused: list[tuple[Command, str]] = []
    try:
        with wire.session(port, admin, _admin_id(), timeout) as (code, sock):
            if code != 0:
                raise BrokerControlError(f"the broker refused the stack's admin (code {code})")
            _subscribed(sock)
            for start in range(0, len(commands), _BATCH):
                batch = {
                    f"{secrets.token_hex(4)}-{i}": c
                    for i, c in enumerate(commands[start : start + _BATCH])
                }
                body = [c | {"correlationData": tag} for tag, c in batch.items()]
                message = json.dumps({"commands": body}).encode()
                sock.sendall(wire.publish_packet(CONTROL_TOPIC, message))
                for tag, response in _answers(sock, set(batch)).items():
                    error = response.get("error")
                    if error and not any(g in str(error).lower() for g in _GONE):
                        refused.append((batch[tag], str(error)))
    except (OSError, wire.WireError) as exc:
        raise BrokerControlError(f"no answer from the broker's dynamic security: {exc}") from exc
    return refused


def end_session(port: int, admin: wire.ProbeCredentials, client_id: str, timeout: float) -> None:
    """Connect as ``client_id`` with a clean session and leave: the broker disconnects whoever
    holds that id and discards its stored session (subscriptions and queued messages)."""
    try:
        with wire.session(port, admin, client_id, timeout) as (code, _):
            if code != 0:
                raise BrokerControlError(f"the broker refused to end {client_id} (code {code})")
    except (OSError, wire.WireError) as exc:
        raise BrokerControlError(f"could not end the session {client_id}: {exc}") from exc
