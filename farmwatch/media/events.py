"""What an RTP receiver reports upward (STYLE B3 listeners, aioquic-style event dataclasses).

Owns the typed receiver events and the `ReceiverListener` Protocol a receiver reports to (the
`Stream` of the channel, which passes them on): media started (first video keyframe, with its
codec and size), no media within the start timeout, media stopped, the TCP-active connection
to the device failed, the TCP peer closed, and, for a stream fed from recorded files
(`recording_feed.py`), the recording's end. A receiver never raises these; it calls
`receiver_event`. Frames go to `receiver_frame`; while relays re-send the stream, each frame's
PS bytes as received go to `receiver_ps_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import VideoSize
from farmwatch.media.ps_frame import PsFrame

__all__ = [
    "Address",
    "MediaConnectFailed",
    "MediaStartTimedOut",
    "MediaStarted",
    "MediaStopped",
    "PeerClosed",
    "ReceiverEvent",
    "RecordingEnded",
    "ReceiverListener",
    "VideoInterrupted",
]

Address = tuple[str, int]
"""(host, port) of a media peer."""


@dataclass(frozen=True, slots=True)
class MediaStarted:
    """The first video keyframe came out of the demuxer."""

    codec: Codec
    size: VideoSize | None
    """From the keyframe's SPS; None when it carried none or it did not parse."""
    ssrc: int
    """The SSRC the receiver locked onto."""
    source: Address | None
    """Where the media comes from (UDP source or TCP peer)."""


@dataclass(frozen=True, slots=True)
class MediaStartTimedOut:
    """No video keyframe within `start_timeout` of opening the receiver."""

    timeout: float
    packets_received: int
    """RTP packets accepted before the timeout: 0 means nothing (or only foreign SSRCs) came."""
    packets_rejected: int
    """Packets dropped for a foreign SSRC or source: > 0 hints at an SSRC mismatch (§10 item 4)."""


@dataclass(frozen=True, slots=True)
class MediaStopped:
    """Media had started, then no packet came for `media_timeout` seconds."""

    silent_for: float


@dataclass(frozen=True, slots=True)
class VideoInterrupted:
    """Packets were lost after media started: the frame that lost them went on damaged, and
    pictures show the decoder's concealment until the next keyframe.

    The stream asks the camera for one (GB/T 28181 `IFameCmd`) rather than leaving viewers
    with artefacts until the camera's next scheduled keyframe.
    """

    packets_lost: int


@dataclass(frozen=True, slots=True)
class MediaConnectFailed:
    """TCP active: every attempt to connect to the device's answered media address failed."""

    address: Address
    """The answer's `c=`/`m=`."""
    attempts: int
    is_refused: bool
    """The last attempt was refused: nothing listens there (the device did not open it)."""
    error: str
    """The last attempt's error, for the log."""


@dataclass(frozen=True, slots=True)
class PeerClosed:
    """The device's TCP media connection closed or broke its framing, or never came up."""

    reason: str


@dataclass(frozen=True, slots=True)
class RecordingEnded:
    """A stream fed from recorded files played their last frame (the device's MediaStatus
    121 of a platform recording)."""

    frames: int
    """Frames the recording fed the stream, over every position it was played from."""


ReceiverEvent = (
    MediaStarted
    | MediaStartTimedOut
    | MediaStopped
    | VideoInterrupted
    | MediaConnectFailed
    | PeerClosed
    | RecordingEnded
)


class ReceiverListener(Protocol):
    """Where a receiver delivers; called on the event loop, must not block."""

    def receiver_frame(self, frame: EsFrame) -> None: ...

    def receiver_ps_frame(self, frame: PsFrame) -> None:
        """A frame's PS bytes as received (only while relayed: `Receiver.set_relayed`)."""
        ...

    def receiver_event(self, event: ReceiverEvent) -> None: ...
