"""One-time upload addresses for device snapshots: a token takes at most its count of
uploads, only until it expires or the device finishes, and only JPEG bodies pass."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from farmwatch.platform.services.snapshot_uploads import (
    GRACE,
    KEEP_CLOSED,
    TooManySessions,
    UploadRefusal,
    UploadSession,
    UploadSessions,
    is_jpeg,
)

T0 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
DEVICE = "34020000001320000001"
CHANNEL = "34020000001320000002"


def _open(sessions: UploadSessions, token: str = "t1", count: int = 2) -> UploadSession:
    return sessions.open(
        token=token, session_id=f"s-{token}", channel_id=CHANNEL, device_id=DEVICE,
        count=count, interval=5, now=T0,
    )  # fmt: skip


def test_a_token_takes_its_count_of_uploads_then_no_more() -> None:
    sessions = UploadSessions()
    session = _open(sessions)
    assert session.expires_at == T0 + timedelta(seconds=10) + GRACE
    assert sessions.admit("t1", T0) is session
    assert sessions.admit("t1", T0 + timedelta(seconds=5)) is session
    assert sessions.admit("t1", T0 + timedelta(seconds=6)) is UploadRefusal.USED_UP
    assert sessions.admit("other", T0) is UploadRefusal.UNKNOWN


def test_an_expired_token_is_refused_and_later_forgotten() -> None:
    sessions = UploadSessions()
    session = _open(sessions)
    assert sessions.admit("t1", session.expires_at) is UploadRefusal.EXPIRED
    sessions.prune(session.expires_at + KEEP_CLOSED + timedelta(seconds=1))
    assert len(sessions) == 0
    assert sessions.admit("t1", session.expires_at) is UploadRefusal.UNKNOWN


def test_finishing_closes_the_token_for_its_device_only() -> None:
    sessions = UploadSessions()
    _open(sessions)
    assert sessions.finish("34020000001320000099", "s-t1", (), T0) is None
    finished = sessions.finish(DEVICE, "s-t1", ("a",), T0)
    assert finished is not None and finished.file_ids == ("a",)
    assert sessions.admit("t1", T0) is UploadRefusal.FINISHED
    assert sessions.finish(DEVICE, "unknown", (), T0) is None


def test_a_failed_request_forgets_its_token() -> None:
    sessions = UploadSessions()
    _open(sessions)
    sessions.close("t1")
    assert sessions.admit("t1", T0) is UploadRefusal.UNKNOWN


def test_open_sessions_are_bounded_but_used_ones_do_not_count() -> None:
    sessions = UploadSessions(max_open=2)
    _open(sessions, "a")
    _open(sessions, "b", count=1)
    with pytest.raises(TooManySessions):
        _open(sessions, "c")
    assert isinstance(sessions.admit("b", T0), UploadSession)  # b is used up now
    _open(sessions, "c")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xd8\xff\xe0" + b"x" * 10 + b"\xff\xd9", True),
        (b"\xff\xd8\xff\xdb" + b"x" * 10 + b"\xff\xd9\x00\x00\r\n", True),
        (b"\xff\xd8\xff\xe0" + b"x" * 10, False),  # cut short: no EOI
        (b"\x89PNG\r\n\x1a\n" + b"\xff\xd9", False),
        (b"", False),
        (b"\xff\xd8\xff\xd9", True),
    ],
)
def test_only_jpeg_bodies_pass(data: bytes, expected: bool) -> None:
    assert is_jpeg(data) is expected
