"""The SQL: one patient's data from a time on, read under the ``nabd_fhir`` role, and the audit.

Every read runs in a transaction that first drops to ``nabd_fhir`` (or ``nabd_fhir_identity``
for a caller allowed to see identity) with ``SET LOCAL ROLE``: whatever login the service uses,
the database itself enforces that a pseudonymous caller cannot read ``identity``. A ward-scoped
caller runs as ``nabd_fhir_ward`` (or ``nabd_fhir_ward_identity``), whose same-named views show
only its wards (migration 0021). Listings run in sort-key order or, for ``_sort=-date``, its
reverse (the same SQL with ``DESC`` and ``<``).

Observations come from five sources (spot readings, per-period summaries of streamed metrics,
blood-pressure panels, NEWS2 scores, values nurses measured and entered). Each is read in one
order, the sort key ``(time, source, key, device, seq)``, from just after a
:class:`~nabd.interop.fhir.search.Cursor`;
merging the sources' first ``n`` rows gives the first ``n`` overall, so pages are keyset-based
(stable while new data arrives) and no source is ever read past one page. Text sorts with
``COLLATE "C"``, which orders as Python does.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import psycopg
from psycopg import errors, sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from nabd.interop.fhir import ids
from nabd.interop.fhir.codes import (
    BLOOD_PRESSURE_KEYS,
    BLOOD_PRESSURE_STREAM,
    NEWS2_STREAM,
    VITAL_SIGNS,
)
from nabd.interop.fhir.errors import FhirConfigError, NotFoundError, NotSharedError
from nabd.interop.fhir.records import (
    NEWS2_SUBSCORES,
    AlertRecord,
    BloodPressureRecord,
    DeviceRecord,
    IdentityRecord,
    ManualRecord,
    News2Record,
    PatientRecord,
    ReadingRecord,
)
from nabd.interop.fhir.search import FAR_FUTURE, START, Cursor, TimeRange
from nabd.interop.fhir.summaries import Summary, bucket_start

Row = dict[str, Any]
Conn = psycopg.Connection[Row]

ROLE: Final = "nabd_fhir"
IDENTITY_ROLE: Final = "nabd_fhir_identity"
WARD_ROLE: Final = "nabd_fhir_ward"
WARD_IDENTITY_ROLE: Final = "nabd_fhir_ward_identity"
NEWS2_TABLE: Final = "news2_score"
NEWS2_COLUMNS: Final = ("time", "patient_id", "total", "risk", "complete", "scale2")
NEWS2_ALL_COLUMNS: Final = (*NEWS2_COLUMNS, *NEWS2_SUBSCORES)

SPOT, SUMMARY, PANEL, NEWS2, MANUAL = range(5)
"""Source ranks: the second element of the sort key."""

MANUAL_KEYS: Final = (
    "respiration_rate",
    "spo2",
    "pulse_rate",
    "body_temperature",
    "systolic_bp",
    "diastolic_bp",
)
"""What a nurse measures and enters (``nurse_entry``, migrations 0033-0035) that is exported."""

ObservationRecord = ReadingRecord | Summary | BloodPressureRecord | News2Record | ManualRecord


def role_for(*, identity: bool, wards: frozenset[str] | None) -> str:
    """The database role a caller's requests run as."""
    if wards is None:
        return IDENTITY_ROLE if identity else ROLE
    return WARD_IDENTITY_ROLE if identity else WARD_ROLE


@contextlib.contextmanager
def session(
    url: str, *, identity: bool = False, wards: frozenset[str] | None = None
) -> Iterator[Conn]:
    """One transaction as the caller's role (:func:`role_for`); commits on success.

    A ward-scoped caller (``wards`` not None) reads the views of schema ``nabd_fhir_ward``
    (migration 0021), filtered by the database to those wards: the same SQL, another
    search_path, and a role with no grant on the tables themselves.
    """
    role = role_for(identity=identity, wards=wards)
    try:
        conn = psycopg.connect(url, row_factory=dict_row)
    except psycopg.OperationalError as exc:
        raise FhirConfigError(f"cannot connect to the database: {exc}") from exc
    with conn:
        try:
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        except (errors.InsufficientPrivilege, errors.UndefinedObject) as exc:
            raise FhirConfigError(f"the database login cannot act as {role}: {exc}") from exc
        if wards is None:
            conn.execute("SET LOCAL search_path = public, identity")
        else:
            conn.execute("SET LOCAL search_path = nabd_fhir_ward, public")
            conn.execute(
                "SELECT set_config('nabd.fhir_wards', %s, true)", (",".join(sorted(wards)),)
            )
        conn.execute("SET LOCAL statement_timeout = '30s'")
        yield conn


def check_roles(url: str, scopes: Iterable[tuple[bool, bool]]) -> None:
    """Fail early (FhirConfigError) if the login cannot take the role of each token scope,
    given as (identity, ward-scoped)."""
    for identity, ward_scoped in sorted(set(scopes)):
        with session(url, identity=identity, wards=frozenset() if ward_scoped else None):
            pass


def audit(conn: Conn, *, actor: str, action: str, subject: str, details: Mapping[str, Any]) -> None:
    """Append one row to the hash-chained audit log (the trigger numbers, stamps and chains it)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s)",
        (actor, action, subject, Jsonb(dict(details))),
    )


# ---- Patients and devices -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a patient's identity, recorded by the database in ``identity_access``
    (migration 0085): the channel (``fhir`` for the API, ``export`` for files), the person or
    client, and what they read."""

    channel: str
    actor: str
    what: str


def patient(conn: Conn, patient_id: str, *, identity: Reader | None) -> PatientRecord:
    """The patient, with identity only for a ``Reader`` (which needs an identity role).

    Identity is read through ``identity.read_identities``, the only way the roles may read it:
    the same statement records the access.
    """
    row = conn.execute(
        "SELECT id, ward_id, admitted_at, discharged_at FROM patient WHERE id = %s",
        (patient_id,),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"no patient {patient_id!r}")
    person = None
    if identity is not None:
        found = conn.execute(
            """SELECT mrn, given_name, family_name, birth_date
               FROM identity.read_identities(ARRAY[%s], %s, %s, %s)""",
            (patient_id, identity.channel, identity.actor, identity.what),
        ).fetchone()
        person = None if found is None else IdentityRecord(**found)
    return PatientRecord(**row, identity=person)


def sharing_allowed(conn: Conn, patient_id: str) -> bool:
    """Whether the patient's resources may be shared through FHIR now: the database's one rule
    (``fhir_sharing_allowed``, migration 0087; docs/consent.md "FHIR sharing")."""
    row = conn.execute("SELECT fhir_sharing_allowed(%s) AS allowed", (patient_id,)).fetchone()
    return bool(row and row["allowed"])


def require_shared(conn: Conn, patient_id: str) -> None:
    """:class:`NotSharedError` if the patient's resources may not be shared now; a patient the
    caller cannot see is :class:`NotFoundError` first, so a ward-scoped caller learns nothing
    about another ward's consents."""
    if sharing_allowed(conn, patient_id):
        return
    if conn.execute("SELECT 1 FROM patient WHERE id = %s", (patient_id,)).fetchone() is None:
        raise NotFoundError(f"no patient {patient_id!r}")
    raise NotSharedError(not_shared(patient_id))


def not_shared(patient_id: str) -> str:
    """What a refused read or an emptied search says (no detail of who consented to what)."""
    return (
        f"Patient/{ids.to_fhir(patient_id)} is not shared through this API: no consent to "
        "fhir-sharing is in force for them (this deployment requires one, or they withdrew it); "
        "none of their resources are served"
    )


_DEVICE: Final = """
    SELECT d.id, d.kind, d.manufacturer, d.model, d.serial, d.firmware, d.battery_level,
           (SELECT a.patient_id FROM device_assignment a
             WHERE a.device_id = d.id AND a.valid @> now()) AS patient_id
    FROM device d
    WHERE {condition}
    ORDER BY d.id COLLATE "C"
"""
_DEVICE_BY_ID: Final = sql.SQL(_DEVICE).format(condition=sql.SQL("d.id = %s"))
_DEVICES_OF: Final = sql.SQL(_DEVICE).format(
    condition=sql.SQL(
        """d.id IN (SELECT device_id FROM device_assignment
                    WHERE patient_id = %s AND valid && tstzrange(%s, %s))"""
    )
)


def device(conn: Conn, device_id: str) -> DeviceRecord:
    row = conn.execute(_DEVICE_BY_ID, (device_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no device {device_id!r}")
    return DeviceRecord(**row)


def devices_of(conn: Conn, patient_id: str, time: TimeRange | None = None) -> list[DeviceRecord]:
    """Devices assigned to the patient at some time in ``time`` (default: ever)."""
    window = TimeRange() if time is None else time
    rows = conn.execute(_DEVICES_OF, (patient_id, window.start, window.end)).fetchall()
    return [DeviceRecord(**row) for row in rows]


# ---- Observations -----------------------------------------------------------------------------


def sort_key(record: ObservationRecord) -> Cursor:
    """The position of an Observation in every listing (and the cursor after it)."""
    if isinstance(record, ReadingRecord):
        return Cursor(record.time, SPOT, record.key, record.device_id, record.seq)
    if isinstance(record, Summary):
        return Cursor(record.start, SUMMARY, record.key, record.device_id, 0)
    if isinstance(record, BloodPressureRecord):
        return Cursor(record.time, PANEL, BLOOD_PRESSURE_STREAM, record.device_id, record.seq)
    if isinstance(record, ManualRecord):
        return Cursor(record.time, MANUAL, record.key, "", record.entry_id)
    return Cursor(record.time, NEWS2, NEWS2_STREAM, "", 0)


def _after(cursor: Cursor) -> dict[str, Any]:
    return {
        "c_time": cursor.time,
        "c_rank": cursor.rank,
        "c_key": cursor.key,
        "c_device": cursor.device,
        "c_seq": cursor.seq,
    }


def _after_sql(
    time: str, rank: int, key: str, device: str, seq: str, *, descending: bool = False
) -> sql.Composed:
    """``sort key > cursor`` (``<`` when descending) for a source whose sort key is made of
    these SQL expressions. The expressions are constants of this module, never input.
    """
    return sql.SQL(
        """ROW({time}, {rank}, {key} COLLATE "C", {device} COLLATE "C", {seq})
        {op} ROW(%(c_time)s, %(c_rank)s, %(c_key)s::text, %(c_device)s::text, %(c_seq)s)"""
    ).format(
        time=sql.SQL(time),
        rank=sql.Literal(rank),
        key=sql.SQL(key),
        device=sql.SQL(device),
        seq=sql.SQL(seq),
        op=sql.SQL("<" if descending else ">"),
    )


def _directed(text: str, after: tuple[str, int, str, str, str]) -> dict[bool, sql.Composed]:
    """A source's query in both orders: ``{d}`` is ASC or DESC, ``{ge}`` the time bound's
    operator (``>=`` or ``<=``), ``{after}`` the keyset condition."""
    return {
        descending: sql.SQL(text).format(
            after=_after_sql(*after, descending=descending),
            d=sql.SQL("DESC" if descending else "ASC"),
            ge=sql.SQL("<=" if descending else ">="),
        )
        for descending in (False, True)
    }


def _digest_sql(columns: str) -> sql.Composed:
    return sql.SQL(ids.DIGEST_SQL).format(sql.SQL(columns))


def _quality(text: str | None) -> tuple[str, ...]:
    """Flags from ``string_agg`` of the readings' quality arrays, de-duplicated and sorted."""
    return tuple(sorted({flag for flag in (text or "").split(",") if flag}))


def _reading(row: Row) -> ReadingRecord:
    return ReadingRecord(**(row | {"quality": tuple(row["quality"])}))


_SPOT: Final = _directed(
    """
    SELECT o.time, o.patient_id, o.device_id, m.key, o.seq, o.value, o.quality
    FROM observation o JOIN metric m ON m.id = o.metric_id
    WHERE o.patient_id = %(patient)s AND m.key = ANY(%(keys)s)
      AND o.time >= %(start)s AND o.time < %(end)s AND o.time {ge} %(c_time)s AND {after}
    ORDER BY o.time {d}, m.key COLLATE "C" {d}, o.device_id COLLATE "C" {d}, o.seq {d}
    LIMIT %(limit)s""",
    ("o.time", SPOT, "m.key", "o.device_id", "o.seq"),
)


@dataclass(frozen=True, slots=True)
class Window:
    """One page of one patient's data: the time range, the cursor and the page size."""

    patient_id: str
    time: TimeRange
    cursor: Cursor
    limit: int
    descending: bool = False

    def params(self) -> dict[str, Any]:
        base = {"patient": self.patient_id, "start": self.time.start, "end": self.time.end}
        return base | _after(self.cursor) | {"limit": self.limit}


def spot_readings(conn: Conn, window: Window, keys: Iterable[str]) -> list[ReadingRecord]:
    query = _SPOT[window.descending]
    rows = conn.execute(query, window.params() | {"keys": list(keys)}).fetchall()
    return [_reading(row) for row in rows]


def _ceil(time: datetime, period_s: int) -> datetime:
    start = bucket_start(time, period_s)
    return start if start == time else start + timedelta(seconds=period_s)


_STATISTICS: Final = """count(value) AS count, avg(value) AS average, min(value) AS minimum,
    max(value) AS maximum, string_agg(NULLIF(array_to_string(quality, ','), ''), ',') AS quality"""

_SUMMARIES: Final = _directed(
    """
    SELECT start, key, device_id, STATISTICS
    FROM (SELECT time_bucket(%(period)s, o.time) AS start, m.key, o.device_id, o.value, o.quality
          FROM observation o JOIN metric m ON m.id = o.metric_id
          WHERE o.patient_id = %(patient)s AND m.key = ANY(%(keys)s)
            AND o.time >= %(start)s AND o.time < %(end)s AND o.time {ge} %(c_bound)s
            AND {after}) AS readings
    GROUP BY start, key, device_id
    ORDER BY start {d}, key COLLATE "C" {d}, device_id COLLATE "C" {d}
    LIMIT %(limit)s""".replace("STATISTICS", _STATISTICS),
    ("time_bucket(%(period)s, o.time)", SUMMARY, "m.key", "o.device_id", "0"),
)
"""(``c_bound``: no reading before the cursor's period, ascending; none after its end, not
inclusive, descending.)"""


def _period_end(time: datetime, period_s: int) -> datetime:
    """``time`` plus one period, or the far future if that is past what datetime holds."""
    period = timedelta(seconds=period_s)
    return time + period if time < FAR_FUTURE - period else FAR_FUTURE


def summaries(conn: Conn, window: Window, keys: Iterable[str], period_s: int) -> list[Summary]:
    """Per-period summaries of streamed metrics whose period *starts* within the window."""
    params = window.params() | {
        "keys": list(keys),
        "period": timedelta(seconds=period_s),
        "start": _ceil(window.time.start, period_s),
        "end": _ceil(window.time.end, period_s),
        "c_bound": _period_end(window.cursor.time, period_s)
        if window.descending
        else window.cursor.time,
    }
    return [
        Summary(
            **(row | {"quality": _quality(row["quality"])}),
            patient_id=window.patient_id,
            period_s=period_s,
        )
        for row in conn.execute(_SUMMARIES[window.descending], params).fetchall()
    ]


_PANEL_SELECT: Final = """
    SELECT o.time, o.patient_id, o.device_id, o.seq, array_agg(m.key) AS keys,
           array_agg(o.value) AS values,
           string_agg(NULLIF(array_to_string(o.quality, ','), ''), ',') AS quality
    FROM observation o JOIN metric m ON m.id = o.metric_id
    WHERE m.key = ANY(%(keys)s) AND {condition}
    GROUP BY o.time, o.patient_id, o.device_id, o.seq"""

_PANELS: Final = _directed(
    _PANEL_SELECT.replace(
        "{condition}",
        """o.patient_id = %(patient)s AND o.time >= %(start)s AND o.time < %(end)s
        AND o.time {ge} %(c_time)s AND {after}""",
    )
    + """ ORDER BY o.time {d}, o.device_id COLLATE "C" {d}, o.seq {d} LIMIT %(limit)s""",
    ("o.time", PANEL, "'blood_pressure'::text", "o.device_id", "o.seq"),
)

_PANEL_BY_ID: Final = sql.SQL(_PANEL_SELECT).format(
    condition=sql.SQL("o.time = %(time)s AND o.seq = %(seq)s AND {digest} = %(digest)s").format(
        digest=_digest_sql("o.device_id")
    )
)


def _panel(row: Row) -> BloodPressureRecord:
    return BloodPressureRecord(
        time=row["time"],
        patient_id=row["patient_id"],
        device_id=row["device_id"],
        seq=row["seq"],
        values=dict(zip(row["keys"], row["values"], strict=True)),
        quality=_quality(row["quality"]),
    )


def panels(conn: Conn, window: Window) -> list[BloodPressureRecord]:
    """Blood-pressure measurements: the cuff's readings grouped by (time, device, seq)."""
    params = window.params() | {"keys": list(BLOOD_PRESSURE_KEYS)}
    return [_panel(row) for row in conn.execute(_PANELS[window.descending], params).fetchall()]


_MANUAL: Final = _directed(
    """
    SELECT * FROM (
        SELECT min(e.id) AS entry_id, e.observed_at AS time, e.patient_id,
               e.entered_by AS performer,
               CASE WHEN e.parameter IN ('systolic_bp', 'diastolic_bp') THEN 'blood_pressure'
                    ELSE e.parameter END AS key,
               array_agg(e.parameter ORDER BY e.parameter) AS keys,
               array_agg(e.value::float8 ORDER BY e.parameter) AS values
        FROM nurse_entry e
        WHERE e.patient_id = %(patient)s AND e.parameter = ANY(%(keys)s)
          AND e.observed_at >= %(start)s AND e.observed_at < %(end)s
          AND e.observed_at {ge} %(c_time)s
        GROUP BY e.patient_id, e.observed_at, e.entered_by, 5,
                 CASE WHEN e.parameter IN ('systolic_bp', 'diastolic_bp') THEN 0 ELSE e.id END
    ) g WHERE {after}
    ORDER BY g.time {d}, g.key COLLATE "C" {d}, g.entry_id {d}
    LIMIT %(limit)s""",
    ("g.time", MANUAL, "g.key", "''::text", "g.entry_id"),
)
"""A nurse's entries as Observations: one row each, but a blood pressure's systolic and
diastolic rows (entered together: same patient, time and nurse) as one panel, identified by
the smaller of their ids."""


def _manual(row: Row) -> ManualRecord:
    values = dict(zip(row.pop("keys"), row.pop("values"), strict=True))
    return ManualRecord(**row, values=values)


def manual_entries(conn: Conn, window: Window, keys: Iterable[str]) -> list[ManualRecord]:
    """The values nurses measured and entered of these parameters (catalogue keys; a blood
    pressure needs both of its keys)."""
    params = window.params() | {"keys": list(keys)}
    return [_manual(row) for row in conn.execute(_MANUAL[window.descending], params).fetchall()]


def news2_available(conn: Conn) -> bool:
    """Whether ``news2_score`` exists with the expected columns and this role may read them.

    (information_schema shows only columns the current role has a privilege on.)
    """
    row = conn.execute(
        """SELECT count(*) AS n FROM information_schema.columns
           WHERE table_schema = current_schema() AND table_name = %s
             AND column_name = ANY(%s)""",
        (NEWS2_TABLE, list(NEWS2_ALL_COLUMNS)),
    ).fetchone()
    return row is not None and row["n"] == len(NEWS2_ALL_COLUMNS)


def _news2_record(row: Row) -> News2Record:
    return News2Record(
        time=row["time"],
        patient_id=row["patient_id"],
        total=row["total"],
        risk=row["risk"],
        complete=row["complete"],
        scale2=row["scale2"],
        subscores={name: row[name] for name in NEWS2_SUBSCORES},
    )


_NEWS2_SELECT: Final = sql.SQL("SELECT {columns} FROM {table} WHERE ").format(
    columns=sql.SQL(", ").join(sql.Identifier(c) for c in NEWS2_ALL_COLUMNS),
    table=sql.Identifier(NEWS2_TABLE),
)
_NEWS2: Final = {
    descending: _NEWS2_SELECT + query
    for descending, query in _directed(
        """patient_id = %(patient)s AND time >= %(start)s AND time < %(end)s
        AND time {ge} %(c_time)s AND {after} ORDER BY time {d} LIMIT %(limit)s""",
        ("time", NEWS2, "'news2'::text", "''::text", "0"),
    ).items()
}
_NEWS2_BY_ID: Final = _NEWS2_SELECT + sql.SQL("time = %s AND {digest} = %s").format(
    digest=_digest_sql("patient_id")
)


def news2_scores(conn: Conn, window: Window) -> list[News2Record]:
    """NEWS2 scores, or none when the table is not there (yet) or not readable."""
    if not news2_available(conn):
        return []
    return [
        _news2_record(row)
        for row in conn.execute(_NEWS2[window.descending], window.params()).fetchall()
    ]


@dataclass(frozen=True, slots=True)
class Selection:
    """What an Observation listing covers."""

    patient_id: str
    streams: frozenset[str]
    time: TimeRange
    period_s: int


def observations(
    conn: Conn,
    selection: Selection,
    cursor: Cursor = START,
    limit: int = 100,
    *,
    descending: bool = False,
) -> list[ObservationRecord]:
    """Up to ``limit`` Observations after ``cursor`` in sort-key order (before it, in reverse
    order, when ``descending``), from every source."""
    wanted = selection.streams
    spot = [k for k, v in VITAL_SIGNS.items() if k in wanted and not v.streamed]
    streamed = [k for k, v in VITAL_SIGNS.items() if k in wanted and v.streamed]
    window = Window(selection.patient_id, selection.time, cursor, limit, descending)
    sources: list[list[ObservationRecord]] = []
    if spot:
        sources.append(list(spot_readings(conn, window, spot)))
    if streamed:
        sources.append(list(summaries(conn, window, streamed, selection.period_s)))
    if BLOOD_PRESSURE_STREAM in wanted:
        sources.append(list(panels(conn, window)))
    if NEWS2_STREAM in wanted:
        sources.append(list(news2_scores(conn, window)))
    panel = BLOOD_PRESSURE_STREAM in wanted
    manual = [k for k in MANUAL_KEYS if k in wanted or (panel and k in BLOOD_PRESSURE_KEYS)]
    if manual:
        sources.append(list(manual_entries(conn, window, manual)))
    return list(itertools.islice(heapq.merge(*sources, key=sort_key, reverse=descending), limit))


def all_observations(
    conn: Conn, selection: Selection, page: int = 2000
) -> Iterator[ObservationRecord]:
    """Every Observation of the selection, read a page at a time (for exports)."""
    cursor = START
    while True:
        batch = observations(conn, selection, cursor, page)
        yield from batch
        if len(batch) < page:
            return
        cursor = sort_key(batch[-1])


def observation(conn: Conn, obs_id: ids.ObservationId) -> ObservationRecord:
    """The Observation with this (decoded) id, or NotFoundError.

    Summary ids carry their own period, so an id issued before the period setting changed still
    reads back the same summary.
    """
    found = _find(conn, obs_id)
    if found is None:
        raise NotFoundError(f"no Observation {obs_id}")
    return found


def _key_of(conn: Conn, mdc_code: int) -> str | None:
    row = conn.execute("SELECT key FROM metric WHERE mdc_code = %s", (mdc_code,)).fetchone()
    return None if row is None else str(row["key"])


def _find(conn: Conn, obs_id: ids.ObservationId) -> ObservationRecord | None:
    if isinstance(obs_id, ids.SpotId):
        return _find_spot(conn, obs_id)
    if isinstance(obs_id, ids.SummaryId):
        return _find_summary(conn, obs_id)
    if isinstance(obs_id, ids.PanelId):
        params = {
            "keys": list(BLOOD_PRESSURE_KEYS),
            "time": obs_id.time,
            "seq": obs_id.seq,
            "digest": obs_id.device_digest,
        }
        row = conn.execute(_PANEL_BY_ID, params).fetchone()
        return None if row is None else _panel(row)
    if isinstance(obs_id, ids.ManualId):
        return _find_manual(conn, obs_id)
    if not news2_available(conn):
        return None
    row = conn.execute(_NEWS2_BY_ID, (obs_id.time, obs_id.patient_digest)).fetchone()
    return None if row is None else _news2_record(row)


def _find_manual(conn: Conn, obs_id: ids.ManualId) -> ManualRecord | None:
    """The entry's Observation: the listing's query at the entry's patient and instant."""
    row = conn.execute(
        "SELECT patient_id, observed_at FROM nurse_entry WHERE id = %s AND parameter = ANY(%s)",
        (obs_id.entry_id, list(MANUAL_KEYS)),
    ).fetchone()
    if row is None:
        return None
    at = row["observed_at"]
    window = Window(row["patient_id"], TimeRange(at, at + timedelta(microseconds=1)), START, 100)
    found = manual_entries(conn, window, MANUAL_KEYS)
    return next((r for r in found if r.entry_id == obs_id.entry_id), None)


_SPOT_BY_ID: Final = sql.SQL(
    """SELECT o.time, o.patient_id, o.device_id, m.key, o.seq, o.value, o.quality
       FROM observation o JOIN metric m ON m.id = o.metric_id
       WHERE m.key = %s AND o.time = %s AND o.seq = %s AND {digest} = %s"""
).format(digest=_digest_sql("o.device_id"))


def _find_spot(conn: Conn, obs_id: ids.SpotId) -> ReadingRecord | None:
    key = _key_of(conn, obs_id.mdc_code)
    if key is None or key not in VITAL_SIGNS or VITAL_SIGNS[key].streamed:
        return None
    params = (key, obs_id.time, obs_id.seq, obs_id.device_digest)
    row = conn.execute(_SPOT_BY_ID, params).fetchone()
    return None if row is None else _reading(row)


_SUMMARY_BY_ID: Final = sql.SQL(
    """SELECT patient_id, device_id, {statistics}
       FROM observation o JOIN metric m ON m.id = o.metric_id
       WHERE m.key = %s AND o.time >= %s AND o.time < %s AND {digest} = %s
       GROUP BY patient_id, device_id"""
).format(statistics=sql.SQL(_STATISTICS), digest=_digest_sql("o.patient_id, o.device_id"))


def _find_summary(conn: Conn, obs_id: ids.SummaryId) -> Summary | None:
    key = _key_of(conn, obs_id.mdc_code)
    if key is None or key not in VITAL_SIGNS or not VITAL_SIGNS[key].streamed:
        return None
    try:
        if bucket_start(obs_id.start, obs_id.period_s) != obs_id.start:
            return None
    except ValueError:
        return None  # not a period Nabd uses
    end = obs_id.start + timedelta(seconds=obs_id.period_s)
    params = (key, obs_id.start, end, obs_id.subject_digest)
    row = conn.execute(_SUMMARY_BY_ID, params).fetchone()
    if row is None:
        return None
    return Summary(
        **(row | {"quality": _quality(row["quality"])}),
        key=key,
        start=obs_id.start,
        period_s=obs_id.period_s,
    )


# ---- Alerts -------------------------------------------------------------------------------------

_ALERT_SELECT: Final = """
    SELECT a.id, a.patient_id, a.condition, a.priority, a.state, a.message, a.raised_at,
           a.resolved_at, m.key AS metric_key
    FROM alert a LEFT JOIN metric m ON m.id = a.metric_id
    WHERE {condition}"""
_ALERTS: Final = sql.SQL(_ALERT_SELECT).format(
    condition=sql.SQL(
        """a.patient_id = %(patient)s AND a.raised_at < %(end)s
        AND coalesce(a.resolved_at, 'infinity') >= %(start)s
        AND ROW(a.raised_at, a.id::text COLLATE "C") > ROW(%(c_time)s, %(c_key)s::text)
        ORDER BY a.raised_at, a.id::text COLLATE "C"
        LIMIT %(limit)s"""
    )
)
_ALERT_BY_ID: Final = sql.SQL(_ALERT_SELECT).format(condition=sql.SQL("a.id = %s"))


def alerts(conn: Conn, window: Window) -> list[AlertRecord]:
    """Alerts whose active period ``[raised, resolved)`` overlaps the window, by raise time."""
    return [AlertRecord(**row) for row in conn.execute(_ALERTS, window.params()).fetchall()]


def alert_cursor(record: AlertRecord) -> Cursor:
    return Cursor(record.raised_at, 0, str(record.id), "", 0)


def all_alerts(
    conn: Conn, patient_id: str, time: TimeRange, page: int = 1000
) -> Iterator[AlertRecord]:
    cursor = START
    while True:
        batch = alerts(conn, Window(patient_id, time, cursor, page))
        yield from batch
        if len(batch) < page:
            return
        cursor = alert_cursor(batch[-1])


def alert(conn: Conn, alert_id: uuid.UUID) -> AlertRecord:
    row = conn.execute(_ALERT_BY_ID, (alert_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"no Flag {alert_id}")
    return AlertRecord(**row)
