"""A device written from raw SIP bytes on asyncio sockets: REGISTER with digest, keepalive.

Independent of farmwatch's own message model and digest code (the digest is computed
here with hashlib, as test_recorded_shapes.py does), so it catches mistakes those would
share with the platform. It runs on the test's event loop, so an in-process platform
keeps serving while it waits. Over TCP one `RawDevice` is one connection; over UDP, one
socket. Every read is bounded by `timeout`.

Over UDP it also sees what the platform asks of it (`next_request`), may answer that
(`answer`) and may send a catalog of its own making (`send_catalog`), as a device that
answers slowly, never, or with an odd catalog.
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


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A request the platform sent to the device."""

    method: str
    headers: list[tuple[str, str]]
    """In order, names as sent; Via may repeat."""
    body: bytes

    def header(self, name: str) -> str:
        return next(value for key, value in self.headers if key.lower() == name.lower())

    @property
    def cmd_type(self) -> str | None:
        """The MANSCDP CmdType of a MESSAGE body."""
        match = re.search(rb"<CmdType>\s*(\w+)\s*</CmdType>", self.body)
        return match.group(1).decode() if match else None

    @property
    def sn(self) -> int:
        match = re.search(rb"<SN>\s*(\d+)\s*</SN>", self.body)
        assert match is not None, self.body
        return int(match.group(1))


def parse_request(data: bytes) -> RawRequest:
    head, _, body = data.partition(b"\r\n\r\n")
    first, *lines = head.decode(errors="replace").split("\r\n")
    headers = []
    for line in lines:
        name, _, value = line.partition(":")
        headers.append((name.strip(), value.strip()))
    return RawRequest(first.split(" ", 1)[0], headers, body)


class _Datagrams(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.received: asyncio.Queue[bytes] = asyncio.Queue()
        self.requests: asyncio.Queue[RawRequest] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        if data.startswith(b"SIP/2.0 "):
            self.received.put_nowait(data)
        elif data.strip():
            self.requests.put_nowait(parse_request(data))


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
        return await self.send_manscdp(self._keepalive_body(sn))

    async def keepalive_until_answered(
        self, *, interval: float, sn: int = 1, within: float | None = None
    ) -> int:
        """One keepalive, retransmitted every `interval` until a final answer (UDP only),
        for `within` seconds at most (default `timeout`).

        For a platform that is not listening yet: the first answer it gives is the status.
        """
        assert self._udp is not None and self._datagrams is not None, "UDP only"
        data = self._message_bytes(self._keepalive_body(sn))
        async with asyncio.timeout(self.timeout if within is None else within):
            while True:
                self._udp.sendto(data)
                try:
                    async with asyncio.timeout(interval):
                        return (await self._final_response(_branch_of(data))).status
                except TimeoutError:
                    continue

    async def send_manscdp(self, body: bytes) -> int:
        """A MESSAGE with a MANSCDP body to the platform; returns the final status."""
        return (await self._send_raw(self._message_bytes(body))).status

    async def send_catalog(
        self,
        sn: int,
        items: list[tuple[str, str, str | None]],
        *,
        per_message: int = 10,
        messages: int | None = None,
    ) -> None:
        """Answer a catalog query with `items` (ID, name, ParentID), split over messages;
        with `messages`, only that many of them are sent (the catalog stalls)."""
        starts = range(0, max(len(items), 1), per_message)
        for start in starts[:messages]:
            chunk = items[start : start + per_message]
            entries = "".join(
                f"<Item><DeviceID>{item_id}</DeviceID><Name>{name}</Name>"
                + (f"<ParentID>{parent}</ParentID>" if parent else "")
                + "<Status>ON</Status></Item>\r\n"
                for item_id, name, parent in chunk
            )
            body = (
                '<?xml version="1.0" encoding="GB2312"?>\r\n'
                "<Response>\r\n<CmdType>Catalog</CmdType>\r\n"
                f"<SN>{sn}</SN>\r\n<DeviceID>{self.device_id}</DeviceID>\r\n"
                f"<SumNum>{len(items)}</SumNum>\r\n"
                f'<DeviceList Num="{len(chunk)}">\r\n{entries}</DeviceList>\r\n'
                "</Response>\r\n"
            ).encode()
            assert await self.send_manscdp(body) == 200

    async def send_device_info(self, sn: int) -> None:
        """Answer a DeviceInfo query (A.2.6 f) as a one-channel camera."""
        body = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n'
            "<Response>\r\n<CmdType>DeviceInfo</CmdType>\r\n"
            f"<SN>{sn}</SN>\r\n<DeviceID>{self.device_id}</DeviceID>\r\n"
            "<Result>OK</Result>\r\n<Manufacturer>raw</Manufacturer>\r\n"
            "<Channel>1</Channel>\r\n</Response>\r\n"
        ).encode()
        assert await self.send_manscdp(body) == 200

    async def next_request(
        self, *, method: str | None = None, cmd_type: str | None = None, answer: bool = True
    ) -> RawRequest:
        """The next request from the platform matching `method` and `cmd_type` (UDP only).

        Requests passed over on the way, and the one returned, are answered 200 when
        `answer` is true (a device that accepts every request but may not act on it).
        """
        assert self._datagrams is not None, "UDP only"
        async with asyncio.timeout(self.timeout):
            while True:
                request = await self._datagrams.requests.get()
                if answer and request.method != "ACK":
                    self.answer(request, 200)
                if method is not None and request.method != method:
                    continue
                if cmd_type is not None and request.cmd_type != cmd_type:
                    continue
                return request

    def forget_requests(self) -> None:
        """Drop the platform's requests received so far (e.g. retransmissions)."""
        assert self._datagrams is not None, "UDP only"
        while not self._datagrams.requests.empty():
            self._datagrams.requests.get_nowait()

    def answer(self, request: RawRequest, status: int) -> None:
        """Send a final response without a body to a request of the platform."""
        assert self._udp is not None
        lines = [f"SIP/2.0 {status} {'OK' if status == 200 else 'Error'}"]
        for name, value in request.headers:
            key = name.lower()
            if key in ("via", "v", "from", "f", "call-id", "i", "cseq"):
                lines.append(f"{name}: {value}")
            elif key in ("to", "t"):
                lines.append(f"{name}: {value}" + ("" if "tag=" in value else f";tag={self._tag}"))
        if request.method == "SUBSCRIBE":
            lines.append(f"Contact: <sip:{self.device_id}@127.0.0.1:{self.local_port}>")
            lines.append(f"Expires: {request.header('Expires')}")
        lines.append("Content-Length: 0")
        self._udp.sendto(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _keepalive_body(self, sn: int) -> bytes:
        return (
            '<?xml version="1.0" encoding="GB2312"?>\r\n'
            "<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n"
            f"<SN>{sn}</SN>\r\n<DeviceID>{self.device_id}</DeviceID>\r\n<Status>OK</Status>\r\n"
            "</Notify>\r\n"
        ).encode()

    def _message_bytes(self, body: bytes) -> bytes:
        headers = (
            f"From: <sip:{self.device_id}@{DOMAIN}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{SERVER_ID}@{DOMAIN}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\n"
            "Content-Type: Application/MANSCDP+xml\r\n"
        )
        return self._request_bytes("MESSAGE", headers, body, cseq=1)

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
        return await self._send_raw(self._request_bytes(method, headers, body, cseq=cseq))

    def _request_bytes(
        self, method: str, headers: str, body: bytes = b"", *, cseq: int | None = None
    ) -> bytes:
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
        return head.encode() + body

    async def _send_raw(self, data: bytes) -> RawResponse:
        async with asyncio.timeout(self.timeout):
            if self._writer is not None:
                self._writer.write(data)
                return await self._read_tcp_response()
            assert self._udp is not None and self._datagrams is not None
            self._udp.sendto(data)
            return await self._final_response(_branch_of(data))

    async def _final_response(self, branch: str) -> RawResponse:
        """The final response to the request sent with `branch` (others are stale)."""
        assert self._datagrams is not None
        while True:
            response = parse_response(await self._datagrams.received.get())
            if response.status >= 200 and _branch_of_via(response.headers.get("via", "")) == branch:
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


def _branch_of(request: bytes) -> str:
    match = re.search(rb";branch=([^;\r\n]+)", request)
    assert match is not None
    return match.group(1).decode()


def _branch_of_via(via: str) -> str | None:
    match = re.search(r";branch=([^;,\s]+)", via)
    return match.group(1) if match else None


def _param(header: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', header)
    assert match is not None, header
    return match.group(1)
