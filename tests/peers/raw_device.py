"""A device written from raw SIP bytes on asyncio sockets: REGISTER with digest, keepalive.

Independent of farmwatch's own message model and digest code (the digest is computed
here with hashlib, as test_recorded_shapes.py does), so it catches mistakes those would
share with the platform. It runs on the test's event loop, so an in-process platform
keeps serving while it waits. Over TCP one `RawDevice` is one connection; over UDP, one
socket. Every read is bounded by `timeout`.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass, field

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "12345678"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    """Header names lower-cased; the last value wins (enough for these tests)."""


def parse_response(data: bytes) -> RawResponse:
    head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    first, *lines = head.split("\r\n")
    version, status, *_ = first.split(" ", 2)
    assert version == "SIP/2.0", first
    headers: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return RawResponse(int(status), headers)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self.received.put_nowait(data)


@dataclass
class RawDevice:
    """One device on one TCP connection or UDP socket to the platform at `server`."""

    device_id: str
    server: tuple[str, int]
    transport: str
    local_port: int
    timeout: float = 5.0
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _udp: asyncio.DatagramTransport | None = None
    _datagrams: _Datagrams | None = None
    _cseq: int = 0
    _call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _tag: str = field(default_factory=lambda: secrets.token_hex(4))

    @classmethod
    async def connect(
        cls, device_id: str, server: tuple[str, int], transport: str, *, local_port: int = 0
    ) -> RawDevice:
        """Open the TCP connection (or UDP socket), from `local_port` when not 0."""
        local = ("127.0.0.1", local_port)
        if transport == "TCP":
            reader, writer = await asyncio.open_connection(*server, local_addr=local)
            port = int(writer.get_extra_info("sockname")[1])
            return cls(device_id, server, transport, port, _reader=reader, _writer=writer)
        udp, datagrams = await asyncio.get_running_loop().create_datagram_endpoint(
            _Datagrams, local_addr=local, remote_addr=server
        )
        port = int(udp.get_extra_info("sockname")[1])
        return cls(device_id, server, transport, port, _udp=udp, _datagrams=datagrams)

    async def register(self, expires: int = 3600, password: str = PASSWORD) -> int:
        """REGISTER, answer the 401 with digest; returns the final status."""
        challenge = await self._request("REGISTER", self._register_headers(expires))
        if challenge.status != 401:
            return challenge.status
        www = challenge.headers["www-authenticate"]
        realm = _param(www, "realm")
        nonce = _param(www, "nonce")
        uri = f"sip:{SERVER_ID}@{DOMAIN}"
        ha1 = _md5(f"{self.device_id}:{realm}:{password}")
        ha2 = _md5(f"REGISTER:{uri}")
        parts = f'username="{self.device_id}", realm="{realm}", nonce="{nonce}", uri="{uri}"'
        if "qop" in www:
            cnonce, nc = secrets.token_hex(4), "00000001"
            digest = _md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            parts += f', qop=auth, nc={nc}, cnonce="{cnonce}"'
        else:
            digest = _md5(f"{ha1}:{nonce}:{ha2}")
        authorization = f'Digest {parts}, response="{digest}", algorithm=MD5'
        headers = self._register_headers(expires) + f"Authorization: {authorization}\r\n"
        return (await self._request("REGISTER", headers)).status

    async def keepalive(self, sn: int = 1) -> int:
        """A Keepalive MESSAGE; returns the status (403 when the platform forgot us)."""
        body = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n'
            "<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n"
            f"<SN>{sn}</SN>\r\n<DeviceID>{self.device_id}</DeviceID>\r\n<Status>OK</Status>\r\n"
            "</Notify>\r\n"
        ).encode()
        headers = (
            f"From: <sip:{self.device_id}@{DOMAIN}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{SERVER_ID}@{DOMAIN}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\n"
            "Content-Type: Application/MANSCDP+xml\r\n"
        )
        return (await self._request("MESSAGE", headers, body, cseq=1)).status

    async def close_and_wait(self) -> None:
        """Close our side; over TCP wait (bounded) until the platform closed its side too."""
        if self._writer is not None and self._reader is not None:
            self._writer.write_eof()
            async with asyncio.timeout(self.timeout):
                while await self._reader.read(65536):
                    pass  # requests the platform still sent are of no interest now
            self._writer.close()
            await self._writer.wait_closed()
        if self._udp is not None:
            self._udp.close()

    def _register_headers(self, expires: int) -> str:
        return (
            f"From: <sip:{self.device_id}@{DOMAIN}>;tag={self._tag}\r\n"
            f"To: <sip:{self.device_id}@{DOMAIN}>\r\n"
            f"Call-ID: {self._call_id}\r\n"
            f"Contact: <sip:{self.device_id}@127.0.0.1:{self.local_port}>\r\n"
            f"Expires: {expires}\r\n"
        )

    async def _request(
        self, method: str, headers: str, body: bytes = b"", *, cseq: int | None = None
    ) -> RawResponse:
        if cseq is None:
            self._cseq += 1
            cseq = self._cseq
        uri = f"sip:{SERVER_ID}@{DOMAIN}"
        branch = "z9hG4bK" + secrets.token_hex(6)
        head = (
            f"{method} {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{self.transport} 127.0.0.1:{self.local_port};rport;branch={branch}\r\n"
            "Max-Forwards: 70\r\n"
            f"{headers}"
            f"CSeq: {cseq} {method}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        data = head.encode() + body
        async with asyncio.timeout(self.timeout):
            if self._writer is not None:
                self._writer.write(data)
                return await self._read_tcp_response()
            assert self._udp is not None and self._datagrams is not None
            self._udp.sendto(data)
            while True:
                response = parse_response(await self._datagrams.received.get())
                if response.status >= 200:
                    return response

    async def _read_tcp_response(self) -> RawResponse:
        assert self._reader is not None
        while True:
            head = await self._reader.readuntil(b"\r\n\r\n")
            length = re.search(rb"^(?:content-length|l)\s*:\s*(\d+)", head, re.M | re.I)
            if length is not None:
                await self._reader.readexactly(int(length.group(1)))
            if head.startswith(b"SIP/2.0 ") and int(head.split(b" ", 2)[1]) >= 200:
                return parse_response(head)


def _param(header: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', header)
    assert match is not None, header
    return match.group(1)
