"""The SIP socket's receive queue read directly: datagrams not yet read are seen at once."""

from __future__ import annotations

import socket

import pytest

from farmwatch.sipserver.sip.parser import DEFAULT_LIMITS
from farmwatch.sipserver.transport.queue_meter import truesize
from farmwatch.sipserver.transport.udp import UdpTransport
from tests.peers.raw_sip import options_bytes
from tests.peers.transport_listener import CountingListener


async def test_a_queue_the_loop_has_not_read_yet_shows_in_the_reading() -> None:
    listener = CountingListener()
    udp = await UdpTransport.bind("127.0.0.1", 0, listener, DEFAULT_LIMITS, receive_buffer=1 << 18)
    request = options_bytes(udp.local_address[1])
    try:
        empty = udp.read_queue()
        assert empty.delay == 0.0 and empty.fill == 0.0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            # Sent without yielding to the loop: all of it still waits in the kernel.
            for _ in range(40):
                sender.sendto(request, udp.local_address)
            reading = udp.read_queue()
        sock = udp._socket  # noqa: SLF001 - the size the kernel compares the queue with
        assert sock is not None
        size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        assert reading.fill * size == pytest.approx(40 * truesize(len(request)))
        # No datagram handled yet: the time per datagram is the starting guess, 100 µs.
        assert reading.delay > 0
        assert listener.received == 0
    finally:
        udp.close()
