"""farmwatch.media.sinks: the outputs a stream feeds (DESIGN.md "Live view", STYLE B7).

fMP4 (`Fmp4Sink`), HLS (`HlsSink`), WebRTC (`WebRtcSession`, `VideoPassthroughTrack`) and
JPEG snapshots (`snapshot_jpeg`). Every viewer's sink is a `QueuedSink` (bounded queue, drop
to the next keyframe on overflow); PyAV and aiortc types stay inside these modules. The
file writers live here too: platform recording (`segment_recorder`: the stream's PS as
received into segment files with an index, `segment_writer`, `segment_timeline`,
`segment_index`, `segment_recovery`, `ps_scan`) and downloads (`mp4_download`, `mp4_file`).

Every name loads its module on first use (PEP 562): the viewers' libraries (aiortc's crypto,
SRTP and codecs, PyAV: some 70 MB) load with their first viewer, and a node that only
records never loads them.
"""

from __future__ import annotations

import importlib

_MODULES = {
    "Fmp4Chunk": "fmp4",
    "Fmp4Muxer": "fmp4",
    "Fmp4Sink": "fmp4",
    "InitSegment": "fmp4",
    "MediaFragment": "fmp4",
    "codecs_string": "fmp4",
    "mux_fmp4": "fmp4",
    "HLS_PLAYLIST_CONTENT_TYPE": "hls",
    "HLS_SEGMENT_CONTENT_TYPE": "hls",
    "PLAYLIST_NAME": "hls",
    "HlsPlaylist": "hls",
    "HlsResource": "hls",
    "HlsSegment": "hls",
    "HlsSink": "hls",
    "DEFAULT_JPEG_QUALITY": "snapshot",
    "snapshot_jpeg": "snapshot",
    "AudioPassthroughTrack": "webrtc",
    "DEFAULT_ICE_GATHERING_TIMEOUT": "webrtc",
    "DEFAULT_KEYFRAME_REQUEST_INTERVAL": "webrtc",
    "KeyframeRequester": "webrtc",
    "VideoPassthroughTrack": "webrtc",
    "WebRtcSession": "webrtc",
}


def __getattr__(name: str) -> object:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


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
