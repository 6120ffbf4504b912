"""Reads and writes in a signed-in user's scope, decided by the database.

:func:`as_user` opens a transaction and ``SET LOCAL ROLE`` to the user's own role: the per-ward
row-level security of migration 0040 then filters every table (``patient``, ``alert``,
``observation_latest``, ...) and the ``nabd_ward`` views filter the hypertables. A page therefore
cannot show another ward's patient even if its query forgot a ``WHERE``. A write first proves
visibility that way, then ``RESET ROLE`` lets the station's clinical grants do the action.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

import psycopg
from psycopg import sql

from nabd.station.errors import NotFoundError
from nabd.station.sessions import SignedIn

__all__ = ["as_user", "visible_alert", "visible_patient"]

Conn = psycopg.Connection[Any]


@contextmanager
def as_user(conn: Conn, user: SignedIn) -> Iterator[Conn]:
    """A transaction whose statements run as ``user``'s role (until :func:`as_station`)."""
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(user.db_role)))
        yield conn


def as_station(conn: Conn) -> None:
    """Back to the station's own login inside an :func:`as_user` transaction."""
    conn.execute("RESET ROLE")


_PATIENT_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
"""The registry's pseudonym pattern (migration 0002): anything else names nobody."""


def visible_patient(conn: Conn, patient_id: str) -> str:
    """The patient's ward if the current role sees her, else :class:`NotFoundError`."""
    if not _PATIENT_ID.fullmatch(patient_id):  # NUL and the like never reach PostgreSQL
        raise NotFoundError("no such patient in your wards", phrase="no_patient", id="…")
    row = conn.execute("SELECT ward_id FROM patient WHERE id = %s", (patient_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no patient {patient_id!r} in your wards", phrase="no_patient",
                            id=patient_id)  # fmt: skip
    return str(row[0])


def visible_alert(conn: Conn, alert_id: str) -> str:
    """The alert's patient if the current role sees it, else :class:`NotFoundError`."""
    row = conn.execute("SELECT patient_id FROM alert WHERE id::text = %s", (alert_id,)).fetchone()
    if row is None:
        raise NotFoundError("no such alert in your wards", phrase="no_alert")
    return str(row[0])
