"""Simulated devices stream live video when invited (gb28181.md §6.1-6.7, §6.10, §8.1, §11.4-11.5).

The platform's side is played by `media_peer`: a plain `SipEndpoint` sends the INVITE with a
GB play offer, raw loopback sockets receive the RTP (UDP, TCP with the platform listening,
TCP with the platform connecting), the PS stream is reassembled in sequence order and decoded
with PyAV. Small pictures at 50 fps keep each test around a second.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import av
import pytest

from farmwatch.simulator import (
    PictureMode,
    SenderRole,
    SenderState,
    SimulatedDevice,
    SimulatorFleet,
    StreamSettings,
    VideoCodec,
    running_simulator,
)
from farmwatch.simulator.channels import channel_id
from farmwatch.simulator.cli import build_parser, fleet_settings
from farmwatch.simulator.media_sender import DISCARD_PORT
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import Direction, MediaProtocol, Setup
from tests.integration.simulator.media_peer import (
    Caller,
    RtpCollector,
    decode_ps,
    play_offer,
    running_caller,
    tcp_client,
    tcp_server,
    udp_receiver,
)
from tests.integration.simulator.platform import SERVER_ID, running_platform

FAST = StreamSettings(
    width=160, height=96, fps=50, bitrate=100_000, loop_seconds=2, connect_interval=0.2
)
FRAMES = 55
WAIT = 10.0
QUIET = 0.3
"""How long a stopped stream must stay silent (15 frame intervals at 50 fps)."""


@dataclasses.dataclass
class Setting:
    fleet: SimulatorFleet
    caller: Caller

    @property
    def device(self) -> SimulatedDevice:
        return self.fleet.devices[0]

    def channel(self, index: int = 0) -> str:
        device = self.device
        return channel_id(device.device_id, index, len(device.channels))


@asynccontextmanager
async def simulated(media: StreamSettings = FAST, *, channels: int = 2) -> AsyncIterator[Setting]:
    async with (
        running_platform(catalog_on_register=False) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=channels, media=media
        ) as fleet,
        running_caller() as caller,
    ):  # fmt: skip
        yield Setting(fleet, caller)


async def _quiet(collector: RtpCollector, seconds: float = QUIET) -> bool:
    """True when no packet arrives for `seconds` (a stopped stream must stay stopped)."""
    count = len(collector.packets)
    try:
        async with asyncio.timeout(seconds):
            await collector.wait_for(lambda c: len(c.packets) > count)
    except TimeoutError:
        return True
    return False


def _assert_frames_well_formed(collector: RtpCollector, ssrc: int) -> None:
    """One timestamp per frame, marker on its last packet, the answered SSRC and PT 96."""
    packets = collector.in_sequence_order()
    assert {p.ssrc for p in packets} == {ssrc}
    assert {p.payload_type for p in packets} == {96}
    for previous, packet in zip(packets, packets[1:], strict=False):
        if previous.marker:
            assert packet.timestamp != previous.timestamp
        else:
            assert packet.timestamp == previous.timestamp
    assert max(len(p.payload) for p in packets) <= 1400


async def test_udp_call_streams_decodable_ps_with_the_offered_ssrc_until_bye() -> None:
    async with simulated() as setting, udp_receiver() as (collector, port):
        device, channel = setting.device, setting.channel()
        call = await setting.caller.invite(device, channel, play_offer(port, ssrc="0200000001"))
        assert call.response.status == 200
        answer = call.answer
        assert answer.session_name == "Play"
        assert answer.origin is not None and answer.origin.username == channel
        assert answer.media_address == "127.0.0.1"
        assert answer.video.protocol is MediaProtocol.RTP_AVP
        assert answer.video.direction is Direction.SENDONLY
        assert [str(m) for m in answer.video.rtpmaps] == ["96 PS/90000"]
        assert answer.ssrc == "0200000001"
        assert answer.media_format == "v/2/1/50/1/100a///"
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(FRAMES)
        _assert_frames_well_formed(collector, 200_000_001)
        video = decode_ps(collector.ps_stream())
        assert video.codec == "h264"
        assert video.frames >= 50
        assert video.sizes == {(160, 96)}
        assert device.active_calls == 1 and device.invites_received == 1
        assert device.calls[0].is_acknowledged

        bye = await setting.caller.bye(call)
        assert bye.status == 200
        sent = device.packets_sent
        assert await _quiet(collector)
        assert len(collector.packets) == sent
        assert device.byes_received == 1 and device.active_calls == 0
        assert device.packets_sent == sent


async def test_default_stream_is_640x360_h264_at_25_fps() -> None:
    media = dataclasses.replace(StreamSettings(), connect_interval=0.2)
    async with simulated(media, channels=1) as setting, udp_receiver() as (collector, port):
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(52)
        video = decode_ps(collector.ps_stream())
        assert video.frames >= 50
        assert video.sizes == {(640, 360)}
        assert call.answer.media_format == "v/2/4/25/1/1000a///"
        timestamps = sorted({p.timestamp for p in collector.packets})
        assert {b - a for a, b in zip(timestamps, timestamps[1:], strict=False)} == {3600}


async def test_tcp_device_connects_when_the_platform_listens() -> None:
    async with simulated() as setting, tcp_server() as (server, port):
        offer = play_offer(port, transport=Transport.TCP, setup=Setup.PASSIVE)
        call = await setting.caller.invite(setting.device, setting.channel(), offer)
        answer = call.answer
        assert answer.video.protocol is MediaProtocol.TCP_RTP_AVP
        assert answer.video.setup is Setup.ACTIVE
        assert answer.video.port == DISCARD_PORT
        assert server.connections == 0  # media starts after the ACK
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await server.collector.wait_frames(FRAMES)
        _assert_frames_well_formed(server.collector, int(answer.ssrc or ""))
        video = decode_ps(server.collector.ps_stream())
        assert video.frames >= 50 and video.sizes == {(160, 96)}
        assert server.connections == 1
        assert setting.device.calls[0].role is SenderRole.TCP_CONNECT

        assert (await setting.caller.bye(call)).status == 200
        assert await _quiet(server.collector)


async def test_tcp_device_retries_the_connect_until_the_platform_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
        port = sock.getsockname()[1]
        async with simulated() as setting:
            device = setting.device
            offer = play_offer(port, transport=Transport.TCP, setup=Setup.PASSIVE)
            call = await setting.caller.invite(device, setting.channel(), offer)
            setting.caller.ack(call)
            async with asyncio.timeout(WAIT):
                await device.wait_for(lambda d: d.calls[0].connect_failures >= 1)
            async with tcp_server(sock) as (server, _):
                async with asyncio.timeout(WAIT):
                    await server.collector.wait_frames(FRAMES)
                assert decode_ps(server.collector.ps_stream()).frames >= 50
            assert device.calls[0].connect_failures in (1, 2)


async def test_tcp_device_gives_up_after_three_attempts_and_keeps_the_call() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        async with simulated() as setting:
            device = setting.device
            offer = play_offer(sock.getsockname()[1], transport=Transport.TCP)
            started = asyncio.get_running_loop().time()  # before the first attempt can be
            call = await setting.caller.invite(device, setting.channel(), offer)
            setting.caller.ack(call)
            async with asyncio.timeout(WAIT):
                await device.wait_for(lambda d: d.calls[0].state is SenderState.FAILED)
            # Two waits between three attempts; the loop's timers are whole milliseconds.
            waited = asyncio.get_running_loop().time() - started
            assert waited >= 2 * FAST.connect_interval - 0.005, waited
            assert device.calls[0].connect_failures == 3
            assert device.active_calls == 1
            assert (await setting.caller.bye(call)).status == 200


async def test_tcp_platform_connects_when_the_device_listens() -> None:
    async with simulated() as setting:
        offer = play_offer(40000, transport=Transport.TCP, setup=Setup.ACTIVE)
        call = await setting.caller.invite(setting.device, setting.channel(), offer)
        answer = call.answer
        assert answer.video.setup is Setup.PASSIVE
        assert answer.video.port not in (0, DISCARD_PORT)
        setting.caller.ack(call)
        async with tcp_client(answer.media_address, answer.video.port) as collector:
            async with asyncio.timeout(WAIT):
                await collector.wait_frames(FRAMES)
            _assert_frames_well_formed(collector, int(answer.ssrc or ""))
            video = decode_ps(collector.ps_stream())
            assert video.frames >= 50 and video.sizes == {(160, 96)}
            assert setting.device.calls[0].role is SenderRole.TCP_LISTEN
            assert (await setting.caller.bye(call)).status == 200
            assert await _quiet(collector)


async def test_a_device_refusing_the_platforms_connection_answers_a_dead_port() -> None:
    media = dataclasses.replace(FAST, refuse_media_connection=True)
    async with simulated(media) as setting:
        offer = play_offer(40000, transport=Transport.TCP, setup=Setup.ACTIVE)
        call = await setting.caller.invite(setting.device, setting.channel(), offer)
        answer = call.answer
        assert answer.video.setup is Setup.PASSIVE
        setting.caller.ack(call)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(answer.media_address, answer.video.port)
        assert (await setting.caller.bye(call)).status == 200


async def test_a_device_answering_active_to_active_connects_to_the_offer() -> None:
    media = dataclasses.replace(FAST, answer_setup_active=True)
    async with simulated(media) as setting, tcp_server() as (server, port):
        offer = play_offer(port, transport=Transport.TCP, setup=Setup.ACTIVE)
        call = await setting.caller.invite(setting.device, setting.channel(), offer)
        assert call.answer.video.setup is Setup.ACTIVE  # what RFC 4145 §4.1 forbids
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await server.collector.wait_frames(FRAMES)
        assert decode_ps(server.collector.ps_stream()).frames >= 50
        assert setting.device.calls[0].role is SenderRole.TCP_CONNECT


async def test_restart_timestamps_starts_the_rtp_timestamps_again_at_zero() -> None:
    media = dataclasses.replace(FAST, restart_timestamps=0.5)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(FRAMES)
        timestamps = [p.timestamp for p in collector.in_sequence_order() if p.marker]
        assert timestamps[:FRAMES] == [1800 * (n % 25) for n in range(FRAMES)]  # 50 fps
        assert (await setting.caller.bye(call)).status == 200


async def test_h265_stream_decodes_as_hevc() -> None:
    media = dataclasses.replace(FAST, codec=VideoCodec.H265)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        assert call.answer.media_format is not None
        assert call.answer.media_format.startswith("v/5/")
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(FRAMES)
        video = decode_ps(collector.ps_stream())
        assert video.codec == "hevc"
        assert video.frames >= 50 and video.sizes == {(160, 96)}


async def test_wrong_ssrc_answers_and_sends_the_devices_own_ssrc() -> None:
    media = dataclasses.replace(FAST, wrong_ssrc=True)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        offer = play_offer(port, ssrc="0200000007")
        call = await setting.caller.invite(setting.device, setting.channel(), offer)
        answered = call.answer.ssrc
        assert answered is not None and len(answered) == 10 and answered != "0200000007"
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(5)
        assert {p.ssrc for p in collector.packets} == {int(answered)}


async def test_offer_without_y_gets_an_ssrc_chosen_by_the_device() -> None:
    async with simulated() as setting, udp_receiver() as (collector, port):
        text = play_offer(port).to_text()
        body = "".join(line for line in text.splitlines(True) if not line.startswith("y="))
        call = await setting.caller.invite(setting.device, setting.channel(), body.encode())
        answered = call.answer.ssrc
        assert answered is not None and len(answered) == 10 and answered.startswith("0")
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(5)
        assert {p.ssrc for p in collector.packets} == {int(answered)}


async def test_loss_drops_the_asked_fraction_of_packets() -> None:
    media = dataclasses.replace(FAST, loss=0.2, seed=7)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_for(lambda c: len(c.packets) >= 100)
        packets = collector.in_sequence_order()
        first = packets[0].sequence_number
        span = ((packets[-1].sequence_number - first) & 0xFFFF) + 1
        missing = 1 - len(packets) / span
        assert 0.1 < missing < 0.3
        assert len({p.sequence_number for p in packets}) == len(packets)


async def test_reorder_swaps_packets_but_loses_none() -> None:
    media = dataclasses.replace(FAST, reorder=0.4, seed=7)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(FRAMES)
        arrival = [p.sequence_number for p in collector.packets]
        swaps = sum(1 for a, b in zip(arrival, arrival[1:], strict=False) if (b - a) & 0x8000)
        assert swaps >= 8  # about 17 expected among ~60 packets
        ordered = [p.sequence_number for p in collector.in_sequence_order()]
        assert all((b - a) & 0xFFFF == 1 for a, b in zip(ordered, ordered[1:], strict=False))
        assert decode_ps(collector.ps_stream()).frames >= 45


async def test_stop_after_stops_sending_but_keeps_the_call() -> None:
    media = dataclasses.replace(FAST, stop_after=0.4)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        device = setting.device
        call = await setting.caller.invite(device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await device.wait_for(lambda d: d.calls[0].state is SenderState.STOPPED)
        assert 15 <= collector.marker_count <= 25
        assert await _quiet(collector)
        assert device.active_calls == 1 and not setting.caller.byes
        assert (await setting.caller.bye(call)).status == 200


async def test_device_hangs_up_with_its_own_bye() -> None:
    async with simulated() as setting, udp_receiver() as (collector, port):
        device, channel = setting.device, setting.channel()
        call = await setting.caller.invite(device, channel, play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(3)
        assert await device.hang_up(channel) == 1
        async with asyncio.timeout(WAIT):
            bye = await setting.caller.wait_bye()
        assert bye.call_id == call.invite.call_id
        assert bye.from_.tag == call.response.to.tag
        assert bye.to.tag == call.invite.from_.tag
        assert await _quiet(collector)
        assert device.active_calls == 0
        assert await device.hang_up(channel) == 0


async def test_two_channels_stream_at_once() -> None:
    async with (
        simulated() as setting,
        udp_receiver() as (first, first_port),
        udp_receiver() as (second, second_port),
    ):
        device, caller = setting.device, setting.caller
        calls = await asyncio.gather(
            caller.invite(device, setting.channel(0), play_offer(first_port, ssrc="0200000011")),
            caller.invite(device, setting.channel(1), play_offer(second_port, ssrc="0200000012")),
        )
        for call in calls:
            caller.ack(call)
        async with asyncio.timeout(WAIT):
            await asyncio.gather(first.wait_frames(FRAMES), second.wait_frames(FRAMES))
        assert device.active_calls == 2
        _assert_frames_well_formed(first, 200_000_011)
        _assert_frames_well_formed(second, 200_000_012)
        streams = [first.ps_stream(), second.ps_stream()]
        assert all(decode_ps(ps).frames >= 50 for ps in streams)
        assert setting.fleet.media_cache.encode_count == 2  # one loop per channel


async def test_without_ack_streaming_starts_after_ack_wait() -> None:
    media = dataclasses.replace(FAST, ack_wait=0.2)
    async with simulated(media) as setting, udp_receiver() as (collector, port):
        await setting.caller.invite(setting.device, setting.channel(), play_offer(port))
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(5)
        assert not setting.device.calls[0].is_acknowledged


async def test_same_subject_replaces_the_running_stream() -> None:
    async with simulated() as setting, udp_receiver() as (collector, port):
        device, channel = setting.device, setting.channel()
        subject = f"{channel}:0200000001,{SERVER_ID}:0"
        first = await setting.caller.invite(device, channel, play_offer(port), subject=subject)
        second = await setting.caller.invite(device, channel, play_offer(port), subject=subject)
        assert first.response.status == second.response.status == 200
        assert device.active_calls == 1
        assert device.calls[0].call_id == second.invite.call_id
        assert (await setting.caller.bye(first)).status == 481


async def test_unknown_channel_gets_404() -> None:
    async with simulated() as setting:
        call = await setting.caller.invite(
            setting.device, "34020000001319999999", play_offer(30000)
        )
        assert call.response.status == 404
        assert setting.device.active_calls == 0


@pytest.mark.parametrize("status", [488, 486])
async def test_refused_invites_get_the_configured_status(status: int) -> None:
    async with simulated() as setting:
        setting.device.refuse_invites(status)
        call = await setting.caller.invite(setting.device, setting.channel(), play_offer(30000))
        assert call.response.status == status
        setting.device.accept_invites()
        with_media = await setting.caller.invite(
            setting.device, setting.channel(), play_offer(30000)
        )
        assert with_media.response.status == 200


async def test_ignored_invite_is_never_answered_until_cancelled() -> None:
    async with simulated() as setting:
        device, caller = setting.device, setting.caller
        device.ignore_invites()
        invite = asyncio.ensure_future(caller.invite(device, setting.channel(), play_offer(30000)))
        async with asyncio.timeout(WAIT):
            await device.wait_for(lambda d: d.invites_received == 1)
        done, _ = await asyncio.wait([invite], timeout=QUIET)
        assert not done  # no final answer (nor 100 Trying: the INVITE keeps retransmitting)
        assert caller.last_invite is not None
        cancel = await caller.cancel(caller.last_invite, device)
        assert cancel.status == 200
        async with asyncio.timeout(WAIT):
            call = await invite
        assert call.response.status == 487
        assert device.active_calls == 0


def test_cli_media_flags_reach_the_fleet_settings() -> None:
    args = build_parser().parse_args(
        ["--server", "127.0.0.1:5060", "--server-id", SERVER_ID, "--codec", "h265",
         "--bitrate", "2000", "--width", "1280", "--height", "720", "--fps", "30",
         "--loss", "0.05", "--reorder", "0.01"]
    )  # fmt: skip
    media = fleet_settings(args).media
    assert media == StreamSettings(
        codec=VideoCodec.H265, bitrate=2_000_000, width=1280, height=720, fps=30,
        loss=0.05, reorder=0.01,
    )  # fmt: skip
    with pytest.raises(ValueError, match="loss"):
        fleet_settings(build_parser().parse_args([*_base(), "--loss", "1.5"]))


def _base() -> list[str]:
    return ["--server", "127.0.0.1:5060", "--server-id", SERVER_ID]


async def test_a_channel_switched_to_black_at_run_time_sends_black_from_a_keyframe() -> None:
    async with simulated() as setting, udp_receiver() as (collector, port):
        device = setting.device
        call = await setting.caller.invite(device, setting.channel(), play_offer(port))
        setting.caller.ack(call)
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(30)
        await device.set_picture(0, PictureMode.BLACK)
        assert device.picture(0) is PictureMode.BLACK and device.picture(1) is PictureMode.NORMAL
        async with asyncio.timeout(WAIT):
            await collector.wait_frames(90)
        with av.open(io.BytesIO(collector.ps_stream()), mode="r", format="mpeg") as container:
            means = [float(picture.to_ndarray(format="gray").mean())
                     for picture in container.decode(video=0)]  # fmt: skip
        assert means[0] > 60  # the test pattern
        black = [index for index, mean in enumerate(means) if mean < 20]
        assert black and black == list(range(black[0], len(means)))  # black from then on
        timestamps = sorted({p.timestamp for p in collector.packets})
        assert {b - a for a, b in zip(timestamps, timestamps[1:], strict=False)} == {1800}


def test_cli_picture_flag_sets_every_channels_picture() -> None:
    args = build_parser().parse_args([*_base(), "--picture", "frozen"])
    assert fleet_settings(args).media.picture is PictureMode.FROZEN
    assert fleet_settings(build_parser().parse_args(_base())).media.picture is PictureMode.NORMAL
    with pytest.raises(SystemExit):
        build_parser().parse_args([*_base(), "--picture", "sepia"])
