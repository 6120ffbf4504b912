"""End-to-end acks name each committed batch once, per gateway boot session, within limits."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nabd.contract.payloads import MAX_ACKED, IngestAck, parse, to_json
from nabd.ingest.acks import ingest_acks
from nabd.ingest.validate import BatchId

BOOT_A = "11111111-1111-4111-8111-111111111111"
BOOT_B = "22222222-2222-4222-8222-222222222222"


def test_acks_group_by_gateway_and_boot_and_drop_repeats() -> None:
    acks = ingest_acks(
        [
            BatchId("gw-1", BOOT_A, 3),
            BatchId("gw-1", BOOT_A, 1),
            BatchId("gw-1", BOOT_A, 3),
            BatchId("gw-1", BOOT_B, 0),
            BatchId("gw-2", BOOT_A, 7),
        ]
    )
    assert [(a.gateway_id, a.boot_id, a.committed) for a in acks] == [
        ("gw-1", BOOT_A, (1, 3)),
        ("gw-1", BOOT_B, (0,)),
        ("gw-2", BOOT_A, (7,)),
    ]


def test_no_batches_no_acks() -> None:
    assert ingest_acks([]) == []


@given(seqs=st.sets(st.integers(0, 2**63 - 1), min_size=1, max_size=2 * MAX_ACKED + 5))
def test_every_batch_is_acked_once_in_valid_acks(seqs: set[int]) -> None:
    acks = ingest_acks(BatchId("gw-1", BOOT_A, s) for s in seqs)
    named = [s for a in acks for s in a.committed]
    assert sorted(named) == sorted(seqs)
    assert all(len(a.committed) <= MAX_ACKED for a in acks)
    assert all(parse(IngestAck, to_json(a)) == a for a in acks)
