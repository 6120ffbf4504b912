"""Issue 23, items 2 and 4, end to end on the real stack: every read of a patient's identity is
recorded (nurse station pages over HTTPS, the FHIR API over HTTP, the care commands, exports)
and listed by ``nabd privacy access-log``; ``nabd patient export`` writes a FHIR Bundle and a
summary in the patient's language; ``rectify`` is audited without the values; ``erase`` leaves
no identity anywhere in the database while the pseudonymous data and the audit chain remain.

The tests of this module run in file order on one patient (``p_1`` of the FHIR tests' data):
views, then export, then rectification, then erasure, as a patient's stay and request would.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import re
import secrets
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeAlias

import httpx
import psycopg
import pytest
from fhir.resources.R4B.bundle import Bundle
from psycopg import errors, sql

from nabd.app.cli import main
from nabd.app.db.migrations import apply_migrations
from nabd.app.stack.testing import RunningStack
from nabd.interop.fhir.auth import token_digest
from nabd.interop.fhir.ids import ManualId
from nabd.interop.fhir.settings import FhirSettings, TokenGrant
from nabd.station.users import Language, NewUser, Role, add_user
from tests.fhir import fhir_kit
from tests.fhir.fhir_kit import ALERT_OLD, ALERT_OPEN, Seeded
from tests.fhir.http_kit import Server, serve
from tests.station import station_kit
from tests.station.station_kit import PASSWORD, Station

pytestmark = pytest.mark.integration

FHIR_TOKEN = "rights-identified-0123456789abcdef0123"
NURSE = NewUser(
    name="salma",
    display_name="Salma",
    role=Role.NURSE,
    wards=("w1",),
    password=station_kit.PASSWORD,
    lang=Language.EN,
    sees_identity=True,
)
ADMIN = NewUser(name="rania", display_name="Rania", role=Role.ADMIN, wards=("w1",),
                password=station_kit.PASSWORD, lang=Language.FR, sees_identity=True)  # fmt: skip


@pytest.fixture(scope="module")
def seeded(fresh_database: str) -> Iterator[fhir_kit.Seeded]:
    """The FHIR tests' data, a login in nabd_fhir_identity, and a station user on ward w1."""
    apply_migrations(fresh_database)
    role, password = f"fhir_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(fresh_database) as conn:
        fhir_kit.seed(conn)
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_fhir_identity").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    try:
        yield fhir_kit.Seeded(fresh_database, fhir_kit.login_url(fresh_database, role, password),
                              role)  # fmt: skip
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="module")
def station(nabd_stack: RunningStack, seeded: fhir_kit.Seeded) -> Iterator[station_kit.Station]:
    """The nurse station over HTTPS, its login in nabd_station, a nurse and an admin who see
    names."""
    login, password = f"station_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_station").format(
                sql.Identifier(login), sql.Literal(password)
            )
        )
        add_user(conn, NURSE, by="test-admin")
        add_user(conn, ADMIN, by="test-admin")
    url = station_kit.login_url(seeded.owner_url, login, password)
    try:
        with station_kit.serve(nabd_stack, station_kit.Seeded(seeded.owner_url, url)) as running:
            yield running
    finally:
        with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))


@pytest.fixture(scope="module")
def fhir(seeded: fhir_kit.Seeded) -> Iterator[Server]:
    """The FHIR API over HTTP with one identity-scoped token, ``rights-ehr``."""
    settings = FhirSettings(
        database_url=seeded.fhir_url,
        tokens={"rights-ehr": TokenGrant(sha256=token_digest(FHIR_TOKEN), identity=True)},
    )
    with serve(settings, seeded, FHIR_TOKEN) as running:
        yield running


Run: TypeAlias = Callable[..., tuple[int, str, str]]
DPO = "DPO Karim"


@pytest.fixture
def run(seeded: Seeded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Run:
    """``nabd ARGS`` in-process with the owner's URL in NABD_DATABASE_URL only; returns
    (status, stdout, stderr)."""
    monkeypatch.setenv("NABD_DATABASE_URL", seeded.owner_url)
    monkeypatch.delenv("NABD_CARE_DATABASE_URL", raising=False)

    def nabd(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            status = main(list(args))
        except SystemExit as exc:
            status = int(exc.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return nabd


@contextmanager
def _signed_in(station: Station, user: str = NURSE.name) -> Iterator[httpx.Client]:
    """An HTTPS client of the station, signed in as ``user``."""
    trust = ssl.create_default_context(cafile=str(station.ca_file))
    with httpx.Client(base_url=station.base, verify=trust, timeout=10) as c:
        assert c.post("/login", data={"name": user, "password": PASSWORD}).status_code == 303
        yield c


def _accesses(url: str, patient: str = "p_1") -> list[tuple[str, str, str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT channel, actor, what FROM identity_access WHERE patient_id = %s ORDER BY id",
            (patient,),
        ).fetchall()
    return [(str(c), str(a), str(w)) for c, a, w in rows]


def _audit(url: str, action: str) -> list[tuple[str, str, Any]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT actor, subject, details FROM audit_log WHERE action = %s ORDER BY seq",
            (action,),
        ).fetchall()
    return [(str(a), str(s), d) for a, s, d in rows]


# ---- the access log -----------------------------------------------------------------------------


def test_station_pages_fhir_reads_and_care_commands_are_recorded(
    seeded: Seeded, station: Station, fhir: Server, run: Run
) -> None:
    with _signed_in(station) as client:
        board = client.get("/")
        assert board.status_code == 200
        assert "Amina Haddad" in board.text
        page = client.get("/patients/p_1")
        assert "Amina Haddad" in page.text
        client.get("/")  # a repaint within 5 minutes is not a new access
    with _signed_in(station, ADMIN.name) as client:
        assert "Amina Haddad" in client.get("/admin").text
    patient = fhir.get("/Patient/p.1").resource()
    assert patient.name[0].family == "Haddad"
    status, out, _ = run("patient", "show", "p_1")
    assert (status, "Amina Haddad" in out) == (0, True)

    me = getpass.getuser()
    assert _accesses(seeded.owner_url) == [
        ("station", NURSE.name, "ward board"),
        ("station", NURSE.name, "patient page p_1"),
        ("station", ADMIN.name, "admin page"),
        ("fhir", "rights-ehr", "Patient/p.1"),
        ("cli", me, "nabd patient show"),
    ]
    assert _accesses(seeded.owner_url, "p-2") == []  # no identity, nothing read

    status, out, err = run("privacy", "access-log", "p_1")
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["AT", "PATIENT", "CHANNEL", "WHO", "WHAT"]
    assert [line.split()[2:5] for line in lines[1:]] == [
        ["p_1", "station", NURSE.name],
        ["p_1", "station", NURSE.name],
        ["p_1", "station", ADMIN.name],
        ["p_1", "fhir", "rights-ehr"],
        ["p_1", "cli", me],
    ]
    assert lines[4].endswith("Patient/p.1")
    # The same log by MRN (every admission of the person), as CSV.
    status, out, _ = run("privacy", "access-log", "MRN-0042", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert status == 0
    assert [(r["channel"], r["actor"], r["what"]) for r in rows] == _accesses(seeded.owner_url)
    assert all(r["login"] for r in rows)


def test_identity_cannot_be_read_without_being_recorded(seeded: Seeded, station: Station) -> None:
    """The table is closed to every reading role; the reader refuses roles without identity,
    and a ward-scoped FHIR role gets only its wards' patients."""
    with psycopg.connect(station.seeded.station_url) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT given_name FROM identity.patient_identity")
        conn.rollback()
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier("nabd_su_" + NURSE.name)))
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM identity.read_identities('{p_1}', 'station', 'x', 'y')")
        conn.rollback()
    with psycopg.connect(seeded.owner_url) as conn:
        conn.execute("GRANT nabd_fhir_ward_identity TO current_user")  # rolled back below
        conn.execute("SET ROLE nabd_fhir_ward_identity")
        read = "SELECT family_name FROM identity.read_identities('{p_1}', 'fhir', 't', 'w')"
        conn.execute("SELECT set_config('nabd.fhir_wards', 'w-other', true)")
        assert conn.execute(read).fetchall() == []
        conn.execute("SELECT set_config('nabd.fhir_wards', 'w1', true)")
        assert conn.execute(read).fetchall() == [("Haddad",)]
        with pytest.raises(errors.InvalidParameterValue):
            conn.execute("SELECT * FROM identity.read_identities('{p_1}', 'fax', 't', 'w')")
        conn.rollback()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE identity_access SET actor = 'mallory'", "DELETE FROM identity_access",
     "TRUNCATE identity_access"],
)  # fmt: skip
def test_the_access_log_is_append_only_even_for_the_owner(seeded: Seeded, statement: str) -> None:
    with psycopg.connect(seeded.owner_url) as conn:
        with pytest.raises(errors.InsufficientPrivilege, match="identity_access is append-only"):
            conn.execute(statement)
        conn.rollback()
    assert len(_accesses(seeded.owner_url)) == 5


# ---- export -------------------------------------------------------------------------------------


def test_export_writes_the_bundle_and_a_summary_with_who_accessed(
    seeded: Seeded, run: Run, tmp_path: Path
) -> None:
    with psycopg.connect(seeded.owner_url) as conn:
        entry = conn.execute(
            """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                        entered_by)
               VALUES ('p_1', 'consciousness', 'A', now(), now() + interval '4 hours',
                       'Nurse Ines') RETURNING id"""
        ).fetchone()
        spot = conn.execute(  # a value she measured: exported once, as the FHIR export does
            """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                        entered_by)
               VALUES ('p_1', 'spo2', '93', now(), now() + interval '4 hours', 'Nurse Ines')
               RETURNING id"""
        ).fetchone()
        conn.execute(
            """INSERT INTO consent (patient_id, scope, text_version, collected_at, collected_by)
               VALUES ('p_1', 'remote-monitoring', 'v2-fr', now(), 'Nurse Ines')"""
        )
    assert entry is not None
    assert spot is not None
    out = tmp_path / "export"
    status, stdout, err = run("patient", "export", "p_1", "--out", str(out), "--lang", "en",
                              "--by", DPO)  # fmt: skip
    assert (status, err) == (0, "")
    assert stdout.startswith("p_1: exported ")
    text = (out / "bundle.json").read_text(encoding="utf-8")
    assert Bundle.model_validate_json(text).type == "collection"
    resources = [e["resource"] for e in json.loads(text)["entry"]]
    kinds = [r["resourceType"] for r in resources]
    assert kinds[0] == "Patient"
    assert resources[0]["name"][0]["family"] == "Haddad"
    assert kinds.count("Device") == 5
    assert {r["id"] for r in resources if r["resourceType"] == "Flag"} == {
        str(ALERT_OPEN),
        str(ALERT_OLD),
    }
    observations = [r for r in resources if r["resourceType"] == "Observation"]
    # The FHIR tests' 12 since T0, the reading before T0, the nurse's entry and her SpO2.
    assert len(observations) == 15
    measured = [o for o in observations if o.get("performer") and "valueQuantity" in o]
    assert [(o["id"], o["valueQuantity"]["value"]) for o in measured] == [
        (str(ManualId(int(spot[0]))), 93.0)
    ]
    assert sum("NEWS2" in json.dumps(o["code"]) for o in observations) >= 2
    nurse = next(o for o in observations if o["id"] == f"nurse-entry-{entry[0]}")
    assert (nurse["valueString"], nurse["performer"][0]["display"]) == ("A", "Nurse Ines")
    (consent,) = [r for r in resources if r["resourceType"] == "Consent"]
    assert (consent["status"], consent["policyRule"]["text"]) == (
        "active", "remote-monitoring, text version v2-fr"
    )  # fmt: skip

    page = (out / "summary.html").read_text(encoding="utf-8")
    assert '<html lang="en" dir="ltr">' in page
    for expected in ("Amina Haddad", "MRN-0042", "1948-05-17", "Heart rate", "spo2_low",
                     "Consents", "remote-monitoring", "Who viewed your identity",
                     "nurse station", "rights-ehr", "Nurse Ines", DPO):  # fmt: skip
        assert expected in page, expected
    assert ("export", DPO, "nabd patient export --lang en") in _accesses(seeded.owner_url)
    actor, subject, details = _audit(seeded.owner_url, "subject_access_export")[-1]
    assert (actor, subject, details["resources"]) == (DPO, "patient:p_1", len(resources))


def test_an_arabic_summary_is_right_to_left(run: Run, tmp_path: Path) -> None:
    assert run("patient", "export", "MRN-0042", "--out", str(tmp_path), "--lang", "ar")[0] == 0
    page = (tmp_path / "summary.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in page
    assert "بياناتك في نبض" in page
    assert "من اطلع على هويتك" in page
    assert "Amina Haddad" in page


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (("patient", "export", "nobody", "--out", "{tmp}"), 1, "no patient 'nobody'"),
        (("patient", "export", "p_1", "--out", "{tmp}", "--lang", "de"), 2, "invalid choice"),
        (("privacy", "access-log", "../../etc"), 1, "no patient '../../etc'"),
        (("patient", "rectify", "p_1", "--by", DPO), 2, "nothing to rectify"),
        (("patient", "rectify", "p_1", "--birth-date", "1948-13-01", "--by", DPO), 2,
         "write YYYY-MM-DD"),
        (("patient", "erase", "p_1", "--by", DPO), 2, "add --yes to confirm"),
        (("patient", "erase", "p_1", "--by", DPO, "--yes"), 1, "discharge first"),
        (("patient", "erase", "x'; DROP TABLE patient; --", "--by", DPO, "--yes"), 1,
         "no patient"),
    ],
)  # fmt: skip
def test_bad_requests_are_refused_in_one_line(
    run: Run, tmp_path: Path, args: tuple[str, ...], status: int, message: str
) -> None:
    code, out, err = run(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert (code, out) == (status, "")
    assert message in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) <= 2


def test_rights_need_the_owners_login(seeded: Seeded, run: Run) -> None:
    code, _, err = run("patient", "rectify", "p_1", "--family", "X", "--by", DPO,
                       "--database-url", seeded.fhir_url)  # fmt: skip
    assert (code, "may not change identities" in err) == (1, True)


# ---- rectification and erasure ------------------------------------------------------------------


def test_rectify_changes_the_identity_and_audits_only_the_field_names(
    seeded: Seeded, fhir: Server, run: Run
) -> None:
    status, out, _ = run("patient", "rectify", "p_1", "--family", "Haddad-Bennani", "--by", DPO)
    assert (status, out) == (0, "p_1: rectified family_name (audited without the values)\n")
    assert run("patient", "rectify", "p_1", "--family", "Haddad-Bennani", "--by", DPO)[1] == (
        "p_1: the identity holds these values already; nothing changed\n"
    )
    assert fhir.get("/Patient/p.1").resource().name[0].family == "Haddad-Bennani"
    trail = _audit(seeded.owner_url, "identity_rectified")
    assert trail == [(DPO, "patient:p_1", {"fields": ["family_name"]})]


def test_erasure_leaves_no_identity_and_keeps_the_pseudonymous_record(
    seeded: Seeded, fhir: Server, run: Run, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert run("patient", "discharge", "p_1", "--by", DPO)[0] == 0
    status, out, err = run("patient", "erase", "p_1", "--by", DPO, "--yes")
    assert (status, err) == (0, "")
    assert out.startswith("p_1: identity erased at ")
    remains = dict(re.findall(r"^  (\S.*?)\s{2,}(\d+)$", out, re.MULTILINE))
    assert remains["readings"] != "0"
    assert (remains["NEWS2 scores"], remains["alerts"], remains["nurse entries"],
            remains["consents"]) == ("2", "2", "2", "1")  # fmt: skip
    assert "legal retention period" in out

    # Nothing identifying is left in any table of the database.
    assert _tables_holding(seeded.owner_url, ("Haddad", "MRN-0042", "1948-05-17")) == []
    patient = fhir.get("/Patient/p.1").resource()
    assert patient.name is None
    assert [i.value for i in patient.identifier] == ["p_1"]
    # The chain still verifies, and says an erasure happened without saying what was erased.
    assert main(["-q", "audit", "verify", "--database-url", seeded.owner_url]) == 0
    assert "intact" in capsys.readouterr().out
    assert _audit(seeded.owner_url, "identity_erased") == [
        (DPO, "patient:p_1", {"fields": ["mrn", "given_name", "family_name", "birth_date"]})
    ]
    # The access log names the pseudonym only: it stays listable.
    assert run("privacy", "access-log", "p_1")[1].count("p_1") >= 5
    # Once erased, there is nobody to export, rectify or erase again.
    for args in (("patient", "export", "p_1", "--out", str(tmp_path)),
                 ("patient", "erase", "p_1", "--by", DPO, "--yes"),
                 ("patient", "rectify", "p_1", "--family", "X", "--by", DPO)):  # fmt: skip
        code, _, err = run(*args)
        assert (code, "no identity" in err) == (1, True), err
    assert run("privacy", "access-log", "MRN-0042")[0] == 1  # the MRN names nobody now


def _tables_holding(url: str, values: tuple[str, ...]) -> list[str]:
    """Every table of the database (any schema but the catalogs) with a row whose text
    contains one of ``values``."""
    found = []
    with psycopg.connect(url) as conn:
        tables = conn.execute(
            """SELECT table_schema, table_name FROM information_schema.tables
               WHERE table_type = 'BASE TABLE'
                 AND table_schema NOT IN ('pg_catalog', 'information_schema')
                 AND table_schema NOT LIKE '\\_timescaledb%%'
                 AND table_schema NOT LIKE 'timescaledb%%'"""
        ).fetchall()
        for schema, table in tables:
            name = sql.Identifier(str(schema), str(table))
            for value in values:
                hit = conn.execute(
                    sql.SQL("SELECT 1 FROM {} t WHERE t::text LIKE %s LIMIT 1").format(name),
                    (f"%{value}%",),
                ).fetchone()
                if hit:
                    found.append(f"{schema}.{table}: {value}")
    return found


def test_the_retention_job_alone_removes_old_access_rows(seeded: Seeded, run: Run) -> None:
    """Class ``identity_access``: ``nabd privacy retention apply`` deletes rows older than the
    period through the guard's one opening; recent rows stay, and the guard still refuses
    anyone else."""
    with psycopg.connect(seeded.owner_url) as conn:
        conn.execute(
            """INSERT INTO identity_access (at, patient_id, channel, actor, what, login, db_role)
               VALUES (now() - interval '400 days', 'p_1', 'cli', 'old', 'x', 'nabd', 'nabd')"""
        )
    recent = len(_accesses(seeded.owner_url)) - 1
    assert run("privacy", "retention", "set", "identity_access", "365", "--by", DPO)[0] == 0
    status, _, err = run("privacy", "retention", "apply")
    assert (status, err) == (0, "")
    left = _accesses(seeded.owner_url)
    assert ("cli", "old", "x") not in left
    assert len(left) == recent
    with psycopg.connect(seeded.owner_url) as conn:
        conn.execute("SELECT set_config('nabd.retention_cutoff', '2000-01-01', true)")
        with pytest.raises(errors.InsufficientPrivilege, match="append-only"):
            conn.execute("DELETE FROM identity_access")
        conn.rollback()
