"""A device (or an impostor) on one blocking UDP socket, written from raw SIP bytes.

For tests against a `farmwatch serve` child process, where a blocking socket is simplest.
The digest is computed here with hashlib, independently of farmwatch's digest module
(as `raw_device.py` and `test_recorded_shapes.py` do). Every read is bounded by `timeout`.
Requests the platform sends meanwhile (queries) are answered 200 and kept in `received`.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
import time
from dataclasses import dataclass, field

from tests.peers.server_process import RunningServer

SERVER_ID = "34020000002000000001"
DOMAIN = "3402000000"
PASSWORD = "12345678"
SERVER_URI = f"sip:{SERVER_ID}@{DOMAIN}"


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def status_of(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def reason_of(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0].split(b" ", 2)[2].decode(errors="replace")


def header_of(data: bytes, name: str) -> str | None:
    match = re.search(rb"^" + name.encode() + rb"[ \t]*:[ \t]*(.*?)\r?$", data, re.M | re.I)
    return match.group(1).decode(errors="replace") if match else None


def fresh_branch(message: bytes) -> bytes:
    """The same request as a new transaction (the same branch would be a retransmission)."""
    branch = b"branch=z9hG4bK" + secrets.token_hex(6).encode()
    return re.sub(rb"branch=z9hG4bK\w+", branch, message)


def digest_authorization(
    challenge: str, *, device_id: str, password: str, use_qop: bool, nc: int = 1
) -> str:
    """Answer a `WWW-Authenticate` value the way a device does (RFC 2617, gb28181.md §3.3)."""
    realm = _param(challenge, "realm")
    nonce = _param(challenge, "nonce")
    ha1 = md5(f"{device_id}:{realm}:{password}")
    ha2 = md5(f"REGISTER:{SERVER_URI}")
    parts = f'username="{device_id}", realm="{realm}", nonce="{nonce}", uri="{SERVER_URI}"'
    if use_qop:
        cnonce, count = secrets.token_hex(4), f"{nc:08x}"
        response = md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        parts += f', qop=auth, nc={count}, cnonce="{cnonce}"'
    else:
        response = md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest {parts}, response="{response}", algorithm=MD5'


@dataclass
class UdpDevice:
    """One device ID on one UDP socket bound to `host` (any 127.x address works on Linux)."""

    server_port: int
    device_id: str
    host: str = "127.0.0.1"
    timeout: float = 3.0
    received: list[bytes] = field(default_factory=list)
    _sock: socket.socket = field(init=False)
    _call_id: str = field(default_factory=lambda: secrets.token_hex(8))
    _tag: str = field(default_factory=lambda: secrets.token_hex(4))
    _cseq: int = 0

    def __post_init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Room for the answers to a burst sent before any is read.
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._sock.bind((self.host, 0))

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> UdpDevice:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- requests --------------------------------------------------------------------

    def register_bytes(self, *, authorization: str | None = None, expires: int = 3600) -> bytes:
        self._cseq += 1
        auth = f"Authorization: {authorization}\r\n" if authorization is not None else ""
        return self._request_bytes(
            "REGISTER",
            f"From: <sip:{self.device_id}@{DOMAIN}>;tag={self._tag}\r\n"
            f"To: <sip:{self.device_id}@{DOMAIN}>\r\n"
            f"Call-ID: {self._call_id}\r\n"
            f"CSeq: {self._cseq} REGISTER\r\n"
            f"Contact: <sip:{self.device_id}@{self.host}:{self.port}>\r\n"
            f"{auth}Expires: {expires}\r\n",
        )

    def message_bytes(self, body: bytes, *, from_id: str | None = None) -> bytes:
        return self._request_bytes(
            "MESSAGE",
            f"From: <sip:{from_id or self.device_id}@{DOMAIN}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{SERVER_ID}@{DOMAIN}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}\r\n"
            "CSeq: 20 MESSAGE\r\n"
            "Content-Type: Application/MANSCDP+xml\r\n",
            body,
        )

    def keepalive_bytes(self, sn: int = 1) -> bytes:
        return self.message_bytes(
            (
                '<?xml version="1.0" encoding="GB2312"?>\r\n'
                f"<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n<SN>{sn}</SN>\r\n"
                f"<DeviceID>{self.device_id}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
            ).encode()
        )

    def _request_bytes(self, method: str, headers: str, body: bytes = b"") -> bytes:
        branch = "z9hG4bK" + secrets.token_hex(6)
        return (
            f"{method} {SERVER_URI} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.host}:{self.port};rport;branch={branch}\r\n"
            "Max-Forwards: 70\r\n"
            f"{headers}"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    # -- exchanges -------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        self._sock.sendto(data, ("127.0.0.1", self.server_port))

    def request(self, data: bytes) -> bytes:
        """Send `data` and return the final response to it."""
        self.send(data)
        response = self.next_response(self.timeout)
        if response is None:
            raise TimeoutError(f"no final response to {data[:40]!r}")
        return response

    def next_response(self, timeout: float) -> bytes | None:
        """The next final response that arrives, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message is None:
                return None
            if message.startswith(b"SIP/2.0 ") and status_of(message) >= 200:
                return message

    def register(
        self, password: str = PASSWORD, *, use_qop: bool = True
    ) -> tuple[bytes, bytes | None]:
        """REGISTER and answer the 401; (final response, the authorised request or None)."""
        challenge = self.request(self.register_bytes())
        if status_of(challenge) != 401:
            return challenge, None
        authorised = self.answer(challenge, password, use_qop=use_qop)
        return self.request(authorised), authorised

    def answer(self, challenge: bytes, password: str = PASSWORD, *, use_qop: bool = True) -> bytes:
        """The REGISTER that answers `challenge` (a 401)."""
        www = header_of(challenge, "WWW-Authenticate")
        assert www is not None, challenge
        authorization = digest_authorization(
            www, device_id=self.device_id, password=password, use_qop=use_qop
        )
        return self.register_bytes(authorization=authorization)

    def next_request(self, timeout: float) -> bytes | None:
        """The next request the platform sends us (answered 200), or None after `timeout`."""
        if self.received:
            return self.received.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message is None:
                return None
            if not message.startswith(b"SIP/2.0 "):
                return self.received.pop(0)

    def _receive(self, deadline: float) -> bytes | None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self._sock.settimeout(remaining)
        try:
            data, source = self._sock.recvfrom(65536)
        except TimeoutError:
            return None
        if not data.startswith(b"SIP/2.0 "):
            self.received.append(data)
            self._sock.sendto(_ok(data), source)
        return data


def registered(server: RunningServer, device: UdpDevice, *, use_qop: bool = True) -> bytes:
    """Register `device`, wait until the platform lists it; the authorised REGISTER sent."""
    response, authorised = device.register(use_qop=use_qop)
    assert status_of(response) == 200, response
    assert authorised is not None
    deadline = time.monotonic() + 10
    while server.api(f"/devices/{device.device_id}")[0] != 200:
        assert time.monotonic() < deadline, f"device {device.device_id} not recorded"
        time.sleep(0.05)
    return authorised


def query_goes_to(server: RunningServer, device: UdpDevice, other: UdpDevice) -> None:
    """A catalog query the platform sends now reaches `device`, and not `other`."""
    status, _ = server.api(f"/devices/{device.device_id}/catalog", method="POST")
    assert status == 202
    query = device.next_request(timeout=5)
    assert query is not None and b"<CmdType>Catalog</CmdType>" in query, "query went elsewhere"
    assert other.next_request(timeout=0.3) is None


def _ok(request: bytes) -> bytes:
    head = request.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    keep = [line for line in head[1:] if re.match(r"(?i)(via|from|to|call-id|cseq)\s*:", line)]
    keep = [
        f"{line};tag={secrets.token_hex(4)}"
        if re.match(r"(?i)to\s*:", line) and "tag=" not in line
        else line
        for line in keep
    ]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def _param(header: str, name: str) -> str:
    match = re.search(rf'{name}="([^"]*)"', header)
    assert match is not None, header
    return match.group(1)
