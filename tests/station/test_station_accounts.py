"""The admin's users and gateways pages over real HTTPS, the real database and the local
stack's CA and broker: users added, changed and disabled within her wards; a gateway
provisioned (its folder downloaded once), serving beds, revoked; every change audited with her
name; another ward's user, ward or gateway not found; refusals as sentences in the page."""

from __future__ import annotations

import html
import io
import tomllib
import zipfile
from collections.abc import Iterator

import psycopg
import pytest

from nabd.app.cli import main
from nabd.app.gateway_bundle import LocalStackIssuer
from nabd.app.stack.errors import StackError
from nabd.app.stack.lifecycle import environment
from nabd.app.stack.testing import RunningStack
from nabd.station.i18n import PHRASES
from tests.station.station_kit import PASSWORD, Seeded, Station, serve
from tests.station.test_station_admin import audit_actor, signed_in
from tests.station.test_station_http import client, sign_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def station(nabd_stack: RunningStack, seeded: Seeded) -> Iterator[Station]:
    """The station with the local stack's CA as its issuer of gateway credentials."""
    with serve(nabd_stack, seeded, issuer=LocalStackIssuer(nabd_stack.settings)) as running:
        yield running


def _user(name: str, ward: str = "w1", **more: str) -> dict[str, object]:
    form: dict[str, object] = {"name": name, "display_name": name.title(), "role": "nurse",
                               "ward": [ward], "password": PASSWORD, "lang": "en"}  # fmt: skip
    return form | more


def test_an_admin_adds_a_nurse_who_then_signs_in(station: Station, seeded: Seeded) -> None:
    with signed_in(station, "dina", "/admin/users") as (c, csrf):
        added = c.post("/admin/users/add", data=_user("emma") | {"csrf": csrf})
        page = c.get(added.headers["location"]).text
        taken = c.post("/admin/users/add", data=_user("emma") | {"csrf": csrf})
        short = c.post("/admin/users/add", data=_user("fanny", password="short") | {"csrf": csrf})
        elsewhere = c.post("/admin/users/add", data=_user("gina", ward="w2") | {"csrf": csrf})
    assert added.status_code == 303
    assert "User added." in page
    assert 'data-user="emma"' in page
    assert taken.status_code == 400
    assert "This user name is taken" in taken.text  # the admin's language (English)
    assert short.status_code == 400
    assert "at least 10 characters" in short.text
    assert elsewhere.status_code == 404  # w2 is not hers: not there
    assert audit_actor(seeded, "station_user_added", "station_user:emma") == ["dina"]
    with client(station) as c:
        assert sign_in(c, "emma").status_code == 303
        assert "p-a" in c.get("/").text


def test_an_admin_disables_a_user_and_her_session_ends(station: Station, seeded: Seeded) -> None:
    with signed_in(station, "dina", "/admin/users") as (c, csrf):
        c.post("/admin/users/add", data=_user("hana") | {"csrf": csrf})
    with client(station) as hana:
        assert sign_in(hana, "hana").status_code == 303
        assert hana.get("/").status_code == 200
        with signed_in(station, "dina", "/admin/users") as (c, csrf):
            change = {"name": "hana", "role": "charge_nurse", "ward": ["w1"], "access": "disabled"}
            changed = c.post("/admin/users/change", data=change | {"csrf": csrf})
        assert changed.status_code == 303
        assert hana.get("/").headers["location"] == "/login"  # her session ended at once
        assert sign_in(hana, "hana").status_code == 401
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            "SELECT role, disabled_at IS NOT NULL FROM station_user WHERE name = 'hana'"
        ).fetchone()
    assert row == ("charge_nurse", True)
    assert audit_actor(seeded, "station_user_changed", "station_user:hana") == ["dina"]


def test_an_admin_changes_only_users_all_of_whose_wards_are_hers(station: Station) -> None:
    with signed_in(station, "dina", "/admin/users") as (c, csrf):
        page = c.get("/admin/users").text
        base = {"role": "nurse", "ward": ["w1"], "access": "disabled", "csrf": csrf}
        chloe = c.post("/admin/users/change", data=base | {"name": "chloe"})  # w1 and w2
        bilal = c.post("/admin/users/change", data=base | {"name": "bilal"})  # w2 only
        herself = c.post("/admin/users/change", data=base | {"name": "dina"})
        no_ward = c.post("/admin/users/change", data=base | {"name": "amina", "ward": []})
    assert 'data-user="chloe"' in page  # shares w1: listed, not changeable
    assert 'data-user="bilal"' not in page
    assert [r.status_code for r in (chloe, bilal, herself, no_ward)] == [404, 404, 403, 400]
    assert "at least one ward" in no_ward.text


def test_an_admin_provisions_a_gateway_and_downloads_its_folder_once(
    nabd_stack: RunningStack, station: Station, seeded: Seeded
) -> None:
    with signed_in(station, "dina", "/admin/gateways") as (c, csrf):
        provisioned = c.post(
            "/admin/gateways/provision",
            data={"gateway": "gw-page", "ward": "w1", "data_dir": "data", "csrf": csrf},
        )
        page = c.get(provisioned.headers["location"]).text
        link = page.split('href="/admin/gateways/download/')[1].split('"')[0]
        first = c.get(f"/admin/gateways/download/{link}")
        again = c.get(f"/admin/gateways/download/{link}")
        served = c.post(
            "/admin/gateways/serve",
            data={"gateway": "gw-page", "ward": "w1", "beds": "14", "csrf": csrf},
        )
        elsewhere = c.post(
            "/admin/gateways/provision", data={"gateway": "gw-w2", "ward": "w2", "csrf": csrf}
        )
    assert PHRASES["download_once"]["en"] in html.unescape(page)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/zip"
    assert 'filename="gw-page.zip"' in first.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(first.content)) as archive:
        names = sorted(archive.namelist())
        config = tomllib.loads(archive.read("gw-page/edge.toml").decode())
        modes = {info.external_attr >> 16 & 0o777 for info in archive.infolist()}
    assert names == ["gw-page/ca.crt", "gw-page/client.crt", "gw-page/client.key",
                     "gw-page/edge.toml"]  # fmt: skip
    assert config["gateway_id"] == "gw-page"
    assert config["data_dir"] == "data"
    assert modes == {0o600}
    assert again.status_code == 404  # offered once
    assert "provision the gateway again" in again.text  # dina reads English
    assert served.status_code == 303
    assert elsewhere.status_code == 404
    with psycopg.connect(seeded.owner_url) as conn:
        bed = conn.execute("SELECT gateway_id FROM bed WHERE ward_id = 'w1' AND id = '14'")
        assert bed.fetchone() == ("gw-page",)
    assert audit_actor(seeded, "gateway_provisioned", "gateway:gw-page") == ["dina"]
    assert audit_actor(seeded, "beds_gateway_set", "ward:w1") == ["dina"]
    assert environment(nabd_stack.settings, "gw-page")  # a broker account on the stack


def test_a_folder_is_only_for_the_admin_who_provisioned_it(
    nabd_stack: RunningStack, station: Station, seeded: Seeded
) -> None:
    def chloe_is(role: str) -> None:
        with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
            conn.execute("UPDATE station_user SET role = %s WHERE name = 'chloe'", (role,))

    chloe_is("admin")
    try:
        with signed_in(station, "dina", "/admin/gateways") as (c, csrf):
            provisioned = c.post(
                "/admin/gateways/provision",
                data={"gateway": "gw-own", "ward": "w1", "csrf": csrf},
            )
            page = c.get(provisioned.headers["location"]).text
            link = page.split("/download/")[1].split('"')[0]
            with client(station) as other:
                sign_in(other, "chloe")
                stolen = other.get(f"/admin/gateways/download/{link}")
            mine = c.get(f"/admin/gateways/download/{link}")
    finally:
        chloe_is("charge_nurse")
    assert stolen.status_code == 404
    assert mine.status_code == 200


def test_an_admin_revokes_a_gateway(
    nabd_stack: RunningStack, station: Station, seeded: Seeded
) -> None:
    with signed_in(station, "dina", "/admin/gateways") as (c, csrf):
        c.post("/admin/gateways/provision", data={"gateway": "gw-old", "ward": "w1", "csrf": csrf})
        revoked = c.post("/admin/gateways/revoke", data={"gateway": "gw-old", "csrf": csrf})
        page = c.get(revoked.headers["location"]).text
        again = c.post(
            "/admin/gateways/provision", data={"gateway": "gw-old", "ward": "w1", "csrf": csrf}
        )
    assert revoked.status_code == 303
    assert "Gateway revoked." in page
    assert again.status_code == 409
    assert "revoked" in again.text
    with pytest.raises(StackError):
        environment(nabd_stack.settings, "gw-old")  # its broker account is gone
    assert audit_actor(seeded, "gateway_revoked", "gateway:gw-old") == ["dina"]


def test_without_an_issuer_provisioning_is_the_commands(
    nabd_stack: RunningStack, seeded: Seeded
) -> None:
    with (
        serve(nabd_stack, seeded) as plain,
        signed_in(plain, "dina", "/admin/gateways") as (
            c,
            csrf,
        ),
    ):
        page = c.get("/admin/gateways").text
        refused = c.post(
            "/admin/gateways/provision", data={"gateway": "gw-none", "ward": "w1", "csrf": csrf}
        )
    assert "nabd gateway provision" in page
    assert 'id="provision"' not in page
    assert refused.status_code == 403
    assert "nabd gateway provision" in refused.text


@pytest.mark.parametrize(
    ("path", "form"),
    [("/admin/users/add", _user("ivy")), ("/admin/users/change", _user("amina")),
     ("/admin/gateways/provision", {"gateway": "gw-nurse", "ward": "w1"}),
     ("/admin/gateways/revoke", {"gateway": "gw-page"})],
)  # fmt: skip
def test_the_pages_and_forms_are_for_admins(
    station: Station, path: str, form: dict[str, object]
) -> None:
    with signed_in(station, "amina", "/") as (c, csrf):
        page = c.get(path.rsplit("/", 1)[0])
        posted = c.post(path, data=form | {"csrf": csrf})
    assert page.status_code == posted.status_code == 403
    assert "réservée au rôle administratrice" in posted.text  # amina reads French


def test_the_command_adds_a_user_through_the_same_function(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def add(name: str, ward: str) -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
        return main(["web", "user", "add", name, "--role", "charge_nurse", "--ward", ward,
                     "--by", "it-admin", "--database-url", seeded.owner_url])  # fmt: skip

    assert add("jade", "w2") == 0
    assert add("jade", "w2") == 1  # taken: refused in words, nothing written twice
    assert add("kate", "w9") == 1
    err = capsys.readouterr().err
    assert "already exists" in err
    assert "unknown ward(s) w9" in err
    assert "Traceback" not in err
    assert audit_actor(seeded, "station_user_added", "station_user:jade") == ["it-admin"]
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute(
            """SELECT u.db_role, array_agg(v.ward_id) FROM station_user u
               JOIN ward_viewer v ON v.role_name = u.db_role WHERE u.name = 'jade'
               GROUP BY u.db_role"""
        ).fetchone()
    assert row == ("nabd_su_jade", ["w2"])
