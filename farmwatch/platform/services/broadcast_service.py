"""Voice broadcast to a camera's loudspeaker (喊话; gb28181.md §4.13; issue 12 item 5).

`BroadcastService.start(channel_id)` sends Notify/Broadcast to the camera's device (SourceID
our platform ID, TargetID the channel), waits for its Response (Result OK: `DeviceTalk`, the
control timeout) and then for the device's audio INVITE (`BroadcastCalls`), at most
`invite_timeout` seconds: a device that answers but never INVITEs is a `DeviceTimeout` (504)
saying so, and nothing is left open. The INVITE opens an `AudioSender` on the device's terms
(raw PCMA or PS, UDP or TCP either way round); the ACK starts its clock. One broadcast per
device at a time (`Conflict`, 409, naming the running session); a lower platform (a device
of type 200) takes one per channel, each its own camera's.

A running broadcast is fed by `send_audio(session, file bytes)` (a WAV or MP3, decoded and
sent once, in real time), `send_tone`, or the operator's microphone (`webrtc_answer`:
WebRTC in, A-law out). `stop` BYEs the device; the device's BYE, its TCP connection
closing, or the microphone's connection ending, ends the session too. Sessions live in
memory (the platform process) like live sessions.

Two-way talk (对讲, `start(channel, mode=TALK)`) is the same session the other way round:
no Notify, the platform INVITEs the channel with `s=Talk` (`TalkInviter`), sends on the
device's terms what the microphone (or a tone or file) gives, and the device's voice comes
back on the same socket to the operator's WebRTC connection (`DeviceVoice`). The device's
BYE (`call_ended`, as a `CallListener`) ends it.

An upper platform's broadcast to one of our channels (the cascade, `UpperBroadcasts`)
starts the same way (`start` with `on_accepted`: told when the device answered OK), then
`open_relay` opens a receiver (`AudioReceiver`: raw PCMA or PS, UDP or TCP where the upper
connects) whose sound is fed to the device's sender: the upper's audio relayed. Every
session's end is told to the `end_listeners` (session ID, why), so the cascade ends the
upper's leg whichever side ended first.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from farmwatch.media.audio_receiver import AudioReceiver
from farmwatch.media.audio_sender import AudioSender, AudioTarget
from farmwatch.media.audio_transcode import (
    UnreadableAudio,
    alaw_to_ulaw,
    decode_file_to_alaw,
    tone_alaw,
)
from farmwatch.media.broadcast_webrtc import MicrophoneReceiver
from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.frames import Codec
from farmwatch.media.g711_packetizer import SAMPLE_RATE, G711Framing
from farmwatch.media.manager import MediaTransport
from farmwatch.media.relay.spec import RelayEndReason
from farmwatch.platform.errors import (
    Conflict,
    DeviceOffline,
    DeviceRefused,
    DeviceTimeout,
    InvalidInput,
    NotFound,
    PlatformError,
)
from farmwatch.platform.services.broadcast_session import (
    BroadcastMode,
    BroadcastSession,
    BroadcastState,
    BroadcastView,
    law_of,
    relay_transport,
)
from farmwatch.platform.services.device_command_service import DeviceTalk
from farmwatch.platform.services.talk_inviter import TalkInviter
from farmwatch.sipserver.broadcast_calls import (
    AudioAnswer,
    AudioCall,
    AudioUnavailable,
    BroadcastCalls,
)
from farmwatch.sipserver.call_types import CallEndReason
from farmwatch.sipserver.device_access import DeviceUnavailable
from farmwatch.sipserver.gb.audio_sdp import AudioFormat
from farmwatch.sipserver.gb.ids import GbId
from farmwatch.sipserver.gb.manscdp import CmdType, ControlResponse, MediaStatus, ResultCode
from farmwatch.sipserver.gb.manscdp_build import build_broadcast_notify
from farmwatch.sipserver.gb.ssrc import Ssrc, SsrcAllocator, SsrcKind

__all__ = ["BroadcastMode", "BroadcastService", "BroadcastState", "BroadcastView"]

log = logging.getLogger(__name__)

MICROPHONE_BACKLOG = SAMPLE_RATE // 2
"""A-law bytes a microphone may run ahead of the clock (0.5 s); older sound is dropped."""
RELAY_BACKLOG = SAMPLE_RATE // 2
"""The same for an upper platform's audio relayed to the device."""
_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class _SenderEnded:
    """The sender's listener for one session: its socket ended by itself."""

    def __init__(self, service: BroadcastService, session: BroadcastSession) -> None:
        self._service = service
        self._session = session

    def audio_sender_ended(self, reason: RelayEndReason) -> None:
        self._service.spawn(self._service.end(self._session, f"audio {reason.value}"))


class BroadcastService:
    def __init__(
        self,
        talk: DeviceTalk,
        calls: BroadcastCalls,
        *,
        platform_id: str,
        media_host: str,
        advertised_host: str = "",
        webrtc_addresses: Sequence[str] = (),
        invite_timeout: float = 10.0,
        inviter: TalkInviter | None = None,
    ) -> None:
        self._talk = talk
        self._inviter = inviter
        self._calls = calls
        self._platform_id = platform_id
        self._media_host = media_host
        self._advertised_host = advertised_host
        self._webrtc_addresses = tuple(webrtc_addresses)
        self.invite_timeout = invite_timeout
        self._ssrc = SsrcAllocator(platform_id)
        self._sessions: dict[str, BroadcastSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.end_listeners: list[Callable[[str, str], None]] = []
        """Told (session ID, why) when a session ends, however it ends."""
        calls.set_listener(self)

    # -- API -------------------------------------------------------------------------------

    def has_session(self, session_id: str) -> bool:
        return session_id in self._sessions

    def view(self, session_id: str) -> BroadcastView:
        return self._session(session_id).view()

    async def start(
        self,
        channel_id: str,
        mode: BroadcastMode = BroadcastMode.BROADCAST,
        transport: str | None = None,
        *,
        on_accepted: Callable[[], None] | None = None,
    ) -> BroadcastView:
        """Broadcast to (or talk with) `channel_id` once the device INVITEd and ACKed (a talk:
        once our INVITE was answered). `transport` (talk only): how the talk's audio travels
        ("udp", "tcp-passive", "tcp-active"), else `[live] transport`. `on_accepted`
        (broadcast): called as soon as the device answered the Notify with Result OK."""
        how = _talk_transport(transport)
        device_id = await self._talk.device_of(channel_id)
        running = next((s for s in self._sessions.values() if _busy(s, device_id, channel_id)),
                       None)  # fmt: skip
        if running is not None:
            # The channel is left out: it may be one the caller does not see.
            raise Conflict(
                f"a voice {running.mode.value} to device {device_id} is running (session "
                f"{running.session_id}): a device takes one at a time"
            )
        if mode is BroadcastMode.TALK and self._inviter is None:
            raise PlatformError("two-way talk is not set up on this platform")
        session = BroadcastSession(secrets.token_urlsafe(12), channel_id, device_id, mode)
        self._sessions[session.session_id] = session
        try:
            if mode is BroadcastMode.TALK:
                await self._open_talk(session, how)
            else:
                await self._establish(session, on_accepted)
        except BaseException:
            await self.end(session, "not established", bye=True)
            raise
        log.info("%s %s to device %s channel %s: %s over %s", mode.value, session.session_id,
                 device_id, channel_id, session.view().audio_format,
                 session.view().transport)  # fmt: skip
        return session.view()

    async def stop(self, session_id: str) -> None:
        await self.end(self._session(session_id), "stopped", bye=True)

    async def send_audio(self, session_id: str, data: bytes) -> float:
        """Decode an audio file and queue it whole; the seconds of sound queued."""
        session = self._active(session_id)
        try:
            alaw = await asyncio.to_thread(decode_file_to_alaw, data)
        except UnreadableAudio as error:
            raise InvalidInput(str(error)) from error
        return self._queue(session, alaw)

    async def send_tone(self, session_id: str, frequency: float, seconds: float) -> float:
        """Queue a sine tone; the seconds queued."""
        session = self._active(session_id)
        return self._queue(session, await asyncio.to_thread(tone_alaw, frequency, seconds))

    def _queue(self, session: BroadcastSession, alaw: bytes) -> float:
        sender = session.sender
        if sender is None or session.state is not BroadcastState.ACTIVE:
            raise NotFound(f"voice broadcast {session.session_id} has ended")
        sender.feed(alaw_to_ulaw(alaw) if law_of(session) is Codec.G711U else alaw)
        seconds = len(alaw) / SAMPLE_RATE
        log.info("broadcast %s to device %s: %.2f s of audio queued", session.session_id,
                 session.device_id, seconds)  # fmt: skip
        return seconds

    async def webrtc_answer(self, session_id: str, offer: str, offer_type: str) -> tuple[str, str]:
        """The operator's microphone: answer its WebRTC offer; what it hears is sent on."""
        session = self._active(session_id)
        if session.microphone is not None:
            raise Conflict(f"voice broadcast {session_id} already has a microphone")
        sender = session.sender
        assert sender is not None
        sender.set_max_backlog(MICROPHONE_BACKLOG)

        def microphone_gone() -> None:
            # The operator's page is gone (closed, crashed, lost its network): nobody talks
            # any more, so the camera is not kept waiting.
            self.spawn(self.end(session, "the microphone left"))

        talk = session.talk
        receiver = MicrophoneReceiver(
            sender.feed, microphone_gone, host_addresses=self._webrtc_addresses,
            name=session_id, voice=talk.voice if talk is not None else None, law=law_of(session),
        )  # fmt: skip
        session.microphone = receiver
        try:
            return await receiver.answer(offer, offer_type)
        except InvalidOffer as error:
            session.microphone = None
            await receiver.close()
            raise InvalidInput(f"WebRTC offer refused: {error}") from error
        except (MediaError, TimeoutError) as error:
            session.microphone = None
            await receiver.close()
            raise PlatformError(f"WebRTC answer failed: {error}") from error

    async def open_relay(self, session_id: str, *, tcp: bool) -> tuple[str, int]:
        """A receiver for an upper platform's audio to the running broadcast `session_id`
        (UDP, or TCP where the upper connects): what it takes goes to the device. The
        address to offer (host, port; an empty host: the one the upper reaches us at)."""
        session = self._active(session_id)
        if session.relay is not None:
            raise Conflict(f"voice broadcast {session_id} already relays an upper's audio")
        sender = session.sender
        assert sender is not None
        sender.set_max_backlog(RELAY_BACKLOG)
        receiver = AudioReceiver(
            sender.feed, label=f"broadcast {session_id} to {session.device_id}"
        )
        session.relay = receiver
        try:
            if tcp:
                port = await receiver.listen_tcp(self._media_host)
            else:
                port = await receiver.open_udp(self._media_host)
        except OSError as error:
            session.relay = None
            receiver.close()
            raise PlatformError(f"no port for the relayed audio: {error}") from error
        host = self._advertised_host or self._media_host
        return ("" if host in _WILDCARDS else host), port

    def relay_from(self, session_id: str, *hosts: str) -> None:
        """Take the relayed audio from these hosts only (the upper's media address and its
        signalling host)."""
        session = self._sessions.get(session_id)
        if session is not None and session.relay is not None:
            session.relay.allow(*hosts)

    def relayed_bytes(self, session_id: str) -> int:
        """A-law bytes the upper's audio brought so far (0 for none or no session)."""
        session = self._sessions.get(session_id)
        relay = session.relay if session is not None else None
        return relay.extractor.alaw_bytes if relay is not None else 0

    async def close(self) -> None:
        await asyncio.gather(
            *(self.end(s, "platform stopping", bye=True) for s in list(self._sessions.values())),
            return_exceptions=True,
        )
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- AudioCallListener ----------------------------------------------------------------

    def audio_call_ended(self, key: str, reason: str) -> None:
        session = self._sessions.get(key)
        if session is not None:
            log.info("broadcast %s ended by device %s: %s", key, session.device_id, reason)
            self.spawn(self.end(session, reason, bye=False))

    # -- CallListener (talk calls; the others are live's and playback's) --------------------

    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        session = next((s for s in self._sessions.values()
                        if s.talk is not None and s.talk.call_id == call_id), None)  # fmt: skip
        if session is not None:
            log.info("talk %s ended by device %s: %s", session.session_id, session.device_id,
                     reason.value)  # fmt: skip
            self.spawn(self.end(session, f"device {reason.value}", bye=False))

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        """No MediaStatus belongs to a talk."""

    # -- the flow --------------------------------------------------------------------------

    async def _open_talk(self, session: BroadcastSession, transport: MediaTransport | None) -> None:
        assert self._inviter is not None
        leg = await self._inviter.open(
            session.device_id, session.channel_id, _SenderEnded(self, session),
            label=f"talk {session.session_id} to {session.device_id}", transport=transport,
        )  # fmt: skip
        if session.is_closing:  # ended while the INVITE ran
            await self._inviter.close(leg, bye=True)
            raise NotFound(f"talk {session.session_id} ended")
        session.talk, session.sender = leg, leg.sender
        session.state = BroadcastState.ACTIVE

    async def _establish(
        self, session: BroadcastSession, on_accepted: Callable[[], None] | None = None
    ) -> None:
        device_id, channel_id = session.device_id, session.channel_id
        try:
            invited = self._calls.expect(session.session_id, device_id, channel_id,
                                         lambda call: self._open_audio(session, call))  # fmt: skip
        except DeviceUnavailable as error:
            raise DeviceOffline(f"device {device_id} is offline") from error
        answer: ControlResponse = await self._talk.ask(
            device_id, channel_id, CmdType.BROADCAST,
            lambda sn, charset: build_broadcast_notify(
                sn, self._platform_id, channel_id, charset=charset
            ),
            "Broadcast",
        )  # fmt: skip
        if answer.result is not ResultCode.OK:
            raise DeviceRefused(
                f"device {device_id} refused the voice broadcast to {channel_id}: "
                f"{answer.result.value if answer.result else 'no Result'}"
                f"{f' ({answer.reason})' if answer.reason else ''}"
            )
        if on_accepted is not None:
            on_accepted()
        try:
            async with asyncio.timeout(self.invite_timeout):
                call = await invited
        except TimeoutError:
            raise DeviceTimeout(
                f"device {device_id} took the voice broadcast to {channel_id} but did not "
                f"INVITE the platform for the audio within {self.invite_timeout:g} s"
            ) from None
        except asyncio.CancelledError:
            if session.is_closing:
                raise NotFound(f"voice broadcast {session.session_id} ended") from None
            raise
        session.call = call
        sender = session.sender
        assert sender is not None
        session.state = BroadcastState.ACTIVE
        sender.start()

    async def _open_audio(self, session: BroadcastSession, call: AudioCall) -> AudioAnswer:
        """The device's INVITE came: open our sending side on its terms."""
        if session.is_closing:
            raise AudioUnavailable(f"broadcast {session.session_id} has ended")
        audio = call.audio
        # The device's y= is the SSRC it expects (gb28181.md §6.3); without one, ours.
        given = Ssrc.from_sdp(call.offer.ssrc)
        if given is None:
            session.ssrc = given = self._ssrc.allocate(SsrcKind.LIVE)
        ssrc, text = given.value, given.text
        target = AudioTarget(
            host=audio.host,
            port=audio.port,
            transport=relay_transport(audio.transport, audio.we_listen),
            ssrc=ssrc,
            framing=G711Framing.PS if audio.audio_format is AudioFormat.PS else G711Framing.PCMA,
            payload_type=audio.payload_type,
        )
        sender = AudioSender(
            target, local_host=self._media_host, listener=_SenderEnded(self, session),
            label=f"broadcast {session.session_id} to {session.device_id}",
        )  # fmt: skip
        if session.sender is not None:
            await session.sender.close()  # a second INVITE replaces the first's socket
        session.sender = sender
        port = await sender.open()
        if session.is_closing:  # ended while the socket opened: `end` may have missed it
            await sender.close()
            raise AudioUnavailable(f"broadcast {session.session_id} has ended")
        host = self._advertised_host or self._media_host
        return AudioAnswer("" if host in _WILDCARDS else host, port, text)

    async def end(self, session: BroadcastSession, why: str, *, bye: bool = True) -> None:
        if session.is_closing:
            return
        session.is_closing = True
        session.state = BroadcastState.ENDED
        self._sessions.pop(session.session_id, None)
        self._calls.forget(session.session_id)
        if session.microphone is not None:
            await session.microphone.close()
        if session.talk is not None:
            assert self._inviter is not None
            await self._inviter.close(session.talk, bye=bye)
        if session.relay is not None:
            session.relay.close()
        if session.sender is not None:
            await session.sender.close()
        if bye and session.call is not None:
            await self._calls.bye(session.call.call_id)
        if session.ssrc is not None:
            self._ssrc.release(session.ssrc)
        log.info("%s %s to device %s ended (%s)", session.mode.value, session.session_id,
                 session.device_id, why)  # fmt: skip
        for listener in self.end_listeners:
            try:
                listener(session.session_id, why)
            except Exception:
                # Isolation boundary: a listener's bug must not keep the session half-ended.
                log.exception("broadcast %s: end listener failed", session.session_id)

    # -- helpers ---------------------------------------------------------------------------

    def _session(self, session_id: str) -> BroadcastSession:
        session = self._sessions.get(session_id)
        if session is None:
            raise NotFound(f"no voice broadcast {session_id}")
        return session

    def _active(self, session_id: str) -> BroadcastSession:
        session = self._session(session_id)
        if session.state is not BroadcastState.ACTIVE or session.sender is None:
            raise Conflict(f"voice broadcast {session_id} is not running yet")
        return session

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _talk_transport(name: str | None) -> MediaTransport | None:
    try:
        return None if name is None else MediaTransport(name)
    except ValueError:
        choices = ", ".join(t.value for t in MediaTransport)
        raise InvalidInput(f"transport: expected one of {choices}, got {name!r}") from None


def _busy(session: BroadcastSession, device_id: str, channel_id: str) -> bool:
    """Whether `session` keeps a broadcast to `channel_id` of `device_id` from starting: a
    device takes one at a time; a lower platform (type 200) one per channel, each its own
    camera's (it keeps the one-per-device rule for its devices itself)."""
    if session.device_id != device_id:
        return False
    gb_id = GbId.try_parse(device_id)
    return gb_id is None or not gb_id.is_platform or session.channel_id == channel_id
