"""The exception tree of nabd.mqtt: one root, so a caller can tell a wrong setting of ours from
anything paho or the network raises."""

from __future__ import annotations

__all__ = ["MqttError", "MqttSetupError"]


class MqttError(Exception):
    """Root of the errors raised by nabd.mqtt."""


class MqttSetupError(MqttError, ValueError):
    """A broker account, session or reconnection value that cannot be right."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
