"""Relaying a stream to upper platforms as PS over RTP, on loopback (gb28181.md §9.2 item 3).

A device sends the simulator's H.264 test pattern as PS over RTP to a real UDP receiver; the
node relays it to test uppers over UDP, TCP it connects and TCP it listens on; each upper
checks the RTP it got (our SSRC, payload type, sequence numbers, markers, timestamps, payload
sizes) and decodes the PS with PyAV. The relays' ends are what the platform's listener hears.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from farmwatch.media.local_node import LocalMediaNode
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import RelaySpec, RelayTransport
from farmwatch.media.rtp import RtcpReceiverReport, RtpPacket
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from tests.integration.media.media_peers import FRAME_TICKS, open_udp_sender
from tests.integration.media.recorded_media import record
from tests.integration.media.relay_peers import (
    KEY,
    SSRC,
    UPPER_HOST,
    UPPER_SSRC,
    Device,
    RelayEvents,
    TcpUpper,
    check_rtp,
    udp_upper,
)

PORTS = "21800-21899"


@asynccontextmanager
async def live_stream(**settings: Any) -> AsyncIterator[tuple[LocalMediaNode, RelayEvents, Device]]:
    """A node with one live UDP stream under `KEY` (10 frames sent)."""
    events = RelayEvents()
    media = MediaSettings(host="127.0.0.1", port_range=PORTS, **settings)
    node = LocalMediaNode(media, events)
    await node.start()
    sender = await open_udp_sender()
    try:
        placement = await node.open_stream(KEY, MediaTransport.UDP, SSRC, ["127.0.0.1"])
        device = Device(sender, placement.port)
        await device.send(10)
        await node.wait_live(KEY)
        yield node, events, device
    finally:
        sender.close()
        await node.close()


async def test_udp_relay_sends_the_ps_as_rtp_without_demultiplexing_the_stream() -> None:
    async with live_stream() as (node, _, device):
        upper = await udp_upper()
        spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.UDP, UPPER_SSRC)
        info = await node.open_relay(KEY, "relay-udp", spec)
        assert info.local_host == "127.0.0.1" and 21800 <= info.local_port <= 21899
        await device.send(20)
        assert upper.upper.packets == []  # nothing before the ACK
        await node.start_relay("relay-udp")
        await device.send(100)
        # The stream's GOP from its last key frame (frame 25: one a second), then live.
        await upper.upper.wait_frames(105)
        check_rtp(upper.upper, UPPER_SSRC)
        assert upper.upper.packets[0].timestamp == 25 * FRAME_TICKS  # the source's clock
        assert upper.upper.decoded_pictures() == 105
        assert upper.source == ("127.0.0.1", info.local_port)  # sent from the answered port

        stats = await node.relay_stats("relay-udp")
        assert stats.state == "sending" and stats.frames_dropped == 0
        assert stats.packets_sent == len(upper.upper.packets)
        assert stats.bytes_sent == sum(12 + len(p.payload) for p in upper.upper.packets)
        # A relay is no viewer: the stream was demultiplexed only to find its first key frame,
        # yet its progress counts every frame (from the PS) since the relay came.
        stream = node.manager.get(KEY)
        assert stream is not None and stream.stats.frames_in <= 2
        progress = await node.stream_progress(KEY)
        assert progress.video_frames >= 105 and progress.latest_pts == 129 * FRAME_TICKS
        assert node.stats_now().relays == 1
        await node.close_relay("relay-udp")
        await node.close_relay("relay-udp")  # idempotent
        assert node.stats_now().relays == 0
        upper.close()


async def test_tcp_connect_relay_and_the_upper_hanging_up() -> None:
    async with live_stream() as (node, events, device):
        upper = TcpUpper()
        await upper.listen()
        spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.TCP_CONNECT, UPPER_SSRC)
        info = await node.open_relay(KEY, "relay-tcp", spec)
        async with asyncio.timeout(5):
            await upper.is_connected.wait()  # dialed at once, from the answered port
        assert upper.transport is not None
        assert upper.transport.get_extra_info("peername")[1] == info.local_port
        await node.start_relay("relay-tcp")
        await device.send(60)
        await upper.upper.wait_frames(60)
        check_rtp(upper.upper, UPPER_SSRC)
        assert upper.upper.decoded_pictures() >= 60

        upper.hang_up()
        assert await events.wait_relay_closed("relay-tcp") == "peer-closed"
        with pytest.raises(Exception, match="not open"):
            await node.relay_stats("relay-tcp")
        upper.close()


async def test_tcp_listen_relay_takes_the_upper_only() -> None:
    async with live_stream() as (node, _, device):
        spec = RelaySpec(UPPER_HOST, 0, RelayTransport.TCP_LISTEN, UPPER_SSRC)
        info = await node.open_relay(KEY, "relay-listen", spec)
        stranger = TcpUpper()  # another host: refused
        await stranger.connect(info.local_port, source="127.0.0.2")
        async with asyncio.timeout(5):
            await stranger.is_lost.wait()
        await node.start_relay("relay-listen")
        assert (await node.relay_stats("relay-listen")).state == "waiting"
        upper = TcpUpper()
        await upper.connect(info.local_port)
        await device.send(60)
        await upper.upper.wait_frames(60)
        check_rtp(upper.upper, UPPER_SSRC)
        assert upper.upper.decoded_pictures() >= 60
        assert stranger.upper.packets == []
        await node.close_relay("relay-listen")
        async with asyncio.timeout(5):
            await upper.is_lost.wait()  # our BYE: the connection closes
        upper.close()


async def test_tcp_listen_relay_times_out_without_the_upper() -> None:
    async with live_stream(relay_connect_timeout=0.5) as (node, events, _):
        spec = RelaySpec(UPPER_HOST, 0, RelayTransport.TCP_LISTEN, UPPER_SSRC)
        info = await node.open_relay(KEY, "relay-lonely", spec)
        await asyncio.sleep(0.8)  # not started: the timeout counts from the start
        assert events.closed_relays == []
        await node.start_relay("relay-lonely")
        assert await events.wait_relay_closed("relay-lonely", 3.0) == "connect-timeout"
        with socket.socket() as probe:  # the port was given back and listens no more
            assert probe.connect_ex(("127.0.0.1", info.local_port)) != 0


async def test_two_relays_on_one_stream_are_independent() -> None:
    async with live_stream() as (node, _, device):
        first, second = await udp_upper(), await udp_upper()
        for name, upper, ssrc in (("r1", first, 11), ("r2", second, 22)):
            spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.UDP, ssrc)
            await node.open_relay(KEY, name, spec)
            await node.start_relay(name)
        await device.send(30)
        await first.upper.wait_frames(30)
        await second.upper.wait_frames(30)
        await node.close_relay("r1")
        kept = len(first.upper.packets)
        await device.send(60)
        await second.upper.wait_frames(90)
        assert len(first.upper.packets) == kept  # r1 stopped...
        check_rtp(second.upper, 22)  # ... r2 went on, its packets untouched by r1's end
        check_rtp(first.upper, 11)
        assert second.upper.decoded_pictures() >= 90
        first.close()
        second.close()


async def test_udp_relay_ends_when_icmp_says_the_upper_is_gone() -> None:
    async with live_stream(relay_unreachable_timeout=1.0) as (node, events, device):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as gone:
            gone.bind((UPPER_HOST, 0))
            port = gone.getsockname()[1]
        spec = RelaySpec(UPPER_HOST, port, RelayTransport.UDP, UPPER_SSRC)
        await node.open_relay(KEY, "relay-void", spec)
        await node.start_relay("relay-void")
        sending = asyncio.create_task(device.send(150, pace=0.02))
        try:
            assert await events.wait_relay_closed("relay-void", 5.0) == "peer-unreachable"
        finally:
            sending.cancel()


async def test_udp_relay_ends_when_the_uppers_rtcp_stops() -> None:
    async with live_stream(relay_rtcp_timeout=0.6) as (node, events, device):
        talking, silent = await udp_upper(), await udp_upper()
        for name, upper in (("talking", talking), ("silent", silent)):
            spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.UDP, UPPER_SSRC)
            await node.open_relay(KEY, name, spec)
            await node.start_relay(name)
        await device.send(10)
        await talking.upper.wait_frames(10)
        talking.send_rtcp(RtcpReceiverReport(UPPER_SSRC, ()).serialize())
        sending = asyncio.create_task(device.send(100, pace=0.02))
        try:
            assert await events.wait_relay_closed("talking", 5.0) == "rtcp-timeout"
            # An upper that never sent RTCP is never timed out on it.
            assert [name for name, _ in events.closed_relays] == ["talking"]
            before = silent.upper.frames
            await silent.upper.wait_frames(before + 5)
        finally:
            sending.cancel()
        assert (await node.relay_stats("silent")).state == "sending"
        talking.close()
        silent.close()


async def test_a_relay_holds_its_stream_open_and_ends_with_it() -> None:
    async with live_stream(idle_close=0.3) as (node, events, device):
        upper = await udp_upper()
        spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.UDP, UPPER_SSRC)
        await node.open_relay(KEY, "relay-1", spec)
        await device.send(50, pace=0.02)  # 1 s: well past idle_close with no viewer
        assert events.closed_streams == []
        await node.close_relay("relay-1")
        async with asyncio.timeout(3):
            while not events.closed_streams:
                events.changed.clear()
                await events.changed.wait()
        assert events.closed_streams == [(KEY, CloseReason.IDLE)]

        with pytest.raises(StreamClosedError):
            await node.open_relay(KEY, "relay-2", spec)  # no such stream (any more)

        placement = await node.open_stream(KEY, MediaTransport.UDP, SSRC, ["127.0.0.1"])
        sender = await open_udp_sender()
        try:
            again = Device(sender, placement.port)
            await again.send(10)
            await node.wait_live(KEY)
            await node.open_relay(KEY, "relay-3", spec)
            await node.start_relay("relay-3")
            await again.send(10)
            await node.close_stream(KEY, CloseReason.REQUESTED)  # the device's BYE
            assert await events.wait_relay_closed("relay-3") == "stream-ended"
        finally:
            sender.close()
            upper.close()


async def test_a_recorded_stream_is_relayed_as_muxed_ps(tmp_path: Path) -> None:
    recording = record(tmp_path, seconds=4, segment_seconds=2)
    events = RelayEvents()
    node = LocalMediaNode(MediaSettings(host="127.0.0.1", port_range=PORTS), events)
    await node.start()
    upper = await udp_upper()
    try:
        key = "pb-platform-relay"
        await node.open_recorded_stream(key, recording.parts(), recording.start.isoformat())
        await node.set_scale(key, 4)  # a recording plays faster: the test is shorter
        spec = RelaySpec(UPPER_HOST, upper.port, RelayTransport.UDP, UPPER_SSRC)
        await node.open_relay(key, "relay-pb", spec)
        await node.start_relay("relay-pb")
        assert await events.wait_relay_closed("relay-pb") == "stream-ended"  # its end
        await upper.upper.wait_frames(100, 2.0)  # the last datagrams are on their way
        packets: list[RtpPacket] = upper.upper.packets
        assert {p.ssrc for p in packets} == {UPPER_SSRC}
        assert all(len(p.payload) <= 1400 for p in packets)
        assert upper.upper.frames == 100
        assert upper.upper.decoded_pictures() == 100
    finally:
        upper.close()
        await node.close()
