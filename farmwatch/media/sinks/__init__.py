"""farmwatch.media.sinks: the outputs a stream feeds (DESIGN.md "Live view", STYLE B7).

fMP4 (`Fmp4Sink`), HLS (`HlsSink`), WebRTC (`WebRtcSession`, `VideoPassthroughTrack`) and
JPEG snapshots (`snapshot_jpeg`). Every sink is a `QueuedSink` (bounded queue, drop to the
next keyframe on overflow); PyAV and aiortc types stay inside these modules.
"""

from farmwatch.media.sinks.fmp4 import (
    Fmp4Chunk,
    Fmp4Muxer,
    Fmp4Sink,
    InitSegment,
    MediaFragment,
    codecs_string,
    mux_fmp4,
)
from farmwatch.media.sinks.hls import (
    HLS_PLAYLIST_CONTENT_TYPE,
    HLS_SEGMENT_CONTENT_TYPE,
    PLAYLIST_NAME,
    HlsPlaylist,
    HlsResource,
    HlsSegment,
    HlsSink,
)
from farmwatch.media.sinks.snapshot import DEFAULT_JPEG_QUALITY, snapshot_jpeg

# The WebRTC sink pulls in aiortc (its crypto, SRTP and codecs: some 40 MB): it is loaded
# when a viewer first asks for WebRTC, not when the platform starts (PEP 562).
_WEBRTC_NAMES = frozenset(
    {
        "AudioPassthroughTrack",
        "DEFAULT_ICE_GATHERING_TIMEOUT",
        "DEFAULT_KEYFRAME_REQUEST_INTERVAL",
        "KeyframeRequester",
        "VideoPassthroughTrack",
        "WebRtcSession",
    }
)


def __getattr__(name: str) -> object:
    if name in _WEBRTC_NAMES:
        from farmwatch.media.sinks import webrtc

        return getattr(webrtc, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_ICE_GATHERING_TIMEOUT",
    "DEFAULT_KEYFRAME_REQUEST_INTERVAL",
    "KeyframeRequester",
    "VideoPassthroughTrack",
    "WebRtcSession",
    "DEFAULT_JPEG_QUALITY",
    "HLS_PLAYLIST_CONTENT_TYPE",
    "HLS_SEGMENT_CONTENT_TYPE",
    "PLAYLIST_NAME",
    "HlsPlaylist",
    "HlsResource",
    "HlsSegment",
    "HlsSink",
    "Fmp4Chunk",
    "Fmp4Muxer",
    "Fmp4Sink",
    "InitSegment",
    "MediaFragment",
    "codecs_string",
    "mux_fmp4",
    "snapshot_jpeg",
]
