"""The `y=` SSRC of GB/T 28181 (2016 Annex F "y字段" and note 4; gb28181.md §6.3, §10 items 4, 16).

A GB SSRC is a 10-digit decimal string: digit 1 is `0` for live and `1` for history
(playback, download), digits 2-6 are digits 4-8 of the SIP domain or platform ID, digits
7-10 a number unique among the SSRCs in use. The RTP header carries the same number as a
32-bit integer (`0200000001` → 200000001 = 0x0BEBC201).

`Ssrc` is the value object (`.text`, `.value`, `.hex`); `Ssrc.parse` accepts what peers
send (1-10 decimal digits, ≤ 2³²-1) and `Ssrc.from_sdp` turns an answer's `y=` into the SSRC
to use, or None to keep ours (absent, `0000000000`, or garbage). `SsrcAllocator` hands out
(at random among the free ones) and takes back the 4-digit tails. Pure: no I/O, no clock;
randomness from an injectable `random.Random`. The sip layer is independent of
this package, so the errors are defined here.
"""

from __future__ import annotations

import random
import re
from collections import deque
from dataclasses import dataclass
from enum import IntEnum

MAX_SSRC = 2**32 - 1
_TAIL_LIMIT = 10_000
_QUARANTINE = 1000
_DECIMAL_RE = re.compile(r"[0-9]{1,10}")
_ID_DIGITS_RE = re.compile(r"[0-9]{8,20}")


class SsrcError(ValueError):
    """Text that is not an SSRC, or an ID an allocator cannot derive a prefix from."""


class SsrcExhausted(Exception):
    """Every 4-digit tail is in use: release streams before opening more."""


class SsrcKind(IntEnum):
    """The first digit of a GB SSRC."""

    LIVE = 0
    HISTORY = 1


@dataclass(frozen=True, slots=True, order=True)
class Ssrc:
    """An RTP SSRC as GB/T 28181 writes it in `y=`."""

    value: int

    def __post_init__(self) -> None:
        if not 0 <= self.value <= MAX_SSRC:
            raise SsrcError(f"SSRC out of range: {self.value}")

    @classmethod
    def parse(cls, text: str) -> Ssrc:
        """1-10 decimal digits (surrounding blanks ignored) not above 2³²-1."""
        stripped = text.strip()
        if _DECIMAL_RE.fullmatch(stripped) is None:
            raise SsrcError(f"not a decimal SSRC: {text[:20]!r}")
        return cls(int(stripped))

    @classmethod
    def from_sdp(cls, text: str | None) -> Ssrc | None:
        """The SSRC an answer asks us to use, or None to keep ours (§6.3, §10 item 16)."""
        if text is None:
            return None
        try:
            ssrc = cls.parse(text)
        except SsrcError:
            return None
        return ssrc if ssrc.value != 0 else None

    @property
    def text(self) -> str:
        """Zero-padded to the 10 digits `y=` requires."""
        return f"{self.value:010d}"

    @property
    def hex(self) -> str:
        """Upper-case 8-digit hex, as ZLMediaKit names the stream (`0BEBC201`)."""
        return f"{self.value:08X}"

    @property
    def kind(self) -> SsrcKind | None:
        """LIVE or HISTORY from the first digit; None for a non-GB value."""
        return SsrcKind(self.value // 10**9) if self.value < 2 * 10**9 else None

    @property
    def tail(self) -> int:
        return self.value % _TAIL_LIMIT

    def __str__(self) -> str:
        return self.text


def ssrc_prefix(domain_or_platform_id: str) -> str:
    """Digits 4-8 of the 10-digit domain or 20-digit ID (`3402000000` → `20000`)."""
    text = domain_or_platform_id.strip()
    if _ID_DIGITS_RE.fullmatch(text) is None:
        raise SsrcError(f"SSRC prefix needs a numeric domain or ID, got {text[:30]!r}")
    return text[3:8]


class SsrcAllocator:
    """Allocates GB SSRCs for one domain; tails 0001-9999 are shared by live and history.

    A tail is drawn at random among the free ones (`random.SystemRandom`, or the `rng` a
    test passes), so a stream's SSRC cannot be guessed from the ones before: with the port,
    it was all a stranger needed to have their RTP taken for the camera's (issue 13 item 5).
    The last `_QUARANTINE` released tails are drawn only when no other is free, so late
    packets of an old stream do not reach a new one. Tail 0000 is never used: with a
    `00000` prefix it would give `0000000000`, which peers read as "no SSRC".
    """

    def __init__(self, domain_or_platform_id: str, *, rng: random.Random | None = None) -> None:
        self.prefix = ssrc_prefix(domain_or_platform_id)
        self._rng = rng if rng is not None else random.SystemRandom()
        self._in_use: set[int] = set()
        self._free = list(range(1, _TAIL_LIMIT))  # drawn at random (swap with the last, pop)
        self._where = {tail: index for index, tail in enumerate(self._free)}
        self._released: deque[int] = deque()  # oldest first, not in `_free`

    def __len__(self) -> int:
        return len(self._in_use)

    def allocate(self, kind: SsrcKind) -> Ssrc:
        """A fresh SSRC; `SsrcExhausted` when all 9999 tails are in use."""
        if self._free:
            tail = self._free[self._rng.randrange(len(self._free))]
            self._take_free(tail)
        elif self._released:
            tail = self._released.popleft()
        else:
            raise SsrcExhausted(f"all {_TAIL_LIMIT - 1} SSRCs of prefix {self.prefix} in use")
        self._in_use.add(tail)
        return self._make(kind, tail)

    def reserve(self, ssrc: Ssrc) -> bool:
        """Mark an SSRC chosen elsewhere (an answer, an upper's INVITE) as in use.

        Returns False when it is not one of ours (another prefix) or its tail is taken.
        """
        if not self.owns(ssrc) or ssrc.tail in self._in_use:
            return False
        if ssrc.tail in self._where:
            self._take_free(ssrc.tail)
        else:
            self._released.remove(ssrc.tail)  # rare: a quarantined tail chosen elsewhere
        self._in_use.add(ssrc.tail)
        return True

    def release(self, ssrc: Ssrc) -> bool:
        """Give the tail back; False if the SSRC was not allocated or reserved here."""
        if not self.owns(ssrc) or ssrc.tail not in self._in_use:
            return False
        self._in_use.discard(ssrc.tail)
        self._released.append(ssrc.tail)
        if len(self._released) > _QUARANTINE:
            self._put_free(self._released.popleft())
        return True

    def owns(self, ssrc: Ssrc) -> bool:
        """True when `ssrc` has our prefix, a GB kind digit and a non-zero tail."""
        text = ssrc.text
        return ssrc.kind is not None and text[1:6] == self.prefix and ssrc.tail != 0

    def _take_free(self, tail: int) -> None:
        index = self._where.pop(tail)
        last = self._free.pop()
        if last != tail:
            self._free[index] = last
            self._where[last] = index

    def _put_free(self, tail: int) -> None:
        self._where[tail] = len(self._free)
        self._free.append(tail)

    def _make(self, kind: SsrcKind, tail: int) -> Ssrc:
        return Ssrc(int(f"{kind.value}{self.prefix}{tail:04d}"))
