"""The simulators' exception tree: every error they raise for bad input is a SimulatorError.

All of them subclass :class:`ValueError`: each means "this input cannot be simulated or read", so a
caller that only wants to reject it catches :class:`SimulatorError`, and one that cares about the
cause (a malformed label file, a missing data record) catches the subclass.
"""

from __future__ import annotations

__all__ = [
    "DeviceTransportError",
    "LabelFormatError",
    "LoadError",
    "ReplayError",
    "ScenarioError",
    "SimulatorError",
]


class SimulatorError(ValueError):
    """Base class: input the simulators cannot work with (bad seed, times, profile)."""


class ScenarioError(SimulatorError):
    """A scenario, excursion, fault or label that contradicts itself (offset before onset...)."""


class LabelFormatError(SimulatorError):
    """A label file (CSV or JSON) that does not parse back into labels."""


class ReplayError(SimulatorError):
    """A recorded data file that is missing or cannot be read as the format it claims."""


class DeviceTransportError(SimulatorError):
    """A BLE transport spec that names nothing bumble can open (no such dongle, bad syntax)."""


class LoadError(SimulatorError):
    """A load-generator setting or sent record that cannot be used (bad rate, unreadable file)."""
