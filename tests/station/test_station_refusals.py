"""Every refusal the station shows is in its user's language (French, English, Arabic).

The catalogue is checked kind by kind (every code of the care operations and of the analytics
actions, every phrase key the station's code raises), then the refusals a person can provoke
through the pages are provoked for real over HTTPS, each in the three languages, against the real
database: the page must carry that kind's sentence in her language, and never the command
line's English one-liner.
"""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from markupsafe import escape

from nabd.analytics.service.errors import AlertActionError, MonitorInputError
from nabd.analytics.service.errors import Why as MonitorWhy
from nabd.care.errors import PARAMS, CareError, CareRefused
from nabd.care.errors import Why as CareWhy
from nabd.station.i18n import PHRASES, Translator
from nabd.station.refusals import CARE, FIELDS, MONITOR, in_words
from nabd.station.users import Language, NewUser, Role, add_user
from tests.station.station_kit import PASSWORD, Seeded, Station, raise_alert
from tests.station.test_station_admin import signed_in

LANGS = [lang.value for lang in Language]
_MONITOR_VALUES = {"low", "high", "metric", "metrics", "state"}


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _sample(why: CareWhy) -> dict[str, object]:
    values: dict[str, object] = {name: f"<{name}>" for name in PARAMS[why]}
    for name in {"at", "since"} & PARAMS[why]:
        values[name] = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)
    if "what" in values:
        values["what"] = "device"
    return values


@pytest.mark.parametrize("why", list(CareWhy))
def test_every_care_refusal_has_a_sentence_in_three_languages(why: CareWhy) -> None:
    assert set(CARE[why]) == set(LANGS)
    refusal = CareRefused(f"English for {why}", why, **_sample(why))
    said = set()
    for lang in Language:
        assert _placeholders(CARE[why][lang.value]) <= PARAMS[why], (why, lang)
        sentence = in_words(refusal, Translator(lang))
        assert "{" not in sentence
        assert "English for" not in sentence
        said.add(sentence)
    assert len(said) == 3, f"{why}: the three languages say the same"


def test_a_care_refusal_must_name_exactly_its_values() -> None:
    with pytest.raises(TypeError, match="bed_occupied"):
        CareRefused("x", CareWhy.BED_OCCUPIED, ward="w1")


@pytest.mark.parametrize("why", list(MonitorWhy))
def test_every_analytics_refusal_a_person_meets_has_three_languages(why: MonitorWhy) -> None:
    values = {"low": 90.5, "high": 80.0, "metric": "spo2", "metrics": "spo2, pulse",
              "state": "resolved"}  # fmt: skip
    refusal = AlertActionError(f"English for {why}", why, **values)
    said = {in_words(refusal, Translator(lang)) for lang in Language}
    for lang in LANGS:
        assert _placeholders(MONITOR[why][lang]) <= _MONITOR_VALUES
    assert len(said) == 3
    assert not any("English for" in s for s in said)


def test_values_are_written_in_her_locale() -> None:
    at = datetime(2026, 12, 6, 14, 5, tzinfo=UTC)
    refusal = CareRefused("x", CareWhy.DISCHARGED, patient="p-1", at=at)
    assert "6 déc. 2026, 14:05" in in_words(refusal, Translator(Language.FR))
    assert "6 Dec 2026, 14:05" in in_words(refusal, Translator(Language.EN))
    assert "6 دجنبر 2026، 14:05" in in_words(refusal, Translator(Language.AR))
    limit = MonitorInputError("x", MonitorWhy.LIMIT_ORDER, low=90.5, high=80.0)
    assert "(90,5)" in in_words(limit, Translator(Language.FR))
    assert "(90.5)" in in_words(limit, Translator(Language.EN))
    assert "(90,5)" in in_words(limit, Translator(Language.AR))  # Moroccan: Western digits
    field = CareRefused("x", CareWhy.BAD_ID, what="ward", value="X")
    assert FIELDS["ward"]["fr"] in in_words(field, Translator(Language.FR))


_PHRASE_RE = re.compile(r"""phrase=["']([a-z0-9_]+)["']""")


def test_every_phrase_the_station_raises_is_in_the_catalogue() -> None:
    source = Path(__file__).resolve().parents[2] / "station" / "nabd" / "station"
    used = {key for path in source.glob("*.py") for key in _PHRASE_RE.findall(path.read_text())}
    assert len(used) > 20
    assert used <= set(PHRASES), used - set(PHRASES)


# ---- Over HTTPS, in the three languages -------------------------------------------------------

ADMINS = {"fr": "farah", "en": "dina", "ar": "hind"}
"""An admin of ward w1 per language (dina is the seeded one)."""


@pytest.fixture(scope="module")
def ward_state(station: Station, seeded: Seeded) -> None:
    """What the refusals need: admins in French and Arabic, a second patient, a registered and
    worn device, a revoked gateway and a resolved alert."""
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        for lang, name in ADMINS.items():
            if name != "dina":
                add_user(conn, NewUser(name=name, display_name=name.title(), role=Role.ADMIN,
                                       wards=("w1",), password=PASSWORD, lang=Language(lang)),
                         by="test-admin")  # fmt: skip
        conn.execute("INSERT INTO patient (id, ward_id, bed_id) VALUES ('p-c', 'w1', '14')")
        conn.execute(
            "INSERT INTO device (id, kind, address) VALUES"
            " ('d-worn', 'pulse_oximeter', 'F0:F1:F2:F3:F4:A1')"
        )
        conn.execute(
            "INSERT INTO device_assignment (device_id, patient_id, valid, assigned_by)"
            " VALUES ('d-worn', 'p-a', tstzrange(now() - interval '1 hour', NULL), 'test')"
        )
        conn.execute("INSERT INTO gateway (id, ward_id, revoked_at) VALUES ('gw-old', 'w1', now())")
        alert = raise_alert(conn, "p-a", "high", "resolved already")
        conn.execute("UPDATE alert SET state = 'resolved', resolved_at = now() WHERE id = %s",
                     (alert,))  # fmt: skip


_ADMIT = {"ward": "w1", "bed": "16", "mrn": "Z-9", "name": "Nadia Chraibi"}
_DEVICE = {"device": "d-new", "kind": "pulse_oximeter", "address": "F0:F1:F2:F3:F4:B9"}
CASES: list[tuple[str, str, dict[str, str], Any]] = [
    ("bed occupied", "/admin/admit", _ADMIT | {"bed": "12"}, CareWhy.BED_OCCUPIED),
    ("MRN admitted here", "/admin/admit", _ADMIT | {"mrn": "MRN-1"}, CareWhy.MRN_ADMITTED),
    ("MRN admitted elsewhere", "/admin/admit", _ADMIT | {"mrn": "MRN-2"},
     CareWhy.MRN_ADMITTED_ELSEWHERE),
    ("no such bed", "/admin/admit", _ADMIT | {"bed": "99"}, CareWhy.NO_BED),
    ("birth date ahead", "/admin/admit", _ADMIT | {"birth_date": "2999-01-01"},
     CareWhy.BIRTH_DATE_RANGE),
    ("birth date garbled", "/admin/admit", _ADMIT | {"birth_date": "soon"},
     CareWhy.BAD_BIRTH_DATE),
    ("malformed MRN", "/admin/admit", _ADMIT | {"mrn": "bad mrn!"}, CareWhy.BAD_MRN),
    ("malformed bed", "/admin/admit", _ADMIT | {"bed": "b d"}, CareWhy.BAD_BED),
    ("name without family", "/admin/admit", _ADMIT | {"name": ", Nadia"}, CareWhy.BAD_NAME),
    ("malformed device id", "/admin/devices", _DEVICE | {"device": "Bad Id"}, CareWhy.BAD_ID),
    ("unknown kind", "/admin/devices", _DEVICE | {"kind": "toaster"}, CareWhy.BAD_KIND),
    ("not an address", "/admin/devices", _DEVICE | {"address": "zz"}, CareWhy.BAD_ADDRESS),
    ("reserved address", "/admin/devices", _DEVICE | {"address": "00:00:00:00:00:00"},
     CareWhy.RESERVED_ADDRESS),
    ("address taken", "/admin/devices", _DEVICE | {"address": "F0:F1:F2:F3:F4:A1"},
     CareWhy.ADDRESS_TAKEN),
    ("device exists otherwise", "/admin/devices", _DEVICE | {"device": "d-worn"},
     CareWhy.DEVICE_CONFLICT),
    ("device worn", "/admin/assign", {"device": "d-worn", "patient": "p-c"}, CareWhy.DEVICE_WORN),
    ("no such device", "/admin/assign", {"device": "d-none", "patient": "p-c"},
     CareWhy.NO_DEVICE),
    ("no beds given", "/admin/gateways/serve", {"gateway": "gw-old", "ward": "w1", "beds": ","},
     CareWhy.NO_BEDS_GIVEN),
    ("revoked gateway", "/admin/gateways/serve", {"gateway": "gw-old", "ward": "w1",
     "beds": "15"}, CareWhy.GATEWAY_REVOKED),
    ("limits upside down", "/charge/limits", {"target": "ward:w1", "metric": "heart_rate",
     "low": "90,5", "high": "80"}, MonitorWhy.LIMIT_ORDER),
    ("limit not a number", "/charge/limits", {"target": "ward:w1", "metric": "heart_rate",
     "low": "lots"}, "bad_limit"),
    ("no such scale", "/charge/scale", {"patient": "p-a", "scale": "3"}, "bad_scale"),
    ("weak password", "/admin/users/add", {"name": "weak", "display_name": "W", "role": "nurse",
     "ward": "w1", "password": "aaaaabbbbbaaaaa"}, "weak_password"),
    ("user taken", "/admin/users/add", {"name": "amina", "display_name": "A", "role": "nurse",
     "ward": "w1", "password": PASSWORD}, "user_taken"),
    ("missing field", "/admin/admit", {"ward": "w1"}, "form_refused"),
]  # fmt: skip


_NOTICE = re.compile(r'<p class="notice error" role="alert">(.*?)</p>', re.DOTALL)


def _expected(kind: object, lang: str) -> str:
    """The longest literal piece of that kind's sentence in ``lang``, as the page escapes it."""
    if isinstance(kind, CareWhy):
        template = CARE[kind][lang]
    elif isinstance(kind, MonitorWhy):
        template = MONITOR[kind][lang]
    else:
        template = PHRASES[str(kind)][lang]
    pieces = [literal for literal, *_ in string.Formatter().parse(template)]
    return str(escape(max(pieces, key=len).strip()))


@pytest.mark.integration
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("refusal", CASES, ids=[c[0] for c in CASES])
def test_each_refusal_is_in_her_language(
    ward_state: None, station: Station, lang: str, refusal: tuple[str, str, dict[str, str], Any]
) -> None:
    case, path, form, kind = refusal
    with signed_in(station, ADMINS[lang], "/admin") as (c, csrf):
        reply = c.post(path, data=form | {"csrf": csrf})
    assert reply.status_code in {400, 404, 409}, (case, reply.status_code)
    assert f'lang="{lang}"' in reply.text
    notice = _NOTICE.search(reply.text)
    assert notice, (case, "no refusal in the page")
    assert _expected(kind, lang) in notice[1], (case, lang, notice[1])
    assert "Traceback" not in reply.text
    assert "`" not in notice[1], "the command line's hints stay on the command line"


@pytest.mark.integration
@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_alert_action_is_in_her_language(
    ward_state: None, station: Station, seeded: Seeded, lang: str
) -> None:
    with psycopg.connect(seeded.owner_url) as conn:
        row = conn.execute("SELECT id::text FROM alert WHERE message = 'resolved already'")
        alert = row.fetchone()
    assert alert is not None
    with signed_in(station, ADMINS[lang], "/") as (c, csrf):
        reply = c.post(f"/alerts/{alert[0]}/silence",
                       data={"csrf": csrf, "minutes": "5", "reason": "x"})  # fmt: skip
    assert reply.status_code == 409
    state = str(escape(Translator(Language(lang))("state_resolved")))
    assert _expected(MonitorWhy.ALERT_STATE, lang) in reply.text
    assert state in reply.text


@pytest.mark.integration
@pytest.mark.parametrize("lang", LANGS)
def test_a_refused_sign_in_is_in_the_browsers_language(station: Station, lang: str) -> None:
    from tests.station.test_station_http import client  # noqa: PLC0415 - one helper

    with client(station) as c:
        reply = c.post("/login", data={"name": "nobody", "password": "x" * 12},
                       headers={"Accept-Language": f"{lang};q=0.9"})  # fmt: skip
    assert reply.status_code == 401
    assert str(escape(PHRASES["sign_in_refused"][lang])) in reply.text


def test_the_command_line_keeps_its_english_one_liner() -> None:
    refusal = CareRefused(
        "bed 12 of ward w1 is taken by patient p-a: discharge or transfer them first",
        CareWhy.BED_OCCUPIED, ward="w1", bed="12", patient="p-a",
    )  # fmt: skip
    assert str(refusal).startswith("bed 12 of ward w1 is taken")
    assert isinstance(refusal, CareError)
