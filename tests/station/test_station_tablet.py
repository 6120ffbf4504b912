"""The station on a ward tablet, in a real browser (Debian's Chromium): two nurses on one alert,
landscape and portrait tablet viewports, touch targets and basic accessibility.

* Two nurses acknowledging the same alert (issue 19, item 7): the second one's page was loaded
  before the first acknowledged; her click is refused in the page, which names who did it.
* 1024x768 and 768x1024: the board has no horizontal scroll, and every Acknowledge button is a
  touch target of at least 44 x 44 CSS pixels (WCAG 2.2, success criterion 2.5.5).
* Every page a role reaches: ``lang`` and ``dir`` on ``<html>``, exactly one ``h1``, no heading
  level skipped, every visible form field with an accessible name (WCAG 1.3.1, 3.3.2, 4.1.2),
  no horizontal scroll on the tablet either way round.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.station.browser_kit import new_page, sign_in
from tests.station.station_kit import Seeded, Station, raise_alert

pytestmark = pytest.mark.integration

TABLETS = {"landscape": {"width": 1024, "height": 768}, "portrait": {"width": 768, "height": 1024}}
TOUCH_PX = 44


def test_the_second_nurse_sees_who_acknowledged_first(
    browser: Browser, station: Station, seeded: Seeded
) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "high", "SpO2 85 % (two nurses)")
    first, second = new_page(browser, station), new_page(browser, station)
    sign_in(first, "amina")
    sign_in(second, "chloe")
    second.goto("/patients/p-a")  # loaded before the first nurse acts; it does not refresh
    stale = second.locator(f"[data-alert='{alert}'] form[action$='/ack'] button")
    expect(stale).to_be_visible()

    first.locator(f"tr.bed [data-alert='{alert}'] button").click()
    expect(first.locator(".notice.ok")).to_contain_text("Alerte acquittée")

    stale.click()
    expect(second.locator(".notice.error")).to_have_text("Already acknowledged by amina.")
    expect(second.locator(f"[data-alert='{alert}']")).to_contain_text("acknowledged by amina")
    expect(second.locator(f"[data-alert='{alert}'] form[action$='/ack']")).to_have_count(0)
    with psycopg.connect(seeded.owner_url) as conn:
        audit = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'alert_acknowledged' AND subject = %s",
            (f"alert:{alert}",),
        ).fetchall()
    assert audit == [("amina",)], "one acknowledgement, the first nurse's"


def _tablet(browser: Browser, station: Station, size: dict[str, int], name: str) -> Page:
    page = new_page(browser, station)
    page.set_viewport_size(size)  # type: ignore[arg-type]
    sign_in(page, name)
    # Measure only once the stylesheet is in: a layout query made while it is still loading
    # (the sign-in's redirect) sizes the buttons without it (a 21 px high button, seen in CI).
    page.wait_for_load_state("load")
    page.wait_for_function("document.styleSheets.length > 0 && document.fonts.status === 'loaded'")
    return page


def _overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the viewport (0: no horizontal scroll)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


@pytest.mark.parametrize("orientation", sorted(TABLETS))
def test_the_board_fits_a_tablet_and_acknowledge_is_a_touch_target(
    browser: Browser, station: Station, seeded: Seeded, orientation: str
) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "critical", "HR 160 for 60 s (limit 140) " * 3)
    page = _tablet(browser, station, TABLETS[orientation], "chloe")
    button = page.locator(f"[data-alert='{alert}'] button")
    expect(button).to_be_visible()
    assert _overflow(page) <= 0, f"the board scrolls sideways by {_overflow(page)} px"
    box = button.bounding_box()
    assert box is not None
    assert box["width"] >= TOUCH_PX, box
    assert box["height"] >= TOUCH_PX, box
    for other in page.locator("tr.bed button, header button").all():
        other_box = other.bounding_box()
        assert other_box is not None
        assert min(other_box["width"], other_box["height"]) >= TOUCH_PX, other_box


_AUDIT_JS = """() => {
  const named = (el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
    return Array.from(el.labels || []).some((l) => l.textContent.trim().length > 0);
  };
  const fields = Array.from(document.querySelectorAll('input, select, textarea'))
    .filter((el) => el.type !== 'hidden' && !el.hidden);
  const levels = Array.from(document.querySelectorAll('h1, h2, h3, h4, h5, h6'))
    .map((h) => Number(h.tagName[1]));
  const skipped = levels.some((level, i) => i > 0 && level > levels[i - 1] + 1);
  return {
    lang: document.documentElement.lang, dir: document.documentElement.dir,
    h1: levels.filter((l) => l === 1).length, first: levels[0] || 0, skipped,
    unnamed: fields.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 120)),
    unlabelledButtons: Array.from(document.querySelectorAll('button'))
      .filter((b) => !b.textContent.trim() && !b.getAttribute('aria-label')).length,
  };
}"""

PAGES = [
    ("amina", "fr", "ltr", ["/", "/patients/p-a", "/account/password"]),
    ("bilal", "ar", "rtl", ["/", "/patients/p-b"]),
    ("chloe", "en", "ltr", ["/charge"]),
    ("dina", "en", "ltr", ["/admin", "/admin/users", "/admin/gateways"]),
]


@pytest.mark.parametrize("orientation", sorted(TABLETS))
@pytest.mark.parametrize(("name", "lang", "direction", "paths"), PAGES, ids=[p[0] for p in PAGES])
def test_every_page_is_labelled_and_fits_a_tablet(  # noqa: PLR0917 - the table's columns
    browser: Browser, station: Station, orientation: str, name: str, lang: str, direction: str,
    paths: list[str],
) -> None:  # fmt: skip
    page = _tablet(browser, station, TABLETS[orientation], name)
    for path in paths:
        response = page.goto(path)
        assert response is not None
        assert response.ok, path
        found: dict[str, Any] = page.evaluate(_AUDIT_JS)
        assert (found["lang"], found["dir"]) == (lang, direction), path
        assert found["h1"] == 1, path
        assert found["first"] == 1, f"{path}: the first heading is not the h1"
        assert not found["skipped"], f"{path}: a heading level is skipped"
        assert found["unnamed"] == [], path
        assert found["unlabelledButtons"] == 0, path
        assert _overflow(page) <= 0, f"{path} scrolls sideways by {_overflow(page)} px"
