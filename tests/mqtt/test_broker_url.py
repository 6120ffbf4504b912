"""``--broker-url``: what it accepts and how it words what is missing (no broker needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.mqtt.broker_kit import BrokerUnderTest, BrokerUrlError

ENV = {
    "NABD_MQTT_CA_FILE": "/etc/nabd/ca.crt",
    "NABD_INGEST_MQTT_USERNAME": "ingest",
    "NABD_INGEST_MQTT_PASSWORD": "pw",
    "NABD_INGEST_MQTT_CERT_FILE": "/etc/nabd/ingest.crt",
    "NABD_INGEST_MQTT_KEY_FILE": "/etc/nabd/ingest.key",
    "NABD_GATEWAY_ID": "gw-1",
    "NABD_EDGE_MQTT_USERNAME": "nabd-edge-gw-1",
    "NABD_EDGE_MQTT_CERT_FILE": "/etc/nabd/gw.crt",
    "NABD_EDGE_MQTT_KEY_FILE": "/etc/nabd/gw.key",
}


def test_a_url_and_the_deployment_variables_name_the_broker_and_both_accounts() -> None:
    broker = BrokerUnderTest.from_url("mqtts://emqx.ward.local:8883", ENV)
    assert (broker.mqtt_host, broker.mqtt_port, broker.external) == ("emqx.ward.local", 8883, True)
    assert broker.ca_file == Path("/etc/nabd/ca.crt")
    assert (broker.ingest.username, broker.ingest.password) == ("ingest", "pw")
    assert (broker.gateway_id, broker.gateway.password, broker.gateway.port) == ("gw-1", None, 8883)
    own = BrokerUnderTest.from_url("mqtts://h:8883", ENV | {"NABD_MQTT_GATEWAY_PORT": "8884"})
    assert (own.ingest.port, own.gateway.port) == (8883, 8884)


@pytest.mark.parametrize("url", ["mqtt://h:1883", "mqtts://h", "h:8883", "mqtts://:8883"])
def test_anything_but_mqtts_host_port_is_refused(url: str) -> None:
    with pytest.raises(BrokerUrlError, match="mqtts://HOST:PORT"):
        BrokerUnderTest.from_url(url, ENV)


def test_every_missing_variable_is_named() -> None:
    env = {k: v for k, v in ENV.items() if k not in {"NABD_GATEWAY_ID", "NABD_EDGE_MQTT_KEY_FILE"}}
    with pytest.raises(BrokerUrlError, match="NABD_GATEWAY_ID, NABD_EDGE_MQTT_KEY_FILE"):
        BrokerUnderTest.from_url("mqtts://h:8883", env)
