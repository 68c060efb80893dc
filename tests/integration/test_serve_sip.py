"""`farmwatch serve` on loopback answering OPTIONS to independent peers (issue 2)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, RunningServer
from tests.peers.raw_sip import free_port, options_bytes, status_of, udp_options


def _pjsua(server: RunningServer, transport: str, count: int = 3) -> dict[str, object]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.peers.pjsua_peer",
            "options",
            "--target",
            f"sip:{34020000002000000001}@127.0.0.1:{server.sip_port}",
            "--transport",
            transport,
            "--count",
            str(count),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"pjsua2 printed nothing: {result.stdout}\n{result.stderr}"
    return dict(json.loads(lines[-1]))


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_pjsua2_options_get_200(farmwatch_server: RunningServer, transport: str) -> None:
    observed = _pjsua(farmwatch_server, transport)
    assert observed["statuses"] == [200, 200, 200]


def test_tcp_answer_comes_back_on_the_same_connection(farmwatch_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", farmwatch_server.sip_port), timeout=5) as conn:
        request = options_bytes(
            farmwatch_server.sip_port, transport="TCP", local_port=conn.getsockname()[1]
        )
        conn.sendall(request)
        assert status_of(_read_message(conn)) == 200
        # A second request on the same connection is answered on it too.
        conn.sendall(request.replace(b"z9hG4bK", b"z9hG4bK2"))
        assert status_of(_read_message(conn)) == 200


def _read_message(conn: socket.socket) -> bytes:
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        assert chunk, "connection closed before a response arrived"
        buffer += chunk
    return buffer


GARBAGE = [
    b"jaK\r\n\r\n",
    b"\r\n\r\n",
    b"\r\n",
    b"\x00\x01\x02\x03" * 50,
    os.urandom(1400),
    b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    b"INVITE sip:x SIP/2.0\r\nVia: \r\n\r\n",
    b"SIP/2.0 200 OK\r\n\r\n",
    b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: " + b"a" * 70000,
]


def test_garbage_datagrams_leave_the_server_answering(farmwatch_server: RunningServer) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.3)
        for datagram in GARBAGE:
            sock.sendto(datagram[:65000], ("127.0.0.1", farmwatch_server.sip_port))
        # None of these is an answerable request, so nothing comes back.
        with pytest.raises(TimeoutError):
            sock.recvfrom(65536)
    assert udp_options(farmwatch_server.sip_port) == 200


def test_malformed_but_answerable_request_gets_400(farmwatch_server: RunningServer) -> None:
    valid = options_bytes(farmwatch_server.sip_port)
    message = valid.replace(b"CSeq: 1 OPTIONS", b"CSeq: x OPTIONS")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sock.sendto(message, ("127.0.0.1", farmwatch_server.sip_port))
        data, _ = sock.recvfrom(65536)
    assert status_of(data) == 400
    assert b"CSeq" in data.split(b"\r\n", 1)[0] or b"CSeq" in data


def test_a_via_port_int_cannot_read_is_answered_400_without_flooding_the_log(
    farmwatch_server: RunningServer,
) -> None:
    # Byte 0xb2 is "²" in latin-1: a digit to str.isdigit, refused by int(). It used to
    # get no answer and a 20-line traceback per datagram.
    count = 200
    before = farmwatch_server.log_path.stat().st_size
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        local_port = sock.getsockname()[1]
        for _ in range(count):
            valid = options_bytes(farmwatch_server.sip_port, local_port=local_port)
            message = valid.replace(f"127.0.0.1:{local_port};".encode(), b"127.0.0.1:\xb2;")
            assert message != valid
            sock.sendto(message, ("127.0.0.1", farmwatch_server.sip_port))
            data, _ = sock.recvfrom(65536)
            assert status_of(data) == 400
            branch = message.split(b";branch=", 1)[1].split(b"\r\n", 1)[0]
            assert b";branch=" + branch + b"\r\n" in data  # the answer to this very request
    assert udp_options(farmwatch_server.sip_port) == 200
    with farmwatch_server.log_path.open("rb") as log_file:
        log_file.seek(before)
        written = log_file.read().decode(errors="replace")
    assert "Traceback" not in written, written[-3000:]
    assert len(written) < 8192, written[-3000:]


def test_endless_tcp_header_is_cut_off(farmwatch_server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", farmwatch_server.sip_port), timeout=5) as conn:
        conn.sendall(b"OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nX-Endless: ")
        closed = False
        deadline = time.monotonic() + 10
        try:
            while time.monotonic() < deadline:
                conn.sendall(b"a" * 8192)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        assert closed, "the server kept reading an endless header"
    assert udp_options(farmwatch_server.sip_port) == 200
    with socket.create_connection(("127.0.0.1", farmwatch_server.sip_port), timeout=5) as conn:
        conn.sendall(options_bytes(farmwatch_server.sip_port, transport="TCP"))
        assert status_of(_read_message(conn)) == 200


def test_sipp_sends_1000_options_at_200_per_second(
    farmwatch_server: RunningServer, tmp_path: Path
) -> None:
    scenario = ROOT / "tests/data/sipp/options_uac.xml"
    result = subprocess.run(
        [
            "sipp",
            f"127.0.0.1:{farmwatch_server.sip_port}",
            "-sf", str(scenario),
            "-s", "34020000002000000001",
            "-i", "127.0.0.1",
            "-p", str(free_port()),  # sipp's default is 5060, shared with SO_REUSEADDR
            "-m", "1000",
            "-r", "200",
            "-t", "u1",
            "-timeout", "60s",
            "-nostdin",
            "-trace_stat", "-stf", str(tmp_path / "stat.csv"),
        ],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    header, *rows = (tmp_path / "stat.csv").read_text().strip().splitlines()
    columns = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
    assert int(columns["SuccessfulCall(C)"]) == 1000
    assert int(columns["FailedCall(C)"]) == 0
