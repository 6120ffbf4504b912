"""Operating on what ingest set aside, against the real broker and database, as the ingest
login: dead letters listed, shown safely, replayed once their cause is fixed (exactly once),
purged by command and by the service's retention; readings of a device assigned late moved to
their patient exactly once, by command and by the service."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import psycopg
import pytest

from nabd.app.cli import main
from nabd.app.stack.testing import RunningStack
from nabd.contract import topics
from nabd.ingest import handoff
from nabd.ingest.dead_letters import render_payload
from nabd.ingest.settings import IngestSettings
from tests.ingest.ingest_kit import (
    HORIZON_DAYS,
    T0,
    FakeGateway,
    IngestDb,
    RunningWorker,
    batch_json,
    count,
    heart_rates,
    reading,
    register,
    valid_batch,
    worker_settings,
)
from tests.stack_kit import token, wait_until

pytestmark = pytest.mark.integration

Gateways = Callable[[str], FakeGateway]
Workers = Callable[[IngestSettings], RunningWorker]


@pytest.fixture(autouse=True)
def _kit_horizon(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replays judge sample times as the kit's workers do (its readings are dated T0)."""
    monkeypatch.setenv("NABD_INGEST_PAST_HORIZON_DAYS", str(HORIZON_DAYS))


def _nabd(capsys: pytest.CaptureFixture[str], db: IngestDb, *argv: str) -> tuple[int, str, str]:
    code = main(["-q", "ingest", *argv, "--database-url", db.ingest_url])
    out, err = capsys.readouterr()
    return code, out, err


def _letter(db: IngestDb, gateway_id: str, category: str) -> tuple[int, ...]:
    rows = db.query(
        "SELECT id, replay_attempts, replayed_at IS NOT NULL FROM dead_letter"
        " WHERE gateway_id = %s AND category = %s",
        (gateway_id, category),
    )
    assert len(rows) == 1, rows
    return tuple(rows[0])


def test_a_dead_letter_is_replayed_once_its_device_is_registered(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Gateways,
    workers: Workers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    gw_id, hr, stranger, patient = f"gw-r{t}", f"hr-r{t}", f"new-r{t}", f"p-r{t}"
    register(ingest_db, gw_id, {hr: patient})
    workers(worker_settings(nabd_stack, ingest_db, f"replay-{t}"))
    gw = gateways(gw_id)
    gw.publish(valid_batch(gw_id, heart_rates(hr, 3) + heart_rates(stranger, 4), batch_seq=0))
    gw.publish(json.dumps(batch_json(gw_id, [reading(hr, 99, unit="bpm")], batch_seq=1)).encode())
    wait_until(lambda: count(ingest_db, "dead_letter", gw_id) == 2, "two dead letters")
    unregistered, _, _ = _letter(ingest_db, gw_id, "unregistered_device")
    bad, _, _ = _letter(ingest_db, gw_id, "payload")

    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "list", "--reason", "payload")
    assert code == 0
    assert [int(line.split()[0]) for line in out.splitlines() if gw_id in line] == [bad]

    # Before the cause is fixed, a replay fails the same way and says so.
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "replay", str(unregistered))
    assert code == 1
    assert "refused: unregistered_device" in out
    assert _letter(ingest_db, gw_id, "unregistered_device") == (unregistered, 1, False)

    # The operator registers the device to the gateway and assigns it; the replay stores it.
    ingest_db.execute(
        "INSERT INTO device (id, gateway_id, kind) VALUES (%s, %s, 'test')", (stranger, gw_id)
    )
    ingest_db.execute(
        "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
        " VALUES (%s, %s, tstzrange('2020-01-01', NULL), 'nurse')",
        (stranger, patient),
    )
    seq_before = ingest_db.query("SELECT coalesce(max(seq), 0) FROM observation_commit")[0][0]
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "replay", str(unregistered))
    assert (code, out.strip()) == (0, f"{unregistered}: stored (7 readings)")
    assert _letter(ingest_db, gw_id, "unregistered_device") == (unregistered, 2, True)
    assert count(ingest_db, "observation", gw_id) == 7
    # Analytics hears of it like any flush: one journal entry with exactly these rows.
    with psycopg.connect(ingest_db.owner_url) as conn:
        (commit,) = handoff.commits_after(conn, seq_before)
        assert len(handoff.observations_of(conn, commit)) == 7

    # Exactly once: replaying again stores nothing; the rows stay 7.
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "replay", str(unregistered))
    assert (code, out.strip()) == (0, f"{unregistered}: already_replayed")
    ingest_db.execute("UPDATE dead_letter SET replayed_at = NULL WHERE id = %s", (unregistered,))
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "replay", str(unregistered))
    assert (code, out.strip()) == (0, f"{unregistered}: already_stored")
    assert count(ingest_db, "observation", gw_id) == 7

    # A payload the contract refuses stays refused, by category too.
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "replay", "--reason", "payload")
    assert code == 1
    assert f"{bad}: refused: payload" in out
    assert _letter(ingest_db, gw_id, "payload")[1] == 1
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "list", "--reason", "payload")
    assert "(1 replays)" in out


def test_a_dead_letter_is_shown_without_terminal_control_characters(
    ingest_db: IngestDb, capsys: pytest.CaptureFixture[str]
) -> None:
    t = token()
    topic = topics.observations(f"gw-s{t}")
    nasty = b'{"schema": "\x1b[2J\xe2\x80\xae", "bell": "\\u0007"}'
    binary = b"\x00\x1b]0;owned\x07\xff\xfe"
    ids = []
    for payload in (nasty, binary):
        ids += ingest_db.query(
            "INSERT INTO dead_letter (topic, gateway_id, payload, reason, category)"
            " VALUES (%s, %s, %s, 'test', 'payload') RETURNING id",
            (topic, f"gw-s{t}", payload),
        )
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "show", str(ids[0][0]))
    assert code == 0
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert '{"schema": "\\x1b[2J\\u202e", "bell": "\\u0007"}' in out  # what was there, readable
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "show", str(ids[1][0]))
    assert code == 0
    assert "00 1b 5d 30 3b 6f 77 6e 65 64 07 ff fe" in out
    assert "\x1b" not in out
    assert render_payload(b"line\n\x1b[31mred") == "line\n\\x1b[31mred"
    assert render_payload(b'{"a": "\\u001b[2J\xc3\xa9"}') == '{\n  "a": "\\u001b[2J\\u00e9"\n}'
    code, _, err = _nabd(capsys, ingest_db, "dead-letters", "show", "999999999")
    assert code == 1
    assert "no dead letter" in err


def test_dead_letters_are_purged_by_command_and_by_the_services_retention(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    workers: Workers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    gw_id = f"gw-p{t}"

    def letter(age_days: float) -> None:
        ingest_db.execute(
            "INSERT INTO dead_letter (received_at, topic, gateway_id, payload, reason)"
            " VALUES (now() - make_interval(secs => %s), %s, %s, 'x', 'test')",
            (age_days * 86_400, topics.observations(gw_id), gw_id),
        )

    for age in (50, 40, 1):
        letter(age)
    code, out, _ = _nabd(capsys, ingest_db, "dead-letters", "purge", "--older-than", "45")
    assert (code, out.strip()) == (0, "deleted 1 dead letters older than 45 days")
    assert count(ingest_db, "dead_letter", gw_id) == 2
    # The service applies its retention (30 days by default) with its health row.
    workers(worker_settings(nabd_stack, ingest_db, f"retain-{t}"))
    wait_until(lambda: count(ingest_db, "dead_letter", gw_id) == 1, "the retention")
    assert ingest_db.query(
        "SELECT received_at > now() - interval '2 days' FROM dead_letter WHERE gateway_id = %s",
        (gw_id,),
    ) == [(True,)]


def test_the_ingest_login_may_replay_and_purge_but_not_rewrite_a_message(
    ingest_db: IngestDb,
) -> None:
    with ingest_db.as_role("nabd_ingest") as conn:
        conn.execute("SELECT payload FROM dead_letter LIMIT 1")
        conn.execute("UPDATE dead_letter SET reason = reason, replay_attempts = 0 WHERE false")
        conn.execute("DELETE FROM unattributed_observation WHERE false")
        for statement in (
            "UPDATE dead_letter SET payload = 'x' WHERE false",
            "UPDATE dead_letter SET topic = 'x' WHERE false",
            "DELETE FROM observation WHERE false",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
                conn.execute(statement)


def test_readings_of_a_device_assigned_late_move_to_their_patient_once(
    nabd_stack: RunningStack,
    ingest_db: IngestDb,
    gateways: Gateways,
    workers: Workers,
    capsys: pytest.CaptureFixture[str],
) -> None:
    t = token()
    gw_id, hr, ox, patient = f"gw-a{t}", f"hr-a{t}", f"ox-a{t}", f"p-a{t}"
    register(ingest_db, gw_id, {hr: None, ox: None})
    ingest_db.execute("INSERT INTO patient (id, ward_id) VALUES (%s, 'w')", (patient,))
    workers(worker_settings(nabd_stack, ingest_db, f"late-{t}", reattribute_interval_s=0))
    gw = gateways(gw_id)
    gw.publish(valid_batch(gw_id, heart_rates(hr, 10)))  # T0 .. T0+9 s
    wait_until(lambda: count(ingest_db, "unattributed_observation", gw_id) == 10, "the rows")

    # The strap was put on at T0+4s, registered afterwards; readings before stay unattributed.
    ingest_db.execute(
        "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
        " VALUES (%s, %s, tstzrange(%s, NULL), 'nurse')",
        (hr, patient, T0 + timedelta(seconds=4)),
    )
    seq_before = ingest_db.query("SELECT coalesce(max(seq), 0) FROM observation_commit")[0][0]
    code, out, err = _nabd(capsys, ingest_db, "reattribute", "--device", hr)
    assert (err, code) == ("", 0)
    assert out.startswith(f"moved 6 readings, 6 newly stored for {patient}")
    assert ingest_db.query(
        "SELECT patient_id, min(seq), max(seq), count(*) FROM observation WHERE device_id = %s"
        " GROUP BY patient_id",
        (hr,),
    ) == [(patient, 4, 9, 6)]
    assert count(ingest_db, "unattributed_observation", gw_id) == 4
    assert ingest_db.query(
        "SELECT value, time FROM observation_latest WHERE patient_id = %s", (patient,)
    ) == [(69.0, T0 + timedelta(seconds=9))]
    with psycopg.connect(ingest_db.owner_url) as conn:
        (commit,) = handoff.commits_after(conn, seq_before)
        assert commit.worker_id == "operator"
        assert sorted(h.seq for h in handoff.observations_of(conn, commit)) == list(range(4, 10))

    # Exactly once: nothing left to move.
    code, out, _ = _nabd(capsys, ingest_db, "reattribute")
    assert (code, out.strip()) == (0, "moved 0 readings, 0 newly stored")
    assert count(ingest_db, "observation", gw_id) == 6


def test_the_service_reattributes_by_itself(
    nabd_stack: RunningStack, ingest_db: IngestDb, gateways: Gateways, workers: Workers
) -> None:
    t = token()
    gw_id, ox, patient = f"gw-b{t}", f"ox-b{t}", f"p-b{t}"
    register(ingest_db, gw_id, {ox: None})
    ingest_db.execute("INSERT INTO patient (id, ward_id) VALUES (%s, 'w')", (patient,))
    workers(worker_settings(nabd_stack, ingest_db, f"auto-{t}", reattribute_interval_s=0.2))
    gw = gateways(gw_id)
    spo2 = [reading(ox, i, metric="spo2", value=97.0, unit="%") for i in range(5)]
    gw.publish(valid_batch(gw_id, spo2))
    wait_until(lambda: count(ingest_db, "unattributed_observation", gw_id) == 5, "the rows")
    ingest_db.execute(
        "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
        " VALUES (%s, %s, tstzrange('2020-01-01', NULL), 'nurse')",
        (ox, patient),
    )
    wait_until(lambda: count(ingest_db, "observation", gw_id) == 5, "the re-attribution")
    assert count(ingest_db, "unattributed_observation", gw_id) == 0
    assert json.loads(
        json.dumps(
            ingest_db.query(
                "SELECT DISTINCT patient_id FROM observation WHERE gateway_id = %s", (gw_id,)
            )
        )
    ) == [[patient]]
