"""MESSAGEs naming devices, from elsewhere or from strangers, against `farmwatch serve`
(issue 13, items 1 and 4).

Devices and attackers are raw UDP sockets (`tests/peers/udp_device.py`) or TCP
connections (`tests/peers/raw_device.py`), digest computed with hashlib; an attacker uses
another port of 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from farmwatch.sipserver.device_events import KeepaliveReceived
from farmwatch.sipserver.device_inbox import InboxStats
from tests.integration.simulator.platform import running_platform
from tests.peers.raw_device import RawDevice
from tests.peers.raw_sip import options_bytes, status_of
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.udp_device import (
    UdpDevice,
    header_of,
    query_goes_to,
    reason_of,
    registered,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("hardening"), {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
    )
    try:
        yield running
    finally:
        stop_server(running)


def test_a_keepalive_from_another_address_does_not_move_the_device(server: RunningServer) -> None:
    with (
        UdpDevice(server.sip_port, "34020000001320000101") as device,
        UdpDevice(server.sip_port, "34020000001320000101") as impostor,
    ):
        registered(server, device)
        refused = impostor.request(impostor.keepalive_bytes())  # the express path
        assert status_of(refused) == 403, refused
        assert "register" in reason_of(refused).lower()
        catalog = _large_catalog(device.device_id, 2000)  # a MESSAGE that is not a keepalive
        refused = impostor.request(impostor.message_bytes(catalog))
        assert status_of(refused) == 403 and "register" in reason_of(refused).lower()
        query_goes_to(server, device, impostor)
        # The device itself, at its registered address, is still welcome.
        assert status_of(device.request(device.keepalive_bytes(sn=2))) == 200


CATALOG_ITEM = (
    "<Item>\r\n<DeviceID>3402000000131{index:07d}</DeviceID>\r\n<Name>东门入口{index}</Name>\r\n"
    "<Manufacturer>ExampleCo</Manufacturer>\r\n<Model>IPC-HFW</Model>\r\n<Owner>Owner</Owner>\r\n"
    "<CivilCode>340200</CivilCode>\r\n<Address>东门</Address>\r\n<Parental>0</Parental>\r\n"
    "<ParentID>34020000001180009999</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n"
    "<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n<Status>ON</Status>\r\n</Item>\r\n"
)


def _large_catalog(device_id: str, size: int) -> bytes:
    items: list[str] = []
    while sum(len(item) for item in items) < size - 1000:
        items.append(CATALOG_ITEM.format(index=len(items) + 1))
    return (
        '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n'
        f"<SN>7</SN>\r\n<DeviceID>{device_id}</DeviceID>\r\n<SumNum>{len(items)}</SumNum>\r\n"
        f'<DeviceList Num="{len(items)}">\r\n{"".join(items)}</DeviceList>\r\n</Response>\r\n'
    ).encode("gb18030")


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _OptionsProbe(threading.Thread):
    """Sends OPTIONS every 20 ms and records each answer's round trip (bounded)."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.stop, self.round_trips, self.lost = port, stop, list[float](), 0

    def run(self) -> None:
        with UdpDevice(self.port, "34020000001320000199", timeout=2.0) as probe:
            for _ in range(1000):
                if self.stop.wait(0.02):
                    return
                started = time.monotonic()
                try:
                    answer = probe.request(options_bytes(self.port, local_port=probe.port))
                except TimeoutError:
                    self.lost += 1
                    continue
                if status_of(answer) != 200:
                    self.lost += 1
                self.round_trips.append(time.monotonic() - started)


def test_a_catalog_flood_from_an_unregistered_id_costs_next_to_nothing(
    server: RunningServer,
) -> None:
    """200 catalog MESSAGEs of 59 KB at 100/s from an ID that never registered: each is
    refused before its body is read, so the server spends little CPU on them (the body
    parse alone took ~16 ms each) and OPTIONS keeps being answered promptly."""
    stranger = "34020000001320000198"
    body = _large_catalog(stranger, 59 * 1024)
    assert 58 * 1024 < len(body) < 60 * 1024
    stop = threading.Event()
    probe = _OptionsProbe(server.sip_port, stop)
    with UdpDevice(server.sip_port, stranger) as flooder:
        messages = [flooder.message_bytes(body) for _ in range(200)]
        cpu_before = _cpu_seconds(server.process.pid)
        probe.start()
        started = time.monotonic()
        for index, message in enumerate(messages):
            time.sleep(max(0.0, started + index / 100 - time.monotonic()))  # pace at 100/s
            flooder.send(message)
        refused = 0
        for _ in messages:
            answer = flooder.next_response(timeout=10.0)
            if answer is None:
                break
            refused += status_of(answer) == 403
        cpu_spent = _cpu_seconds(server.process.pid) - cpu_before
    stop.set()
    probe.join(timeout=5)
    round_trips = sorted(probe.round_trips)
    p99 = round_trips[int(len(round_trips) * 0.99) - 1] if round_trips else float("inf")
    print(
        f"flood: {refused} refused, server CPU {cpu_spent:.2f} s; OPTIONS: "
        f"{len(round_trips)} answered, {probe.lost} lost, "
        f"median {statistics.median(round_trips) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    )
    assert refused == 200
    # Reading 200 such bodies cost the server 0.9 s of CPU here, refusing them 0.06 s.
    assert cpu_spent < 0.4, f"server spent {cpu_spent:.2f} s of CPU on the flood"
    assert probe.lost == 0


async def test_over_tcp_only_the_registered_connection_speaks_for_the_device() -> None:
    """In process, with the refusals counted: raw devices over real TCP connections."""
    device_id = "34020000001320000111"
    async with running_platform(catalog_on_register=False) as platform:
        device = await RawDevice.connect(device_id, platform.address, "TCP")
        impostor = await RawDevice.connect(device_id, platform.address, "TCP")
        stranger = await RawDevice.connect("34020000001320000112", platform.address, "TCP")
        try:
            assert await device.register() == 200
            assert await impostor.keepalive() == 403
            assert await stranger.keepalive() == 403
            assert await device.keepalive() == 200
            assert await impostor.register(password="guess") == 403
        finally:
            for peer in (device, impostor, stranger):
                await peer.close_and_wait()
        access = platform.access
        assert access.inbox.stats == InboxStats(refused_unregistered=1, refused_elsewhere=1)
        assert access.registrar.auth_stats.failures == 1
        beats = platform.listener.of_type(KeepaliveReceived)
        assert [(b.device_id, b.source.port) for b in beats] == [(device_id, device.local_port)]


def test_a_catalog_answer_is_read_once_and_an_unreadable_one_is_refused_with_the_reason(
    server: RunningServer,
) -> None:
    """A device's answer to our query (the express path takes it: plain, outside a call) is
    answered as the general handler answers it: a retransmission gets the same 200 (the same
    To tag) and the catalog is stored; an unreadable body gets a 400 that says why, the same
    answer naming the device from another address a 403, other content a 415."""
    with UdpDevice(server.sip_port, "34020000001320000111") as device:
        registered(server, device)
        status, _ = server.api(f"/devices/{device.device_id}/catalog", method="POST")
        assert status == 202
        query = device.next_request(timeout=5)
        assert query is not None and b"<CmdType>Catalog</CmdType>" in query
        sn = re.search(rb"<SN>(\d+)</SN>", query)
        assert sn is not None
        body = _large_catalog(device.device_id, 2000).replace(b"<SN>7</SN>", b"<SN>%s</SN>" % sn[1])
        items = sorted(
            id_.decode() for id_ in re.findall(rb"<DeviceID>(\d+131\d+)</DeviceID>", body)
        )
        answer = device.message_bytes(body)
        first = device.request(answer)
        again = device.request(answer)  # the same branch: a retransmission
        assert status_of(first) == status_of(again) == 200, (first, again)
        assert header_of(first, "To") == header_of(again, "To")
        deadline = time.monotonic() + 10
        while True:
            status, listing = server.api(f"/devices/{device.device_id}/channels")
            channels = listing["channels"] if status == 200 else []
            if len(channels) >= len(items):
                break
            assert time.monotonic() < deadline, f"catalog not stored: {status} {listing}"
            time.sleep(0.05)
        assert sorted(channel["channel_id"] for channel in channels) == items
        broken = device.request(device.message_bytes(b"<Response><CmdType>Catalog</Response>"))
        assert status_of(broken) == 400 and "malformed XML" in reason_of(broken), broken
        plain = device.message_bytes(b"hello").replace(b"Application/MANSCDP+xml", b"text/plain")
        assert status_of(device.request(plain)) == 415
        with UdpDevice(server.sip_port, "34020000001320000112") as stranger:
            refused = stranger.request(stranger.message_bytes(body, from_id=device.device_id))
            assert status_of(refused) == 403, refused
