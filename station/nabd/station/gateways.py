"""The admin's gateway page (``/admin/gateways``): provision a gateway, download its folder
once, have it serve beds, revoke it.

The same care operations as ``nabd gateway provision|revoke`` and ``nabd ward set-gateway``
(:mod:`nabd.care`), audited with the signed-in admin's name. The credentials (broker CA, the
gateway's client certificate and key) come from an :class:`Issuer` the composition root gives
the station (the local stack's, :class:`nabd.app.gateway_bundle.LocalStackIssuer`); without
one, provisioning is refused in words and stays the command's.

A provisioned gateway's folder is a private key: it is zipped in memory and offered **once**,
to the admin who provisioned it, for :data:`DOWNLOAD_TTL_S`; it is never written to the
database or to disk by the station. Lost, it is provisioned again (a new certificate).
"""

from __future__ import annotations

import io
import secrets
import threading
import time
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Final, Protocol

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, Response

from nabd.care import gateways, provisioning, wards
from nabd.care.errors import CareError, CareInputError, Why
from nabd.care.provisioning import GatewayDevice
from nabd.care.values import parse_id
from nabd.station import scope
from nabd.station.errors import ForbiddenError, NotFoundError, StationError
from nabd.station.kit import Conn, Kit, RolePage, her_ward, require_role
from nabd.station.sessions import SignedIn
from nabd.station.users import Role

__all__ = [
    "DOWNLOAD_TTL_S",
    "CredentialsError",
    "Downloads",
    "GatewayView",
    "Issuer",
    "install",
    "zipped",
]

DONE: Final = ("provision", "serve", "revoke")
_DATA_DIR: Final = "/var/lib/nabd-edge"
"""The agent's data folder on the gateway, unless the form gives another."""
DOWNLOAD_TTL_S: Final = 600.0
"""A provisioned folder waits this long for its one download, then is forgotten."""

_Field = Annotated[str, Form(max_length=200)]
_Csrf = Annotated[str | None, Form()]


class CredentialsError(StationError):
    """The issuer could not give the gateway its credentials; the message says why (shown
    after a sentence in the admin's language: the issuer's detail is technical English)."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, phrase="credentials_failed", detail=message)


class Issuer(Protocol):
    """Who gives a gateway its broker account and credentials (the deployment's PKI)."""

    def bundle(
        self, gateway: str, devices: Sequence[GatewayDevice], *, data_dir: str
    ) -> Mapping[str, bytes]:
        """The bundle's files (:data:`nabd.care.provisioning.BUNDLE_FILES`) for ``gateway``;
        raises :class:`CredentialsError`."""
        ...

    def revoke(self, gateway: str) -> bool:
        """Remove its broker account (its connection ends); False if it had none."""
        ...


@dataclass
class Downloads:
    """Provisioned folders waiting for their one download, in memory only."""

    _items: dict[str, tuple[str, float, str, bytes]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, user: str, filename: str, content: bytes) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = time.monotonic()
            self._items = {k: v for k, v in self._items.items() if v[1] > now}
            self._items[token] = (user, now + DOWNLOAD_TTL_S, filename, content)
        return token

    def take(self, user: str, token: str) -> tuple[str, bytes]:
        """The folder for ``user``, once; refused if another's, expired or already taken."""
        with self._lock:
            item = self._items.get(token)
            if item is None or item[0] != user or item[1] < time.monotonic():
                raise NotFoundError(
                    "this gateway folder is no longer available (it is offered once, for 10"
                    " minutes, to the admin who provisioned it): provision the gateway again",
                    phrase="download_gone",
                )
            del self._items[token]
        return item[2], item[3]


def zipped(gateway: str, files: Mapping[str, bytes]) -> bytes:
    """The bundle as ``GATEWAY/<file>`` in a zip, each file readable by its owner only."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in sorted(files.items()):
            info = zipfile.ZipInfo(f"{gateway}/{name}", date_time=time.gmtime()[:6])
            info.external_attr = (0o100600 & 0xFFFF) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


@dataclass(frozen=True)
class GatewayRow:
    gateway_id: str
    ward_id: str | None
    revoked_at: datetime | None
    last_status: str | None
    last_seen_at: datetime | None
    beds: tuple[str, ...]


@dataclass(frozen=True)
class GatewayView:
    wards: list[tuple[str, str]]
    gateways: list[GatewayRow]
    provisioning: bool
    """Whether this station can issue credentials (an issuer was given)."""


def _view(issuer: Issuer | None, conn: Conn, user: SignedIn) -> GatewayView:
    """Her wards' gateways and the beds each serves, read under her role."""
    with scope.as_user(conn, user):
        ward_rows = [
            (str(w), str(n)) for w, n in conn.execute("SELECT id, name FROM ward ORDER BY id")
        ]
        rows = conn.execute(
            """SELECT g.id, g.ward_id, g.revoked_at, g.last_status, g.last_seen_at,
                      coalesce(array_agg(b.ward_id || '/' || b.id ORDER BY b.ward_id, b.id)
                               FILTER (WHERE b.id IS NOT NULL), '{}')
               FROM gateway g LEFT JOIN bed b ON b.gateway_id = g.id
               GROUP BY g.id ORDER BY g.id"""
        ).fetchall()
    return GatewayView(
        [(str(w), str(n)) for w, n in ward_rows],
        [GatewayRow(r[0], r[1], r[2], r[3], r[4], tuple(r[5])) for r in rows],
        issuer is not None,
    )


def _her_gateway(conn: Conn, gateway: str) -> str:
    """``gateway`` if her role sees it (on one of her wards), else not found."""
    gateway_id = parse_id("gateway", gateway)
    if conn.execute("SELECT 1 FROM gateway WHERE id = %s", (gateway_id,)).fetchone() is None:
        raise NotFoundError(f"no gateway {gateway_id!r} in your wards", phrase="no_gateway",
                            id=gateway_id)  # fmt: skip
    return gateway_id


def _status(refusal: Exception) -> int:
    return 400 if isinstance(refusal, CareInputError) else 409


def install(app: FastAPI, kit: Kit, issuer: Issuer | None) -> None:
    """Add the gateway page and its forms to ``app``."""
    downloads = Downloads()

    def view(conn: Conn, user: SignedIn) -> GatewayView:
        return _view(issuer, conn, user)

    pages = RolePage(kit, "/admin/gateways", "gateways.html", Role.ADMIN, view, DONE,
                     (CareError, CredentialsError), _status, {})  # fmt: skip
    act = pages.act

    @app.get("/admin/gateways", response_class=HTMLResponse)
    def gateway_page(request: Request, done: str | None = None,
                     download: str | None = None) -> Response:  # fmt: skip
        return pages.show(request, done, download=download if done == "provision" else None)

    @app.post("/admin/gateways/provision")
    def provision(request: Request, gateway: _Field, ward: _Field, data_dir: _Field = "",
                  csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> str:
            if issuer is None:
                raise ForbiddenError(
                    "this station issues no gateway credentials (no certificate authority is"
                    " configured for it): provision with `nabd gateway provision` on the server",
                    phrase="provision_unavailable",
                )
            gateway_id, ward_id = parse_id("gateway", gateway), her_ward(conn, ward)
            scope.as_station(conn)
            exists = conn.execute("SELECT ward_id FROM gateway WHERE id = %s", (gateway_id,))
            found = exists.fetchone()
            if found is not None and found[0] != ward_id:
                raise NotFoundError(
                    f"gateway id {gateway_id!r} is taken by another ward: choose another id",
                    phrase="gateway_taken",
                    id=gateway_id,
                )
            gateways.add_gateway(conn, gateway_id, ward=ward_id, by=user.name)
            devices = provisioning.gateway_devices(conn, gateway_id)
            files = issuer.bundle(gateway_id, devices, data_dir=data_dir.strip() or _DATA_DIR)
            provisioning.record_provisioning(conn, gateway_id, devices, by=user.name)
            token = downloads.put(user.name, f"{gateway_id}.zip", zipped(gateway_id, files))
            return f"download={token}"

        return act(request, csrf, "provision", do)

    @app.get("/admin/gateways/download/{token}")
    def download(request: Request, token: str) -> Response:
        with kit.database() as conn:
            user = kit.user_of(request, conn)
        require_role(user, Role.ADMIN)
        filename, content = downloads.take(user.name, token)
        return Response(content, media_type="application/zip", headers={
            "Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip

    @app.post("/admin/gateways/serve")
    def serve_beds(request: Request, gateway: _Field, ward: _Field, beds: _Field,
                   csrf: _Csrf = None) -> Response:  # fmt: skip
        def do(conn: Conn, user: SignedIn) -> None:
            ward_id = her_ward(conn, ward)
            gateway_id = _her_gateway(conn, gateway)
            labels = [b for b in beds.replace(",", " ").split() if b]
            if not labels:
                raise CareInputError("give one or more beds, separated by spaces or commas",
                                     Why.NO_BEDS_GIVEN)  # fmt: skip
            scope.as_station(conn)
            wards.set_bed_gateway(conn, ward_id, labels, gateway=gateway_id, by=user.name)

        return act(request, csrf, "serve", do)

    @app.post("/admin/gateways/revoke")
    def revoke(request: Request, gateway: _Field, csrf: _Csrf = None) -> Response:
        def do(conn: Conn, user: SignedIn) -> None:
            gateway_id = _her_gateway(conn, gateway)
            scope.as_station(conn)
            if issuer is not None:
                issuer.revoke(gateway_id)
            gateways.revoke_gateway(conn, gateway_id, by=user.name)

        return act(request, csrf, "revoke", do)
