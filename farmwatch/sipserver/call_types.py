"""Values of the calls API (gb28181.md §6.3, §6.6, §6.7; STYLE B7): what `Calls` returns,
raises and reports, and the small pure helpers the platform uses around it.

`EstablishedCall` is a confirmed call as the platform sees it: the dialog id, our offer and
the device's answer, with the SSRC to expect (the answer's `y=` wins, §6.3 / §10 item 4),
the media transport and the answer's TCP `a=setup` role. `build_subject` writes the Subject
header (§6.7), `build_live_offer` the `s=Play` offer (§6.2), `KeyframeLimiter` keeps
IFameCmd at most one per channel per interval. Pure: no I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from farmwatch.sipserver.dialog import DialogId
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp import MediaStatus
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.sip.address import Transport
from farmwatch.sipserver.sip.sdp import SessionDescription, Setup
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, StreamSelection, build_play_offer


class CallError(SipError):
    """Base of what `Calls` raises besides `DeviceUnavailable` and the endpoint's errors."""


class CallRefused(CallError):
    """The device answered the INVITE with 4xx/5xx/6xx (488 SDP not acceptable, 486 busy)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"INVITE refused: {status} {reason}")
        self.status = status
        self.reason = reason


class CallTimeout(CallError):
    """No final answer in time; the INVITE has been CANCELled."""

    def __init__(self, device_id: str, channel_id: str, timeout: float) -> None:
        super().__init__(f"{channel_id} on {device_id} did not answer within {timeout:g} s")
        self.device_id = device_id
        self.channel_id = channel_id
        self.timeout = timeout


class InvalidAnswer(CallError):
    """The device accepted, but its 2xx is unusable (no SDP, no To tag); it was BYEd."""


class CallNotFound(CallError):
    """The call has ended (or never existed)."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no active call {call_id}")
        self.call_id = call_id


class CallListener(Protocol):
    def call_ended(self, call_id: str, reason: CallEndReason) -> None:
        """The device ended a confirmed call; called on the loop, must return quickly."""
        ...

    def media_status(self, call_id: str, status: MediaStatus) -> None:
        """MediaStatus (121 = end of file) inside the call's dialog; the call stays up."""
        ...


@dataclass(frozen=True, slots=True)
class CallSettings:
    """Times in seconds."""

    invite_timeout: float = 15.0
    """Default wait for the final answer to an INVITE, then CANCEL."""
    request_timeout: float = 8.0
    """Bound on BYE, INFO and IFameCmd transactions."""
    keyframe_interval: float = 2.0
    """At most one IFameCmd per channel in this interval."""
    linger: float = 32.0
    """How long an ended call still ACKs retransmitted 2xx (64*T1)."""
    max_lingering: int = 4096


class CallEndReason(StrEnum):
    """Why a confirmed call ended without the owner asking for it."""

    REMOTE_BYE = "remote_bye"
    """The device sent BYE (channel offline, end of file...)."""
    DIALOG_LOST = "dialog_lost"
    """A request inside the dialog got 481/408 or no answer: the device forgot it."""


@dataclass(frozen=True, slots=True)
class EstablishedCall:
    """A confirmed call: what the platform needs to receive the stream (§6.6)."""

    device_id: str
    channel_id: str
    dialog_id: DialogId
    subject: str
    offer: SessionDescription | None
    """What we offered (None when the caller passed bytes we could not parse)."""
    answer: SessionDescription

    @property
    def call_id(self) -> str:
        return self.dialog_id.call_id

    @property
    def offered_ssrc(self) -> Ssrc | None:
        return Ssrc.from_sdp(self.offer.ssrc) if self.offer is not None else None

    @property
    def ssrc(self) -> Ssrc | None:
        """The SSRC the stream will carry: the answer's `y=`, else ours (§6.3, §10 item 4)."""
        answered = Ssrc.from_sdp(self.answer.ssrc)
        return answered if answered is not None else self.offered_ssrc

    @property
    def is_ssrc_changed(self) -> bool:
        """The device chose another SSRC than we offered: re-key the media session."""
        answered = Ssrc.from_sdp(self.answer.ssrc)
        return answered is not None and answered != self.offered_ssrc

    @property
    def transport(self) -> Transport:
        """UDP or TCP media, from the answer's `m=` line."""
        return self.answer.video.transport

    @property
    def setup(self) -> Setup | None:
        """The answer's `a=setup` (ACTIVE: the device connects to us; PASSIVE: we connect)."""
        return self.answer.video.setup

    @property
    def media_host(self) -> str:
        """The answer's `c=` address (where to connect for TCP with the device passive)."""
        return self.answer.media_address

    @property
    def media_port(self) -> int:
        return self.answer.video.port

    @property
    def payload_type(self) -> int | None:
        """The first payload type of the answer's `m=` line (96 = PS normally)."""
        types = self.answer.video.payload_types
        return types[0] if types else None


def build_subject(channel_id: str, ssrc: Ssrc | str, receiver_id: str) -> str:
    """`Subject: <channel>:<SSRC>,<receiver>:0` (gb28181.md §6.7)."""
    text = ssrc.text if isinstance(ssrc, Ssrc) else ssrc
    return f"{channel_id}:{text},{receiver_id}:0"


def build_live_offer(
    *,
    platform_id: str,
    media: MediaEndpoint,
    ssrc: Ssrc,
    stream: StreamSelection | None = None,
) -> SessionDescription:
    """The `s=Play` offer: receive at `media` (UDP, or TCP with its setup role), `y=ssrc`."""
    return build_play_offer(sender_id=platform_id, endpoint=media, ssrc=ssrc.text, stream=stream)


class KeyframeLimiter:
    """Allows one IFameCmd per channel every `interval` seconds (STYLE B7); bounded."""

    def __init__(self, interval: float = 2.0, max_channels: int = 10_000) -> None:
        self._interval = interval
        self._max = max_channels
        self._last: dict[tuple[str, str], float] = {}

    def allow(self, device_id: str, channel_id: str, now: float) -> bool:
        """True (and remembered) when the channel's last key frame request is old enough."""
        key = (device_id, channel_id)
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            return False
        if len(self._last) >= self._max:
            self._last = {k: t for k, t in self._last.items() if now - t < self._interval}
        if len(self._last) < self._max:
            self._last[key] = now
        return True
