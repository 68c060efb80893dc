"""The recorded time carried in every played-back frame: an SEI the tests can read back.

Owns the marker the simulator puts into each access unit of a playback or download, so a test
can tell, from the platform's output, which recorded moment a frame shows: an SEI NAL unit
(H.264 nal_unit_type 6; H.265 prefix SEI, type 39) holding one `user_data_unregistered`
message (payload type 5, ITU-T H.264 §D.1.7 / H.265 §D.2.7) whose 16-byte UUID is
`RECORDED_TIME_UUID` and whose data is the recorded time as Unix milliseconds, 8 bytes big
endian. The writer puts the SEI before the first slice (VCL NAL unit) of an Annex-B access
unit, with emulation-prevention bytes (§7.4.1) where the payload needs them (the leading zero
bytes of the time do). The reader finds it in an Annex-B access unit (PS, MPEG-TS) or in a
4-byte length-prefixed one (MP4/fMP4 samples, AVCC/HVCC), of either codec. Pure: bytes in,
bytes out.

    from farmwatch.simulator.recorded_time import read_recorded_time
    millis = read_recorded_time(bytes(packet), length_prefixed=True)   # fMP4 via PyAV
"""

from __future__ import annotations

from farmwatch.media.nal import split_nal_units
from farmwatch.simulator.test_pattern import VideoCodec

__all__ = [
    "RECORDED_TIME_UUID",
    "build_recorded_time_sei",
    "slice_start",
    "insert_recorded_time",
    "read_recorded_time",
]

RECORDED_TIME_UUID = b"farmwatchRecTime"
"""The `uuid_iso_iec_11578` of the SEI (16 bytes, none of them 0x00)."""
USER_DATA_UNREGISTERED = 5
_H264_SEI = 6
_H265_PREFIX_SEI, _H265_SUFFIX_SEI = 39, 40
_H265_SEI_TYPES = (_H265_PREFIX_SEI, _H265_SUFFIX_SEI)
_TIME_SIZE = 8
_PAYLOAD_SIZE = len(RECORDED_TIME_UUID) + _TIME_SIZE
_START_CODE = b"\x00\x00\x00\x01"
_RBSP_STOP = b"\x80"


def build_recorded_time_sei(recorded_ms: int, codec: VideoCodec) -> bytes:
    """The SEI NAL unit (header included, no start code) for `recorded_ms`."""
    if not 0 <= recorded_ms < 1 << 63:
        raise ValueError(f"recorded time out of range: {recorded_ms} ms")
    payload = RECORDED_TIME_UUID + recorded_ms.to_bytes(_TIME_SIZE, "big")
    rbsp = bytes([USER_DATA_UNREGISTERED, len(payload)]) + payload + _RBSP_STOP
    header = bytes([_H264_SEI]) if codec is VideoCodec.H264 else bytes([_H265_PREFIX_SEI << 1, 1])
    return header + _add_emulation_prevention(rbsp)


def slice_start(access_unit: bytes, codec: VideoCodec) -> int:
    """Where the start code of the first slice begins (the end when there is none)."""
    position = access_unit.find(b"\x00\x00\x01")
    while 0 <= position < len(access_unit) - 3:
        header = access_unit[position + 3]
        if _is_vcl(header, codec):
            return position - 1 if position and access_unit[position - 1] == 0 else position
        position = access_unit.find(b"\x00\x00\x01", position + 3)
    return len(access_unit)


def insert_recorded_time(
    access_unit: bytes, recorded_ms: int, codec: VideoCodec, *, offset: int | None = None
) -> bytes:
    """The Annex-B `access_unit` with the recorded-time SEI before its first slice.

    `offset` is `slice_start(access_unit, codec)` when the caller has it already.
    """
    at = slice_start(access_unit, codec) if offset is None else offset
    sei = _START_CODE + build_recorded_time_sei(recorded_ms, codec)
    return access_unit[:at] + sei + access_unit[at:]


def read_recorded_time(data: bytes, *, length_prefixed: bool) -> int | None:
    """The recorded time (Unix ms) of an access unit, or None when it carries none.

    `length_prefixed`: NAL units preceded by 4-byte big-endian lengths (MP4 samples);
    otherwise Annex-B start codes. H.264 and H.265 are told apart by the NAL header.
    """
    units = _length_prefixed_units(data) if length_prefixed else split_nal_units(data)
    for unit in units:
        if not unit:
            continue
        if unit[0] & 0x9F == _H264_SEI:  # forbidden bit 0, any nal_ref_idc, type 6
            found = _read_sei_messages(_remove_emulation_prevention(unit[1:]))
        elif len(unit) > 2 and unit[0] < 0x80 and (unit[0] >> 1) in _H265_SEI_TYPES:
            found = _read_sei_messages(_remove_emulation_prevention(unit[2:]))
        else:
            continue
        if found is not None:
            return found
    return None


def _is_vcl(header: int, codec: VideoCodec) -> bool:
    if codec is VideoCodec.H264:
        return 1 <= header & 0x1F <= 5
    return (header >> 1) & 0x3F <= 31


def _length_prefixed_units(data: bytes) -> list[bytes]:
    units: list[bytes] = []
    position = 0
    while position + 4 <= len(data):
        size = int.from_bytes(data[position : position + 4], "big")
        position += 4
        if size > len(data) - position:
            break  # truncated or not length-prefixed at all: keep what was whole
        units.append(data[position : position + size])
        position += size
    return units


def _read_sei_messages(rbsp: bytes) -> int | None:
    """Walk the sei_message()s of an SEI RBSP; the time of ours, if present."""
    position = 0
    while position < len(rbsp) and rbsp[position:] != _RBSP_STOP:
        payload_type, position = _read_sei_number(rbsp, position)
        payload_size, position = _read_sei_number(rbsp, position)
        if position < 0 or position + payload_size > len(rbsp):
            return None
        payload = rbsp[position : position + payload_size]
        position += payload_size
        if (
            payload_type == USER_DATA_UNREGISTERED
            and payload_size >= _PAYLOAD_SIZE
            and payload.startswith(RECORDED_TIME_UUID)
        ):
            return int.from_bytes(payload[16:_PAYLOAD_SIZE], "big")
    return None


def _read_sei_number(rbsp: bytes, position: int) -> tuple[int, int]:
    """payloadType or payloadSize: 0xFF bytes add 255 each, the last byte ends it."""
    value = 0
    while 0 <= position < len(rbsp):
        byte = rbsp[position]
        position += 1
        value += byte
        if byte != 0xFF:
            return value, position
    return value, -1


def _add_emulation_prevention(rbsp: bytes) -> bytes:
    """Insert 0x03 after every two zero bytes followed by a byte <= 3 (§7.4.1)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def _remove_emulation_prevention(payload: bytes) -> bytes:
    if b"\x00\x00\x03" not in payload:
        return payload
    out = bytearray()
    zeros = 0
    for byte in payload:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)
