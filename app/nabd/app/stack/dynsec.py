"""The broker's accounts as Mosquitto's dynamic-security plugin holds them.

Why this plugin and not the password file and ACL file: in Mosquitto 2.0 the ACL file is never
consulted for a SUBSCRIBE (``security_default.c``: subscribe checks return success), so any
gateway could join ingest's shared subscription ``$share/nabd-ingest/...``, be handed every
other observation and have it dropped by the read check. The plugin checks the *whole*
subscription filter, ``$share/<group>/`` included, against each role; binds a client id to an
account; and disconnects a client at once when its account is deleted.

A gateway's account has no password: its username is its client id
(:func:`nabd.contract.topics.gateway_client_id`), which is also the common name of its
certificate, and it logs in on the gateway listener only, where the broker takes the
certificate's common name as the username and as the client id (``use_identity_as_username``,
``use_username_as_clientid``). Its certificate is then its account, and it can take over no
one's session. On the services' listener (passwords) it cannot log in at all: it has none.

Pure functions: the configuration file the plugin loads at start (written by ``nabd stack up``
from the state file, the one source of truth) and the commands that change a running broker
(sent by :mod:`nabd.app.stack.control`). Unlisted rights are denied: every default is ``false``
except unsubscribing.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable
from typing import Any, Final

from nabd.app.stack.accounts import (
    PBKDF2_ITERATIONS,
    PROBE_ACCOUNT,
    Rule,
    gateway_rules,
    pbkdf2,
    service_rules,
)
from nabd.app.stack.state import MqttState
from nabd.contract.topics import GATEWAY_CLIENT_PREFIX, gateway_client_id

CONTROL_TOPIC: Final = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC: Final = f"{CONTROL_TOPIC}/response"
ADMIN: Final = PROBE_ACCOUNT
"""The stack's own account administers the plugin and ends revoked gateways' sessions; its
password never leaves the state file (``nabd stack env`` does not print it)."""

Command = dict[str, Any]
_SALT_BYTES: Final = 12  # the plugin refuses any other salt length


def gateway_username(gateway_id: str) -> str:
    """A gateway's broker username: its client id, the common name of its certificate."""
    return gateway_client_id(gateway_id)


def gateway_of(username: str) -> str:
    """The gateway id of a gateway's broker username (inverse of :func:`gateway_username`)."""
    return username.removeprefix(GATEWAY_CLIENT_PREFIX)


def gateway_role(gateway_id: str) -> str:
    """The role holding one gateway's rights (the plugin has no ``%u`` in 2.0)."""
    return f"gateway:{gateway_id}"


def _acls(rules: Iterable[Rule], *, literal: bool) -> list[dict[str, Any]]:
    """A ``read`` rule lets the account subscribe to the filter (and, for a service, share it
    in any group) and receive what matches; a ``write`` rule lets it publish there."""
    acls: list[dict[str, Any]] = []
    for rule in rules:
        if rule.access == "write":
            acls.append({"acltype": "publishClientSend", "topic": rule.topic, "allow": True})
            continue
        acls.append({"acltype": "publishClientReceive", "topic": rule.topic, "allow": True})
        if literal:
            acls.append({"acltype": "subscribeLiteral", "topic": rule.topic, "allow": True})
        else:
            for pattern in (rule.topic, f"$share/+/{rule.topic}"):
                acls.append({"acltype": "subscribePattern", "topic": pattern, "allow": True})
    return acls


def _admin_acls() -> list[dict[str, Any]]:
    return [
        {"acltype": "publishClientSend", "topic": CONTROL_TOPIC, "allow": True},
        {"acltype": "publishClientReceive", "topic": RESPONSE_TOPIC, "allow": True},
        {"acltype": "subscribeLiteral", "topic": RESPONSE_TOPIC, "allow": True},
    ]


def _hashed(password: str) -> dict[str, Any]:
    salt = secrets.token_bytes(_SALT_BYTES)
    return {
        "password": base64.b64encode(pbkdf2(password, salt)).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": PBKDF2_ITERATIONS,
    }


def render_config(mqtt: MqttState) -> str:
    """The plugin's JSON file for every account in the state."""
    roles = [
        {"rolename": name, "acls": _acls(rules, literal=False)}
        for name, rules in service_rules().items()
    ]
    roles.append({"rolename": f"{ADMIN}:admin", "acls": _admin_acls()})
    clients = []
    for name, account in sorted(mqtt.services.items()):
        role_names = [name] + ([f"{ADMIN}:admin"] if name == ADMIN else [])
        clients.append(
            {
                "username": name,
                **_hashed(account.password.get_secret_value()),
                "roles": [{"rolename": r} for r in role_names],
            }
        )
    for gateway_id in sorted(mqtt.gateways):
        roles.append({"rolename": gateway_role(gateway_id), "acls": _gateway_acls(gateway_id)})
        clients.append(
            {
                "username": gateway_username(gateway_id),
                "clientid": gateway_client_id(gateway_id),
                "roles": [{"rolename": gateway_role(gateway_id)}],
            }
        )
    config = {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": clients,
        "groups": [],
        "roles": roles,
    }
    return json.dumps(config, indent=1) + "\n"


def _gateway_acls(gateway_id: str) -> list[dict[str, Any]]:
    return _acls(gateway_rules(gateway_id), literal=True)


def add_gateway(gateway_id: str) -> list[Command]:
    """Commands creating a gateway's role and its password-less account."""
    return [
        {
            "command": "createRole",
            "rolename": gateway_role(gateway_id),
            "acls": _gateway_acls(gateway_id),
        },
        {
            "command": "createClient",
            "username": gateway_username(gateway_id),
            "clientid": gateway_client_id(gateway_id),
            "roles": [{"rolename": gateway_role(gateway_id)}],
        },
    ]


def remove_gateway(gateway_id: str) -> list[Command]:
    """Commands deleting a gateway's account (the plugin disconnects it at once) and role."""
    return [
        {"command": "deleteClient", "username": gateway_username(gateway_id)},
        {"command": "deleteRole", "rolename": gateway_role(gateway_id)},
    ]
