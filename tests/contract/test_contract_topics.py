"""The MQTT topic scheme: ids that could break a topic are refused, topics invert."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nabd.contract import topics
from nabd.contract.errors import ContractError
from nabd.contract.topics import ID_RE, TopicError, check_id, gateway_of

ids = st.from_regex(ID_RE, fullmatch=True)

GATEWAY_TOPICS: list[Callable[[str], str]] = [
    topics.observations,
    topics.status,
    topics.ack,
    topics.commands,
    topics.gateway_config,
]
ALL_BUILDERS: list[Callable[[str], str]] = [*GATEWAY_TOPICS, topics.alerts]


@pytest.mark.parametrize(
    "bad",
    [
        "gw+1",  # single-level wildcard
        "gw#",  # multi-level wildcard
        "+",
        "#",
        "ward/3",  # a level separator would let one id span two levels
        "Gw-1",  # upper case: ids are case-folded nowhere, so one spelling only
        "GW1",
        "",
        "-gw",  # must start with a letter or digit
        "_gw",
        "gw 1",
        "gw.1",
        "gw-1\n",
        "café",
        "a" * 64,  # 63 characters at most
        "$share",
    ],
)
def test_check_id_rejects_what_cannot_stand_in_a_topic_level(bad: str) -> None:
    with pytest.raises(TopicError, match="gateway id"):
        check_id("gateway", bad)


@pytest.mark.parametrize("good", ["gw-1", "0", "ward_3b", "a" * 63, "icu-bed-12"])
def test_check_id_accepts_and_returns_valid_ids(good: str) -> None:
    assert check_id("device", good) == good


@pytest.mark.parametrize("builder", ALL_BUILDERS)
@pytest.mark.parametrize("bad", ["gw+1", "gw#", "a/b", "GW"])
def test_every_topic_builder_refuses_bad_ids(builder: Callable[[str], str], bad: str) -> None:
    with pytest.raises(TopicError):
        builder(bad)


def test_topic_error_is_a_contract_value_error() -> None:
    assert issubclass(TopicError, ContractError)
    assert issubclass(TopicError, ValueError)


def test_topics_have_the_documented_shape() -> None:
    assert topics.observations("gw-1") == "nabd/v1/gw/gw-1/obs"
    assert topics.status("gw-1") == "nabd/v1/gw/gw-1/status"
    assert topics.ack("gw-1") == "nabd/v1/gw/gw-1/ack"
    assert topics.commands("gw-1") == "nabd/v1/gw/gw-1/cmd"
    assert topics.gateway_config("gw-1") == "nabd/v1/gw/gw-1/config"
    assert topics.alerts("icu") == "nabd/v1/ward/icu/alerts"
    assert topics.shared(topics.INGEST_SHARE_GROUP, topics.ALL_OBSERVATIONS) == (
        "$share/nabd-ingest/nabd/v1/gw/+/obs"
    )


@given(gateway_id=ids)
def test_gateway_of_inverts_observations(gateway_id: str) -> None:
    assert gateway_of(topics.observations(gateway_id)) == gateway_id


@pytest.mark.parametrize("builder", GATEWAY_TOPICS)
@given(gateway_id=ids)
def test_gateway_of_inverts_every_gateway_topic(
    builder: Callable[[str], str], gateway_id: str
) -> None:
    assert gateway_of(builder(gateway_id)) == gateway_id


@given(ward_id=ids)
def test_topic_ids_never_contain_wildcards_or_extra_levels(ward_id: str) -> None:
    topic = topics.alerts(ward_id)
    assert "+" not in topic
    assert "#" not in topic
    assert topic.split("/") == ["nabd", "v1", "ward", ward_id, "alerts"]


@pytest.mark.parametrize(
    "topic",
    [
        "nabd/v1/ward/icu/alerts",  # not a gateway topic
        "nabd/v2/gw/gw-1/obs",  # another version
        "nabd/v1/gw/gw-1",  # too short
        "nabd/v1/gw/gw-1/obs/extra",  # too long
        "nabd/v1/gw/gw-1/telemetry",  # unknown leaf
        "nabd/v1/gw/+/obs",  # a filter, not a topic
        "nabd/v1/gw/GW-1/obs",
        "",
    ],
)
def test_gateway_of_refuses_other_topics(topic: str) -> None:
    with pytest.raises(TopicError):
        gateway_of(topic)


def test_filters_match_the_topics_they_select() -> None:
    observation = topics.observations("gw-1").split("/")
    pattern = topics.ALL_OBSERVATIONS.split("/")
    assert len(pattern) == len(observation)
    assert all(p in {"+", o} for p, o in zip(pattern, observation, strict=True))
    assert topics.status("x").replace("/x/", "/+/") == topics.ALL_STATUSES
    assert topics.alerts("x").replace("/x/", "/+/") == topics.ALL_ALERTS
