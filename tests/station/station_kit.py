"""A migrated database with two wards, their patients, vitals and alerts, station users, and the
station served over real HTTPS by uvicorn (the local stack's certificate and CA)."""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
from psycopg import sql

from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.layout import Layout
from nabd.app.stack.testing import RunningStack
from nabd.station.app import create_app
from nabd.station.gateways import Issuer
from nabd.station.settings import StationSettings
from nabd.station.users import Language, NewUser, Role, add_user

PASSWORD = "correct horse battery"
USERS = {
    "amina": NewUser(name="amina", display_name="Amina B.", role=Role.NURSE, wards=("w1",),
                     password=PASSWORD, lang=Language.FR),
    "bilal": NewUser(name="bilal", display_name="بلال", role=Role.NURSE, wards=("w2",),
                     password=PASSWORD, lang=Language.AR),
    "chloe": NewUser(name="chloe", display_name="Chloe", role=Role.CHARGE_NURSE,
                     wards=("w1", "w2"), password=PASSWORD, lang=Language.EN, sees_identity=True),
    "dina": NewUser(name="dina", display_name="Dina", role=Role.ADMIN, wards=("w1",),
                    password=PASSWORD, lang=Language.EN, sees_identity=True),
}  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    owner_url: str
    station_url: str


def login_url(owner_url: str, role: str, password: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(owner_url)
    info |= {"user": role, "password": password}
    return psycopg.conninfo.make_conninfo(**info)  # type: ignore[arg-type]


def raise_alert(conn: psycopg.Connection[Any], patient: str, priority: str, message: str) -> str:
    """An open alert as the analytics service would write it (its lifecycle is tested there)."""
    condition = f"test_{secrets.token_hex(4)}"  # one open alert per (patient, condition)
    row = conn.execute(
        """INSERT INTO alert (patient_id, condition, priority, message, raised_at)
           VALUES (%s, %s, %s, %s, now()) RETURNING id::text""",
        (patient, condition, priority, message),
    ).fetchone()
    assert row is not None
    return str(row[0])


def seed(owner_url: str) -> Seeded:
    apply_migrations(owner_url)
    role, password = f"station_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'Cardio'), ('w2', 'Pneumo')")
        conn.execute(
            "INSERT INTO bed (ward_id, id)"
            " VALUES ('w1', '12'), ('w1', '14'), ('w1', '15'), ('w1', '16'), ('w2', '3')"
        )
        conn.execute(
            "INSERT INTO patient (id, ward_id, bed_id)"
            " VALUES ('p-a', 'w1', '12'), ('p-b', 'w2', '3')"
        )
        conn.execute(
            """INSERT INTO identity.patient_identity (patient_id, mrn, given_name, family_name)
               VALUES ('p-a', 'MRN-1', 'Fatima', 'Zahra'), ('p-b', 'MRN-2', 'Youssef', 'Alami')"""
        )
        conn.execute(
            """INSERT INTO observation_latest (patient_id, metric_id, time, value, device_id)
               SELECT p, m.id, now() - interval '30 seconds', v, 'dev-' || p
               FROM (VALUES ('p-a', 'heart_rate', 118.0), ('p-a', 'spo2', 89.0),
                            ('p-b', 'heart_rate', 64.0)) AS s(p, k, v)
               JOIN metric m ON m.key = s.k"""
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_station").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
        for user in USERS.values():
            add_user(conn, user, by="test-admin")
    return Seeded(owner_url, login_url(owner_url, role, password))


@dataclass(frozen=True)
class Station:
    base: str
    ca_file: Path
    seeded: Seeded


@contextmanager
def serve(
    stack: RunningStack,
    seeded: Seeded,
    issuer: Issuer | None = None,
    *,
    port: int = 0,
    **overrides: Any,
) -> Iterator[Station]:
    """The station over HTTPS on a free port (or ``port``: a station stopped and served again
    at the same address, for an open page to find; another socket may share that address and
    take its connections over when it stops), with the local stack's certificate (and
    ``issuer`` for gateway credentials, if given). Leaving the block stops the server: its
    listening socket closes and its open connections end."""
    layout = Layout(stack.settings.root)
    settings = StationSettings(
        database_url=seeded.station_url,
        tls_cert_file=layout.web_cert,
        tls_key_file=layout.web_key,
        refresh_s=1.0,
        **overrides,
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # bound again after a stop
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # or by another while it stops
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(
        create_app(settings, issuer=issuer), lifespan="off", ws="none", http="h11",
        log_level="warning",
        ssl_certfile=str(layout.web_cert), ssl_keyfile=str(layout.web_key),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield Station(f"https://localhost:{sock.getsockname()[1]}", layout.ca_cert, seeded)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
