"""One end of the platform–front channel on the event loop: records in, records out.

Records sent during a loop turn leave together in one packet when the turn ends (a
storm's records would otherwise cost a system call each on both sides). When the other
side is behind and the socket's buffer is full, packets wait here in order and go as soon
as it can take them: a registration reported by a front must reach the platform's table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

from farmwatch.sipserver.front.wire import Record, WireError, decode, encode

__all__ = ["Channel"]

log = logging.getLogger(__name__)

MAX_PACKET = 262_144
"""The largest packet read (64 records, one of them a datagram of up to 64 KiB)."""
RECORDS_PER_PACKET = 64
PACKETS_PER_TURN = 64
"""Packets read in one loop turn at most, so that the other work of the loop goes on."""
SEND_BUFFER = 4 * 1024 * 1024


class Channel:
    def __init__(
        self,
        sock: socket.socket,
        on_records: Callable[[list[Record]], None],
        *,
        name: str,
        on_closed: Callable[[], None] = lambda: None,
    ) -> None:
        sock.setblocking(False)
        # A smaller buffer than asked only means more waiting in `_backlog`.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        self._socket = sock
        self._on_records = on_records
        self._on_closed = on_closed
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._outbox: list[Record] = []
        self._backlog: list[bytes] = []
        self._flush_pending = False
        self._closed = False
        self._loop.add_reader(sock.fileno(), self._readable)

    def send(self, record: Record) -> None:
        if self._closed:
            return
        self._outbox.append(record)
        if not self._flush_pending:
            self._flush_pending = True
            self._loop.call_soon(self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        records, self._outbox = self._outbox, []
        if self._closed or not records:
            return
        packets = [
            encode(records[start : start + RECORDS_PER_PACKET])
            for start in range(0, len(records), RECORDS_PER_PACKET)
        ]
        if self._backlog:
            self._backlog.extend(packets)  # after those still waiting, in order
            return
        self._write(packets)

    def close(self) -> None:
        if self._closed:
            return
        self.flush()
        self._shut()

    def _write(self, packets: list[bytes]) -> None:
        for index, packet in enumerate(packets):
            try:
                self._socket.send(packet)
            except BlockingIOError:
                self._backlog = packets[index:]
                self._loop.add_writer(self._socket.fileno(), self._writable)
                return
            except OSError as error:
                self._lost(f"sending failed: {error}")
                return

    def _writable(self) -> None:
        self._loop.remove_writer(self._socket.fileno())
        packets, self._backlog = self._backlog, []
        self._write(packets)

    def _readable(self) -> None:
        for _ in range(PACKETS_PER_TURN):
            try:
                packet = self._socket.recv(MAX_PACKET)
            except BlockingIOError:
                return
            except OSError as error:
                self._lost(f"receiving failed: {error}")
                return
            if not packet:
                self._lost("the other side closed it")
                return
            try:
                records = decode(packet)
            except WireError as error:
                log.error("SIP front channel %s: unreadable packet: %s", self._name, error)
                continue
            self._on_records(records)

    def _lost(self, why: str) -> None:
        if self._closed:
            return
        log.warning("SIP front channel %s closed: %s", self._name, why)
        self._shut()
        self._on_closed()

    def _shut(self) -> None:
        self._closed = True
        self._loop.remove_reader(self._socket.fileno())
        if self._backlog:
            self._loop.remove_writer(self._socket.fileno())
            self._backlog = []
        self._socket.close()
