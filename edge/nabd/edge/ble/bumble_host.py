"""One bumble host stack on one HCI transport, shared by every bleak scanner and client.

bleak instantiates its backend classes itself, one scanner or client at a time, with no way to
pass them a shared object. On BlueZ the shared object is the system's ``bluetoothd``; here it is a
bumble :class:`~bumble.device.Device` (the host: HCI, L2CAP, ATT, GATT client) talking HCI to a
controller through any bumble transport: a USB dongle (``usb:0``), a serial HCI UART, a virtual
controller on a :class:`~bumble.link.LocalLink` served over ``tcp-client:HOST:PORT``, or one
given in-process (:meth:`BumbleHost.attach`). :func:`nabd.edge.ble.bumble_backend.bleak_backend`
binds a host to the scanner and client classes handed to ``BleakScanner(backend=...)`` and
``BleakClient(backend=...)``.

What the host multiplexes, as ``bluetoothd`` does:

* **Scanning**: one controller scan, active while at least one scanner runs; every scanner gets
  every advertisement and filters it itself.
* **Connecting**: one LE connection attempt at a time (a controller accepts one pending
  ``LE Create Connection``); attempts queue on a lock.
* **Late connections**: a connection that completes after its attempt gave up (a cancelled
  ``LE Create Connection`` races with the peer's ``CONNECT_IND``) belongs to nobody and is
  dropped, so the peer advertises again and can be reconnected.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Final

from bumble.core import PhysicalTransport
from bumble.device import Advertisement, Connection, Device
from bumble.hci import (
    HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR,
    Address,
    HCI_LE_Create_Connection_Cancel_Command,
    Role,
)
from bumble.transport import open_transport
from bumble.transport.common import TransportSink, TransportSource

from nabd.edge.errors import BleTransportError

__all__ = ["AdvertisementListener", "BumbleHost", "static_address"]

log = logging.getLogger(__name__)

AdvertisementListener = Callable[[Advertisement], None]

_POWER_ON_TIMEOUT: Final = 10.0
"""Seconds the controller may take to answer the host's reset and setup commands."""
_CANCEL_TIMEOUT: Final = 2.0


def static_address(seed: str) -> Address:
    """A random static address derived from ``seed`` (the gateway id): stable across restarts,
    so peripherals that remember their central keep recognising the gateway."""
    digest = bytearray(hashlib.sha256(seed.encode()).digest()[:6])
    digest[5] |= 0xC0  # the two most significant bits of a static random address are 1
    return Address(bytes(digest), Address.RANDOM_DEVICE_ADDRESS)


class BumbleHost:
    """The bumble host behind the bleak backend; see the module docstring."""

    def __init__(self, device: Device, terminated: asyncio.Future[None] | None = None) -> None:
        self.device = device
        self.terminated: asyncio.Future[None] = (
            terminated or asyncio.get_running_loop().create_future()
        )
        """Done when the transport to the controller is lost."""
        self._listeners: list[AdvertisementListener] = []
        self._scan_lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._connecting: Address | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        device.on(Device.EVENT_ADVERTISEMENT, self._on_advertisement)
        device.on(Device.EVENT_CONNECTION, self._on_connection)

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, transport: str, address: Address, name: str) -> AsyncIterator[BumbleHost]:
        """A powered-on host on the bumble transport ``transport`` (e.g. ``usb:0``)."""
        try:
            opened = await open_transport(transport)
        except (OSError, ValueError, RuntimeError) as exc:
            raise BleTransportError(f"cannot open bumble transport {transport!r}: {exc}") from exc
        async with opened, cls.attach(opened.source, opened.sink, address, name) as host:
            host.terminated = opened.source.terminated
            yield host

    @classmethod
    @contextlib.asynccontextmanager
    async def attach(
        cls, source: TransportSource, sink: TransportSink, address: Address, name: str
    ) -> AsyncIterator[BumbleHost]:
        """A powered-on host on an HCI source/sink pair, e.g. an in-process bumble Controller."""
        device = Device.with_hci(name, address, source, sink)
        try:
            async with asyncio.timeout(_POWER_ON_TIMEOUT):
                await device.power_on()
        except TimeoutError as exc:
            raise BleTransportError("the controller did not answer the host's setup") from exc
        host = cls(device)
        try:
            yield host
        finally:
            await host._close()

    async def _close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_POWER_ON_TIMEOUT):
                await self.device.power_off()

    # Scanning -----------------------------------------------------------------------------

    async def add_listener(self, listener: AdvertisementListener) -> None:
        """Deliver every advertisement to ``listener``; scans while any listener is registered."""
        async with self._scan_lock:
            self._listeners.append(listener)
            if not self.device.is_scanning:
                await self.device.start_scanning(active=True, filter_duplicates=False)

    async def remove_listener(self, listener: AdvertisementListener) -> None:
        async with self._scan_lock:
            with contextlib.suppress(ValueError):
                self._listeners.remove(listener)
            if not self._listeners and self.device.is_scanning:
                await self.device.stop_scanning()

    def _on_advertisement(self, advertisement: Advertisement) -> None:
        for listener in list(self._listeners):
            listener(advertisement)

    async def find(self, address: str) -> Address | None:
        """The typed address of the advertiser ``address`` (``AA:BB:...``), or ``None`` if it is
        not heard before the caller's deadline expires (the caller sets it)."""
        wanted = address.upper()
        found: asyncio.Future[Address] = asyncio.get_running_loop().create_future()

        def listener(advertisement: Advertisement) -> None:
            text = advertisement.address.to_string(with_type_qualifier=False)
            if text == wanted and not found.done():
                found.set_result(advertisement.address)

        await self.add_listener(listener)
        try:
            return await found
        finally:
            await self.remove_listener(listener)

    # Connecting ---------------------------------------------------------------------------

    async def connect(self, address: Address) -> Connection:
        """An LE connection to ``address``; the caller's deadline bounds the wait."""
        async with self._connect_lock:
            self._connecting = address
            try:
                # No bumble timeout: the caller's asyncio deadline cancels this wait.
                return await self.device.connect(
                    address, transport=PhysicalTransport.LE, timeout=None
                )
            except asyncio.CancelledError:
                await self._cancel_attempt()
                raise
            finally:
                self._connecting = None

    async def _cancel_attempt(self) -> None:
        """Withdraw the controller's pending ``LE Create Connection`` (best effort: a connection
        that completes anyway is dropped by :meth:`_on_connection`)."""
        with contextlib.suppress(Exception):
            async with asyncio.timeout(_CANCEL_TIMEOUT):
                await self.device.send_sync_command(HCI_LE_Create_Connection_Cancel_Command())

    def _on_connection(self, connection: Connection) -> None:
        if connection.role != Role.CENTRAL or connection.transport != PhysicalTransport.LE:
            return
        if self._connecting is not None and connection.peer_address == self._connecting:
            return
        # A connection nobody waits for any more: hang up so the peer advertises again.
        log.info("dropping late connection to %s", connection.peer_address)
        task = asyncio.get_running_loop().create_task(
            connection.disconnect(HCI_REMOTE_USER_TERMINATED_CONNECTION_ERROR)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
