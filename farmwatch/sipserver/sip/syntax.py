"""Lexical rules every SIP reader shares: tokens and numbers (RFC 3261 §25.1).

One copy, so the general parser, the typed header values and the express scan accept the
same things: a second copy of a rule is how two readers of one message come to disagree.
"""

from __future__ import annotations

import re

TOKEN = re.compile(r"[A-Za-z0-9.!%*_+`'~-]+")
"""An RFC 3261 token: methods, header names, parameter names."""

MAX_DIGITS = 10
"""Longest number we read (CSeq, Content-Length, ports, Expires): 2**32 fits."""


def is_number(text: str) -> bool:
    """1 to 10 ASCII digits.

    `str.isdigit` alone is also true of digits `int()` refuses ("²", "٣"): every number a
    peer sends goes through this before `int()`.
    """
    return 0 < len(text) <= MAX_DIGITS and text.isascii() and text.isdigit()


def read_port(text: str) -> int | None:
    """A port 1..65535, or None when `text` is not one."""
    if not is_number(text):
        return None
    port = int(text)
    return port if 0 < port < 65536 else None
