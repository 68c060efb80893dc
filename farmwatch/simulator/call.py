"""One call of a simulated device: its dialog key, its state and its snapshot (gb28181.md §6).

Owns `DeviceCall`, what the `CallHandler` keeps per call (the INVITE, our side of the dialog,
the `MediaSender`, for a playback or download the `RecordPlayer` and the offer, the dialog's
CSeq count), `CallKey` (RFC 3261 §12 dialog ID from the device's side) and `CallInfo`, the
snapshot tests read (`playback` says where a playback is); and the offer checks shared by
the handler (`offers_ps`, `ps_payload_type`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from farmwatch.simulator.media_sender import MediaRoute, MediaSender, SenderRole, SenderState
from farmwatch.simulator.playback_control import PlaybackInfo, playback_speed
from farmwatch.simulator.record_player import RecordPlayer
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.sdp import SessionDescription, SessionName

__all__ = ["CallInfo", "CallKey", "DeviceCall", "key_of", "offers_ps", "ps_payload_type"]


@dataclass(frozen=True, slots=True)
class CallKey:
    """The dialog of one call (RFC 3261 §12), from the device's side."""

    call_id: str
    local_tag: str
    remote_tag: str


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A snapshot of one call for tests and logs."""

    channel_id: str
    call_id: str
    ssrc: int
    role: SenderRole
    state: SenderState
    is_acknowledged: bool
    packets_sent: int
    connect_failures: int
    route: MediaRoute
    """Where the media goes (the offer's address), e.g. for an external sender."""
    session: SessionName = SessionName.PLAY
    playback: PlaybackInfo | None = None
    """Where a playback or download is (None for live video)."""
    stream: int = 0
    """The stream the offer asked for (0 main, 1+ the smaller sub stream) and streamed."""
    stream_attribute: str | None = None
    """The offer's stream selection line as the device understood it (`streamprofile:1`),
    None without one it understands."""
    offered_stream: str | None = None
    """The offer's stream selection line as sent, understood or not."""


@dataclass(slots=True)
class DeviceCall:
    """One call as the device keeps it (its media sender, and its player for a playback)."""

    key: CallKey
    channel_id: str
    invite: SipRequest
    source: Address
    local_party: str
    """Our To header value in the 200 (with our tag): the From of our BYE."""
    subject: str | None
    sender: MediaSender
    session: SessionName = SessionName.PLAY
    player: RecordPlayer | None = None
    offer: SessionDescription | None = None
    is_acknowledged: bool = False
    ack_timer: asyncio.TimerHandle | None = field(default=None)
    local_cseq: int = 0
    """CSeq of the device's last request in the dialog (MESSAGE, BYE)."""
    media_status_sent: int = 0
    stream: int = 0
    stream_attribute: str | None = None
    offered_stream: str | None = None

    def info(self) -> CallInfo:
        sender = self.sender
        playback = None
        if self.player is not None and self.offer is not None:
            offer = self.offer
            playback = PlaybackInfo.of(self.player, offer.start_time, offer.stop_time,
                                       playback_speed(offer), self.media_status_sent)  # fmt: skip
        return CallInfo(self.channel_id, self.key.call_id, sender.ssrc, sender.route.role,
                        sender.state, self.is_acknowledged, sender.packets_sent,
                        sender.connect_failures, sender.route, self.session,
                        playback, self.stream, self.stream_attribute,
                        self.offered_stream)  # fmt: skip


def key_of(request: SipRequest) -> CallKey:
    """The key of the call an in-dialog request belongs to (our tag is in its To)."""
    return CallKey(request.call_id, request.to.tag or "", request.from_.tag or "")


def offers_ps(offer: SessionDescription) -> bool:
    return any(m.encoding.upper() == "PS" for m in offer.video.rtpmaps) or (
        not offer.video.rtpmaps and 96 in offer.video.payload_types
    )


def ps_payload_type(offer: SessionDescription) -> int:
    ps = next((m for m in offer.video.rtpmaps if m.encoding.upper() == "PS"), None)
    return ps.payload_type if ps is not None else 96
