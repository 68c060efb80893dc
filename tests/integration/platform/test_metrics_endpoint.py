"""GET /metrics of a real `farmwatch serve`: Prometheus text that a scraper can read."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningServer
from tests.peers.raw_device import RawDevice
from tests.peers.raw_sip import options_bytes, status_of


def _scrape(server: RunningServer) -> dict[str, float]:
    url = f"http://127.0.0.1:{server.web_port}/metrics"
    request = urllib.request.Request(url, headers=server.auth_headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels or sample.labels.get("le") == "+Inf"
    }


async def test_metrics_follow_a_registration_and_show_loop_lag_and_process(
    farmwatch_server: RunningServer,
) -> None:
    before = await asyncio.to_thread(_scrape, farmwatch_server)
    assert before["farmwatch_devices_registered"] == 0
    assert before["farmwatch_event_loop_lag_seconds_count"] > 0
    assert (
        before["farmwatch_event_loop_lag_seconds_bucket"]
        == (before["farmwatch_event_loop_lag_seconds_count"])
    )
    assert before["process_resident_memory_bytes"] > 10 * 1024 * 1024
    assert before["process_open_fds"] > 0
    assert before["farmwatch_media_ports"] == 250  # 30000-30499 in conf/farmwatch.toml
    assert before["farmwatch_sip_tcp_accept_errors_total"] == 0
    assert before["farmwatch_sip_auth_failures_total"] == 0

    device = await RawDevice.connect(
        "34020000001320000077", ("127.0.0.1", farmwatch_server.sip_port), "UDP"
    )
    try:
        assert await device.register() == 200
    finally:
        await device.close_and_wait()
    after = await asyncio.to_thread(_scrape, farmwatch_server)
    assert after["farmwatch_devices_registered"] == 1
    assert after["farmwatch_devices_online"] == 1

    guesser = await RawDevice.connect(
        "34020000001320000078", ("127.0.0.1", farmwatch_server.sip_port), "UDP"
    )
    try:
        assert await guesser.register(password="not-the-password") == 403
    finally:
        await guesser.close_and_wait()
    guessed = await asyncio.to_thread(_scrape, farmwatch_server)
    assert guessed["farmwatch_sip_auth_failures_total"] == 1


async def test_metrics_count_transactions_retransmissions_registers_and_disk(
    farmwatch_server: RunningServer,
) -> None:
    """Issue 10 item 6: SIP transactions and retransmissions, registrations, recording disk
    use; each counter read before and after what moves it."""
    server = farmwatch_server
    before = await asyncio.to_thread(server.metric, "farmwatch_sip_transactions_total",
                                     side="server")  # fmt: skip
    resent = await asyncio.to_thread(server.metric, "farmwatch_sip_retransmissions_total",
                                     direction="received")  # fmt: skip
    # One OPTIONS, then the very same datagram again: a second transaction it is not.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(5)
        options = options_bytes(server.sip_port, local_port=sock.getsockname()[1])
        for _ in range(2):
            sock.sendto(options, ("127.0.0.1", server.sip_port))
            assert status_of(sock.recvfrom(65536)[0]) == 200
    device = await RawDevice.connect("34020000001320000079", ("127.0.0.1", server.sip_port), "UDP")
    try:
        assert await device.register() == 200
    finally:
        await device.close_and_wait()

    def read(name: str, **labels: str) -> float:
        return server.metric(name, **labels)

    after = await asyncio.to_thread(read, "farmwatch_sip_transactions_total", side="server")
    assert after >= before + 3  # the OPTIONS and the two legs of the REGISTER
    again = await asyncio.to_thread(
        read, "farmwatch_sip_retransmissions_total", direction="received"
    )
    assert again == resent + 1
    assert await asyncio.to_thread(read, "farmwatch_sip_registers_total", answer="accepted") == 1
    assert await asyncio.to_thread(read, "farmwatch_sip_registers_total", answer="challenged") >= 1
    assert await asyncio.to_thread(read, "farmwatch_recording_bytes") == 0  # nothing recorded
    assert await asyncio.to_thread(read, "farmwatch_storage_bytes") > 0
