"""A bleak backend on Google's bumble: ``BleakScanner``/``BleakClient`` over any HCI transport.

bleak lets a caller replace its platform backend: ``BleakScanner(..., backend=S)`` and
``BleakClient(..., backend=C)`` instantiate ``S`` (a ``BaseBleakScanner``) and ``C`` (a
``BaseBleakClient``) and route every public call to them. :func:`bleak_backend` returns such a
pair bound to one :class:`BumbleHost`, so the agent's code (bleak's public API and
bleak-retry-connector's ``establish_connection``) runs unchanged over bumble's host stack:

* in tests and development, against virtual peripherals on a bumble ``LocalLink`` (a virtual
  controller per device), with real advertising, connections and GATT, no kernel Bluetooth;
* in production on a machine without BlueZ, against a USB or UART Bluetooth controller driven
  directly by bumble (``usb:0``, ``serial:/dev/ttyUSB0``).

This is not a fake: the backend never answers on a peripheral's behalf; every byte comes from a
GATT server through a controller.
"""

from __future__ import annotations

from nabd.edge.ble.backend import BackendClasses
from nabd.edge.ble.bumble_client import BumbleClient
from nabd.edge.ble.bumble_host import BumbleHost
from nabd.edge.ble.bumble_scanner import BumbleScanner

__all__ = ["bleak_backend"]


def bleak_backend(host: BumbleHost) -> BackendClasses:
    """Scanner and client classes bound to ``host`` (bleak instantiates them itself)."""
    scanner = type("BumbleScanner", (BumbleScanner,), {"host": host})
    client = type("BumbleClient", (BumbleClient,), {"host": host})
    return BackendClasses(scanner=scanner, client=client, name="bumble")
