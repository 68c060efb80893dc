"""A real `SipEndpoint` on loopback and a raw UDP peer: what one bad request cannot break.

The timer: four INVITEs are refused 486 and never ACKed, so each ends at its timer H; the
event loop is held up past those deadlines so that all four are due in one tick. The
first has a From that the parser lets through but `NameAddress` cannot read: it used to
raise out of the timer callback and leave the other three of its tick un-ticked, in
Completed forever (issue 13 item 7). And requests that the transaction layer or a
handler cannot read are answered 400, not dropped or answered 500 with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.message import SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag

T1 = 0.02
TIMER_H = 64 * T1


class Peer(asyncio.DatagramProtocol):
    """A raw UDP peer keeping every datagram it receives, in a bounded queue."""

    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.put_nowait(data)

    async def next_from(self, call_id: str, timeout: float = 5.0) -> bytes:
        """The next datagram about `call_id`, skipping the others."""
        async with asyncio.timeout(timeout):
            while True:
                data = await self.received.get()
                if f"\r\nCall-ID: {call_id}\r\n".encode() in data:
                    return data

    def drain(self) -> None:
        while not self.received.empty():
            self.received.get_nowait()


def invite(
    call_id: str,
    peer_port: int,
    from_uri: str = "sip:34020000001320000001@3402000000",
    *,
    method: str = "INVITE",
    branch: str = "z9hG4bK-",
) -> bytes:
    return (
        f"{method} sip:34020000002000000001@127.0.0.1 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{peer_port};branch={branch}{call_id}\r\n"
        f"From: <{from_uri}>;tag=peer\r\n"
        "To: <sip:34020000002000000001@3402000000>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: 1 {method}\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def to_tag(response: bytes) -> str:
    match = re.search(rb"\r\nTo: [^\r\n]*;tag=([^;\r\n]+)", response)
    assert match is not None, response
    return match[1].decode()


@asynccontextmanager
async def endpoint_and_peer() -> AsyncIterator[tuple[SipEndpoint, Peer, asyncio.DatagramTransport]]:
    settings = SipSettings(host="127.0.0.1", port=0, t1=T1, t2=4 * T1, t4=5 * T1)
    endpoint = SipEndpoint(settings)

    async def busy(incoming: IncomingRequest) -> SipResponse:
        return build_response(incoming.request, 486, to_tag=new_tag())

    async def reads_from(incoming: IncomingRequest) -> SipResponse:
        assert incoming.request.from_.uri.user  # what every handler of ours does first
        return build_response(incoming.request, 200, to_tag=new_tag())

    endpoint.add_handler("INVITE", busy)
    endpoint.add_handler("MESSAGE", reads_from)
    await endpoint.start()
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(
        Peer, local_addr=("127.0.0.1", 0), remote_addr=("127.0.0.1", endpoint.port)
    )
    try:
        yield endpoint, peer, transport
    finally:
        transport.close()
        await endpoint.close()


async def test_one_transaction_failing_its_timer_leaves_the_others_ticking() -> None:
    async with endpoint_and_peer() as (_, peer, transport):
        port = transport.get_extra_info("sockname")[1]
        bad_from = "sip:34020000001320000001@3402000000:99999"  # a port NameAddress refuses
        requests = {"bad": invite("bad", port, bad_from)}
        requests |= {f"good{i}": invite(f"good{i}", port) for i in range(3)}
        first_tags: dict[str, str] = {}
        started = time.monotonic()
        for call_id, data in requests.items():
            transport.sendto(data)
            first_tags[call_id] = to_tag(await peer.next_from(call_id))
        # A witness refused later: its timer G is due in the same tick, its timer H not yet.
        await asyncio.sleep(TIMER_H / 2)
        transport.sendto(invite("witness", port))
        await peer.next_from("witness")
        # Hold the loop up (deliberately blocking it) until the four timers H are all due.
        time.sleep(max(0.0, started + TIMER_H + 0.1 - time.monotonic()))
        peer.drain()

        # The tick ran: the witness's 486 is retransmitted (timer G), and again later.
        await peer.next_from("witness")
        await peer.next_from("witness")
        # All four ended at timer H: a retransmitted INVITE is a new transaction now,
        # answered afresh (a new To tag), not absorbed by a transaction stuck in Completed.
        for call_id, data in requests.items():
            transport.sendto(data)
            assert to_tag(await peer.next_from(call_id)) != first_tags[call_id], call_id


BAD_FROM = "sip:34020000001320000001@3402000000:99999"


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


async def test_a_request_no_transaction_can_hold_is_answered_400() -> None:
    # An RFC 2543 branch: the transaction is keyed by the From tag, and the From is unreadable.
    async with endpoint_and_peer() as (_, peer, transport):
        port = transport.get_extra_info("sockname")[1]
        transport.sendto(invite("old", port, BAD_FROM, branch="old-"))
        answer = await peer.next_from("old")
        assert status(answer) == 400, answer


async def test_a_request_a_handler_cannot_read_is_answered_400_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with endpoint_and_peer() as (_, peer, transport):
        port = transport.get_extra_info("sockname")[1]
        with caplog.at_level(logging.WARNING, logger="farmwatch.sipserver.endpoint"):
            transport.sendto(invite("msg", port, BAD_FROM, method="MESSAGE"))
            answer = await peer.next_from("msg")
        assert status(answer) == 400, answer
        assert b"bad port in URI" in answer.split(b"\r\n", 1)[0]
        assert not [record for record in caplog.records if record.exc_info]
