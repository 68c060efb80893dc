"""A relay through a real media worker process (`MediaCluster(workers=1)`): every call over
the control channel, the relay's end over the events socket, RTP and TCP on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmwatch.media.cluster import MediaCluster
from farmwatch.media.errors import MediaError
from farmwatch.media.manager import MediaTransport
from farmwatch.media.node import RelaySpec, RelayTransport
from farmwatch.media.settings import MediaSettings
from farmwatch.media.stream import StreamClosedError
from tests.integration.media.media_peers import open_udp_sender
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


async def test_relays_through_a_media_worker(tmp_path: Path) -> None:
    settings = MediaSettings(host="127.0.0.1", port_range="21900-21939")
    events = RelayEvents()
    cluster = MediaCluster(settings, events, workers=1, runtime_dir=tmp_path)
    await cluster.start()
    sender = await open_udp_sender()
    tcp, udp = TcpUpper(), await udp_upper()
    try:
        placement = await cluster.open_stream(KEY, MediaTransport.UDP, SSRC, ["127.0.0.1"])
        assert placement.node == "media-0"
        device = Device(sender, placement.port)
        await device.send(10)
        await cluster.wait_live(KEY)

        with pytest.raises(StreamClosedError):  # the same error a local node raises
            spec = RelaySpec(UPPER_HOST, udp.port, RelayTransport.UDP, UPPER_SSRC)
            await cluster.open_relay("no-such-stream", "r0", spec)

        await tcp.listen()
        info = await cluster.open_relay(
            KEY, "r-tcp", RelaySpec(UPPER_HOST, tcp.port, RelayTransport.TCP_CONNECT, 7)
        )
        assert info.local_host == "127.0.0.1" and 21900 <= info.local_port <= 21939
        await cluster.open_relay(
            KEY, "r-udp", RelaySpec(UPPER_HOST, udp.port, RelayTransport.UDP, UPPER_SSRC)
        )
        with pytest.raises(MediaError, match="open already"):
            await cluster.open_relay(
                KEY, "r-udp", RelaySpec(UPPER_HOST, udp.port, RelayTransport.UDP, 1)
            )
        await cluster.start_relay("r-tcp")
        await cluster.start_relay("r-udp")
        await device.send(60)
        await tcp.upper.wait_frames(60)
        await udp.upper.wait_frames(60)
        check_rtp(tcp.upper, 7)
        check_rtp(udp.upper, UPPER_SSRC)
        assert tcp.upper.decoded_pictures() >= 60
        assert udp.upper.decoded_pictures() >= 60

        stats = await cluster.relay_stats("r-tcp")
        assert stats.relay_id == "r-tcp" and stats.state == "sending"
        assert stats.packets_sent == len(tcp.upper.packets) and stats.frames_dropped == 0
        await cluster.refresh_stats()
        assert cluster.stats()[0].relays == 2

        tcp.hang_up()  # the upper went away: the worker tells the platform
        assert await events.wait_relay_closed("r-tcp") == "peer-closed"
        with pytest.raises(MediaError, match="not open"):
            await cluster.start_relay("r-tcp")
        await device.send(20)
        await udp.upper.wait_frames(80)  # the other relay goes on
        await cluster.close_relay("r-udp")
        await cluster.close_relay("r-udp")  # idempotent
        assert [relay for relay, _ in events.closed_relays] == ["r-tcp"]
    finally:
        sender.close()
        tcp.close()
        udp.close()
        await cluster.close()
