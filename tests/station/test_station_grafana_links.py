"""The dashboards' links to the nurse station lead somewhere real (issue 19, item 6).

No Grafana server here: the dashboards are built with the running station's base URL, each
table panel whose ``patient`` column links to the station has its SQL expanded as Grafana
expands it (:mod:`nabd.dashboards.macros`) and run against the station's database, and every
link its rows would carry (Grafana's ``${__value.raw}`` replaced by the cell's value) is followed
over HTTPS by a signed-in user: the patient's page, for a nurse of that ward; *not found* for a
nurse of another ward (the station decides, not the link).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from nabd.dashboards.i18n import Lang
from nabd.dashboards.macros import QueryContext, Variable, expand
from nabd.dashboards.registry import build_all
from nabd.dashboards.station_links import PATIENT_COLUMN
from tests.station.station_kit import Seeded, Station, raise_alert
from tests.station.test_station_http import client, sign_in

pytestmark = pytest.mark.integration


NAMES = {"p-a": "Fatima Zahra", "p-b": "Youssef Alami"}
"""The seeded patients, as a user who sees identities reads them on the station."""


def _linked_tables(station: Station) -> list[tuple[str, str, str]]:
    """(dashboard, panel SQL, link template) for every patient column linked to the station."""
    found = []
    for board in build_all([Lang.EN], station_url=station.base):
        panels: list[dict[str, Any]] = []
        for panel in board.model.get("panels", []):
            panels += [panel, *panel.get("panels", [])]
        for panel in panels:
            for override in panel.get("fieldConfig", {}).get("overrides", []):
                if override["matcher"] != {"id": "byName", "options": PATIENT_COLUMN}:
                    continue
                for prop in override["properties"]:
                    for link in prop["value"] if prop["id"] == "links" else []:
                        if link["url"].startswith(station.base):
                            found += [(board.slug, t["rawSql"], link["url"])
                                      for t in panel["targets"]]  # fmt: skip
    return found


def test_every_patient_and_alert_row_links_to_a_real_station_page(
    station: Station, seeded: Seeded
) -> None:
    with psycopg.connect(seeded.owner_url, autocommit=True) as conn:
        raise_alert(conn, "p-a", "high", "SpO2 86 % (Grafana link)")
        raise_alert(conn, "p-b", "medium", "HR 125 (Grafana link)")
    tables = _linked_tables(station)
    assert {slug for slug, _, _ in tables} >= {"ward", "alerts"}, tables
    now = datetime.now(UTC)
    context = QueryContext(
        time_from=now - timedelta(hours=1), time_to=now, interval=timedelta(minutes=1),
        variables={"ward": Variable(("w1", "w2"), multi=True, include_all=True)},
    )  # fmt: skip
    links: dict[str, str] = {}
    with psycopg.connect(seeded.owner_url) as conn:
        for slug, sql, template in tables:
            cursor = conn.execute(expand(sql, context))
            columns = [c.name for c in cursor.description or ()]
            rows = cursor.fetchall()
            assert rows or slug not in {"ward", "alerts"}, f"{slug}: no rows to follow"
            for row in rows:
                patient = str(row[columns.index(PATIENT_COLUMN)])
                links[f"{slug}:{patient}"] = template.replace("${__value.raw}", patient)
    assert {key.split(":")[1] for key in links} == set(NAMES)
    with client(station) as charge, client(station) as nurse:
        sign_in(charge, "chloe")  # wards w1 and w2
        sign_in(nurse, "amina")  # ward w1 only
        for key, url in links.items():
            patient = key.split(":")[1]
            assert url.startswith(f"{station.base}/patients/")
            page = charge.get(url)
            assert page.status_code == 200, (key, url)
            assert NAMES[patient] in page.text, (key, "not that patient's page")
            other = nurse.get(url)
            assert other.status_code == (200 if patient == "p-a" else 404), (key, url)
