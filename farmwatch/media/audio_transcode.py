"""Any audio → G.711 A-law at 8 kHz mono, with PyAV (gb28181.md §4.13; issue 12 item 5).

Owns the transcoding of what an operator speaks or uploads into what a camera's loudspeaker
takes: `AlawEncoder.encode(frame)` resamples one decoded `av.AudioFrame` (the browser's Opus
or PCMU as aiortc decodes it, any rate and layout) to s16 mono 8 kHz with `av.AudioResampler`
and encodes it with PyAV's `pcm_alaw` encoder; `decode_file_to_alaw(data)` does the same for
a whole uploaded file (WAV, MP3, anything FFmpeg reads), `tone_alaw` a sine tone. One
A-law byte per sample.
"""

from __future__ import annotations

import functools
import io
from typing import Any, Literal

import av
import numpy as np

from farmwatch.media.errors import MediaError
from farmwatch.media.g711 import decode_alaw
from farmwatch.media.g711_packetizer import SAMPLE_RATE

__all__ = ["AlawEncoder", "UnreadableAudio", "alaw_to_ulaw", "decode_file_to_alaw", "tone_alaw"]

MAX_SECONDS = 600
"""The longest upload we transcode: ten minutes (4.8 MB of A-law)."""


class UnreadableAudio(MediaError):
    """The uploaded bytes are not audio FFmpeg can decode."""


class AlawEncoder:
    """Decoded audio frames in, A-law bytes out (8 kHz, mono); µ-law with
    `codec="pcm_mulaw"` (a two-way talk whose camera took PCMU)."""

    def __init__(self, codec: Literal["pcm_alaw", "pcm_mulaw"] = "pcm_alaw") -> None:
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        encoder = av.CodecContext.create(codec, "w")
        encoder.sample_rate = SAMPLE_RATE
        encoder.format = "s16"
        encoder.layout = "mono"
        self._encoder = encoder

    def encode(self, frame: Any) -> bytes:
        """One `av.AudioFrame`; None flushes what the resampler still holds."""
        out = bytearray()
        for resampled in self._resampler.resample(frame):
            for packet in self._encoder.encode(resampled):
                out += bytes(packet)
        return bytes(out)

    def finish(self) -> bytes:
        out = bytearray(self.encode(None))
        for packet in self._encoder.encode(None):
            out += bytes(packet)
        return bytes(out)


def decode_file_to_alaw(data: bytes, *, max_seconds: int = MAX_SECONDS) -> bytes:
    """A whole audio file → its A-law bytes; `UnreadableAudio` for anything else, or for
    more than `max_seconds` of sound."""
    limit = max_seconds * SAMPLE_RATE
    encoder = AlawEncoder()
    out = bytearray()
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise UnreadableAudio("the file holds no audio stream")
            for frame in container.decode(audio=0):
                out += encoder.encode(frame)
                if len(out) > limit:
                    raise UnreadableAudio(f"the audio is longer than {max_seconds} s")
        out += encoder.finish()
    except av.error.FFmpegError as error:
        raise UnreadableAudio(f"not an audio file FFmpeg can read: {error}") from error
    if not out:
        raise UnreadableAudio("the file holds no sound")
    return bytes(out)


def tone_alaw(frequency: float, seconds: float, *, level: float = 0.4) -> bytes:
    """A sine tone as A-law (for operators without a microphone, and for tests): `level` of
    full scale."""
    count = round(seconds * SAMPLE_RATE)
    times = np.arange(count) / SAMPLE_RATE
    samples = (np.sin(2 * np.pi * frequency * times) * level * 32767).astype(np.int16)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    encoder = AlawEncoder()
    return encoder.encode(frame) + encoder.finish()


def alaw_to_ulaw(alaw: bytes) -> bytes:
    """A-law bytes as µ-law (a tone or file for a talk whose camera took PCMU)."""
    return alaw.translate(_alaw_to_ulaw_table())


@functools.cache
def _alaw_to_ulaw_table() -> bytes:
    samples = np.array(decode_alaw(bytes(range(256))), dtype=np.int16)
    frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
    frame.sample_rate = SAMPLE_RATE
    encoder = AlawEncoder("pcm_mulaw")
    return encoder.encode(frame) + encoder.finish()
