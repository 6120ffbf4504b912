"""Consent: ``nabd consent record|withdraw|show|policy`` (docs/consent.md, migration 0050).

A consent is what one patient (one admission, the pseudonymous id) agreed to for one programme
(:data:`SCOPES`), with the version of the text they were shown, when and by whom it was
collected. A withdrawal completes that record (date and who) and never deletes it; consenting
again is a new record. Every change appends its audit entry in the same transaction.

Whether readings may be collected is one rule in the database
(``consent_collection_periods``): covered by a consent to ``remote-monitoring`` when the
deployment's policy requires one (``consent_policy.required``, default off), else every instant
but those from a withdrawal to the next consent. Ingest, the gateways' device lists and
analytics all follow it; here it refuses a device assignment that could not collect, and a
withdrawal reports the devices its gateway stops reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, Final

from nabd.care.errors import CareInputError, CareRefused, Conflict, Unknown, Why
from nabd.care.store import Conn, audit, lock, operation
from nabd.care.values import parse_actor, parse_id, parse_text

__all__ = [
    "COLLECTION_SCOPE",
    "SCOPES",
    "Consent",
    "ConsentPolicy",
    "Consents",
    "Recorded",
    "Withdrawn",
    "consents_of",
    "parse_scope",
    "policy",
    "record_consent",
    "require_collection_allowed",
    "set_policy",
    "withdraw_consent",
]

COLLECTION_SCOPE: Final = "remote-monitoring"
"""The scope that governs collection (the database rule names it too, migration 0050)."""

SCOPES: Final = MappingProxyType(
    {
        COLLECTION_SCOPE: "readings collected from the patient's devices and monitored",
        "fhir-sharing": "sharing the record with other systems through the FHIR API",
    }
)
"""The programmes a patient can consent to, and what each covers."""


@dataclass(frozen=True)
class Consent:
    """One consent record."""

    id: int
    patient_id: str
    scope: str
    text_version: str
    collected_at: datetime
    collected_by: str
    recorded_at: datetime
    withdrawn_at: datetime | None
    withdrawn_by: str | None


@dataclass(frozen=True)
class Recorded:
    consent: Consent
    changed: bool
    """``False``: the same consent (scope and text version) was recorded already."""


@dataclass(frozen=True)
class Withdrawn:
    patient_id: str
    scope: str
    at: datetime
    changed: bool
    """``False``: withdrawn already (nothing written)."""
    released: tuple[tuple[str, str], ...] = ()
    """(device, gateway) pairs whose gateway stops reading them now."""


@dataclass(frozen=True)
class ConsentPolicy:
    required: bool
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True)
class Consents:
    """A patient's consents, newest first, and whether collection is allowed now."""

    patient_id: str
    records: tuple[Consent, ...]
    policy: ConsentPolicy
    collecting: bool
    sharing: bool = True
    """Whether the FHIR API may serve their record now (``fhir_sharing_allowed``, 0087)."""


_COLUMNS: Final = """id, patient_id, scope, text_version, collected_at, collected_by, recorded_at,
                     withdrawn_at, withdrawn_by"""
_SELECT: Final = f"SELECT {_COLUMNS} FROM consent"  # noqa: S608 (a constant)

_INSERT_SQL: Final = f"""
INSERT INTO consent (patient_id, scope, text_version, collected_at, collected_by)
VALUES (%s, %s, %s, %s, %s) RETURNING {_COLUMNS}
"""  # noqa: S608 (a constant)

_RELEASED_SQL: Final = """
SELECT d.id, d.gateway_id FROM device_assignment a JOIN device d ON d.id = a.device_id
WHERE a.patient_id = %s AND a.valid @> now() AND d.gateway_id IS NOT NULL
ORDER BY d.id
"""


def parse_scope(value: str) -> str:
    """One of :data:`SCOPES`."""
    cleaned = value.strip()
    if cleaned not in SCOPES:
        raise CareInputError(
            f"consent scope {value!r} is not accepted: use one of {', '.join(SCOPES)}",
            Why.BAD_SCOPE, value=value, scopes=", ".join(SCOPES),
        )  # fmt: skip
    return cleaned


def _consent(row: tuple[Any, ...]) -> Consent:
    return Consent(*row)


def _require_patient(conn: Conn, pid: str) -> None:
    if conn.execute("SELECT 1 FROM patient WHERE id = %s", (pid,)).fetchone() is None:
        raise Unknown(f"no patient {pid!r}: `nabd patient list` shows the admitted ones",
                      Why.NO_PATIENT, patient=pid)  # fmt: skip


def _when(conn: Conn, at: datetime | None) -> datetime:
    """``at`` (default: the transaction's now), not in the future."""
    row = conn.execute("SELECT coalesce(%s::timestamptz, now()), now()", (at,)).fetchone()
    assert row is not None
    when, now = row
    if when > now:
        raise CareInputError(f"time {when:%Y-%m-%d %H:%M} is in the future: give when it happened",
                             Why.TIME_IN_FUTURE, value=when)  # fmt: skip
    return when  # type: ignore[no-any-return]


def _locked_records(
    conn: Conn, pid: str, scope: str, at: datetime | None
) -> tuple[list[Consent], datetime]:
    """Serialise changes to ``pid`` 's consent to ``scope`` until the transaction ends; return
    its records, newest first, and the instant of the change (``at`` or now)."""
    _require_patient(conn, pid)
    lock(conn, f"consent:{pid}:{scope}")
    when = _when(conn, at)
    rows = conn.execute(
        _SELECT + " WHERE patient_id = %s AND scope = %s ORDER BY collected_at DESC, id DESC",
        (pid, scope),
    ).fetchall()
    return [_consent(row) for row in rows], when


def record_consent(
    conn: Conn,
    patient_id: str,
    *,
    scope: str,
    text_version: str,
    collected_by: str,
    at: datetime | None = None,
) -> Recorded:
    """Record that ``patient_id`` consented to ``scope`` (text ``text_version``) at ``at``
    (default now), collected by ``collected_by`` (audited as them)."""
    pid, what = parse_id("patient", patient_id), parse_scope(scope)
    version = parse_text("--text-version", text_version, 40)
    actor = parse_actor(collected_by)
    with operation(conn, f"recording consent of patient {pid}"):
        rows, when = _locked_records(conn, pid, what, at)
        current = [c for c in rows if c.withdrawn_at is None]
        if current and current[0].text_version == version:
            return Recorded(current[0], changed=False)
        if current:
            raise Conflict(
                f"patient {pid} consented to {what} (text {current[0].text_version}) at "
                f"{current[0].collected_at:%Y-%m-%d %H:%M}: withdraw that consent first "
                f"(`nabd consent withdraw {pid} --scope {what} --by NAME`)",
                Why.CONSENTED_ALREADY, patient=pid, scope=what, at=current[0].collected_at,
            )  # fmt: skip
        last_withdrawal = max((c.withdrawn_at for c in rows if c.withdrawn_at), default=None)
        if last_withdrawal is not None and when < last_withdrawal:
            raise CareRefused(
                f"patient {pid} withdrew consent to {what} at {last_withdrawal:%Y-%m-%d %H:%M}: "
                "a new consent cannot be dated before that withdrawal",
                Why.CONSENT_BEFORE_WITHDRAWAL, patient=pid, scope=what, at=last_withdrawal,
            )  # fmt: skip
        row = conn.execute(
            _INSERT_SQL,
            (pid, what, version, when, actor),
        ).fetchone()
        assert row is not None
        consent = _consent(row)
        audit(
            conn,
            actor,
            "consent_recorded",
            f"patient:{pid}",
            {"scope": what, "text_version": version, "collected_at": when, "consent": consent.id},
        )
        return Recorded(consent, changed=True)


def withdraw_consent(
    conn: Conn, patient_id: str, *, scope: str, by: str, at: datetime | None = None
) -> Withdrawn:
    """Record that ``patient_id`` withdrew their consent to ``scope`` at ``at`` (default now),
    as told to ``by``. A withdrawal of ``remote-monitoring`` takes the patient's devices out of
    their gateways' lists at the next pass of ingest's configuration publisher."""
    pid, what, actor = parse_id("patient", patient_id), parse_scope(scope), parse_actor(by)
    with operation(conn, f"withdrawing consent of patient {pid}"):
        rows, when = _locked_records(conn, pid, what, at)
        if not rows:
            raise Unknown(f"patient {pid} has no consent to {what} recorded: nothing to withdraw",
                          Why.NO_CONSENT, patient=pid, scope=what)  # fmt: skip
        latest = rows[0]
        if latest.withdrawn_at is not None:
            return Withdrawn(pid, what, latest.withdrawn_at, changed=False)
        if when < latest.collected_at:
            raise CareRefused(
                f"patient {pid} consented to {what} at {latest.collected_at:%Y-%m-%d %H:%M}: "
                "a withdrawal cannot be dated before it",
                Why.WITHDRAWAL_BEFORE_CONSENT, patient=pid, scope=what, at=latest.collected_at,
            )  # fmt: skip
        conn.execute(
            "UPDATE consent SET withdrawn_at = %s, withdrawn_by = %s WHERE id = %s",
            (when, actor, latest.id),
        )
        released: tuple[tuple[str, str], ...] = ()
        if what == COLLECTION_SCOPE and not _allowed(conn, pid, None):
            released = tuple((str(d), str(g)) for d, g in conn.execute(_RELEASED_SQL, (pid,)))
        audit(
            conn,
            actor,
            "consent_withdrawn",
            f"patient:{pid}",
            {
                "scope": what,
                "consent": latest.id,
                "withdrawn_at": when,
                "devices_released": [f"{d}@{g}" for d, g in released],
            },
        )
        return Withdrawn(pid, what, when, changed=True, released=released)


def _allowed(conn: Conn, pid: str, at: datetime | None) -> bool:
    row = conn.execute(
        "SELECT consent_collection_periods(%s) @> coalesce(%s::timestamptz, now())", (pid, at)
    ).fetchone()
    return bool(row and row[0])


def require_collection_allowed(conn: Conn, pid: str, at: datetime) -> None:
    """Refuse (:class:`CareRefused`) what would collect ``pid`` 's readings from ``at`` when
    the consent rule does not allow it, naming the command that records consent."""
    if _allowed(conn, pid, at):
        return
    record = (
        f"`nabd consent record {pid} --scope {COLLECTION_SCOPE} --text-version V "
        "--collected-by NAME`"
    )
    withdrawn = conn.execute(
        "SELECT max(withdrawn_at) FROM consent WHERE patient_id = %s AND scope = %s",
        (pid, COLLECTION_SCOPE),
    ).fetchone()
    if withdrawn is not None and withdrawn[0] is not None:
        raise CareRefused(
            f"patient {pid} withdrew consent to {COLLECTION_SCOPE} at "
            f"{withdrawn[0]:%Y-%m-%d %H:%M}: their devices are not read; if they consent "
            f"again, record it with {record}",
            Why.CONSENT_WITHDRAWN, patient=pid, at=withdrawn[0],
        )  # fmt: skip
    raise CareRefused(
        f"patient {pid} has no consent to {COLLECTION_SCOPE} recorded and this deployment "
        f"requires one before a device collects their readings: record it with {record}",
        Why.CONSENT_REQUIRED,
        patient=pid,
    )


def consents_of(conn: Conn, patient_id: str) -> Consents:
    """A patient's consent records (newest first), the policy, and whether collection and FHIR
    sharing are allowed now."""
    pid = parse_id("patient", patient_id)
    _require_patient(conn, pid)
    rows = conn.execute(
        _SELECT + " WHERE patient_id = %s ORDER BY collected_at DESC, id DESC", (pid,)
    ).fetchall()
    shared = conn.execute("SELECT fhir_sharing_allowed(%s)", (pid,)).fetchone()
    return Consents(
        pid,
        tuple(map(_consent, rows)),
        policy(conn),
        _allowed(conn, pid, None),
        sharing=bool(shared and shared[0]),
    )


def policy(conn: Conn) -> ConsentPolicy:
    """The deployment's consent policy."""
    row = conn.execute("SELECT required, updated_at, updated_by FROM consent_policy").fetchone()
    assert row is not None  # migration 0050 inserts the one row
    return ConsentPolicy(bool(row[0]), row[1], str(row[2]))


def set_policy(conn: Conn, *, required: bool, by: str) -> bool:
    """Require consent for collection, or not; ``False`` if it was so already."""
    actor = parse_actor(by)
    with operation(conn, "setting the consent policy"):
        row = conn.execute(
            "UPDATE consent_policy SET required = %s, updated_at = now(), updated_by = %s "
            "WHERE required IS DISTINCT FROM %s RETURNING 1",
            (required, actor, required),
        ).fetchone()
        if row is None:
            return False
        audit(conn, actor, "consent_policy_set", "consent_policy", {"required": required})
        return True
