"""Every decoder, fed arbitrary or near-valid bytes, returns a value or raises GattDecodeError.

A value that decodes must also re-encode to bytes that decode to the same value, and flatten to
samples whose numbers are finite (``None`` only with ``unavailable``).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.contract.gatt.errors import GattDecodeError
from nabd.contract.gatt.registry import DECODERS, decode, encode
from nabd.contract.gatt.samples import SampleFlag
from tests.security.fuzz_budget import examples

ALL_UUIDS = sorted(DECODERS)

# Valid values from the known-answer tests, as (uuid, bytes): the seeds for mutation.
SEEDS = [
    (0x2A37, "16 48 34 03 20 03"),
    (0x2A37, "0D B4 00 E8 03"),
    (0x2A5E, "1F D9 F3 48 00 E8 07 03 0F 0A 1E 00 40 40 20 20 00 19 F0"),
    (0x2A5F, "1F 61 00 48 00 60 00 49 00 62 00 47 00 00 08 40 00 00 0A 00"),
    (0x2A1C, "07 DA 03 00 FF E8 07 02 1D 0D 05 09 06"),
    (0x2A1E, "00 74 01 00 FF"),
    (0x2A35, "1E 78 00 50 00 5D 00 E7 07 0C 1F 17 3B 3B 48 00 01 0C 00"),
    (0x2A36, "04 96 00 FF 07 FF 07 48 00"),
    (0x2A18, "03 01 00 E8 07 01 01 08 00 00 FB FF 01 D0 11"),
    (0x2A18, "1E 02 01 00 00 00 00 00 00 00 37 C0 4A 28 00"),
    (0x2A9D, "0E B0 36 E8 07 06 01 07 1E 00 02 E5 00 D6 06"),
    (0x2A19, "64"),
    (0x2A29, "4E 61 62 64 00"),
]


def check(uuid: int, data: bytes) -> None:
    try:
        value = decode(uuid, data)
    except GattDecodeError:
        return
    assert decode(uuid, encode(value)) == value
    for sample in value.samples():
        if sample.value is None:
            assert SampleFlag.UNAVAILABLE in sample.flags
        else:
            assert math.isfinite(sample.value)


@pytest.mark.parametrize("uuid", ALL_UUIDS, ids=hex)
@settings(max_examples=examples(300), deadline=None)
@given(data=st.binary(max_size=48))
def test_arbitrary_bytes(uuid: int, data: bytes) -> None:
    check(uuid, data)


# Flags bits each specification defines: reach past the Flags check into the fields.
DEFINED_FLAGS = {
    0x2A37: 0x1F,
    0x2A5E: 0x1F,
    0x2A5F: 0x1F,
    0x2A1C: 0x07,
    0x2A1E: 0x07,
    0x2A35: 0x1F,
    0x2A36: 0x1F,
    0x2A18: 0x1F,
    0x2A9D: 0x0F,
}


@pytest.mark.parametrize(("uuid", "defined"), DEFINED_FLAGS.items(), ids=hex)
@settings(max_examples=examples(300), deadline=None)
@given(flags=st.integers(0, 0xFF), fields=st.binary(max_size=40))
def test_defined_flags_with_arbitrary_fields(
    uuid: int, defined: int, flags: int, fields: bytes
) -> None:
    check(uuid, bytes([flags & defined]) + fields)


@settings(max_examples=examples(1500), deadline=None)
@given(
    seed=st.sampled_from(SEEDS),
    position=st.integers(0, 40),
    byte=st.integers(0, 255),
    cut=st.integers(0, 40),
    extra=st.binary(max_size=3),
)
def test_mutated_valid_values(
    seed: tuple[int, str], position: int, byte: int, cut: int, extra: bytes
) -> None:
    uuid, hex_data = seed
    data = bytearray.fromhex(hex_data)
    if position < len(data):
        data[position] = byte
    check(uuid, bytes(data[: max(cut, 1)]) + extra)


@pytest.mark.parametrize(("uuid", "hex_data"), SEEDS)
def test_seeds_are_valid(uuid: int, hex_data: str) -> None:
    # The mutation test only means something if it starts from values that decode.
    check(uuid, bytes.fromhex(hex_data))
    assert decode(uuid, bytes.fromhex(hex_data)) is not None
