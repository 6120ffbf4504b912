"""The nurse station shows consent (docs/consent.md, docs/station.md): over real HTTPS against the
real database, the patient page says whether the patient is monitored, with a banner in the
nurse's language when consent was withdrawn (and when) or is missing where required, and the
board row marks such a patient as not monitored. A withdrawal also takes the patient's open
alerts off the board (migration 0086)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from nabd.care.consents import COLLECTION_SCOPE, record_consent, set_policy, withdraw_consent
from nabd.station.consent import CONSENT_PHRASES
from nabd.station.i18n import Translator
from nabd.station.users import Language
from tests.station.station_kit import Station, raise_alert
from tests.station.test_station_http import client, sign_in

pytestmark = pytest.mark.integration

BY = "Nurse Ines"


def _page(c: httpx.Client, path: str) -> str:
    reply = c.get(path)
    assert reply.status_code == 200, reply.text
    return html.unescape(reply.text)


def _row(board: str, patient: str) -> str:
    """The board's row of ``patient`` (its HTML up to the next row)."""
    start = board.index(f'data-patient="{patient}"')
    end = board.find("<tr", start)
    return board[start : end if end > 0 else len(board)]


@pytest.fixture
def owner(station: Station) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(station.seeded.owner_url, autocommit=True) as conn:
        yield conn


def test_every_consent_phrase_exists_in_three_languages() -> None:
    for key, texts in CONSENT_PHRASES.items():
        assert set(texts) == {"en", "fr", "ar"}, key


def test_a_withdrawal_shows_as_not_monitored_with_its_date_in_each_language(
    station: Station, owner: psycopg.Connection[tuple[object, ...]]
) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        assert "Surveillé : les mesures du patient sont recueillies." in _page(c, "/patients/p-a")
        assert "Non surveillé" not in _row(_page(c, "/board/rows"), "p-a")

    alert = raise_alert(owner, "p-a", "high", "SpO2 low: 85 %")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    withdrawn = now - timedelta(minutes=30)
    record_consent(owner, "p-a", scope=COLLECTION_SCOPE, text_version="v1", collected_by=BY,
                   at=now - timedelta(hours=2))  # fmt: skip
    withdraw_consent(owner, "p-a", scope=COLLECTION_SCOPE, by=BY, at=withdrawn)
    when = {lang: Translator(lang).when(withdrawn) for lang in Language}  # the station's zone

    with client(station) as c:
        sign_in(c, "amina")
        page = _page(c, "/patients/p-a")
        assert f"Non surveillé : consentement retiré le {when[Language.FR]}." in page
        assert 'role="alert" data-monitored="false"' in page
        assert "Surveillé : les mesures" not in page
        row = _row(_page(c, "/"), "p-a")
        assert "Non surveillé" in row
        assert alert not in row  # the withdrawal resolved it (migration 0086)
        assert "Non surveillé" in _row(_page(c, "/board/rows"), "p-a")  # the refresh too
    with client(station) as c:
        sign_in(c, "chloe")
        assert f"Not monitored: consent withdrawn on {when[Language.EN]}." in _page(
            c, "/patients/p-a"
        )
        assert "Not monitored" not in _row(_page(c, "/"), "p-b")


def test_no_consent_where_required_is_said_too_in_arabic(
    station: Station, owner: psycopg.Connection[tuple[object, ...]]
) -> None:
    set_policy(owner, required=True, by="DPO Karim")
    try:
        with client(station) as c:
            sign_in(c, "bilal")  # Arabic, ward w2 (p-b)
            page = _page(c, "/patients/p-b")
            assert "غير مراقَب: لا توجد موافقة مسجَّلة على المراقبة عن بُعد" in page
            assert "غير مراقَب" in _row(_page(c, "/"), "p-b")
        record_consent(owner, "p-b", scope=COLLECTION_SCOPE, text_version="v1", collected_by=BY)
        with client(station) as c:
            sign_in(c, "bilal")
            assert "مراقَب: تُجمع قياسات المريض." in _page(c, "/patients/p-b")
            assert "غير مراقَب" not in _row(_page(c, "/"), "p-b")
    finally:
        set_policy(owner, required=False, by="DPO Karim")
