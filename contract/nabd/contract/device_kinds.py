"""Device kinds a person may register, with the Bluetooth SIG services a gateway expects of each.

Shared by the registry (``nabd device add --kind``) and the server that tells each gateway what
to read (:class:`~nabd.contract.payloads.GatewayConfig`). Service names are the edge agent's
(docs/edge.md); ``generic_health_sensor`` is the Generic Health Sensor service (0x1840).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["DEVICE_KINDS"]

DEVICE_KINDS: Final = MappingProxyType(
    {
        "heart_rate_strap": ("heart_rate",),
        "pulse_oximeter": ("pulse_oximeter",),
        "thermometer": ("health_thermometer",),
        "bp_cuff": ("blood_pressure",),
        "glucose_meter": ("glucose",),
        "scale": ("weight_scale",),
        "ghs": ("generic_health_sensor",),
    }
)
"""Kind -> expected services."""
