"""G.711 decoding (ITU-T G.711 A-law and µ-law), for what receives a voice broadcast or talk.

Owns turning A-law (and, for two-way talk, µ-law) bytes back into 16-bit linear samples: the
simulated camera checks with it that what it was sent is sound, not noise; the platform
plays a camera's voice to the browser with it. Encoding is PyAV's `pcm_alaw` encoder
(`audio_transcode.py`). Pure.
"""

from __future__ import annotations

__all__ = ["alaw_to_linear", "decode_alaw", "decode_ulaw", "ulaw_to_linear"]


def alaw_to_linear(code: int) -> int:
    """One A-law byte → its linear sample (-32256..32256)."""
    value = code ^ 0x55
    sign = value & 0x80
    exponent = (value >> 4) & 0x07
    mantissa = value & 0x0F
    step = (mantissa << 4) + (8 if exponent == 0 else 0x108)
    magnitude = step if exponent == 0 else step << (exponent - 1)
    return magnitude if sign else -magnitude


_TABLE = tuple(alaw_to_linear(code) for code in range(256))


def decode_alaw(data: bytes) -> list[int]:
    """A-law bytes → linear 16-bit samples."""
    table = _TABLE
    return [table[code] for code in data]


def ulaw_to_linear(code: int) -> int:
    """One µ-law byte → its linear sample (-32124..32124)."""
    value = ~code & 0xFF
    magnitude = (((value & 0x0F) << 3) + 0x84) << ((value >> 4) & 0x07)
    return 0x84 - magnitude if value & 0x80 else magnitude - 0x84


_ULAW_TABLE = tuple(ulaw_to_linear(code) for code in range(256))


def decode_ulaw(data: bytes) -> list[int]:
    """µ-law bytes → linear 16-bit samples."""
    table = _ULAW_TABLE
    return [table[code] for code in data]
