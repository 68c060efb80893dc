"""One voice broadcast or two-way talk session as the platform keeps it, and its view
(gb28181.md §4.13; issue 12 item 5).

Owns the session's state (`BroadcastState`), its mode (`BroadcastMode`: 喊话 one way, 对讲
both ways) and what each kind holds — the device's audio INVITE and our sender for a
broadcast, the `TalkLeg` for a talk, the operator's microphone for either — and the
read-only `BroadcastView` the web layer renders. `BroadcastService` drives it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.media.audio_receiver import AudioReceiver
from farmwatch.media.audio_sender import AudioSender
from farmwatch.media.broadcast_webrtc import MicrophoneReceiver
from farmwatch.media.frames import Codec
from farmwatch.media.g711_packetizer import SAMPLE_RATE
from farmwatch.media.relay.spec import RelayTransport
from farmwatch.platform.services.talk_inviter import TalkLeg
from farmwatch.sipserver.broadcast_calls import AudioCall
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.address import Transport

__all__ = [
    "BroadcastMode",
    "BroadcastSession",
    "BroadcastState",
    "BroadcastView",
    "law_of",
    "relay_transport",
]


class BroadcastMode(enum.StrEnum):
    BROADCAST = "broadcast"
    """喊话: the operator speaks, the camera's loudspeaker plays it (Notify/Broadcast)."""
    TALK = "talk"
    """对讲: both ways, the platform's `s=Talk` INVITE."""


class BroadcastState(enum.StrEnum):
    WAITING = "waiting"
    """Notify sent: waiting for the device's Response and audio INVITE."""
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class BroadcastView:
    session_id: str
    channel_id: str
    device_id: str
    state: BroadcastState
    audio_format: str | None
    transport: str | None
    frames_sent: int
    bytes_sent: int
    microphone: bool
    mode: BroadcastMode = BroadcastMode.BROADCAST
    frames_received: int = 0
    """Talk: G.711 frames (packets or PS frames) of the device's voice received."""
    bytes_received: int = 0
    frames_played: int = 0
    """Talk: audio frames handed to the operator's WebRTC connection."""

    @property
    def seconds_sent(self) -> float:
        return self.bytes_sent / SAMPLE_RATE

    @property
    def seconds_received(self) -> float:
        return self.bytes_received / SAMPLE_RATE


class BroadcastSession:
    def __init__(
        self, session_id: str, channel_id: str, device_id: str, mode: BroadcastMode
    ) -> None:
        self.session_id = session_id
        self.mode = mode
        self.talk: TalkLeg | None = None
        self.channel_id = channel_id
        self.device_id = device_id
        self.state = BroadcastState.WAITING
        self.call: AudioCall | None = None
        self.sender: AudioSender | None = None
        self.microphone: MicrophoneReceiver | None = None
        self.relay: AudioReceiver | None = None
        """An upper platform's broadcast: the receiver of its audio, relayed to `sender`."""
        self.ssrc: Ssrc | None = None
        self.is_closing = False

    def view(self) -> BroadcastView:
        if self.talk is not None:
            return self._talk_view(self.talk)
        sender, call = self.sender, self.call
        audio = call.audio if call is not None else None
        return BroadcastView(
            self.session_id, self.channel_id, self.device_id, self.state,
            audio.audio_format.value if audio is not None else None,
            _transport_name(audio.transport, audio.we_listen) if audio is not None else None,
            sender.frames_sent if sender is not None else 0,
            sender.bytes_sent if sender is not None else 0,
            self.microphone is not None,
        )  # fmt: skip

    def _talk_view(self, talk: TalkLeg) -> BroadcastView:
        stats, track = talk.reader.stats, self.microphone.voice_track if self.microphone else None
        return BroadcastView(
            self.session_id, self.channel_id, self.device_id, self.state, talk.media.codec.value,
            talk.transport.value, talk.sender.frames_sent, talk.sender.bytes_sent,
            self.microphone is not None, self.mode, stats.chunks, stats.g711_bytes,
            track.frames_sent if track is not None else 0,
        )  # fmt: skip


def law_of(session: BroadcastSession) -> Codec:
    return session.talk.law if session.talk is not None else Codec.G711A


def relay_transport(transport: Transport, we_listen: bool) -> RelayTransport:
    if transport is Transport.UDP:
        return RelayTransport.UDP
    return RelayTransport.TCP_LISTEN if we_listen else RelayTransport.TCP_CONNECT


def _transport_name(transport: Transport, we_listen: bool) -> str:
    return relay_transport(transport, we_listen).value
