"""WebRTC: an independent aiortc peer (a browser stand-in) on loopback receives and decodes
the H.264 our `WebRtcSession` passes through, and its PLI reaches `request_keyframe`."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack

from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.sinks import WebRtcSession
from farmwatch.media.sinks.webrtc import use_host_addresses
from tests.unit.media.sinks.pattern import HEIGHT, WIDTH, pattern_frames

FRAME_INTERVAL = 0.01  # the source runs at 100 fps: fast, but paced like a live stream


LOOPBACK = ("127.0.0.1",)
"""Every ICE candidate of both peers (aioice skips loopback unless told)."""


def loopback_session(**options: Any) -> WebRtcSession:
    return WebRtcSession(request_keyframe=options.pop("request_keyframe", lambda: None),
                         host_addresses=LOOPBACK, **options)  # fmt: skip


def host_candidates(sdp: str) -> list[str]:
    """The addresses of the `a=candidate` lines of an SDP (RFC 8839 §5.1)."""
    return re.findall(r"^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ", sdp, re.MULTILINE)


@pytest.fixture
async def viewer() -> AsyncIterator[RTCPeerConnection]:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    yield client
    await client.close()


async def feed(session: WebRtcSession, count: int) -> None:
    for frame in pattern_frames(Codec.H264, count):
        session.offer(frame)
        await asyncio.sleep(FRAME_INTERVAL)


async def connect(client: RTCPeerConnection, session: WebRtcSession) -> MediaStreamTrack:
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    client.on("track", tracks.put_nowait)
    use_host_addresses(client.addTransceiver("video", direction="recvonly"), LOOPBACK)
    await client.setLocalDescription(await client.createOffer())
    sdp, sdp_type = await session.answer(client.localDescription.sdp, client.localDescription.type)
    await client.setRemoteDescription(RTCSessionDescription(sdp, sdp_type))
    async with asyncio.timeout(5):
        return await tracks.get()


async def test_viewer_decodes_passed_through_h264(viewer: RTCPeerConnection) -> None:
    session = loopback_session(name="test")
    track = await connect(viewer, session)
    answer = viewer.remoteDescription.sdp
    assert re.findall(r"a=rtpmap:\d+ (\w+)/", answer) and set(
        re.findall(r"a=rtpmap:\d+ (\w+)/", answer)
    ) <= {"H264", "rtx"}

    feeder = asyncio.create_task(feed(session, 250))
    try:
        async with asyncio.timeout(15):
            pictures = [await track.recv() for _ in range(20)]
    finally:
        feeder.cancel()
    assert set(host_candidates(answer)) == set(LOOPBACK)  # none on the host's interfaces
    sizes = {(picture.width, picture.height) for picture in pictures}  # type: ignore[union-attr]
    assert sizes == {(WIDTH, HEIGHT)}
    assert session.track.frames_sent >= 20
    await session.close()
    assert session.is_closed


async def test_picture_loss_indication_asks_the_source_for_a_keyframe(
    viewer: RTCPeerConnection,
) -> None:
    requested = asyncio.Event()
    session = loopback_session(request_keyframe=requested.set, name="test")
    track = await connect(viewer, session)
    feeder = asyncio.create_task(feed(session, 100))
    try:
        async with asyncio.timeout(10):
            await track.recv()  # media flows, so RTCP does too
            sender_ssrc = int(re.findall(r"a=ssrc:(\d+) ", viewer.remoteDescription.sdp)[0])
            receiver = viewer.getTransceivers()[0].receiver
            await receiver._send_rtcp_pli(sender_ssrc)
            await requested.wait()
            requested.clear()
            await receiver._send_rtcp_pli(sender_ssrc)  # within the interval: not forwarded
            while session.pictures_lost < 2:
                await asyncio.sleep(0.01)
    finally:
        feeder.cancel()
    assert session.keyframe_requests == 1
    assert not requested.is_set()
    await session.close()


async def test_the_session_closes_itself_when_the_viewer_hangs_up(
    viewer: RTCPeerConnection,
) -> None:
    session = loopback_session(name="test")
    await connect(viewer, session)
    async with asyncio.timeout(10):
        while session.connection_state != "connected":
            await asyncio.sleep(0.01)
        await viewer.close()
        while not session.is_closed:
            await asyncio.sleep(0.01)
    assert session.connection_state == "closed"


async def test_an_offer_without_video_is_refused() -> None:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    use_host_addresses(client.addTransceiver("audio", direction="recvonly"), LOOPBACK)
    await client.setLocalDescription(await client.createOffer())
    session = loopback_session()
    with pytest.raises(MediaError):
        await session.answer(client.localDescription.sdp, "offer")
    await session.close()
    await client.close()


async def test_an_offer_without_h264_is_refused() -> None:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = client.addTransceiver("video", direction="recvonly")
    use_host_addresses(transceiver, LOOPBACK)
    capabilities = RTCRtpReceiver.getCapabilities("video")
    assert capabilities is not None
    transceiver.setCodecPreferences([c for c in capabilities.codecs if c.mimeType == "video/VP8"])
    await client.setLocalDescription(await client.createOffer())
    session = loopback_session()
    with pytest.raises(MediaError):
        await session.answer(client.localDescription.sdp, "offer")
    await session.close()
    await client.close()


async def test_g711_sound_passes_through_on_an_audio_track(viewer: RTCPeerConnection) -> None:
    session = loopback_session(name="test")
    tracks: asyncio.Queue[MediaStreamTrack] = asyncio.Queue()
    viewer.on("track", tracks.put_nowait)
    for kind in ("video", "audio"):
        use_host_addresses(viewer.addTransceiver(kind, direction="recvonly"), LOOPBACK)
    await viewer.setLocalDescription(await viewer.createOffer())
    sdp, sdp_type = await session.answer(viewer.localDescription.sdp, "offer")
    await viewer.setRemoteDescription(RTCSessionDescription(sdp, sdp_type))
    assert "PCMA/8000" in sdp or "PCMU/8000" in sdp
    async with asyncio.timeout(5):
        received = {track.kind: track for track in [await tracks.get(), await tracks.get()]}

    async def feed_both() -> None:
        # 20 ms of A-law (or µ-law) silence per frame, as a camera's PS audio PES carries it.
        law = session.audio_track.codec
        assert law is Codec.G711A  # A-law preferred, as GB cameras send
        video = pattern_frames(Codec.H264, 200)
        for index in range(200):
            session.offer(video[index])
            pts = index * 1800
            session.offer(EsFrame(Codec.G711A, b"\xd5" * 160, pts, pts, True, 0xC0))
            await asyncio.sleep(0.02)

    feeder = asyncio.create_task(feed_both())
    try:
        async with asyncio.timeout(15):
            sounds = [await received["audio"].recv() for _ in range(10)]
    finally:
        feeder.cancel()
    assert all(sound.sample_rate == 8000 for sound in sounds)  # type: ignore[union-attr]
    assert session.audio_track.frames_sent >= 10
    await session.close()


async def _browser_like_offer() -> str:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTransceiver("video", direction="recvonly")
    client.addTransceiver("audio", direction="recvonly")
    await client.setLocalDescription(await client.createOffer())
    offer = client.localDescription.sdp
    await client.close()
    return offer


def _drop(pattern: str) -> Callable[[str], str]:
    return lambda sdp: re.sub(pattern, "", sdp, flags=re.M)


def _sub(pattern: str, replacement: str) -> Callable[[str], str]:
    return lambda sdp: re.sub(pattern, replacement, sdp, count=1, flags=re.M)


MALFORMED_OFFERS: dict[str, Callable[[str], str]] = {
    "garbage": lambda _: "garbage",
    "empty": lambda _: "",
    "only-m-line": lambda _: "v=0\r\nm=video\r\n",
    "bad-payload-type": _sub(r"^(m=video \d+ \S+) \d+", r"\1 abc"),
    "payload-type-over-255": _sub(r"^(m=video \d+ \S+) \d+", r"\1 300"),
    "bad-setup-role": _sub(r"^a=setup:\w+", "a=setup:bogus"),
    "no-setup": _drop(r"^a=setup:.*\r\n"),
    "no-fingerprint": _drop(r"^a=fingerprint:.*\r\n"),
    "no-ice-credentials": _drop(r"^a=ice-(ufrag|pwd):.*\r\n"),
    "no-direction": _drop(r"^a=(recvonly|sendrecv|sendonly|inactive)\r\n"),
    "bad-connection-line": _sub(r"^c=IN IP4 .*", "c=IN"),
    "fmtp-of-unknown-payload": lambda sdp: sdp.replace(
        "a=rtpmap:", "a=fmtp:77 x=1\r\na=rtpmap:", 1
    ),
    "mid-without-value": _sub(r"^a=mid:\S+", "a=mid"),
    "repeated-mid": lambda sdp: re.sub(r"^a=mid:\S+", "a=mid:0", sdp, flags=re.M),
    "bad-candidate": lambda sdp: sdp.replace("a=mid:", "a=candidate:x\r\na=mid:", 1),
    "no-rtcp-mux": _drop(r"^a=rtcp-mux\r\n"),
}


@pytest.mark.parametrize("mangle", MALFORMED_OFFERS.values(), ids=MALFORMED_OFFERS.keys())
async def test_a_malformed_offer_is_refused_as_invalid(mangle: Callable[[str], str]) -> None:
    offer = mangle(await _browser_like_offer())
    session = WebRtcSession(request_keyframe=lambda: None)
    try:
        with pytest.raises(InvalidOffer):
            await session.answer(offer, "offer")
    finally:
        await session.close()


async def test_the_unmangled_offer_is_answered() -> None:
    session = WebRtcSession(request_keyframe=lambda: None)
    try:
        sdp, sdp_type = await session.answer(await _browser_like_offer(), "offer")
        assert sdp_type == "answer" and "m=video" in sdp
    finally:
        await session.close()
