"""``nabd report adherence --month``: the monthly adherence of patients at home from the stored
readings (last month, so it is over whenever the test runs): days with data, scheduled
measurements taken vs planned, glucose in range, as a table and as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nabd.app.cli import main
from nabd.contract.careplan import Programme, default_plan
from tests.monitor.monitor_kit import MonitorDb, admit, set_care_plan, store
from tests.stack_kit import token

pytestmark = pytest.mark.integration


def _last_month() -> datetime:
    first = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first - timedelta(days=1)).replace(day=1)


def _enrol(db: MonitorDb, patient: str, programme: Programme, month: datetime) -> None:
    set_care_plan(db, patient, default_plan([programme]))
    db.execute("UPDATE patient SET admitted_at = %s WHERE id = %s", (month, patient))
    db.execute("UPDATE care_plan SET started_at = %s WHERE patient_id = %s", (month, patient))


def test_the_month_s_adherence_per_patient_as_a_table_and_csv(
    monitor_db: MonitorDb, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    month = _last_month()
    days = ((month + timedelta(days=32)).replace(day=1) - month).days
    hf, dm = admit(monitor_db, f"p-hf-{token()}"), admit(monitor_db, f"p-dm-{token()}")
    _enrol(monitor_db, hf, Programme.HEART_FAILURE, month)
    _enrol(monitor_db, dm, Programme.DIABETES, month)
    day = timedelta(days=1)
    # Heart failure: weighed on 20 mornings (07:00), blood pressure on 10 (08:00) and one
    # evening reading (20:00, outside the 05:00-11:00 window: a day with data, not taken).
    readings = [
        (hf, "body_weight", month + d * day + timedelta(hours=7), 80.0, ()) for d in range(20)
    ]
    for d in range(10):
        at = month + d * day + timedelta(hours=8)
        readings += [(hf, "systolic_bp", at, 130.0, ()), (hf, "diastolic_bp", at, 80.0, ())]
    readings.append((hf, "systolic_bp", month + 25 * day + timedelta(hours=20), 128.0, ()))
    # Diabetes: before breakfast on 5 days, 4 in range (3.9-10 mmol/L).
    values = [5.5, 6.0, 12.5, 7.0, 4.5]
    readings += [
        (dm, "glucose", month + d * day + timedelta(hours=7), v, ()) for d, v in enumerate(values)
    ]
    store(monitor_db, readings)
    url = ("--database-url", monitor_db.owner_url)
    capsys.readouterr()
    assert main(["report", "adherence", "--month", f"{month:%Y-%m}", *url]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert f"21/{days}" in lines[hf]
    assert f"30/{2 * days} " in lines[hf]
    assert lines[dm].split()[-1] == "80%"
    assert f"5/{4 * days} " in lines[dm]
    target = tmp_path / "adherence.csv"
    assert (
        main(["report", "adherence", "--month", f"{month:%Y-%m}", "--csv", str(target), *url]) == 0
    )
    rows = {r["patient_id"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    assert rows[hf]["programmes"] == "heart_failure"
    assert (rows[hf]["days"], rows[hf]["days_with_data"]) == (str(days), "21")
    assert (rows[hf]["taken"], rows[hf]["planned"]) == ("30", str(2 * days))
    assert rows[hf]["glucose_in_range"] == ""
    assert rows[dm]["glucose_in_range"] == "0.800"


def test_a_month_that_is_not_one_is_refused_in_one_line(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    status = main(
        ["report", "adherence", "--month", "2026-13", "--database-url", monitor_db.owner_url]
    )
    out, err = capsys.readouterr()
    assert (status, out) == (2, "")
    assert "--month '2026-13' is not accepted: write YYYY-MM, e.g. 2026-11" in err
    assert len(err.strip().splitlines()) == 1
