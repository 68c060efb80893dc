"""The SIP TCP transport's caps, deadlines, counters and accept path on real sockets.

An in-process `SipEndpoint` on 127.0.0.1 (it answers OPTIONS by itself) and raw client
sockets from other 127.x addresses. What the peers observe (a reset, a close, a 200)
comes first; `SipEndpoint.tcp_stats` must agree with it. Last, the start-up descriptor
budget: a cap beyond RLIMIT_NOFILE (less the reserve) is lowered with one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import resource
import socket
from collections.abc import AsyncIterator, Iterator

import pytest

from farmwatch.app import sip_within_descriptor_limit
from farmwatch.descriptor_budget import PER_MEDIA_PORT, RESERVE_BASE
from farmwatch.settings import Settings
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.transport.tcp_accept import ACCEPT_PAUSE
from tests.peers.raw_sip import options_bytes, status_of


@contextlib.asynccontextmanager
async def _endpoint(**tcp: float) -> AsyncIterator[SipEndpoint]:
    endpoint = SipEndpoint(SipSettings(host="127.0.0.1", port=0, **tcp))  # type: ignore[arg-type]
    await endpoint.start()
    try:
        yield endpoint
    finally:
        await endpoint.close()


async def _connect(endpoint: SipEndpoint, source: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    sock.bind((source, 0))
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", endpoint.port))
    except OSError:
        sock.close()
        raise
    return sock


async def _closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """True when the server closes or resets `sock` within `timeout` (read until then)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            while await loop.sock_recv(sock, 65536):
                pass
    except TimeoutError:
        return False
    except OSError:
        pass  # reset: closed as well
    return True


async def _options(sock: socket.socket, port: int) -> int:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, options_bytes(port, transport="TCP"))
    data = b""
    async with asyncio.timeout(5):
        while b"\r\n\r\n" not in data:
            chunk = await loop.sock_recv(sock, 65536)
            assert chunk, "closed before the answer"
            data += chunk
    return status_of(data)


async def test_an_address_beyond_its_cap_is_refused_and_counted_others_are_served() -> None:
    async with _endpoint(tcp_max_connections_per_address=2) as endpoint:
        flood: list[socket.socket] = []
        try:
            for _ in range(5):
                with contextlib.suppress(ConnectionError):  # reset before connect() returned
                    flood.append(await _connect(endpoint, "127.0.0.2"))
            closed = [await _closed_by_server(sock, timeout=0.5) for sock in flood]
            assert closed.count(False) == 2  # the first two are kept...
            assert not any(closed[:2])  # ... and they are the first two
            stats = endpoint.tcp_stats
            assert stats.refused_per_address == 3
            assert (stats.inbound, stats.addresses, stats.max_per_address) == (2, 1, 2)
            # Another address is served meanwhile.
            with contextlib.closing(await _connect(endpoint, "127.0.0.1")) as device:
                assert await _options(device, endpoint.port) == 200
                assert endpoint.tcp_stats.inbound == 3
        finally:
            for sock in flood:
                sock.close()


async def test_slow_silent_and_ping_only_connections_close_at_the_deadline() -> None:
    async with _endpoint(tcp_message_timeout=0.5) as endpoint:
        silent = await _connect(endpoint, "127.0.0.2")
        slow = await _connect(endpoint, "127.0.0.2")
        pings = await _connect(endpoint, "127.0.0.3")
        device = await _connect(endpoint, "127.0.0.1")
        with silent, slow, pings, device:
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(slow, b"OPTIONS sip:34020000002000000001@127.0.0.1 SIP/2.0\r\n")
            await loop.sock_sendall(pings, b"\r\n\r\n")
            assert await _options(device, endpoint.port) == 200
            for sock in (silent, slow, pings):
                assert await _closed_by_server(sock, timeout=10)
            stats = endpoint.tcp_stats
            assert stats.silent_closed == stats.message_timeouts == stats.ping_only_closed == 1
            # A connection that delivered its messages is not subject to that deadline.
            assert await _options(device, endpoint.port) == 200
            assert stats.idle_closed == 0 and endpoint.tcp_stats.inbound == 1


@contextlib.contextmanager
def _descriptors_exhausted() -> Iterator[None]:
    """Every descriptor of this process in use until the block ends (limit restored)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(name) for name in os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 64, hard))
    taken: list[int] = []
    try:
        while True:
            try:
                taken.append(os.open("/dev/null", os.O_RDONLY))
            except OSError as error:
                assert error.errno == errno.EMFILE
                break
        yield
    finally:
        for fd in taken:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_out_of_descriptors_the_listener_pauses_without_spinning_and_recovers() -> None:
    async with _endpoint() as endpoint:
        device = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        with device:
            with _descriptors_exhausted():
                # The kernel completes the handshake; the platform cannot accept it yet.
                device.connect(("127.0.0.1", endpoint.port))
                async with asyncio.timeout(5):
                    while endpoint.tcp_stats.accept_errors == 0:
                        await asyncio.sleep(0.01)  # polling a counter; nothing to wait on
                # An observation window: a loop spinning on accept() would fail thousands
                # of times in it, a paused one a few times at most.
                await asyncio.sleep(2 * ACCEPT_PAUSE)
                assert endpoint.tcp_stats.accept_errors <= 4
            # Descriptors back: the same listener accepts the waiting connection.
            device.setblocking(False)
            assert await _options(device, endpoint.port) == 200
            assert endpoint.tcp_stats.inbound == 1


def test_start_up_lowers_a_cap_beyond_the_descriptor_limit_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = hard if hard != resource.RLIM_INFINITY else 1 << 20
    reserve = RESERVE_BASE + PER_MEDIA_PORT * 500  # the shipped port_range, 30000-30499
    if limit - reserve >= 1_000_000:
        pytest.skip(f"RLIMIT_NOFILE {limit} holds any sip.tcp_max_connections allowed")
    # The incident's configuration: as many connections as descriptors, or more.
    configured = min(limit, 1_000_000)
    settings = Settings(
        sip=SipSettings(tcp_max_connections=configured, tcp_max_connections_per_address=configured)
    )
    with caplog.at_level(logging.WARNING, logger="farmwatch.app"):
        sip = sip_within_descriptor_limit(settings)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == limit  # raised to the hard limit
    assert sip.tcp_max_connections == sip.tcp_max_connections_per_address == limit - reserve
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"sip.tcp_max_connections = {configured}" in warnings[0]
    assert f"RLIMIT_NOFILE = {limit}" in warnings[0]
