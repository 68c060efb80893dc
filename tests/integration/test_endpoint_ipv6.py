"""A `SipEndpoint` on IPv6 loopback asks a raw UDP peer: its Via and Contact name it by a
bracketed reference (RFC 3261 §25.1), and the peer's answer completes the request."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.register_client import DeviceIdentity, RegisterClient
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.parser import parse_message
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag


class Peer(asyncio.DatagramProtocol):
    """Answers every request 200 as a camera does (its Via, From, To with a tag, Call-ID,
    CSeq), keeping what it received."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.received: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        self.received.append(data)
        lines = data.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
        kept = [line for line in lines if line.split(":", 1)[0] in ("Via", "From", "Call-ID",
                                                                      "CSeq")]  # fmt: skip
        kept += [f"{line};tag=cam" for line in lines if line.startswith("To:")]
        answer = "\r\n".join(["SIP/2.0 200 OK", *kept, "Content-Length: 0", "", ""])
        assert self.transport is not None
        self.transport.sendto(answer.encode(), addr)


@pytest.fixture
async def on_ipv6() -> AsyncIterator[tuple[SipEndpoint, Peer, int]]:
    """An endpoint and a raw peer, both on ::1; the peer's port."""
    endpoint = SipEndpoint(SipSettings(host="::1", port=0))
    await endpoint.start()
    loop = asyncio.get_running_loop()
    transport, peer = await loop.create_datagram_endpoint(Peer, local_addr=("::1", 0))
    try:
        yield endpoint, peer, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()
        await endpoint.close()


async def test_a_request_over_ipv6_carries_a_bracketed_via_and_completes(
    on_ipv6: tuple[SipEndpoint, Peer, int],
) -> None:
    endpoint, peer, peer_port = on_ipv6
    request = build_request(
        "MESSAGE",
        f"sip:34020000001320000001@[::1]:{peer_port}",
        from_=f"<sip:34020000002000000001@3402000000>;tag={new_tag()}",
        to="<sip:34020000001320000001@3402000000>",
        call_id=new_call_id("[::1]"),
        cseq=1,
        body=b"<Query/>",
        content_type="Application/MANSCDP+xml",
    )
    async with asyncio.timeout(5):
        response = await endpoint.request(request, Address("::1", peer_port, Transport.UDP))
    assert response.status == 200
    via = re.search(rb"\r\nVia: ([^\r\n]*)", peer.received[0])
    assert via is not None
    assert via[1].startswith(f"SIP/2.0/UDP [::1]:{endpoint.port};".encode()), via[1]


async def test_a_registration_over_ipv6_names_us_in_a_contact_that_parses(
    on_ipv6: tuple[SipEndpoint, Peer, int],
) -> None:
    """A lower platform registering to an upper one on IPv6: the Contact of its REGISTER
    brackets the address (before, `sip:ID@::1:port`, which nobody can read)."""
    endpoint, peer, peer_port = on_ipv6
    identity = DeviceIdentity(
        device_id="34020000002000000001",
        domain="3402000000",
        server_id="44010000002000000001",
        server=Address("::1", peer_port, Transport.UDP),
    )
    client = RegisterClient(endpoint, identity, password="12345678", request_timeout=5)
    async with asyncio.timeout(5):
        assert await client.register(3600) == 3600
    register = parse_message(peer.received[0])
    assert isinstance(register, SipRequest) and register.method == "REGISTER"
    contact = register.contact
    assert contact is not None
    assert (contact.uri.host, contact.uri.port) == ("[::1]", endpoint.port)
    assert contact.uri.user == "34020000002000000001"
