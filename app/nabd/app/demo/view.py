"""The nurse's ward view in the terminal (rich), and the one-line progress of ``--headless``.

Pure: :func:`render` turns a :class:`~.snapshot.WardSnapshot` into a rich renderable and
:func:`progress_line` into text; the command loop decides when and where to show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from nabd.app.demo.snapshot import AlertRow, PatientRow, WardSnapshot
from nabd.dashboards.style import PRIORITY_COLOURS, RISK_COLOURS

__all__ = ["ACK_KEYS", "ack_keys", "progress_line", "render"]

ACK_KEYS: Final = "abcdefghijklmnopqrstuvwxyz"
"""Keys that acknowledge the raised alerts shown next to them, in the view's order."""

_TERMINAL: Final[Mapping[str, str]] = {
    "green": "green",
    "yellow": "yellow",
    "orange": "dark_orange",
    "red": "bold white on red",
    "blue": "bright_blue",
}
"""The dashboards' colour names as terminal styles: the demo's view and the nurses' Grafana
dashboards colour a risk band or an alert priority the same way (``nabd.dashboards.style``)."""
_BAND_STYLE: Final = {band: _TERMINAL[colour] for band, colour in RISK_COLOURS.items()}
_PRIORITY_STYLE: Final = {level: _TERMINAL[colour] for level, colour in PRIORITY_COLOURS.items()}


def ack_keys(patients: tuple[PatientRow, ...]) -> dict[str, str]:
    """Alert id -> key, for every raised (not yet acknowledged) alert, in the view's order."""
    raised = [a for p in patients for a in p.alerts if a.state == "raised"]
    return {a.alert_id: key for a, key in zip(raised, ACK_KEYS, strict=False)}


def _value(vitals: Mapping[str, float | None], key: str, digits: int = 0) -> str:
    if key not in vitals:
        return "-"
    value = vitals[key]
    if value is None:
        return "--"  # the device reported no value (probe off)
    return f"{value:.{digits}f}"


def _news2(patient: PatientRow) -> Text:
    """``5``, ``3+`` (incomplete: a lower bound), ``-`` when there is no score (no parameter
    present, or none written yet): never ``0`` for nothing measured (RCP NEWS2 2017)."""
    if patient.news2_total is None or patient.news2_risk is None:
        return Text("-")
    mark = "" if patient.news2_complete else "+"
    return Text(f"{patient.news2_total}{mark}", style=_BAND_STYLE.get(patient.news2_risk, ""))


def _alerts(alerts: tuple[AlertRow, ...], keys: Mapping[str, str]) -> Text:
    text = Text()
    for alert in (a for a in alerts if a.open):
        if text:
            text.append("  ")
        key = keys.get(alert.alert_id)
        if key is not None:
            text.append(f"[{key}] ", style="bold")
        said = alert.text or alert.condition
        text.append(said, style=_PRIORITY_STYLE.get(alert.priority, ""))
        text.append(f" {alert.priority}")
        if alert.state == "acknowledged":
            text.append(f" ack {alert.acknowledged_by or ''}".rstrip(), style="dim")
    return text


def _state(patient: PatientRow) -> str:
    open_alerts = [a for a in patient.alerts if a.open]
    if any(a.state == "raised" for a in open_alerts):
        return "ALERT"
    if open_alerts:
        return "acknowledged"
    return "ok" if patient.vitals else "waiting"


def _patients(snapshot: WardSnapshot) -> Table:
    table = Table(title=f"Ward {snapshot.ward_id}", expand=True, title_justify="left")
    for column in ("bed", "patient", "scenario", "HR", "SpO2", "RR", "temp", "BP", "NEWS2"):
        table.add_column(column, no_wrap=True, justify="right" if column != "patient" else "left")
    table.add_column("open alerts", ratio=1)
    table.add_column("state", no_wrap=True)
    for p in snapshot.patients:
        v = p.vitals
        heart = _value(v, "heart_rate") if "heart_rate" in v else _value(v, "pulse_rate")
        pressure = f"{_value(v, 'systolic_bp')}/{_value(v, 'diastolic_bp')}"
        table.add_row(
            str(p.bed),
            p.patient_id,
            p.scenario,
            heart,
            _value(v, "spo2"),
            _value(v, "respiration_rate"),
            _value(v, "body_temperature", 1),
            pressure,
            _news2(p),
            _alerts(p.alerts, snapshot.keys),
            _state(p),
        )
    return table


def _gateways(snapshot: WardSnapshot) -> Table:
    table = Table(title="Gateways", title_justify="left")
    for column in ("gateway", "agent", "broker", "devices", "outbox"):
        table.add_column(column, no_wrap=True)
    for g in snapshot.gateways:
        broker = "-" if g.broker_connected is None else ("online" if g.broker_connected else "lost")
        table.add_row(
            g.gateway_id,
            Text("running", "green") if g.running else Text("stopped", "red"),
            broker,
            f"{g.devices_connected}/{g.devices} connected",
            "-" if g.pending is None else f"{g.pending} pending",
        )
    return table


def _footer(snapshot: WardSnapshot) -> Text:
    simulated_h = snapshot.elapsed_s * snapshot.speed / 3600
    text = Text(
        f"{snapshot.elapsed_s:.0f}/{snapshot.play_s:.0f} s (x{snapshot.speed:g}, "
        f"{simulated_h:.1f} simulated h)   readings generated {snapshot.generated}, "
        f"ingested {snapshot.ingested}   alerts raised {snapshot.alerts_raised}   "
        "press the key shown to acknowledge an alert; Ctrl-C stops"
    )
    if snapshot.station:
        text.append(f"\n{snapshot.station}")
    if snapshot.message:
        text.append(f"\n{snapshot.message}", style="bold")
    return text


def render(snapshot: WardSnapshot) -> RenderableType:
    """The whole view: patients, gateways, footer."""
    return Group(_patients(snapshot), _gateways(snapshot), _footer(snapshot))


def progress_line(snapshot: WardSnapshot) -> str:
    """One line for ``--headless``: time, counts, open alerts."""
    open_alerts = sum(a.open for p in snapshot.patients for a in p.alerts)
    online = sum(g.running for g in snapshot.gateways)
    return (
        f"demo {snapshot.elapsed_s:5.0f}/{snapshot.play_s:.0f} s: generated {snapshot.generated}, "
        f"ingested {snapshot.ingested}, alerts raised {snapshot.alerts_raised} "
        f"({open_alerts} open), gateways {online}/{len(snapshot.gateways)} running"
    )
