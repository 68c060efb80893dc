"""A TCP socket bound before it connects or listens: the media port is ours from the start.

Owns `bind_tcp_socket`, shared by the TCP-active receiver (the offer's port held until the
device's connection comes or we dial) and the TCP relay sender (dialling from the port its
SDP named).
"""

from __future__ import annotations

import socket

__all__ = ["bind_tcp_socket"]


def bind_tcp_socket(
    host: str, port: int, family: socket.AddressFamily | None = None
) -> socket.socket:
    """A non-blocking TCP socket bound to `host:port` with `SO_REUSEADDR` (as asyncio's
    servers set it); the family follows `host` unless given. Raises `OSError`."""
    if family is None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setblocking(False)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock
