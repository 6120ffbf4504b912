"""``nabd demo`` end to end, headless, against the test session's stack: virtual devices, edge
agents, ingest and analytics as real processes; the summary must account for every reading and
find the scenario's alert, and none for the stable patient."""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path

import pytest

from nabd.app.demo.run import run_demo
from nabd.app.demo.settings import DemoOptions
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
    status, summary = run_demo(options, out=out)
    text = out.getvalue()
    assert status == 0, text
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


def _stable_patient(work: Path) -> str:
    from nabd.app.demo.plan import WardPlan  # noqa: PLC0415

    plan = WardPlan.model_validate_json((work / "plan.json").read_text(encoding="utf-8"))
    return next(b.patient_id for b in plan.beds if b.scenario == "stable")
