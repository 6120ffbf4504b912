"""``nabd.mqtt.client``, the one construction of every component's MQTT client: values that cannot
be right are refused when made (classes of them, with hypothesis), a secret never shows in a repr,
and against the real broker the session values do what they say (clean start, expiry)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.mqtt.client import (
    Broker,
    BrokerAccount,
    CleanStart,
    Reconnect,
    Session,
    build_client,
    connect_properties,
    start,
)
from nabd.mqtt.errors import MqttSetupError
from tests.mqtt.broker_kit import BrokerUnderTest

CA = Path("ca.pem")


def _account(**change: Any) -> BrokerAccount:
    values: dict[str, Any] = {
        "host": "broker.local",
        "port": 8883,
        "ca_file": CA,
        "username": "gw-1",
        "password": "s3cret-value",
        "cert_file": Path("gw.pem"),
        "key_file": Path("gw.key"),
    }
    return BrokerAccount(**(values | change))


@given(st.one_of(st.integers(max_value=0), st.integers(min_value=65536)))
def test_a_port_outside_1_to_65535_is_refused(port: int) -> None:
    with pytest.raises(MqttSetupError, match="port"):
        _account(port=port)
    with pytest.raises(MqttSetupError, match="port"):
        Broker("broker.local", port, CA)


@pytest.mark.parametrize("field", ["host", "username"])
def test_an_empty_host_or_username_is_refused(field: str) -> None:
    with pytest.raises(MqttSetupError, match=field):
        _account(**{field: ""})


def test_the_password_never_shows_in_a_repr() -> None:
    assert "s3cret-value" not in repr(_account())


@given(st.floats(0.001, 1e4), st.floats(0.001, 1e4))
def test_reconnect_bounds_from_fractional_settings_are_whole_ordered_seconds(
    low: float, high: float
) -> None:
    bounds = Reconnect.between(low, high)
    assert bounds.min_s == max(1, round(low))
    assert 1 <= bounds.min_s <= bounds.max_s
    assert bounds.max_s == max(bounds.min_s, round(high))


@given(st.integers(-100, 100), st.integers(-100, 100))
def test_reconnect_refuses_bounds_that_are_not_ordered_whole_seconds(low: int, high: int) -> None:
    if 1 <= low <= high:
        assert Reconnect(low, high).max_s == high
    else:
        with pytest.raises(MqttSetupError, match="reconnect"):
            Reconnect(low, high)


@given(
    st.sampled_from(["expiry_s", "receive_maximum", "keepalive_s"]),
    st.one_of(st.integers(max_value=-1), st.integers(min_value=2**32)),
)
def test_session_values_outside_what_mqtt_can_say_are_refused(field: str, value: int) -> None:
    with pytest.raises(MqttSetupError, match=field):
        Session(clean_start=CleanStart.NEVER, **{field: value})


def test_connect_properties_carry_exactly_what_the_session_asks_for() -> None:
    assert connect_properties(Session(clean_start=CleanStart.ALWAYS)) is None
    both = connect_properties(
        Session(clean_start=CleanStart.NEVER, expiry_s=3600, receive_maximum=256)
    )
    assert both is not None
    assert both.json() == {"SessionExpiryInterval": 3600, "ReceiveMaximum": 256}  # type: ignore[no-untyped-call]
    expiry_only = connect_properties(Session(clean_start=CleanStart.ALWAYS, expiry_s=0))
    assert expiry_only is not None
    assert expiry_only.json() == {"SessionExpiryInterval": 0}  # type: ignore[no-untyped-call]


def test_missing_tls_files_raise_for_the_component_to_word(tmp_path: Path) -> None:
    with pytest.raises(OSError, match="No such file"):
        build_client(_account(ca_file=tmp_path / "absent.pem"), "client-1")
    with pytest.raises(MqttSetupError, match="client_id"):
        build_client(_account(), "")


# -- against the real broker ---------------------------------------------------------------


def _session_present(broker: BrokerUnderTest, client_id: str, session: Session) -> bool:
    """Connect (in the background, as the services do) and report the CONNACK's flag."""
    account = BrokerAccount.of(
        Broker(broker.mqtt_host, broker.mqtt_port, broker.ca_file), broker.ingest
    )
    client = build_client(account, client_id, reconnect=Reconnect(1, 2))
    present: list[bool] = []
    accepted = threading.Event()

    def on_connect(_c: Any, _u: Any, flags: Any, reason: Any, _p: Any) -> None:
        if not reason.is_failure:
            present.append(bool(flags.session_present))
            accepted.set()

    client.on_connect = on_connect
    start(client, account, session)
    try:
        assert accepted.wait(15), f"{client_id}: the broker did not accept the session"
    finally:
        client.disconnect()
        client.loop_stop()
    return present[0]


@pytest.mark.integration
@pytest.mark.broker
def test_session_values_keep_resume_and_end_the_brokers_session(
    broker_under_test: BrokerUnderTest,
) -> None:
    client_id = f"nabd-ingest-mqtt-test-{threading.get_ident()}"
    keep = Session(clean_start=CleanStart.NEVER, expiry_s=3600, receive_maximum=16)
    end = Session(clean_start=CleanStart.ALWAYS, expiry_s=0)
    assert not _session_present(broker_under_test, client_id, end)  # nothing stored yet
    assert not _session_present(broker_under_test, client_id, keep)  # a new session, kept
    assert _session_present(broker_under_test, client_id, keep)  # resumed
    assert not _session_present(broker_under_test, client_id, end)  # discarded, and not kept
    assert not _session_present(broker_under_test, client_id, keep)
    _session_present(broker_under_test, client_id, end)
