"""Remote monitoring: the remote-monitoring nurse's screen of patients at home (issue 21).

A patient at home is one with a care plan (docs/home-monitoring.md). Counts on top: patients
at home and open clinical alerts (physiological, by the alert's kind), then below them what is
about measuring them: open "measurement missed" adherence alerts, the other open technical
alerts (a home gateway silent) and patients with no data for 24 h. Then the patient table
(programmes, time since the last measurement, days with data of the last 7, open alerts by
highest priority, the newest weight and blood pressure; open alerts first), and the weight and
systolic pressure of every patient at home over the time range (spot readings drawn as points,
one series per patient). The ``ward`` variable selects the remote-monitoring wards (a ward
stands for a remote team, docs/care.md).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.builders.dashboard import Dashboard
from grafana_foundation_sdk.models import common

from nabd.dashboards import sql
from nabd.dashboards.board import new_board, uid, ward_variable
from nabd.dashboards.i18n import Lang, Strings, strings
from nabd.dashboards.layout import Row, place
from nabd.dashboards.patient_detail import series_panel
from nabd.dashboards.style import (
    age_column,
    alert_count_mappings,
    big_stat,
    cell_background,
    column,
    count_stat,
    prop,
    steps,
)
from nabd.dashboards.target import Sql, datasource_ref

__all__ = ["SLUG", "build"]

SLUG = "remote"


def _patients(s: Strings, lang: Lang) -> table.Panel:
    link = (
        f"/d/{uid('patient', lang)}?${{__url_time_range}}"
        "&${ward:queryparam}&var-patient=${__value.raw}"
    )
    return (
        table.Panel()
        .title(s.table_home_patients)
        .datasource(datasource_ref())
        .with_target(Sql(sql.remote_patients(s)))
        .cell_height(common.TableCellHeight.LG)
        .no_value("—")
        .override_by_name(
            "patient",
            column(s.col_patient, prop("links", [{"title": s.open_patient, "url": link}])),
        )
        .override_by_name("ward", column(s.col_ward))
        .override_by_name("programmes", column(s.col_programmes))
        .override_by_name("last_seen", age_column(s.col_last_seen, 26 * 3600, 48 * 3600))
        .override_by_name("days_with_data", column(s.col_days_with_data))
        .override_by_name(
            "alerts",
            column(s.col_alerts, prop("mappings", alert_count_mappings(s)), cell_background()),
        )
        .override_by_name("weight", column(s.col_weight))
        .override_by_name("blood_pressure", column(s.col_blood_pressure))
    )


def build(lang: Lang) -> Dashboard:
    """The remote-monitoring dashboard in ``lang``."""
    s = strings(lang)
    counts = sql.remote_counts()
    board = new_board(SLUG, lang, s.remote_title, time_from="now-30d", refresh="1m").with_variable(
        ward_variable(s)
    )
    patients = big_stat(s.stat_home_patients, counts["patients"], "patients", steps((None, "blue")))
    adherence = count_stat(s.stat_adherence_alerts, counts["adherence"], "adherence", "yellow")
    clinical = count_stat(s.stat_home_alerts, counts["clinical"], "clinical", "orange")
    technical = count_stat(s.stat_home_technical, counts["technical"], "technical", "yellow")
    silent = count_stat(s.stat_silent_day, counts["silent"], "silent", "yellow")
    weight = series_panel(s.panel_weight_trend, sql.remote_trend("body_weight"), "kg", spot=True)
    systolic = series_panel(
        s.panel_systolic_trend, sql.remote_trend("systolic_bp"), "mmHg", spot=True
    )
    return place(
        board,
        [
            # What is about the patients, then what is about measuring them (technical).
            Row(5, [(patients, 12), (clinical, 12)]),
            Row(5, [(adherence, 8), (technical, 8), (silent, 8)]),
            Row(16, [(_patients(s, lang), 24)]),
            Row(10, [(weight, 12), (systolic, 12)]),
        ],
    )
