"""A silence alert resolved by analytics, in the real database, written as the ``analytics``
login: once its condition clears, the row's facts and its sentences in French, English and
Arabic (``alert.messages``, what the dashboards show) and the English ``message`` say what
resumed and after how long, counted to when the condition cleared (not to the resolve hold-down
or to the nurse's acknowledgement); what it named is kept. A latched one says so from the latch
on, silent again once its condition returns, and keeps the latch's words when resolved."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
import pytest

from nabd.analytics.alerts import MEDIUM, AlertEventKind, AlertPolicy
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.lifecycle import AlertBook, NurseAction
from nabd.analytics.service.state import PatientIndex
from nabd.analytics.service.store import AlertStore, Published
from nabd.contract.alert_text import RESUMED
from nabd.contract.payloads import AlertFacts
from tests.monitor.monitor_kit import MonitorDb, admit
from tests.stack_kit import token

pytestmark = pytest.mark.integration

S = 1_000_000_000
K = AlertEventKind


class Ward:
    """One patient's alert book and one store (as the service keeps them, tick after tick),
    ticked by hand on the analytics login's connection."""

    def __init__(self, db: MonitorDb, policy: AlertPolicy) -> None:
        self.db = db
        self.patient = admit(db, f"p-s{token()}")
        self.index = PatientIndex()
        self.index.admit([self.patient])
        self.book = AlertBook(policy, 1)
        self.t0 = int(datetime.now(UTC).timestamp()) * S
        self._loop = asyncio.Runner()
        self._conn = self._loop.run(
            psycopg.AsyncConnection.connect(db.analytics_url, autocommit=True)
        )
        self.store = AlertStore(self._conn)

    def __enter__(self) -> Ward:
        return self

    def __exit__(self, *_: object) -> None:
        self._loop.run(self._conn.close())
        self._loop.close()

    def run(self, script: list[tuple[int, str, AlertFacts | None, bool]]) -> list[Published]:
        """``(second, condition, facts while active, nurse acknowledges)`` per tick: the
        condition is active while its facts are given."""
        return [p for tick in script for p in self._loop.run(self._tick(*tick))]

    async def _tick(
        self, second: int, condition: str, said: AlertFacts | None, ack: bool
    ) -> list[Published]:
        col = NAMES.index(condition)
        active = np.zeros((1, len(NAMES)), np.bool_)
        priority = np.zeros((1, len(NAMES)), np.int8)
        active[0, col], priority[0, col] = said is not None, MEDIUM
        alert = self.book.alert_id(0, col)
        acks = [NurseAction(second, alert, "acknowledge", "Nurse Ada")] if ack and alert else []
        found = self.book.step(self.t0 + second * S, active, priority, acks)
        facts = {(0, condition): said} if said is not None else {}
        async with self._conn.transaction():
            return await self.store.write(
                found, self.index, np.zeros(1, np.int64), ["w1"], {(0, condition): "raised"},
                facts=facts,
            )  # fmt: skip

    def row(self) -> tuple[Any, ...]:
        rows = self.db.query(
            "SELECT state, message, facts, messages FROM alert WHERE patient_id = %s",
            (self.patient,),
        )
        assert len(rows) == 1
        return tuple(rows[0])


def _kinds(published: list[Published]) -> list[tuple[int, K]]:
    return [(p.transition.at, p.transition.kind) for p in published]


def test_a_resolved_silence_says_what_resumed_in_every_language(monitor_db: MonitorDb) -> None:
    """Raised with its link down 2 min, the device's link is back 3 min later: resolved after
    the 60 s hold-down, the alert says the device reconnected after 5 min (2 + 3), not 6."""
    down = AlertFacts(condition="device_disconnected", duration_s=120.0, items=("thermo-7",))
    with Ward(monitor_db, AlertPolicy(conditions=NAMES, resolve_after_s=60)) as ward:
        published = ward.run(
            [(0, "device_disconnected", down, False)]
            + [(s, "device_disconnected", None, False) for s in (180, 200, 240)]
        )
    assert [p.transition.kind for p in published] == [K.RAISED, K.RESOLVED]
    resolved = published[-1]
    assert resolved.transition.at - resolved.transition.cleared_at == 60 * S
    state, message, facts, messages = ward.row()
    assert state == "resolved"
    assert message == "Device reconnected after 5 min: thermo-7"
    assert messages == {
        "fr": "Appareil reconnecté après 5 min : thermo-7",
        "en": "Device reconnected after 5 min: thermo-7",
        "ar": "الجهاز متصل من جديد بعد 5 دقيقة: thermo-7",
    }
    said = AlertFacts.model_validate(facts, strict=False)
    assert said == AlertFacts(
        condition="device_disconnected", duration_s=300.0, items=("thermo-7", RESUMED)
    )
    # What is published with the resolution (the station's live board, MQTT readers).
    assert resolved.facts == said
    assert resolved.message == message


def test_a_latched_silence_says_resumed_then_silent_again_then_keeps_its_words(
    monitor_db: MonitorDb,
) -> None:
    """Latched (nobody acknowledged it) when the gateway is back: resumed from the latch on;
    silent again (unlatched): what the detector says now; back again, latched again: resumed,
    counted from the new facts; the nurse's acknowledgement much later resolves it with the
    latch's words, not the minutes the alert then stayed on the board."""
    policy = AlertPolicy(conditions=NAMES, resolve_after_s=10, latch_priority=MEDIUM)
    with Ward(monitor_db, policy) as ward:
        offline = AlertFacts(condition="gateway_offline", duration_s=200.0)
        again = AlertFacts(condition="gateway_offline", duration_s=130.0)
        published = ward.run([(0, "gateway_offline", offline, False),
                              (100, "gateway_offline", None, False),
                              (110, "gateway_offline", None, False)])  # fmt: skip
        assert _kinds(published)[-1] == (ward.t0 + 110 * S, K.LATCHED)
        state, message, _, messages = ward.row()
        assert (state, message) == ("raised", "Bedside gateway back online after 5 min")
        assert messages["fr"] == "Passerelle de chevet de nouveau en ligne après 5 min"
        assert messages["ar"] == "بوابة السرير متصلة من جديد بعد 5 دقيقة"

        published = ward.run([(150, "gateway_offline", again, False)])
        assert [p.transition.kind for p in published] == [K.UNLATCHED]
        assert ward.row()[1:] == (
            "Bedside gateway offline for 2 min",
            {"condition": "gateway_offline", "duration_s": 130.0},
            {
                "fr": "Passerelle de chevet hors ligne depuis 2 min",
                "en": "Bedside gateway offline for 2 min",
                "ar": "بوابة السرير غير متصلة منذ 2 دقيقة",
            },
        )

        published = ward.run([(160, "gateway_offline", None, False),
                              (170, "gateway_offline", None, False),
                              (900, "gateway_offline", None, True)])  # fmt: skip
        assert [p.transition.kind for p in published] == [K.LATCHED, K.ACKNOWLEDGED, K.RESOLVED]
        state, message, facts, messages = ward.row()
        assert state == "resolved"
        # 130 s silent when found at 150 s, cleared at 160 s: 140 s, "2 min", not 750 s more.
        assert AlertFacts.model_validate(facts, strict=False).duration_s == 140.0
        assert messages == {
            "fr": "Passerelle de chevet de nouveau en ligne après 2 min",
            "en": "Bedside gateway back online after 2 min",
            "ar": "بوابة السرير متصلة من جديد بعد 2 دقيقة",
        }
        assert published[-1].facts == AlertFacts.model_validate(facts, strict=False)


def test_a_clinical_alert_resolves_with_what_it_said(monitor_db: MonitorDb) -> None:
    """Only silences change their words when they clear: a low SpO2 that resolves still says
    what the nurse was called for."""
    with Ward(monitor_db, AlertPolicy(conditions=NAMES, resolve_after_s=5)) as ward:
        low = AlertFacts(condition="spo2_low", value=86.0, unit="%", limit=90.0)
        published = ward.run([(0, "spo2_low", low, False), (10, "spo2_low", None, False),
                              (20, "spo2_low", None, False)])  # fmt: skip
        assert [p.transition.kind for p in published] == [K.RAISED, K.RESOLVED]
        assert ward.row()[2] == low.model_dump(mode="json", exclude_defaults=True)
        assert published[-1].facts == low
