"""What a simulated device streams when invited, and how it misbehaves (gb28181.md §6.5, §8.1).

Owns `StreamSettings`, the `media` part of a simulated device's settings: the picture
(codec, size, frame rate, bitrate; one cached loop per channel and spec) and its smaller
sub-stream (`sub_width`x`sub_height` at `sub_bitrate`, streamed when the offer asks for a
stream other than the main one: gb28181.md §6.2; `stream_style` makes the device understand
only one vendor's way of asking, as field devices do), the sending
(`max_payload` per RTP packet, the TCP connect retries of GB/T 28181-2022: at least 3
attempts at least 1 s apart, the wait for the platform to connect when the device listens,
the wait for the ACK), and the misbehaviour a test can ask for: packet `loss`, `reorder`,
`wrong_ssrc` (answer and send an SSRC other than the offered one, §6.3 note 4b),
`stop_after` (stop sending but keep the call), `restart_timestamps` (start the
timestamps again at 0 every N seconds, as a device looping a recorded file does), and over
TCP `refuse_media_connection` (the platform's connection is refused) and
`answer_setup_active` (connect whatever the offer said). Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.simulator.test_pattern import PictureMode, TestPatternSpec, VideoCodec
from farmwatch.sipserver.sip.sdp import StreamStyle

__all__ = ["StreamSettings"]

_PROBE_CHANNEL = "00000000000000000000"


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """One device's media behaviour; times in seconds, `bitrate` in bit/s."""

    codec: VideoCodec = VideoCodec.H264
    width: int = 640
    height: int = 360
    fps: int = 25
    bitrate: int = 1_000_000
    sub_width: int = 320
    sub_height: int = 180
    sub_bitrate: int = 300_000
    """The sub-stream (1 and above): what a live offer asking for it gets."""
    stream_style: StreamStyle | None = None
    """The only stream selection line the device understands (a Dahua NVR: streamprofile);
    an offer asking in another is not understood, and gets the main stream with no line in
    the answer. None: any of the four."""
    gop: int | None = None
    """Frames per GOP; default one key frame per second (`fps`)."""
    loop_seconds: int = 4
    picture: PictureMode = PictureMode.NORMAL
    """What every channel shows until a test switches one (`CallHandler.set_picture`)."""
    loss: float = 0.0
    """Fraction of RTP packets dropped (seeded by the device's seed)."""
    reorder: float = 0.0
    """Fraction of RTP packets swapped with the packet after them."""
    wrong_ssrc: bool = False
    """Ignore the offered `y=`: answer and send an SSRC of the device's own choosing."""
    stop_after: float | None = None
    """Stop sending this long after the first frame, keeping the call up."""
    restart_timestamps: float | None = None
    """Start the timestamps again at 0 every this many seconds (a device looping a file)."""
    refuse_media_connection: bool = False
    """Offer `a=setup:active` (the platform connects): answer a port nothing listens on."""
    answer_setup_active: bool = False
    """Answer `a=setup:active` and connect, even to an offer `a=setup:active` (RFC 4145
    §4.1 forbids it; some devices do it)."""
    seed: int | None = None
    """Seeds each stream's loss/reorder decisions (the same pattern every call); None: random."""
    max_payload: int = 1400
    connect_attempts: int = 3
    connect_interval: float = 1.0
    """Between TCP connect attempts when the device connects (offer `a=setup:passive`)."""
    accept_timeout: float = 10.0
    """How long a listening device (offer `a=setup:active`) waits for the platform."""
    ack_wait: float = 1.0
    """Start streaming this long after the 200 OK when no ACK came (some devices do)."""
    write_timeout: float = 5.0
    """A TCP peer that reads nothing for this long is dropped."""

    def __post_init__(self) -> None:
        for name, value in (("loss", self.loss), ("reorder", self.reorder)):
            if not 0.0 <= value < 1.0:
                raise ValueError(f"media.{name}: expected 0 <= {name} < 1, got {value}")
        if self.stop_after is not None and self.stop_after < 0:
            raise ValueError(f"media.stop_after: expected >= 0, got {self.stop_after}")
        if self.restart_timestamps is not None and not self.restart_timestamps > 0:
            raise ValueError(
                f"media.restart_timestamps: expected > 0, got {self.restart_timestamps}"
            )
        if not 1 <= self.max_payload <= 65_000:
            raise ValueError(f"media.max_payload: expected 1..65000, got {self.max_payload}")
        if self.connect_attempts < 1:
            raise ValueError(f"media.connect_attempts: expected >= 1, got {self.connect_attempts}")
        for name, value in (
            ("connect_interval", self.connect_interval),
            ("accept_timeout", self.accept_timeout),
            ("ack_wait", self.ack_wait),
            ("write_timeout", self.write_timeout),
        ):
            if not value > 0:
                raise ValueError(f"media.{name}: expected > 0, got {value}")
        self.spec_for(_PROBE_CHANNEL)  # checks codec, size, fps, bitrate, gop, loop length
        self.spec_for(_PROBE_CHANNEL, 1)

    def spec_for(
        self, channel_id: str, stream: int = 0, picture: PictureMode | None = None
    ) -> TestPatternSpec:
        """The test-pattern spec of `channel_id`'s stream `stream` (0 main, else the sub
        stream) showing `picture` (default `self.picture`); equal specs share one loop."""
        main = stream == 0
        return TestPatternSpec(
            channel_id=channel_id,
            codec=self.codec,
            width=self.width if main else self.sub_width,
            height=self.height if main else self.sub_height,
            fps=self.fps,
            bitrate=self.bitrate if main else self.sub_bitrate,
            gop=self.gop if self.gop is not None else self.fps,
            loop_seconds=self.loop_seconds,
            picture=self.picture if picture is None else picture,
        )

    @property
    def media_format(self) -> str:
        """The answer's `f=` line (§6.4): video codec, resolution code, fps, CBR, kbit/s."""
        return self.media_format_for(0)

    def media_format_for(self, stream: int) -> str:
        """The `f=` line of stream `stream` (0 main, else the sub stream)."""
        spec = self.spec_for(_PROBE_CHANNEL, stream)
        codec = 2 if self.codec is VideoCodec.H264 else 5
        resolution = next((code for top, code in _RESOLUTION_CODES if spec.height <= top), 6)
        return f"v/{codec}/{resolution}/{self.fps}/1/{spec.bitrate // 1000}a///"


_RESOLUTION_CODES = ((144, 1), (288, 2), (576, 4), (720, 5))
"""(maximum height, GB/T 28181 resolution code): QCIF, CIF, D1, 720P; above that 1080P (6)."""
