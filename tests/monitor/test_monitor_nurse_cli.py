"""``nabd nurse record`` and ``nabd alerts limits`` against the real stack: an entry changes the
next NEWS2, a limit change changes what is detected, and both are in the audit log by name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    alerts,
    now,
    running,
    store,
    token,
    wait_until,
)

pytestmark = pytest.mark.integration

NORMAL = {
    "respiration_rate": 18.0,
    "spo2": 97.0,
    "heart_rate": 75.0,
    "body_temperature": 37.0,
    "systolic_bp": 125.0,
}
"""Every measured NEWS2 parameter scores 0."""


def _latest_news2(db: MonitorDb, patient: str) -> Callable[[], list[tuple[Any, ...]]]:
    def query() -> list[tuple[Any, ...]]:
        return db.query(
            """SELECT total, complete, consciousness, air_or_oxygen FROM news2_score
               WHERE patient_id = %s ORDER BY time DESC LIMIT 1""",
            (patient,),
        )

    return query


def _fresh_vitals(db: MonitorDb, patient: str) -> Callable[[], None]:
    """Store the normal vitals again at most once a second (heart rate and SpO2 are stale
    after 10 s, and a stale parameter would make the score incomplete)."""
    last = [0.0]

    def feed() -> None:
        if time.monotonic() - last[0] >= 1.0:
            store(db, [(patient, m, now(), v, ()) for m, v in NORMAL.items()])
            last[0] = time.monotonic()

    return feed


def _audit(db: MonitorDb, subject: str) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT actor, action, details FROM audit_log WHERE subject = %s ORDER BY seq", (subject,)
    )


def test_a_nurse_entry_changes_the_next_news2(
    nabd_stack: RunningStack, monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-entry-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    latest, feed = _latest_news2(monitor_db, patient), _fresh_vitals(monitor_db, patient)

    def score_is(expected: tuple[Any, ...]) -> bool:
        feed()
        rows = latest()
        return bool(rows) and rows[0] == expected

    with running(nabd_stack, monitor_db):
        wait_until(lambda: score_is((0, False, -1, -1)), "an incomplete NEWS2 without entries")
        record = ["nurse", "record", patient, "--by", "Nurse Ines", *url]
        assert main([*record, "--acvpu", "A", "--oxygen", "off"]) == 0
        assert "by Nurse Ines" in capsys.readouterr().out
        wait_until(lambda: score_is((0, True, 0, 0)), "a complete NEWS2 of 0 on air, alert")
        assert main([*record, "--oxygen", "on"]) == 0
        wait_until(lambda: score_is((2, True, 0, 2)), "supplemental oxygen adds 2")
        assert main([*record, "--acvpu", "V", "--valid-for", "30"]) == 0
        wait_until(lambda: score_is((5, True, 3, 2)), "'V' scores 3")
    actions = [(actor, action) for actor, action, _ in _audit(monitor_db, f"patient:{patient}")]
    assert actions == [("Nurse Ines", "nurse_entry_recorded")] * 4
    entries = monitor_db.query(
        """SELECT parameter, value, entered_by, round(extract(epoch FROM valid_until - observed_at))
           FROM nurse_entry WHERE patient_id = %s ORDER BY id""",
        (patient,),
    )
    assert [e[:2] for e in entries] == [
        ("consciousness", "A"),
        ("supplemental_oxygen", "air"),
        ("supplemental_oxygen", "oxygen"),
        ("consciousness", "V"),
    ]
    assert [int(e[3]) for e in entries] == [14400, 14400, 14400, 1800]


def test_nurse_entries_that_make_no_sense_are_refused(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-entry-bad-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    assert main(["nurse", "record", patient, "--by", "N", *url]) == 1
    assert "nothing to record" in capsys.readouterr().err
    assert main(["nurse", "record", patient, "--by", "N", "--acvpu", "A",
                 "--valid-for", "2000", *url]) == 1  # fmt: skip
    assert main(["nurse", "record", "p-nobody", "--by", "N", "--acvpu", "A", *url]) == 1
    assert "refused" in capsys.readouterr().err
    assert monitor_db.query("SELECT 1 FROM nurse_entry WHERE patient_id = %s", (patient,)) == []


def test_a_limit_change_changes_detection_and_is_audited(
    nabd_stack: RunningStack, monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    ward = f"w-lim-{token()}"
    patient = admit(monitor_db, f"p-lim-{token()}", ward=ward)
    neighbour = admit(monitor_db, f"p-lim-{token()}", ward=ward)
    url = ["--database-url", monitor_db.owner_url]
    with running(nabd_stack, monitor_db):
        store(monitor_db, [(p, "systolic_bp", now(), 150.0, ()) for p in (patient, neighbour)])
        wait_until(
            lambda: monitor_db.query(
                "SELECT 1 FROM news2_score WHERE patient_id = %s AND systolic_bp = 0", (patient,)
            ),
            "the reading to be scored",
        )
        assert alerts(monitor_db, patient) == []  # 150 mmHg is inside the default 90-220
        limits = ["alerts", "limits", "set", "systolic_bp", "--by", "Dr Okafor", *url]
        assert main([*limits, "--patient", patient, "--high", "140"]) == 0
        assert main([*limits, "--ward", ward, "--low", "off"]) == 0
        store(monitor_db, [(p, "systolic_bp", now(), 150.0, ()) for p in (patient, neighbour)])
        raised = wait_until(lambda: alerts(monitor_db, patient), "the alert at the new limit")
        assert [(r[0], r[1]) for r in raised] == [("systolic_bp_high", "raised")]
        store(monitor_db, [(p, "systolic_bp", now(), 80.0, ()) for p in (patient, neighbour)])
        wait_until(
            lambda: monitor_db.query(
                "SELECT 1 FROM news2_score WHERE patient_id = %s AND systolic_bp = 3",
                (neighbour,),
            ),
            "the low reading to be scored",
        )
        # The ward switched its low limit off: 80 mmHg scores 3 in NEWS2 but pages no limit.
        assert [r[0] for r in alerts(monitor_db, neighbour)] == []
    capsys.readouterr()
    assert main(["alerts", "limits", "show", "--patient", patient, *url]) == 0
    shown = capsys.readouterr().out
    assert "systolic_bp        low    off  high    140" in shown
    assert "heart_rate         low     40  high    131" in shown
    assert main(["alerts", "limits", "clear", "systolic_bp", "--patient", patient,
                 "--by", "Dr Okafor", *url]) == 0  # fmt: skip
    assert main(["alerts", "limits", "show", "--patient", patient, *url]) == 0
    assert "systolic_bp        low    off  high    220" in capsys.readouterr().out
    # The table's trigger (migration 0041) audits every change, naming who from set_by.
    trail = _audit(monitor_db, f"patient:{patient}:systolic_bp")
    assert [(actor, action) for actor, action, _ in trail] == [
        ("Dr Okafor", "threshold_change"),
        ("Dr Okafor", "threshold_change"),
    ]
    assert [(d["op"], d["low"], d["high"]) for _, _, d in trail] == [
        ("insert", None, "140"),
        ("update", None, None),
    ]
    assert _audit(monitor_db, f"ward:{ward}:systolic_bp")[0][2]["low"] == "-Infinity"


def test_limit_changes_that_make_no_sense_are_refused(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-lim-bad-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    limits = ["alerts", "limits", "set", "heart_rate", "--patient", patient, "--by", "Dr O", *url]
    assert main([*limits, "--low", "120", "--high", "60"]) == 1
    assert main([*limits, "--high", "100"]) == 0
    assert main([*limits, "--low", "100"]) == 1  # would cross the high limit already set
    assert "would not be below" in capsys.readouterr().err
    nobody = ["alerts", "limits", "set", "heart_rate", "--patient", "p-nobody", "--by", "O"]
    assert main([*nobody, *url, "--high", "100"]) == 1
    assert main([*limits]) == 1  # neither side
    capsys.readouterr()
    clear = ["alerts", "limits", "clear", "spo2", "--patient", patient, "--by", "Dr O", *url]
    assert main(clear) == 0
    assert "nothing changed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(
            ["alerts", "limits", "set", "glucose", "--patient", patient, "--by", "O", "--low", "1"]
        )
