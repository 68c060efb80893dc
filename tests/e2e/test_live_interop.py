"""Live view with devices that misbehave the way third-party simulators do (issue 13).

Each test runs `farmwatch serve` and the bundled simulator made to misbehave, and checks what
a viewer gets: PyAV decoding the fMP4 and HLS served, the HTTP errors, the WebRTC answer.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from farmwatch.media.sinks.webrtc import use_host_addresses
from tests.e2e.live_helpers import SMALL_PICTURE, LiveRig, decoded_times, live_rig

FRAME_SECONDS = 1 / SMALL_PICTURE.fps


def regular_share(times: list[float]) -> float:
    """The share of steps between consecutive frames that are one frame interval."""
    steps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    assert steps and all(step > 0 for step in steps), steps
    return sum(abs(step - FRAME_SECONDS) < 1e-3 for step in steps) / len(steps)


async def get_text(rig: LiveRig, path: str) -> str:
    async with rig.http.get(rig.base + path) as response:
        assert response.status == 200, await response.text()
        return await response.text()


async def get_bytes(rig: LiveRig, path: str) -> bytes:
    async with rig.http.get(rig.base + path) as response:
        assert response.status == 200, await response.text()
        return await response.read()


def playlist_segments(text: str) -> tuple[str, list[tuple[float, str]]]:
    """The `#EXT-X-MAP` URI and the listed segments as (EXTINF seconds, URI)."""
    init, duration, segments = "", 0.0, []
    for line in text.splitlines():
        if line.startswith("#EXT-X-MAP:"):
            init = line.split('URI="')[1].rstrip('"')
        elif line.startswith("#EXTINF:"):
            duration = float(line.removeprefix("#EXTINF:").rstrip(","))
        elif line and not line.startswith("#"):
            segments.append((duration, line))
    return init, segments


async def test_a_device_restarting_its_timestamps_keeps_fmp4_and_hls_paced(
    tmp_path: Path,
) -> None:
    # The device starts its timestamps again at 0 every 1.5 s, mid-GOP, as one looping a
    # recorded file does; before the fix every frame after the first restart collapsed
    # onto one tick and the HLS playlist stopped growing.
    media = replace(SMALL_PICTURE, restart_timestamps=1.5)
    async with live_rig(tmp_path, media=media) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        hls_base = rig.base + links["hls"].rsplit("/", 1)[0]
        first = await get_text(rig, links["hls"])
        times = decoded_times(await rig.read_fmp4(links["fmp4"], seconds=5))
        assert max(times) - min(times) >= 3.5, times
        assert regular_share(times) >= 0.9

        later = await get_text(rig, links["hls"])
        _, first_segments = playlist_segments(first)
        init, segments = playlist_segments(later)
        assert segments[-1][1] != first_segments[-1][1]  # the playlist went on
        assert sum(duration for duration, _ in segments) >= 3.0
        # The first segment is the GOP kept when HLS started (any length); no later one
        # may collapse.
        later_segments = [entry for entry in segments if entry[1] != "segment-0.m4s"]
        assert all(duration >= 0.5 for duration, _ in later_segments), segments
        data = await get_bytes(rig, links["hls"].rsplit("/", 1)[0] + f"/{init}")
        for _, name in segments:
            async with rig.http.get(f"{hls_base}/{name}") as response:
                if response.status == 200:  # a segment may have left memory since
                    data += await response.read()
        hls_times = decoded_times(data)
        assert len(hls_times) >= 50
        assert regular_share(hls_times) >= 0.9


async def test_an_hls_only_viewer_is_kept_while_it_keeps_fetching(tmp_path: Path) -> None:
    # HLS has no connection to keep open: each fetch is what says the viewer is still
    # there. Before the fix the session went after `session_idle` however often it fetched.
    async with live_rig(tmp_path, env={"FARMWATCH_LIVE_SESSION_IDLE": "2"}) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        status, abandoned = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, abandoned
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5.0  # 2.5 × session_idle, swept every 0.5 s
        fetches = 0
        while loop.time() < deadline:
            _, segments = playlist_segments(await get_text(rig, links["hls"]))
            assert segments
            fetches += 1
            await asyncio.sleep(0.2)
        assert fetches >= 5
        assert await rig.delete(f"/api/live/{abandoned['session']}") == 404  # still swept
        assert await rig.delete(f"/api/live/{links['session']}") == 204


async def test_a_refused_tcp_active_connection_is_reported_as_such(tmp_path: Path) -> None:
    media = replace(SMALL_PICTURE, refuse_media_connection=True)
    env = {"FARMWATCH_MEDIA_TCP_CONNECT_INTERVAL": "0.2"}
    async with live_rig(tmp_path, transport="tcp-active", media=media, env=env) as rig:
        device = rig.fleet.devices[0]
        status, body = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 502, body
        assert re.search(r"refused the TCP media connection to 127\.0\.0\.1:\d+", body["error"])
        async with asyncio.timeout(5):
            await device.wait_for(lambda d: d.byes_received == 1)


async def test_a_device_answering_setup_active_to_active_is_listened_for(tmp_path: Path) -> None:
    # RFC 4145 §4.1: an answer to `a=setup:active` must be passive. A device answering
    # active will connect to the offer's address, so the platform listens there instead.
    media = replace(SMALL_PICTURE, answer_setup_active=True, connect_interval=0.3)
    async with live_rig(tmp_path, transport="tcp-active", media=media) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        times = decoded_times(await rig.read_fmp4(links["fmp4"], seconds=2.5))
        assert len(times) >= 30
        assert "a=setup:active" in rig.server.log_text()


async def test_webrtc_offers_only_the_configured_addresses(tmp_path: Path) -> None:
    # `[live] webrtc_addresses` (127.0.0.1 in every live test): before it, the platform
    # offered viewers a candidate on each of the host's interfaces.
    async with live_rig(tmp_path) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        viewer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        try:
            tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
            viewer.on("track", tracks.put_nowait)
            use_host_addresses(viewer.addTransceiver("video", direction="recvonly"), ["127.0.0.1"])
            await viewer.setLocalDescription(await viewer.createOffer())
            offer = {"sdp": viewer.localDescription.sdp, "type": "offer"}
            status, answer = await rig.post(links["webrtc"], offer)
            assert status == 200, answer
            addresses = re.findall(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ",
                                   answer["sdp"], re.MULTILINE)  # fmt: skip
            assert addresses and set(addresses) == {"127.0.0.1"}
            await viewer.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
            async with asyncio.timeout(15):
                track = await tracks.get()
                pictures = [await track.recv() for _ in range(10)]
            assert {(p.width, p.height) for p in pictures} == {(320, 180)}  # type: ignore[union-attr]
        finally:
            await viewer.close()
