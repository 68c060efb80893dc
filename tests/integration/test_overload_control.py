"""Overload control of a real `farmwatch serve`: past capacity, new REGISTERs get 503 with
Retry-After while the receive queue is long, and the platform recovers once it drains."""

from __future__ import annotations

import secrets
import socket
import time
from pathlib import Path

from tests.peers.server_process import start_server, stop_server

FLOOD = 30_000


def _register(port: int, local_port: int, device: str) -> bytes:
    return (
        f"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};rport;branch=z9hG4bK{secrets.token_hex(8)}\r\n"
        f"From: <sip:{device}@3402000000>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{device}@3402000000>\r\n"
        f"Call-ID: {secrets.token_hex(8)}\r\nCSeq: 1 REGISTER\r\n"
        f"Contact: <sip:{device}@127.0.0.1:{local_port}>\r\nMax-Forwards: 70\r\n"
        "Expires: 3600\r\nContent-Length: 0\r\n\r\n"
    ).encode()


def _statuses(sock: socket.socket, seconds: float) -> list[int]:
    statuses: list[int] = []
    sock.settimeout(0.5)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            data = sock.recv(65536)
        except TimeoutError:
            if statuses:
                break
            continue
        statuses.append(int(data.split(b" ", 2)[1]))
    return statuses


def test_past_capacity_new_registrations_get_503_then_the_platform_recovers(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, {
        "FARMWATCH_SIP_OVERLOAD_QUEUE_DELAY": "0.05",
        "FARMWATCH_SIP_OVERLOAD_RETRY_AFTER": "20",
        "FARMWATCH_LOG_LEVEL": "WARNING",
    })  # fmt: skip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.bind(("127.0.0.1", 0))
            local_port = sock.getsockname()[1]
            requests = [
                _register(server.sip_port, local_port, f"340200000013{index:08d}")
                for index in range(FLOOD)
            ]
            for request in requests:  # as fast as one socket can: far past capacity
                sock.sendto(request, ("127.0.0.1", server.sip_port))
            statuses = _statuses(sock, 30)
            assert statuses.count(503) > 0, f"no 503 among {len(statuses)} answers"
            assert statuses.count(401) > 0
            assert set(statuses) <= {401, 503}
            assert server.metric("farmwatch_sip_registrations_shed_total") == statuses.count(503)

            # Drained: a new registration is challenged again, promptly.
            deadline = time.monotonic() + 10
            while server.metric("farmwatch_sip_overloaded") and time.monotonic() < deadline:
                time.sleep(0.1)
            sock.sendto(_register(server.sip_port, local_port, "34020000001329999999"),
                        ("127.0.0.1", server.sip_port))  # fmt: skip
            sock.settimeout(2)
            data = sock.recv(65536)
            assert data.startswith(b"SIP/2.0 401")
        assert "SIP overloaded" in server.log_text()
        assert "SIP overload over" in server.log_text()
    finally:
        stop_server(server)
