"""Known data for the FHIR tests, seeded by hand into a migrated database.

Patient ``p_1`` (an underscore, to exercise id escaping) wears a chest strap, an oximeter, a
thermometer, a cuff and a scale from T0 on; patient ``p-2`` wears another strap at the same
times, so every test can check that nothing of ``p-2`` leaks into ``p_1``'s resources. The
values are chosen so the expected summaries can be worked out by hand (see EXPECTED_*).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import numpy as np
import psycopg
from psycopg import sql

from nabd.analytics.news2 import score

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
"""Start of the seeded data, on a minute boundary."""
ALERT_OPEN = uuid.UUID("9d7c0f1e-5a2b-4c3d-8e9f-0a1b2c3d4e5f")
ALERT_OLD = uuid.UUID("1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b")
NEWS2_TIMES = (T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
NEWS2_COLUMNS = (
    "time", "patient_id", "total", "risk", "complete", "scale2", "respiration_rate", "spo2",
    "air_or_oxygen", "systolic_bp", "heart_rate", "consciousness", "temperature",
)  # fmt: skip

EXPECTED_HEART_RATE = [  # (minute, count, average, minimum, maximum)
    (0, 60, 70.5, 70.0, 71.0),
    (1, 60, 71.5, 71.0, 72.0),
    (2, 60, 72.5, 72.0, 73.0),
]
EXPECTED_OBSERVATIONS = 12
"""6 summaries (3 heart rate, 1 RR, 1 SpO2, 1 energy), 3 spot readings (height, 2 temperatures),
1 blood-pressure panel and 2 NEWS2 scores."""


@dataclass(frozen=True)
class Seeded:
    """A migrated, seeded database and a login that is a member of nabd_fhir_identity."""

    owner_url: str
    fhir_url: str
    fhir_role: str


def _insert_readings(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    rows: list[tuple[datetime, str, str, str, int, float | None, list[str]]] = []
    for minute in range(3):
        for i in range(60):
            quality = ["artefact"] if minute == 2 and i == 0 else []
            t = T0 + timedelta(minutes=minute, seconds=i)
            rows.append((t, "p_1", "hr-1", "heart_rate", minute * 60 + i, 70 + minute + i % 2,
                         quality))  # fmt: skip
            rows.append((t, "p-2", "hr-2", "heart_rate", minute * 60 + i, 150.0, []))
    # An unavailable reading in minute 1: stored, not averaged.
    rows.append((T0 + timedelta(minutes=1, seconds=30, milliseconds=500), "p_1", "hr-1",
                 "heart_rate", 1000, None, ["unavailable"]))  # fmt: skip
    for i, rr in enumerate((0.8, 0.9, 1.0)):
        rows.append((T0 + timedelta(seconds=i), "p_1", "hr-1", "rr_interval", 2000 + i, rr, []))
    for i, sat in enumerate((97.0, 98.0)):
        rows.append((T0 + timedelta(seconds=i), "p_1", "plx-1", "spo2", i, sat, []))
    for i, kj in enumerate((10.0, 20.0, 30.0)):
        rows.append((T0 + timedelta(seconds=10 * i), "p_1", "hr-1", "energy_expended", 3000 + i,
                     kj, []))  # fmt: skip
    rows += [
        (T0 + timedelta(seconds=10), "p_1", "scale-1", "body_height", 1, 1.75, []),
        (T0 + timedelta(seconds=30), "p_1", "thermo-1", "body_temperature", 1, 37.2, []),
        (T0 + timedelta(seconds=90), "p_1", "thermo-1", "body_temperature", 2, None,
         ["unavailable"]),
        (T0 + timedelta(seconds=60), "p_1", "bpm-1", "systolic_bp", 100, 120.0, []),
        (T0 + timedelta(seconds=60), "p_1", "bpm-1", "diastolic_bp", 100, 80.0, []),
        (T0 + timedelta(seconds=60), "p_1", "bpm-1", "mean_arterial_pressure", 100, 93.0, []),
        # Before T0: outside every export "since T0".
        (T0 - timedelta(hours=3), "p_1", "thermo-1", "body_temperature", 0, 36.9, []),
    ]  # fmt: skip
    cur.executemany(
        """INSERT INTO observation (time, patient_id, device_id, metric_id, seq, value, quality,
                                    received_at, gateway_id)
           VALUES (%s, %s, %s, (SELECT id FROM metric WHERE key = %s), %s, %s, %s, %s, 'gw-1')""",
        [(t, p, d, k, s, v, q, t) for t, p, d, k, s, v, q in rows],
    )


def _insert_registry(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute("INSERT INTO ward (id, name) VALUES ('w1', 'Cardiology 3')")
    conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p_1', 'w1'), ('p-2', 'w1')")
    conn.execute(
        """INSERT INTO identity.patient_identity (patient_id, mrn, given_name, family_name,
                                                  birth_date)
           VALUES ('p_1', 'MRN-0042', 'Amina', 'Haddad', '1948-05-17')"""
    )
    conn.execute("INSERT INTO gateway (id, ward_id) VALUES ('gw-1', 'w1')")
    devices = [
        ("hr-1", "heart_rate", "Polar", "H10", "C7A1", "3.1.1", 81.0),
        ("plx-1", "pulse_oximeter", "Nonin", "3150", "P-9", "1.2", None),
        ("thermo-1", "thermometer", None, None, None, None, None),
        ("bpm-1", "blood_pressure", "Omron", "BP7", "B-1", "2.0", None),
        ("scale-1", "weight_scale", "A&D", "UC-352", "S-1", "1.0", None),
        ("hr-2", "heart_rate", "Polar", "H10", "C7A2", "3.1.1", None),
    ]
    conn.cursor().executemany(
        """INSERT INTO device (id, gateway_id, kind, manufacturer, model, serial, firmware,
                               battery_level)
           VALUES (%s, 'gw-1', %s, %s, %s, %s, %s, %s)""",
        devices,
    )
    conn.cursor().executemany(
        """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
           VALUES (%s, %s, tstzrange(%s, NULL), 'nurse-1')""",
        [(d, "p-2" if d == "hr-2" else "p_1", T0 - timedelta(days=1)) for d, *_ in devices],
    )


def _insert_alerts(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    conn.execute(
        """INSERT INTO alert (id, patient_id, condition, priority, state, metric_id, message,
                              raised_at, resolved_at)
           VALUES (%s, 'p_1', 'spo2_low', 'high', 'raised', (SELECT id FROM metric
                   WHERE key = 'spo2'), 'SpO2 below 90 %% for 5 minutes', %s, NULL),
                  (%s, 'p_1', 'sensor_off', 'low', 'resolved', NULL, 'Sensor off', %s, %s)""",
        (
            ALERT_OPEN,
            T0 + timedelta(minutes=2),
            ALERT_OLD,
            T0 - timedelta(hours=2),
            T0 - timedelta(hours=1),
        ),
    )


def _insert_news2(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """NEWS2 rows as analytics writes them, into the table of migration 0010 (whose SELECT
    grant to nabd_fhir comes from migration 0020, not from here)."""
    result = score([18, 24], [95, 91], [False, True], [37.2, 39.5], [120, 95], [80, 125],
                   np.array(["A", None], dtype=object))  # fmt: skip
    fields = NEWS2_COLUMNS[2:]
    rows = [
        (
            NEWS2_TIMES[i],
            "p_1",
            *(getattr(result, f)[i].item() for f in fields),
        )
        for i in range(2)
    ]
    conn.cursor().executemany(
        sql.SQL("INSERT INTO news2_score ({}) VALUES ({})").format(
            sql.SQL(", ").join(map(sql.Identifier, NEWS2_COLUMNS)),
            sql.SQL(", ").join(sql.Placeholder() * len(NEWS2_COLUMNS)),
        ),
        rows,
    )


def seed(conn: psycopg.Connection[tuple[object, ...]]) -> None:
    """Registry, readings, alerts and NEWS2 scores (see the module docstring)."""
    _insert_registry(conn)
    with conn.cursor() as cur:
        _insert_readings(cur)
    _insert_alerts(conn)
    _insert_news2(conn)


def login_url(owner_url: str, role: str, password: str) -> str:
    parts = urlsplit(owner_url)
    return parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}").geturl()


def audit_rows(owner_url: str, action: str) -> list[tuple[object, ...]]:
    """(actor, subject, details) of the audit rows with this action, in chain order."""
    with psycopg.connect(owner_url) as conn:
        return conn.execute(
            "SELECT actor, subject, details FROM audit_log WHERE action = %s ORDER BY seq",
            (action,),
        ).fetchall()
