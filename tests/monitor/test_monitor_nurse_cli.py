"""``nabd nurse record``, ``nabd nurse scale`` and ``nabd alerts limits`` against the real stack:
an entry or a scale changes the next NEWS2, a limit change changes what is detected, and each is
in the audit log by name."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from tests.monitor.monitor_kit import (
    MonitorDb,
    admit,
    alerts,
    now,
    running,
    store,
)
from tests.stack_kit import token, wait_until

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


def _fresh_vitals(db: MonitorDb, patient: str, **overrides: float) -> Callable[[], None]:
    """Store the normal vitals (but ``overrides``) again at most once a second (heart rate and
    SpO2 are stale after 10 s, and a stale parameter would make the score incomplete)."""
    last = [0.0]
    vitals = {**NORMAL, **overrides}

    def feed() -> None:
        if time.monotonic() - last[0] >= 1.0:
            store(db, [(patient, m, now(), v, ()) for m, v in vitals.items()])
            last[0] = time.monotonic()

    return feed


def _audit(db: MonitorDb, subject: str) -> list[tuple[Any, ...]]:
    return db.query(
        "SELECT actor, action, details FROM audit_log WHERE subject = %s ORDER BY seq", (subject,)
    )


@pytest.fixture(scope="module")
def clinical_url(monitor_db: MonitorDb) -> Iterator[str]:
    """URL of a login in ``nabd_clinical`` (the nurses' tools' role) to the module's database.

    The stack's ``NABD_CLINICAL_DATABASE_URL`` points at the ``nabd`` database, not at this
    module's fresh one: the owner (CREATEROLE) makes a login here, as a deployment would, and
    drops it afterwards. The password reaches the server as a SCRAM
    verifier, as in ``nabd db ward-viewer add``.
    """
    login, password = f"test_clinical_{token()}", secrets.token_urlsafe(24)
    role = sql.Identifier(login)
    with monitor_db.connect() as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), login.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier))
        )
        conn.execute(sql.SQL("GRANT nabd_clinical TO {}").format(role))
    url = urlsplit(monitor_db.owner_url)
    try:
        yield url._replace(netloc=f"{login}:{password}@{url.hostname}:{url.port}").geturl()
    finally:
        with monitor_db.connect() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


def _scale_trail(db: MonitorDb, patient: str) -> list[tuple[str, int, int, str]]:
    """(actor, scale before, scale after, database login) of a patient's scale changes."""
    return [
        (actor, d["scale_before"], d["scale"], d["login"])
        for actor, action, d in _audit(db, f"patient:{patient}")
        if action == "news2_scale_change"
    ]


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


def test_a_counted_respiratory_rate_completes_news2_without_a_device(
    nabd_stack: RunningStack, monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 20 item 2: no device measures respiration; the nurse counts 26/min (scores 3).
    patient = admit(monitor_db, f"p-rr-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    vitals = {k: v for k, v in NORMAL.items() if k != "respiration_rate"}
    last = [0.0]

    def rr_sub_score() -> list[tuple[Any, ...]]:
        if time.monotonic() - last[0] >= 1.0:
            store(monitor_db, [(patient, m, now(), v, ()) for m, v in vitals.items()])
            last[0] = time.monotonic()
        return monitor_db.query(
            """SELECT respiration_rate, total, complete FROM news2_score
               WHERE patient_id = %s AND respiration_rate <> -1 ORDER BY time DESC LIMIT 1""",
            (patient,),
        )

    with running(nabd_stack, monitor_db):
        record = ["nurse", "record", patient, "--by", "Nurse Ines", *url]
        assert main([*record, "--rr", "26", "--acvpu", "A", "--oxygen", "off"]) == 0
        assert "respiration_rate 26" in capsys.readouterr().out
        rows = wait_until(rr_sub_score, "the counted rate scored")
    assert rows[0] == (3, 3, True)  # the nurse's count completes the score
    entries = monitor_db.query(
        "SELECT value, entered_by FROM nurse_entry WHERE patient_id = %s"
        " AND parameter = 'respiration_rate'",
        (patient,),
    )
    assert entries == [("26", "Nurse Ines")]


@pytest.mark.parametrize("rate", ["-1", "151", "1000"])
def test_a_counted_rate_outside_0_to_150_is_refused_in_words(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str], rate: str
) -> None:
    patient = admit(monitor_db, f"p-rr-bad-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    assert main(["nurse", "record", patient, "--by", "N", "--rr", rate, *url]) == 1
    err = capsys.readouterr().err
    assert "whole number of breaths/min from 0 to 150" in err
    assert "Traceback" not in err
    assert monitor_db.query("SELECT 1 FROM nurse_entry WHERE patient_id = %s", (patient,)) == []


def test_the_database_refuses_a_counted_rate_that_is_not_a_whole_number(
    monitor_db: MonitorDb,
) -> None:
    patient = admit(monitor_db, f"p-rr-db-{token()}")
    for value in ("18.5", "151", "-3", " 18", "x"):
        with pytest.raises(psycopg.errors.CheckViolation), monitor_db.connect() as conn:
            conn.execute(
                """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at,
                       valid_until, entered_by)
                   VALUES (%s, 'respiration_rate', %s, now(), now() + interval '1 h', 'N')""",
                (patient, value),
            )


def test_a_nurses_spot_values_complete_news2_on_a_bed_without_devices(
    nabd_stack: RunningStack, monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 20 item 2: a bed with no connected device at all; the nurse's round is the score.
    patient = admit(monitor_db, f"p-spot-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    record = ["nurse", "record", patient, "--by", "Nurse Ines", *url]
    spot = ["--rr", "22", "--spo2", "93", "--pulse", "112", "--bp", "98/60", "--temp", "38.4"]

    def scored() -> list[tuple[Any, ...]]:
        return monitor_db.query(
            """SELECT respiration_rate, spo2, heart_rate, systolic_bp, temperature,
                      consciousness, air_or_oxygen, total, complete
               FROM news2_score WHERE patient_id = %s ORDER BY time DESC LIMIT 1""",
            (patient,),
        )

    with running(nabd_stack, monitor_db):
        assert main([*record, *spot, "--acvpu", "A", "--oxygen", "off"]) == 0
        assert "systolic_bp 98, diastolic_bp 60, body_temperature 38.4" in capsys.readouterr().out
        rows = wait_until(lambda: [r for r in scored() if r[-1]], "a complete score")
    # RCP NEWS2 chart 1: RR 21-24 -> 2, SpO2 92-93 -> 2, pulse 111-130 -> 2, systolic
    # 91-100 -> 2, temperature 38.1-39.0 -> 1, alert 0, air 0.
    assert rows[0] == (2, 2, 2, 2, 1, 0, 0, 9, True)
    entries = monitor_db.query(
        """SELECT parameter, value, entered_by FROM nurse_entry WHERE patient_id = %s
           AND parameter NOT IN ('consciousness', 'supplemental_oxygen') ORDER BY parameter""",
        (patient,),
    )
    assert entries == [
        ("body_temperature", "38.4", "Nurse Ines"),
        ("diastolic_bp", "60", "Nurse Ines"),
        ("pulse_rate", "112", "Nurse Ines"),
        ("respiration_rate", "22", "Nurse Ines"),
        ("spo2", "93", "Nurse Ines"),
        ("systolic_bp", "98", "Nurse Ines"),
    ]
    audited = [d["parameter"] for _, a, d in _audit(monitor_db, f"patient:{patient}")]
    assert sorted(audited) == sorted([e[0] for e in entries] + ["consciousness",
                                                                "supplemental_oxygen"])  # fmt: skip


@pytest.mark.parametrize(
    ("option", "words"),
    [
        (["--spo2", "9"], "whole number of % from 50 to 100"),
        (["--spo2", "101"], "whole number of % from 50 to 100"),
        (["--pulse", "300"], "whole number of beats/min from 20 to 250"),
        (["--temp", "375"], "at most 1 decimal of °C from 25 to 45"),
        (["--temp", "37.25"], "at most 1 decimal of °C from 25 to 45"),
        (["--temp", "37,5"], "at most 1 decimal of °C from 25 to 45"),
        (["--bp", "80/120"], "the systolic must be above the diastolic"),
        (["--bp", "120/"], "whole number of mmHg from 20 to 200"),
        (["--bp", "120"], "give SYSTOLIC/DIASTOLIC in mmHg"),
        (["--bp", "400/80"], "whole number of mmHg from 40 to 300"),
    ],
)
def test_implausible_spot_values_are_refused_in_words(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str], option: list[str], words: str
) -> None:
    patient = admit(monitor_db, f"p-spot-bad-{token()}")
    url = ["--database-url", monitor_db.owner_url]
    assert main(["nurse", "record", patient, "--by", "N", *option, *url]) in {1, 2}
    err = capsys.readouterr().err
    assert words in err, err
    assert "Traceback" not in err
    assert "_check" not in err
    assert monitor_db.query("SELECT 1 FROM nurse_entry WHERE patient_id = %s", (patient,)) == []


def test_the_database_refuses_implausible_spot_values(monitor_db: MonitorDb) -> None:
    patient = admit(monitor_db, f"p-spot-db-{token()}")
    refused = [("spo2", "49"), ("spo2", "97.5"), ("pulse_rate", "251"), ("pulse_rate", "080"),
               ("systolic_bp", "39"), ("diastolic_bp", "201"), ("body_temperature", "37.25"),
               ("body_temperature", "46"), ("body_temperature", "x")]  # fmt: skip
    for parameter, value in refused:
        with pytest.raises(psycopg.errors.CheckViolation), monitor_db.connect() as conn:
            conn.execute(
                """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at,
                       valid_until, entered_by)
                   VALUES (%s, %s, %s, now(), now() + interval '1 h', 'N')""",
                (patient, parameter, value),
            )
    with monitor_db.connect() as conn:  # and takes what the application stores
        for parameter, value in [
            ("spo2", "50"),
            ("body_temperature", "37.0"),
            ("consciousness", "A"),
        ]:
            conn.execute(
                """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at,
                       valid_until, entered_by)
                   VALUES (%s, %s, %s, now(), now() + interval '1 h', 'N')""",
                (patient, parameter, value),
            )


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
    err = capsys.readouterr().err
    assert "no patient 'p-nobody': unknown to the registry" in err
    assert "fkey" not in err
    assert monitor_db.query("SELECT 1 FROM nurse_entry WHERE patient_id = %s", (patient,)) == []


def test_a_clinician_sets_scale_2_and_the_next_news2_scores_spo2_on_it(
    nabd_stack: RunningStack,
    monitor_db: MonitorDb,
    clinical_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    patient = admit(monitor_db, f"p-scale-{token()}")
    feed = _fresh_vitals(monitor_db, patient, spo2=90.0)
    # No --database-url: both commands find the nurses' login the way a ward PC would.
    monkeypatch.setenv("NABD_CLINICAL_DATABASE_URL", clinical_url)

    def score_is(expected: tuple[Any, ...]) -> bool:
        feed()
        rows = monitor_db.query(
            """SELECT spo2, scale2, total, complete FROM news2_score
               WHERE patient_id = %s ORDER BY time DESC LIMIT 1""",
            (patient,),
        )
        return bool(rows) and rows[0] == expected

    with running(nabd_stack, monitor_db):
        record = ["nurse", "record", patient, "--acvpu", "A", "--oxygen", "off", "--by", "Nurse I"]
        assert main(record) == 0
        wait_until(lambda: score_is((3, False, 3, True)), "SpO2 90 % on air: 3 on Scale 1")
        scale = ["nurse", "scale", patient, "2", "--by", " Dr X "]
        capsys.readouterr()
        assert main(scale) == 0
        assert capsys.readouterr().out == f"{patient}: NEWS2 SpO2 Scale 2, set by Dr X\n"
        wait_until(lambda: score_is((0, True, 0, True)), "SpO2 90 % on air: 0 on Scale 2")
        assert main(scale) == 0
        assert "nothing changed" in capsys.readouterr().out
    # Scale 1 rows, then Scale 2 rows only, each scoring 90 % as its scale says.
    rows = monitor_db.query(
        "SELECT scale2, spo2 FROM news2_score WHERE patient_id = %s AND complete ORDER BY time",
        (patient,),
    )
    switch = [r[0] for r in rows].index(True)
    assert set(rows[:switch]) == {(False, 3)}
    assert set(rows[switch:]) == {(True, 0)}
    login = urlsplit(clinical_url).username
    assert _scale_trail(monitor_db, patient) == [("Dr X", 1, 2, login)]
    stored = monitor_db.query(
        """SELECT news2_scale2, news2_scale_set_by, news2_scale_set_at <= now()
           FROM patient WHERE id = %s""",
        (patient,),
    )
    assert stored == [(True, "Dr X", True)]


def test_the_clinical_login_may_change_the_scale_and_nothing_else(
    monitor_db: MonitorDb, clinical_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-scale-role-{token()}")
    scale = ["nurse", "scale", patient, "--by", "Dr Y", "--database-url", clinical_url]
    assert main([*scale, "2"]) == 0
    assert main([*scale, "1"]) == 0  # the same clinician again is still named
    assert "Scale 1, set by Dr Y" in capsys.readouterr().out
    login = urlsplit(clinical_url).username
    assert login is not None
    with psycopg.connect(clinical_url, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE patient SET ward_id = ward_id WHERE id = %s", (patient,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE patient SET discharged_at = now() WHERE id = %s", (patient,))
        # A writer names the clinician with set_by and a new set_at (the trigger then stamps
        # the database's time over the writer's, so a change cannot be backdated)...
        conn.execute(
            """UPDATE patient SET news2_scale2 = true, news2_scale_set_by = 'Dr W',
                   news2_scale_set_at = '2000-01-01' WHERE id = %s""",
            (patient,),
        )
        stamped = conn.execute(
            "SELECT now() - news2_scale_set_at FROM patient WHERE id = %s", (patient,)
        ).fetchone()
        assert stamped is not None
        assert stamped[0].total_seconds() < 60
        # ...one that names nobody is recorded as its login, never as the clinician before;
        # setting the value the row has is no change.
        conn.execute("UPDATE patient SET news2_scale2 = true WHERE id = %s", (patient,))
        conn.execute("UPDATE patient SET news2_scale2 = false WHERE id = %s", (patient,))
    assert _scale_trail(monitor_db, patient) == [
        ("Dr Y", 1, 2, login),
        ("Dr Y", 2, 1, login),
        ("Dr W", 1, 2, login),
        (login, 2, 1, login),
    ]
    stored = monitor_db.query(
        "SELECT news2_scale2, news2_scale_set_by FROM patient WHERE id = %s", (patient,)
    )
    assert stored == [(False, login)]


def test_scale_changes_that_make_no_sense_are_refused(
    monitor_db: MonitorDb, capsys: pytest.CaptureFixture[str]
) -> None:
    patient = admit(monitor_db, f"p-scale-bad-{token()}")
    gone = admit(monitor_db, f"p-scale-gone-{token()}")
    with monitor_db.connect() as conn:
        conn.execute("UPDATE patient SET discharged_at = now() WHERE id = %s", (gone,))
    url = ["--database-url", monitor_db.owner_url]
    capsys.readouterr()
    assert main(["nurse", "scale", "p-nobody", "2", "--by", "Dr Z", *url]) == 1
    assert "no patient 'p-nobody'" in capsys.readouterr().err
    assert main(["nurse", "scale", patient, "2", "--by", "  ", *url]) == 1
    assert "the clinician's name must be 1 to 100 characters" in capsys.readouterr().err
    assert main(["nurse", "scale", gone, "2", "--by", "Dr Z", *url]) == 1
    assert "discharged" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["nurse", "scale", patient, "3", "--by", "Dr Z", *url])
    with pytest.raises(SystemExit):
        main(["nurse", "scale", patient, "2", *url])  # nobody named
    assert main(["nurse", "scale", patient, "1", "--by", "Dr Z", *url]) == 0
    assert "nothing changed" in capsys.readouterr().out
    changed = monitor_db.query(
        "SELECT id FROM patient WHERE id IN (%s, %s) AND news2_scale2", (patient, gone)
    )
    assert changed == []
    assert _scale_trail(monitor_db, patient) == _scale_trail(monitor_db, gone) == []


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
        # The ward's change first: the alert at the patient's new limit then proves the service
        # has read a registry snapshot holding both (it reads every limit in one query).
        assert main([*limits, "--ward", ward, "--low", "off"]) == 0
        assert main([*limits, "--patient", patient, "--high", "140"]) == 0
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
