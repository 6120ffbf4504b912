"""paho-mqtt's client reading its socket in large chunks, and acknowledging many messages at once.

Why: paho 2.2 reads every packet with at least three ``recv`` calls on the TLS socket (one byte of
command, the remaining-length bytes one at a time, then the rest), and goes back to ``select``
after each packet. On an ingest worker receiving thousands of small PUBLISH packets a second,
that was the largest share of its CPU after validation (py-spy, ``bench/ingest_bench.py``).
Mosquitto writes each packet as its own TLS record and ``SSL_read`` returns at most one record,
so one large read gets one whole packet (several when a sender packs them in one record), and
reading on until the socket has nothing left spares the ``select`` between packets. Likewise
each manual PUBACK was its own queued packet, its own wake-up of the network thread (a byte on
paho's socket pair) and its own TLS record, although ingest acknowledges a whole flush at once.

:class:`BufferedClient` changes only where bytes come from and how PUBACKs are queued; paho still
parses every packet, keeps the session state, reconnects and calls back exactly as before:

* ``_sock_recv`` serves paho's small reads from a buffer filled by one large read of the socket;
* ``loop_read`` goes on handling packets until a read finds nothing (bytes of a partial packet
  are kept in paho's own state and completed by the next read), so a backlog of fifty packets
  costs one ``select`` instead of fifty;
* the buffer is emptied whenever the socket is closed (a new connection starts from nothing);
* :meth:`BufferedClient.ack_many` queues the PUBACKs of many messages as one write.

It relies on paho's private reading methods, whose behaviour was read in paho 2.2.0 (the version
``uv.lock`` pins); :data:`PAHO_VERSION` is checked at construction so that an upgrade fails loudly
here rather than misreading the stream. ``tests/mqtt/test_buffered.py`` runs it against the real
broker: many packets per chunk, packets split across chunks, reconnection, batched PUBACKs.
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterable
from typing import Any, Final

import paho.mqtt
import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

from nabd.mqtt.errors import MqttSetupError

__all__ = ["BURST", "PAHO_VERSION", "READ_SIZE", "BufferedClient"]

PAHO_VERSION: Final = "2.2.0"
"""The paho-mqtt release whose private reading methods this module overrides."""
READ_SIZE: Final = 65_536
"""Bytes asked of the socket at once (TLS hands over at most one 16 KiB record per read)."""
BURST: Final = 256
"""Packets one wake-up of the network thread may read before it writes (PUBACKs, pings)."""
_PUBACK: Final = 0x40
_PUBACK_PACKET: Final = struct.Struct("!BBH")


class BufferedClient(mqtt.Client):
    """A paho :class:`~paho.mqtt.client.Client` whose network thread reads in large chunks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if paho.mqtt.__version__ != PAHO_VERSION:
            raise MqttSetupError(
                "paho-mqtt",
                f"nabd.mqtt.buffered was written for {PAHO_VERSION}, found "
                f"{paho.mqtt.__version__}: check its overrides before upgrading",
            )
        super().__init__(*args, **kwargs)
        self._chunk = b""
        self._chunk_pos = 0

    # -- reading --------------------------------------------------------------------------

    def _sock_recv(self, bufsize: int) -> bytes:
        """Up to ``bufsize`` bytes from the buffer, refilled by one large read when empty.

        Raises what paho's own method raises when the buffer is empty and the socket has nothing
        (``BlockingIOError``) or fails; returns ``b""`` at end of stream, as a socket does.
        """
        pos = self._chunk_pos
        if pos >= len(self._chunk):
            chunk = super()._sock_recv(READ_SIZE)
            if not chunk:
                return chunk
            self._chunk, pos = chunk, 0
        end = min(pos + bufsize, len(self._chunk))
        self._chunk_pos = end
        return self._chunk[pos:end]

    def buffered(self) -> int:
        """Bytes read from the socket and not yet handed to paho's parser."""
        return len(self._chunk) - self._chunk_pos

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        """paho's read step, going on until the socket has nothing more (at most :data:`BURST`
        packets, so that writes and keepalive get their turn), with no ``select`` between."""
        count = max(max_packets, len(self._out_messages) + len(self._in_messages), BURST)
        for _ in range(count):
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_close(self) -> None:
        """Close as paho does, and drop what was buffered: it belonged to that connection."""
        self._chunk, self._chunk_pos = b"", 0
        super()._sock_close()

    # -- stopping -------------------------------------------------------------------------

    def loop_stop(self) -> MQTTErrorCode:
        """paho's ``loop_stop`` without its race. paho checks ``self._thread``, then joins
        ``self._thread``; its network thread sets that attribute to ``None`` as it ends, which
        it does on its own right after a ``disconnect()``. Ending in between, the join raised
        ``AttributeError: 'NoneType' object has no attribute 'join'`` and a clean shutdown of
        analytics failed (seen once in a full test run). The thread is read once here."""
        thread = self._thread
        if thread is None:
            return MQTTErrorCode.MQTT_ERR_INVAL
        self._thread_terminate = True
        if threading.current_thread() is not thread:
            thread.join()
            self._thread = None
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    # -- acknowledging --------------------------------------------------------------------

    def ack_many(self, mids: Iterable[int]) -> MQTTErrorCode:
        """Queue the PUBACKs of the QoS 1 messages ``mids`` (manual acknowledgement) as one write.

        Same bytes as :meth:`ack` for each (MQTT v5 PUBACK without reason code: success), one
        wake-up of the network thread and one TLS record instead of one per message.
        """
        packet = b"".join(_PUBACK_PACKET.pack(_PUBACK, 2, mid) for mid in mids)
        if not packet:
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        return self._packet_queue(_PUBACK, packet, 0, 0)
