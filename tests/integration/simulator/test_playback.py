"""Simulated channels play back and download their recordings (ref. §4.12, §6.8-§7, §11.6-§11.7).

The platform's side is `playback_peer`: a plain `SipEndpoint` INVITEs with the GB playback and
download offers, controls the session with MANSRTSP INFOs and takes the device's in-dialog
MESSAGEs; a loopback UDP socket receives the RTP with arrival times. Where playback is comes
from each frame's recorded-time SEI. The test picture has a key frame every 2 s (so a start
between key frames shows where playing begins) at 25 fps; ranges are tens of seconds.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from itertools import pairwise

import av
import pytest

from farmwatch.simulator import (
    PlaybackInfo,
    PlayerState,
    RecordFile,
    RecordSettings,
    SimulatedDevice,
    StreamSettings,
    VideoCodec,
    read_recorded_time,
    running_simulator,
)
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.mansrtsp import (
    MansrtspMethod,
    MansrtspRequest,
    build_mansrtsp_request,
    parse_mansrtsp_response,
)
from farmwatch.sipserver.sip.sdp import SessionName
from tests.integration.simulator.media_peer import Call, decode_ps, play_offer
from tests.integration.simulator.platform import SERVER_ID, running_platform
from tests.integration.simulator.playback_peer import (
    FrameLog,
    PlaybackCaller,
    ReceivedFrame,
    download_offer,
    frame_log,
    pace,
    playback_offer,
    running_playback_caller,
)

MEDIA = StreamSettings(width=160, height=96, fps=25, bitrate=100_000, gop=50, loop_seconds=4)
BYTES_PER_SECOND = 100_000 // 8
WAIT = 10.0
QUIET = 0.3
"""How long a stopped stream must stay silent (7 frame intervals)."""


@dataclass
class Setting:
    device: SimulatedDevice
    caller: PlaybackCaller

    @property
    def channel(self) -> str:
        return self.device.channels.items[0].device_id

    def full_hour(self) -> RecordFile:
        """A whole hour file recorded yesterday or earlier (not the one being written)."""
        index = self.device.record_index(self.channel)
        return next(f for f in reversed(index.files) if f.duration == 3600 and f.end < index.now)

    def playback(self) -> PlaybackInfo:
        [call] = [c for c in self.device.calls if c.playback is not None]
        assert call.playback is not None
        return call.playback


@asynccontextmanager
async def simulated(
    records: RecordSettings | None = None, media: StreamSettings = MEDIA
) -> AsyncIterator[Setting]:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=1, media=media,
            records=records or RecordSettings(days=2),
        ) as fleet,
        running_playback_caller() as caller,
    ):  # fmt: skip
        yield Setting(fleet.devices[0], caller)


async def _start(setting: Setting, call: Call) -> None:
    assert call.response.status == 200, call.response.reason
    setting.caller.ack(call)


def _control(request: MansrtspRequest) -> bytes:
    return build_mansrtsp_request(request)


async def _quiet(log: FrameLog, seconds: float = QUIET) -> bool:
    """True when no frame arrives for `seconds`."""
    count = len(log.frames())
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(seconds):
            await log.wait_frames(count + 1)
    return len(log.frames()) == count


def _ms(frame: ReceivedFrame) -> int:
    assert frame.recorded_ms is not None
    return frame.recorded_ms


async def test_playback_streams_from_the_key_frame_before_the_start_in_real_time() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        hour = setting.full_hour()
        start, stop = hour.start + 101, hour.start + 116  # key frames at even seconds
        call = await setting.caller.invite(
            setting.device, setting.channel, playback_offer(port, setting.channel, start, stop)
        )
        answer = call.answer
        assert (answer.session_kind, answer.start_time, answer.stop_time) == (
            SessionName.PLAYBACK, start, stop
        )  # fmt: skip
        assert answer.filesize is None and answer.ssrc == "1200000001"
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            frames = await log.wait_frames(40)
        first = frames[0]
        assert first.is_keyframe and _ms(first) == (start - 1) * 1000  # within one GOP
        assert [_ms(f) - _ms(first) for f in frames[:40]] == [40 * n for n in range(40)]
        assert {b.timestamp - a.timestamp for a, b in pairwise(frames)} == {3600}
        assert pace(frames[:40]) == pytest.approx(1.0, rel=0.2)
        decoded = decode_ps(log.ps_stream())
        assert decoded.frames >= 39 and decoded.sizes == {(160, 96)}
        assert setting.playback().state is PlayerState.PLAYING
        await setting.caller.bye(call)


async def test_pause_seek_resume_and_scale_change_what_is_sent() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        hour = setting.full_hour()
        start, stop = hour.start + 101, hour.start + 131
        call = await setting.caller.invite(
            setting.device, setting.channel, playback_offer(port, setting.channel, start, stop)
        )
        await _start(setting, call)
        info = setting.caller.info
        async with asyncio.timeout(WAIT):
            await log.wait_frames(5)
            paused = await info(call, _control(MansrtspRequest.pause(1)))
            assert paused.status == 200
            answer = parse_mansrtsp_response(paused.body)
            assert (answer.status, answer.cseq) == (200, 1)
            last = setting.playback().recorded_ms
            assert setting.playback().is_paused and last is not None
            await log.wait_recorded(last)
        assert await _quiet(log)
        held = len(log.frames())

        # Seek 10.5 s into the range: the key frame at or before it is t= start + 9 s.
        async with asyncio.timeout(WAIT):
            sought = await info(call, _control(MansrtspRequest.seek(2, 10.5)))
            assert sought.status == 200
            assert parse_mansrtsp_response(sought.body).rtp_info is not None
            frames = await log.wait_frames(held + 5)
        after_seek = frames[held:]
        assert _ms(after_seek[0]) == (start + 9) * 1000 and after_seek[0].is_keyframe
        assert after_seek[0].timestamp - frames[held - 1].timestamp == round(
            (_ms(after_seek[0]) - _ms(frames[held - 1])) * 90
        )  # timestamps follow the recorded time

        # Scale 4: recorded time advances about four seconds per wall second.
        async with asyncio.timeout(WAIT):
            faster = await info(call, _control(MansrtspRequest.speed(3, 4.0)))
            assert faster.status == 200 and setting.playback().scale == 4.0
            mark = len(log.frames())
            frames = await log.wait_frames(mark + 100)
        quick = frames[mark:]
        assert pace(quick) == pytest.approx(4.0, rel=0.2)
        assert {b.timestamp - a.timestamp for a, b in pairwise(quick)} == {3600}

        # Pause, then resume with `npt=now-`: the very next frame follows on.
        async with asyncio.timeout(WAIT):
            await info(call, _control(MansrtspRequest.pause(4)))
            last = setting.playback().recorded_ms
            assert last is not None
            await log.wait_recorded(last)
            held = len(log.frames())
            resumed = await info(call, _control(MansrtspRequest.resume(5)))
            assert resumed.status == 200
            frames = await log.wait_frames(held + 3)
        assert _ms(frames[held]) == last + 40
        await setting.caller.bye(call)


async def test_reverse_playback_sends_key_frames_going_back() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        hour = setting.full_hour()
        start, stop = hour.start + 100, hour.start + 130
        call = await setting.caller.invite(
            setting.device, setting.channel, playback_offer(port, setting.channel, start, stop)
        )
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await log.wait_frames(3)
            backwards_from_20 = MansrtspRequest(MansrtspMethod.PLAY, 1, scale=-4.0, range_start=20)
            reply = await setting.caller.info(call, _control(backwards_from_20))
            assert reply.status == 200
            mark = len(log.frames())
            frames = await log.wait_frames(mark + 4)
        backwards = frames[mark:]
        assert all(f.is_keyframe for f in backwards)
        assert [_ms(f) for f in backwards[:4]] == [(start + 20 - 2 * n) * 1000 for n in range(4)]
        assert pace(backwards[:4]) == pytest.approx(-4.0, rel=0.2)
        await setting.caller.bye(call)


async def test_download_at_speed_four_ends_with_media_status_in_the_dialog() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        hour = setting.full_hour()
        start, stop = hour.start + 600, hour.start + 608
        offer = download_offer(port, setting.channel, start, stop, speed=4)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        answer = call.answer
        assert answer.session_kind is SessionName.DOWNLOAD
        assert (answer.start_time, answer.stop_time) == (start, stop)
        assert answer.filesize == 8 * BYTES_PER_SECOND
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            message = await setting.caller.wait_message()
        frames = log.frames()
        assert _ms(frames[0]) == start * 1000 and _ms(frames[-1]) == stop * 1000 - 40
        assert len(frames) == 8 * 25
        assert pace(frames) == pytest.approx(4.0, rel=0.2)
        # Inside the dialog: its Call-ID, the device's To tag as From tag, ours as To tag.
        assert message.call_id == call.invite.call_id
        assert message.from_.tag == call.response.to.tag
        assert message.to.tag == call.invite.from_.tag
        assert message.from_.uri.user == setting.channel
        status = parse_manscdp(message.body)
        assert isinstance(status, MediaStatus) and status.is_file_end
        assert status.device_id == setting.channel
        async with asyncio.timeout(WAIT):
            await setting.device.wait_for(lambda d: setting.playback().media_status_sent == 1)
        assert setting.playback().state is PlayerState.FINISHED
        assert await _quiet(log)
        assert (await setting.caller.bye(call)).status == 200
        assert setting.device.active_calls == 0


async def test_a_start_in_a_gap_plays_from_the_next_file() -> None:
    async with simulated(RecordSettings(days=2, missing_fraction=0.0)) as setting:
        index = setting.device.record_index(setting.channel)
        files = index.files
        short, following = next(
            (a, b) for a, b in pairwise(files) if a.end < b.start and b.end < index.now
        )
        async with frame_log() as (log, port):
            offer = playback_offer(port, setting.channel, short.end + 1, following.start + 10)
            call = await setting.caller.invite(setting.device, setting.channel, offer)
            await _start(setting, call)
            async with asyncio.timeout(WAIT):
                frames = await log.wait_frames(3)
            assert _ms(frames[0]) == following.start * 1000
            await setting.caller.bye(call)


async def test_teardown_stops_the_stream_without_media_status() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        hour = setting.full_hour()
        offer = playback_offer(port, setting.channel, hour.start + 10, hour.start + 40)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await log.wait_frames(3)
            stopped = await setting.caller.info(call, _control(MansrtspRequest.teardown(9)))
            assert stopped.status == 200
            assert parse_mansrtsp_response(stopped.body).cseq == 9
            last = setting.playback().recorded_ms
            assert last is not None and setting.playback().state is PlayerState.STOPPED
            await log.wait_recorded(last)
        assert await _quiet(log)
        assert setting.caller.messages == []
        await setting.caller.bye(call)


async def test_unreadable_control_is_answered_400_and_other_bodies_415() -> None:
    async with simulated() as setting, frame_log() as (_, port):
        hour = setting.full_hour()
        offer = playback_offer(port, setting.channel, hour.start + 10, hour.start + 40)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        info = setting.caller.info
        assert (await info(call, b"JUMP RTSP/1.0\r\nCSeq: 1\r\n")).status == 400
        assert (await info(call, b"PLAY RTSP/1.0\r\nCSeq: 2\r\nScale: 1000\r\n")).status == 400
        plain = await info(call, _control(MansrtspRequest.pause(3)), "text/plain")
        assert plain.status == 415
        assert setting.playback().state is PlayerState.PLAYING
        await setting.caller.bye(call)


async def test_a_range_without_recordings_ends_at_once_with_media_status() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        index = setting.device.record_index(setting.channel)
        before = index.window_start - 3600
        offer = playback_offer(port, setting.channel, before, before + 60)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            message = await setting.caller.wait_message()
        assert isinstance(parse_manscdp(message.body), MediaStatus)
        assert log.frames() == []
        await setting.caller.bye(call)


async def test_control_in_a_live_call_is_refused() -> None:
    async with simulated() as setting, frame_log() as (_, port):
        call = await setting.caller.invite(setting.device, setting.channel, play_offer(port))
        await _start(setting, call)
        reply = await setting.caller.info(call, _control(MansrtspRequest.pause(1)))
        assert reply.status == 400
        await setting.caller.bye(call)


async def test_h265_playback_carries_the_recorded_time_in_a_prefix_sei() -> None:
    if "libx265" not in av.codecs_available:
        pytest.skip("this PyAV build has no libx265")
    async with simulated(media=replace(MEDIA, codec=VideoCodec.H265)) as setting:
        hour = setting.full_hour()
        async with frame_log() as (log, port):
            offer = playback_offer(port, setting.channel, hour.start + 20, hour.start + 30)
            call = await setting.caller.invite(setting.device, setting.channel, offer)
            await _start(setting, call)
            async with asyncio.timeout(WAIT):
                frames = await log.wait_frames(10)
            assert [_ms(f) for f in frames[:10]] == [(hour.start + 20) * 1000 + 40 * n
                                                    for n in range(10)]  # fmt: skip
            with av.open(io.BytesIO(log.ps_stream()), format="mpeg") as container:
                stream = container.streams.video[0]
                assert stream.codec_context.name == "hevc"
                read = [read_recorded_time(bytes(p), length_prefixed=False)
                        for p in container.demux(stream) if p.size]  # fmt: skip
            assert read[:10] == [_ms(f) for f in frames[:10]]
            await setting.caller.bye(call)
