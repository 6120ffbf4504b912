"""The nurse station over real HTTPS against the real database: sign-in, ward scope enforced by
row-level security, CSRF, nurses' actions audited with their name, refusals in words."""

from __future__ import annotations

import html
import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

from nabd.app.stack.testing import RunningStack
from nabd.station.i18n import PHRASES, Translator
from nabd.station.users import Language
from tests.station.station_kit import PASSWORD, Seeded, Station, raise_alert, serve

pytestmark = pytest.mark.integration


@contextmanager
def client(station: Station) -> Iterator[httpx.Client]:
    trust = ssl.create_default_context(cafile=str(station.ca_file))
    with httpx.Client(base_url=station.base, verify=trust, timeout=10) as c:
        yield c


def sign_in(c: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    return c.post("/login", data={"name": name, "password": password})


def csrf_of(page: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "no CSRF token in the page"
    return match.group(1)


def test_pages_need_a_session(station: Station) -> None:
    with client(station) as c:
        for path in ("/", "/board/rows", "/patients/p-a"):
            reply = c.get(path)
            assert reply.status_code == 303
            assert reply.headers["location"] == "/login"


def test_the_session_cookie_is_secure_httponly_strict(station: Station) -> None:
    with client(station) as c:
        reply = sign_in(c, "amina")
        assert reply.status_code == 303
        cookie = reply.headers["set-cookie"].lower()
        assert "httponly" in cookie
        assert "secure" in cookie
        assert "samesite=strict" in cookie
        assert "default-src 'self'" in c.get("/").headers["content-security-policy"]


@pytest.mark.parametrize(("name", "password"), [("amina", "wrong password"), ("nobody", PASSWORD)])
def test_a_wrong_user_or_password_gets_one_message(
    station: Station, name: str, password: str
) -> None:
    with client(station) as c:
        reply = sign_in(c, name, password)
    assert reply.status_code == 401
    assert html.escape(PHRASES["sign_in_refused"]["fr"]) in reply.text  # no Accept-Language
    assert "Traceback" not in reply.text


def test_repeated_failures_lock_the_account(station: Station, seeded: Seeded) -> None:
    with client(station) as c:
        for _ in range(5):
            assert sign_in(c, "chloe", "not her password").status_code == 401
        reply = sign_in(c, "chloe")  # the right password, but locked now
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute("UPDATE station_user SET locked_until = NULL, failed_logins = 0")
    assert reply.status_code == 401
    assert "verrouillé" in reply.text  # before sign-in: the browser's language, else French


def test_a_nurse_sees_only_her_ward(station: Station) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        board = c.get("/")
        assert board.status_code == 200
        assert "p-a" in board.text
        assert "lit 12" in board.text
        assert "p-b" not in board.text
        assert "Fatima" not in board.text  # she is not allowed identities
        for path in ("/patients/p-b", "/patients/p-nope"):
            reply = c.get(path)
            assert reply.status_code == 404
            assert "dans vos services" in reply.text  # her language


def test_identity_only_for_users_allowed_it(station: Station) -> None:
    with client(station) as c:
        sign_in(c, "chloe")
        board = c.get("/").text
    assert "Fatima Zahra" in board
    assert "Youssef Alami" in board


def test_a_form_without_its_csrf_token_is_refused(station: Station, seeded: Seeded) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "high", "SpO2 88 %")
    with client(station) as c:
        sign_in(c, "amina")
        for data in ({}, {"csrf": "forged"}):
            reply = c.post(f"/alerts/{alert}/ack", data=data)
            assert reply.status_code == 403
            assert "rechargez la page" in reply.text  # in her language (French)
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute("SELECT state FROM alert WHERE id = %s", (alert,)).fetchone()
    assert row == ("raised",)


def test_acknowledge_is_audited_and_a_second_nurse_sees_who(
    station: Station, seeded: Seeded
) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "high", "SpO2 87 %")
    with client(station) as amina, client(station) as chloe:
        sign_in(amina, "amina")
        sign_in(chloe, "chloe")
        page_a, page_c = amina.get("/patients/p-a").text, chloe.get("/patients/p-a").text
        first = amina.post(f"/alerts/{alert}/ack", data={"csrf": csrf_of(page_a)})
        assert first.status_code == 303
        second = chloe.post(f"/alerts/{alert}/ack", data={"csrf": csrf_of(page_c)})
    assert second.status_code == 409
    assert "Already acknowledged by amina" in second.text
    with psycopg.connect(seeded.owner_url) as conn:
        state = conn.execute(
            "SELECT state, acknowledged_by FROM alert WHERE id = %s", (alert,)
        ).fetchone()
        audit = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'alert_acknowledged'"
            " AND subject = 'alert:' || %s",
            (alert,),
        ).fetchall()
    assert state == ("acknowledged", "amina")
    assert audit == [("amina",)]


def test_an_alert_of_another_ward_cannot_be_touched(station: Station, seeded: Seeded) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-b", "critical", "HR 30")
    with client(station) as c:
        sign_in(c, "amina")
        token = csrf_of(c.get("/").text)
        ack = c.post(f"/alerts/{alert}/ack", data={"csrf": token})
        silence = c.post(
            f"/alerts/{alert}/silence", data={"csrf": token, "minutes": "5", "reason": "x"}
        )
        record = c.post("/patients/p-b/observations", data={"csrf": token, "acvpu": "A"})
    assert [r.status_code for r in (ack, silence, record)] == [404, 404, 404]
    with psycopg.connect(seeded.owner_url) as conn:
        assert conn.execute("SELECT state FROM alert WHERE id = %s", (alert,)).fetchone() == (
            "raised",
        )
        assert conn.execute("SELECT count(*) FROM nurse_entry").fetchone() == (0,)


def test_silence_keeps_the_reason_in_the_audit(station: Station, seeded: Seeded) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        alert = raise_alert(conn, "p-a", "medium", "Temp 38.4")
    with client(station) as c:
        sign_in(c, "amina")
        token = csrf_of(c.get("/patients/p-a").text)
        reply = c.post(
            f"/alerts/{alert}/silence",
            data={"csrf": token, "minutes": "10", "reason": "patient in the shower"},
        )
    assert reply.status_code == 303
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            "SELECT actor, details->>'reason' FROM audit_log WHERE action = 'alert_silenced'"
            " AND subject = 'alert:' || %s",
            (alert,),
        ).fetchone()
    assert row == ("amina", "patient in the shower")


def test_a_nurse_records_a_counted_rate_consciousness_and_oxygen(
    station: Station, seeded: Seeded
) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        token = csrf_of(c.get("/patients/p-a").text)
        bad = c.post("/patients/p-a/observations", data={"csrf": token, "acvpu": "Z"})
        bad_rr = [
            c.post("/patients/p-a/observations", data={"csrf": token, "rr": rr})
            for rr in ("151", "-1", "18.5", "١٨", "abc")
        ]
        empty = c.post("/patients/p-a/observations", data={"csrf": token, "rr": " "})
        good = c.post(
            "/patients/p-a/observations",
            data={"csrf": token, "acvpu": "V", "oxygen": "oxygen", "rr": "22"},
        )
        shown = c.get(good.headers["location"]).text
    assert bad.status_code == 400
    assert "l'une de A, C, V, P, U" in html.unescape(bad.text)
    assert [r.status_code for r in bad_rr] == [400] * 5
    assert all("nombre entier de respirations/min de 0 à 150" in r.text for r in bad_rr)
    assert 'name="rr"' in bad_rr[0].text  # her patient's page, the form still there
    assert empty.status_code == 400
    assert "Rien à enregistrer" in empty.text
    assert good.status_code == 303
    assert "Observations enregistrées" in shown
    assert "compté par amina" in shown  # the counted rate, on the page at once
    with psycopg.connect(seeded.owner_url) as conn:
        rows = conn.execute(
            "SELECT parameter, value, entered_by FROM nurse_entry WHERE patient_id = 'p-a'"
            " ORDER BY parameter"
        ).fetchall()
    assert rows == [
        ("consciousness", "V", "amina"),
        ("respiration_rate", "22", "amina"),
        ("supplemental_oxygen", "oxygen", "amina"),
    ]


def test_arabic_pages_are_right_to_left(station: Station) -> None:
    with client(station) as c:
        sign_in(c, "bilal")
        page = c.get("/").text
    assert '<html lang="ar" dir="rtl">' in page
    assert "لوحة المصلحة" in page
    assert "p-b" in page


def test_an_idle_session_ends(nabd_stack: RunningStack, seeded: Seeded) -> None:
    with serve(nabd_stack, seeded, idle_timeout_s=1.0) as short, client(short) as c:
        sign_in(c, "amina")
        assert c.get("/").status_code == 200
        time.sleep(1.5)
        assert c.get("/").headers.get("location") == "/login"


def test_sign_out_ends_the_session(station: Station) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        token = csrf_of(c.get("/").text)
        assert c.post("/logout", data={"csrf": token}).status_code == 303
        assert c.get("/").headers.get("location") == "/login"


def test_every_phrase_exists_in_three_languages() -> None:
    for key, texts in PHRASES.items():
        assert set(texts) == {"en", "fr", "ar"}, key
    for lang in Language:
        t = Translator(lang)
        assert all(t(key) for key in ("risk_high", "state_raised", "col_news2"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(path=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40))
def test_any_patient_or_alert_id_gets_a_page_not_a_trace(station: Station, path: str) -> None:
    with client(station) as c:
        sign_in(c, "amina")
        token = csrf_of(c.get("/").text)
        quoted = quote(path, safe="")
        for reply in (
            c.get(f"/patients/{quoted}"),
            c.post(f"/alerts/{quoted}/ack", data={"csrf": token}),
        ):
            assert reply.status_code in {303, 307, 400, 404, 405}, reply.text
            assert "Traceback" not in reply.text


def _news2_cell(page: str) -> str:
    match = re.search(r"<dt>NEWS2</dt><dd>(.*?)</dd>", page, re.DOTALL)
    assert match, "no NEWS2 on the patient page"
    return match.group(1)


def test_news2_says_what_is_missing_and_shows_no_score_as_none(
    station: Station, seeded: Seeded
) -> None:
    """Issue 20: an incomplete score names its missing parameters; no parameter is no score."""
    columns = """(time, patient_id, total, risk, complete, scale2, respiration_rate, spo2,
                  air_or_oxygen, systolic_bp, heart_rate, consciousness, temperature)"""
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        # p-a: pulse 118 -> 2, SpO2 89 -> 3; five parameters missing.
        conn.execute(
            f"INSERT INTO news2_score {columns}"  # noqa: S608 - constant text
            " VALUES (now(), 'p-a', 5, 'medium', false, false, -1, 3, -1, -1, 2, -1, -1)"
        )
        conn.execute(
            f"INSERT INTO news2_score {columns}"  # noqa: S608 - constant text
            " VALUES (now(), 'p-b', NULL, NULL, false, false, -1, -1, -1, -1, -1, -1, -1)"
        )
    with client(station) as c:
        sign_in(c, "chloe")  # English, both wards
        incomplete = _news2_cell(c.get("/patients/p-a").text)
        nothing = _news2_cell(c.get("/patients/p-b").text)
    assert "5+" in incomplete
    assert "(missing: respiratory rate, air/O2, systolic BP, consciousness, temperature)" in re.sub(
        r"\s+", " ", incomplete
    ), incomplete
    assert "SpO2" not in incomplete
    assert "pulse" not in incomplete
    assert "\u2013" in nothing  # the en dash of "no value"
    assert "0" not in nothing
    assert "Low" not in nothing


def test_a_counted_respiratory_rate_is_shown_with_who_counted_it(
    station: Station, seeded: Seeded
) -> None:
    """Issue 20 item 2: a nurse's count (no device measures p-b's respiration) shows as manual."""
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO nurse_entry (patient_id, parameter, value, observed_at, valid_until,
                                        entered_by)
               VALUES ('p-b', 'respiration_rate', '22', now(), now() + interval '4 h',
                       'Nurse Ines')"""
        )
    with client(station) as c:
        sign_in(c, "chloe")  # English, both wards
        page = re.sub(r"\s+", " ", c.get("/patients/p-b").text)
    assert re.search(r'<span class="value">22</span>.*?counted by Nurse Ines', page), page


def test_a_nurses_spot_values_are_refused_or_recorded_and_shown_as_hers(
    station: Station, seeded: Seeded
) -> None:
    """Issue 20 item 2: SpO2, pulse, blood pressure and temperature measured at the bedside,
    refused in her language when implausible, then shown with who entered them."""
    bad = {
        "spo2": {"spo2": "9"},
        "pulse": {"pulse": "400"},
        "bp_alone": {"sbp": "120"},
        "bp_upside_down": {"sbp": "80", "dbp": "120"},
        "temp": {"temp": "375"},
    }
    with client(station) as c:
        sign_in(c, "bilal")  # Arabic, ward w2
        token = csrf_of(c.get("/patients/p-b").text)
        refused = {
            name: c.post("/patients/p-b/observations", data={"csrf": token, **form})
            for name, form in bad.items()
        }
        good = c.post(
            "/patients/p-b/observations",
            data={
                "csrf": token,
                "spo2": "94",
                "pulse": "88",
                "sbp": "132",
                "dbp": "84",
                "temp": "37,9",
            },  # fmt: skip  (a decimal comma, as written on French wards)
        )
    with client(station) as c:
        sign_in(c, "chloe")  # English, both wards
        page = re.sub(r"\s+", " ", c.get("/patients/p-b").text)
    arabic = Translator(Language.AR)
    assert {n: r.status_code for n, r in refused.items()} == dict.fromkeys(bad, 400)
    for name, phrase in [("spo2", "bad_spo2"), ("pulse", "bad_pulse"), ("bp_alone", "bad_bp"),
                         ("bp_upside_down", "bad_bp"), ("temp", "bad_temp")]:  # fmt: skip
        assert arabic(phrase) in html.unescape(refused[name].text), name
        assert "Traceback" not in refused[name].text
    assert good.status_code == 303
    with psycopg.connect(seeded.owner_url) as conn:
        rows = conn.execute(
            "SELECT parameter, value, entered_by FROM nurse_entry WHERE patient_id = 'p-b'"
            " AND parameter <> 'respiration_rate' ORDER BY parameter"
        ).fetchall()
    assert rows == [
        ("body_temperature", "37.9", "bilal"),
        ("diastolic_bp", "84", "bilal"),
        ("pulse_rate", "88", "bilal"),
        ("spo2", "94", "bilal"),
        ("systolic_bp", "132", "bilal"),
    ]
    # The nurse's values are the freshest (the pulse is newer than the strap's 30 s old 64).
    for value, key in [("94", "spo2"), ("88", "heart_rate"), ("132/84", "systolic_bp"),
                       ("37.9", "body_temperature")]:  # fmt: skip
        pattern = rf'<span class="value">{re.escape(value)}</span>[^<]*<small class="age">[^<]*'
        pattern += rf'</small> ?<small class="manual" data-manual="{key}">entered by bilal'
        assert re.search(pattern, page), (key, page)


def test_numbers_are_written_in_her_locale(station: Station, seeded: Seeded) -> None:
    """A decimal comma in French and Arabic (Morocco: Western digits), a point in English."""
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO observation_latest (patient_id, metric_id, time, value, device_id)
               SELECT p, m.id, now(), 37.5, 'dev-' || p FROM metric m,
                      (VALUES ('p-a'), ('p-b')) AS s(p) WHERE m.key = 'body_temperature'
               ON CONFLICT (patient_id, metric_id) DO UPDATE SET value = 37.5, time = now()"""
        )
    shown = {}
    for name, patient in (("amina", "p-a"), ("bilal", "p-b"), ("chloe", "p-b")):
        with client(station) as c:
            sign_in(c, name)
            shown[name] = c.get(f"/patients/{patient}").text
    assert '<span class="value">37,5</span>' in shown["amina"]  # French
    assert '<span class="value">37,5</span>' in shown["bilal"]  # Arabic, Moroccan usage
    assert '<span class="value">37.5</span>' in shown["chloe"]  # English
    assert "٣" not in shown["bilal"], "no Arabic-Indic digits"


def test_an_alert_reads_in_each_nurses_language_from_its_facts(
    station: Station, seeded: Seeded
) -> None:
    facts = {"condition": "spo2_low", "value": 86.0, "unit": "%", "limit": 90.0, "duration_s": 90}
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        ids = [raise_alert(conn, p, "high", "SpO2 low: 86 % for 90 s (limit 90 %)") for p in
               ("p-a", "p-b")]  # fmt: skip
        conn.execute("UPDATE alert SET facts = %s WHERE id = ANY(%s::uuid[])", (Jsonb(facts), ids))
    try:
        seen = {}
        for name in ("amina", "chloe", "bilal"):
            with client(station) as c:
                sign_in(c, name)
                seen[name] = c.get("/").text
        assert "SpO2 basse : 86 % depuis 90 s (seuil 90 %)" in seen["amina"]
        assert "SpO2 low: 86 % for 90 s (limit 90 %)" in seen["chloe"]
        assert "انخفاض تشبع الأكسجين SpO2: 86 % منذ 90 ثانية (الحد 90 %)" in seen["bilal"]
    finally:
        with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE alert SET state = 'resolved', resolved_at = now()"
                " WHERE id = ANY(%s::uuid[])",
                (ids,),
            )
