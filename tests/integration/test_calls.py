"""INVITE sessions towards devices on loopback (issue "live video", item 4, the SIP half).

The platform is the real `SipEndpoint` + `DeviceAccess` + `Calls`; the device is sipp
(an independent stack: ACK of every 200, BYE both ways, TCP signalling) or farmwatch's own
endpoint where a test must script an error (488, silence, a 200 crossing the CANCEL).
Devices are made known with `DeviceAccess.restore`, the real restart path.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from farmwatch.platform.recordings.playback_service import PlaybackAction, control_request
from farmwatch.sipserver.calls import (
    CallEndReason,
    CallRefused,
    Calls,
    CallSettings,
    CallTimeout,
    DeviceUnavailable,
    EstablishedCall,
    build_live_offer,
)
from farmwatch.sipserver.device_access import DeviceAccess
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.manscdp_build import build_media_status
from farmwatch.sipserver.gb.mansrtsp import build_mansrtsp_request, parse_mansrtsp_response
from farmwatch.sipserver.gb.registrations import Registration
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import build_response
from farmwatch.sipserver.sip.request_builder import build_request
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup, parse_sdp
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_playback_offer
from tests.integration.simulator.platform import Platform, running_platform
from tests.peers.raw_sip import free_port
from tests.peers.sip_uas import CHANNEL_ID, DEVICE_ID, DeviceUas, answer_sdp, device_uas, sipp_uas

OFFERED = Ssrc(200000001)


@dataclass
class Listener:
    ended: list[tuple[str, CallEndReason]] = field(default_factory=list)
    statuses: list[tuple[str, MediaStatus]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        self.ended.append((call_id, reason))
        self.changed.set()

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        self.statuses.append((call_id, status))
        self.changed.set()

    async def wait(self, probe: object, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not probe():  # type: ignore[operator]
                self.changed.clear()
                await self.changed.wait()


@dataclass
class CallsEnv:
    platform: Platform
    calls: Calls
    listener: Listener

    @property
    def access(self) -> DeviceAccess:
        return self.platform.access


@pytest.fixture
async def env() -> AsyncIterator[CallsEnv]:
    async with running_platform(catalog_on_register=False) as platform:
        listener = Listener()
        calls = Calls(
            platform.endpoint,
            platform.access,
            CallSettings(request_timeout=3.0, keyframe_interval=2.0),
            listener=listener,
        )
        await calls.start()
        try:
            yield CallsEnv(platform, calls, listener)
        finally:
            await calls.close()


def make_known(access: DeviceAccess, port: int, transport: Transport = Transport.UDP) -> None:
    now = access.now()
    contact = f"<sip:{DEVICE_ID}@127.0.0.1:{port}>"
    address = Address("127.0.0.1", port, transport)
    access.restore(Registration(DEVICE_ID, address, contact, now + 3600, now))


def live_offer(
    transport: Transport = Transport.UDP, setup: Setup = Setup.PASSIVE
) -> SessionDescription:
    media = MediaEndpoint("127.0.0.1", 30000, transport, setup)
    return build_live_offer(platform_id="34020000002000000001", media=media, ssrc=OFFERED)


# -- against sipp, an independent device ---------------------------------------------------


async def test_sipp_device_answers_acks_are_sent_for_every_200_and_its_bye_reaches_the_listener(
    env: CallsEnv, tmp_path: Path
) -> None:
    port = free_port()
    async with sipp_uas("invite_uas.xml", port, tmp_path) as sipp:
        make_known(env.access, port)
        call = await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=5)
        # sipp answered with its own y= (a called domain choosing the SSRC, §6.3).
        assert call.ssrc == Ssrc(703001718)
        assert call.is_ssrc_changed and call.offered_ssrc == OFFERED
        assert call.subject == f"{CHANNEL_ID}:0200000001,34020000002000000001:0"
        assert call.transport is Transport.UDP and call.media_port == 15060
        # sipp re-sends the 200, waits for its ACK, then hangs up.
        await env.listener.wait(lambda: env.listener.ended)
        assert env.listener.ended == [(call.call_id, CallEndReason.REMOTE_BYE)]
        returncode, output = await sipp.result()
    assert returncode == 0, output
    assert not env.calls.is_active(call.call_id)


async def test_sipp_device_over_tcp_answers_setup_active_and_gets_our_bye(
    env: CallsEnv, tmp_path: Path
) -> None:
    port = free_port()
    async with sipp_uas("invite_uas_wait_bye.xml", port, tmp_path, tcp=True) as sipp:
        make_known(env.access, port, Transport.TCP)
        offer = live_offer(Transport.TCP, Setup.PASSIVE)
        call = await env.calls.invite(DEVICE_ID, CHANNEL_ID, offer, timeout=5)
        assert call.transport is Transport.TCP
        assert call.setup is Setup.ACTIVE  # the device connects to our media server
        assert call.ssrc == Ssrc(200000003)
        await env.calls.bye(call)
        returncode, output = await sipp.result()
    assert returncode == 0, output
    assert env.listener.ended == []  # we hung up: nobody is told
    assert env.calls.active_calls == []


async def test_sipp_device_checks_the_playback_control_bodies_byte_for_byte(
    env: CallsEnv, tmp_path: Path
) -> None:
    port = free_port()
    async with sipp_uas("playback_uas.xml", port, tmp_path) as sipp:
        make_known(env.access, port)
        offer = build_playback_offer(
            sender_id="34020000002000000001",
            endpoint=MediaEndpoint("127.0.0.1", 30004),
            ssrc="1200000002",
            channel_id=CHANNEL_ID,
            start=1704067200,  # 2024-01-01 08:00 Beijing (§11.6)
            stop=1704070800,
        )
        call = await env.calls.invite(DEVICE_ID, CHANNEL_ID, offer, timeout=5)
        answers = []
        for number, (action, options) in enumerate(
            [
                (PlaybackAction.PAUSE, {}),
                (PlaybackAction.SEEK, {"offset": 600.0}),
                (PlaybackAction.SPEED, {"scale": 2.0}),
                (PlaybackAction.RESUME, {}),
            ],
            start=1,
        ):
            body = build_mansrtsp_request(control_request(action, number, **options))
            answers.append(await env.calls.info(call, body))
        first, second = (parse_mansrtsp_response(a.body) for a in answers[:2])
        assert (first.status, first.cseq, first.rtp_info) == (200, 1, None)
        assert (second.cseq, second.rtp_info) == (2, "seq=3360;rtptime=1380000")
        assert answers[2].body == b""  # an answer without a MANSRTSP body is accepted
        await env.listener.wait(lambda: env.listener.statuses)
        ((call_id, status),) = env.listener.statuses
        assert call_id == call.call_id and status.is_file_end  # matched by Call-ID
        await env.calls.bye(call)
        returncode, output = await sipp.result()
    assert returncode == 0, output


# -- against farmwatch's own endpoint as the device, for scripted errors ---------------------


async def test_488_is_call_refused(env: CallsEnv) -> None:
    async with device_uas() as device:
        device.answer = lambda invite: build_response(invite, 488, to_tag="t488")
        make_known(env.access, device.port)
        with pytest.raises(CallRefused) as refused:
            await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=5)
        assert refused.value.status == 488
        assert env.calls.active_calls == []


async def test_an_unregistered_device_is_unavailable(env: CallsEnv) -> None:
    with pytest.raises(DeviceUnavailable):
        await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=1)


async def test_no_answer_sends_cancel_and_times_out_within_the_timeout(env: CallsEnv) -> None:
    async with device_uas() as device:
        make_known(env.access, device.port)
        started = time.monotonic()
        with pytest.raises(CallTimeout):
            await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=0.8)
        assert time.monotonic() - started < 1.5
        cancel = await device.wait_for("CANCEL")
        invite = device.of("INVITE")[0]
        assert cancel.top_via.branch == invite.top_via.branch
        assert cancel.cseq.number == invite.cseq.number and cancel.cseq.method == "CANCEL"
        assert cancel.uri == invite.uri
        assert env.calls.active_calls == []


async def test_a_200_crossing_our_cancel_is_acked_then_byed(env: CallsEnv) -> None:
    async with device_uas() as device:
        device.answer_after_cancel = 200
        make_known(env.access, device.port)
        with pytest.raises(CallTimeout):
            await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=0.5)
        ack = await device.wait_for("ACK")
        bye = await device.wait_for("BYE")
        invite = device.of("INVITE")[0]
        assert ack.cseq.number == invite.cseq.number and ack.call_id == invite.call_id
        assert bye.call_id == invite.call_id and bye.cseq.number == invite.cseq.number + 1
        assert bye.to.tag == ack.to.tag


async def test_answer_without_y_keeps_our_ssrc_and_device_passive_tcp_is_parsed(
    env: CallsEnv,
) -> None:
    async with device_uas() as device:
        body = answer_sdp_tcp_passive()
        device.answer = lambda invite: device.ok(invite, body)
        make_known(env.access, device.port)
        offer = live_offer(Transport.TCP, Setup.ACTIVE)
        call = await env.calls.invite(DEVICE_ID, CHANNEL_ID, offer, timeout=5)
        assert call.ssrc == OFFERED and not call.is_ssrc_changed
        assert call.setup is Setup.PASSIVE  # we connect to the device
        assert (call.media_host, call.media_port) == ("127.0.0.2", 15060)
        sent = parse_sdp(device.of("INVITE")[0].body)
        assert sent.video.setup is Setup.ACTIVE and sent.ssrc == "0200000001"
        ack = await device.wait_for("ACK")
        assert ack.uri == f"sip:{CHANNEL_ID}@127.0.0.1:{device.port}"  # the 2xx Contact
        await env.calls.bye(call)


def answer_sdp_tcp_passive() -> bytes:
    invite_like = build_request(
        "INVITE", "sip:x@y", from_="<sip:a@b>", to="<sip:c@d>", call_id="c", cseq=1,
        body=b"m=video 1 TCP/RTP/AVP 96",
    )  # fmt: skip
    return answer_sdp(invite_like, ssrc_line="", extra="a=setup:passive\na=connection:new")


async def established(env: CallsEnv, device: DeviceUas) -> EstablishedCall:
    device.answer = lambda invite: device.ok(invite, answer_sdp(invite))
    make_known(env.access, device.port)
    return await env.calls.invite(DEVICE_ID, CHANNEL_ID, live_offer(), timeout=5)


async def test_info_and_bye_travel_inside_the_dialog(env: CallsEnv) -> None:
    async with device_uas() as device:
        call = await established(env, device)
        invite = device.of("INVITE")[0]
        response = await env.calls.info(call, b"PLAY RTSP/1.0\r\nCSeq: 3\r\nScale: 2.0\r\n")
        assert response.status == 200
        info = device.of("INFO")[0]
        assert info.content_type == "application/mansrtsp"
        assert info.call_id == invite.call_id and info.from_.tag == invite.from_.tag
        assert info.to.tag == "dev-tag-1" and info.cseq.number == invite.cseq.number + 1
        await env.calls.bye(call)
        bye = device.of("BYE")[0]
        assert bye.cseq.number == invite.cseq.number + 2 and bye.to.tag == "dev-tag-1"
        assert not env.calls.is_active(call.call_id)
        await env.calls.bye(call)  # a second hang-up is a no-op
        assert len(device.of("BYE")) == 1


async def test_media_status_in_the_dialog_is_matched_by_call_id(env: CallsEnv) -> None:
    async with device_uas() as device:
        call = await established(env, device)
        invite = device.of("INVITE")[0]
        # Hikvision-style: the From user is not the channel (nor a registered device).
        message = build_request(
            "MESSAGE",
            f"sip:34020000002000000001@127.0.0.1:{env.platform.endpoint.port}",
            from_="<sip:34020000001180000009@3402000000>;tag=dev-tag-1",
            to=invite.headers.get("From") or "",
            call_id=call.call_id,
            cseq=7,
            body=build_media_status(CHANNEL_ID, 301),
            content_type="Application/MANSCDP+xml",
        )
        platform = Address("127.0.0.1", env.platform.endpoint.port)
        response = await device.endpoint.request(message, platform)
        assert response.status == 200
        await env.listener.wait(lambda: env.listener.statuses)
        call_id, status = env.listener.statuses[0]
        assert call_id == call.call_id and status.notify_type == "121"
        assert env.calls.is_active(call.call_id)  # ending it is the owner's decision
        await env.calls.bye(call)


async def test_close_hangs_up_confirmed_calls(env: CallsEnv) -> None:
    async with device_uas() as device:
        call = await established(env, device)
        await env.calls.close()
        bye = await device.wait_for("BYE")
        assert bye.call_id == call.call_id
        assert env.calls.active_calls == []


async def test_keyframe_requests_are_rate_limited_per_channel(env: CallsEnv) -> None:
    async with device_uas() as device:
        make_known(env.access, device.port)
        assert await env.calls.request_keyframe(DEVICE_ID, CHANNEL_ID) is True
        assert await env.calls.request_keyframe(DEVICE_ID, CHANNEL_ID) is False
        other = CHANNEL_ID[:-1] + "2"
        assert await env.calls.request_keyframe(DEVICE_ID, other) is True
        messages = device.of("MESSAGE")
        assert len(messages) == 2
        assert b"<IFameCmd>Send</IFameCmd>" in messages[0].body
        assert messages[0].uri.startswith(f"sip:{CHANNEL_ID}@")
