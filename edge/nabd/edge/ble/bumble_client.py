"""bleak's client backend on a bumble host: a real LE connection and a real GATT client.

``BleakClient(backend=...)`` (and bleak-retry-connector's ``establish_connection``, which builds
a ``BleakClient``) instantiates this class, bound to a :class:`BumbleHost` by
:func:`nabd.edge.ble.bumble_backend.bleak_backend`. Every call goes through bumble's host stack to
the controller: ``LE Create Connection``, ATT MTU exchange, primary service / characteristic /
descriptor discovery, ATT reads and writes, CCCD writes for notifications and indications, and
``Disconnect``. Errors come back as bleak's: an ATT error response is a
``BleakGATTProtocolError`` with its code, anything else from the stack a ``BleakError``, an
unknown address after the timeout a ``BleakDeviceNotFoundError``, a connect deadline a
``TimeoutError`` (what ``establish_connection`` retries on).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, ClassVar, Final, TypeVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError
from bumble.att import ATT_DEFAULT_MTU, ATT_Error
from bumble.core import BaseBumbleError
from bumble.device import Connection, Peer
from bumble.hci import Address

from nabd.edge.ble.bumble_convert import bumble_uuid, service_collection
from nabd.edge.ble.bumble_host import BumbleHost

__all__ = ["BumbleClient"]

log = logging.getLogger(__name__)

_PREFERRED_MTU: Final = 247
"""What the client asks for in the ATT MTU exchange (a common controller buffer size)."""
_DISCONNECT_TIMEOUT: Final = 5.0

T = TypeVar("T")


@contextlib.contextmanager
def _as_bleak_errors(what: str) -> Iterator[None]:
    """Re-raise bumble's errors as the ones bleak documents for its public API."""
    try:
        yield
    except ATT_Error as exc:
        raise BleakGATTProtocolError(exc.error_code) from exc
    except BaseBumbleError as exc:
        raise BleakError(f"{what}: {exc}") from exc


class BumbleClient(BaseBleakClient):
    """A ``BaseBleakClient`` on the class's :attr:`host`."""

    host: ClassVar[BumbleHost]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        services: set[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout
        )
        device = address_or_ble_device if isinstance(address_or_ble_device, BLEDevice) else None
        details = device.details if device is not None else None
        self._typed_address = details if isinstance(details, Address) else None
        self._name = device.name if device is not None else None
        self._service_filter = services
        self._connection: Connection | None = None
        self._peer: Peer | None = None
        self._disconnecting = False
        self._lost: asyncio.Future[None] | None = None
        self._subscribers: dict[int, Callable[[bytes], None]] = {}

    # Identity and state -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return self._connection.att_mtu if self._connection is not None else ATT_DEFAULT_MTU

    @property
    def is_connected(self) -> bool:
        return self._connection is not None

    def _require_peer(self) -> Peer:
        if self._peer is None:
            raise BleakError("Not connected")
        return self._peer

    async def _while_connected(self, what: str, operation: Awaitable[T]) -> T:
        """Await a GATT operation, failing at once if the link drops meanwhile (a request
        sent just before a disconnection would otherwise wait for a response forever)."""
        task = asyncio.ensure_future(operation)
        lost = self._lost
        try:
            if lost is None or lost.done():
                raise BleakError(f"{what}: not connected")
            either: set[asyncio.Future[Any]] = {task, lost}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            # bumble itself cancels requests on some disconnections: same outcome for us.
            if not task.done() or task.cancelled():
                raise BleakError(f"{what}: disconnected")
            with _as_bleak_errors(what):
                return task.result()
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, BaseBumbleError):
                    await task

    # Connection ---------------------------------------------------------------------------

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        """Connect, exchange MTU, optionally pair, discover the whole GATT database; all within
        ``timeout`` (the constructor's, or the ``timeout`` keyword bleak passes)."""
        if self._connection is not None:
            return
        deadline = asyncio.get_running_loop().time() + float(kwargs.get("timeout", self._timeout))
        address = self._typed_address or await self._find(deadline)
        async with asyncio.timeout_at(deadline):
            with _as_bleak_errors(f"connecting to {self.address}"):
                connection = await self.host.connect(address)
            try:
                await self._set_up(connection, pair)
            except BaseException:
                await self._hang_up(connection)
                raise

    async def _find(self, deadline: float) -> Address:
        try:
            async with asyncio.timeout_at(deadline):
                found = await self.host.find(self.address)
        except TimeoutError:
            found = None
        if found is None:
            raise BleakDeviceNotFoundError(
                self.address, f"Device with address {self.address} was not found."
            )
        self._typed_address = found
        return found

    async def _set_up(self, connection: Connection, pair: bool) -> None:
        self._connection = connection
        self._lost = asyncio.get_running_loop().create_future()
        connection.on(Connection.EVENT_DISCONNECTION, self._on_disconnection)
        peer = Peer(connection)
        await self._while_connected(f"setting up {self.address}", self._discover(peer, pair))
        self.services = service_collection(peer.services, lambda: self.mtu_size - 3)
        self._peer = peer

    async def _discover(self, peer: Peer, pair: bool) -> None:
        await peer.request_mtu(_PREFERRED_MTU)
        if pair:
            await peer.connection.pair()
        wanted = [bumble_uuid(u) for u in self._service_filter or ()]
        for service in await peer.discover_services(wanted):
            for characteristic in await peer.discover_characteristics(service=service):
                await peer.discover_descriptors(characteristic)

    def _on_disconnection(self, reason: int) -> None:
        unsolicited = not self._disconnecting and self._connection is not None
        self._forget()
        if unsolicited:
            log.debug("%s disconnected (reason 0x%02X)", self.address, reason)
            if self._disconnected_callback is not None:
                self._disconnected_callback()

    def _forget(self) -> None:
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(None)
        self._connection = None
        self._peer = None
        self.services = None
        self._subscribers.clear()

    async def _hang_up(self, connection: Connection) -> None:
        self._disconnecting = True
        try:
            with contextlib.suppress(BaseBumbleError, TimeoutError):
                async with asyncio.timeout(_DISCONNECT_TIMEOUT):
                    await connection.disconnect()
        finally:
            self._disconnecting = False
            self._forget()

    async def disconnect(self) -> None:
        if self._connection is not None:
            await self._hang_up(self._connection)

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        if self._connection is None:
            raise BleakError("Not connected")
        await self._while_connected(f"pairing with {self.address}", self._connection.pair())

    async def unpair(self) -> None:
        raise BleakError("unpairing is not supported by the bumble backend")

    # GATT I/O -----------------------------------------------------------------------------

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        value = await self._while_connected(
            f"reading {characteristic.uuid}", peer.read_value(characteristic.handle)
        )
        return bytearray(value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        peer = self._require_peer()
        value = await self._while_connected(
            f"reading descriptor {descriptor.uuid}", peer.read_value(descriptor.handle)
        )
        return bytearray(value)

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        peer = self._require_peer()
        await self._while_connected(
            f"writing {characteristic.uuid}",
            peer.write_value(characteristic.handle, bytes(data), with_response=response),
        )

    async def write_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, data: SizedBuffer
    ) -> None:
        peer = self._require_peer()
        await self._while_connected(
            f"writing descriptor {descriptor.uuid}",
            peer.write_value(descriptor.handle, bytes(data), with_response=True),
        )

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        """Write the CCCD: notifications if the characteristic has them, else indications (the
        stack confirms each indication before the callback runs)."""
        peer = self._require_peer()

        def on_value(value: bytes) -> None:
            callback(bytearray(value))

        await self._while_connected(
            f"subscribing to {characteristic.uuid}",
            peer.subscribe(characteristic.obj, on_value, prefer_notify=True),
        )
        self._subscribers[characteristic.handle] = on_value

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        peer = self._require_peer()
        subscriber = self._subscribers.pop(characteristic.handle, None)
        await self._while_connected(
            f"unsubscribing from {characteristic.uuid}",
            peer.unsubscribe(characteristic.obj, subscriber),
        )
