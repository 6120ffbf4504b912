"""The load generator's sent record: what it published, so loss and duplication can be counted.

One SQLite file per run. It holds the plan (each gateway's ``boot_id`` and devices, the run's
``seq_base``) and one row per batch: when it was published, when the broker acknowledged it
(PUBACK, with its reason code) and when ingest acknowledged the commit (``IngestAck``), if it
did. Readings are not stored one by one: every device of a gateway sends one message per batch,
with sequence number ``seq_base + batch_seq`` (see :mod:`~nabd.simulators.load_batches`), so
:meth:`SentRecord.identities` expands a batch row into its ``(device_id, seq, metric)``
identities exactly. A run of 1000 gateways at 2000 batches/s for an hour is ~7 M rows, ~300 MB.

Writes are buffered and committed every :data:`FLUSH_S` seconds and at the end, from the one
thread that publishes, so recording never blocks on a disk in the middle of a burst.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final

from nabd.simulators.devices import Device
from nabd.simulators.errors import LoadError
from nabd.simulators.load_batches import GatewayPlan, LoadDevice

__all__ = ["FLUSH_S", "FORMAT", "BatchIdentity", "Identity", "SentRecord"]

FORMAT: Final = "nabd.load-record/1"
FLUSH_S: Final = 1.0

Identity = tuple[str, int, str]
"""``(device_id, seq, metric)``: a reading's identity in the contract and the database."""
BatchIdentity = tuple[str, str, int]
"""``(gateway_id, boot_id, batch_seq)``: what an ``IngestAck`` acknowledges."""

_SCHEMA: Final = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE gateway (gateway_id TEXT PRIMARY KEY, boot_id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE device (
    device_id TEXT PRIMARY KEY,
    gateway_id TEXT NOT NULL REFERENCES gateway (gateway_id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    metrics TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE batch (
    gateway_id TEXT NOT NULL,
    batch_seq INTEGER NOT NULL,
    sent_at REAL NOT NULL,
    puback_at REAL,
    reason_code INTEGER,
    acked_at REAL,
    PRIMARY KEY (gateway_id, batch_seq)
) WITHOUT ROWID;
"""


class SentRecord:
    """A run's record; :meth:`create` a new one to write, :meth:`open` an existing one to read."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._sent: list[tuple[str, int, float]] = []
        self._pubacks: list[tuple[float, int, str, int]] = []
        self._acks: list[tuple[float, str, int]] = []
        meta = dict(self._db.execute("SELECT key, value FROM meta"))
        if meta.get("format") != FORMAT:
            raise LoadError(f"{path} is not a load record ({FORMAT})")
        self.seq_base = int(meta["seq_base"])
        self.settings: Mapping[str, object] = json.loads(meta.get("settings", "{}"))

    @classmethod
    def create(
        cls,
        path: Path,
        plans: Sequence[GatewayPlan],
        boot_ids: Mapping[str, str],
        seq_base: int,
        settings: Mapping[str, object],
    ) -> SentRecord:
        """A new record at ``path`` (which must not exist) for a run of ``plans``."""
        if path.exists():
            raise LoadError(f"{path} exists: a sent record is never overwritten")
        try:
            connection = sqlite3.connect(path)
            connection.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise LoadError(f"cannot create the sent record {path}: {exc}") from exc
        with connection:
            meta = {"format": FORMAT, "seq_base": str(seq_base), "settings": json.dumps(settings)}
            connection.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            connection.executemany(
                "INSERT INTO gateway VALUES (?, ?)",
                [(p.gateway_id, boot_ids[p.gateway_id]) for p in plans],
            )
            connection.executemany(
                "INSERT INTO device VALUES (?, ?, ?, ?, ?)",
                [
                    (d.device_id, p.gateway_id, i, d.kind.value, ",".join(d.metrics))
                    for p in plans
                    for i, d in enumerate(p.devices)
                ],
            )
        return cls(connection, path)

    @classmethod
    def open(cls, path: Path) -> SentRecord:
        """An existing record, to read."""
        if not path.is_file():
            raise LoadError(f"no sent record at {path}")
        try:
            return cls(sqlite3.connect(f"file:{path}?mode=ro", uri=True), path)
        except sqlite3.DatabaseError as exc:
            raise LoadError(f"{path} is not a load record: {exc}") from exc

    # ---- Writing (buffered) -----------------------------------------------------------------

    def sent(self, gateway_id: str, batch_seq: int, at: float) -> None:
        self._sent.append((gateway_id, batch_seq, at))

    def pubacked(self, gateway_id: str, batch_seq: int, at: float, reason_code: int) -> None:
        self._pubacks.append((at, reason_code, gateway_id, batch_seq))

    def acked(self, gateway_id: str, batch_seq: int, at: float) -> None:
        self._acks.append((at, gateway_id, batch_seq))

    def flush(self) -> None:
        """Commit what was recorded since the last flush."""
        with self._db:
            self._db.executemany(
                "INSERT INTO batch (gateway_id, batch_seq, sent_at) VALUES (?, ?, ?)", self._sent
            )
            self._db.executemany(
                "UPDATE batch SET puback_at = ?, reason_code = ? "
                "WHERE gateway_id = ? AND batch_seq = ?",
                self._pubacks,
            )
            self._db.executemany(
                "UPDATE batch SET acked_at = min(coalesce(acked_at, ?), ?) "
                "WHERE gateway_id = ? AND batch_seq = ?",
                [(at, at, gw, seq) for at, gw, seq in self._acks],
            )
        self._sent.clear()
        self._pubacks.clear()
        self._acks.clear()

    def set_meta(self, key: str, value: str) -> None:
        with self._db:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def close(self) -> None:
        if self._sent or self._pubacks or self._acks:
            self.flush()
        self._db.close()

    # ---- Reading ----------------------------------------------------------------------------

    def plans(self) -> tuple[GatewayPlan, ...]:
        devices: dict[str, list[LoadDevice]] = {}
        for device_id, gateway_id, kind in self._db.execute(
            "SELECT device_id, gateway_id, kind FROM device ORDER BY gateway_id, position"
        ):
            devices.setdefault(gateway_id, []).append(LoadDevice(device_id, Device(kind)))
        return tuple(GatewayPlan(gw, tuple(d)) for gw, d in devices.items())

    def boot_ids(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT gateway_id, boot_id FROM gateway"))

    def batches(self) -> Iterator[BatchIdentity]:
        """Every batch published (whether or not the broker acknowledged it)."""
        yield from self._db.execute(
            "SELECT b.gateway_id, g.boot_id, b.batch_seq FROM batch b JOIN gateway g "
            "USING (gateway_id) ORDER BY b.gateway_id, b.batch_seq"
        )

    def identities(self) -> Iterator[Identity]:
        """Every reading identity published."""
        rows = self._db.execute(
            "SELECT d.device_id, b.batch_seq, d.metrics FROM batch b JOIN device d "
            "USING (gateway_id) ORDER BY d.device_id, b.batch_seq"
        )
        for device_id, batch_seq, metrics in rows:
            for metric in metrics.split(","):
                yield device_id, self.seq_base + batch_seq, metric

    def device_ids(self) -> list[str]:
        return [row[0] for row in self._db.execute("SELECT device_id FROM device")]

    def counts(self) -> dict[str, int]:
        """Batches published, acknowledged by the broker (accepted / refused), by ingest."""
        row = self._db.execute(
            "SELECT count(*), count(puback_at), "
            "count(*) FILTER (WHERE reason_code >= 128), count(acked_at) FROM batch"
        ).fetchone()
        return dict(zip(("published", "pubacked", "refused", "acked"), row, strict=True))

    def latencies(self, until: str) -> list[float]:
        """Seconds from publish to ``puback`` or ``ack`` (ingest commit), sorted."""
        column = {"puback": "puback_at", "ack": "acked_at"}[until]
        query = (
            f"SELECT {column} - sent_at FROM batch WHERE {column} IS NOT NULL "  # noqa: S608
            "ORDER BY 1"
        )
        return [row[0] for row in self._db.execute(query)]

    def __enter__(self) -> SentRecord:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
