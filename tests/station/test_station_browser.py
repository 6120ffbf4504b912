"""The nurse station in a real browser: Debian's Chromium driven by Playwright (no browser
download: ``executable_path``), against the real HTTPS server and database.

Readings and alerts are seeded with SQL here, to check each page's behaviour quickly; the
whole story with real devices, edge agent, ingest and analytics is ``test_station_story.py``.
A nurse signs in, sees her ward's values, gets the cue of a new high-priority alert without
reloading, acknowledges it with one click (the audit log names her), records ACVPU and oxygen
and the spot values she measured (marked as hers on her patient's page and the board);
another ward's patient stays invisible, even by URL; Arabic is laid out right to left. With
``NABD_STATION_SCREENSHOTS=DIR`` the Arabic board is saved there as PNG
(``scripts/station-screenshots`` regenerates the ones in docs/).
"""

from __future__ import annotations

import shutil

import psycopg
import pytest
from playwright.sync_api import Browser, expect

from tests.station.browser_kit import CHROMIUM, new_page, shot, sign_in
from tests.station.station_kit import Seeded, Station, raise_alert

pytestmark = pytest.mark.integration


def test_a_nurse_acknowledges_a_new_alert_in_the_browser(
    browser: Browser, station: Station, seeded: Seeded
) -> None:
    page = new_page(browser, station)
    sign_in(page, "amina")
    row = page.locator("tr.bed[data-patient=p-a]")
    expect(row).to_contain_text("118")
    expect(page.locator("tr.bed[data-patient=p-b]")).to_have_count(0)
    expect(page.locator("#cue")).to_be_hidden()

    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "high", "SpO2 86 % for 90 s (limit 90 %)")
    # The board refreshes by itself (1 s here) and cues the new high-priority alert.
    expect(row.locator(f"[data-alert='{alert}']")).to_be_visible(timeout=10_000)
    expect(page.locator("#cue")).to_be_visible()

    row.locator(f"[data-alert='{alert}'] button").click()
    expect(page.locator(".notice.ok")).to_contain_text("Alerte acquittée")
    expect(page.locator(f"[data-alert='{alert}']")).to_contain_text("acquittée par amina")
    with psycopg.connect(seeded.owner_url) as conn:
        audit = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'alert_acknowledged' AND subject = %s",
            (f"alert:{alert}",),
        ).fetchall()
    assert audit == [("amina",)]

    page.check("input[name=acvpu][value=V]")
    page.check("input[name=oxygen][value=oxygen]")
    page.click("form.record button[type=submit]")
    expect(page.locator(".notice.ok")).to_contain_text("Observations enregistrées")
    with psycopg.connect(seeded.owner_url) as conn:
        entries = conn.execute(
            "SELECT parameter, entered_by FROM nurse_entry WHERE patient_id = 'p-a'"
            " AND value IN ('V', 'oxygen') ORDER BY parameter"
        ).fetchall()
    assert entries == [("consciousness", "amina"), ("supplemental_oxygen", "amina")]


def test_a_nurse_enters_spot_values_and_the_board_marks_them_as_hers(
    browser: Browser, station: Station, seeded: Seeded
) -> None:
    """Issue 20 item 2: a nurse's measured SpO2, pulse, BP and temperature, on the observations
    form; a half blood pressure is refused in her language, the form still there."""
    page = new_page(browser, station)
    sign_in(page, "amina")
    page.goto("/patients/p-a")
    page.fill("#sbp", "150")  # no diastolic: the browser sends it, the station refuses it
    page.click("form.record button[type=submit]")
    expect(page.locator(".notice.error")).to_contain_text("systolique (40-300 mmHg) et la")
    page.fill("#spo2", "95")
    page.fill("#pulse", "102")
    page.fill("#sbp", "150")
    page.fill("#dbp", "90")
    page.fill("#temp", "38,2")
    page.click("form.record button[type=submit]")
    expect(page.locator(".notice.ok")).to_contain_text("Observations enregistrées")
    # Shown in her locale: a French decimal comma.
    for key, value in [("spo2", "95"), ("heart_rate", "102"), ("systolic_bp", "150/90"),
                       ("body_temperature", "38,2")]:  # fmt: skip
        expect(page.locator(f"dd:has(small[data-manual={key}])")).to_contain_text(value)
    page.click("a.brand")  # the ward board marks them too
    row = page.locator("tr.bed[data-patient=p-a]")
    expect(row.locator("small.manual[data-manual=spo2]")).to_have_text("saisi par amina")
    expect(row.locator("small.manual[data-manual=systolic_bp]")).to_have_text("saisi par amina")
    with psycopg.connect(seeded.owner_url) as conn:
        entries = conn.execute(
            "SELECT parameter, value FROM nurse_entry WHERE patient_id = 'p-a'"
            " AND entered_by = 'amina' AND parameter NOT IN ('consciousness',"
            " 'supplemental_oxygen') ORDER BY parameter"
        ).fetchall()
    assert entries == [("body_temperature", "38.2"), ("diastolic_bp", "90"),
                       ("pulse_rate", "102"), ("spo2", "95"), ("systolic_bp", "150")]  # fmt: skip


def test_another_wards_patient_is_not_there_even_by_url(browser: Browser, station: Station) -> None:
    page = new_page(browser, station)
    sign_in(page, "amina")
    response = page.goto("/patients/p-b")
    assert response is not None
    assert response.status == 404
    expect(page.locator(".notice.error")).to_contain_text("Aucun patient p-b dans vos services")


def test_an_admin_admits_a_patient_and_assigns_a_device_in_the_browser(
    browser: Browser, station: Station, seeded: Seeded
) -> None:
    page = new_page(browser, station)
    sign_in(page, "dina")
    page.click("nav.roles a[href='/admin']")
    form = page.locator("form#admit")
    form.locator("select[name=ward]").select_option("w1")
    form.locator("input[name=bed]").fill("16")
    form.locator("input[name=mrn]").fill("MRN-BROWSER")
    form.locator("input[name=name]").fill("Nadia Chraibi")
    form.locator("input[name=birth_date]").fill("1948-11-02")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Patient admitted.")
    expect(page.locator("table.admitted")).to_contain_text("Nadia Chraibi")

    device = page.locator("form#register")
    device.locator("input[name=device]").fill("strap-browser")
    device.locator("select[name=kind]").select_option("heart_rate_strap")
    device.locator("input[name=address]").fill("F0:F1:F2:F3:F4:B1")
    device.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Device registered.")

    assign = page.locator("form#assign")
    assign.locator("select[name=device]").select_option("strap-browser")
    assign.locator("select[name=patient]").select_option(label="w1 · bed 16 · Nadia Chraibi")
    assign.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Device assigned.")
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            """SELECT p.id, a.assigned_by FROM patient p
               JOIN device_assignment a ON a.patient_id = p.id AND upper_inf(a.valid)
               WHERE p.ward_id = 'w1' AND p.bed_id = '16' AND p.discharged_at IS NULL"""
        ).fetchone()
    assert row is not None
    patient, assigned_by = row
    assert assigned_by == "dina"
    expect(page.locator("tr[data-device=strap-browser]")).to_contain_text(patient)

    page.click("a.brand")
    expect(page.locator(f"tr.bed[data-patient={patient}]")).to_contain_text("Nadia Chraibi")


def test_arabic_is_right_to_left(browser: Browser, station: Station) -> None:
    page = new_page(browser, station)
    sign_in(page, "bilal")
    assert page.evaluate("document.documentElement.dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(page.locator("h1")).to_have_text("لوحة المصلحة")
    expect(page.locator("tr.bed[data-patient=p-b]")).to_be_visible()
    shot(page, "station-board-ar.png")


def test_chromium_is_debians_not_a_download() -> None:
    assert shutil.which("chromium") == str(CHROMIUM)
