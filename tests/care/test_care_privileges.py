"""The ``nabd_care`` role may do what care operations need and nothing more: it writes the
registry and identities, reads identities only through the access-recording reader, appends
audit entries, and cannot read a reading, a payload or a dead letter, rewrite an identity,
delete anything, or act on alerts and scores."""

from __future__ import annotations

import psycopg
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT * FROM observation LIMIT 1",
        "SELECT * FROM unattributed_observation LIMIT 1",
        "SELECT * FROM dead_letter LIMIT 1",
        "SELECT * FROM news2_score LIMIT 1",
        "SELECT * FROM nurse_entry LIMIT 1",
        "UPDATE identity.patient_identity SET given_name = 'x'",
        "DELETE FROM identity.patient_identity",
        "DELETE FROM patient",
        "DELETE FROM device_assignment",
        "DELETE FROM device",
        "DELETE FROM ward",
        "UPDATE patient SET news2_scale2 = true",
        "UPDATE patient SET admitted_at = now()",
        "UPDATE device SET battery_level = 1",
        "UPDATE device_assignment SET patient_id = 'x'",
        "UPDATE device_assignment SET assigned_by = 'x'",
        "UPDATE alert SET state = 'resolved'",
        "INSERT INTO alert (patient_id, condition, priority, message, raised_at)"
        " VALUES ('x', 'y', 'low', 'z', now())",
        "UPDATE audit_log SET actor = 'x'",
        "DELETE FROM audit_log",
        "INSERT INTO ward_viewer (role_name, ward_id) VALUES ('x', 'y')",
    ],
)
def test_the_care_role_is_refused_what_it_does_not_need(care_url: str, statement: str) -> None:
    with psycopg.connect(care_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_care_role_reads_the_registry_and_identities(care_url: str) -> None:
    with psycopg.connect(care_url) as conn:
        for table in (
            "ward",
            "bed",
            "patient",
            "gateway",
            "device",
            "device_assignment",
            "gateway_device_state",
            "alert",
            "identity_access",
        ):
            conn.execute(f"SELECT * FROM {table} LIMIT 1")  # noqa: S608 - fixed names
        # Identities only through the reader that records the access (migration 0085).
        conn.execute("SELECT * FROM identity.read_identities('{}', 'cli', 'desk', 'test')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM identity.patient_identity LIMIT 1")
