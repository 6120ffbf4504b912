"""Patients' rights over their identity: rectification, erasure, and who read it.

``nabd patient rectify|erase`` and ``nabd privacy access-log`` (docs/patient-rights.md). Law
09-08 (Morocco, articles 7 and 8: access, rectification, erasure) and the GDPR (articles 15-17)
give a person these rights; the clinical record itself is kept for its legal retention period,
so erasure removes what *identifies* the person and keeps the pseudonymous readings, scores and
alerts, which then name nobody.

Both changes need the owner's login: the care role admits patients but never rewrites or deletes
who they are (migration 0085).

- Rectify changes identity fields in one transaction with an ``identity_rectified`` audit entry
  naming the fields changed, never their old or new values (the audit log is read by more roles
  than the identity schema).
- Erase deletes the identity row of a discharged admission (the only place a name, MRN or birth
  date is stored: nothing on the wire or in the registry carries one), with an
  ``identity_erased`` audit entry that records that it happened and which fields went, not what
  they held. An admitted patient is refused: the ward still needs to know who is in the bed.
- The access log (migration 0085) is written by the database on every identity read; here it
  is only listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from nabd.care.errors import CareInputError, CareRefused, Unknown, Why
from nabd.care.patients import lock_patient
from nabd.care.store import Conn, audit, operation
from nabd.care.values import parse_actor, parse_birth_date, parse_id, parse_mrn, parse_text

__all__ = [
    "IDENTITY_FIELDS",
    "Access",
    "Erasure",
    "IdentityChange",
    "access_log",
    "erase_identity",
    "rectify_identity",
    "remaining",
    "resolve_patient",
    "resolve_patients",
]

IDENTITY_FIELDS: Final = ("mrn", "given_name", "family_name", "birth_date")
"""The columns of ``identity.patient_identity`` (migration 0002): all an erasure removes."""


@dataclass(frozen=True)
class IdentityChange:
    """What a rectification sets; None: left as it is."""

    mrn: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None

    @classmethod
    def parse(
        cls,
        *,
        mrn: str | None = None,
        given: str | None = None,
        family: str | None = None,
        birth_date: str | None = None,
    ) -> IdentityChange:
        """From what a person typed; refuses an empty change."""
        change = cls(
            None if mrn is None else parse_mrn(mrn),
            None if given is None else _given(given),
            None if family is None else parse_text("the family name", family, 100),
            None if birth_date is None else parse_birth_date(birth_date),
        )
        if not change.fields:
            raise CareInputError(
                "nothing to rectify: give --mrn, --given, --family and/or --birth-date",
                Why.NOTHING_TO_RECTIFY,
            )
        return change

    @property
    def fields(self) -> dict[str, str | date]:
        values = {f: getattr(self, f) for f in IDENTITY_FIELDS}
        return {f: v for f, v in values.items() if v is not None}


def _given(value: str) -> str:
    """A given name may be empty (some people have only a family name), never control chars."""
    return parse_text("the given name", value, 100) if value.strip() else ""


@dataclass(frozen=True)
class Erasure:
    patient_id: str
    at: datetime
    fields: tuple[str, ...]
    """The identity fields that were erased (names only)."""
    remains: Mapping[str, int | None]
    """Pseudonymous rows kept for the patient, by data class."""


@dataclass(frozen=True)
class Access:
    """One recorded read of a patient's identity."""

    at: datetime
    patient_id: str
    channel: str
    actor: str
    what: str
    login: str


def resolve_patients(conn: Conn, patient: str) -> list[str]:
    """The admissions ``patient`` names: a pseudonym names one, an MRN every admission of that
    person that still has an identity (looked up without reading any name); :class:`Unknown`
    if none."""
    text = patient.strip()
    if conn.execute("SELECT 1 FROM patient WHERE id = %s", (text,)).fetchone():
        return [text]
    found = [str(r[0]) for r in conn.execute(
        "SELECT identity.admissions_with_mrn(%s)", (text,)
    ).fetchall()]  # fmt: skip
    if found:
        return found
    raise Unknown(
        f"no patient {text!r}: give a pseudonymous patient id (`nabd patient list --all`) "
        "or a patient's MRN",
        Why.NO_PATIENT, patient=text,
    )  # fmt: skip


def resolve_patient(conn: Conn, patient: str) -> str:
    """The one admission ``patient`` names (see :func:`resolve_patients`), or
    :class:`CareRefused` listing them when an MRN names several."""
    found = resolve_patients(conn, patient)
    if len(found) > 1:
        raise CareRefused(
            f"MRN {patient.strip()} names {len(found)} admissions ({', '.join(found)}): "
            "give one of these pseudonymous ids",
            Why.MRN_AMBIGUOUS, mrn=patient.strip(), count=len(found), patients=", ".join(found),
        )  # fmt: skip
    return found[0]


def rectify_identity(conn: Conn, patient_id: str, change: IdentityChange, *, by: str) -> list[str]:
    """Set the given identity fields; returns the names of the fields that changed (none: the
    identity already held these values, nothing written)."""
    pid, actor = parse_id("patient", patient_id), parse_actor(by)
    wanted = change.fields
    with operation(conn, f"rectifying the identity of patient {pid}"):
        _require_identity(conn, pid)
        old = conn.execute(
            """SELECT mrn, given_name, family_name, birth_date
               FROM identity.read_identities(ARRAY[%s], 'cli', %s, 'nabd patient rectify')""",
            (pid, actor),
        ).fetchone()
        assert old is not None  # _require_identity saw the row, under its lock
        before = dict(zip(IDENTITY_FIELDS, old, strict=True))
        changed = [f for f, v in wanted.items() if before[f] != v]
        if not changed:
            return []
        assignments = ", ".join(f"{f} = %({f})s" for f in changed)
        conn.execute(
            f"UPDATE identity.patient_identity SET {assignments} WHERE patient_id = %(pid)s",  # noqa: S608 - names from IDENTITY_FIELDS
            {**{f: wanted[f] for f in changed}, "pid": pid},
        )
        audit(conn, actor, "identity_rectified", f"patient:{pid}", {"fields": changed})
        return changed


def erase_identity(conn: Conn, patient_id: str, *, by: str) -> Erasure:
    """Delete a discharged patient's identity for good; :class:`CareRefused` if she is
    admitted or has no identity left (erased already)."""
    pid, actor = parse_id("patient", patient_id), parse_actor(by)
    with operation(conn, f"erasing the identity of patient {pid}"):
        if lock_patient(conn, pid) is None:
            raise CareRefused(
                f"patient {pid} is admitted: the ward needs to know who is in the bed; "
                f"discharge first (`nabd patient discharge {pid}`), then erase",
                Why.ERASE_ADMITTED, patient=pid,
            )  # fmt: skip
        _require_identity(conn, pid)
        conn.execute("DELETE FROM identity.patient_identity WHERE patient_id = %s", (pid,))
        audit(conn, actor, "identity_erased", f"patient:{pid}",
              {"fields": list(IDENTITY_FIELDS)})  # fmt: skip
        at = conn.execute("SELECT now()").fetchone()
        assert at is not None
        return Erasure(pid, at[0], IDENTITY_FIELDS, remaining(conn, pid))


def _require_identity(conn: Conn, pid: str) -> None:
    """Lock the patient's identity row, or refuse: a login that may not change identities,
    an unknown patient, or no identity (erased)."""
    allowed = conn.execute(
        """SELECT has_table_privilege('identity.patient_identity', 'UPDATE')
                  AND has_table_privilege('identity.patient_identity', 'DELETE')"""
    ).fetchone()
    if not (allowed and allowed[0]):
        raise CareRefused(
            "this database login may not change identities: rectifying and erasing need the "
            "owner's login (NABD_DATABASE_URL or --database-url)",
            Why.NOT_PERMITTED, what="changing identities",
        )  # fmt: skip
    if conn.execute(
        "SELECT 1 FROM identity.patient_identity WHERE patient_id = %s FOR UPDATE", (pid,)
    ).fetchone():
        return
    if conn.execute("SELECT 1 FROM patient WHERE id = %s", (pid,)).fetchone() is None:
        raise Unknown(f"no patient {pid!r}: `nabd patient list --all` shows every admission",
                      Why.NO_PATIENT, patient=pid)  # fmt: skip
    raise CareRefused(
        f"patient {pid} has no identity: it was erased (`nabd audit` shows when) or never given",
        Why.NO_IDENTITY, patient=pid,
    )  # fmt: skip


_REMAINING: Final = {
    "readings": "observation",
    "NEWS2 scores": "news2_score",
    "alerts": "alert",
    "nurse entries": "nurse_entry",
    "consents": "consent",
    "device assignments": "device_assignment",
    "identity accesses": "identity_access",
}
"""The pseudonymous data classes kept after an erasure, by table."""


def remaining(conn: Conn, pid: str) -> dict[str, int | None]:
    """How many pseudonymous rows each data class keeps for the patient; None where this
    login may not read the table (the care role reads no observation)."""
    counts: dict[str, int | None] = {}
    for name, table in _REMAINING.items():
        allowed = conn.execute("SELECT has_table_privilege(%s, 'SELECT')", (table,)).fetchone()
        if not (allowed and allowed[0]):
            counts[name] = None
            continue
        found = conn.execute(
            f"SELECT count(*) FROM {table} WHERE patient_id = %s",  # noqa: S608 - fixed names
            (pid,),
        ).fetchone()
        counts[name] = 0 if found is None else int(found[0])
    return counts


def access_log(conn: Conn, patient_ids: list[str]) -> list[Access]:
    """Every recorded identity read of these admissions, oldest first."""
    rows = conn.execute(
        """SELECT at, patient_id, channel, actor, what, login FROM identity_access
           WHERE patient_id = ANY(%s) ORDER BY at, id""",
        ([parse_id("patient", p) for p in patient_ids],),
    ).fetchall()
    return [Access(*row) for row in rows]
