"""Per-device sequence numbers: identities never collide, numbers never go back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from nabd.edge.sequence import SeqAllocator, group_seqs

METRICS = st.sampled_from(["heart_rate", "rr_interval", "energy_expended", "spo2"])


def test_metrics_of_one_message_share_a_seq_and_repeats_take_new_ones() -> None:
    assert group_seqs(["heart_rate", "rr_interval", "rr_interval", "rr_interval"], 10) == [
        10,
        10,
        11,
        12,
    ]
    assert group_seqs(["systolic_bp", "diastolic_bp", "mean_arterial_pressure"], 3) == [3, 3, 3]


@given(messages=st.lists(st.lists(METRICS, max_size=8), max_size=20), start=st.integers(0, 99))
def test_identities_are_unique_and_seqs_increase(messages: list[list[str]], start: int) -> None:
    allocator = SeqAllocator({"d": start})
    identities: list[tuple[int, str]] = []
    last = start - 1
    for metrics in messages:
        seqs = allocator.take("d", metrics)
        assert seqs == sorted(seqs)
        assert not seqs or seqs[0] > last
        last = seqs[-1] if seqs else last
        identities += zip(seqs, metrics, strict=True)
    assert len(identities) == len(set(identities))
    assert allocator.peek("d") == last + 1


def test_devices_are_numbered_independently_from_their_persisted_marks() -> None:
    allocator = SeqAllocator({"a": 7})
    assert allocator.take("a", ["spo2"]) == [7]
    assert allocator.take("b", ["spo2"]) == [0]
