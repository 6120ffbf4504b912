"""The export against the real database: known data in, the expected FHIR resources out.

Queries, summaries and paging are checked on data whose summaries were worked out by hand
(``fhir_kit``); the export command writes a Bundle that validates as a whole; the roles keep
identity away from pseudonymous callers; the export is audited.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.observation import Observation
from psycopg import errors, sql
from psycopg.rows import dict_row

from nabd.app.cli import main
from nabd.interop.fhir import export, query
from nabd.interop.fhir.codes import BLOOD_PRESSURE_STREAM, NEWS2_STREAM, Systems, streams
from nabd.interop.fhir.errors import FhirConfigError, NotFoundError
from nabd.interop.fhir.records import (
    BloodPressureRecord,
    ManualRecord,
    News2Record,
    ReadingRecord,
)
from nabd.interop.fhir.search import START, TimeRange
from nabd.interop.fhir.summaries import Summary
from tests.fhir.fhir_kit import (
    ALERT_OLD,
    ALERT_OPEN,
    EXPECTED_HEART_RATE,
    EXPECTED_OBSERVATIONS,
    NEWS2_TIMES,
    T0,
    Seeded,
    audit_rows,
)

pytestmark = pytest.mark.integration

SYSTEMS = Systems("https://nabd.example.org/fhir", "https://hospital.example.org/sid/mrn")
SINCE_T0 = TimeRange(T0)
ALL = frozenset(streams())


def _selection(streams: frozenset[str] = ALL, time: TimeRange = SINCE_T0) -> query.Selection:
    return query.Selection("p_1", streams, time, 60)


def test_heart_rate_summaries_match_the_hand_computed_ones(seeded: Seeded) -> None:
    with query.session(seeded.fhir_url) as conn:
        found = query.observations(conn, _selection(frozenset({"heart_rate"})))
    assert all(isinstance(s, Summary) for s in found)
    got = [
        (int((s.start - T0).total_seconds() // 60), s.count, s.average, s.minimum, s.maximum)
        for s in found
        if isinstance(s, Summary)
    ]
    assert got == EXPECTED_HEART_RATE
    # The unavailable reading of minute 1 is neither counted nor averaged, but its flag is kept;
    # the artefact flag of minute 2 is reported with its period.
    assert [s.quality for s in found if isinstance(s, Summary)] == [
        (),
        ("unavailable",),
        ("artefact",),
    ]
    assert {s.device_id for s in found if isinstance(s, Summary)} == {"hr-1"}  # never p-2's


def test_every_source_contributes_in_sort_order(seeded: Seeded) -> None:
    with query.session(seeded.fhir_url) as conn:
        found = query.observations(conn, _selection(), limit=100)
    assert len(found) == EXPECTED_OBSERVATIONS
    keys = [query.sort_key(r) for r in found]
    assert keys == sorted(keys)
    kinds = {type(r) for r in found}
    assert kinds == {Summary, ReadingRecord, BloodPressureRecord, News2Record}
    panel = next(r for r in found if isinstance(r, BloodPressureRecord))
    assert dict(panel.values) == {
        "systolic_bp": 120.0,
        "diastolic_bp": 80.0,
        "mean_arterial_pressure": 93.0,
    }
    assert [r.time for r in found if isinstance(r, News2Record)] == list(NEWS2_TIMES)
    by_key = {r.key: r for r in found if isinstance(r, Summary) and r.key != "heart_rate"}
    assert (by_key["rr_interval"].count, by_key["rr_interval"].minimum) == (3, 0.8)
    assert by_key["rr_interval"].average == pytest.approx(0.9)
    assert by_key["spo2"].average == 97.5
    assert by_key["energy_expended"].maximum == 30.0


@pytest.mark.parametrize("size", [1, 2, 5, 11])
def test_pages_cover_everything_once(seeded: Seeded, size: int) -> None:
    with query.session(seeded.fhir_url) as conn:
        whole = query.observations(conn, _selection(), limit=100)
        paged = list(query.all_observations(conn, _selection(), page=size))
    assert paged == whole


def test_code_and_time_narrow_the_selection(seeded: Seeded) -> None:
    window = TimeRange(T0 + timedelta(minutes=1), T0 + timedelta(minutes=2))
    with query.session(seeded.fhir_url) as conn:
        found = query.observations(conn, _selection(ALL, window))
        bp_only = query.observations(conn, _selection(frozenset({BLOOD_PRESSURE_STREAM})))
        news2 = query.observations(conn, _selection(frozenset({NEWS2_STREAM})))
    # Minute 1: its heart-rate summary, the BP panel at +60 s, the temperature at +90 s, NEWS2.
    assert sorted(type(r).__name__ for r in found) == [
        "BloodPressureRecord",
        "News2Record",
        "ReadingRecord",
        "Summary",
    ]
    assert [type(r) for r in bp_only] == [BloodPressureRecord]
    assert len(news2) == 2


def test_reads_by_id_return_what_listings_return(seeded: Seeded) -> None:
    from nabd.interop.fhir.ids import parse_observation_id  # noqa: PLC0415

    now = datetime.now(UTC)
    with query.session(seeded.fhir_url) as conn:
        listed = query.observations(conn, _selection(), limit=100)
        for record in listed:
            resource = export.to_resource(record, SYSTEMS, now=now)
            again = query.observation(conn, parse_observation_id(str(resource.id)))
            assert again == record
        with pytest.raises(NotFoundError):
            query.observation(conn, parse_observation_id("s-37ko-0-0-0123456789abcdef"))


def test_alerts_overlapping_the_window(seeded: Seeded) -> None:
    with query.session(seeded.fhir_url) as conn:
        since_t0 = query.alerts(conn, query.Window("p_1", SINCE_T0, START, 10))
        everything = query.alerts(conn, query.Window("p_1", TimeRange(), START, 10))
        assert query.alert(conn, ALERT_OLD).state == "resolved"
    assert [a.id for a in since_t0] == [ALERT_OPEN]
    assert [a.id for a in everything] == [ALERT_OLD, ALERT_OPEN]
    assert since_t0[0].metric_key == "spo2"


def test_devices_of_a_patient(seeded: Seeded) -> None:
    with query.session(seeded.fhir_url) as conn:
        devices = query.devices_of(conn, "p_1")
        other = query.device(conn, "hr-2")
    assert [d.id for d in devices] == ["bpm-1", "hr-1", "plx-1", "scale-1", "thermo-1"]
    assert {d.patient_id for d in devices} == {"p_1"}
    assert (other.patient_id, other.serial) == ("p-2", "C7A2")


def test_identity_only_under_the_identity_role(seeded: Seeded) -> None:
    reader = query.Reader("fhir", "test-client", "Patient/p.1")
    with query.session(seeded.fhir_url) as conn:
        assert query.patient(conn, "p_1", identity=None).identity is None
        # The identity schema is not even visible to nabd_fhir (no USAGE): its reader function
        # is refused, as is the table itself (test below).
        with pytest.raises(errors.InsufficientPrivilege):
            query.patient(conn, "p_1", identity=reader)
    with query.session(seeded.fhir_url, identity=True) as conn:
        person = query.patient(conn, "p_1", identity=reader).identity
    assert person is not None
    assert (person.mrn, person.family_name) == ("MRN-0042", "Haddad")


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("SELECT count(*) FROM observation", True),
        ("SELECT count(*) FROM alert", True),
        ("INSERT INTO audit_log (actor, action, subject) VALUES ('t', 'fhir_read', 'x')", True),
        ("SELECT count(*) FROM identity.patient_identity", False),
        ("SELECT count(*) FROM dead_letter", False),
        ("SELECT count(*) FROM gateway", False),
        ("UPDATE alert SET state = 'resolved'", False),
        ("DELETE FROM observation", False),
        ("INSERT INTO observation_latest (patient_id, metric_id, time, device_id) "
         "VALUES ('p_1', 1, now(), 'hr-1')", False),
    ],
)  # fmt: skip
def test_the_fhir_role_reads_only_what_fhir_exposes(
    seeded: Seeded, statement: str, allowed: bool
) -> None:
    with psycopg.connect(seeded.fhir_url) as conn:
        conn.execute("SET ROLE nabd_fhir")
        if allowed:
            conn.execute(statement)
        else:
            with pytest.raises(errors.InsufficientPrivilege):
                conn.execute(statement)
        conn.rollback()


def test_a_login_without_the_role_is_refused(seeded: Seeded) -> None:
    owner = psycopg.conninfo.conninfo_to_dict(seeded.owner_url)["user"]
    with (
        pytest.raises(FhirConfigError, match="cannot act as nabd_fhir"),
        query.session(seeded.owner_url),
    ):
        pass
    assert owner  # the owner is not a member of nabd_fhir: roles are granted, never implied


def test_export_command_writes_a_valid_audited_bundle(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "p1.json"
    args = ["fhir", "export", "--patient", "p_1", "--since", T0.isoformat(), "--out", str(out),
            "--base-url", "https://fhir.hospital.example/r4"]  # fmt: skip
    before = len(audit_rows(seeded.owner_url, "fhir_export"))
    status = main([*args, "--database-url", seeded.fhir_url, "--actor", "cli:test"])
    assert status == 0
    text = out.read_text(encoding="utf-8")
    assert Bundle.model_validate_json(text).type == "collection"  # the whole file validates
    entries = json.loads(text)["entry"]
    types = [e["resource"]["resourceType"] for e in entries]
    assert types == ["Patient"] + ["Device"] * 5 + ["Observation"] * EXPECTED_OBSERVATIONS + [
        "Flag"
    ]
    patient = entries[0]["resource"]
    assert patient["id"] == "p.1"
    assert "name" not in patient  # pseudonymous unless --identity
    urls = [e["fullUrl"] for e in entries]
    assert len(set(urls)) == len(urls)
    assert all(u.startswith("https://fhir.hospital.example/r4/") for u in urls)
    observations = [
        e["resource"] for e in entries if e["resource"]["resourceType"] == "Observation"
    ]
    height = next(o for o in observations if o["code"]["coding"][0]["code"] == "8302-2")
    assert (height["valueQuantity"]["value"], height["valueQuantity"]["code"]) == (175.0, "cm")
    assert Observation.model_validate(height).valueQuantity is not None
    rows = audit_rows(seeded.owner_url, "fhir_export")
    assert len(rows) == before + 1
    actor, subject, details = rows[-1]
    assert (actor, subject) == ("cli:test", "Patient/p.1")
    assert isinstance(details, dict)
    assert details["identity"] is False


def test_export_with_identity_and_of_an_unknown_patient(seeded: Seeded, tmp_path: Path) -> None:
    out = tmp_path / "p1.json"
    base = ["fhir", "export", "--since", "2026-03-02", "--database-url", seeded.fhir_url,
            "--base-url", "http://127.0.0.1:8080"]  # fmt: skip
    assert main([*base, "--patient", "p_1", "--identity", "--out", str(out)]) == 0
    patient = json.loads(out.read_text(encoding="utf-8"))["entry"][0]["resource"]
    assert patient["name"][0]["family"] == "Haddad"
    assert main([*base, "--patient", "nobody", "--out", str(tmp_path / "x.json")]) == 1


def test_news2_is_skipped_when_the_role_cannot_read_it(seeded: Seeded) -> None:
    with psycopg.connect(seeded.owner_url, row_factory=dict_row) as conn:
        conn.execute("GRANT nabd_fhir, nabd_ingest TO current_user")  # rolled back below
        conn.execute("SET ROLE nabd_fhir")
        assert query.news2_available(conn)
        conn.execute("RESET ROLE")
        conn.execute("SET ROLE nabd_ingest")
        assert not query.news2_available(conn)
        window = query.Window("p_1", SINCE_T0, START, 10)
        assert query.news2_scores(conn, window) == []
        conn.rollback()


def test_a_stored_score_with_no_parameter_exports_no_total(seeded: Seeded) -> None:
    """Issue 20 / migration 0011: a NULL total is exported as no total, never 0 / low."""
    when = NEWS2_TIMES[1] + timedelta(seconds=30)
    with psycopg.connect(seeded.owner_url, row_factory=dict_row) as conn:
        conn.execute(
            """INSERT INTO news2_score (time, patient_id, total, risk, complete, scale2,
                   respiration_rate, spo2, air_or_oxygen, systolic_bp, heart_rate,
                   consciousness, temperature)
               VALUES (%s, 'p_1', NULL, NULL, false, false, -1, -1, -1, -1, -1, -1, -1)""",
            (when,),
        )
        conn.execute("GRANT nabd_fhir TO current_user")  # rolled back below
        conn.execute("SET ROLE nabd_fhir")
        scores = query.news2_scores(conn, query.Window("p_1", SINCE_T0, START, 10))
        conn.rollback()
    (empty,) = [s for s in scores if s.time == when]
    assert (empty.total, empty.risk) == (None, None)
    resource = export.to_resource(empty, SYSTEMS, now=datetime.now(UTC))
    obs = json.loads(resource.model_dump_json())
    assert "valueInteger" not in obs
    assert "interpretation" not in obs
    assert obs["dataAbsentReason"]["coding"][0]["code"] == "not-performed"


def test_a_nurses_entries_export_with_her_as_performer(seeded: Seeded) -> None:
    """Issue 20 item 2: values a nurse measured (nurse_entry) are Observations, a blood
    pressure's two rows one panel, consciousness not exported; ward-scoped callers see only
    their wards' (migration 0035)."""
    from nabd.interop.fhir.ids import parse_observation_id  # noqa: PLC0415

    at = T0 + timedelta(minutes=3)
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ward (id, name) VALUES ('w-nurse', 'Pneumo') ON CONFLICT DO NOTHING"
        )
        conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p-nurse', 'w-nurse')")
        conn.cursor().executemany(
            """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                        entered_by)
               VALUES ('p-nurse', %s, %s, %s, %s + interval '4 h', 'Nurse Ines')""",
            [(k, v, at, at) for k, v in [("respiration_rate", "22"), ("spo2", "93"),
                                         ("systolic_bp", "98"), ("diastolic_bp", "60"),
                                         ("body_temperature", "38.4"), ("consciousness", "A")]]
            + [("pulse_rate", "112", at + timedelta(minutes=1), at + timedelta(minutes=1))],
        )  # fmt: skip
        conn.execute(sql.SQL("GRANT nabd_fhir_ward TO {}").format(sql.Identifier(seeded.fhir_role)))
    selection = query.Selection("p-nurse", ALL, SINCE_T0, 60)
    now = datetime.now(UTC)
    with query.session(seeded.fhir_url) as conn:
        found = query.observations(conn, selection, limit=100)
        paged = list(query.all_observations(conn, selection, page=2))
        resources = [export.to_resource(r, SYSTEMS, now=now) for r in found]
        again = [query.observation(conn, parse_observation_id(str(r.id))) for r in resources]
        bp_only = query.observations(conn, query.Selection(
            "p-nurse", frozenset({BLOOD_PRESSURE_STREAM}), SINCE_T0, 60))  # fmt: skip
    assert [(r.key, dict(r.values)) for r in found if isinstance(r, ManualRecord)] == [
        ("blood_pressure", {"diastolic_bp": 60.0, "systolic_bp": 98.0}),
        ("body_temperature", {"body_temperature": 38.4}),
        ("respiration_rate", {"respiration_rate": 22.0}),
        ("spo2", {"spo2": 93.0}),
        ("pulse_rate", {"pulse_rate": 112.0}),
    ]
    assert paged == found
    assert again == found
    assert [type(r) for r in bp_only] == [ManualRecord]
    for resource in resources:
        obs = json.loads(resource.model_dump_json())
        assert obs["performer"] == [{"display": "Nurse Ines"}]
        assert "device" not in obs
        Observation.model_validate(obs)
    with query.session(seeded.fhir_url, wards=frozenset({"w-nurse"})) as conn:
        mine = query.observations(conn, selection, limit=100)
    with query.session(seeded.fhir_url, wards=frozenset({"w1"})) as conn:
        theirs = query.observations(conn, selection, limit=100)
    assert mine == found
    assert theirs == []
