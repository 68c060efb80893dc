"""Playback misbehaviour seen in the field, switched on per device (field-notes.md §1.3).

Each quirk is checked against what the platform's side observes: the INFO's status, the pace
of the recorded time in the frames, the MESSAGEs received, the INVITE's answer. The same
peers as `test_playback`.
"""

from __future__ import annotations

import asyncio

import pytest

from farmwatch.simulator import PlaybackQuirks, PlayerState, RecordSettings
from farmwatch.sipserver.gb.mansrtsp import MansrtspRequest, build_mansrtsp_request
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_download_offer
from tests.integration.simulator.media_peer import HOST, PLATFORM_ID, play_offer, tcp_server
from tests.integration.simulator.playback_peer import (
    download_offer,
    frame_log,
    pace,
    playback_offer,
)
from tests.integration.simulator.test_playback import QUIET, WAIT, _quiet, _start, simulated


async def test_ignoring_scale_answers_200_and_keeps_the_speed() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        setting.device.set_playback_quirks(ignores_scale=True)
        hour = setting.full_hour()
        offer = playback_offer(port, setting.channel, hour.start + 10, hour.start + 40)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await log.wait_frames(3)
            reply = await setting.caller.info(
                call, build_mansrtsp_request(MansrtspRequest.speed(1, 4.0))
            )
            assert reply.status == 200
            mark = len(log.frames())
            frames = await log.wait_frames(mark + 30)
        assert pace(frames[mark:]) == pytest.approx(1.0, rel=0.2)
        assert setting.playback().scale == 1.0
        await setting.caller.bye(call)


async def test_refusing_control_answers_400_and_goes_on_playing() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        setting.device.set_playback_quirks(refuses_control=True)
        hour = setting.full_hour()
        offer = playback_offer(port, setting.channel, hour.start + 10, hour.start + 40)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await log.wait_frames(3)
            reply = await setting.caller.info(
                call, build_mansrtsp_request(MansrtspRequest.pause(1))
            )
            assert reply.status == 400
            mark = len(log.frames())
            await log.wait_frames(mark + 10)
        assert setting.playback().state is PlayerState.PLAYING
        setting.device.set_playback_quirks(refuses_control=False)  # at once, in the same call
        reply = await setting.caller.info(call, build_mansrtsp_request(MansrtspRequest.pause(2)))
        assert reply.status == 200 and setting.playback().is_paused
        await setting.caller.bye(call)


async def test_omitting_media_status_ends_the_download_silently() -> None:
    async with simulated() as setting, frame_log() as (log, port):
        setting.device.set_playback_quirks(omits_media_status=True)
        hour = setting.full_hour()
        start = hour.start + 300
        offer = download_offer(port, setting.channel, start, start + 2, speed=4)
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await log.wait_recorded((start + 2) * 1000 - 40)
            await setting.device.wait_for(
                lambda d: setting.playback().state is PlayerState.FINISHED
            )
        assert await _quiet(log, QUIET)
        assert setting.caller.messages == []
        assert setting.playback().media_status_sent == 0
        await setting.caller.bye(call)


async def test_one_playback_per_channel_refuses_the_second_with_503() -> None:
    async with simulated() as setting, frame_log() as (_, port):
        hour = setting.full_hour()
        channel, device, caller = setting.channel, setting.device, setting.caller

        def offer(ssrc: str) -> SessionDescription:
            return playback_offer(port, channel, hour.start + 10, hour.start + 40, ssrc=ssrc)

        both = [await caller.invite(device, channel, offer(f"120000000{n}")) for n in (1, 2)]
        assert [c.response.status for c in both] == [200, 200]  # a well-behaved device
        assert device.active_calls == 2
        for call in both:
            assert (await caller.bye(call)).status == 200

        device.set_playback_quirks(one_playback_per_channel=True)
        first = await caller.invite(device, channel, offer("1200000003"))
        second = await caller.invite(device, channel, offer("1200000004"))
        download = await caller.invite(
            device, channel, download_offer(port, channel, hour.start, hour.start + 5, speed=2)
        )
        live = await caller.invite(device, channel, play_offer(port, ssrc="0200000005"))
        assert [c.response.status for c in (first, second, download, live)] == [200, 503, 503, 200]
        await caller.bye(first)
        again = await caller.invite(device, channel, offer("1200000006"))
        assert again.response.status == 200
        for call in (live, again):
            await caller.bye(call)


async def test_unknown_file_size_is_answered_minus_one_in_every_answer() -> None:
    quirky = RecordSettings(days=2, quirks=PlaybackQuirks(unknown_file_size=True))
    async with simulated(quirky) as setting, frame_log() as (_, port):
        hour = setting.full_hour()
        channel, device, caller = setting.channel, setting.device, setting.caller
        calls = [
            await caller.invite(device, channel, download_offer(
                port, channel, hour.start, hour.start + 60, speed=4, ssrc="1200000001")),
            await caller.invite(device, channel, playback_offer(
                port, channel, hour.start, hour.start + 60, ssrc="1200000002")),
            await caller.invite(device, channel, play_offer(port, ssrc="0200000003")),
        ]  # fmt: skip
        assert [c.answer.filesize for c in calls] == [-1, -1, -1]
        assert device.playback_quirks.unknown_file_size
        for call in calls:
            await caller.bye(call)


async def test_a_download_over_tcp_reaches_its_end() -> None:
    async with simulated() as setting, tcp_server() as (server, port):
        hour = setting.full_hour()
        start = hour.start + 1200
        offer = build_download_offer(
            sender_id=PLATFORM_ID, endpoint=MediaEndpoint(HOST, port, Transport.TCP, Setup.PASSIVE),
            ssrc="1200000009", channel_id=setting.channel, start=start, stop=start + 3,
            download_speed=8,
        )  # fmt: skip
        call = await setting.caller.invite(setting.device, setting.channel, offer)
        await _start(setting, call)
        async with asyncio.timeout(WAIT):
            await setting.caller.wait_message()
            await server.collector.wait_frames(75)
        assert server.collector.marker_count == 75
        await setting.caller.bye(call)
