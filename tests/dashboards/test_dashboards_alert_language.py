"""A nurse reads an alert in her dashboard's language: the French dashboards show the French
sentence of an alert raised by analytics, the English ones the English, the Arabic ones the
Arabic (Western digits, as the station writes it), the same words as the
nurse station (both from ``nabd.contract.alert_text``: the writer stores the renderings in
``alert.messages``, migration 0130); an alert without them (written before 0130) shows its
stored English ``message``.

The alert is raised the way the service raises it: the lifecycle (``AlertBook``) steps a breach
into a ``raised`` transition and ``AlertStore.write`` inserts it, with its facts. The panels'
generated SQL then runs, expanded as Grafana expands it, as the read-only ``nabd_dashboards``
role, in the same transaction, which is rolled back: the session's ward stays as filled.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import psycopg
import pytest

from nabd.analytics.alerts import HIGH, AlertEventKind, AlertPolicy
from nabd.analytics.service.conditions import NAMES
from nabd.analytics.service.lifecycle import AlertBook
from nabd.analytics.service.state import PatientIndex
from nabd.analytics.service.store import AlertStore
from nabd.contract.alert_text import render
from nabd.contract.payloads import AlertFacts
from nabd.dashboards.i18n import Lang, strings
from nabd.dashboards.macros import Variable, expand
from nabd.dashboards.panels import panel_queries
from nabd.dashboards.registry import build_all

if TYPE_CHECKING:
    from tests.dashboards.conftest import Runner

pytestmark = pytest.mark.integration

BOARDS = {b.uid: b for b in build_all()}
FACTS = AlertFacts(condition="spo2_low", value=86.0, unit="%", limit=90.0, duration_s=90.0)
SAYS = {
    Lang.FR: "SpO2 basse : 86 % depuis 90 s (seuil 90 %)",
    Lang.EN: "SpO2 low: 86 % for 90 s (limit 90 %)",
    Lang.AR: "انخفاض تشبع الأكسجين SpO2: 86 % منذ 90 ثانية (الحد 90 %)",
}
"""Written out, not computed: the test fails if the dashboards show anything else."""
CONDITION = {Lang.FR: "SpO2 basse", Lang.EN: "SpO2 low", Lang.AR: "انخفاض تشبع الأكسجين SpO2"}


def _sql(uid: str, title: str) -> str:
    return next(q.sql for q in panel_queries(BOARDS[uid]) if q.title == title)


async def _raise_and_read(
    runner: Runner, patient: str, queries: dict[str, str]
) -> dict[str, list[dict[str, Any]]]:
    """Raise a SpO2 alert for ``patient`` as analytics does, read ``queries`` as the dashboards
    role, roll everything back."""
    at = runner.ward.now - timedelta(minutes=10)
    at_ns = round(at.timestamp()) * 1_000_000_000
    policy = AlertPolicy(conditions=NAMES, latch_priority=HIGH)
    index = PatientIndex()
    index.admit([patient])
    book = AlertBook(policy, 1)
    active = np.zeros((1, len(NAMES)), np.bool_)
    priority = np.zeros((1, len(NAMES)), np.int8)
    column = NAMES.index("spo2_low")
    active[0, column], priority[0, column] = True, HIGH
    found = book.step(at_ns, active, priority)
    assert [t.kind for t in found] == [AlertEventKind.RAISED]
    key = (0, "spo2_low")
    async with await psycopg.AsyncConnection.connect(runner.ward.url) as conn:
        try:
            await AlertStore(conn).write(
                found,
                index,
                np.zeros(1, np.int64),
                [runner.ward.ward_of[patient]],
                {key: render(FACTS, "en")},
                facts={key: FACTS},
            )
            await conn.execute("GRANT nabd_dashboards TO current_user")
            await conn.execute("SET ROLE nabd_dashboards")
            out = {}
            for name, sql in queries.items():
                cur = await conn.execute(sql)
                assert cur.description is not None
                columns = [d.name for d in cur.description]
                out[name] = [dict(zip(columns, r, strict=True)) for r in await cur.fetchall()]
            return out
        finally:
            await conn.rollback()


def test_each_dashboard_shows_a_raised_alert_in_its_language(dashboards_sql: Runner) -> None:
    ward = dashboards_sql.ward
    patient = ward.patients[5]  # no alert in the fill
    context = dashboards_sql.context()
    mine = dataclasses.replace(
        context, variables={**context.variables, "patient": Variable(patient)}
    )
    queries = {}
    for lang in Lang:
        s = strings(lang)
        queries[f"open-{lang}"] = expand(_sql(f"nabd-alerts-{lang}", s.table_open_alerts), mine)
        queries[f"notes-{lang}"] = expand(_sql(f"nabd-patient-{lang}", s.annotation_alerts), mine)
    seen = asyncio.run(_raise_and_read(dashboards_sql, patient, queries))
    for lang in Lang:
        s = strings(lang)
        (row,) = [r for r in seen[f"open-{lang}"] if r["patient"] == patient]
        assert row["message"] == SAYS[lang], lang
        assert row["condition"] == CONDITION[lang], lang
        (note,) = seen[f"notes-{lang}"]
        assert note["text"] == f"{s.priority_high}: {SAYS[lang]}", lang
        # Alerts of the fill have no renderings (as before migration 0130): stored English.
        older = [r for r in seen[f"open-{lang}"] if r["patient"] == ward.septic]
        assert {r["message"] for r in older} == {"NEWS2 7 or more", "SpO2 low"}, lang
