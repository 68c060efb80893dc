"""Every parser that reads bytes from the network, as a fuzz target: bytes in, typed errors out.

A target feeds one input to one parser and lets through only the exceptions that parser
documents; anything else escaping (a `ValueError` from `int()`, an `IndexError`, a
`RecursionError`) is a crash. Where two readers must agree (the express scan and the
general parser, the keepalive shortcut and the XML parser) the target checks that too.
Stream parsers are fed the input in pieces whose size the input's first byte chooses.
Seeds come from tests/data (and the SPS literals here).
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from farmwatch.media.errors import FramingError, MediaError, RtpParseError
from farmwatch.media.frames import Codec
from farmwatch.media.nal import (
    extract_parameter_sets,
    is_keyframe,
    parse_sps_size,
    sniff_video_codec,
    split_nal_units,
)
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.rfc4571 import Rfc4571Deframer, frame
from farmwatch.media.rtp import (
    ReportBlock,
    RtpPacket,
    build_receiver_report,
    is_rtcp,
    parse_rtcp,
)
from farmwatch.media.sinks.webrtc_offer import InvalidOffer, check_offer
from farmwatch.platform.services.alarm_service import alarm_from_notify
from farmwatch.platform.services.position_service import is_on_earth, track_points
from farmwatch.sipserver.gb.device_config import (
    BasicParam,
    ConfigError,
    config_from_mapping,
    config_to_mapping,
)
from farmwatch.sipserver.gb.manscdp import (
    AlarmNotify,
    ConfigDownloadQuery,
    ConfigDownloadResponse,
    DeviceConfigControl,
    DeviceControl,
    MobilePositionNotify,
    PresetQueryResponse,
    PtzCommand,
    PtzPositionResponse,
)
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp, parse_manscdp_xml, plain_keepalive
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.gb.mansrtsp import (
    MansrtspError,
    parse_mansrtsp_request,
    parse_mansrtsp_response,
)
from farmwatch.sipserver.gb.ptz import PtzCmdError, decode_ptz_cmd
from farmwatch.sipserver.sip.digest import DigestChallenge, DigestCredentials
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.express import scan_express
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.parser import (
    MalformedMessage,
    ParserLimits,
    StreamParser,
    is_keepalive_ping,
    parse_message,
)
from farmwatch.sipserver.sip.sdp import SdpError, parse_sdp
from farmwatch.sipserver.sip.transaction_effects import TransactionKey
from tests.unit.sip.express_agreement import assert_agrees

DATA = Path(__file__).resolve().parents[1] / "data"
MAX_INPUT = 8192
"""Inputs are at most this long (libFuzzer's -max_len): no parser may take long on them."""
EXPRESS_METHODS = frozenset({"REGISTER", "MESSAGE"})
_SMALL_LIMITS = ParserLimits(max_message_size=4096, max_headers=20, max_body=2048)


@dataclass(frozen=True)
class Target:
    """One parser under fuzzing: how to feed it, and where its seeds come from."""

    name: str
    run: Callable[[bytes], None]
    seeds: Callable[[], list[bytes]]


_ZONE = ZoneInfo("Asia/Shanghai")
_RECEIVED = datetime(2024, 3, 15, 2, 30, tzinfo=UTC)


def pieces(data: bytes) -> list[bytes]:
    """`data[1:]` cut in pieces of the size its first byte says (0: whole)."""
    if not data:
        return []
    size, rest = data[0], data[1:]
    if size == 0:
        return [rest]
    return [rest[at : at + size] for at in range(0, len(rest), size)]


def _text(data: bytes) -> str:
    """Header text as the SIP parser decodes it: UTF-8, else latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# -- SIP ------------------------------------------------------------------------------------


def _read_everything(message: object) -> None:
    """Every typed accessor of a parsed message: each may refuse with RemoteProtocolError."""
    readers: list[Callable[[], object]] = [
        lambda: message.top_via,  # type: ignore[attr-defined]
        lambda: message.vias,  # type: ignore[attr-defined]
        lambda: message.cseq,  # type: ignore[attr-defined]
        lambda: message.from_,  # type: ignore[attr-defined]
        lambda: message.to,  # type: ignore[attr-defined]
        lambda: message.contact,  # type: ignore[attr-defined]
        lambda: message.expires,  # type: ignore[attr-defined]
        lambda: message.content_type,  # type: ignore[attr-defined]
        lambda: TransactionKey.of(message),  # type: ignore[arg-type]
    ]
    if isinstance(message, SipRequest):
        readers.append(lambda: message.request_uri)
    for read in readers:
        with contextlib.suppress(RemoteProtocolError):
            read()


def sip_datagram(data: bytes) -> None:
    is_keepalive_ping(data)
    try:
        message = parse_message(data)
    except MalformedMessage as error:
        if error.partial is not None:
            _read_everything(error.partial)
        return
    _read_everything(message)
    message.to_bytes()


def sip_stream(data: bytes) -> None:
    parser = StreamParser(_SMALL_LIMITS)
    try:
        for piece in pieces(data):
            for item in parser.feed(piece):
                if not isinstance(item, MalformedMessage):
                    _read_everything(item)
    except RemoteProtocolError:
        return
    assert parser.buffered <= _SMALL_LIMITS.max_message_size


def sip_express(data: bytes) -> None:
    express = scan_express(data, EXPRESS_METHODS)
    if express is not None:
        assert_agrees(data, express)


def digest(data: bytes) -> None:
    text = _text(data)
    for parse in (DigestCredentials.parse, DigestChallenge.parse):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)


def sdp(data: bytes) -> None:
    with contextlib.suppress(SdpError):
        parse_sdp(data)


# -- GB/T 28181 -----------------------------------------------------------------------------


def manscdp(data: bytes) -> None:
    keepalive = plain_keepalive(data)
    with contextlib.suppress(ManscdpError):
        parse_manscdp(data)
    if keepalive is not None:
        assert keepalive == parse_manscdp_xml(data), "the keepalive shortcut disagrees"


def manscdp_device(data: bytes) -> None:
    """The device-control readers, and what the platform then does with what they read."""
    try:
        message = parse_manscdp(data)
    except ManscdpError:
        return
    match message:
        case ConfigDownloadResponse(blocks=blocks) | DeviceConfigControl(blocks=blocks):
            for block in blocks:
                config_to_mapping(block)
                BasicParam.from_element(block)
        case DeviceControl(command=PtzCommand(hex_code=code)):
            with contextlib.suppress(PtzCmdError):
                decode_ptz_cmd(code)
        case PresetQueryResponse() | PtzPositionResponse() | ConfigDownloadQuery():
            pass


def device_reports(data: bytes) -> None:
    """Alarms and mobile positions, and what the platform stores of them (pure parts)."""
    try:
        message = parse_manscdp(data)
    except ManscdpError:
        return
    match message:
        case AlarmNotify():
            alarm_from_notify(message.device_id or "0", message, _RECEIVED, _ZONE)
        case MobilePositionNotify():
            points, refused = track_points(message.device_id, message, _RECEIVED, _ZONE)
            assert len(points) + refused == len(message.positions)
            assert all(is_on_earth(p.longitude, p.latitude) for p in points)


def config_json(data: bytes) -> None:
    """A `PUT /api/devices/{id}/config` body: JSON, then each family checked."""
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        return
    if not isinstance(body, dict):
        return
    for family, value in body.items():
        with contextlib.suppress(ConfigError):
            config_from_mapping(family, value)


def mansrtsp(data: bytes) -> None:
    """Playback control from an upper platform (INFO) and a device's answer to ours."""
    for parse in (parse_mansrtsp_request, parse_mansrtsp_response):
        with contextlib.suppress(MansrtspError):
            parse(data)


def ptz(data: bytes) -> None:
    """`<PTZCmd>` text an upper platform sends down (forwarded when `allow_ptz`)."""
    with contextlib.suppress(PtzCmdError):
        decode_ptz_cmd(_text(data))


# -- web --------------------------------------------------------------------------------------


def webrtc_offer(data: bytes) -> None:
    """A browser's WebRTC offer, checked before aiortc may see it."""
    with contextlib.suppress(InvalidOffer):
        check_offer(_text(data))


# -- media ----------------------------------------------------------------------------------


def rtp(data: bytes) -> None:
    with contextlib.suppress(RtpParseError):
        RtpPacket.parse(data).serialize()
    is_rtcp(data)
    with contextlib.suppress(RtpParseError):
        parse_rtcp(data)


def rfc4571(data: bytes) -> None:
    deframer = Rfc4571Deframer(max_frame_size=2048)
    try:
        for piece in pieces(data):
            for packet in deframer.feed(piece):
                rtp(packet)
    except FramingError:
        return
    assert deframer.buffered <= 2048 + 4


def ps(data: bytes) -> None:
    demuxer = PsDemuxer(max_frame_size=64 * 1024)
    for index, piece in enumerate(pieces(data)):
        if index % 7 == 6:
            demuxer.mark_loss()
        demuxer.feed(piece, rtp_timestamp=index // 3 * 3600, marker=index % 3 == 2)
    demuxer.flush()
    demuxer.stats  # noqa: B018 - the counters must read too


def nal(data: bytes) -> None:
    units = split_nal_units(data)
    for codec in (Codec.H264, Codec.H265):
        is_keyframe(codec, data)
        extract_parameter_sets(codec, data)
        for unit in [data, *units]:
            if unit:
                sniff_video_codec(unit[0], unit[1] if len(unit) > 1 else 0)
            with contextlib.suppress(MediaError):
                parse_sps_size(codec, unit)


# -- seeds ----------------------------------------------------------------------------------


def _files(pattern: str) -> list[bytes]:
    return [path.read_bytes()[:MAX_INPUT] for path in sorted(DATA.glob(pattern))]


def _sip_seeds() -> list[bytes]:
    return _files("sip/*.txt") + _files("sip/torture/*/*.dat")


def _stream_seeds() -> list[bytes]:
    messages = _sip_seeds()
    return [bytes([size]) + b"".join(messages[i : i + 2]) for i, size in enumerate([0, 1, 7, 64])]


def _sdp_seeds() -> list[bytes]:
    bodies = [data.partition(b"\r\n\r\n")[2] for data in _files("sip/torture/valid/*.dat")]
    gb = _files("sdp/gb_*.sdp")
    return [
        *gb,
        *(seed.replace(b"\r\n", b"\n") for seed in gb),
        *(b for b in bodies if b"v=0" in b),
    ]


def _digest_seeds() -> list[bytes]:
    return _files("digest/*.txt")


def _mansrtsp_seeds() -> list[bytes]:
    return _files("mansrtsp/*.txt")


def _ptz_seeds() -> list[bytes]:
    return [line.encode() for line in (DATA / "ptz/commands.txt").read_text().split()]


def _offer_seeds() -> list[bytes]:
    return _files("sdp/webrtc_*.sdp")


@functools.cache
def _ps_stream() -> bytes:
    return (DATA / "ps/gb_h265_160x120_30f.ps").read_bytes()


def _rtp_packets() -> list[bytes]:
    stream = _ps_stream()
    packets = [
        RtpPacket(96, sequence, sequence * 3600, 0x1234, stream[at : at + 200], sequence % 3 == 0)
        for sequence, at in enumerate(range(0, 1000, 200))
    ]
    wire = [packet.serialize() for packet in packets]
    report = ReportBlock(0x1234, 0, 0, 4, 0, 0, 0)
    return [*wire, build_receiver_report(0x5678, (report,), "farmwatch")]


def _rfc4571_seeds() -> list[bytes]:
    packets = _rtp_packets()
    framed = b"".join(frame(packet) for packet in packets)
    interleaved = b"".join(b"$\x00" + frame(packet) for packet in packets)
    return [bytes([0]) + framed, bytes([3]) + framed, bytes([200]) + interleaved]


def _ps_seeds() -> list[bytes]:
    stream = _ps_stream()
    return [bytes([0]) + stream[: MAX_INPUT - 1], bytes([255]) + stream[20000 : 20000 + 6000]]


H264_SPS = bytes.fromhex("6764000bacd942847e5840000003004000000c83c50a6580")
H265_SPS = bytes.fromhex(
    "42010101600000030090000003000003001ea014207965959a4932b9a02000000300200000030321"
)


def _nal_seeds() -> list[bytes]:
    frames = PsDemuxer().feed(_ps_stream()[:60000])
    annex_b = [bytes(frame_.data)[:MAX_INPUT] for frame_ in frames[:3]]
    return [H264_SPS, H265_SPS, b"\x00\x00\x01" + H264_SPS, *annex_b]


def _device_seeds() -> list[bytes]:
    names = ("device_*", "config_*", "preset_*", "ptz_position_*", "home_position_*",
             "cruise_track_*", "sd_card_*")  # fmt: skip
    return [seed for name in names for seed in _files(f"manscdp/{name}.xml")]


def _report_seeds() -> list[bytes]:
    return [
        seed for name in ("alarm_*", "mobile_position_*") for seed in _files(f"manscdp/{name}.xml")
    ]


def _config_seeds() -> list[bytes]:
    return _files("config/*.json")


def _manscdp_seeds() -> list[bytes]:
    return _files("manscdp/*.xml")


_REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.7:5060;rport;branch=z9hG4bK776asdhds\r\n"
    b"From: <sip:34020000001320000001@3402000000>;tag=1928301774\r\n"
    b"To: <sip:34020000001320000001@3402000000>\r\nCall-ID: a84b4c76e66710@192.0.2.7\r\n"
    b"CSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nExpires: 3600\r\nContent-Length: 0\r\n\r\n"
)
REGRESSIONS: tuple[tuple[str, bytes], ...] = (
    # Issue 13 item 7: digits int() refuses ("²" is byte 0xb2 in latin-1, "\xc2\xb2" in UTF-8).
    ("sip", _REGISTER.replace(b":5060;rport", b":\xb2;rport")),
    ("sip", _REGISTER.replace(b"CSeq: 1 ", "CSeq: ³923239 ".encode())),
    ("sip", _REGISTER.replace(b"3402000000>;tag", "3402000000:²>;tag".encode())),
    ("sip", _REGISTER.replace(b"Expires: 3600", "Expires: ²".encode())),
    # The seven kinds of request the express scan read and the general parser refused.
    ("express", _REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: 70\r\nMax-Forwards: 70")),
    ("express", _REGISTER.replace(b"Max-Forwards: 70", b"Max-Forwards: x")),
    ("express", _REGISTER.replace(b"<sip:34020000001320000001@3402000000>;tag=1928301774",
                                  b"sip:34020000001320000001@3402000000;tag=1928301774>")),
    ("express", _REGISTER.replace(b"@3402000000 SIP", b"@34020<00000 SIP")),
    ("express", _REGISTER.replace(b"@3402000000 SIP", b"@3402000000?x SIP")),
    ("express", _REGISTER.replace(b"Expires: 3600", b"Route: \r\nExpires: 3600")),
    ("express", _REGISTER.replace(b"Expires: 3600", b"Record-Route: <sip:p>,,\r\nExpires: 3600")),
    # MANSRTSP's CSeq and status code, read with isdigit(); a PTZCmd whose spaces fromhex
    # skipped (seven bytes, then an IndexError).
    ("mansrtsp", "PLAY RTSP/1.0\r\nCSeq: ²\r\n\r\n".encode()),
    ("mansrtsp", "RTSP/1.0 ²²² OK\r\nCSeq: 1\r\n\r\n".encode()),
    ("ptz", b"A50F  1234567890"),
    # The keepalive shortcut read ASCII under a utf-16 declaration.
    ("manscdp", b'<?xml version="1.0" encoding="utf-16"?>\r\n<Notify><CmdType>Keepalive'
                b"</CmdType><SN>7</SN><DeviceID>34020000001320000001</DeviceID><Status>OK"
                b"</Status></Notify>\r\n"),
)  # fmt: skip
"""Inputs that once crashed a target or made two readers disagree: seeds for ever."""


TARGETS: tuple[Target, ...] = (
    Target("sip", sip_datagram, _sip_seeds),
    Target("sip-stream", sip_stream, _stream_seeds),
    Target("express", sip_express, _sip_seeds),
    Target("sdp", sdp, _sdp_seeds),
    Target("digest", digest, _digest_seeds),
    Target("manscdp", manscdp, _manscdp_seeds),
    Target("rtp", rtp, _rtp_packets),
    Target("rfc4571", rfc4571, _rfc4571_seeds),
    Target("ps", ps, _ps_seeds),
    Target("nal", nal, _nal_seeds),
    Target("mansrtsp", mansrtsp, _mansrtsp_seeds),
    Target("ptz", ptz, _ptz_seeds),
    Target("webrtc-offer", webrtc_offer, _offer_seeds),
    Target("manscdp-device", manscdp_device, _device_seeds),
    Target("config-json", config_json, _config_seeds),
    Target("device-reports", device_reports, _report_seeds),
)
"""Index = the first byte of a multiplexed input (`run_one`), modulo their number."""


def run_one(data: bytes) -> None:
    """The multiplexed entry point: the first byte picks the target, the rest is its input."""
    if data:
        TARGETS[data[0] % len(TARGETS)].run(data[1:])


def seeds_of(target: Target) -> list[bytes]:
    """A target's seeds from tests/data, and its regressions."""
    return [*target.seeds(), *(data for name, data in REGRESSIONS if name == target.name)]


def corpus() -> list[bytes]:
    """Every target's seeds, prefixed with the target's index for `run_one`."""
    return [
        bytes([index]) + seed[: MAX_INPUT - 1]
        for index, target in enumerate(TARGETS)
        for seed in seeds_of(target)
    ]
