"""nabd.contract: the data contract every Nabd component shares.

Only re-exports; the definitions live in :mod:`~nabd.contract.catalogue` (metrics),
:mod:`~nabd.contract.payloads` (wire messages), :mod:`~nabd.contract.topics` (MQTT topics),
:mod:`~nabd.contract.careplan` (care plans of patients at home) and
:mod:`~nabd.contract.errors` (the exception tree). See docs/contract.md.
"""

from nabd.contract.catalogue import METRICS, Metric, MetricKind, metric
from nabd.contract.errors import ContractError, PayloadError, TopicError, UnknownMetricError
from nabd.contract.payloads import (
    Alert,
    AlertPriority,
    AlertState,
    GatewayCommand,
    GatewayConfig,
    GatewayState,
    GatewayStatus,
    IngestAck,
    ObservationBatch,
    Quality,
    Reading,
    ReconnectDevice,
    SetInterval,
    parse,
    parse_batch,
    to_json,
)

__all__ = [
    "METRICS",
    "Alert",
    "AlertPriority",
    "AlertState",
    "ContractError",
    "GatewayCommand",
    "GatewayConfig",
    "GatewayState",
    "GatewayStatus",
    "IngestAck",
    "Metric",
    "MetricKind",
    "ObservationBatch",
    "PayloadError",
    "Quality",
    "Reading",
    "ReconnectDevice",
    "SetInterval",
    "TopicError",
    "UnknownMetricError",
    "metric",
    "parse",
    "parse_batch",
    "to_json",
]
