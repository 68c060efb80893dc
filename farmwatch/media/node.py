"""A media node: what the platform asks of one media process, in the process or out of it.

Media is the heavy part of a platform (DESIGN.md "Scale beyond one machine"): it runs in
worker processes, one per core, each owning a share of the RTP port range and the streams
on it, with their viewers (WebRTC, fMP4, HLS, snapshots). The platform talks to each
through `MediaNode`, the same API whether the node is `LocalMediaNode` in its own process
(the embedded single-process mode) or `RemoteMediaNode` over the worker's control channel;
`MediaCluster` places each new stream on the least-loaded node and routes by stream key.
What a node tells the platform comes back through `NodeListener`.

A playback or download of recorded video is a stream like a live one, under its own key: after
sending MANSRTSP PAUSE/PLAY/Scale to the device the platform tells its node (`set_paused`,
`set_scale`), and reads how far the recording has come (`stream_progress`). A playback of the
platform's own recording is such a stream fed from its segment files by the node itself
(`open_recorded_stream`, `seek_recorded_stream`); it ends by itself at the recording's end
(`CloseReason.END_OF_RECORDING`).

Files written from a stream stay on the node that holds it: platform recording
(`start_recording`: segment files, each reported when closed through
`NodeListener.segment_closed`; `recording_keys` is what records now) and downloads into one
MP4 file (`start_download`, `finish_download`, `abort_download`).

A stream is relayed to an upper platform as PS over RTP (the cascade's media path) by relays
keyed by an ID the platform gives (`open_relay` before its 200 OK, with the port for its SDP;
`start_relay` after the ACK; `close_relay`); several may hang off one stream beside its
viewers, each independent. A relay keeps no stream open by itself (the platform holds the
stream as for a viewer), but the stream does not idle-close under it. A relay that ends by
itself (the upper gone, the stream ended) is reported through `NodeListener.relay_closed`.

Everything here crosses a process boundary, so the values are plain: strings, numbers,
frozen dataclasses of them; no `Stream` or sink object ever leaves its node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from farmwatch.media.manager import IngestTotals, MediaTransport
from farmwatch.media.relay.spec import (
    RelayEndReason,
    RelayInfo,
    RelaySpec,
    RelayState,
    RelayStats,
    RelayTransport,
)
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.stream_progress import StreamProgress

if TYPE_CHECKING:
    from farmwatch.media.sinks.segment_recorder import RecordedSegment

__all__ = [
    "DownloadResult",
    "LiveInfo",
    "MediaNode",
    "NodeListener",
    "NodeStats",
    "RecordingSpec",
    "RelayEndReason",
    "RelayInfo",
    "RelaySpec",
    "RelayState",
    "RelayStats",
    "RelayTransport",
    "StreamPlacement",
    "StreamProgress",
    "WebRtcAnswer",
]


@dataclass(frozen=True, slots=True)
class StreamPlacement:
    """Where the device must send a stream's media (for the SDP offer)."""

    stream_key: str
    node: str
    host: str
    """`advertised_host`, else `host` of the node's media settings (maybe a wildcard)."""
    port: int
    is_new: bool
    """False when the stream was running already (send no second INVITE)."""


@dataclass(frozen=True, slots=True)
class LiveInfo:
    """What the first video keyframe told: codec and picture size."""

    codec: str | None
    width: int | None
    height: int | None


@dataclass(frozen=True, slots=True)
class RecordingSpec:
    """How a node records a stream into segment files (`SegmentRecorder`)."""

    directory: str
    """The channel's folder: `{directory}/{YYYY-MM-DD}/{HHMMSS}-{HHMMSS}.ps` (and `.idx`)."""
    zone: str
    """IANA zone name of the file names and segment times (the configured one)."""
    segment_seconds: float
    """A segment ends at the first key frame this long after its start (and at midnight)."""


@dataclass(frozen=True, slots=True)
class DownloadResult:
    """A finished download file."""

    path: str
    duration_seconds: float
    """Media time of its frames."""
    frame_count: int
    byte_count: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class WebRtcAnswer:
    sdp: str
    type: str


@dataclass(frozen=True, slots=True)
class NodeStats:
    """A node's load and counters, for placement and `/metrics`."""

    node: str
    pid: int
    streams: int
    outputs: int
    """Viewers' outputs open now (WebRTC, fMP4, HLS)."""
    ports_in_use: int
    ports_capacity: int
    ingest: IngestTotals
    cpu_seconds: float
    """CPU time of the node's process so far (0 for the in-process node: the process's own
    CPU is counted by the process collector)."""
    rss_bytes: int
    relays: int = 0
    """Relays to upper platforms open now."""


class NodeListener(Protocol):
    """The platform side of a node (injected); called on the event loop, must not block
    for long."""

    async def stream_closed(self, stream_key: str, reason: CloseReason) -> None:
        """The stream closed by itself (idle, media stopped, start timeout, node lost)."""
        ...

    def keyframe_needed(self, stream_key: str) -> None:
        """A viewer needs a keyframe: ask the device (IFameCmd), rate-limited already."""
        ...

    def output_closed(self, output_id: str) -> None:
        """A viewer's output closed by itself (peer gone, stream ended)."""
        ...

    def segment_closed(self, stream_key: str, segment: RecordedSegment) -> None:
        """A recorder closed a segment file (at its length, midnight, a new resolution, the
        recording's stop or the stream's end). Its path is the node's: shared storage."""
        ...

    def relay_closed(self, relay_id: str, reason: str) -> None:
        """A relay ended by itself; `reason` is a `RelayEndReason` value: "peer-closed",
        "peer-unreachable", "rtcp-timeout", "stream-ended", "connect-timeout",
        "connect-failed", "node-lost", "failed". BYE the upper's dialog."""
        ...


class MediaNode(Protocol):
    """One media process's streams and outputs; every method may raise `MediaError`
    (`StreamClosedError` with its cause when a stream never went live or has ended)."""

    @property
    def name(self) -> str: ...

    async def open_stream(
        self,
        stream_key: str,
        transport: MediaTransport,
        expected_ssrc: int | None,
        allowed_hosts: Collection[str] | None,
    ) -> StreamPlacement: ...

    async def expect_ssrc(self, stream_key: str, ssrc: int) -> None: ...

    async def allow_source(self, stream_key: str, host: str) -> None: ...

    async def connect_active(self, stream_key: str, host: str, port: int) -> None: ...

    async def listen_active(self, stream_key: str) -> None: ...

    async def wait_live(self, stream_key: str) -> LiveInfo: ...

    async def close_stream(self, stream_key: str, reason: CloseReason) -> None: ...

    async def set_scale(self, stream_key: str, scale: float) -> None:
        """Playback speed after a MANSRTSP Scale: from the next frame on, the timestamps every
        output gets advance by the source's step / |scale| (negative: reverse, still rising),
        continuous at the change; audio is dropped while the scale is not 1. Raises
        `MediaError` for a scale outside 1/64 ≤ |scale| ≤ 64."""
        ...

    async def set_paused(self, stream_key: str, paused: bool) -> None:
        """After a MANSRTSP PAUSE (True) or PLAY (False): while paused the stream's media and
        idle timeouts wait, however long; resuming re-arms them from then."""
        ...

    async def stream_progress(self, stream_key: str) -> StreamProgress:
        """Frames, source timestamps (unwrapped 90 kHz) and silence of the stream so far."""
        ...

    async def open_recorded_stream(
        self, stream_key: str, parts: list[tuple[str, str]], start: str
    ) -> LiveInfo:
        """A stream fed from recorded segment files: `parts` are (path, ISO start of its first
        frame, with offset) in time order, `start` an ISO time with offset. Frames are paced
        in real time at the stream's scale (> 0: reverse is refused with `MediaError`), stop
        while paused, and the stream closes by itself at the end (`END_OF_RECORDING`).
        Returns once the key frame at or before `start` is held; its source timestamps are
        recorded time (90 kHz) since that frame. Raises `MediaError` when the key is taken or
        nothing is recorded from `start` on."""
        ...

    async def seek_recorded_stream(self, stream_key: str, start: str) -> None:
        """Play a recorded stream from the key frame at or before `start` (ISO, offset);
        returns once that frame was handed to the outputs."""
        ...

    async def start_recording(self, stream_key: str, spec: RecordingSpec) -> None:
        """Record the running stream into segment files (a no-op while it records already).
        The recorder is a sink like a viewer: the stream does not idle-close under it."""
        ...

    async def stop_recording(self, stream_key: str) -> None:
        """Stop recording: the open segment is closed and reported. A no-op if none."""
        ...

    async def recording_keys(self) -> set[str]:
        """The streams with a live recorder now (not failed, stream not ended)."""
        ...

    async def start_download(self, stream_key: str, path: str) -> None:
        """Write the stream into one MP4 file at `path`, losing nothing (the source is held
        back while the writer is behind)."""
        ...

    async def finish_download(self, stream_key: str) -> DownloadResult | None:
        """Flush and close the download's file (also after the stream ended); None when no
        frame was written (then there is no file). Raises `MediaError` if writing failed."""
        ...

    async def abort_download(self, stream_key: str) -> None:
        """Stop writing the download and remove its partial file; a no-op if none."""
        ...

    async def webrtc_answer(
        self, stream_key: str, output_id: str, sdp: str, sdp_type: str
    ) -> WebRtcAnswer: ...

    def fmp4(self, stream_key: str, output_id: str) -> AsyncIterator[bytes]:
        """The fMP4 bytes from the last keyframe on; ends when the stream ends or the
        iteration is closed."""
        ...

    async def hls_resource(self, stream_key: str, name: str) -> tuple[bytes, str] | None: ...

    async def snapshot(self, stream_key: str, max_width: int) -> bytes: ...

    async def snapshots(self, stream_key: str, max_width: int, count: int) -> list[bytes]:
        """JPEGs of `count` consecutive intact keyframes seen by one probe: the latest, then
        the ones that follow it (the video quality diagnosis compares them)."""
        ...

    async def close_output(self, output_id: str) -> None: ...

    async def open_relay(self, stream_key: str, relay_id: str, spec: RelaySpec) -> RelayInfo:
        """Prepare relaying the stream to an upper (`spec`: its offer): a port of the node's
        pool is bound (UDP), listening (TCP_LISTEN: only `spec.host` may connect) or dialing
        the upper (TCP_CONNECT); the relay counts as the stream's viewer from now on, but
        nothing is sent before `start_relay`. Returns the host and port for the 200 OK's
        SDP. Raises `StreamClosedError` for a stream that is not running, `MediaError` for a
        relay ID in use or no usable port (`PortsExhausted`)."""
        ...

    async def start_relay(self, relay_id: str) -> None:
        """Send (after the ACK): the stream's PS from its last key frame on, then live, as soon
        as a TCP connection is up. Raises `MediaError` for a relay that is not open (it may
        have ended: `relay_closed` said so)."""
        ...

    async def close_relay(self, relay_id: str) -> None:
        """Stop the relay and release its port; a no-op for an unknown or ended relay."""
        ...

    async def relay_stats(self, relay_id: str) -> RelayStats:
        """Raises `MediaError` for a relay that is not open."""
        ...

    async def stats(self) -> NodeStats: ...
