"""The SIP TCP listening socket, accepted by hand.

`loop.create_server` builds a transport and a protocol for every connection before we
can look at it, and when accept() fails for want of descriptors asyncio pauses while
uvloop may close the listener for good. Here accept() is ours: the owner sees the
peer's address first and refuses with a bare close (no objects built), at most
`ACCEPT_BATCH` connections are taken per wake-up (one flooder cannot hold the loop), and
an accept() error (EMFILE, ENFILE, ENOBUFS, ...) stops reading the socket for
`ACCEPT_PAUSE` seconds: the loop does not spin on a socket it cannot serve, the pending
connections wait in the kernel's backlog, and the listener lives on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections.abc import Callable

log = logging.getLogger(__name__)

ACCEPT_BATCH = 64
ACCEPT_PAUSE = 1.0
_LOG_EVERY = 60.0
_RESET_ON_CLOSE = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close sends RST, no TIME_WAIT

AcceptHandler = Callable[[socket.socket, str], None]


def reset_and_close(conn: socket.socket) -> None:
    """Close an accepted socket at once, with a reset: a refusal costs us nothing more."""
    with contextlib.suppress(OSError):  # already reset by the peer: a plain close will do
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_ON_CLOSE)
    conn.close()


class Acceptor:
    """One listening TCP socket; hands each accepted socket and peer host to `on_accept`."""

    def __init__(self, sock: socket.socket, on_accept: AcceptHandler) -> None:
        self._sock = sock
        self._on_accept = on_accept
        self._loop = asyncio.get_running_loop()
        self._resume: asyncio.TimerHandle | None = None
        self._closed = False
        self._last_logged: float | None = None
        self._unlogged = 0
        self.errors = 0

    @classmethod
    def listen(cls, host: str, port: int, on_accept: AcceptHandler, *, backlog: int) -> Acceptor:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        acceptor = cls(sock, on_accept)
        acceptor._loop.add_reader(sock.fileno(), acceptor._readable)
        return acceptor

    @property
    def local_address(self) -> tuple[str, int]:
        host, port = self._sock.getsockname()[:2]
        return str(host), int(port)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._resume is not None:
            self._resume.cancel()
        else:
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()

    def _readable(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, peer = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue  # the peer gave up while queued
            except OSError as error:
                self._pause(error)
                return
            try:
                conn.setblocking(False)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                conn.close()  # reset by the peer already
                continue
            self._on_accept(conn, str(peer[0]))

    def _pause(self, error: OSError) -> None:
        self.errors += 1
        self._loop.remove_reader(self._sock.fileno())
        self._resume = self._loop.call_later(ACCEPT_PAUSE, self._restart)
        now = self._loop.time()
        if self._last_logged is not None and now - self._last_logged < _LOG_EVERY:
            self._unlogged += 1
            return
        log.error(
            "cannot accept SIP TCP connections (%s); pausing accept for %.0f s "
            "(%d more such errors since the last report)",
            error.strerror or error,
            ACCEPT_PAUSE,
            self._unlogged,
        )
        self._last_logged, self._unlogged = now, 0

    def _restart(self) -> None:
        self._resume = None
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._readable)
