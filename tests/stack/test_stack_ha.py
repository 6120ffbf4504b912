"""``nabd stack up --ha`` without running it: the state it records, the URLs it prints, the
Patroni configuration it writes, and what it refuses. The cluster itself runs in
``tests/faults/test_ha_failover.py``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict

from nabd.app.stack import ha, lifecycle
from nabd.app.stack.env import database_url
from nabd.app.stack.errors import StackInputError
from nabd.app.stack.layout import Layout
from nabd.app.stack.postgres import PgInstall
from nabd.app.stack.settings import StackSettings
from nabd.app.stack.state import StackState, load_state, new_state, save_state


def _ha_state() -> StackState:
    state = new_state(5433, 8883, 8884)
    return state.with_ha(ha.new_ha_state(state.postgres.port, {8883, 8884}))


@settings(max_examples=30, deadline=None)
@given(
    st.text(st.characters(exclude_characters="\0", exclude_categories=["Cs"]), min_size=1),
    st.lists(st.integers(1024, 65535), min_size=2, max_size=3, unique=True),
)
def test_a_cluster_url_names_every_server_and_asks_for_the_primary(
    password: str, ports: list[int]
) -> None:
    parsed = conninfo_to_dict(database_url("ingest", password, ports, "nabd"))
    assert parsed["password"] == password
    assert parsed["host"] == ",".join(["127.0.0.1"] * len(ports))
    assert parsed["port"] == ",".join(map(str, ports))
    assert parsed["target_session_attrs"] == "read-write"


def test_a_reader_prefers_a_standby_and_one_server_needs_no_attribute() -> None:
    reader = conninfo_to_dict(database_url("dashboards", "pw", (5433, 5434), "nabd", reads=True))
    assert reader["target_session_attrs"] == "prefer-standby"
    assert "target_session_attrs" not in conninfo_to_dict(database_url("x", "pw", 5433, "nabd"))
    assert database_url("x", "pw", (5433,), "nabd") == database_url("x", "pw", 5433, "nabd")


def test_ha_ports_are_distinct_free_of_the_broker_and_keep_the_first_node_port() -> None:
    state = _ha_state()
    assert state.ha is not None
    ports = [state.ha.etcd_port, state.ha.etcd_peer_port]
    ports += [p for node in state.ha.nodes for p in (node.pg_port, node.api_port)]
    assert len(set(ports)) == len(ports)
    assert not {8883, 8884} & set(ports)
    assert state.ha.nodes[0].pg_port == state.postgres.port
    assert state.pg_ports == tuple(node.pg_port for node in state.ha.nodes)
    assert len(state.pg_ports) == ha.NODES


def test_ha_state_round_trips_and_an_older_state_is_single_node(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    state = _ha_state()
    save_state(layout, state)
    assert load_state(layout) == state
    single = new_state(5433, 8883, 8884)
    save_state(layout, single)
    loaded = load_state(layout)
    assert loaded is not None
    assert loaded.ha is None
    assert loaded.pg_ports == (5433,)
    made = loaded.with_ha(ha.new_ha_state(5433, ()))
    assert made.with_ha(ha.new_ha_state(5433, ())) is made  # chosen once, then kept


def test_patroni_config_replicates_synchronously_with_timescaledb_and_no_trust() -> None:
    state = _ha_state()
    assert state.ha is not None
    install = PgInstall(Path("/usr/lib/postgresql/15/bin"), Path("/usr/share/postgresql/15"), 15)
    config = ha.patroni_config(Layout(Path("/srv/stack")), state, install, 1)
    dcs = config["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True
    assert not dcs.get("synchronous_mode_strict", False)  # one server left keeps writing
    assert dcs["failsafe_mode"] is True  # etcd lost: the primary keeps writing
    assert dcs["loop_wait"] + 2 * dcs["retry_timeout"] <= dcs["ttl"]  # Patroni's own rule
    pg = config["postgresql"]
    assert pg["listen"] == f"127.0.0.1:{state.ha.nodes[1].pg_port}"
    assert pg["parameters"]["shared_preload_libraries"] == "timescaledb"
    assert pg["parameters"]["unix_socket_directories"] == ""
    assert all(line.endswith("scram-sha-256") for line in pg["pg_hba"])
    assert all("127.0.0.1/32" in line for line in pg["pg_hba"])
    secret = state.postgres.superuser_password.get_secret_value()
    assert pg["authentication"]["superuser"] == {"username": "postgres", "password": secret}
    assert config["restapi"]["listen"] == f"127.0.0.1:{state.ha.nodes[1].api_port}"
    api_secret = state.ha.api_password.get_secret_value()
    assert config["restapi"]["authentication"] == {"username": "nabd", "password": api_secret}
    assert config["etcd3"]["hosts"] == f"127.0.0.1:{state.ha.etcd_port}"
    assert config["watchdog"] == {"mode": "off"}


def test_ha_on_a_folder_with_a_single_node_cluster_is_refused(tmp_path: Path) -> None:
    data = Layout(tmp_path / "stack").pg_data
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text("15\n")
    with pytest.raises(StackInputError, match="another state folder"):
        lifecycle.up(StackSettings(state_dir=tmp_path / "stack"), want_ha=True)


def test_backups_refuse_an_ha_stack(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    save_state(layout, _ha_state())
    with (
        pytest.raises(StackInputError, match="--ha"),
        lifecycle.holding(StackSettings(state_dir=tmp_path)),
    ):
        pass


def test_stack_env_of_an_ha_stack_gives_cluster_urls_and_short_retries(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path)
    save_state(Layout(tmp_path), _ha_state())
    env = lifecycle.environment(settings)
    for name in ("NABD_DATABASE_URL", "NABD_INGEST_DATABASE_URL", "NABD_ANALYTICS_DATABASE_URL"):
        assert conninfo_to_dict(env[name])["target_session_attrs"] == "read-write", name
    reader = conninfo_to_dict(env["NABD_DASHBOARDS_DATABASE_URL"])
    assert reader["target_session_attrs"] == "prefer-standby"
    assert env["NABD_INGEST_BACKOFF_MAX_S"] == env["NABD_ANALYTICS_BACKOFF_MAX_S"] == "2"
    save_state(Layout(tmp_path), new_state(5433, 8883, 8884))
    single = lifecycle.environment(settings)
    assert "NABD_INGEST_BACKOFF_MAX_S" not in single
    assert "target_session_attrs" not in conninfo_to_dict(single["NABD_INGEST_DATABASE_URL"])
