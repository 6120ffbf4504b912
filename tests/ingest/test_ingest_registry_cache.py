"""Ingest keeps the registry rows it read and reads them again only when ``registry_version``
moved (migration 0151, :mod:`nabd.ingest.registry_cache`).

The class: any sequence of registry changes (register, assign, end an assignment, move a device
to another gateway, remove it) between flushes leaves the cached registry equal to a fresh read
in the same transaction; changes that do not matter to attribution (battery, reported identity)
do not empty the cache.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nabd.ingest.attribution import REGISTRY_SQL, Registry
from nabd.ingest.registry_cache import VERSION_SQL, RegistryCache
from nabd.ingest.writer import Writer
from tests.ingest.ingest_kit import IngestDb, reading, register, valid_batch
from tests.ingest.test_ingest_identity import _pending
from tests.stack_kit import token

T1 = datetime(2025, 1, 1, tzinfo=UTC)


class _Reads:
    """A fake database: the rows of each device, and the reads asked of it."""

    def __init__(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        self.rows, self.asked = rows, list[list[str]]()

    def __call__(self, devices: Sequence[str]) -> Iterable[tuple[Any, ...]]:
        self.asked.append(list(devices))
        return [row for d in devices for row in self.rows.get(d, [])]


def _row(device: str, gateway: str, patient: str | None = None) -> tuple[Any, ...]:
    return (device, gateway, patient, None, None, True, False)


def test_the_same_version_reads_only_devices_never_seen() -> None:
    reads = _Reads({"a": [_row("a", "g", "p")], "b": [_row("b", "g")]})
    cache = RegistryCache()
    first = cache.registry(["a"], 1, reads)
    again = cache.registry(["a", "b", "x"], 1, reads)
    assert reads.asked == [["a"], ["b", "x"]]
    assert first.patient_at("a", T1) == "p"
    assert again.gateways == {"a": "g", "b": "g"}  # x: unknown, kept as no rows
    cache.registry(["x", "a"], 1, reads)
    assert len(reads.asked) == 2


def test_a_new_version_reads_again() -> None:
    reads = _Reads({"a": [_row("a", "g", "p")]})
    cache = RegistryCache()
    cache.registry(["a"], 1, reads)
    reads.rows["a"] = [_row("a", "g", "q")]
    assert cache.registry(["a"], 2, reads).patient_at("a", T1) == "q"
    assert reads.asked == [["a"], ["a"]]


def test_past_its_limit_the_cache_starts_afresh() -> None:
    reads = _Reads({})
    cache = RegistryCache(limit=3)
    cache.registry(["a", "b"], 1, reads)
    cache.registry(["c", "d"], 1, reads)
    assert reads.asked == [["a", "b"], ["c", "d"]]
    cache.registry(["a"], 1, reads)  # forgotten when c and d came
    assert reads.asked[-1] == ["a"]


# -- against the real database ---------------------------------------------------------------

_STEPS = st.lists(
    st.tuples(
        st.sampled_from(["assign", "end", "move", "remove", "add", "battery", "firmware"]),
        st.integers(0, 2),
    ),
    min_size=1,
    max_size=8,
)


def _apply(conn: psycopg.Connection[Any], step: str, device: str, gateways: list[str]) -> None:
    if step == "assign":
        conn.execute(
            "UPDATE device_assignment SET valid = tstzrange(lower(valid), now())"
            " WHERE device_id = %s AND upper_inf(valid)",
            (device,),
        )
        conn.execute(
            "INSERT INTO patient (id, ward_id) VALUES (%s, 'w') ON CONFLICT DO NOTHING",
            (f"p-{device}",),
        )
        conn.execute(  # a removed device cannot be worn
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
            " SELECT id, %s, tstzrange(now(), NULL), 'test' FROM device WHERE id = %s",
            (f"p-{device}", device),
        )
    elif step == "end":
        conn.execute(
            "UPDATE device_assignment SET valid = tstzrange(lower(valid), now())"
            " WHERE device_id = %s AND upper_inf(valid) AND lower(valid) < now()",
            (device,),
        )
    elif step == "move":
        conn.execute(
            "UPDATE device SET gateway_id = CASE gateway_id WHEN %s THEN %s ELSE %s END"
            " WHERE id = %s",
            (gateways[0], gateways[1], gateways[0], device),
        )
    elif step == "remove":
        conn.execute("DELETE FROM device_assignment WHERE device_id = %s", (device,))
        conn.execute("DELETE FROM device WHERE id = %s", (device,))
    elif step == "add":
        conn.execute(
            "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'test')"
            " ON CONFLICT DO NOTHING",
            (device, gateways[0]),
        )
    elif step == "battery":
        conn.execute("UPDATE device SET battery_level = 50 WHERE id = %s", (device,))
    else:
        conn.execute("UPDATE device SET reported_firmware = '1.2' WHERE id = %s", (device,))


def _version(db: IngestDb) -> int:
    return int(db.query(VERSION_SQL)[0][0])


@pytest.mark.integration
@settings(max_examples=25, deadline=None)
@given(steps=_STEPS)
def test_the_cached_registry_is_what_a_fresh_read_gives(
    ingest_db: IngestDb, steps: list[tuple[str, int]]
) -> None:
    gateways = [f"gw-rc-{token()}", f"gw-rc-{token()}"]
    devices = [f"dev-rc-{token()}" for _ in range(3)]
    register(ingest_db, gateways[0], {devices[0]: f"p-{devices[0]}", devices[1]: None})
    register(ingest_db, gateways[1], {})
    cache = RegistryCache()

    def both(conn: psycopg.Connection[Any]) -> tuple[Registry, Registry]:
        version = int(conn.execute(VERSION_SQL).fetchall()[0][0])
        cached = cache.registry(
            devices, version, lambda ids: conn.execute(REGISTRY_SQL, (list(ids),)).fetchall()
        )
        return cached, Registry.from_rows(conn.execute(REGISTRY_SQL, (devices,)).fetchall())

    with psycopg.connect(ingest_db.ingest_url, autocommit=True) as reader:
        cached, fresh = both(reader)
        assert cached == fresh
        for step, which in steps:
            before, reads = _version(ingest_db), cache.reads
            with psycopg.connect(ingest_db.owner_url) as owner:
                _apply(owner, step, devices[which], gateways)
            cached, fresh = both(reader)
            assert cached == fresh, step
            if step in ("battery", "firmware"):
                assert _version(ingest_db) == before
                assert cache.reads == reads


@pytest.mark.integration
def test_a_writer_reads_the_registry_once_while_it_does_not_change(ingest_db: IngestDb) -> None:
    """Through ``Writer``: flushes of known devices read only the counter."""
    gw, device = f"gw-rc-{token()}", f"dev-rc-{token()}"
    register(ingest_db, gw, {device: None})
    writer = Writer(ingest_db.ingest_url, f"rc-{token()}")
    ids = writer.connect()
    try:
        for seq in range(3):
            raw = valid_batch(gw, [reading(device, seq)], batch_seq=seq)
            writer.write([_pending(gw, raw, ids)])
        assert writer._registry_cache.reads == 1
        with psycopg.connect(ingest_db.owner_url) as owner:
            owner.execute("INSERT INTO patient (id, ward_id) VALUES ('p-rc', 'w')")
            owner.execute(
                "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
                " VALUES (%s, 'p-rc', tstzrange('2020-01-01', NULL), 'test')",
                (device,),
            )
        writer.write([_pending(gw, valid_batch(gw, [reading(device, 9)], batch_seq=9), ids)])
    finally:
        writer.close()
    assert writer._registry_cache.reads == 2
    stored = ingest_db.query("SELECT patient_id FROM observation WHERE device_id = %s", (device,))
    assert stored == [("p-rc",)]  # the assignment made between flushes counted at once
