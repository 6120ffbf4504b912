"""The state file, the paths derived from it and the variables printed from it (no servers)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from nabd.app.stack.accounts import ALERTS_READER, DATABASE_ONLY, SERVICES
from nabd.app.stack.env import database_url, render_exports
from nabd.app.stack.errors import StackInputError, TimescaleDBMissingError
from nabd.app.stack.layout import SOCKET_PATH_MAX, Layout, socket_dir_for
from nabd.app.stack.postgres import PgInstall, find_install, require_timescaledb
from nabd.app.stack.settings import StackSettings
from nabd.app.stack.state import load_state, new_state, save_state


def test_state_round_trips_through_a_private_file(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state = new_state(40001, 40002, 40003).with_gateway("gw-1")
    save_state(layout, state)
    assert stat.S_IMODE(layout.state_file.stat().st_mode) == 0o600
    assert load_state(layout) == state


def test_no_state_yet_is_none_and_a_damaged_state_is_refused(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    assert load_state(layout) is None
    layout.state_file.write_text('{"format": 1, "postgres": {}}')
    with pytest.raises(StackInputError):
        load_state(layout)


def test_secrets_are_masked_in_repr_but_kept_in_the_file(tmp_path: Path) -> None:
    state = new_state(40001, 40002, 40003)
    secret = state.postgres.owner_password.get_secret_value()
    assert secret not in repr(state)
    save_state(Layout(tmp_path), state)
    assert secret in Layout(tmp_path).state_file.read_text()


def test_every_generated_secret_is_distinct() -> None:
    state = new_state(40001, 40002, 40003).with_gateway("gw-1").with_gateway("gw-2")
    secrets = [
        state.postgres.superuser_password,
        state.postgres.owner_password,
        *(a.password for a in state.postgres.services.values()),
        *(a.password for a in state.mqtt.services.values()),
    ]
    values = [s.get_secret_value() for s in secrets]
    assert len(set(values)) == len(values)
    assert all(len(v) >= 32 for v in values)


def test_adding_a_gateway_twice_keeps_its_password_and_removing_forgets_it() -> None:
    state = new_state(40001, 40002, 40003).with_gateway("gw-1")
    assert state.with_gateway("gw-1") == state
    assert "gw-1" not in state.without_gateway("gw-1").mqtt.gateways


def test_a_state_made_before_the_alerts_reader_gets_it_and_keeps_the_rest() -> None:
    state = new_state(40001, 40002, 40003)
    assert ALERTS_READER in state.mqtt.services
    assert state.with_broker_accounts() is state
    services = {k: v for k, v in state.mqtt.services.items() if k != ALERTS_READER}
    old = state.model_copy(update={"mqtt": state.mqtt.model_copy(update={"services": services})})
    upgraded = old.with_broker_accounts()
    assert ALERTS_READER in upgraded.mqtt.services
    assert {k: v for k, v in upgraded.mqtt.services.items() if k != ALERTS_READER} == services


def test_a_state_made_before_the_database_logins_gets_them_and_keeps_the_rest() -> None:
    state = new_state(40001, 40002, 40003)
    assert set(state.postgres.services) == {*SERVICES, *DATABASE_ONLY}
    assert state.with_database_logins() is state
    services = {k: v for k, v in state.postgres.services.items() if k in SERVICES}
    old = state.model_copy(
        update={"postgres": state.postgres.model_copy(update={"services": services})}
    )
    upgraded = old.with_database_logins()
    assert set(upgraded.postgres.services) == {*SERVICES, *DATABASE_ONLY}
    assert {k: upgraded.postgres.services[k] for k in SERVICES} == services
    assert upgraded.mqtt == state.mqtt  # database-only: no broker account


def test_socket_dir_stays_in_the_state_folder_when_short_enough(tmp_path: Path) -> None:
    assert socket_dir_for(tmp_path) == tmp_path / "postgres" / "run"


def test_socket_dir_falls_back_to_a_short_private_path_when_too_long(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 90)
    fallback = socket_dir_for(deep)
    assert not fallback.is_relative_to(deep)
    assert len(f"{fallback}/.s.PGSQL.65535") <= SOCKET_PATH_MAX
    assert socket_dir_for(deep) == fallback  # stable: the same folder every time
    assert socket_dir_for(tmp_path / ("y" * 90)) != fallback


@settings(max_examples=50, deadline=None)
@given(
    st.text(
        st.characters(exclude_characters="\0", exclude_categories=["Cs"]), min_size=1, max_size=40
    )
)
def test_any_password_survives_the_database_url(password: str) -> None:
    parsed = conninfo_to_dict(database_url("nabd", password, 5433, "nabd"))
    assert parsed["password"] == password
    assert (parsed["host"], parsed["port"], parsed["dbname"]) == ("127.0.0.1", "5433", "nabd")


@settings(max_examples=15, deadline=None)
@given(st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), max_size=30))
def test_exported_values_reach_a_shell_unchanged(value: str) -> None:
    script = render_exports({"NABD_PROBE": value}) + 'printf %s "$NABD_PROBE"'
    result = subprocess.run(
        ["bash", "-c", script], capture_output=True, check=True, env={"PATH": os.environ["PATH"]}
    )
    assert result.stdout.decode() == value


def test_state_dir_comes_from_the_environment_unless_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NABD_STATE_DIR", str(tmp_path / "from-env"))
    assert StackSettings().root == tmp_path / "from-env"
    assert StackSettings(state_dir=tmp_path / "given").root == tmp_path / "given"
    monkeypatch.delenv("NABD_STATE_DIR")
    checkout = Path(__file__).resolve().parents[2]
    assert StackSettings().root == checkout / ".state" / "stack"


def test_missing_timescaledb_is_a_typed_error_pointing_at_bootstrap(tmp_path: Path) -> None:
    real = find_install()
    require_timescaledb(real)  # the machine's server has it (scripts/bootstrap ran)
    without = PgInstall(bindir=real.bindir, sharedir=tmp_path, major=real.major)
    with pytest.raises(TimescaleDBMissingError, match="scripts/bootstrap"):
        require_timescaledb(without)


def test_the_newest_debian_server_is_chosen_not_path() -> None:
    install = find_install()
    assert install.bindir.is_relative_to("/usr/lib/postgresql")
    newest = max(int(p.name) for p in Path("/usr/lib/postgresql").iterdir() if p.name.isdigit())
    assert install.major == newest


def test_a_state_made_before_the_gateway_listener_loads_and_gets_a_port(tmp_path: Path) -> None:
    """Gateways' passwords of older stacks are dropped (the certificate is the account now)."""
    layout = Layout(tmp_path)
    state = new_state(40001, 40002, 40003).with_gateway("gw-1")
    old = json.loads(state.model_dump_json())
    del old["mqtt"]["gateway_port"]
    old["mqtt"]["gateways"]["gw-1"] = {"password": "an-old-unused-password"}
    layout.state_file.write_text(json.dumps(old))
    loaded = load_state(layout)
    assert loaded is not None
    assert loaded.mqtt.gateway_port is None
    assert "an-old-unused-password" not in loaded.model_dump_json()
    assert loaded.with_gateway_port(40004).mqtt.gateway_port == 40004
    assert state.with_gateway_port(40004) is state  # a recorded port is kept
