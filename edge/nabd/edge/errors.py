"""The edge agent's exception tree.

:class:`EdgeError` is the root of everything the agent raises itself. Bad input (a configuration
file, an environment variable, a transport spec) is an :class:`EdgeConfigError`, which is also a
``ValueError``: retrying with the same input fails the same way, so the agent refuses to start and
says why. Bytes a device sends that are not a valid characteristic value raise the contract's
:class:`nabd.contract.gatt.GattDecodeError` (re-exported as
:class:`nabd.edge.gatt.GattDecodeError`), also a ``ValueError``.
"""

from __future__ import annotations

__all__ = ["BleTransportError", "EdgeConfigError", "EdgeError", "OutboxError"]


class EdgeError(Exception):
    """Base class of the errors the edge agent raises itself."""


class EdgeConfigError(EdgeError, ValueError):
    """A configuration file or environment that cannot be used; the message names the field."""


class OutboxError(EdgeError):
    """The outbox database cannot be opened or written (disk full, wrong schema, not a database)."""


class BleTransportError(EdgeError):
    """The Bluetooth controller (BlueZ adapter or bumble HCI transport) cannot be reached."""
