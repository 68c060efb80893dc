"""Live video end to end: simulator → farmwatch serve → fMP4 decoded by PyAV (issue 4)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import random
import socket
from dataclasses import replace
from pathlib import Path

import av
import pytest

from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.test_pattern import VideoCodec
from tests.e2e.live_helpers import SMALL_PICTURE, decode_fmp4, decoded_times, live_rig
from tests.integration.media.media_peers import CHANNEL_B, pattern_loop, rtp_frames

CAMERA_PICTURE = StreamSettings(width=1280, height=720, fps=25, bitrate=3_000_000, loop_seconds=2)


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
async def test_live_fmp4_decodes_over_each_transport(tmp_path: Path, transport: str) -> None:
    async with live_rig(tmp_path, transport=transport) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        assert (links["width"], links["height"]) == (320, 180)
        data = await rig.read_fmp4(links["fmp4"], seconds=3.5)
        sizes = decode_fmp4(data)
        assert len(sizes) >= 50
        assert set(sizes) == {(320, 180)}


async def test_two_viewers_cost_one_invite_and_the_last_one_leaving_ends_the_call(
    tmp_path: Path,
) -> None:
    async with live_rig(tmp_path) as rig:
        device = rig.fleet.devices[0]
        channel = rig.channel()
        first, second = await asyncio.gather(
            rig.post(f"/api/channels/{channel}/live"), rig.post(f"/api/channels/{channel}/live")
        )
        assert first[0] == second[0] == 201
        assert first[1]["session"] != second[1]["session"]
        assert device.invites_received == 1
        both = await asyncio.gather(
            rig.read_fmp4(first[1]["fmp4"], seconds=2), rig.read_fmp4(second[1]["fmp4"], 2)
        )
        assert all(len(decode_fmp4(data)) >= 20 for data in both)
        assert device.invites_received == 1 and device.byes_received == 0
        assert await rig.delete(f"/api/live/{first[1]['session']}") == 204
        assert await rig.delete(f"/api/live/{second[1]['session']}") == 204
        # The stream lingers `idle_close` (5 s here) after its last viewer, then BYE.
        await asyncio.sleep(0)
        assert device.byes_received == 0
        async with asyncio.timeout(10):
            await device.wait_for(lambda d: d.byes_received == 1)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("refuse", "488"),
        ("ignore", "did not answer"),
        ("silent", "no video"),
    ],
)
async def test_device_failures_give_the_viewer_a_clear_error(
    tmp_path: Path, setup: str, expected: str
) -> None:
    media = replace(SMALL_PICTURE, stop_after=0.0) if setup == "silent" else SMALL_PICTURE
    async with live_rig(tmp_path, media=media) as rig:
        device = rig.fleet.devices[0]
        if setup == "refuse":
            device.refuse_invites(488)
        elif setup == "ignore":
            device.ignore_invites()
        loop = asyncio.get_running_loop()
        started = loop.time()
        status, body = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status in (502, 503), body
        assert expected in body["error"]
        assert loop.time() - started < 8  # within the INVITE / start timeouts


async def test_a_lossy_stream_delivers_nine_frames_in_ten_without_long_freezes(
    tmp_path: Path,
) -> None:
    """5 % of the RTP packets lost (seeded), 5 % reordered: frames that lost packets go on to
    the viewer damaged — the decoder conceals — instead of the rest of their GOP being
    dropped, and the camera is asked for a keyframe (issue 13 item 10). Before: about 4
    frames per second of 25, with freezes of seconds. The picture is the incident's: 720p at
    3 Mbit/s, whose key frames of 25–35 packets seldom arrive whole at 5 % loss."""
    media = replace(CAMERA_PICTURE, loss=0.05, reorder=0.05, seed=7)
    gop = media.fps  # the simulator's default: one keyframe a second
    async with live_rig(tmp_path, media=media) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        data = await rig.read_fmp4(links["fmp4"], seconds=8)
        sizes = decode_fmp4(data)
        assert sizes and set(sizes) == {(1280, 720)}
        times = sorted(decoded_times(data))
        span = times[-1] - times[0]
        assert span >= 6.0, (len(data), len(times), times[-5:])  # not a stalled stream
        delivered = len(times) / (span * media.fps + 1)
        longest_freeze = max(b - a for a, b in zip(times, times[1:], strict=False))
        assert delivered >= 0.9, f"{delivered:.0%} of the frames decoded"
        assert longest_freeze <= gop / media.fps, f"a freeze of {longest_freeze:.2f} s"
        device = rig.fleet.devices[0]
        assert device.responder.iframe_requests >= 1


STRANGER = "127.0.0.2"  # Linux routes all of 127/8 to lo: a second host on loopback
FIRST_SSRC_BEFORE = 200_000_001  # 0200000001: what the platform offered first, in sequence


def _one_media_port() -> tuple[int, dict[str, str]]:
    """An even port free now, as the platform's whole RTP range: the stranger knows it.

    Drawn below the kernel's ephemeral range (32768-60999): a port bind(0) handed out could be
    taken by another test's outgoing connection before the platform binds it."""
    for _ in range(50):
        port = random.randrange(20000, 30000, 2)
        with contextlib.ExitStack() as sockets:
            try:
                for kind, number in itertools.product(
                    (socket.SOCK_DGRAM, socket.SOCK_STREAM), (port, port + 1)
                ):
                    sockets.enter_context(socket.socket(socket.AF_INET, kind)).bind(
                        ("127.0.0.1", number)
                    )
            except OSError:
                continue
        return port, {"FARMWATCH_MEDIA_PORT_RANGE": f"{port}-{port + 1}"}
    raise RuntimeError("no free even/odd port pair")


async def _spray_udp(port: int) -> None:
    """A stranger's RTP (a 160x96 picture) with the SSRC the platform used to offer first."""
    loop = asyncio.get_running_loop()
    sender, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=(STRANGER, 0)
    )
    try:
        while True:
            for packets in rtp_frames(pattern_loop(CHANNEL_B, 160, 96), FIRST_SSRC_BEFORE, 250):
                for packet in packets:
                    sender.sendto(packet, ("127.0.0.1", port))
                await asyncio.sleep(0.02)
    finally:
        sender.close()


async def _hold_tcp(port: int) -> None:
    """A stranger connecting to the media port as soon as it listens, and holding on."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port, local_addr=(STRANGER, 0)
            )
        except OSError:
            await asyncio.sleep(0.005)
            continue
        try:
            await reader.read()  # until the platform closes it
        finally:
            writer.close()


@pytest.mark.parametrize("transport", ["udp", "tcp-passive"])
async def test_a_strangers_media_never_reaches_the_viewer(tmp_path: Path, transport: str) -> None:
    """Issue 13 item 5. Before: over UDP the stranger's RTP, sent to the (guessable) port with
    the (guessable) SSRC before the camera's, locked the stream and the viewer saw it; over
    TCP the stranger's connection took the stream's one slot and the camera was refused."""
    port, env = _one_media_port()
    async with live_rig(tmp_path, transport=transport, env=env) as rig:
        stranger = asyncio.create_task(_spray_udp(port) if transport == "udp" else _hold_tcp(port))
        try:
            status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
            assert status == 201, links
            assert (links["width"], links["height"]) == (320, 180)
            sizes = decode_fmp4(await rig.read_fmp4(links["fmp4"], seconds=2))
        finally:
            stranger.cancel()
            await asyncio.gather(stranger, return_exceptions=True)
        assert len(sizes) >= 20 and set(sizes) == {(320, 180)}


def _playlist_entries(text: str) -> tuple[str, list[str]]:
    init = next(line.split('URI="')[1].split('"')[0] for line in text.splitlines()
                if line.startswith("#EXT-X-MAP"))  # fmt: skip
    segments = [line for line in text.splitlines() if line and not line.startswith("#")]
    return init, segments


async def test_hls_and_snapshot_of_an_h265_camera(tmp_path: Path) -> None:
    media = replace(SMALL_PICTURE, codec=VideoCodec.H265)
    async with live_rig(tmp_path, media=media) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        assert links["codec"] == "h265"
        sizes = decode_fmp4(await rig.read_fmp4(links["fmp4"], seconds=3))
        assert len(sizes) >= 50 and set(sizes) == {(320, 180)}
        async with rig.http.get(rig.base + links["hls"]) as response:
            assert response.status == 200
            assert "mpegurl" in response.headers["Content-Type"]
            playlist = await response.text()
        init, segments = _playlist_entries(playlist)
        assert segments
        base = rig.base + links["hls"].rsplit("/", 1)[0]
        data = b""
        for name in [init, segments[0]]:
            async with rig.http.get(f"{base}/{name}") as response:
                assert response.status == 200
                data += await response.read()
        assert decode_fmp4(data)  # the first segment plays at once: it starts at a key frame
        await asyncio.sleep(2.5)  # media time: a GOP or more of later segments
        async with rig.http.get(rig.base + links["hls"]) as response:
            init, segments = _playlist_entries(await response.text())
        for name in segments[1:]:
            async with rig.http.get(f"{base}/{name}") as response:
                assert response.status == 200
                data += await response.read()
        assert len(decode_fmp4(data)) >= 25  # at least 1.5 s of it cut into segments by now
        async with rig.http.get(rig.base + links["snapshot"]) as response:
            assert response.status == 200 and response.headers["Content-Type"] == "image/jpeg"
            jpeg = await response.read()
        with av.open(io.BytesIO(jpeg), format="image2pipe") as container:
            picture = next(container.decode(video=0))
        assert (picture.width, picture.height) == (320, 180)


async def test_media_stopping_mid_stream_ends_it_and_tells_the_viewer(tmp_path: Path) -> None:
    media = replace(SMALL_PICTURE, stop_after=2.0)
    async with live_rig(tmp_path, media=media, env={"FARMWATCH_MEDIA_MEDIA_TIMEOUT": "1.5"}) as rig:
        device = rig.fleet.devices[0]
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        loop = asyncio.get_running_loop()
        started = loop.time()
        # The fMP4 response ends by itself when the stream ends (the viewer is told).
        data = await rig.read_fmp4(links["fmp4"], seconds=15)
        assert loop.time() - started < 10
        assert len(decode_fmp4(data)) >= 10
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.byes_received == 1)
        status, body = await rig.post(f"/api/live/{links['session']}/webrtc", {"sdp": "v=0"})
        assert status == 502 and "ended" in body["error"]


async def test_a_session_its_viewer_abandoned_expires(tmp_path: Path) -> None:
    async with live_rig(tmp_path, env={"FARMWATCH_LIVE_SESSION_IDLE": "1"}) as rig:
        status, kept = await rig.post(f"/api/channels/{rig.channel()}/live")
        status, abandoned = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, abandoned
        reader = asyncio.create_task(rig.read_fmp4(kept["fmp4"], seconds=3))
        # Neither output nor DELETE comes for `abandoned`: it goes once idle for 1 s
        # (swept every 0.5 s); the session with an open fMP4 output stays.
        await asyncio.sleep(2.5)
        assert await rig.delete(f"/api/live/{abandoned['session']}") == 404
        assert await rig.delete(f"/api/live/{kept['session']}") == 204
        assert len(decode_fmp4(await reader)) > 10
