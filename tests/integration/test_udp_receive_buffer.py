"""The SIP UDP socket gets the receive buffer configured, or says why it could not."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from farmwatch.sipserver.transport.udp import _set_receive_buffer


def granted(sock: socket.socket) -> int:
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) // 2


def test_a_modest_buffer_is_granted_silently(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, caplog.at_level(logging.WARNING):
        _set_receive_buffer(sock, 512 * 1024)
        assert granted(sock) >= 512 * 1024
    assert "receive buffer" not in caplog.text


def test_a_buffer_beyond_the_cap_is_granted_or_reported(caplog: pytest.LogCaptureFixture) -> None:
    cap = int(Path("/proc/sys/net/core/rmem_max").read_text())
    wanted = cap * 2
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, caplog.at_level(logging.WARNING):
        _set_receive_buffer(sock, wanted)
        size = granted(sock)
    # With CAP_NET_ADMIN the cap is lifted; without it the operator is told about rmem_max.
    assert size >= wanted or "net.core.rmem_max" in caplog.text
