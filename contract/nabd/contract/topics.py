"""The MQTT topic scheme, versioned, in one place.

Every topic starts with ``nabd/v1``: a breaking change to a payload or a topic gets ``v2`` and both
can run side by side during a rollout. A gateway's topics all sit under ``nabd/v1/gw/<gateway_id>``
so that one broker ACL pattern (``pattern write nabd/v1/gw/%u/obs``, the username being the
gateway id) confines a gateway to its own topics.

==============================  ===================  ========================================
topic                           direction            content
==============================  ===================  ========================================
``nabd/v1/gw/<gw>/obs``         gateway -> ingest    ``ObservationBatch`` (QoS 1)
``nabd/v1/gw/<gw>/status``      gateway -> everyone  ``GatewayStatus``, retained; last will
``nabd/v1/gw/<gw>/ack``         ingest -> gateway    ``IngestAck``: batches now committed
``nabd/v1/gw/<gw>/cmd``         server -> gateway    ``GatewayCommand``
``nabd/v1/gw/<gw>/config``      server -> gateway    ``GatewayConfig``, retained, versioned
``nabd/v1/ward/<ward>/alerts``  analytics -> nurses  ``Alert``
==============================  ===================  ========================================
"""

from __future__ import annotations

import re
from typing import Final

from nabd.contract.errors import TopicError

__all__ = [
    "ALL_ALERTS",
    "ALL_CONFIGS",
    "ALL_OBSERVATIONS",
    "ALL_STATUSES",
    "GATEWAY_CLIENT_PREFIX",
    "ID_RE",
    "INGEST_SHARE_GROUP",
    "ROOT",
    "TopicError",
    "ack",
    "alerts",
    "check_id",
    "commands",
    "gateway_client_id",
    "gateway_config",
    "gateway_of",
    "observations",
    "shared",
    "status",
]

ROOT: Final = "nabd/v1"
"""Prefix of every Nabd topic; the version is part of the topic, not of the payload only."""

INGEST_SHARE_GROUP: Final = "nabd-ingest"
"""Shared-subscription group: ingest workers split the observation stream between them."""

_ID_PATTERN: Final = r"[a-z0-9][a-z0-9_-]{0,62}"
ID_RE: Final = re.compile(rf"^{_ID_PATTERN}$")
"""Gateway, device, patient and ward ids: lower-case, no MQTT wildcards (``+``, ``#``) or ``/``."""


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it can stand in a topic level, else raise :class:`TopicError`."""
    if not ID_RE.fullmatch(value):
        raise TopicError(f"{kind} id {value!r} must match {ID_RE.pattern}")
    return value


def observations(gateway_id: str) -> str:
    """Where a gateway publishes its observation batches."""
    return f"{ROOT}/gw/{check_id('gateway', gateway_id)}/obs"


def status(gateway_id: str) -> str:
    """A gateway's retained status; its MQTT last will sets it offline."""
    return f"{ROOT}/gw/{check_id('gateway', gateway_id)}/status"


def ack(gateway_id: str) -> str:
    """Where ingest tells a gateway which of its batches are committed (end-to-end ack)."""
    return f"{ROOT}/gw/{check_id('gateway', gateway_id)}/ack"


def commands(gateway_id: str) -> str:
    """Commands from the server to one gateway."""
    return f"{ROOT}/gw/{check_id('gateway', gateway_id)}/cmd"


def gateway_config(gateway_id: str) -> str:
    """The devices a gateway reads, retained: only the server writes it, only that gateway
    reads it (a gateway that connects later gets the latest one at once)."""
    return f"{ROOT}/gw/{check_id('gateway', gateway_id)}/config"


def alerts(ward_id: str) -> str:
    """Alerts raised for the patients of one ward."""
    return f"{ROOT}/ward/{check_id('ward', ward_id)}/alerts"


GATEWAY_CLIENT_PREFIX: Final = "nabd-edge-"


def gateway_client_id(gateway_id: str) -> str:
    """The one MQTT client id a gateway may connect with: the broker binds it to the gateway's
    account, so no other account can take over the gateway's session, and no gateway can take
    over anyone else's (a service's or another gateway's)."""
    return f"{GATEWAY_CLIENT_PREFIX}{check_id('gateway', gateway_id)}"


ALL_OBSERVATIONS: Final = f"{ROOT}/gw/+/obs"
ALL_STATUSES: Final = f"{ROOT}/gw/+/status"
ALL_CONFIGS: Final = f"{ROOT}/gw/+/config"
ALL_ALERTS: Final = f"{ROOT}/ward/+/alerts"


def shared(group: str, topic_filter: str) -> str:
    """A shared-subscription filter: each message goes to one member of ``group``."""
    return f"$share/{check_id('share group', group)}/{topic_filter}"


_GATEWAY_LEAVES: Final = frozenset({"obs", "status", "ack", "cmd", "config"})


def gateway_of(topic: str) -> str:
    """The gateway id in a ``nabd/v1/gw/<gw>/<leaf>`` topic, or :class:`TopicError`.

    Ingest uses it to attribute a message to the gateway that published it (the broker ACL makes
    the topic trustworthy, the payload's own ``gateway_id`` must then agree with it).
    """
    parts = topic.split("/")
    if (
        len(parts) != 5
        or f"{parts[0]}/{parts[1]}" != ROOT
        or parts[2] != "gw"
        or parts[4] not in _GATEWAY_LEAVES
    ):
        raise TopicError(f"not a gateway topic: {topic!r}")
    return check_id("gateway", parts[3])
