"""The camera's voice on its way to the browser: decoded as its law says, bounded in time
(a voice must not lag), and handed to aiortc as 8 kHz frames with running timestamps."""

from __future__ import annotations

import pytest
from aiortc.mediastreams import MediaStreamError

from farmwatch.media.device_voice import DeviceVoice, DeviceVoiceTrack
from farmwatch.media.frames import Codec
from farmwatch.media.g711 import decode_alaw, decode_ulaw
from farmwatch.media.talk_audio import G711Chunk


async def test_chunks_are_decoded_in_their_law() -> None:
    voice = DeviceVoice()
    voice.push(G711Chunk(Codec.G711A, bytes(range(160))))
    voice.push(G711Chunk(Codec.G711U, bytes(range(160))))
    first, second = await voice.next(), await voice.next()
    assert first is not None and first.tolist() == decode_alaw(bytes(range(160)))
    assert second is not None and second.tolist() == decode_ulaw(bytes(range(160)))


async def test_older_sound_is_dropped_past_the_backlog() -> None:
    voice = DeviceVoice(max_backlog=800)
    for index in range(10):
        voice.push(G711Chunk(Codec.G711A, bytes([index]) * 160))
    assert (voice.samples_received, voice.samples_dropped) == (1600, 800)
    oldest = await voice.next()
    assert oldest is not None and oldest.tolist() == decode_alaw(bytes([5]) * 160)


async def test_the_track_gives_running_8khz_frames_and_ends_when_closed() -> None:
    voice = DeviceVoice()
    track = DeviceVoiceTrack(voice)
    for _ in range(2):
        voice.push(G711Chunk(Codec.G711A, bytes(160)))
    frames = [await track.recv(), await track.recv()]
    assert [(f.sample_rate, f.samples, f.pts) for f in frames] == [(8000, 160, 0), (8000, 160, 160)]
    voice.close()
    with pytest.raises(MediaStreamError):
        await track.recv()
    assert track.frames_sent == 2
