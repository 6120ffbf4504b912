"""Passwords after the first, over real HTTPS against the real database: a user changes her own
(current password, strength rule, CSRF, audited, her other sessions end) and an admin resets
another's (all her sessions end, she chooses her own at her next sign-in)."""

from __future__ import annotations

import psycopg
import pytest

from nabd.station.i18n import PHRASES
from nabd.station.users import Language, NewUser, Role, add_user
from tests.station.station_kit import PASSWORD, Seeded, Station
from tests.station.test_station_admin import audit_actor, signed_in
from tests.station.test_station_http import client, csrf_of, sign_in

pytestmark = pytest.mark.integration

NEW = "a new long passphrase"


def _add(seeded: Seeded, name: str, lang: Language = Language.FR) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        add_user(conn, NewUser(name=name, display_name=name.title(), role=Role.NURSE,
                               wards=("w1",), password=PASSWORD, lang=lang),
                 by="test-admin")  # fmt: skip


def _hash(seeded: Seeded, name: str) -> tuple[str, bool]:
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            "SELECT password_hash, must_change_password FROM station_user WHERE name = %s", (name,)
        ).fetchone()
    assert row is not None
    return str(row[0]), bool(row[1])


def test_a_nurse_changes_her_password_and_her_other_sessions_end(
    station: Station, seeded: Seeded
) -> None:
    _add(seeded, "nour")
    before, _ = _hash(seeded, "nour")
    with client(station) as here, client(station) as elsewhere:
        sign_in(here, "nour")
        sign_in(elsewhere, "nour")
        token = csrf_of(here.get("/account/password").text)
        form = {"current": PASSWORD, "new": NEW, "again": NEW, "csrf": token}
        refusals = {
            "wrong_current_password": form | {"current": "not my password"},
            "weak_password": form | {"new": "nournournour", "again": "nournournour"},
            "passwords_differ": form | {"again": NEW + "!"},
            "same_password": form | {"new": PASSWORD, "again": PASSWORD},
        }
        for phrase, data in refusals.items():
            reply = here.post("/account/password", data=data)
            assert reply.status_code == 400, phrase
            assert PHRASES[phrase]["fr"].split(":")[0].split("{")[0] in reply.text.replace(
                "&#39;", "'"
            ), phrase
        assert here.post("/account/password", data=form | {"csrf": "forged"}).status_code == 403
        assert _hash(seeded, "nour")[0] == before, "nothing changed by a refusal"

        done = here.post("/account/password", data=form)
        assert done.status_code == 303
        assert "Mot de passe changé" in here.get(done.headers["location"]).text
        assert here.get("/").status_code == 200, "the session she used stays"
        assert elsewhere.get("/").headers.get("location") == "/login", "the other one ends"
    after, must_change = _hash(seeded, "nour")
    assert after.startswith("$argon2id$")
    assert after != before
    assert not must_change
    assert audit_actor(seeded, "station_password_changed", "station_user:nour") == ["nour"]
    with client(station) as c:
        assert sign_in(c, "nour").status_code == 401, "the old password is gone"
        assert sign_in(c, "nour", NEW).status_code == 303


def test_an_admin_resets_a_password_and_the_user_chooses_her_own(
    station: Station, seeded: Seeded
) -> None:
    _add(seeded, "salma", Language.AR)
    with client(station) as salma:
        sign_in(salma, "salma")
        with signed_in(station, "dina", "/admin/users") as (admin, csrf):
            weak = {"name": "salma", "password": "short", "csrf": csrf}
            assert admin.post("/admin/users/password", data=weak).status_code == 400
            temporary = {"name": "salma", "password": "temporary pass 42", "csrf": csrf}
            reset = admin.post("/admin/users/password", data=temporary)
            assert reset.status_code == 303
            assert "Password reset" in admin.get(reset.headers["location"]).text
            other = {"name": "bilal", "password": "temporary pass 42", "csrf": csrf}
            assert admin.post("/admin/users/password", data=other).status_code == 404
        assert salma.get("/").headers.get("location") == "/login", "her sessions ended"
    assert _hash(seeded, "salma")[1], "she must change it"
    assert audit_actor(seeded, "station_password_reset", "station_user:salma") == ["dina"]

    with client(station) as salma:
        assert sign_in(salma, "salma", "temporary pass 42").status_code == 303
        board = salma.get("/")
        assert board.status_code == 303
        assert board.headers["location"] == "/account/password"
        page = salma.get("/account/password").text
        assert PHRASES["must_change_password"]["ar"] in page
        form = {"current": "temporary pass 42", "new": NEW, "again": NEW, "csrf": csrf_of(page)}
        assert salma.post("/account/password", data=form).status_code == 303
        assert salma.get("/").status_code == 200
    assert not _hash(seeded, "salma")[1]
