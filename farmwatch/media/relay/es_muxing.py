"""PS for a relay of a stream that has none: elementary-stream frames muxed one by one.

A stream played from the platform's own recordings (`recording_feed.py`) yields the frames
of its MP4 files, not PS. A relay of it muxes each frame into one PS packet with `PsMuxer`
(gb28181.md §8.3: pack header with SCR, system header and PSM on key frames, PES packets
with the PTS) and hands it on as a `PsFrame` stamped with the frame's PTS (90 kHz, as the
stream's outputs get it: at the playback's scale). H.264 and H.265 video and G.711 audio
are carried; the PSM declares the audio stream from the first G.711 frame on (the next key
frame's PSM says so); other audio (AAC) is left out. Pure.
"""

from __future__ import annotations

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig, StreamType

__all__ = ["EsToPs"]

_VIDEO = {Codec.H264: StreamType.H264, Codec.H265: StreamType.H265}
_AUDIO = {Codec.G711A: StreamType.G711A, Codec.G711U: StreamType.G711U}


class EsToPs:
    """One relay's muxer state: which streams its PSM declares."""

    __slots__ = ("_audio", "_muxer", "_video")

    def __init__(self) -> None:
        self._video: StreamType | None = None
        self._audio: StreamType | None = None
        self._muxer: PsMuxer | None = None

    def mux(self, frame: EsFrame) -> PsFrame | None:
        """The frame as one PS packet; None for a codec PS cannot carry here."""
        video = _VIDEO.get(frame.codec)
        if video is not None:
            muxer = self._muxer_for(video, self._audio)
            packet = muxer.mux_video(
                frame.data, frame.pts, frame.dts, is_keyframe=frame.is_keyframe
            )
            is_key = frame.is_keyframe and not frame.is_damaged
            return PsFrame(packet.data, frame.pts, is_keyframe=is_key)
        audio = _AUDIO.get(frame.codec)
        if audio is None or self._video is None:
            return None  # no PSM can announce it (yet)
        muxer = self._muxer_for(self._video, audio)
        return PsFrame(muxer.mux_audio(frame.data, frame.pts).data, frame.pts, is_keyframe=False)

    def _muxer_for(self, video: StreamType, audio: StreamType | None) -> PsMuxer:
        if self._muxer is None or video != self._video or audio != self._audio:
            self._video, self._audio = video, audio
            self._muxer = PsMuxer(PsMuxerConfig(video=video, audio=audio))
        return self._muxer
