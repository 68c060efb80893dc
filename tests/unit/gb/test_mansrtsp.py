"""MANSRTSP playback control bodies (gb28181.md §7, §11.6)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.mansrtsp import (
    MansrtspError,
    MansrtspMethod,
    MansrtspRequest,
    MansrtspResponse,
    build_mansrtsp_request,
    build_mansrtsp_response,
    format_scale,
    parse_mansrtsp_request,
    parse_mansrtsp_response,
)


@pytest.mark.parametrize(
    ("request_", "body", "length"),
    [
        (MansrtspRequest.speed(3, 2.0), "PLAY RTSP/1.0\r\nCSeq: 3\r\nScale: 2.0\r\n", 36),
        (MansrtspRequest.seek(4, 600), "PLAY RTSP/1.0\r\nCSeq: 4\r\nRange: npt=600-\r\n", 41),
        (MansrtspRequest.pause(5), "PAUSE RTSP/1.0\r\nCSeq: 5\r\nPauseTime: now\r\n", 41),
        (MansrtspRequest.resume(6), "PLAY RTSP/1.0\r\nCSeq: 6\r\nRange: npt=now-\r\n", None),
        (MansrtspRequest.teardown(7), "TEARDOWN RTSP/1.0\r\nCSeq: 7\r\n", None),
    ],
    ids=["scale", "seek", "pause", "resume", "teardown"],
)
def test_requests_are_the_reference_bodies(
    request_: MansrtspRequest, body: str, length: int | None
) -> None:
    built = build_mansrtsp_request(request_)
    assert built == body.encode()
    if length is not None:
        assert len(built) == length  # the byte counts §11.6 gives
    assert parse_mansrtsp_request(built) == request_


def test_requests_as_the_field_writes_them_are_read() -> None:
    # The standard's own example: MANSRTSP/1.0, Scale and Range together, LF line ends.
    parsed = parse_mansrtsp_request(b"PLAY MANSRTSP/1.0\nCSeq: 12\nScale: 1.0\nRange: npt=196-\n")
    assert parsed == MansrtspRequest(MansrtspMethod.PLAY, 12, scale=1.0, range_start=196.0)
    wvp = parse_mansrtsp_request(b"PLAY RTSP/1.0\r\nCSeq: 123456789\r\nScale: 4.000000\r\n\r\n")
    assert wvp.scale == 4.0 and wvp.cseq == 123456789
    reverse = parse_mansrtsp_request(
        b"play rtsp/1.0\r\ncseq: 1\r\nscale: -1\r\nrange: npt=0-3600\r\n"
    )
    assert (reverse.scale, reverse.range_start) == (-1.0, 0.0)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"GET RTSP/1.0\r\nCSeq: 1\r\n\r\n",
        b"PLAY HTTP/1.1\r\nCSeq: 1\r\n\r\n",
        b"PLAY RTSP/1.0\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: x\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: fast\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: 0\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\nScale: nan\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: npt=-5-\r\n\r\n",
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\nRange: clock=20240101T000000Z-\r\n\r\n",
        b"\xff\xfe",
        "PLAY RTSP/1.0\r\nCSeq: ²\r\n\r\n".encode(),  # a digit to isdigit(), not to int()
        b"PLAY RTSP/1.0\r\nCSeq: 1\r\n" + b"X: y\r\n" * 600,
    ],
)
def test_unreadable_requests_raise(body: bytes) -> None:
    with pytest.raises(MansrtspError):
        parse_mansrtsp_request(body)


def test_answers_with_and_without_rtp_info() -> None:
    nvr = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nRTP-Info: seq=3360;rtptime=1380000\r\n\r\n"
    assert parse_mansrtsp_response(nvr) == MansrtspResponse(
        200, "OK", 3, "seq=3360;rtptime=1380000"
    )
    plain = parse_mansrtsp_response(b"MANSRTSP/1.0 200 OK\nCSeq: 9\n")
    assert plain.is_success and plain.cseq == 9 and plain.rtp_info is None
    refused = parse_mansrtsp_response(build_mansrtsp_response(4, 457, "Invalid Range"))
    assert (refused.status, refused.reason, refused.is_success) == (457, "Invalid Range", False)
    with pytest.raises(MansrtspError):
        parse_mansrtsp_response(b"SIP/2.0 200 OK\r\n\r\n")
    with pytest.raises(MansrtspError):
        parse_mansrtsp_response("RTSP/1.0 ²²² OK\r\n".encode())
    assert parse_mansrtsp_response("RTSP/1.0 200 OK\r\nCSeq: ²\r\n".encode()).cseq is None


def test_scale_is_written_briefly() -> None:
    assert [format_scale(s) for s in (2, 0.25, 0.5, -1, 8, 1.0)] == [
        "2.0", "0.25", "0.5", "-1.0", "8.0", "1.0",
    ]  # fmt: skip


@given(
    st.integers(0, 2**31),
    st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0, 8.0, -1.0, -2.0]) | st.none(),
    st.floats(0, 86400, allow_nan=False).map(lambda s: round(s, 3)) | st.none(),
)
def test_every_play_request_reads_back(cseq: int, scale: float | None, start: float | None) -> None:
    request = MansrtspRequest(MansrtspMethod.PLAY, cseq, scale=scale, range_start=start)
    assert parse_mansrtsp_request(build_mansrtsp_request(request)) == request


def test_invalid_requests_cannot_be_built() -> None:
    with pytest.raises(ValueError):
        MansrtspRequest.seek(1, -3)
    with pytest.raises(ValueError):
        MansrtspRequest.speed(1, 0)
