"""A camera's voice on its way to the operator's browser (two-way talk, 对讲; issue 12 item 5).

Owns the hand-over between the talk's audio socket and the WebRTC sender: `DeviceVoice.push`
takes each `G711Chunk` the device sent, decodes it to 16-bit samples (A- or µ-law as the
chunk says) and queues it; `DeviceVoiceTrack` is the aiortc audio track that the browser's
peer connection sends — its `recv()` returns the queued sound as 8 kHz mono frames, which
aiortc encodes as the browser negotiated (PCMA or PCMU, else Opus through PyAV). The queue
is bounded in time (`MAX_BACKLOG` samples): a voice must not lag, so older sound is dropped
and counted. The device sets the pace (it sends in real time); nothing arriving means no
frames. `close()` ends the track.
"""

from __future__ import annotations

import asyncio
import collections
import fractions

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from farmwatch.media.frames import Codec
from farmwatch.media.g711 import decode_alaw, decode_ulaw
from farmwatch.media.g711_packetizer import SAMPLE_RATE
from farmwatch.media.talk_audio import G711Chunk

__all__ = ["DeviceVoice", "DeviceVoiceTrack"]

MAX_BACKLOG = SAMPLE_RATE // 2
"""Samples of the device's voice kept waiting for the browser (0.5 s)."""
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)


class DeviceVoice:
    def __init__(self, *, max_backlog: int = MAX_BACKLOG) -> None:
        self._chunks: collections.deque[np.ndarray] = collections.deque()
        self._queued = 0
        self._max_backlog = max_backlog
        self._ready = asyncio.Event()
        self._is_closed = False
        self.chunks_received = 0
        self.samples_received = 0
        self.samples_dropped = 0

    def push(self, chunk: G711Chunk) -> None:
        if self._is_closed:
            return
        decode = decode_ulaw if chunk.law is Codec.G711U else decode_alaw
        samples = np.array(decode(chunk.data), dtype=np.int16)
        self.chunks_received += 1
        self.samples_received += len(samples)
        self._chunks.append(samples)
        self._queued += len(samples)
        while self._queued > self._max_backlog and len(self._chunks) > 1:
            dropped = self._chunks.popleft()
            self._queued -= len(dropped)
            self.samples_dropped += len(dropped)
        self._ready.set()

    async def next(self) -> np.ndarray | None:
        """The oldest queued samples; None once closed."""
        while not self._chunks:
            if self._is_closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        samples = self._chunks.popleft()
        self._queued -= len(samples)
        return samples

    def close(self) -> None:
        self._is_closed = True
        self._ready.set()


class DeviceVoiceTrack(MediaStreamTrack):
    """The audio track of the device's voice (aiortc pulls it)."""

    kind = "audio"

    def __init__(self, voice: DeviceVoice) -> None:
        super().__init__()
        self._voice = voice
        self._pts = 0
        self.frames_sent = 0

    async def recv(self) -> av.AudioFrame:
        samples = await self._voice.next()
        if samples is None or self.readyState != "live":
            self.stop()
            raise MediaStreamError
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += len(samples)
        self.frames_sent += 1
        return frame
