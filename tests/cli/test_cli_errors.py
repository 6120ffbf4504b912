"""One error style for people across every ``nabd`` command (issue 16).

Each bad input the issue lists goes through the command line (``nabd.app.cli.main`` with only
the environment given; the real entry point, a fresh interpreter, for two of them): the message
names the field, the value and what is accepted, in one or two lines on stderr; the exit status
is 2 for a usage error and 1 for a refused operation; nothing half-written reaches stdout;
never a traceback, a pydantic dump or a constraint's name. Table-printing commands print a
header and say "none" when empty. A property over the whole parser: every option with
documented choices refuses a value outside them with exit 2 and one line naming it.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from nabd.app.cli import build_parser, main
from nabd.app.commands.problems import report
from nabd.app.db.migrations import apply_migrations

RAW = (
    "Traceback",
    "errors.pydantic.dev",
    "validation error for",
    "_fkey",
    "violates",
    "constraint",
)
"""What no message may show: a traceback, a pydantic dump, a constraint's name."""


@dataclass(frozen=True)
class Ran:
    status: int
    out: str
    err: str


def nabd(*argv: str, env: dict[str, str] | None = None) -> Ran:
    """The CLI's ``main`` with no NABD_* variable but those in ``env``, stdout and stderr
    captured (a handler's exception would fail the test: there is no traceback to hide)."""
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    try:
        for name in [k for k in os.environ if k.startswith("NABD_")]:
            del os.environ[name]
        os.environ.update(env or {})
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(list(argv))
            except SystemExit as done:
                status = int(done.code or 0)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return Ran(status, out.getvalue(), err.getvalue())


def nabd_process(*argv: str) -> Ran:
    """The real entry point in a fresh interpreter, with no NABD_* variable."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("NABD_")}
    done = subprocess.run(
        [sys.executable, "-m", "nabd.app.cli", *argv],
        env=base,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)


def refused_for_people(ran: Ran, status: int, *words: str, lines: int = 2) -> None:
    """Exit ``status``, nothing on stdout, at most ``lines`` lines on stderr containing
    ``words``, nothing raw."""
    assert ran.status == status, ran
    assert ran.out == "", ran
    err = ran.err.strip().splitlines()
    assert 1 <= len(err) <= lines, ran.err
    assert all(line.startswith("nabd") for line in err), ran.err
    for word in words:
        assert word in ran.err, (word, ran.err)
    for raw in RAW:
        assert raw not in ran.err, (raw, ran.err)


# ---- without a database ----------------------------------------------------------------------


def test_demo_speed_zero_names_the_option_the_value_and_the_range() -> None:
    refused_for_people(nabd_process("demo", "--speed", "0"), 2, "--speed 0", "greater than 0")


def test_demo_unknown_scenario_lists_the_scenarios_played() -> None:
    ran = nabd("demo", "--scenarios", "stable,bogus")
    refused_for_people(ran, 2, "--scenarios", "unknown scenario 'bogus'", "sepsis", "stable")


def test_demo_bad_ward_and_duration_one_line_each() -> None:
    ran = nabd("demo", "--ward", "Bad Ward!", "--duration", "-5")
    refused_for_people(ran, 2, "--ward 'Bad Ward!'", "--duration -5", "should match pattern")


DEMO_RANGES = {
    "--speed": st.one_of(st.floats(max_value=0.0), st.floats(min_value=600.001)),
    "--hours": st.one_of(st.floats(max_value=0.0), st.floats(min_value=72.001)),
    "--patients": st.one_of(st.integers(max_value=0), st.integers(min_value=49)),
    "--per-gateway": st.one_of(st.integers(max_value=0), st.integers(min_value=17)),
    "--seed": st.integers(max_value=-1),
}
"""Numeric demo options and values outside what DemoOptions accepts."""


@settings(max_examples=40, deadline=None)
@given(
    choice=st.sampled_from(sorted(DEMO_RANGES)).flatmap(
        lambda option: st.tuples(st.just(option), DEMO_RANGES[option])
    )
)
def test_any_out_of_range_demo_option_is_one_line_naming_it(choice: tuple[str, float]) -> None:
    option, value = choice
    ran = nabd("demo", f"{option}={value}")  # "=": a negative value is not read as an option
    refused_for_people(ran, 2, option, lines=1)
    assert ran.err.startswith(f"nabd: error: {option} "), ran.err
    assert "should be" in ran.err, ran.err


def test_ingest_run_without_its_variables_lists_them_in_one_line() -> None:
    ran = nabd_process("ingest", "run")
    refused_for_people(ran, 2, "not set:", "NABD_INGEST_DATABASE_URL", "NABD_MQTT_HOST",
                       "NABD_INGEST_MQTT_KEY_FILE", "nabd stack env", lines=1)  # fmt: skip
    assert ran.err.count("NABD_") == 8, ran.err


def test_analytics_run_without_its_variables_lists_them_in_one_line() -> None:
    ran = nabd("analytics", "run")
    refused_for_people(ran, 2, "not set:", "NABD_ANALYTICS_DATABASE_URL", lines=1)


def test_analytics_run_refuses_a_lease_shorter_than_two_ticks_and_a_bad_worker_id() -> None:
    env = {
        "NABD_ANALYTICS_DATABASE_URL": "postgresql://u@h/db",
        "NABD_MQTT_HOST": "h",
        "NABD_MQTT_PORT": "8883",
        "NABD_MQTT_CA_FILE": "/ca",
        "NABD_ANALYTICS_MQTT_USERNAME": "u",
        "NABD_ANALYTICS_MQTT_PASSWORD": "p",
        "NABD_ANALYTICS_MQTT_CERT_FILE": "/c",
        "NABD_ANALYTICS_MQTT_KEY_FILE": "/k",
        "NABD_ANALYTICS_LEASE_S": "3",
    }
    ran = nabd("analytics", "run", "--tick", "2", env=env)
    refused_for_people(ran, 2, "NABD_ANALYTICS_LEASE_S must be at least twice", lines=1)
    ran = nabd("analytics", "run", "--worker-id", "a b", env=env)
    refused_for_people(ran, 2, "--worker-id 'a b'", lines=1)


def test_a_bad_variable_is_named_with_its_value_but_a_secret_never() -> None:
    env = {
        "NABD_INGEST_DATABASE_URL": "postgresql://u:s3cret@h/db",
        "NABD_MQTT_HOST": "h",
        "NABD_MQTT_PORT": "99999",
        "NABD_MQTT_CA_FILE": "/ca",
        "NABD_INGEST_MQTT_USERNAME": "u",
        "NABD_INGEST_MQTT_PASSWORD": "",
        "NABD_INGEST_MQTT_CERT_FILE": "/c",
        "NABD_INGEST_MQTT_KEY_FILE": "/k",
    }
    ran = nabd("ingest", "run", env=env)
    refused_for_people(ran, 2, "NABD_MQTT_PORT 99999: should be less than or equal to 65535",
                       "NABD_INGEST_MQTT_PASSWORD (value hidden)")  # fmt: skip
    assert "s3cret" not in ran.err


@pytest.mark.parametrize(
    "argv",
    [
        ["nurse", "record", "p-1", "--acvpu", "A", "--by", "N"],
        ["nurse", "scale", "p-1", "2", "--by", "N"],
        ["alerts", "list"],
        ["alerts", "limits", "show", "--ward", "w"],
        ["db", "migrate"],
        ["db", "ward-viewer", "list"],
        ["audit", "verify"],
        ["ingest", "dead-letters", "list"],
        ["fhir", "export", "--patient", "p-1", "--since", "2026-01-01"],
    ],
    ids=lambda argv: " ".join(argv[:3]),
)
def test_a_missing_database_variable_is_a_usage_error(argv: list[str]) -> None:
    refused_for_people(nabd(*argv), 2, "NABD_")


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["evaluate", "--patients", "0", "--hours", "-1"], ["--patients 0: should be at least 1",
                                                             "--hours -1: should be more than 0"]),
        (["ingest", "dead-letters", "purge", "--older-than", "-1", "--database-url", "postgresql:"],
         ["--older-than -1: should be at least 0"]),
        (["dashboards", "deploy"], ["--url", "NABD_GRAFANA_URL"]),
        (["simulate", "replay", "mimic", "a40017"], ["--out DIR is required"]),
    ],
    ids=lambda v: " ".join(v[:2]) if isinstance(v, list) and v[0][0] != "-" else "",
)  # fmt: skip
def test_other_usage_errors_are_exit_2_naming_the_option(argv: list[str], words: list[str]) -> None:
    refused_for_people(nabd(*argv), 2, *words)


def test_a_bug_is_one_line_without_traceback_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    out = io.StringIO()
    monkeypatch.delenv("NABD_DEBUG", raising=False)
    assert report(TypeError("unsupported operand"), out) == 1
    assert out.getvalue() == (
        "nabd: error: internal error, a bug (TypeError: unsupported operand); "
        "NABD_DEBUG=1 shows the traceback\n"
    )
    assert report(OSError("no status report yet"), io.StringIO()) == 1
    monkeypatch.setenv("NABD_DEBUG", "1")
    debug = io.StringIO()
    try:
        raise KeyError("x")
    except KeyError as error:
        report(error, debug)
    assert "Traceback" in debug.getvalue()


def _choices(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], str, tuple[str, ...]]]:
    """(command path, option, choices) of every option with documented choices."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _choices(sub, (*path, name))
        elif action.choices is not None and action.option_strings:
            yield path, action.option_strings[-1], tuple(map(str, action.choices))


CHOICES = sorted(_choices(build_parser()))


def test_the_parser_has_options_with_choices() -> None:
    assert len(CHOICES) >= 5, CHOICES  # the property below is about something


@pytest.mark.parametrize(("path", "option", "choices"), CHOICES, ids=str)
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(bogus=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_0123456789", min_size=1, max_size=12))
def test_every_documented_choice_refuses_anything_else(
    path: tuple[str, ...],
    option: str,
    choices: tuple[str, ...],
    bogus: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if bogus in choices:
        return
    with pytest.raises(SystemExit) as usage:
        main([*path, option, bogus])
    assert usage.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert option in lines[0], err
    assert repr(bogus) in lines[0], err
    assert "choose from" in lines[0], err
    assert all(repr(c) in lines[0] for c in choices), err


# ---- with a database -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ward:
    owner_url: str
    fhir_url: str
    admitted: str
    discharged: str


@pytest.fixture(scope="module")
def ward(fresh_database: str) -> Iterator[Ward]:
    """A migrated database with one admitted and one discharged patient, and a FHIR login."""
    apply_migrations(fresh_database)
    role, password = f"fhir_{secrets.token_hex(4)}", secrets.token_hex(16)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute("INSERT INTO ward (id, name) VALUES ('w-cli', 'Ward')")
        conn.execute("INSERT INTO patient (id, ward_id) VALUES ('p-here', 'w-cli'), "
                     "('p-gone', 'w-cli')")  # fmt: skip
        conn.execute("UPDATE patient SET discharged_at = now() WHERE id = 'p-gone'")
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {} IN ROLE nabd_fhir").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    parts = urlsplit(fresh_database)
    fhir = parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port}").geturl()
    try:
        yield Ward(fresh_database, fhir, "p-here", "p-gone")
    finally:
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.mark.integration
def test_nurse_entry_for_an_unknown_patient_says_so(ward: Ward) -> None:
    ran = nabd("nurse", "record", "p-nope", "--acvpu", "A", "--by", "N",
               "--database-url", ward.owner_url)  # fmt: skip
    refused_for_people(ran, 1, "no patient 'p-nope'", "unknown")


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [
        ["nurse", "record", "p-gone", "--oxygen", "on", "--by", "N"],
        ["nurse", "scale", "p-gone", "2", "--by", "Dr N"],
        ["alerts", "limits", "set", "spo2", "--patient", "p-gone", "--low", "85", "--by", "N"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_clinical_entries_for_a_discharged_patient_are_refused(ward: Ward, argv: list[str]) -> None:
    ran = nabd(*argv, "--database-url", ward.owner_url)
    refused_for_people(ran, 1, "'p-gone' was discharged at")


@pytest.mark.integration
@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "list", "--patient", "p-nope"],
        ["alerts", "list", "--ward", "w-nope"],
        ["alerts", "limits", "show", "--patient", "p-nope"],
        ["alerts", "limits", "show", "--ward", "w-nope"],
    ],
    ids=" ".join,
)
def test_a_filter_on_an_unknown_patient_or_ward_is_not_an_empty_list(
    ward: Ward, argv: list[str]
) -> None:
    ran = nabd(*argv, "--database-url", ward.owner_url)
    refused_for_people(ran, 1, "-nope'", "unknown to the registry")


@pytest.mark.integration
def test_fhir_export_of_an_unknown_patient_writes_nothing_to_stdout(ward: Ward) -> None:
    ran = nabd("fhir", "export", "--patient", "p-nope", "--since", "2026-01-01",
               "--database-url", ward.fhir_url, "--base-url", "https://fhir.example")  # fmt: skip
    refused_for_people(ran, 1, "p-nope")


@pytest.mark.integration
def test_fhir_export_of_a_known_patient_is_one_complete_bundle(ward: Ward) -> None:
    ran = nabd("fhir", "export", "--patient", "p-here", "--since", "2026-01-01",
               "--database-url", ward.fhir_url, "--base-url", "https://fhir.example")  # fmt: skip
    assert ran.status == 0, ran
    assert ran.out.startswith("{")
    assert ran.out.rstrip().endswith("}")


def test_unreachable_database_is_one_line() -> None:
    ran = nabd("alerts", "list", "--database-url", "postgresql://x@127.0.0.1:1/none")
    refused_for_people(ran, 1, "cannot reach the database")


@pytest.mark.integration
@pytest.mark.parametrize(
    ("argv", "header"),
    [
        (["alerts", "list", "--patient", "p-here"], "priority"),
        (["alerts", "limits", "show", "--ward", "w-cli"], "scope"),
        (["ingest", "dead-letters", "list"], "received"),
        (["db", "ward-viewer", "list"], "login"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_empty_tables_have_a_header_and_say_none(ward: Ward, argv: list[str], header: str) -> None:
    ran = nabd(*argv, "--database-url", ward.owner_url)
    assert ran.status == 0, ran
    lines = ran.out.strip().splitlines()
    assert any(header in line for line in lines), ran.out
    assert lines[-1].strip() == "none", ran.out
