"""The station's browser tests share this: Debian's Chromium driven by Playwright (no browser
download: ``executable_path``), a page per user, signing in, and screenshots on request
(``NABD_STATION_SCREENSHOTS=DIR``, which ``scripts/station-screenshots`` sets to docs/)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.station.station_kit import PASSWORD, Station

CHROMIUM: Final = Path("/usr/bin/chromium")
FLAGS: Final = [
    "--headless=new",
    "--no-sandbox",  # the suite runs as root in CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    assert CHROMIUM.exists(), (
        "Debian's chromium is missing: scripts/bootstrap installs it (apt-get install chromium)"
    )
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def new_page(browser: Browser, station: Station) -> Page:
    """A fresh browser context (its own cookies: one person) on the station."""
    # The server's certificate is checked by the HTTP tests with the stack's CA; the browser
    # profile is throwaway and has no CA store to add it to.
    context = browser.new_context(
        base_url=station.base, ignore_https_errors=True, viewport={"width": 1024, "height": 768}
    )
    return context.new_page()


def sign_in(page: Page, name: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("table.board")).to_be_visible()


def shot(page: Page, name: str) -> None:
    """Save the page as ``name`` in ``$NABD_STATION_SCREENSHOTS``, when it is set."""
    target = os.environ.get("NABD_STATION_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(target) / name), full_page=True)
