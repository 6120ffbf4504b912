"""A reading is stored once per ``(device_id, seq, metric)``, whatever time a copy claims (issue
17, item 5; docs/contract.md).

The class: copies of one identity with other times and values, in the same flush or a later one,
for a device worn by a patient or by nobody (``unattributed_observation``), through the real
database; the first stored copy stays, and ``observation_latest`` shows only stored readings.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract import topics
from nabd.ingest.consumer import Delivery
from nabd.ingest.inbox import Pending
from nabd.ingest.validate import Accepted, validate
from nabd.ingest.writer import Writer
from tests.ingest.ingest_kit import T0, IngestDb, reading, register, valid_batch
from tests.stack_kit import token

pytestmark = pytest.mark.integration


def _pending(gw: str, raw: bytes, ids: dict[str, int]) -> Pending:
    verdict = validate(topics.observations(gw), raw, ids)
    assert isinstance(verdict, Accepted)
    delivery = Delivery(1, 0, 0, 1, topics.observations(gw), raw, 0.0)
    return Pending(delivery, verdict, verdict.rows, verdict.newest_sample)


@settings(max_examples=40, deadline=None)
@given(
    shifts=st.lists(
        st.integers(-86_400 * 3, 86_400 * 3).filter(bool), min_size=1, max_size=3, unique=True
    ),
    same_flush=st.booleans(),
    worn=st.booleans(),
)
def test_copies_of_a_reading_with_other_times_are_not_stored_again(
    ingest_db: IngestDb, shifts: list[int], same_flush: bool, worn: bool
) -> None:
    gw, device = f"gw-id-{token()}", f"dev-id-{token()}"
    register(ingest_db, gw, {device: f"p-{device}" if worn else None})
    copies = [
        valid_batch(
            gw,
            [reading(device, 7, value=60.0 + i, at=T0 + timedelta(seconds=shift))],
            boot_id=str(uuid.uuid4()),
        )
        for i, shift in enumerate([0, *shifts])
    ]
    writer = Writer(ingest_db.ingest_url, f"id-{token()}")
    ids = writer.connect()
    try:
        pending = [_pending(gw, raw, ids) for raw in copies]
        if same_flush:
            writer.write(pending)
        else:
            for item in pending:
                writer.write([item])
    finally:
        writer.close()
    table = "observation" if worn else "unattributed_observation"
    stored = ingest_db.query(
        f"SELECT time, value FROM {table} WHERE device_id = %s",  # noqa: S608
        (device,),
    )
    assert len(stored) == 1
    if not same_flush:  # the first copy stored wins
        assert stored == [(T0, 60.0)]
    if worn:
        latest = ingest_db.query(
            "SELECT time, value FROM observation_latest WHERE device_id = %s", (device,)
        )
        assert latest == stored
    assert ingest_db.query("SELECT count(*) FROM ingested_batch WHERE gateway_id = %s", (gw,)) == [
        (len(copies),)
    ]
