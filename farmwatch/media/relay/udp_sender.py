"""A relay's UDP socket: bound on the relay's port, connected to the upper's `c=`:`m=`.

Owns the UDP transport of a relay (gb28181.md §6.2, §9.2 item 3). The socket is bound on
the node's media host and pool port (the port of our 200 OK's `m=`) and connected to the
upper, so the kernel reports ICMP port unreachable on it (`ConnectionRefusedError` on the
next send or receive: `sender_refused`) and only the upper's packets are received: RTCP it
sends from its media port to ours (`sender_rtcp`), and, for two-way talk, its RTP
(`on_data`). Datagrams are sent straight from the caller with `socket.send` (no transport
buffer): a full send buffer refuses the rest of a frame, which the relay then drops up to a
key frame.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable

from farmwatch.media.relay.sender import SenderListener
from farmwatch.media.rtp import is_rtcp

__all__ = ["UdpRelaySender"]

log = logging.getLogger(__name__)

SEND_BUFFER = 1024 * 1024
"""SO_SNDBUF: a 2 Mbit/s key frame is ~100 datagrams sent at once."""
_READS_PER_TURN = 16
_UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})


class UdpRelaySender:
    """`RelaySender` over UDP; see the module docstring."""

    def __init__(
        self, host: str, port: int, *, local_host: str, local_port: int,
        listener: SenderListener, label: str, on_data: Callable[[bytes], None] | None = None,
    ) -> None:  # fmt: skip
        self._peer = (host, port)
        self._local = (local_host, local_port)
        self._on_data = on_data
        self._listener = listener
        self._label = label
        self._sock: socket.socket | None = None
        self._has_warned = False

    @property
    def local_port(self) -> int:
        return self._local[1]

    @property
    def backlog(self) -> int:
        return 0

    async def open(self) -> None:
        family = socket.AF_INET6 if ":" in self._peer[0] else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            sock.setblocking(False)
            sock.bind(self._local)
            sock.connect(self._peer)
        except OSError:
            sock.close()
            raise
        self._sock = sock
        self._local = (self._local[0], int(sock.getsockname()[1]))
        asyncio.get_running_loop().add_reader(sock.fileno(), self._readable)
        self._listener.sender_connected()

    def send_packets(self, packets: list[bytes]) -> int:
        sock = self._sock
        if sock is None:
            return 0
        send = sock.send
        sent = 0
        try:
            for packet in packets:
                send(packet)
                sent += 1
        except BlockingIOError:
            pass  # the send buffer is full: the rest of the frame is dropped
        except OSError as error:
            self._failed(error)
        return sent

    def write(self, data: bytes) -> None:
        raise TypeError("a UDP relay sends datagrams (send_packets)")

    async def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            asyncio.get_running_loop().remove_reader(sock.fileno())
            sock.close()

    def _readable(self) -> None:
        sock = self._sock
        for _ in range(_READS_PER_TURN):
            if sock is None or sock is not self._sock:
                return
            try:
                data = sock.recv(2048)
            except BlockingIOError:
                return
            except OSError as error:
                self._failed(error)
                continue  # the error is cleared once reported
            if is_rtcp(data):
                self._listener.sender_rtcp(data)
            elif self._on_data is not None:
                self._on_data(data)  # two-way talk: the device's voice on the same socket

    def _failed(self, error: OSError) -> None:
        if error.errno in _UNREACHABLE:
            self._listener.sender_refused()
        elif not self._has_warned:
            self._has_warned = True  # once: a broken route must not flood the log
            log.warning("%s: sending to %s:%d failed: %s", self._label, *self._peer, error)
