"""The environment variables every Nabd process reads to find its database and broker.

``nabd stack env`` prints them for the local stack; a deployment against a hospital's own
TimescaleDB and broker sets the same names by hand. So the names describe *what* a service
needs (a URL, a host, a CA, its own credentials), never *where it came from*.

======================================  ==================================================
variable                                meaning
======================================  ==================================================
``NABD_DATABASE_URL``                   owner's libpq URL to the ``nabd`` database (``--ha``:
                                        multi-host, ``target_session_attrs=read-write``)
``NABD_<SERVICE>_DATABASE_URL``         that service's own login (member of ``nabd_<service>``)
``NABD_CLINICAL_DATABASE_URL``          nurses' commands (``nabd alerts``, ``nabd nurse``)
``NABD_FHIR_DATABASE_URL``              FHIR export and API, pseudonymous (``nabd_fhir``)
``NABD_FHIR_IDENTITY_DATABASE_URL``     the same with identity (``nabd_fhir_identity``)
``NABD_AUDIT_DATABASE_URL``              the audit checkpoint writer: reads ``audit_log`` only
``NABD_FHIR_PUBLIC_URL``                 the FHIR API's base as receivers reach it (fullUrls)
``NABD_CARE_DATABASE_URL``               care operations (``nabd ward|patient|device|gateway``)
``NABD_MQTT_HOST`` / ``NABD_MQTT_PORT``   services' TLS listener (``--gateway``: the gateways')
``NABD_MQTT_GATEWAY_PORT``              the gateways' listener (certificate = account)
``NABD_MQTT_CA_FILE``                   CA certificate that signed the broker's certificate
``NABD_<SERVICE>_MQTT_USERNAME``        that service's broker account ...
``NABD_<SERVICE>_MQTT_PASSWORD``        ... its password ...
``NABD_<SERVICE>_MQTT_CERT_FILE``       ... and its client certificate and key (PEM)
``NABD_<SERVICE>_MQTT_KEY_FILE``
``NABD_ALERTS_READER_MQTT_*``           the same four for ``alerts-reader``: reads ward alerts only
``NABD_AUDIT_SIGNING_KEY_FILE``         Ed25519 key that signs audit checkpoints (local stack only)
``NABD_AUDIT_PUBLIC_KEY_FILE``          its public key, which ``nabd audit verify`` checks with
``NABD_STATION_DATABASE_URL``            the nurse station's login (``nabd_station``)
``NABD_WEB_TLS_CERT_FILE``, ``_KEY_FILE`` the nurse station's HTTPS certificate (``localhost``)
``NABD_INGEST_BACKOFF_MAX_S``,           (``--ha`` stacks only) 2 s: ingest and analytics retry
``NABD_ANALYTICS_BACKOFF_MAX_S``         the database that often, so a failover costs ~2 s more
``NABD_GATEWAY_ID``                     (``--gateway``) the gateway's id
``NABD_EDGE_MQTT_*``                    (``--gateway``) username (``nabd-edge-<id>``, the
                                        certificate's common name), certificate and key;
                                        no password: the certificate is the account
======================================  ==================================================

``<SERVICE>`` is ``INGEST``, ``ANALYTICS`` or ``DASHBOARDS``.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final
from urllib.parse import quote

DATABASE_URL: Final = "NABD_DATABASE_URL"
MQTT_HOST: Final = "NABD_MQTT_HOST"
MQTT_PORT: Final = "NABD_MQTT_PORT"
MQTT_CA_FILE: Final = "NABD_MQTT_CA_FILE"
MQTT_GATEWAY_PORT: Final = "NABD_MQTT_GATEWAY_PORT"
GATEWAY_ID: Final = "NABD_GATEWAY_ID"
AUDIT_SIGNING_KEY_FILE: Final = "NABD_AUDIT_SIGNING_KEY_FILE"
AUDIT_PUBLIC_KEY_FILE: Final = "NABD_AUDIT_PUBLIC_KEY_FILE"
FHIR_PUBLIC_URL: Final = "NABD_FHIR_PUBLIC_URL"
FHIR_LOCAL_URL: Final = "http://127.0.0.1:8080"
"""Where ``nabd fhir serve`` answers by default: the base of the local stack's exported fullUrls."""
WEB_TLS_CERT_FILE: Final = "NABD_WEB_TLS_CERT_FILE"
WEB_TLS_KEY_FILE: Final = "NABD_WEB_TLS_KEY_FILE"
EDGE: Final = "edge"
"""The component name under which a gateway's credentials are printed."""


def database_url(
    user: str,
    password: str,
    port: int | Sequence[int],
    database: str,
    host: str = "127.0.0.1",
    *,
    reads: bool = False,
) -> str:
    """A libpq URL; the password is percent-encoded so any character survives.

    Several ports (an ``--ha`` cluster) give a multi-host URL: libpq tries each server in turn
    and keeps the first that takes writes (``target_session_attrs=read-write``), so a client
    that reconnects after a failover finds the new primary by itself. A reader (``reads``)
    prefers a standby instead (``prefer-standby``), and takes the primary when none is up.
    """
    ports = [port] if isinstance(port, int) else list(port)
    hosts = ",".join(f"{host}:{p}" for p in ports)
    url = f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{hosts}/{database}"
    if len(ports) == 1:
        return url
    return f"{url}?target_session_attrs={'prefer-standby' if reads else 'read-write'}"


def service_database_url_var(service: str) -> str:
    """``NABD_<SERVICE>_DATABASE_URL``: the service's own least-privilege login."""
    return f"NABD_{service.upper()}_DATABASE_URL"


def mqtt_vars(component: str) -> dict[str, str]:
    """The four broker credential variable names of one component, keyed by what they hold."""
    prefix = f"NABD_{component.upper()}_MQTT_"
    return {k: prefix + k.upper() for k in ("username", "password", "cert_file", "key_file")}


def mqtt_credentials(
    component: str, username: str, password: str | None, cert: Path, key: Path
) -> dict[str, str]:
    """One component's broker credentials as environment variables (no password variable for
    a certificate-bound account)."""
    names = mqtt_vars(component)
    secret = {} if password is None else {names["password"]: password}
    return {
        names["username"]: username,
        **secret,
        names["cert_file"]: str(cert),
        names["key_file"]: str(key),
    }


def render_exports(variables: Mapping[str, str]) -> str:
    """``export NAME=value`` lines, shell-quoted, for ``eval "$(nabd stack env)"``."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in variables.items())
