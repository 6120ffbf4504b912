"""Ward overview: the screen at the nurses' station, one row per patient, most acute first.

Four counts on top (patients, high NEWS2 risk, unacknowledged alerts, patients with stale data),
then the patient table: NEWS2 with its risk colour (marked incomplete when a parameter is
missing, ≥ because the total is then a lower bound), the newest value of each NEWS2 vital
coloured by its NEWS2 band, open alerts by highest priority, and how long ago the patient's last
data arrived. A stale value reads "stale" and is grey; it is never shown as current.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import common

from nabd.dashboards import sql
from nabd.dashboards.board import new_board, uid, ward_variable
from nabd.dashboards.i18n import Lang, Strings, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.style import (
    age_column,
    alert_count_mappings,
    big_stat,
    cell_background,
    column,
    count_stat,
    news2_mappings,
    prop,
    steps,
    vital_mappings,
)
from nabd.dashboards.target import Sql, datasource_ref

__all__ = ["SLUG", "build"]

SLUG = "ward"

_COLUMN_METRIC = {
    "pulse": "heart_rate",
    "spo2": "spo2",
    "respiration": "respiration_rate",
    "temperature": "body_temperature",
    "systolic": "systolic_bp",
}
"""The NEWS2 bands each vital column is coloured by (pulse: heart rate's, for either source)."""


def _headers(s: Strings) -> dict[str, str]:
    return {
        "pulse": s.col_pulse,
        "spo2": s.col_spo2,
        "respiration": s.col_respiration,
        "temperature": s.col_temperature,
        "systolic": s.col_systolic,
    }


def _patient_table(s: Strings, lang: Lang) -> table.Panel:
    link = (
        f"/d/{uid('patient', lang)}?${{__url_time_range}}"
        "&${ward:queryparam}&var-patient=${__value.raw}"
    )
    panel = (
        table.Panel()
        .title(s.table_patients)
        .datasource(datasource_ref())
        .with_target(Sql(sql.ward_patients(s)))
        .cell_height(common.TableCellHeight.LG)
        .show_header(True)
        .no_value("—")
        .override_by_name(
            "patient",
            column(s.col_patient, prop("links", [{"title": s.open_patient, "url": link}])),
        )
        .override_by_name("ward", column(s.col_ward))
        .override_by_name(
            "news2",
            column(s.col_news2, prop("mappings", news2_mappings(s)), cell_background()),
        )
        .override_by_name(
            "alerts",
            column(s.col_alerts, prop("mappings", alert_count_mappings(s)), cell_background()),
        )
        .override_by_name(
            "last_seen",
            age_column(s.col_last_seen, 60, 300),
        )
    )
    for name, header in _headers(s).items():
        panel = panel.override_by_name(
            name,
            column(
                header,
                prop("mappings", vital_mappings(_COLUMN_METRIC[name], s)),
                cell_background(),
            ),
        )
    return panel


def build(lang: Lang) -> Dashboard:
    """The ward overview in ``lang``."""
    s = strings(lang)
    counts = sql.ward_counts()
    board = new_board(SLUG, lang, s.ward_title, time_from="now-6h", refresh="10s").with_variable(
        ward_variable(s)
    )
    return place(
        board,
        [
            Row(
                6,
                [
                    (
                        big_stat(
                            s.stat_patients, counts["patients"], "patients", steps((None, "blue"))
                        ),
                        6,
                    ),
                    (count_stat(s.stat_high_risk, counts["high_risk"], "high_risk", "red"), 6),
                    (
                        count_stat(
                            s.stat_unacknowledged, counts["unacknowledged"], "unacknowledged", "red"
                        ),
                        6,
                    ),
                    (
                        count_stat(
                            s.stat_stale_patients,
                            counts["stale_patients"],
                            "stale_patients",
                            "orange",
                        ),
                        6,
                    ),
                ],
            ),
            Row(22, [(_patient_table(s, lang), 24)]),
        ],
    )
