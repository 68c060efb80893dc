"""A bug hit once per datagram is logged within a budget, and every datagram is still read."""

from __future__ import annotations

import asyncio
import logging

import pytest

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import DEFAULT_LIMITS
from farmwatch.sipserver.transport.udp import UdpTransport
from tests.peers.raw_sip import options_bytes
from tests.peers.transport_listener import CountingListener


class BrokenListener(CountingListener):
    """A transaction user with a bug that every message triggers."""

    def __init__(self) -> None:
        super().__init__()
        self.all_arrived = asyncio.Event()

    def message_received(self, message: SipRequest | SipResponse, source: Address) -> None:
        super().message_received(message, source)
        if self.received == 200:
            self.all_arrived.set()
        raise ZeroDivisionError("a bug of ours")


async def test_a_bug_per_datagram_logs_a_few_tracebacks_not_one_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    listener = BrokenListener()
    udp = await UdpTransport.bind("127.0.0.1", 0, listener, DEFAULT_LIMITS, receive_buffer=1 << 20)
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, remote_addr=("127.0.0.1", udp.local_address[1])
    )
    try:
        with caplog.at_level(logging.ERROR, logger="farmwatch.sipserver.transport.udp"):
            for _ in range(200):
                sender.sendto(options_bytes(udp.local_address[1]))
                await asyncio.sleep(0)  # let the socket drain: no datagram may be lost
            async with asyncio.timeout(10):
                await listener.all_arrived.wait()
    finally:
        sender.close()
        udp.close()
    assert udp.dropped == 200
    tracebacks = [record for record in caplog.records if record.exc_info]
    assert 1 <= len(tracebacks) <= 10
