"""Misbehaving traffic a simulated device can send, to test the platform's robustness (ref. §10).

Three kinds: a MESSAGE whose MANSCDP body is broken XML (sent as a proper SIP request
by the device's own endpoint), and, sent as raw bytes from a throw-away socket of the
device's host because no SIP stack would write them: a garbage datagram (or TCP
segment) and a keepalive whose Content-Length claims more bytes than the body has.
`send_raw` reports the status of whatever SIP answer comes back within `wait` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest

BROKEN_XML = (
    b'<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
    b"<SN>1</SN>\r\n<DeviceID>broken<</DeviceID>\r\n<Status>OK</Notify>\r\n"
)
GARBAGE = b"\x00\x01\x02\xff not SIP at all \xfe\xfd\r\n\x00" * 8
EXTRA_LENGTH = 50


class MalformedKind(StrEnum):
    BROKEN_XML = "broken-xml"
    GARBAGE = "garbage"
    WRONG_CONTENT_LENGTH = "wrong-content-length"


def with_wrong_content_length(request: SipRequest, via: str) -> bytes:
    """`request` on the wire with `via` on top and a Content-Length too large by 50."""
    data = request.with_headers(request.headers.prepend("Via", via)).to_bytes()
    head, _, body = data.partition(b"\r\n\r\n")
    right = f"Content-Length: {len(body)}".encode()
    wrong = f"Content-Length: {len(body) + EXTRA_LENGTH}".encode()
    return head.replace(right, wrong) + b"\r\n\r\n" + body


class _FirstDatagram(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        if not self.received.done():
            self.received.set_result(data)


async def open_udp(local_host: str, dest: Address) -> tuple[asyncio.DatagramTransport, int]:
    """A throw-away UDP socket towards `dest`; returns it and its local port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        _FirstDatagram, local_addr=(local_host, 0), remote_addr=(dest.host, dest.port)
    )
    return transport, int(transport.get_extra_info("sockname")[1])


async def send_raw(
    data: bytes, dest: Address, *, wait: float, udp: asyncio.DatagramTransport | None = None
) -> int | None:
    """Send `data`; the status of a SIP response received within `wait` seconds, or None."""
    if dest.transport is Transport.TCP:
        return await _send_tcp(data, dest, wait)
    assert udp is not None, "UDP needs the socket from open_udp"
    protocol = udp.get_protocol()
    assert isinstance(protocol, _FirstDatagram)
    try:
        udp.sendto(data)
        async with asyncio.timeout(wait):
            return _status_of(await protocol.received)
    except TimeoutError:
        return None
    finally:
        udp.close()


async def _send_tcp(data: bytes, dest: Address, wait: float) -> int | None:
    reader, writer = await asyncio.open_connection(dest.host, dest.port)
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(wait):
            return _status_of(await reader.readuntil(b"\r\n\r\n"))
    except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _status_of(data: bytes) -> int | None:
    parts = data.split(b" ", 2)
    if len(parts) >= 2 and parts[0] == b"SIP/2.0" and parts[1].isdigit():
        return int(parts[1])
    return None
