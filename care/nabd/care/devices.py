"""Devices and who wears them: ``nabd device add|assign|unassign|list|show``.

A device is registered once by its Bluetooth address (``device add`` with the same fields again
changes nothing; the same id or address with another device's fields is refused). Assigning it
to an admitted patient opens an assignment from now (or from ``--from``, in the past: ingest
then moves the readings it set aside since, docs/ingest.md "Re-attribution"); the device is
registered to the gateway of the patient's bed, so the gateway's readings are accepted. A device
is worn by one patient at a time: an overlapping assignment is refused naming who holds it. The
``device_assignment`` trigger (migrations 0041, 0060) audits every change with ``--by``. An
assignment from an instant the consent rule does not let collect is refused, naming the command
that records consent (:mod:`nabd.care.consents`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, NoReturn

from nabd.care.consents import require_collection_allowed
from nabd.care.errors import AddressTaken, AssignmentOverlap, CareRefused, Conflict, Unknown, Why
from nabd.care.patients import require_admitted
from nabd.care.registry import require_bed, require_gateway
from nabd.care.store import Conn, audit, operation
from nabd.care.values import DeviceSpec, parse_actor, parse_id

__all__ = [
    "Assigned",
    "AssignmentPeriod",
    "Device",
    "Reported",
    "add_device",
    "add_device_in_transaction",
    "assign",
    "list_devices",
    "show_device",
    "unassign",
]


@dataclass(frozen=True)
class AssignmentPeriod:
    patient_id: str
    start: datetime
    end: datetime | None
    assigned_by: str
    ended_by: str | None


@dataclass(frozen=True)
class Device:
    """A device as an operator sees it: registry fields, its wearer now, and what its gateway
    and ingest last reported (last reading by the gateway's clock, battery, connection)."""

    id: str
    kind: str
    address: str | None
    gateway_id: str | None
    patient_id: str | None
    last_seen_at: datetime | None
    battery_level: float | None
    serial: str | None
    model: str | None
    manufacturer: str | None
    firmware: str | None
    registered_at: datetime
    connection: str | None
    """The gateway's last reported state: searching, connecting, connected, silent, lost."""
    reported: Reported | None = None
    """What the device said it is at its last connection (Device Information), if it did."""
    identity_mismatch: str | None = None
    """How what it reports contradicts its registration (ingest, migration 0110), if it does."""
    identity_mismatch_since: datetime | None = None
    history: tuple[AssignmentPeriod, ...] = ()


@dataclass(frozen=True)
class Reported:
    """A device's Device Information strings as its gateway last sent them."""

    manufacturer: str | None
    model: str | None
    serial: str | None
    firmware: str | None
    at: datetime
    """Since when it reports these strings."""


@dataclass(frozen=True)
class Assigned:
    device_id: str
    patient_id: str
    start: datetime
    changed: bool
    """``False``: the device was assigned to this patient already (nothing written)."""
    gateway_id: str | None
    """The gateway the device is registered to now (``None``: its readings are refused until
    it has one)."""


_SELECT = """SELECT d.id, d.kind, d.address, d.gateway_id,
                    (SELECT a.patient_id FROM device_assignment a
                     WHERE a.device_id = d.id AND a.valid @> now()),
                    d.last_seen_at, d.battery_level, d.serial, d.model, d.manufacturer,
                    d.firmware, d.registered_at, s.state, d.reported_manufacturer,
                    d.reported_model, d.reported_serial, d.reported_firmware, d.reported_at,
                    d.identity_mismatch, d.identity_mismatch_since
             FROM device d
             LEFT JOIN gateway_device_state s
               ON s.device_id = d.id AND s.gateway_id = d.gateway_id"""


def _device(row: tuple[Any, ...]) -> Device:
    (device_id, kind, address, gateway, patient, seen, battery, serial, model, manufacturer,
     firmware, registered, connection) = row[:13]  # fmt: skip
    (said_manufacturer, said_model, said_serial, said_firmware, said_at, mismatch,
     mismatch_since) = row[13:]  # fmt: skip
    reported = None if said_at is None else Reported(said_manufacturer, said_model, said_serial,
                                                     said_firmware, said_at)  # fmt: skip
    return Device(device_id, kind, address, gateway, patient, seen, battery, serial, model,
                  manufacturer, firmware, registered, connection, reported, mismatch,
                  mismatch_since)  # fmt: skip


def add_device(conn: Conn, spec: DeviceSpec, *, gateway: str | None = None, by: str) -> bool:
    """Register a device; ``False`` if it exists already with these fields (nothing written).

    The model and manufacturer are not compared. What the device itself reports is kept apart
    (``reported``) and compared with them by ingest (``identity_mismatch``).
    """
    actor = parse_actor(by)
    gateway_id = None if gateway is None else parse_id("gateway", gateway)
    with operation(conn, f"adding device {spec.id}"):
        return add_device_in_transaction(conn, spec, gateway_id, actor)


def add_device_in_transaction(
    conn: Conn, spec: DeviceSpec, gateway_id: str | None, actor: str
) -> bool:
    """:func:`add_device` inside the caller's transaction (a bulk import's); values checked."""
    if gateway_id is not None:
        require_gateway(conn, gateway_id)
    holder = conn.execute(
        "SELECT id FROM device WHERE address = %s AND id <> %s", (spec.address, spec.id)
    ).fetchone()
    if holder is not None:
        raise AddressTaken(
            f"address {spec.address} is registered already as device {holder[0]}: "
            "one device, one id (`nabd device show` it)",
            Why.ADDRESS_TAKEN, address=spec.address, device=str(holder[0]),
        )  # fmt: skip
    row = conn.execute(
        """INSERT INTO device (id, gateway_id, kind, address, serial, model, manufacturer)
           VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING RETURNING id""",
        (
            spec.id,
            gateway_id,
            spec.kind,
            spec.address,
            spec.serial,
            spec.model,
            spec.manufacturer,
        ),
    ).fetchone()
    if row is None:
        _same_device(conn, spec, gateway_id)
        return False
    audit(conn, actor, "device_added", f"device:{spec.id}",
          {"kind": spec.kind, "address": spec.address, "serial": spec.serial,
           "model": spec.model, "manufacturer": spec.manufacturer,
           "gateway": gateway_id})  # fmt: skip
    return True


def _same_device(conn: Conn, spec: DeviceSpec, gateway: str | None) -> None:
    """Refuse unless the registered device ``spec.id`` has ``spec``'s fields."""
    row = conn.execute(
        "SELECT kind, address, serial, gateway_id FROM device WHERE id = %s", (spec.id,)
    ).fetchone()
    assert row is not None
    wanted = {"kind": spec.kind, "address": spec.address, "serial": spec.serial,
              "gateway": gateway}  # fmt: skip
    stored = dict(zip(("kind", "address", "serial", "gateway"), row, strict=True))
    differ = [k for k, v in wanted.items() if v is not None and stored[k] != v]
    if differ:
        shown = ", ".join(f"{k} {stored[k] or 'none'} (not {wanted[k]})" for k in differ)
        raise Conflict(
            f"device {spec.id} is registered already with {shown}: repeat the command with the "
            "registered fields, or choose another id",
            Why.DEVICE_CONFLICT, device=spec.id,
        )  # fmt: skip


def _lock_device(conn: Conn, device_id: str) -> str | None:
    """Lock the device's row; return its gateway."""
    row = conn.execute(
        "SELECT gateway_id FROM device WHERE id = %s FOR UPDATE", (device_id,)
    ).fetchone()
    if row is None:
        raise Unknown(f"no device {device_id!r}: register it with `nabd device add`",
                      Why.NO_DEVICE, device=device_id)  # fmt: skip
    return None if row[0] is None else str(row[0])


def assign(
    conn: Conn, device_id: str, patient_id: str, *, start: datetime | None = None, by: str
) -> Assigned:
    """Assign a device to an admitted patient from ``start`` (default now), open-ended.

    Rows are locked patient, bed, device, in the order every care operation takes them.
    """
    device, pid = parse_id("device", device_id), parse_id("patient", patient_id)
    actor = parse_actor(by)
    with operation(conn, f"assigning device {device}"):
        ward, bed, admitted_at = require_admitted(conn, pid)
        bed_gateway = _bed_gateway(conn, ward, bed)
        gateway = _lock_device(conn, device)
        begin = _start(conn, start, pid, admitted_at)
        current = _holder(conn, device, begin)
        if current is not None and current[0] == pid and current[2] is None:
            return Assigned(device, pid, current[1], changed=False, gateway_id=gateway)
        if current is not None:
            _refuse_overlap(device, *current)
        require_collection_allowed(conn, pid, begin)
        if bed_gateway is not None and bed_gateway != gateway:
            conn.execute("UPDATE device SET gateway_id = %s WHERE id = %s", (bed_gateway, device))
            gateway = bed_gateway
        conn.execute(
            """INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)
               VALUES (%s, %s, tstzrange(%s, NULL), %s)""",
            (device, pid, begin, actor),
        )
        return Assigned(device, pid, begin, changed=True, gateway_id=gateway)


def _start(conn: Conn, start: datetime | None, patient: str, admitted_at: datetime) -> datetime:
    """``start`` (default: the transaction's now), not in the future nor before admission."""
    row = conn.execute("SELECT coalesce(%s::timestamptz, now()), now()", (start,)).fetchone()
    assert row is not None
    begin, now = row
    if begin > now:
        raise CareRefused(f"an assignment cannot start in the future ({begin:%Y-%m-%d %H:%M})",
                          Why.ASSIGNMENT_IN_FUTURE, at=begin)  # fmt: skip
    if begin < admitted_at:
        raise CareRefused(
            f"patient {patient} was admitted at {admitted_at:%Y-%m-%d %H:%M:%S}: "
            "an assignment cannot start before the admission",
            Why.ASSIGNMENT_BEFORE_ADMISSION, patient=patient, at=admitted_at,
        )  # fmt: skip
    return begin  # type: ignore[no-any-return]


def _refuse_overlap(
    device: str, holder: str, held_from: datetime, held_to: datetime | None
) -> NoReturn:
    until = "now" if held_to is None else f"{held_to:%Y-%m-%d %H:%M}"
    raise AssignmentOverlap(
        f"device {device} is worn by patient {holder} from {held_from:%Y-%m-%d %H:%M} "
        f"to {until}: unassign it first (`nabd device unassign {device}`)"
        + ("" if held_to is None else ", or start the new assignment after that"),
        Why.DEVICE_WORN, device=device, patient=holder, since=held_from, until=held_to,
    )  # fmt: skip


def _holder(conn: Conn, device: str, begin: datetime) -> tuple[Any, ...] | None:
    """The first assignment of ``device`` that overlaps ``[begin, ∞)``: (patient, start, end)."""
    row = conn.execute(
        """SELECT patient_id, lower(valid), nullif(upper(valid), 'infinity')
           FROM device_assignment WHERE device_id = %s AND valid && tstzrange(%s, NULL)
           ORDER BY lower(valid) LIMIT 1""",
        (device, begin),
    ).fetchone()
    return None if row is None else tuple(row)


def _bed_gateway(conn: Conn, ward: str, bed: str | None) -> str | None:
    return None if bed is None else require_bed(conn, ward, bed)


def unassign(conn: Conn, device_id: str, *, by: str) -> str | None:
    """End the device's current assignment now; returns the patient it ended for, or ``None``
    when the device was assigned to nobody (nothing written)."""
    device, actor = parse_id("device", device_id), parse_actor(by)
    with operation(conn, f"unassigning device {device}"):
        _lock_device(conn, device)
        row = conn.execute(
            """UPDATE device_assignment SET valid = tstzrange(lower(valid), now()), ended_by = %s
               WHERE device_id = %s AND upper_inf(valid) AND lower(valid) < now()
               RETURNING patient_id""",
            (actor, device),
        ).fetchone()
        return None if row is None else str(row[0])


def list_devices(conn: Conn, *, gateway: str | None = None) -> list[Device]:
    """Every device (or a gateway's), by id."""
    gateway_id = None if gateway is None else parse_id("gateway", gateway)
    rows = conn.execute(
        _SELECT + " WHERE (%(g)s::text IS NULL OR d.gateway_id = %(g)s) ORDER BY d.id",
        {"g": gateway_id},
    ).fetchall()
    return [_device(row) for row in rows]


def show_device(conn: Conn, device_id: str) -> Device:
    """One device with its assignment history, newest first."""
    device = parse_id("device", device_id)
    row = conn.execute(_SELECT + " WHERE d.id = %s", (device,)).fetchone()
    if row is None:
        raise Unknown(f"no device {device!r}: register it with `nabd device add`",
                      Why.NO_DEVICE, device=device)  # fmt: skip
    history = conn.execute(
        """SELECT patient_id, lower(valid), nullif(upper(valid), 'infinity'), assigned_by,
                  ended_by
           FROM device_assignment WHERE device_id = %s ORDER BY lower(valid) DESC""",
        (device,),
    ).fetchall()
    return replace(_device(row), history=tuple(AssignmentPeriod(*h) for h in history))
