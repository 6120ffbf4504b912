"""``nabd demo`` end to end, headless, against the test session's stack: virtual devices, edge
agents, ingest and analytics as real processes; the summary must account for every reading and
find the scenario's alert, and none for the stable patient. The nurse station it opens answers
the printed sign-in with the ward's board while the ward plays; the simulated nurse's round makes
NEWS2 complete on every bed."""

from __future__ import annotations

import io
import re
import shutil
import ssl
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import pytest

from nabd.app.demo.plan import WardPlan
from nabd.app.demo.rounds import ROUND_NURSE
from nabd.app.demo.run import run_demo
from nabd.app.demo.settings import DemoOptions
from nabd.app.stack.layout import Layout
from nabd.app.stack.testing import RunningStack


@pytest.mark.integration
def test_demo_runs_a_ward_end_to_end(nabd_stack: RunningStack, tmp_path: Path) -> None:
    work = Path(tempfile.mkdtemp(prefix="nabd-demo-test-"))  # outboxes, logs, the plan
    try:
        _run_and_check(nabd_stack, tmp_path, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run_and_check(nabd_stack: RunningStack, tmp_path: Path, work: Path) -> None:
    options = DemoOptions(
        patients=3,
        scenarios=("stable", "opioid_respiratory_depression", "sepsis"),
        speed=60.0,
        duration_s=60.0,
        seed=1,
        ward_id="demo-test",
        state_dir=nabd_stack.state_dir,
        work_dir=work,
        export_dir=tmp_path / "dashboards",
        headless=True,
        nurse="test-nurse",
    )
    out = io.StringIO()
    seen: dict[str, str] = {}
    probe = threading.Thread(
        target=_visit_station, args=(out, Layout(nabd_stack.settings.root).ca_cert, seen)
    )
    probe.start()
    status, summary = run_demo(options, out=out)
    probe.join(timeout=60)
    text = out.getvalue()
    assert status == 0, text
    assert re.search(r"demo: nurse station https://localhost:\d+/ \(sign in as demo-", text), text
    assert seen.get("board"), f"{seen.get('error')}\n{text}"
    plan = _plan(work)
    for bed in plan.beds:
        assert bed.patient_id in seen["board"]
    with psycopg.connect(nabd_stack.database_url) as conn:
        disabled = conn.execute(
            "SELECT disabled_at IS NOT NULL FROM station_user WHERE name = %s", (seen["user"],)
        ).fetchone()
    assert disabled == (True,), "the demo's sign-in outlives the demo"
    with psycopg.connect(nabd_stack.database_url) as conn:
        entries = conn.execute(
            """SELECT parameter, value, entered_by FROM nurse_entry
               WHERE patient_id = ANY (%s) AND entered_by <> %s""",
            ([b.patient_id for b in plan.beds], ROUND_NURSE),
        ).fetchall()
        # Issue 20 item 2: the simulated nurse's round (at +15 s) re-assesses ACVPU and air and
        # counts a respiratory rate for every bed; NEWS2 scores those three on every bed, and a
        # score is complete exactly when the devices' four parameters are there too.
        rounds = conn.execute(
            """SELECT patient_id, array_agg(parameter ORDER BY parameter) FROM nurse_entry
               WHERE entered_by = %s AND patient_id = ANY(%s) GROUP BY patient_id""",
            (ROUND_NURSE, [b.patient_id for b in plan.beds]),
        ).fetchall()
        scored = conn.execute(
            """SELECT bool_or(respiration_rate >= 0 AND consciousness >= 0 AND air_or_oxygen >= 0),
                      bool_or(complete), bool_or(systolic_bp >= 0), bool_or(temperature >= 0),
                      bool_or(spo2 >= 0), bool_or(heart_rate >= 0)
               FROM news2_score WHERE patient_id = ANY(%s) GROUP BY patient_id""",
            ([b.patient_id for b in plan.beds],),
        ).fetchall()
    assert sorted(entries) == sorted(  # the admission round: alert, on room air, every bed
        [("consciousness", "A", "test-nurse"), ("supplemental_oxygen", "air", "test-nurse")]
        * len(plan.beds)
    )
    assert (
        sorted(r[1] for r in rounds)
        == [["consciousness", "respiration_rate", "supplemental_oxygen"]] * 3
    ), text
    assert [r[0] for r in scored] == [True] * 3, (scored, text)
    assert [r[1] for r in scored] == [all(r[2:]) for r in scored], (scored, text)
    assert "demo: nurse rounds: 1 of 1 played, 9 entries by demo-round-nurse" in text, text
    # Stopped by the demo's SIGTERM: uvicorn shuts down, then re-raises the signal (-15).
    assert not re.search(r"demo: station exited with status (?!-15\b)", text), text
    assert summary.generated > 1000, text
    assert summary.ingested == summary.generated, text
    lines = {line.condition: line for line in summary.lines}
    assert lines["respiratory_depression"].raised == 1, text
    assert summary.false_alerts == {}, text
    header = next(line for line in text.splitlines() if line.startswith("demo:"))
    assert "3 beds" in header
    stable = _stable_patient(work)
    assert stable not in summary.by_patient, text
    assert (tmp_path / "dashboards" / "datasources" / "nabd.yaml").is_file()
    assert summary.exported_files > 2
    assert "nabd dashboards deploy" in text
    assert "generated" in text
    assert "(equal)" in text
    # Every bed wears a GHS respiration sensor: its scores carry a respiratory rate.
    assert summary.news2 is not None, text
    assert summary.news2.with_respiration_rate > 0, text
    assert re.search(r"NEWS2 +\d+ scores, \d+ complete \(all seven parameters\)", text), text


def _plan(work: Path) -> WardPlan:
    return WardPlan.model_validate_json((work / "plan.json").read_text(encoding="utf-8"))


def _stable_patient(work: Path) -> str:
    return next(b.patient_id for b in _plan(work).beds if b.scenario == "stable")


_LINE = re.compile(r"nurse station (https://\S+) \(sign in as (\S+), password (\S+);")


def _visit_station(out: io.StringIO, ca: Path, seen: dict[str, str]) -> None:
    """Wait for the printed sign-in, sign in, read the board; once the demo has ended, check
    the same sign-in is refused."""
    deadline = time.monotonic() + 120
    try:
        while not (match := _LINE.search(out.getvalue())):
            assert time.monotonic() < deadline, "no station line"
            time.sleep(0.2)
        url, user, password = match.groups()
        trust = ssl.create_default_context(cafile=str(ca))
        with httpx.Client(base_url=url, verify=trust, timeout=10) as c:
            while "board" not in seen and time.monotonic() < deadline:
                try:
                    c.post("/login", data={"name": user, "password": password})
                    reply = c.get("/")
                except httpx.TransportError:  # uvicorn still starting
                    time.sleep(0.3)
                    continue
                if reply.status_code == 200:
                    seen["board"] = reply.text
        seen["user"] = user
    except Exception as exc:
        seen["error"] = repr(exc)
