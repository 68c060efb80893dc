"""Hand-written SIP bytes for tests: independent of farmwatch's own serialiser."""

from __future__ import annotations

import random
import secrets
import socket
import time


def options_bytes(port: int, *, transport: str = "UDP", local_port: int = 5099) -> bytes:
    branch = "z9hG4bK" + secrets.token_hex(6)
    call_id = secrets.token_hex(8)
    return (
        f"OPTIONS sip:34020000002000000001@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/{transport} 127.0.0.1:{local_port};rport;branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:34020000001320000001@3402000000>;tag=raw1\r\n"
        f"To: <sip:34020000002000000001@127.0.0.1:{port}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def status_of(data: bytes) -> int:
    first = data.split(b"\r\n", 1)[0].split()
    assert first[0] == b"SIP/2.0", data[:80]
    return int(first[1])


def udp_options(port: int, timeout: float = 2.0, host: str = "127.0.0.1") -> int:
    """Send one OPTIONS over UDP from a fresh socket and return the status of its answer.

    Only the answer to this OPTIONS counts (a response with its Call-ID): with tests side by
    side, an ephemeral port just released by another test can still get that test's
    datagrams. `TimeoutError` when no answer comes within `timeout`.
    """
    with _socket_not_on(port) as sock:
        request = options_bytes(port, local_port=sock.getsockname()[1])
        call_id = _header(request, b"Call-ID")
        deadline = time.monotonic() + timeout
        sock.sendto(request, (host, port))
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            data, _ = sock.recvfrom(65536)
            if data.startswith(b"SIP/2.0 ") and _header(data, b"Call-ID") == call_id:
                return status_of(data)


def _header(data: bytes, name: bytes) -> bytes | None:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        key, colon, value = line.partition(b":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None


def _socket_not_on(port: int) -> socket.socket:
    """A UDP socket on an ephemeral port other than `port`.

    While a server is still starting, the kernel may hand its future port to us as an
    ephemeral one; the OPTIONS would then come back to this very socket.
    """
    while True:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        if sock.getsockname()[1] != port:
            return sock
        sock.close()


SERVER_PORTS = (10000, 19999)
"""Where `free_port` draws from: below the kernel's ephemeral range (32768-60999), so that
no outgoing connection or `bind(0)` can be handed the port between the draw and the server
binding it, and apart from the media ports (20000-30499)."""

_handed_out: set[int] = set()  # never the same port twice in one process (SIP, then web)


def free_port() -> int:
    """A port number free for both UDP and TCP on 127.0.0.1, not handed out before here."""
    for _ in range(200):
        port = random.randint(*SERVER_PORTS)
        if port in _handed_out:
            continue
        try:
            with (
                socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
            ):
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
        except OSError:
            continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port pair found in {SERVER_PORTS}")
