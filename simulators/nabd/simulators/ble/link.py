"""Where a virtual device's radio is: bumble's virtual link, or a real controller.

* :class:`VirtualRadio` is bumble's in-process :class:`~bumble.link.LocalLink`: each device gets
  its own virtual controller on it, and real advertising, connections and ATT run between them
  (no kernel Bluetooth). A central in the same process joins with :meth:`VirtualRadio.host`; a
  gateway in *another* process (``nabd edge run``) joins through :meth:`VirtualRadio.serve`,
  which puts one more controller on the link and serves its HCI over TCP, so the gateway's
  bumble host reaches it with the transport ``tcp-client:127.0.0.1:<port>`` as it would a USB
  dongle.
* :func:`hci_host` drives a real controller through any bumble transport spec (``usb:0``,
  ``serial:/dev/ttyUSB0,1000000``, ``hci-socket:0``), so a phone or a real gateway can test
  against the virtual device over the air. One controller advertises one device.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Final

from bumble.controller import Controller
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport import open_transport
from bumble.transport.common import AsyncPipeSink
from bumble.transport.tcp_server import open_tcp_server_transport_with_socket

from nabd.simulators.errors import DeviceTransportError

__all__ = ["VIRTUAL", "VirtualRadio", "hci_host"]

VIRTUAL: Final = "virtual"
"""The transport spec that means "bumble's in-process virtual link"."""

_POWER_TIMEOUT: Final = 10.0


async def _powered(device: Device) -> None:
    try:
        async with asyncio.timeout(_POWER_TIMEOUT):
            await device.power_on()
    except TimeoutError as exc:
        raise DeviceTransportError(f"the controller of {device.name} did not power on") from exc


async def _power_off(device: Device) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(_POWER_TIMEOUT):
            await device.power_off()


class VirtualRadio:
    """A bumble ``LocalLink`` shared by every virtual device and central of a run."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]  # bumble leaves it untyped

    @contextlib.asynccontextmanager
    async def host(self, name: str, address: str) -> AsyncIterator[Device]:
        """A powered-on bumble host on its own virtual controller on the link."""
        controller = Controller(f"ctrl-{name}", link=self.link)
        device = Device(
            name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller))
        )
        try:
            await _powered(device)
            yield device
        finally:
            await _power_off(device)
            self.link.remove_controller(controller)

    @contextlib.asynccontextmanager
    async def serve(self, port: int = 0, bind: str = "127.0.0.1") -> AsyncIterator[int]:
        """Serve a controller on the link over TCP (HCI H4); yields the port it listens on.

        One host at a time may connect (``tcp-client:<bind>:<port>``), as to a dongle.
        """
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Accepted sockets inherit TCP_NODELAY: without it Nagle and delayed ACKs add ~40 ms to
        # every ATT round trip through the served controller.
        listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((bind, port))
        except OSError as exc:
            listener.close()
            raise DeviceTransportError(f"cannot listen on {bind}:{port}: {exc}") from exc
        transport = await open_tcp_server_transport_with_socket(listener)
        controller = Controller(
            "gateway", host_source=transport.source, host_sink=transport.sink, link=self.link
        )
        try:
            yield int(listener.getsockname()[1])
        finally:
            self.link.remove_controller(controller)
            await transport.close()
            server = getattr(transport, "server", None)
            if server is not None:
                server.close()
                await server.wait_closed()
            listener.close()


@contextlib.asynccontextmanager
async def hci_host(spec: str, name: str, address: str) -> AsyncIterator[Device]:
    """A powered-on bumble host on the real controller behind the transport ``spec``."""
    try:
        transport = await open_transport(spec)
    except Exception as exc:  # each driver has its own errors (libusb's are not OSError)
        raise DeviceTransportError(f"cannot open bumble transport {spec!r}: {exc}") from exc
    async with transport:
        device = Device.with_hci(name, Address(address), transport.source, transport.sink)
        try:
            await _powered(device)
            yield device
        finally:
            await _power_off(device)
