"""A relay of a stream without PS muxes its frames: what it makes demuxes back to the same
frames (our demuxer; PyAV reads such PS in the integration tests)."""

from __future__ import annotations

from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.nal import is_keyframe
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.relay.es_muxing import EsToPs
from tests.unit.media.ps_samples import encoded_access_units


def test_video_and_g711_frames_become_one_ps_packet_each() -> None:
    muxing = EsToPs()
    audio = EsFrame(Codec.G711A, b"\xd5" * 320, 0, 0, False, 0xC0)
    assert muxing.mux(audio) is None  # no video yet: no PSM announces it
    frames = [
        EsFrame(Codec.H264, unit, index * 3600, index * 3600, is_keyframe(Codec.H264, unit), 0xE0)
        for index, unit in enumerate(encoded_access_units("libx264")[:12])
    ]
    muxed = [muxing.mux(frame) for frame in frames]
    assert all(ps is not None for ps in muxed)
    sound = muxing.mux(EsFrame(Codec.G711A, b"\xd5" * 320, 12 * 3600, 12 * 3600, False, 0xC0))
    assert sound is not None and not sound.is_keyframe
    assert muxing.mux(EsFrame(Codec.AAC, b"\xff\xf1", 0, 0, False, 0xC0)) is None
    demuxer = PsDemuxer()
    out: list[EsFrame] = []
    for ps in [*muxed, sound]:
        assert ps is not None
        out += demuxer.feed(ps.data, rtp_timestamp=ps.timestamp, marker=True)
    video = [frame for frame in out if frame.codec is Codec.H264]
    assert [(f.data, f.pts, f.is_keyframe) for f in video] == [
        (f.data, f.pts, f.is_keyframe) for f in frames
    ]
    assert [ps.is_keyframe for ps in muxed if ps is not None] == [f.is_keyframe for f in frames]
