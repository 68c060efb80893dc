"""The platform's socket steers the devices of a shared SIP port to the fronts' sockets.

Real sockets on 127.0.0.1: one group of three (the platform's first, then two fronts), and
datagrams from many source ports, as many devices send them.
"""

from __future__ import annotations

import socket
from collections import Counter

from farmwatch.sipserver.transport.udp import bind_sip_socket

SOURCES = 200


def _received(group: list[socket.socket], host: str = "127.0.0.1") -> Counter[int]:
    """How many of SOURCES fresh source ports each socket of `group` read (each port's two
    datagrams must be read by one socket)."""
    port = group[0].getsockname()[1]
    senders = []
    for _ in range(SOURCES):
        sender = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET,
                               socket.SOCK_DGRAM)  # fmt: skip
        sender.bind((host, 0))
        # Two datagrams of different sizes from each source: the same socket reads both.
        sender.sendto(b"REGISTER", (host, port))
        sender.sendto(b"MESSAGE keepalive", (host, port))
        senders.append(sender)
    seen: Counter[int] = Counter()
    readers: dict[int, set[int]] = {}
    for index, sock in enumerate(group):
        sock.setblocking(False)
        while True:
            try:
                _, source = sock.recvfrom(100)
            except BlockingIOError:
                break
            readers.setdefault(source[1], set()).add(index)
    for indexes in readers.values():
        assert len(indexes) == 1, "one device's datagrams were read by several sockets"
        seen[next(iter(indexes))] += 1
    for sender in senders:
        sender.close()
    return seen


def test_the_fronts_read_every_device_and_the_platform_none() -> None:
    platform = bind_sip_socket("127.0.0.1", 0, receive_buffer=1 << 20, fronts=2)
    port = platform.getsockname()[1]
    fronts = [
        bind_sip_socket("127.0.0.1", port, receive_buffer=1 << 20, reuse_port=True)
        for _ in range(2)
    ]
    try:
        seen = _received([platform, *fronts])
        assert seen[0] == 0
        assert seen[1] + seen[2] == SOURCES
        assert min(seen[1], seen[2]) > SOURCES / 4  # spread, not all on one
    finally:
        for sock in (platform, *fronts):
            sock.close()


def test_without_a_front_the_platform_reads_the_devices_itself() -> None:
    platform = bind_sip_socket("127.0.0.1", 0, receive_buffer=1 << 20, fronts=2)
    port = platform.getsockname()[1]
    front = bind_sip_socket("127.0.0.1", port, receive_buffer=1 << 20, reuse_port=True)
    try:
        # One front of two is missing: its share falls back to the kernel's hash over the
        # sockets left, the platform's among them; nothing is lost.
        seen = _received([platform, front])
        assert seen[0] + seen[1] == SOURCES
        assert seen[0] > 0
    finally:
        platform.close()
        front.close()


def test_ipv6_devices_are_steered_too() -> None:
    platform = bind_sip_socket("::1", 0, receive_buffer=1 << 20, fronts=2)
    port = platform.getsockname()[1]
    fronts = [
        bind_sip_socket("::1", port, receive_buffer=1 << 20, reuse_port=True) for _ in range(2)
    ]
    try:
        seen = _received([platform, *fronts], host="::1")
        assert seen[0] == 0
        assert seen[1] + seen[2] == SOURCES and min(seen[1], seen[2]) > SOURCES / 4
    finally:
        for sock in (platform, *fronts):
            sock.close()
