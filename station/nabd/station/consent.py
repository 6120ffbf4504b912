"""Whether each patient on a page is monitored, as the consent rule says (docs/consent.md).

A patient who withdrew their consent to remote-monitoring (or has none where the hospital
requires one) has no readings collected and no alarm raised: the board must not let a nurse
believe they are watched. The rule is the database's (``consent_collection_periods``, migration
0050), read as the station (whose clinical grant may read consents), for the patients the
user's own role could see, once per page. Only the outcome and the withdrawal's time are shown,
never who collected or withdrew what.

The words are kept here (in the three languages) rather than in :mod:`nabd.station.i18n`, and
the template change is one include, so this concern stays in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final, Protocol

import psycopg

__all__ = ["CONSENT_PHRASES", "mark"]

Conn = psycopg.Connection[Any]

CONSENT_PHRASES: Final[Mapping[str, Mapping[str, str]]] = {
    "not_monitored": {"en": "Not monitored", "fr": "Non surveillé", "ar": "غير مراقَب"},
    "monitored": {
        "en": "Monitored: the patient's readings are collected.",
        "fr": "Surveillé : les mesures du patient sont recueillies.",
        "ar": "مراقَب: تُجمع قياسات المريض.",
    },
    "consent_withdrawn_on": {
        "en": "Not monitored: consent withdrawn on {at}. Readings are not collected and no"
              " alarm is raised for this patient.",
        "fr": "Non surveillé : consentement retiré le {at}. Les mesures ne sont pas recueillies"
              " et aucune alarme n'est déclenchée pour ce patient.",
        "ar": "غير مراقَب: سُحبت الموافقة في {at}. لا تُجمع القياسات ولا يُطلق أي إنذار لهذا"
              " المريض.",
    },
    "consent_missing": {
        "en": "Not monitored: no consent to remote monitoring is recorded and this hospital"
              " requires one. Readings are not collected and no alarm is raised.",
        "fr": "Non surveillé : aucun consentement à la télésurveillance n'est enregistré et"
              " l'établissement en exige un. Les mesures ne sont pas recueillies et aucune"
              " alarme n'est déclenchée.",
        "ar": "غير مراقَب: لا توجد موافقة مسجَّلة على المراقبة عن بُعد والمؤسسة تشترطها."
              " لا تُجمع القياسات ولا يُطلق أي إنذار.",
    },
}  # fmt: skip
"""The station's words about consent; :class:`nabd.station.i18n.Translator` reads them too."""

_SQL: Final = """
SELECT k.p, consent_collection_periods(k.p) @> now(),
       (SELECT max(c.withdrawn_at) FROM consent c
        WHERE c.patient_id = k.p AND c.scope = 'remote-monitoring')
FROM unnest(%s::text[]) AS k (p)
"""


class Row(Protocol):
    """What :func:`mark` fills in on a board row (:class:`nabd.station.board.BedRow`)."""

    patient_id: str
    monitored: bool
    withdrawn_at: datetime | None


def mark(conn: Conn, rows: Sequence[Row]) -> None:
    """Set each row's ``monitored`` (the consent rule allows collection now) and, for one not
    monitored, ``withdrawn_at`` (their latest withdrawal; None: no consent where required)."""
    if not rows:
        return
    found = {
        str(p): (bool(allowed), at)
        for p, allowed, at in conn.execute(_SQL, ([r.patient_id for r in rows],)).fetchall()
    }
    for row in rows:
        allowed, at = found.get(row.patient_id, (True, None))
        row.monitored = allowed
        row.withdrawn_at = None if allowed else at
