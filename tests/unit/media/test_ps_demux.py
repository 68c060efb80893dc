"""PsDemuxer against FFmpeg's PS muxers and against §8.2 byte layouts (gb28181.md §8, §10.19)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from farmwatch.media import Codec, EsFrame, MediaKind, PsDemuxer
from farmwatch.media.access_unit import FRAME_COST, MAX_NAL_UNITS_PER_ACCESS_UNIT
from farmwatch.media.psm import parse_program_stream_map
from tests.unit.media.ps_samples import (
    AUDIO_ID,
    FRAME_COUNT,
    GOP,
    HEIGHT,
    SYSTEM_HEADER,
    VIDEO_ID,
    WIDTH,
    build_gb_packet,
    decode,
    encoded_access_units,
    ffmpeg_program_stream,
    gb_stream,
    pack_header,
    pes,
    program_stream_map,
)

DECODERS = {"libx264": "h264", "libx265": "hevc"}


def demux(data: bytes, sizes: list[int] | None = None, **options: int) -> list[EsFrame]:
    demuxer = PsDemuxer(**options)
    frames: list[EsFrame] = []
    at, index = 0, 0
    while at < len(data):
        size = sizes[index % len(sizes)] if sizes else 1400
        frames += demuxer.feed(data[at : at + size])
        at, index = at + size, index + 1
    return frames + demuxer.flush()


@pytest.mark.parametrize("container", ["mpeg", "vob"])
@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_ffmpeg_program_stream_gives_every_frame_decodable(container: str, encoder: str) -> None:
    data = ffmpeg_program_stream(container, encoder)
    rnd = random.Random(7)
    frames = demux(data, [rnd.randint(1, 3000) for _ in range(50)])

    assert len(frames) == FRAME_COUNT
    assert [f.codec for f in frames] == [Codec.H264 if encoder == "libx264" else Codec.H265] * 30
    assert sum(f.is_keyframe for f in frames) == FRAME_COUNT // GOP
    assert all(b.dts > a.dts for a, b in zip(frames, frames[1:], strict=False))
    pictures = decode(DECODERS[encoder], [f.data for f in frames])
    assert len(pictures) == FRAME_COUNT
    assert {(p.width, p.height) for p in pictures} == {(WIDTH, HEIGHT)}


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_gb_stream_gives_the_encoded_access_units_back_byte_exact(encoder: str) -> None:
    units = encoded_access_units(encoder)
    frames = demux(gb_stream(encoder, pes_size=4000))

    assert [f.data for f in frames] == list(units)
    assert [f.pts for f in frames] == [90000 + 3600 * i for i in range(FRAME_COUNT)]
    assert [f.is_keyframe for f in frames] == [i % GOP == 0 for i in range(FRAME_COUNT)]
    assert {f.kind for f in frames} == {MediaKind.VIDEO}


def rtp_payloads(packet: bytes, size: int = 1400) -> list[bytes]:
    return [packet[i : i + size] for i in range(0, len(packet), size)]


def test_marker_bit_completes_the_frame_at_once() -> None:
    units = encoded_access_units("libx264")
    demuxer = PsDemuxer()
    for index, unit in enumerate(units):
        packet = build_gb_packet(unit, 3600 * index, keyframe=index % GOP == 0)
        *head, last = rtp_payloads(packet)
        for payload in head:
            assert demuxer.feed(payload, rtp_timestamp=3600 * index) == []
        frames = demuxer.feed(last, rtp_timestamp=3600 * index, marker=True)
        assert [f.data for f in frames] == [unit]


def test_rtp_timestamp_change_completes_the_frame() -> None:
    units = encoded_access_units("libx264")[:2]
    first = build_gb_packet(units[0], 0, keyframe=True)
    second = build_gb_packet(units[1], 3600, keyframe=False)
    demuxer = PsDemuxer()
    assert demuxer.feed(first, rtp_timestamp=0) == []
    # Two bytes of the next packet cannot reveal a new access unit; the timestamp does.
    assert [f.data for f in demuxer.feed(second[:2], rtp_timestamp=3600)] == [units[0]]
    assert [f.data for f in demuxer.feed(second[2:], rtp_timestamp=3600, marker=True)] == [units[1]]


def test_worked_bytes_of_section_8_2() -> None:
    sps = encoded_access_units("libx264")[0].split(b"\x00\x00\x00\x01")[1]
    payload = b"\x00\x00\x00\x01" + sps + b"\x00\x00\x00\x01\x68\xce\x38\x80"
    payload += b"\x00\x00\x00\x01\x65\x88" + b"\x55" * (1000 - len(payload) - 6)
    assert len(payload) == 1000
    worked = bytes.fromhex(
        "000001BA440016FC8401005F6BF8"
        "000001BB000C80CCF504E17FE0E190C0C020"
        "000001BC0012E0FF000000081BE0000090C00000FEDFB1D7"
        "000001E003F0808005210005BF21"
    )
    audio = pes(AUDIO_ID, b"\xd5" * 320, 90000)
    demuxer = PsDemuxer()
    frames = demuxer.feed(worked + payload + audio) + demuxer.flush()

    assert dict(demuxer.stream_types) == {0xE0: 0x1B, 0xC0: 0x90}
    audio_frame, video_frame = frames
    assert (audio_frame.codec, audio_frame.pts, audio_frame.data) == (
        Codec.G711A,
        90000,
        b"\xd5" * 320,
    )
    assert (video_frame.codec, video_frame.pts, video_frame.dts) == (Codec.H264, 90000, 90000)
    assert video_frame.data == payload and video_frame.is_keyframe
    assert video_frame.stream_id == VIDEO_ID and audio_frame.kind is MediaKind.AUDIO


def test_pack_stuffing_and_mpeg1_pack_headers_are_skipped() -> None:
    unit = encoded_access_units("libx264")[0]
    mpeg1_pack = bytes.fromhex("000001BA2100010001800001")
    data = pack_header(0, stuffing=7) + SYSTEM_HEADER + mpeg1_pack + pes(VIDEO_ID, unit, 0)
    assert [f.data for f in demux(data)] == [unit]


AVCC = bytes.fromhex("01640014ffe1001967640014acd94141fb0110000003001000000303c8f142996001000568")


@pytest.mark.parametrize("es_map_length", [0, 4, 200, None])
def test_nonconformant_psm_is_read_by_its_total_length(es_map_length: int | None) -> None:
    units = encoded_access_units("libx265")
    unknown_descriptor = bytes([0xE0, 0x04, 0x1B, 0xE0, 0x00, 0x00])  # looks like an entry
    psm = program_stream_map(
        [(0x24, VIDEO_ID, AVCC + unknown_descriptor), (0x91, AUDIO_ID, b"\x0a\x04eng\x00")],
        es_map_length=es_map_length,
    )
    data = pack_header(0) + SYSTEM_HEADER + psm + pes(VIDEO_ID, units[0], 0)
    data += pes(AUDIO_ID, b"\xff" * 160, 0) + pack_header(3600) + pes(VIDEO_ID, units[1], 3600)
    demuxer = PsDemuxer()
    frames = demuxer.feed(data) + demuxer.flush()

    assert dict(demuxer.stream_types) == {VIDEO_ID: 0x24, AUDIO_ID: 0x91}
    assert [(f.codec, f.data) for f in frames if f.kind is MediaKind.VIDEO] == [
        (Codec.H265, units[0]),
        (Codec.H265, units[1]),
    ]
    assert [f.codec for f in frames if f.kind is MediaKind.AUDIO] == [Codec.G711U]


@pytest.mark.parametrize("stream_type", [None, 0x06, 0xFF, 0x1B, 0x24])
@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_codec_is_sniffed_without_psm_or_with_a_vendor_or_wrong_stream_type(
    stream_type: int | None, encoder: str
) -> None:
    units = encoded_access_units(encoder)
    frames = demux(gb_stream(encoder, stream_type=stream_type))
    expected = Codec.H264 if encoder == "libx264" else Codec.H265
    assert [(f.codec, f.data) for f in frames] == [(expected, u) for u in units]


def test_joining_mid_gop_waits_for_the_next_key_frame() -> None:
    units = encoded_access_units("libx265")
    packets = [build_gb_packet(u, 3600 * i, keyframe=i % GOP == 0) for i, u in enumerate(units)]
    frames = demux(b"".join(packets[4:]))
    assert [f.data for f in frames] == list(units[10:])
    assert frames[0].is_keyframe


@pytest.mark.parametrize(
    ("stream_type", "payload", "codec"),
    [
        (0x90, b"\xd5\x55" * 160, Codec.G711A),
        (0x91, b"\xff\x7f" * 160, Codec.G711U),
        (0x0F, bytes.fromhex("fff15080043ffc") + b"\x21" * 25, Codec.AAC),
        (None, bytes.fromhex("fff15080043ffc") + b"\x21" * 25, Codec.AAC),
        (None, b"\xd5" * 320, Codec.G711A),
    ],
)
def test_audio_pes_become_audio_frames(stream_type: int | None, payload: bytes, codec: Codec):
    psm = program_stream_map([(stream_type, AUDIO_ID, b"")]) if stream_type else b""
    data = pack_header(0) + psm + pes(AUDIO_ID, payload, 1000) + pes(AUDIO_ID, payload)
    data += pack_header(1) + pes(AUDIO_ID, payload, 90000)
    frames = demux(data, [5])
    assert [(f.codec, f.data, f.kind) for f in frames] == [(codec, payload, MediaKind.AUDIO)] * 3
    second_pts = 1000 + 320 * 45 // 4 if codec is not Codec.AAC else 1000 + 3600
    assert [f.pts for f in frames] == [1000, second_pts, 90000]


def test_private_streams_padding_and_garbage_between_packs_are_skipped() -> None:
    units = encoded_access_units("libx264")[:12]
    private = b"\x00\x00\x01\xbd\x00\x08HIKVISIO"
    padding = b"\x00\x00\x01\xbe\x00\x05\xff\xff\xff\xff\xff"
    garbage = b"\x13\x00\x00\x37\x00\x00\x01\x09garbage\x00"
    data = b"".join(
        garbage + build_gb_packet(u, 3600 * i, keyframe=i % GOP == 0) + private + padding
        for i, u in enumerate(units)
    )
    demuxer = PsDemuxer()
    frames = demuxer.feed(data) + demuxer.flush()
    assert [f.data for f in frames] == list(units)
    assert demuxer.stats.garbage_bytes == len(garbage) * len(units)


def test_pes_length_zero_reads_up_to_the_next_start_code() -> None:
    units = encoded_access_units("libx264")[:4]
    data = b"".join(
        pack_header(3600 * i)
        + (program_stream_map([(0x1B, VIDEO_ID, b"")]) if i == 0 else b"")
        + pes(VIDEO_ID, u, 3600 * i, length=0)
        for i, u in enumerate(units)
    )
    assert [f.data for f in demux(data, [333])] == list(units)


def test_pes_length_running_into_the_next_pack_is_cut_there() -> None:
    units = encoded_access_units("libx264")[:3]
    packets = [build_gb_packet(u, 3600 * i, keyframe=i == 0) for i, u in enumerate(units)]
    broken = pes(VIDEO_ID, units[1], 3600, length=len(units[1]) + 500)
    packets[1] = pack_header(3600) + broken
    demuxer = PsDemuxer()
    frames = demuxer.feed(b"".join(packets)) + demuxer.flush()
    assert [f.data for f in frames] == list(units)
    assert demuxer.stats.bad_pes_lengths == 1


@pytest.mark.parametrize("with_rtp_hints", [True, False])
def test_loss_passes_the_damaged_frame_on_and_the_next_frames_at_once(
    with_rtp_hints: bool,
) -> None:
    units = encoded_access_units("libx264")
    demuxer = PsDemuxer()
    frames: list[EsFrame] = []
    for index, unit in enumerate(units):
        payloads = rtp_payloads(build_gb_packet(unit, 3600 * index, keyframe=index % GOP == 0))
        hints = {"rtp_timestamp": 3600 * index} if with_rtp_hints else {}
        if index == 3:  # a big frame: lose its second RTP packet
            assert len(payloads) > 2
            frames += demuxer.feed(payloads[0], **hints)
            frames += demuxer.mark_loss()
            payloads = payloads[2:]
        for at, payload in enumerate(payloads):
            frames += demuxer.feed(payload, marker=with_rtp_hints and at == len(payloads) - 1)
    frames += demuxer.flush()
    # Before the fix the frame and the rest of its GOP were dropped (frames 3-9).
    assert [f.is_damaged for f in frames] == [i == 3 for i in range(FRAME_COUNT)]
    assert units[3].startswith(frames[3].data) and len(frames[3].data) < len(units[3])
    assert [f.data for f in frames[:3] + frames[4:]] == list(units[:3] + units[4:])
    assert [f.pts for f in frames] == [3600 * i for i in range(FRAME_COUNT)]
    assert demuxer.stats.losses == demuxer.stats.frames_damaged == 1
    # The decoder conceals the missing part: every frame gives a picture.
    assert len(decode("h264", [f.data for f in frames])) == FRAME_COUNT


@pytest.mark.parametrize("encoder", ["libx264", "libx265"])
def test_loss_in_ffmpeg_stream_never_merges_frames(encoder: str) -> None:
    """FFmpeg's PS has several frames per PES and no RTP hints: after a gap, nothing is
    appended to the damaged frame; the next frame starts at its own first NAL unit."""
    data = ffmpeg_program_stream("vob", encoder)
    reference = demux(data)
    demuxer = PsDemuxer()
    frames: list[EsFrame] = []
    chunks = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    lost_at = len(chunks) // 3
    for index, chunk in enumerate(chunks):
        if index in (lost_at, lost_at + 1, lost_at + 2):  # more than a 2 KiB pack
            frames += demuxer.mark_loss()
            continue
        frames += demuxer.feed(chunk)
    frames += demuxer.flush()
    expected = iter(reference)
    for frame in frames:  # each frame is a reference frame, or the start of one if damaged
        match = next(r for r in expected if r.data.startswith(frame.data))
        assert frame.data == match.data or frame.is_damaged
    assert sum(f.is_damaged for f in frames) <= 1
    assert len(frames) >= FRAME_COUNT - 3  # only what the lost 3 kB held is missing
    # Frames referring to the lost ones may be refused by the decoder (HEVC drops them,
    # H.264 conceals some): at least what a drop-to-the-next-key-frame receiver gave decodes.
    after = next(i for i, f in enumerate(frames) if f.is_damaged or f.data != reference[i].data)
    key = next(i for i, f in enumerate(frames) if i > after and f.is_keyframe)
    pictures = decode(DECODERS[encoder], [f.data for f in frames])
    assert len(pictures) >= after + len(frames) - key


def test_a_payload_over_the_work_budget_is_dropped_with_its_frame() -> None:
    """Work per `feed` is bounded: 5-byte access units would give 280 frames per packet."""
    units = encoded_access_units("libx264")
    demuxer = PsDemuxer(max_units_per_feed=256)
    frames = demuxer.feed(build_gb_packet(units[0], 0, keyframe=True), rtp_timestamp=0)
    tiny = build_gb_packet(b"\x00\x00\x01\x41\x80" * 1000, 3600, keyframe=False)
    for payload in rtp_payloads(tiny):
        frames += demuxer.feed(payload, rtp_timestamp=3600)
    assert demuxer.stats.overloads >= 1
    assert len(frames) <= 1 + 256 // FRAME_COST  # the key frame, then what the budget allowed
    for index, unit in enumerate(units[1:11], start=2):  # resumes at the next key frame
        frames += demuxer.feed(build_gb_packet(unit, 3600 * index, keyframe=index == 11))
    frames += demuxer.flush()
    assert frames[-1].data == units[10] and frames[-1].is_keyframe


def test_an_access_unit_of_too_many_nal_units_is_dropped() -> None:
    units = encoded_access_units("libx264")
    flood = units[1] + b"\x00\x00\x01\x41" * (MAX_NAL_UNITS_PER_ACCESS_UNIT + 1)
    data = b"".join(
        build_gb_packet(unit, 3600 * i, keyframe=i % GOP == 0)
        for i, unit in enumerate([units[0], flood, units[2]])
    )
    demuxer = PsDemuxer()
    frames = demuxer.feed(data) + demuxer.flush()
    assert [f.data for f in frames] == [units[0]]  # then waits for a key frame
    assert demuxer.stats.oversize_frames == 1


def test_a_program_stream_map_is_read_up_to_64_entries() -> None:
    entries = [(0x1B, 0xE0 + i % 16, b"") for i in range(64)] + [(0x90, AUDIO_ID, b"")] * 9000
    assert parse_program_stream_map(program_stream_map(entries)) == {
        0xE0 + i: 0x1B for i in range(16)
    }


def test_oversized_frames_are_dropped_and_counted() -> None:
    units = encoded_access_units("libx264")
    demuxer = PsDemuxer(max_frame_size=5400)
    frames = demuxer.feed(gb_stream("libx264")) + demuxer.flush()
    assert demuxer.stats.oversize_frames >= 1
    assert all(len(f.data) <= 5400 for f in frames)
    assert [f.data for f in frames] == [u for u in units[10:] if u in {f.data for f in frames}]


FIXTURE = Path(__file__).resolve().parents[2] / "data" / "ps" / "gb_h265_160x120_30f.ps"


def test_committed_h265_fixture_decodes_without_libx265() -> None:
    """tests/data/ps/gb_h265_160x120_30f.ps: libx265 frames in §8.2 layout (PSM 0x24)."""
    frames = demux(FIXTURE.read_bytes(), [1400])
    assert [(f.codec, f.is_keyframe) for f in frames] == [
        (Codec.H265, i % GOP == 0) for i in range(FRAME_COUNT)
    ]
    pictures = decode("hevc", [f.data for f in frames])
    assert [(p.width, p.height) for p in pictures] == [(WIDTH, HEIGHT)] * FRAME_COUNT
