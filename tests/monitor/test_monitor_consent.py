"""Analytics monitors only the patients whose consent allows collection now (docs/consent.md),
as the analytics login reads them: a patient who withdrew leaves the monitored set (no "no data"
alarm for data that must not come), and with consent required a patient without one is not
monitored until it is recorded."""

from __future__ import annotations

import asyncio

import psycopg
import pytest

from tests.monitor.monitor_kit import MonitorDb, admit, registry_of_every_ward
from tests.stack_kit import token

pytestmark = pytest.mark.integration


def _monitored(db: MonitorDb) -> set[str]:
    async def read() -> set[str]:
        async with await psycopg.AsyncConnection.connect(db.analytics_url) as conn:
            return {str(p) for p in (await registry_of_every_ward(conn)).patient}

    return asyncio.run(read())


def _consent(db: MonitorDb, patient: str, *, withdrawn: bool) -> None:
    with db.connect() as conn:
        conn.execute(
            """INSERT INTO consent (patient_id, scope, text_version, collected_at, collected_by,
                                    withdrawn_at, withdrawn_by)
               VALUES (%s, 'remote-monitoring', 'v1', now() - interval '1 hour', 'Nurse Amal',
                       CASE WHEN %s THEN now() - interval '1 minute' END,
                       CASE WHEN %s THEN 'Nurse Ines' END)""",
            (patient, withdrawn, withdrawn),
        )


def _required(db: MonitorDb, required: bool) -> None:
    with db.connect() as conn:
        conn.execute("UPDATE consent_policy SET required = %s", (required,))


def test_only_patients_whose_consent_allows_collection_are_monitored(
    monitor_db: MonitorDb,
) -> None:
    plain, withdrew, consented = (admit(monitor_db, f"p-{w}-{token()}") for w in "pwc")
    _consent(monitor_db, withdrew, withdrawn=True)
    _consent(monitor_db, consented, withdrawn=False)
    try:
        monitored = _monitored(monitor_db)
        assert {plain, consented} <= monitored  # not required: no record is enough
        assert withdrew not in monitored  # an explicit withdrawal is honoured
        _required(monitor_db, True)
        monitored = _monitored(monitor_db)
        assert consented in monitored
        assert not {plain, withdrew} & monitored
    finally:
        _required(monitor_db, False)
