"""The admin and charge-nurse pages over real HTTPS against the real database: allowed and
refused by role, CSRF on every form, every change audited with the signed-in user's name,
another ward's patient not found, the registry's refusals shown as sentences."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.station.station_kit import Seeded, Station
from tests.station.test_station_http import client, csrf_of, sign_in

pytestmark = pytest.mark.integration


@contextmanager
def signed_in(station: Station, name: str, page: str) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in as ``name`` and the CSRF token of ``page``."""
    with client(station) as c:
        assert sign_in(c, name).status_code == 303
        yield c, csrf_of(c.get(page).text)


def audit_actor(seeded: Seeded, action: str, subject: str) -> list[str]:
    with psycopg.connect(seeded.owner_url) as conn:
        rows = conn.execute(
            "SELECT actor FROM audit_log WHERE action = %s AND subject LIKE %s ORDER BY seq",
            (action, subject),
        ).fetchall()
    return [str(r[0]) for r in rows]


def admitted_in(seeded: Seeded, ward: str, bed: str) -> str | None:
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            "SELECT id FROM patient WHERE ward_id = %s AND bed_id = %s AND discharged_at IS NULL",
            (ward, bed),
        ).fetchone()
    return None if row is None else str(row[0])


@pytest.mark.parametrize(
    ("name", "path", "status"),
    [("amina", "/admin", 403), ("chloe", "/admin", 403), ("dina", "/admin", 200),
     ("amina", "/charge", 403), ("chloe", "/charge", 200), ("dina", "/charge", 200)],
)  # fmt: skip
def test_pages_by_role(station: Station, name: str, path: str, status: int) -> None:
    with client(station) as c:
        sign_in(c, name)
        reply = c.get(path)
    assert reply.status_code == status
    assert "Traceback" not in reply.text
    if status == 403:
        assert {"amina": "réservée au rôle", "chloe": "is for the admin role"}[name] in reply.text


def test_a_nurse_cannot_post_an_admin_or_charge_form(station: Station, seeded: Seeded) -> None:
    with signed_in(station, "amina", "/") as (c, csrf):
        admit = {"ward": "w1", "bed": "16", "mrn": "N-1", "name": "Ali Ben", "csrf": csrf}
        assert c.post("/admin/admit", data=admit).status_code == 403
        limit = {"target": "ward:w1", "metric": "heart_rate", "high": "99", "csrf": csrf}
        assert c.post("/charge/limits", data=limit).status_code == 403
    assert admitted_in(seeded, "w1", "16") is None
    assert audit_actor(seeded, "threshold_change", "ward:w1:%") == []


@pytest.mark.parametrize(
    ("path", "form"),
    [("/admin/admit", {"ward": "w1", "bed": "16", "mrn": "C-1", "name": "No Token"}),
     ("/admin/discharge", {"patient": "p-a"}),
     ("/admin/devices", {"device": "csrf-dev", "kind": "pulse_oximeter",
                         "address": "F0:F1:F2:F3:F4:99"}),
     ("/charge/scale", {"patient": "p-a", "scale": "2"})],
)  # fmt: skip
def test_a_form_without_its_csrf_token_is_refused(
    station: Station, seeded: Seeded, path: str, form: dict[str, str]
) -> None:
    with signed_in(station, "dina", "/admin") as (c, csrf):
        assert c.post(path, data=form).status_code == 403
        assert c.post(path, data=form | {"csrf": csrf + "x"}).status_code == 403
    assert admitted_in(seeded, "w1", "16") is None
    assert admitted_in(seeded, "w1", "12") == "p-a"
    with psycopg.connect(seeded.owner_url) as conn:
        assert conn.execute("SELECT 1 FROM device WHERE id = 'csrf-dev'").fetchone() is None


def test_an_admin_admits_assigns_transfers_and_discharges(station: Station, seeded: Seeded) -> None:
    with signed_in(station, "dina", "/admin") as (c, csrf):
        reply = c.post("/admin/admit", data={"ward": "w1", "bed": "14", "mrn": "MRN-77",
                                             "name": "Salma Idrissi", "birth_date": "1950-03-04",
                                             "csrf": csrf})  # fmt: skip
        assert reply.status_code == 303
        assert reply.headers["location"] == "/admin?done=admit"
        patient = admitted_in(seeded, "w1", "14")
        assert patient is not None
        assert "Patient admitted." in c.get("/admin?done=admit").text
        assert "Salma Idrissi" in c.get("/").text  # her board shows the new patient
        device = {"device": "ox-77", "kind": "pulse_oximeter", "address": "f0:f1:f2:f3:f4:77"}
        assert c.post("/admin/devices", data=device | {"csrf": csrf}).status_code == 303
        assign = {"device": "ox-77", "patient": patient, "csrf": csrf}
        assert c.post("/admin/assign", data=assign).status_code == 303
        assert 'data-device="ox-77"' in c.get("/admin").text
        moved = {"patient": patient, "ward": "w1", "bed": "15", "csrf": csrf}
        assert c.post("/admin/transfer", data=moved).status_code == 303
        assert admitted_in(seeded, "w1", "15") == patient
        assert c.post("/admin/unassign", data={"device": "ox-77", "csrf": csrf}).status_code == 303
        assert c.post("/admin/assign", data=assign).status_code == 303
        out = {"patient": patient, "csrf": csrf}
        assert c.post("/admin/discharge", data=out).status_code == 303
    assert admitted_in(seeded, "w1", "15") is None
    subject = f"patient:{patient}"
    for action in ("patient_admitted", "patient_transferred", "patient_discharged"):
        assert audit_actor(seeded, action, subject) == ["dina"], action
    assert audit_actor(seeded, "device_added", "device:ox-77") == ["dina"]
    with psycopg.connect(seeded.owner_url) as conn:
        by = conn.execute(
            "SELECT assigned_by, ended_by FROM device_assignment WHERE device_id = 'ox-77'"
            " ORDER BY lower(valid)"
        ).fetchall()
    assert by == [("dina", "dina"), ("dina", "dina")]  # the discharge ended the second


@pytest.mark.parametrize(
    ("path", "form"),
    [("/admin/discharge", {"patient": "p-b"}),
     ("/admin/transfer", {"patient": "p-b", "ward": "w1", "bed": "16"}),
     ("/admin/transfer", {"patient": "p-a", "ward": "w2", "bed": "3"}),
     ("/admin/admit", {"ward": "w2", "bed": "3", "mrn": "X-9", "name": "Other Ward"}),
     ("/admin/assign", {"device": "dev-x", "patient": "p-b"}),
     ("/charge/limits", {"target": "ward:w2", "metric": "spo2", "low": "85"}),
     ("/charge/limits", {"target": "patient:p-b", "metric": "spo2", "low": "85"}),
     ("/charge/scale", {"patient": "p-b", "scale": "2"})],
)  # fmt: skip
def test_another_wards_patient_or_ward_is_not_found(
    station: Station, seeded: Seeded, path: str, form: dict[str, str]
) -> None:
    with signed_in(station, "dina", "/admin") as (c, csrf):  # dina: admin of w1 only
        reply = c.post(path, data=form | {"csrf": csrf})
        assert "p-b" not in c.get("/admin").text
    assert reply.status_code == 404
    assert "Traceback" not in reply.text
    assert '"detail"' not in reply.text  # no pydantic dump
    assert 'class="notice' in reply.text or reply.status_code == 303
    assert admitted_in(seeded, "w2", "3") == "p-b"
    assert admitted_in(seeded, "w1", "12") == "p-a"


@pytest.mark.parametrize(
    ("form", "status", "words"),
    [({"ward": "w1", "bed": "12", "mrn": "Z-1", "name": "Bed Taken"}, 409, "bed"),
     ({"ward": "w1", "bed": "16", "mrn": "MRN-1", "name": "Same Person"}, 409, "MRN"),
     ({"ward": "w1", "bed": "16", "mrn": "Z-2", "name": "Late Born",
       "birth_date": "2999-01-01"}, 400, "birth date"),
     ({"ward": "w1", "bed": "16", "mrn": "bad mrn!", "name": "A B"}, 400, "MRN")],
)  # fmt: skip
def test_a_registry_refusal_is_a_sentence_in_the_page(
    station: Station, seeded: Seeded, form: dict[str, str], status: int, words: str
) -> None:
    with signed_in(station, "dina", "/admin") as (c, csrf):
        reply = c.post("/admin/admit", data=form | {"csrf": csrf})
    assert reply.status_code == status
    assert 'class="notice error"' in reply.text
    assert words in reply.text
    assert "Traceback" not in reply.text
    assert "constraint" not in reply.text
    assert admitted_in(seeded, "w1", "16") is None


def test_an_mrn_admitted_in_another_ward_does_not_say_where(
    station: Station, seeded: Seeded
) -> None:
    form = {"ward": "w1", "bed": "16", "mrn": "MRN-2", "name": "Youssef Alami"}  # p-b's, in w2
    with signed_in(station, "dina", "/admin") as (c, csrf):
        reply = c.post("/admin/admit", data=form | {"csrf": csrf})
    assert reply.status_code == 409
    assert "already admitted in another ward" in reply.text
    for secret in ("p-b", "w2", "Pneumo"):
        assert secret not in reply.text
    assert admitted_in(seeded, "w1", "16") is None


def test_a_missing_or_too_long_field_is_a_sentence(station: Station) -> None:
    with signed_in(station, "dina", "/admin") as (c, csrf):
        missing = c.post("/admin/admit", data={"ward": "w1", "csrf": csrf})
        long = c.post("/admin/discharge", data={"patient": "p" * 500, "csrf": csrf})
    for reply in (missing, long):
        assert reply.status_code == 400
        assert "This form was refused" in reply.text
        assert "Traceback" not in reply.text
        assert '"detail"' not in reply.text
    assert "bed" in missing.text
    assert "mrn" in missing.text


def test_a_charge_nurse_sets_limits_and_the_news2_scale(station: Station, seeded: Seeded) -> None:
    with signed_in(station, "chloe", "/charge") as (c, csrf):
        limit = {"target": "ward:w1", "metric": "heart_rate", "low": "45", "high": "off"}
        assert c.post("/charge/limits", data=limit | {"csrf": csrf}).status_code == 303
        mine = {"target": "patient:p-a", "metric": "spo2", "low": "86", "csrf": csrf}
        assert c.post("/charge/limits", data=mine).status_code == 303
        page = c.get("/charge?done=limit").text
        assert "Alarm limit saved." in page
        assert "chloe" in page
        scale = {"patient": "p-a", "scale": "2", "csrf": csrf}
        assert c.post("/charge/scale", data=scale).status_code == 303
        clear = {"target": "patient:p-a", "metric": "spo2", "csrf": csrf}
        assert c.post("/charge/limits/clear", data=clear).status_code == 303
        bad = {"target": "ward:w1", "metric": "heart_rate", "low": "90", "high": "80"}
        reply = c.post("/charge/limits", data=bad | {"csrf": csrf})
        assert reply.status_code == 409
        assert "must be below" in reply.text
        wrong = c.post("/charge/limits", data=bad | {"low": "lots", "csrf": csrf})
        assert wrong.status_code == 400
        assert "number" in wrong.text
    with psycopg.connect(seeded.owner_url) as conn:
        hr = conn.execute(
            "SELECT low, high, set_by FROM alarm_limit WHERE ward_id = 'w1'"
            " AND metric = 'heart_rate'"
        ).fetchone()
        assert conn.execute("SELECT news2_scale2 FROM patient WHERE id = 'p-a'").fetchone() == (
            True,
        )
    assert hr == (45.0, float("inf"), "chloe")
    assert audit_actor(seeded, "threshold_change", "ward:w1:heart_rate") == ["chloe"]
    assert audit_actor(seeded, "threshold_change", "patient:p-a:spo2") == ["chloe", "chloe"]
    assert audit_actor(seeded, "news2_scale_change", "patient:p-a") == ["chloe"]


_ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
_FORMS = {
    "/admin/admit": ("ward", "bed", "mrn", "name", "birth_date"),
    "/admin/transfer": ("patient", "ward", "bed"),
    "/admin/discharge": ("patient",),
    "/admin/devices": ("device", "kind", "address", "serial"),
    "/admin/assign": ("device", "patient"),
    "/admin/unassign": ("device",),
    "/charge/limits": ("target", "metric", "low", "high"),
    "/charge/limits/clear": ("target", "metric"),
    "/charge/scale": ("patient", "scale"),
}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.sampled_from(sorted(_FORMS)), values=st.lists(_ANY_TEXT, min_size=5, max_size=5))
def test_any_form_value_gets_a_sentence_never_a_trace(
    station: Station, seeded: Seeded, path: str, values: list[str]
) -> None:
    """Whatever an admin types (or a script sends), the answer is a page with a sentence: done,
    malformed, not found or refused, never a server error; p-b (another ward) stays put."""
    with signed_in(station, "dina", "/admin") as (c, csrf):
        form = dict(zip(_FORMS[path], values, strict=False)) | {"csrf": csrf}
        reply = c.post(path, data=form)
    assert reply.status_code in {303, 400, 404, 409}, reply.text
    assert "Traceback" not in reply.text
    assert '"detail"' not in reply.text  # no pydantic dump
    assert 'class="notice' in reply.text or reply.status_code == 303
    assert admitted_in(seeded, "w2", "3") == "p-b"
