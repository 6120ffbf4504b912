"""The FHIR API served over real HTTP (uvicorn on a free port) for the tests, and a client.

Replies are parsed as JSON and can be validated with their fhir.resources model, so every test
that reads a reply also checks that what the server sent is valid FHIR.
"""

from __future__ import annotations

import contextlib
import enum
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import uvicorn
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.patient import Patient

from nabd.interop.fhir.api import create_app
from nabd.interop.fhir.auth import token_digest
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from tests.fhir.fhir_kit import Seeded

RESOURCES: dict[str, Any] = {
    "Patient": Patient,
    "Device": Device,
    "Observation": Observation,
    "Flag": Flag,
    "Bundle": Bundle,
    "OperationOutcome": OperationOutcome,
    "CapabilityStatement": CapabilityStatement,
}


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    def resource(self) -> Any:
        """The body parsed back with its fhir.resources model (raises if it does not validate)."""
        return RESOURCES[self.body["resourceType"]].model_validate(self.body)


class Default(enum.Enum):
    TOKEN = "the server's default token"


@dataclass(frozen=True)
class Server:
    url: str
    seeded: Seeded
    token: str | None = None

    def get(
        self,
        path: str,
        *,
        token: str | Default | None = Default.TOKEN,
        headers: dict[str, str] | None = None,
        query: Sequence[tuple[str, str]] = (),
        **params: str,
    ) -> Reply:
        """GET ``path`` (or an absolute URL) with ``query`` then ``params`` as its query, and
        ``token`` (default: the server's; None: no Authorization header)."""
        url = path if path.startswith("http") else self.url + path
        pairs = [*query, *params.items()]
        if pairs:
            url += "?" + urlencode(pairs)
        request = urllib.request.Request(url)  # noqa: S310  (http://127.0.0.1 only)
        bearer = self.token if token is Default.TOKEN else token
        if bearer is not None:
            request.add_header("Authorization", f"Bearer {bearer}")
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        return _send(request)


def _send(request: urllib.request.Request) -> Reply:
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return Reply(response.status, dict(response.headers), json.load(response))
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, dict(error.headers), json.load(error))


PSEUDONYMOUS: Final = "pseudonymous-secret-0123456789abcdef"
"""The token of ``ehr-bridge`` in :func:`two_tokens` (no identity)."""
IDENTIFIED: Final = "identified-secret-0123456789abcdef01"
"""The token of ``ward-viewer`` in :func:`two_tokens` (identity-scoped)."""


def two_tokens(seeded: Seeded, *, page_size: int) -> FhirSettings:
    """The API over the module's database with a pseudonymous and an identity-scoped token."""
    return FhirSettings(
        database_url=seeded.fhir_url,
        tokens={
            "ehr-bridge": TokenGrant(sha256=token_digest(PSEUDONYMOUS)),
            "ward-viewer": TokenGrant(sha256=token_digest(IDENTIFIED), identity=True),
        },
        page_size=page_size,
    )


@contextlib.contextmanager
def serve(settings: FhirSettings, seeded: Seeded, token: str | None = None) -> Iterator[Server]:
    """The API of ``settings`` on a free port of 127.0.0.1, for the block's duration."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings), lifespan="off", ws="none", http="h11", log_level="warning"
    )
    app_server = uvicorn.Server(config)
    thread = threading.Thread(target=app_server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not app_server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", seeded, token)
    finally:
        app_server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def collect(server: Server, first: Reply) -> list[dict[str, Any]]:
    """Follow next links from a first page; every page must validate as a searchset. Returns
    the match entries (not the outcome entry that lists ignored parameters)."""
    entries, reply, pages = [], first, 0
    while True:
        assert reply.status == 200, reply.body
        page = reply.resource()
        assert page.type == "searchset"
        entries += [e for e in reply.body.get("entry", []) if e["search"]["mode"] == "match"]
        pages += 1
        following = [link.url for link in page.link if link.relation == "next"]
        if not following:
            return entries
        assert pages < 50
        reply = server.get(following[0])
