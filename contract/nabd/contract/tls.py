"""The TLS policy of every MQTT client of Nabd: edge agents, ingest, the analytics publisher,
the load simulator and the stack's own broker probe.

Decided once, here, so no component can drift from it: the broker's certificate is verified
against the deployment's own CA and must name the host connected to (a sovereign stack trusts
its CA, not the system's store); the client presents its own certificate (the broker maps it to
an account); TLS 1.2 at least. paho is not part of the contract: every paho client is built in
one place, ``nabd.mqtt.client.build_client``, which hands it this context; the stack's probe
(no paho) wraps its socket in it directly.
"""

from __future__ import annotations

import ssl
from pathlib import Path

__all__ = ["client_context"]


def client_context(
    ca_file: Path | str, cert_file: Path | str, key_file: Path | str
) -> ssl.SSLContext:
    """A client context trusting only ``ca_file`` and presenting ``cert_file``/``key_file``.

    Raises ``OSError`` or ``ssl.SSLError`` for a missing or unreadable file; callers turn that
    into their own configuration error.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies the peer and its host name
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_verify_locations(cafile=str(ca_file))
    context.load_cert_chain(str(cert_file), str(key_file))
    return context
