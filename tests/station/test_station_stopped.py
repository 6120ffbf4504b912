"""The station is the last line when monitoring stops (docs/station.md, docs/reliability.md
"Monitoring that stops is an alarm"): over real HTTPS against the real database, a ward with
admitted patients whose analytics lease has not ticked for 30 s, or never has, shows one notice
more severe than a delay, in the nurse's language, only to nurses of that ward, and not also the
delay; in a real browser, a board whose refreshes fail (the station's server stopped, then one
that accepts connections and never answers) says since when it is not up to date, and stops
saying it at the next good refresh."""

from __future__ import annotations

import re
import socket
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect

from nabd.app.stack.testing import RunningStack
from nabd.station.i18n import Translator
from nabd.station.users import Language, NewUser, Role, add_user
from tests.station.browser_kit import new_page
from tests.station.browser_kit import sign_in as sign_in_browser
from tests.station.lease_kit import Owner, lease, page_text
from tests.station.station_kit import PASSWORD, Seeded, Station, serve
from tests.station.test_station_http import client, sign_in

pytestmark = pytest.mark.integration


STOPPED = {
    "fr": "L'analyse des alarmes de ce service est arrêtée depuis 2 min : aucune alarme n'est"
          " déclenchée. Surveillez directement les patients et appelez l'informatique.",
    "en": "Alarm analysis for this ward stopped 2 min ago: no alarm is being raised. Watch the"
          " patients directly and call IT.",
    "ar": "تحليل الإنذارات لهذه المصلحة متوقف منذ 2 دقيقة: لا يُطلَق أي إنذار. راقب المرضى"
          " مباشرةً واتصل بمصلحة المعلوميات.",
}  # fmt: skip
NEVER = {
    "fr": "L'analyse des alarmes ne tourne pas pour ce service : aucune alarme n'est déclenchée."
          " Surveillez directement les patients et appelez l'informatique.",
    "en": "Alarm analysis is not running for this ward: no alarm is being raised. Watch the"
          " patients directly and call IT.",
}  # fmt: skip
STOPPED_NOTICE = 'class="notice stopped" role="alert"'
LATE_NOTICE = 'class="notice delay" role="status"'


def _stopped(page: str) -> int:
    return page.count(STOPPED_NOTICE)


def test_the_stopped_notice_reads_as_each_language_writes_it() -> None:
    for lang, words in STOPPED.items():
        t = Translator(Language(lang))
        assert t("analysis_stopped_since", since=t.duration(121.4)) == words
    assert Translator(Language.EN).clock(datetime(2026, 3, 1, 14, 2, 59, tzinfo=UTC)) == "14:02"
    assert Translator(Language.AR).clock(datetime(2026, 3, 1, 9, 5, tzinfo=UTC)) == "09:05"


def test_a_ward_stopped_two_minutes_ago_is_said_in_her_language_to_its_nurses_only(
    station: Station, owner: Owner
) -> None:
    lease(owner, "w1", timedelta(minutes=2), delay_s=45.0)  # stopped while late
    lease(owner, "w2", timedelta(seconds=1))
    with client(station) as c:
        sign_in(c, "amina")  # French, w1
        for path in ("/", "/board/rows", "/patients/p-a"):
            page = page_text(c, path)
            assert _stopped(page) == 1, path
            assert STOPPED["fr"] in page, path
            assert 'data-ward="w1"><strong>⚠ Analyse des alarmes arrêtée · w1</strong>' in page
            assert LATE_NOTICE not in page, path  # its delay is not the present's
    with client(station) as c:
        sign_in(c, "chloe")  # English, w1 and w2: w1's notice only
        board = page_text(c, "/")
        assert _stopped(board) == 1
        assert STOPPED["en"] in board
        assert 'data-ward="w2"' not in board
        assert _stopped(page_text(c, "/patients/p-b")) == 0  # her w2 patient: scored
    with client(station) as c:
        sign_in(c, "bilal")  # Arabic, w2 only: w1 is not his to see
        for path in ("/", "/board/rows", "/patients/p-b"):
            page = page_text(c, path)
            assert _stopped(page) == 0, path
            assert 'data-ward="w1"' not in page, path

    lease(owner, "w2", timedelta(minutes=2))
    with client(station) as c:
        sign_in(c, "bilal")
        board = page_text(c, "/")
        assert _stopped(board) == 1
        assert STOPPED["ar"] in board
        assert 'dir="rtl"' in board
    with client(station) as c:
        sign_in(c, "chloe")  # one notice per ward
        assert _stopped(page_text(c, "/")) == 2


def test_a_ward_scored_now_says_nothing_and_one_never_scored_is_stopped(
    station: Station, owner: Owner
) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        for path in ("/", "/board/rows", "/patients/p-a"):  # no lease row at all
            page = page_text(c, path)
            assert _stopped(page) == 1, path
            assert NEVER["fr"] in page, path
        lease(owner, "w1", None)  # taken, never ticked
        assert NEVER["fr"] in page_text(c, "/")
        lease(owner, "w1", timedelta(seconds=0))
        for path in ("/", "/board/rows", "/patients/p-a"):
            assert _stopped(page_text(c, path)) == 0, path
        lease(owner, "w1", timedelta(seconds=0), delay_s=45.0)  # late, not stopped
        page = page_text(c, "/")
        assert _stopped(page) == 0
        assert page.count(LATE_NOTICE) == 1
    with client(station) as c:
        sign_in(c, "chloe")
        board = page_text(c, "/")
        assert _stopped(board) == 1  # w2 has no lease row
        assert NEVER["en"] in board
        assert 'class="notice stopped" role="alert" data-ward="w2"' in board


def test_a_ward_with_no_admitted_patient_says_nothing(station: Station, owner: Owner) -> None:
    owner.execute("INSERT INTO ward (id, name) VALUES ('w3', 'Empty') ON CONFLICT DO NOTHING")
    add_user(owner, NewUser(name="erin", display_name="Erin", role=Role.NURSE, wards=("w3",),
                            password=PASSWORD, lang=Language.EN), by="test-admin")  # fmt: skip
    with client(station) as c:
        sign_in(c, "erin")
        board = page_text(c, "/")
        assert "No admitted patient in your wards." in board
        assert _stopped(board) == 0


# The screen itself not refreshing (static/board.js), against a station of this test's own,
# which it stops and serves again at the same address.

STALE = re.compile(
    r"^⚠ Screen not updated This screen has not been updated since (\d\d:\d\d): alarms may be"
    r" missing\. Check with IT\.$"
)

_WATCH = """() => {
  window.staleShownAt = null;
  const stale = document.getElementById("stale");
  new MutationObserver(() => {
    if (!stale.hidden && window.staleShownAt === null) window.staleShownAt = Date.now();
  }).observe(stale, { attributes: true, attributeFilter: ["hidden"] });
}"""
"""Records when the notice appears, on the page's clock, as the board's last good refresh."""


def _hung(port: int) -> socket.socket:
    """A server that accepts connections at ``port`` (the kernel does, into the backlog) and
    never answers: a station hung rather than gone. It shares the address with the running
    station (SO_REUSEPORT) and takes its new connections once that one stops."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def _shown_after_last_good_s(page: Page) -> float:
    """How long after the board's last good refresh the notice appeared."""
    shown, good = page.evaluate(
        "[window.staleShownAt, Number(document.getElementById('rows').dataset.refreshed)]"
    )
    return (float(shown) - float(good)) / 1000


def test_a_board_that_stops_refreshing_says_since_when(
    browser: Browser, nabd_stack: RunningStack, seeded: Seeded
) -> None:
    with serve(nabd_stack, seeded) as first:
        port = int(first.base.rsplit(":", 1)[1])
        page = new_page(browser, first)
        sign_in_browser(page, "chloe")
        notice = page.locator("#stale")
        expect(notice).to_be_hidden()
        expect(notice).to_have_attribute("role", "alert")
        expect(page.locator("#rows")).to_have_attribute("data-refreshed", re.compile(r"\d+"))
        page.evaluate(_WATCH)
        now = datetime.now(UTC)
    # The station's server is stopped: the next refresh fails at once (connection refused).
    expect(notice).to_be_visible(timeout=25_000)
    assert _shown_after_last_good_s(page) < 5
    text = " ".join(notice.inner_text().split())
    found = STALE.match(text)
    assert found, text
    t = Translator(Language.EN)
    assert found.group(1) in {t.clock(now), t.clock(now - timedelta(minutes=1))}
    assert notice.evaluate("el => getComputedStyle(el).position") == "sticky"
    expect(page.locator("tr.bed[data-patient=p-a]")).to_be_visible()  # the last rows stay

    with serve(nabd_stack, seeded, port=port):
        expect(notice).to_be_hidden(timeout=10_000)  # the next good refresh
        page.wait_for_timeout(1_500)
        expect(notice).to_be_hidden()
        # Hung rather than gone: connections are accepted, nothing answers. No refresh fails
        # at once; no good one for 20 s is the fault.
        hung = _hung(port)
        page.evaluate(_WATCH)
    try:
        expect(notice).to_be_visible(timeout=25_000)
        assert 17 <= _shown_after_last_good_s(page) <= 23
    finally:
        hung.close()
    with serve(nabd_stack, seeded, port=port):
        expect(notice).to_be_hidden(timeout=10_000)


def test_without_javascript_the_board_works_and_never_shows_the_screen_notice(
    browser: Browser, station: Station
) -> None:
    context = browser.new_context(
        base_url=station.base, ignore_https_errors=True, java_script_enabled=False
    )
    page = context.new_page()
    sign_in_browser(page, "amina")
    expect(page.locator("tr.bed[data-patient=p-a]")).to_be_visible()
    expect(page.locator("#stale")).to_be_hidden()
    page.wait_for_timeout(2_500)
    expect(page.locator("#stale")).to_be_hidden()
    context.close()
