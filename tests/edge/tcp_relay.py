"""A TCP relay standing in for the network between the gateway and the broker.

The session's broker cannot be stopped for one test, so the agent is pointed at this relay: while
the relay is closed nothing listens on its port (the broker is "down"); once opened, it forwards
every connection to the real broker, TLS and all, untouched (the broker "came back").
"""

from __future__ import annotations

import asyncio
import socket


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CLOSE_TIMEOUT_S = 2.0
"""How long a closing pipe waits for its writer to flush before the connection is dropped."""


class TcpRelay:
    """Forwards ``127.0.0.1:port`` to ``target`` while open."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.port = free_port()
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection(*self._target)
        except OSError:
            client_w.close()
            return
        for reader, writer in ((client_r, server_w), (server_r, client_w)):
            task = asyncio.create_task(self._pipe(reader, writer))
            self._pipes.add(task)
            task.add_done_callback(self._pipes.discard)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            try:  # bounded: a peer that stopped reading must not hold the relay's close forever
                await asyncio.wait_for(writer.wait_closed(), CLOSE_TIMEOUT_S)
            except (TimeoutError, OSError):
                writer.transport.abort()  # a cut link is what the relay simulates
