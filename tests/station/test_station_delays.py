"""The nurse station says when a ward's readings, and so its alarms, arrive late (docs/station.md,
docs/reliability.md "Overload: readings arrive late"): over real HTTPS against the real
database, the lease row analytics stamps each tick (migration 0153) shows one notice for the
ward, in the nurse's language, only to nurses of that ward, only while the tick is fresh; and in
a real browser, a delay that starts after the board was opened appears with its refresh."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, expect

from nabd.station.delays import LateWard, StoppedWard, steady
from nabd.station.i18n import Translator
from nabd.station.users import Language
from tests.station.browser_kit import new_page
from tests.station.browser_kit import sign_in as sign_in_browser
from tests.station.lease_kit import Owner, lease, page_text
from tests.station.station_kit import Station
from tests.station.test_station_http import client, sign_in

pytestmark = pytest.mark.integration


LATE = {
    "fr": "Les mesures de ce service arrivent avec 45 s de retard : les alarmes aussi. Le serveur"
          " est surchargé ; prévenez l'informatique.",
    "en": "Readings from this ward arrive 45 s late: alarms are 45 s late too. The server is"
          " overloaded; tell IT.",
    "ar": "تصل قياسات هذه المصلحة بتأخر 45 ثانية: فالإنذارات أيضًا تتأخر 45 ثانية. الخادم"
          " مُثقَل؛ أبلغ مصلحة المعلوميات.",
}  # fmt: skip
NOTICE = 'class="notice delay" role="status"'


def _notices(page: str) -> int:
    return page.count(NOTICE)


def test_the_delay_reads_as_each_language_writes_it() -> None:
    for lang, words in LATE.items():
        t = Translator(Language(lang))
        assert t("readings_late", late=t.duration(45.3)) == words
    assert Translator(Language.FR).duration(119.6) == "2 min"
    assert Translator(Language.AR).duration(100) == "100 ثانية"
    assert Translator(Language.EN).duration(7300) == "2 h"


def test_a_late_ward_shows_one_notice_in_her_language_to_its_nurses_only(
    station: Station, owner: Owner
) -> None:
    lease(owner, "w1", timedelta(seconds=1), delay_s=45.0)
    lease(owner, "w2", timedelta(seconds=1))  # on time
    with client(station) as c:
        sign_in(c, "amina")  # French, w1
        for path in ("/", "/board/rows", "/patients/p-a"):
            page = page_text(c, path)
            assert _notices(page) == 1, path
            assert LATE["fr"] in page, path
            assert 'data-ward="w1"><strong>Mesures en retard · w1</strong>' in page
    with client(station) as c:
        sign_in(c, "chloe")  # English, w1 and w2: w1's notice, none for w2
        board = page_text(c, "/")
        assert _notices(board) == 1
        assert LATE["en"] in board
        assert 'data-ward="w1"' in board
        assert 'data-ward="w2"' not in board
        assert _notices(page_text(c, "/patients/p-b")) == 0  # her w2 patient: on time
    with client(station) as c:
        sign_in(c, "bilal")  # Arabic, w2 only: w1's delay is not his to see
        for path in ("/", "/board/rows", "/patients/p-b"):
            page = page_text(c, path)
            assert _notices(page) == 0, path
            assert 'data-ward="w1"' not in page, path

    lease(owner, "w2", timedelta(seconds=1), delay_s=45.0)
    with client(station) as c:
        sign_in(c, "bilal")
        board = page_text(c, "/")
        assert _notices(board) == 1
        assert LATE["ar"] in board
        assert 'data-ward="w2"' in board
        assert 'dir="rtl"' in board
    with client(station) as c:
        sign_in(c, "chloe")  # one notice per ward
        assert _notices(page_text(c, "/")) == 2


def test_no_notice_on_time_nor_from_a_stale_tick(station: Station, owner: Owner) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        assert _notices(page_text(c, "/")) == 0  # no lease at all
        lease(owner, "w1", timedelta(seconds=1))
        assert _notices(page_text(c, "/")) == 0  # readings on time
        # Analytics stopped two minutes ago with the ward late: the watchdog's alert says so,
        # not this notice (its delay is no longer the present's).
        lease(owner, "w1", timedelta(minutes=2), delay_s=45.0)
        for path in ("/", "/board/rows", "/patients/p-a"):
            assert _notices(page_text(c, path)) == 0, path
        lease(owner, "w1", timedelta(seconds=1), delay_s=45.0)
        assert _notices(page_text(c, "/")) == 1


def test_a_delay_that_starts_on_an_open_board_shows_above_it(
    browser: Browser, station: Station, owner: Owner
) -> None:
    page = new_page(browser, station)
    sign_in_browser(page, "chloe")
    notices = page.locator("#delays .notice.delay")
    expect(notices).to_have_count(0)

    lease(owner, "w1", timedelta(seconds=0), delay_s=45.0)
    # The board refreshes by itself (1 s here): the notice moves above the table.
    expect(notices).to_have_count(1, timeout=10_000)
    expect(notices.first).to_be_visible()
    expect(notices.first).to_have_attribute("role", "status")
    expect(notices.first).to_contain_text("45 s late: alarms are 45 s late too")
    expect(page.locator("#rows template")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    lease(owner, "w1", timedelta(seconds=0))  # on time again
    expect(notices).to_have_count(0, timeout=10_000)


def test_the_notice_in_arabic_reads_right_to_left(
    browser: Browser, station: Station, owner: Owner
) -> None:
    lease(owner, "w2", timedelta(seconds=0), delay_s=45.0)
    page = new_page(browser, station)
    sign_in_browser(page, "bilal")
    notice = page.locator("#delays .notice.delay")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(LATE["ar"])
    assert notice.evaluate("el => getComputedStyle(el).direction") == "rtl"


def test_the_numbers_a_notice_says_move_in_steps_so_it_is_not_announced_every_refresh() -> None:
    """A live region is read again whenever its text changes: the delay is said in 5-s steps,
    a stopped analysis in 30-s steps below 2 min, so a refresh every 5 s does not re-announce."""
    assert [LateWard("w1", s).said_s for s in (5.0, 7.9, 45.2, 49.9, 50.1)] == [5, 5, 45, 45, 50]
    assert [StoppedWard("w1", s).said_s for s in (30.5, 59.0, 61.0, 95.0, 121.0)] == [
        30, 30, 60, 90, 120,
    ]  # fmt: skip
    assert StoppedWard("w1", None).said_s is None
    assert steady(0.4, 5.0) == 5.0  # at least one step: never "0 s"
