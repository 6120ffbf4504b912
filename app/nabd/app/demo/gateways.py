"""The demo's gateways: their ``nabd edge`` configuration files and what their status reports say.

Each gateway is a real edge agent (``nabd edge run --config FILE``) on the bumble backend,
reaching its device process's virtual link as a USB dongle would be reached
(``tcp-client:127.0.0.1:PORT``), with its own broker account from the stack.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from nabd.app.demo.plan import WardPlan
from nabd.app.demo.snapshot import GatewayRow
from nabd.edge.status import DeviceState, StatusReport

__all__ = ["edge_config", "gateway_row", "pending"]


def edge_config(plan: WardPlan, gateway_id: str, folder: Path, port: int) -> Path:
    """Write the gateway's TOML file (data under ``folder/data``); return its path."""
    lines = [
        f'gateway_id = "{gateway_id}"',
        f'site = "Nabd demo, ward {plan.ward_id}"',
        'data_dir = "data"',
        'device_timezone = "UTC"',
        "",
        "[broker]",
        "reconnect_max_s = 2",
        "",
        "[ble]",
        'backend = "bumble"',
        f'transport = "tcp-client:127.0.0.1:{port}"',
        "connect_timeout_s = 10",
        "reconnect_initial_s = 0.2",
        "reconnect_max_s = 2",
        "silent_after_s = 30",
        "",
        "[outbox]",
        "batch_linger_s = 0.2",
        "ack_timeout_s = 10",
        "",
        "[status]",
        "interval_s = 1",
    ]
    for bed in plan.beds_of(gateway_id):
        for device in bed.devices:
            lines += [
                "",
                "[[devices]]",
                f'id = "{device.device_id}"',
                f'address = "{device.address}"',
                f'patient = "{bed.patient_id}"',
            ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "edge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _report(folder: Path) -> StatusReport | None:
    try:
        return StatusReport.model_validate_json((folder / "data" / "status.json").read_bytes())
    except (OSError, ValidationError):
        return None  # not written yet, or being replaced


def gateway_row(gateway_id: str, folder: Path, running: bool, devices: int) -> GatewayRow:
    """The gateway as the view shows it, from its agent's status report."""
    report = _report(folder)
    if report is None:
        return GatewayRow(gateway_id, running, devices=devices)
    connected = sum(d.state in {DeviceState.CONNECTED, DeviceState.SILENT} for d in report.devices)
    return GatewayRow(
        gateway_id,
        running,
        broker_connected=report.broker_connected,
        devices_connected=connected,
        devices=len(report.devices),
        pending=report.outbox.pending,
    )


def pending(folder: Path) -> int | None:
    """Readings still in the gateway's outbox (None: no report yet)."""
    report = _report(folder)
    return None if report is None else report.outbox.pending
