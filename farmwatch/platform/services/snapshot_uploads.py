"""One-time upload addresses for pictures a device takes on request (SnapShotConfig;
issue 12 item 4), and the check that what arrives is a JPEG.

A device uploads without logging in (it has no account, only the URL it was given), so the
URL itself is the credential: an unguessable token in its path, opened for one channel,
taking at most `count` uploads and only until `expires_at` (the pictures' interval times
their number, plus a grace), and closed when the device reports UploadSnapShotFinished.
Every attempt takes one of the `count` places, so a token leaked in a log buys nothing
beyond them. Pure: the time and the tokens are passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

__all__ = [
    "GRACE",
    "MAX_OPEN",
    "UploadRefusal",
    "UploadSession",
    "TooManySessions",
    "UploadSessions",
    "is_jpeg",
]

GRACE = timedelta(seconds=120)
"""How long past its last picture's time a session still takes uploads (network, retries)."""
MAX_OPEN = 1000
"""Sessions open at once: beyond, a request is refused rather than memory grown."""
KEEP_CLOSED = timedelta(minutes=10)
"""How long an expired or finished session is remembered (to say so, not just 'unknown')."""

_SOI = b"\xff\xd8\xff"
_EOI = b"\xff\xd9"


def is_jpeg(data: bytes) -> bool:
    """A JPEG file: starts with SOI (and a marker), ends with EOI. Some encoders pad the
    end with zero bytes or a line break; those are allowed after the EOI."""
    return data.startswith(_SOI) and data.rstrip(b"\x00\r\n").endswith(_EOI)


class UploadRefusal(enum.StrEnum):
    UNKNOWN = "unknown upload address"
    EXPIRED = "upload address expired"
    USED_UP = "upload address used up"
    FINISHED = "upload session already finished"


@dataclass(slots=True)
class UploadSession:
    token: str
    session_id: str
    channel_id: str
    device_id: str
    count: int
    interval: int
    opened_at: datetime
    expires_at: datetime
    attempts: int = 0
    stored: int = 0
    finished_at: datetime | None = None
    file_ids: tuple[str, ...] = field(default=())

    def refusal(self, now: datetime) -> UploadRefusal | None:
        if self.finished_at is not None:
            return UploadRefusal.FINISHED
        if now >= self.expires_at:
            return UploadRefusal.EXPIRED
        if self.attempts >= self.count:
            return UploadRefusal.USED_UP
        return None


class TooManySessions(Exception):
    """`MAX_OPEN` sessions are open."""


class UploadSessions:
    def __init__(self, *, max_open: int = MAX_OPEN) -> None:
        self._by_token: dict[str, UploadSession] = {}
        self._max_open = max_open

    def __len__(self) -> int:
        return len(self._by_token)

    def open(
        self,
        *,
        token: str,
        session_id: str,
        channel_id: str,
        device_id: str,
        count: int,
        interval: int,
        now: datetime,
    ) -> UploadSession:
        """A new session; `TooManySessions` when `max_open` still take uploads."""
        self.prune(now)
        live = sum(1 for s in self._by_token.values() if s.refusal(now) is None)
        if live >= self._max_open:
            raise TooManySessions(f"{live} snapshot sessions are open")
        session = UploadSession(
            token=token, session_id=session_id, channel_id=channel_id, device_id=device_id,
            count=count, interval=interval, opened_at=now,
            expires_at=now + timedelta(seconds=count * interval) + GRACE,
        )  # fmt: skip
        self._by_token[token] = session
        return session

    def admit(self, token: str, now: datetime) -> UploadSession | UploadRefusal:
        """The session one upload belongs to (the attempt takes a place), or why not."""
        session = self._by_token.get(token)
        if session is None:
            return UploadRefusal.UNKNOWN
        refusal = session.refusal(now)
        if refusal is not None:
            return refusal
        session.attempts += 1
        return session

    def finish(
        self, device_id: str, session_id: str, file_ids: tuple[str, ...], now: datetime
    ) -> UploadSession | None:
        """The device said it is done: no more uploads. None for no such open session of it."""
        for session in self._by_token.values():
            if session.session_id == session_id and session.device_id == device_id:
                if session.finished_at is None:
                    session.finished_at = now
                    session.file_ids = file_ids
                return session
        return None

    def close(self, token: str) -> None:
        """Forget a session (its request failed: the device never got the address)."""
        self._by_token.pop(token, None)

    def prune(self, now: datetime) -> None:
        stale = [
            token
            for token, s in self._by_token.items()
            if (s.finished_at is not None and now - s.finished_at > KEEP_CLOSED)
            or now - s.expires_at > KEEP_CLOSED
        ]
        for token in stale:
            del self._by_token[token]
