"""The nurse station's whole story with real components: the local stack's broker and database,
the real ingest worker and analytics service, a real edge agent on bumble's virtual radio with
virtual devices whose physiology the test sets, the station over HTTPS, and Debian's Chromium.

In the browser, an admin provisions the ward's gateway and downloads its folder (once); the
agent starts from that folder alone; she has the gateway serve bed 15, admits a patient there
and registers and assigns a heart-rate strap, a pulse oximeter, a thermometer and a
blood-pressure cuff. The agent connects to them without a restart and the board shows live
values within seconds. The oximeter then reads SpO2 85 %: the analytics service raises its
high-priority alert, the board cues it without a reload, the ward's nurse acknowledges it with
one click and the audit log names her. NEWS2 is incomplete (no device counts breaths or judges
consciousness) until she records a counted respiratory rate, ACVPU and air on the patient
page; then the board shows the complete score the service wrote. A nurse of another ward sees
neither the row nor the page (even by URL); a form without its CSRF token is refused; her
Arabic board is right to left. With ``NABD_STATION_SCREENSHOTS=DIR`` the gateway page, the
board (the alert's cue showing) and the patient page are saved there
(``scripts/station-screenshots``).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import zipfile
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect

from nabd.app.gateway_bundle import LocalStackIssuer
from nabd.app.stack.testing import RunningStack
from nabd.edge.agent import Agent
from nabd.edge.config import load_config
from nabd.edge.settings import EdgeSettings, resolve
from tests.edge.agent_harness import running as agent_running
from tests.edge.virtual_peripherals import Kind, VirtualPeripheral, VirtualWorld
from tests.ingest.ingest_kit import forget_session, ingest_database, start_worker, worker_settings
from tests.monitor.monitor_kit import monitor_database
from tests.monitor.monitor_kit import running as monitor_running
from tests.stack_kit import token, wait_until
from tests.station.browser_kit import new_page, shot, sign_in
from tests.station.station_kit import Seeded, Station, serve

pytestmark = pytest.mark.integration

T = TypeVar("T")

GATEWAY: Final = "gw-story"
BED: Final = "15"
LIVE_S: Final = 20_000
"""Milliseconds the board has to show a device's first value after its assignment."""
ALERT_S: Final = 40_000
"""Milliseconds for the alert: SpO2 must stay below 91 % for 10 s (the service's default
persistence, ``nabd.analytics.limits``) before it is raised, plus a board refresh."""

DEVICES: Final[dict[str, tuple[str, Kind, str]]] = {
    # id: (registry kind, virtual radio kind, Bluetooth address)
    "strap-15": ("heart_rate_strap", "heart_rate", "F0:5A:00:00:00:01"),
    "oxi-15": ("pulse_oximeter", "pulse_oximeter", "F0:5A:00:00:00:02"),
    "thermo-15": ("thermometer", "thermometer", "F0:5A:00:00:00:03"),
    "cuff-15": ("bp_cuff", "blood_pressure", "F0:5A:00:00:00:04"),
}


@dataclass
class Bedside:
    """What the virtual devices measure; the test changes it and they report the new values."""

    heart_rate: int = 78
    spo2: float = 97.0
    temperature: float = 36.8
    systolic: float = 124.0
    diastolic: float = 78.0


class Radio:
    """bumble's virtual radio, its devices and the edge agent, on an event loop of their own
    (Playwright's synchronous API drives the browser from the test's thread)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="radio", daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        self.world: VirtualWorld | None = None
        self.devices: dict[str, VirtualPeripheral] = {}
        self.bedside = Bedside()
        self.agent: Agent | None = None
        self.transport = ""
        """The gateway controller's bumble transport (``tcp-client:127.0.0.1:PORT``)."""

    def call(self, work: Awaitable[T], timeout_s: float = 30.0) -> T:
        async def wrapped() -> T:
            return await work

        return asyncio.run_coroutine_threadsafe(wrapped(), self.loop).result(timeout_s)

    def start(self) -> str:
        """The world and its devices; returns the gateway controller's transport spec."""

        async def go() -> str:
            world = await self._stack.enter_async_context(VirtualWorld.running())
            self.world = world
            for device, (_, kind, address) in DEVICES.items():
                self.devices[device] = await world.add(kind, address, device)
            self._stack.push_async_callback(self._cancel, asyncio.create_task(self._measure()))
            self.transport = world.transport_spec
            return world.transport_spec

        return self.call(go())

    def start_agent(self, config: Path) -> None:
        """The production agent, from the provisioned folder alone (no NABD_* variables)."""

        async def go() -> None:
            loaded = load_config(config)
            gateway_id, broker = resolve(loaded, EdgeSettings.model_construct())
            agent = Agent(loaded, gateway_id, broker)
            self.agent = await self._stack.enter_async_context(agent_running(agent))

        self.call(go())

    async def _measure(self) -> None:
        """Each device reports the bedside values: continuous ones every second, the spot
        thermometer and cuff every 5 s (a notification nobody subscribed to is lost on air)."""
        tick = 0
        while True:
            b = self.bedside
            pulse = b.heart_rate + tick % 3 - 1  # a living pulse varies (else: "signal frozen")
            sends = [
                self.devices["strap-15"].send_heart_rate(pulse),
                self.devices["oxi-15"].send_spo2(b.spo2, pulse),
            ]
            if tick % 5 == 0:
                sends += [
                    self.devices["thermo-15"].send_temperature(b.temperature),
                    self.devices["cuff-15"].send_blood_pressure(b.systolic, b.diastolic),
                ]
            for send in sends:
                with contextlib.suppress(Exception):  # disconnected for a moment: lost on air
                    await send
            tick += 1
            await asyncio.sleep(1.0)

    @staticmethod
    async def _cancel(task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    def close(self) -> None:
        try:
            self.call(self._stack.aclose(), timeout_s=60.0)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@pytest.fixture(scope="module")
def services(nabd_stack: RunningStack, seeded: Seeded) -> Iterator[None]:
    """The real ingest worker and analytics service on the module's database."""
    ingest_db = ingest_database(nabd_stack, seeded.owner_url)
    worker = start_worker(worker_settings(nabd_stack, ingest_db, f"station-story-{token()}"))
    try:
        with monitor_running(nabd_stack, monitor_database(nabd_stack, seeded.owner_url)):
            yield
    finally:
        worker.stop()
        forget_session(nabd_stack, worker.service.settings.worker_id)


@pytest.fixture(scope="module")
def radio() -> Iterator[Radio]:
    """The ward's virtual radio and devices (the agent starts once its gateway is provisioned)."""
    started = Radio()
    try:
        started.start()
        yield started
    finally:
        started.close()


@pytest.fixture(scope="module")
def station(nabd_stack: RunningStack, seeded: Seeded, radio: Radio) -> Iterator[Station]:
    """The station, issuing gateway credentials from the local stack's CA; the folders it
    hands out drive the gateway's radio through bumble (the ward's virtual controller)."""
    issuer = LocalStackIssuer(nabd_stack.settings, bumble=radio.transport)
    with serve(nabd_stack, seeded, issuer=issuer) as running:
        yield running


def _provision_gateway(page: Page, into: Path) -> Path:
    """The admin provisions the ward's gateway, downloads its folder (once), unpacks it as she
    would on the gateway, and has the gateway serve bed 15; returns its ``edge.toml``."""
    page.goto("/admin/gateways")
    form = page.locator("form#provision")
    form.locator("input[name=gateway]").fill(GATEWAY)
    form.locator("select[name=ward]").select_option("w1")
    form.locator("input[name=data_dir]").fill("data")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Gateway provisioned.")
    shot(page, "station-gateways.png")  # the download offered once
    with page.expect_download() as download:
        page.click("#download")
    archive_path = into / f"{GATEWAY}.zip"
    download.value.save_as(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        archive.extractall(into)
        for info in archive.infolist():  # as unzip(1) would: the key stays the owner's only
            (into / info.filename).chmod(info.external_attr >> 16 & 0o777)
    serve_beds = page.locator("form#serve")
    serve_beds.locator("select[name=gateway]").select_option(GATEWAY)
    serve_beds.locator("select[name=ward]").select_option("w1")
    serve_beds.locator("input[name=beds]").fill(BED)
    serve_beds.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Beds served by the gateway.")
    expect(page.locator(f"tr[data-gateway={GATEWAY}]")).to_contain_text(f"w1/{BED}")
    return into / GATEWAY / "edge.toml"


def _admit_and_equip(page: Page, seeded: Seeded) -> str:
    """The admin's part, in the browser: admit to bed 15, register and assign four devices."""
    page.click("nav.roles a[href='/admin']")
    form = page.locator("form#admit")
    form.locator("select[name=ward]").select_option("w1")
    form.locator("input[name=bed]").fill(BED)
    form.locator("input[name=mrn]").fill("MRN-STORY")
    form.locator("input[name=name]").fill("Karim Tazi")
    form.locator("button[type=submit]").click()
    expect(page.locator(".notice.ok")).to_contain_text("Patient admitted.")
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            "SELECT patient_id FROM identity.patient_identity WHERE mrn = 'MRN-STORY'"
        ).fetchone()
    assert row is not None
    patient = str(row[0])
    for device, (kind, _, address) in DEVICES.items():
        register = page.locator("form#register")
        register.locator("input[name=device]").fill(device)
        register.locator("select[name=kind]").select_option(kind)
        register.locator("input[name=address]").fill(address)
        register.locator("button[type=submit]").click()
        expect(page.locator(".notice.ok")).to_contain_text("Device registered.")
        assign = page.locator("form#assign")
        assign.locator("select[name=device]").select_option(device)
        assign.locator("select[name=patient]").select_option(patient)
        assign.locator("button[type=submit]").click()
        expect(page.locator(".notice.ok")).to_contain_text("Device assigned.")
    expect(page.locator(f"tr[data-patient={patient}]")).to_contain_text("cuff-15")
    return patient


def _latest(seeded: Seeded, patient: str, metric: str) -> float | None:
    """The patient's latest stored value of ``metric`` (what the board shows)."""
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            """SELECT l.value FROM observation_latest l JOIN metric m ON m.id = l.metric_id
               WHERE l.patient_id = %s AND m.key = %s""",
            (patient, metric),
        ).fetchone()
    return None if row is None else float(row[0])


def _latest_news2(seeded: Seeded, patient: str) -> tuple[Any, ...] | None:
    with psycopg.connect(seeded.owner_url) as conn:
        return conn.execute(
            "SELECT total, complete FROM news2_score WHERE patient_id = %s"
            " ORDER BY time DESC LIMIT 1",
            (patient,),
        ).fetchone()


@pytest.mark.usefixtures("services")
def test_the_ward_story_with_real_devices_in_the_browser(
    browser: Browser, station: Station, seeded: Seeded, radio: Radio, tmp_path: Path
) -> None:
    started = time.monotonic()
    admin = new_page(browser, station)
    sign_in(admin, "dina")
    radio.start_agent(_provision_gateway(admin, tmp_path))
    admin.goto("/")
    patient = _admit_and_equip(admin, seeded)
    assigned = time.monotonic()

    nurse = new_page(browser, station)
    sign_in(nurse, "amina")
    row = nurse.locator(f"tr.bed[data-patient={patient}]")
    expect(row).to_be_visible()
    # Live values from the virtual devices, through agent, broker, ingest, within seconds (amina
    # reads French: a decimal comma).
    for value in (re.compile(r"\b7[789]\b"), "97", "36,8", "124/78"):
        expect(row).to_contain_text(value, timeout=LIVE_S)
    live_s = time.monotonic() - assigned
    expect(row.locator(".news2-missing")).to_contain_text("fréquence respiratoire")
    expect(row.locator(".news2-missing")).to_contain_text("conscience")
    expect(nurse.locator("#cue")).to_be_hidden()

    radio.bedside.spo2 = 85.0  # the scenario: a desaturation the oximeter reports
    alert = row.locator(".alert.prio-high.state-raised")
    expect(alert).to_contain_text("SpO2", timeout=ALERT_S)
    expect(nurse.locator("#cue")).to_be_visible()
    alert_id = alert.get_attribute("data-alert")
    assert alert_id
    shot(nurse, "station-board.png")
    alert.locator("button").click()
    expect(nurse.locator(".notice.ok")).to_contain_text("Alerte acquittée")
    expect(nurse.locator(f"[data-alert='{alert_id}']")).to_contain_text("acquittée par amina")
    with psycopg.connect(seeded.owner_url) as conn:
        raised = conn.execute(
            "SELECT condition, priority, acknowledged_by FROM alert WHERE id = %s", (alert_id,)
        ).fetchone()
        audit = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'alert_acknowledged' AND subject = %s",
            (f"alert:{alert_id}",),
        ).fetchall()
    assert raised == ("spo2_low", "high", "amina")  # raised by the analytics service itself
    assert audit == [("amina",)]

    radio.bedside.spo2 = 95.0  # oxygen saturation recovered; the nurse does her round

    wait_until(lambda: _latest(seeded, patient, "spo2") == 95.0, "the oximeter's 95 % stored")
    nurse.fill("#rr", "18")
    nurse.check("input[name=acvpu][value=A]")
    nurse.check("input[name=oxygen][value=air]")
    nurse.click("form.record button[type=submit]")
    expect(nurse.locator(".notice.ok")).to_contain_text("Observations enregistrées")
    expect(nurse.locator("dl.vitals")).to_contain_text("compté par amina")
    nurse.click("a.brand")
    board_row = nurse.locator(f"tr.bed[data-patient={patient}]")
    # NEWS2 complete: the service scored the counted rate, ACVPU and air from its next
    # registry refresh; the board (refreshing by itself) shows no "+" and nothing missing.
    expect(board_row.locator(".news2-missing")).to_have_count(0, timeout=LIVE_S)
    expect(board_row.locator(".news2")).not_to_contain_text("+")

    # RCP NEWS2 chart: SpO2 95 % on scale 1 scores 1; pulse 77-79, a counted 18 /min, 36.8 °C,
    # systolic 124, alert (A) and air score 0: a complete 1, low risk.
    expect(board_row.locator(".news2")).to_have_text("1", timeout=LIVE_S)
    expect(board_row.locator(".news2.risk-low")).to_be_visible()
    assert _latest_news2(seeded, patient) == (1, True)
    nurse.goto(f"/patients/{patient}")
    shot(nurse, "station-patient.png")

    other = new_page(browser, station)
    sign_in(other, "bilal")  # a nurse of w2, in Arabic
    assert other.evaluate("document.documentElement.dir") == "rtl"
    assert other.evaluate("getComputedStyle(document.body).direction") == "rtl"
    expect(other.locator(f"tr.bed[data-patient={patient}]")).to_have_count(0)
    response = other.goto(f"/patients/{patient}")
    assert response is not None
    assert response.status == 404
    expect(other.locator(".notice.error")).to_contain_text("لا يوجد مريض")  # in his language

    # The observations form without its CSRF token (as a forged form from another site would
    # arrive) is refused in the page, in her language, and records nothing.
    nurse.goto(f"/patients/{patient}")
    nurse.locator("form.record input[name=csrf]").evaluate("token => token.remove()")
    nurse.fill("#rr", "40")
    with nurse.expect_response(f"**/patients/{patient}/observations") as posted:
        nurse.click("form.record button[type=submit]")
    assert posted.value.status == 403
    expect(nurse.locator(".notice.error")).to_contain_text("ne vient pas de cette station")
    with psycopg.connect(seeded.owner_url) as conn:
        counted = conn.execute(
            "SELECT value, entered_by FROM nurse_entry WHERE patient_id = %s"
            " AND parameter = 'respiration_rate'",
            (patient,),
        ).fetchall()
    assert counted == [("18", "amina")]
    total_s = time.monotonic() - started
    print(f"station story: live values after {live_s:.1f} s, whole story {total_s:.0f} s")
