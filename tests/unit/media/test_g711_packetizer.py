"""G.711A for a device: 20 ms frames as raw RTP (PT 8) or PS-in-RTP, read back by the
platform's own demuxer and by FFmpeg's; PyAV's A-law encoding against the pure decoder."""

from __future__ import annotations

import io
import math

import av
import numpy as np
import pytest

from farmwatch.media.audio_transcode import UnreadableAudio, decode_file_to_alaw
from farmwatch.media.frames import Codec
from farmwatch.media.g711 import alaw_to_linear, decode_alaw
from farmwatch.media.g711_packetizer import (
    ALAW_SILENCE,
    FRAME_SAMPLES,
    G711Framing,
    G711Packetizer,
    frames_of,
)
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.rtp import RtpPacket

SSRC = 100000001


def _tone_wav(seconds: float, frequency: float, rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="wav") as container:
        stream = container.add_stream("pcm_s16le", rate=rate, layout="mono")
        times = np.arange(int(seconds * rate)) / rate
        samples = (np.sin(2 * math.pi * frequency * times) * 12000).astype(np.int16)
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    return buffer.getvalue()


def test_frames_are_160_bytes_and_the_last_is_padded_with_silence() -> None:
    frames = frames_of(bytes(range(200)))
    assert [len(f) for f in frames] == [160, 160]
    assert frames[1][:40] == bytes(range(160, 200))
    assert frames[1][40:] == bytes([ALAW_SILENCE]) * 120
    assert frames_of(b"") == []


def test_raw_pcma_is_one_packet_per_frame_on_the_8khz_clock() -> None:
    packetizer = G711Packetizer(SSRC, G711Framing.PCMA, 8, first_sequence=65535)
    sent = [packetizer.packetize(bytes([i]) * FRAME_SAMPLES, talk_spurt=i == 0) for i in range(3)]
    packets = [RtpPacket.parse(p) for group in sent for p in group]
    assert [(p.payload_type, p.ssrc) for p in packets] == [(8, SSRC)] * 3
    assert [p.sequence_number for p in packets] == [65535, 0, 1]
    assert [p.timestamp for p in packets] == [0, 160, 320]
    assert [p.marker for p in packets] == [True, False, False]  # the talk spurt's start
    assert [p.payload for p in packets] == [bytes([i]) * FRAME_SAMPLES for i in range(3)]


def test_ps_frames_demux_back_to_g711a_with_the_psm_once_a_second() -> None:
    packetizer = G711Packetizer(SSRC, G711Framing.PS, 96, psm_every=50)
    demuxer = PsDemuxer()
    frames = []
    psm_count = 0
    for index in range(60):
        data = bytes([(index * 7 + k) % 256 for k in range(FRAME_SAMPLES)])
        for raw in packetizer.packetize(data):
            packet = RtpPacket.parse(raw)
            assert (packet.payload_type, packet.ssrc) == (96, SSRC)
            assert packet.timestamp == index * FRAME_SAMPLES * 90000 // 8000
            psm_count += packet.payload.count(b"\x00\x00\x01\xbc")
            frames += demuxer.feed(packet.payload, rtp_timestamp=packet.timestamp,
                                   marker=packet.marker)  # fmt: skip
    frames += demuxer.flush()
    assert psm_count == 2  # frames 0 and 50
    assert demuxer.stream_types == {0xC0: 0x90}
    assert [f.codec for f in frames] == [Codec.G711A] * 60
    assert frames[59].data == bytes([(59 * 7 + k) % 256 for k in range(FRAME_SAMPLES)])
    assert [f.pts for f in frames[:3]] == [0, 1800, 3600]


def test_ffmpeg_reads_our_ps_as_alaw() -> None:
    packetizer = G711Packetizer(SSRC, G711Framing.PS, 96)
    alaw = decode_file_to_alaw(_tone_wav(1.0, 500))
    stream = b"".join(
        RtpPacket.parse(raw).payload for frame in frames_of(alaw)
        for raw in packetizer.packetize(frame)
    )  # fmt: skip
    with av.open(io.BytesIO(stream), format="mpeg") as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "pcm_alaw"
        samples = sum(frame.samples for frame in container.decode(audio))
    assert samples == pytest.approx(8000, abs=FRAME_SAMPLES)


def test_the_decoder_matches_g711s_table() -> None:
    assert alaw_to_linear(0xD5) == 8 and alaw_to_linear(0x55) == -8
    assert alaw_to_linear(0xAA) == 32256 and alaw_to_linear(0x2A) == -32256
    assert decode_alaw(bytes([0xD5, 0x55])) == [8, -8]


def test_a_wav_tone_becomes_8khz_alaw_of_the_same_pitch() -> None:
    alaw = decode_file_to_alaw(_tone_wav(2.0, 440, rate=44100))
    assert len(alaw) == pytest.approx(16000, abs=64)
    samples = np.array(decode_alaw(alaw), dtype=float)
    spectrum = np.abs(np.fft.rfft(samples))
    peak = np.argmax(spectrum) * 8000 / len(samples)
    assert peak == pytest.approx(440, abs=5)
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(12000 / math.sqrt(2), rel=0.05)


def test_what_is_not_audio_is_refused() -> None:
    with pytest.raises(UnreadableAudio):
        decode_file_to_alaw(b"this is not a sound file at all" * 10)
