"""Pure pieces of the media cluster: worker count, port shares, errors over the wire."""

from __future__ import annotations

import json

import pytest

from farmwatch.media.cluster import split_port_range, worker_count
from farmwatch.media.errors import InvalidOffer, MediaError
from farmwatch.media.events import MediaConnectFailed
from farmwatch.media.ports import PortsExhausted
from farmwatch.media.stream import StreamClosedError
from farmwatch.media.stream_core import CloseReason
from farmwatch.media.worker.wire import error_body, error_from_body


@pytest.mark.parametrize(
    ("setting", "cpus", "expected"),
    [(-1, 4, 4), (-1, 1, 0), (-1, None, 0), (0, 8, 0), (3, 1, 3)],
)
def test_worker_count(setting: int, cpus: int | None, expected: int) -> None:
    assert worker_count(setting, cpus) == expected


def test_port_range_shares_are_equal_even_aligned_and_disjoint() -> None:
    assert split_port_range("30000-30499", 2) == ["30000-30249", "30250-30499"]
    shares = split_port_range("30001-30100", 3)  # starts odd: the first pair is 30002/30003
    assert shares == ["30002-30033", "30034-30065", "30066-30097"]
    with pytest.raises(MediaError):
        split_port_range("30000-30001", 2)


@pytest.mark.parametrize(
    "error",
    [
        StreamClosedError(
            CloseReason.START_TIMEOUT,
            MediaConnectFailed(("192.0.2.7", 15060), 3, True, "connection refused"),
        ),
        StreamClosedError(CloseReason.MEDIA_STOPPED),
        InvalidOffer("no fingerprint"),
        PortsExhausted("all 250 RTP ports are in use"),
        MediaError("something else"),
    ],
)
def test_errors_cross_the_wire_as_the_same_types(error: MediaError) -> None:
    status, body = error_body(error)
    again = error_from_body(json.loads(json.dumps(body)))  # as the HTTP body carries it
    assert type(again) is type(error)
    assert status in (400, 409, 500, 503)
    if isinstance(error, StreamClosedError):
        assert isinstance(again, StreamClosedError)
        assert again.reason is error.reason and again.cause == error.cause
    else:
        assert str(again) == str(error)


def test_an_unreadable_error_body_is_still_a_media_error() -> None:
    assert isinstance(error_from_body("<html>"), MediaError)
    closed = error_from_body({"error": "StreamClosedError", "reason": "nonsense"})
    assert isinstance(closed, StreamClosedError) and closed.reason is CloseReason.REQUESTED
