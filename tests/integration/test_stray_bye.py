"""A BYE for no call of ours is answered 481, whichever path reads it.

sipp, for one, sends a BYE for every call it aborts (a REGISTER refused with 503 included):
a plain one is answered on the express path, an unusual one by the general parser, alike.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator

import pytest

from tests.peers.raw_sip import status_of
from tests.peers.server_process import RunningServer, start_server, stop_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(tmp_path_factory.mktemp("stray-bye"))
    try:
        yield running
    finally:
        stop_server(running)


def bye(port: int, local_port: int, *, folded: bool = False) -> bytes:
    branch = "z9hG4bK" + secrets.token_hex(6)
    subject = "Subject: gone\r\n two\r\n" if folded else ""  # a folded line: the general path
    return (
        f"BYE sip:34020000002000000001@127.0.0.1:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.1:{local_port};rport;branch={branch}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:34020000001320000001@3402000000>;tag=dev1\r\n"
        "To: <sip:34020000002000000001@3402000000>;tag=ours1\r\n"
        f"Call-ID: {secrets.token_hex(8)}@127.0.0.1\r\n"
        "CSeq: 2 BYE\r\n"
        f"{subject}"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def exchange(sock: socket.socket, port: int, data: bytes) -> bytes:
    sock.sendto(data, ("127.0.0.1", port))
    answer, _ = sock.recvfrom(65536)
    return answer


@pytest.mark.parametrize("folded", [False, True], ids=["express", "general"])
def test_a_bye_for_no_call_gets_481_and_its_retransmission_the_same(
    server: RunningServer, folded: bool
) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        local = sock.getsockname()[1]
        request = bye(server.sip_port, local, folded=folded)
        answer = exchange(sock, server.sip_port, request)
        again = exchange(sock, server.sip_port, request)
    assert status_of(answer) == 481
    head = answer.decode()
    assert "To: <sip:34020000002000000001@3402000000>;tag=ours1\r\n" in head
    assert f";rport={local};" in head.split("\r\n", 2)[1]  # RFC 3581, as sent
    assert "CSeq: 2 BYE\r\n" in head
    assert again == answer  # a retransmission: the same response, not a second decision


def test_the_platform_still_answers_after_a_burst_of_stray_byes(server: RunningServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(3)
        local = sock.getsockname()[1]
        statuses: list[int] = []
        # Bursts of 50: 200 answers at once would overflow this socket's default receive
        # buffer on a busy machine, and the loss would be ours, not the platform's.
        for _ in range(4):
            for _ in range(50):
                sock.sendto(bye(server.sip_port, local), ("127.0.0.1", server.sip_port))
            statuses += [status_of(sock.recvfrom(65536)[0]) for _ in range(50)]
    assert statuses == [481] * 200
