"""A new REGISTER refused 503 during overload, read no further than its answer needs.

Past capacity the registrar answers a share of new registrations 503 (Retry-After). At
twice capacity that is half of every first-leg REGISTER, and each cost as much to refuse
as to challenge: the express scan checks every header the registrar reads (URIs, Expires,
Contact), and that work was what the platform had too little of. `first_leg` and
`shed_fields` read what a 503 echoes (RFC 3261 §8.2.6.2: Via, From, To, Call-ID, CSeq),
a third of the scan's work, so that the refusals leave the core to the registrations it
admits.

Only requests in the plain shape are read here: one of each of those headers in its
common spelling, CRLF line ends, ASCII, no folding, a Via without `received` or `rport=`.
Anything else returns None and takes the express scan or the general path as before, so
an unusual REGISTER is refused exactly as it always was. `AdmissionDraw` makes the
gate's random draw once per REGISTER, whichever of the two places refuses it. No I/O, no
clock.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import NamedTuple

from farmwatch.sipserver.sip.express import MAX_EXPRESS_SIZE, is_plain_name_addr, plain_via

__all__ = ["AdmissionDraw", "ShedRequest", "first_leg", "shed_fields"]

_AUTHORIZATION = re.compile(rb"\n[ \t]*authorization[ \t]*:", re.IGNORECASE)
# The header spellings read here; each other header is skipped unless it is one of these
# in another spelling (compact or other case), which the general readers would take.
_VIA, _FROM, _TO, _CALL_ID, _CSEQ = range(5)
_EXACT = {"Via": _VIA, "From": _FROM, "To": _TO, "Call-ID": _CALL_ID, "CSeq": _CSEQ}
_OTHER_SPELLINGS = frozenset({"via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"})
_CSEQ_REGISTER = re.compile(r"([0-9]{1,10}) +REGISTER")


class ShedRequest(NamedTuple):
    """What the 503 echoes (an `express.Echoed`), and whether the request had X-GB-Ver."""

    via: str
    via_host: str
    from_: str
    to: str
    call_id: str
    cseq: str
    gb: bool


def first_leg(data: bytes) -> bool:
    """A REGISTER without credentials: a new registration (or a refresh starting over),
    the kind the registrar sheds; those under way carry Authorization and are served."""
    return data.startswith(b"REGISTER ") and _AUTHORIZATION.search(data) is None


def shed_fields(data: bytes) -> ShedRequest | None:
    """What a response to the first-leg REGISTER `data` echoes; None when it is not in
    the plain shape (see the module docstring)."""
    head_end = data.find(b"\r\n\r\n", 0, MAX_EXPRESS_SIZE)
    if head_end < 0:
        return None
    try:
        head = data[:head_end].decode("ascii")
    except UnicodeDecodeError:
        return None
    lines = head.split("\r\n")
    if not "".join(lines).isprintable():
        return None  # tabs, bare CR or LF, controls
    slots: list[str | None] = [None] * 5
    gb = False
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        slot = _EXACT.get(name)
        if slot is None:
            if not colon or line[:1] == " ":
                return None  # no colon, or a folded continuation line
            lname = name.rstrip(" ").lower()
            if lname in _OTHER_SPELLINGS:
                return None
            gb = gb or lname == "x-gb-ver"
            continue
        if slots[slot] is not None:
            return None  # two Vias, or a repeated header: not plain
        slots[slot] = value.strip(" ")
    via, from_, to, call_id, cseq = slots
    if not via or not from_ or not to or not call_id or not cseq:
        return None
    cseq_match = _CSEQ_REGISTER.fullmatch(cseq)
    if cseq_match is None or int(cseq_match[1]) >= 2**31:
        return None
    if not is_plain_name_addr(from_) or not is_plain_name_addr(to):
        return None
    via_match = plain_via(via)
    if via_match is None:
        return None
    return ShedRequest(via, via_match[2], from_, to, call_id, cseq, gb)


class AdmissionDraw:
    """Whether to take on one more new registration: every one while `share()` is 1.0,
    that share of them, drawn at random, below it.

    One REGISTER is asked about twice when it is not refused early (here, then by the
    registrar): `refuse_early` holds its draw for the registrar, so that each REGISTER is
    drawn once and the gate's share is the share admitted.
    """

    def __init__(
        self, share: Callable[[], float], draw: Callable[[], float] = random.random
    ) -> None:
        self._share = share
        self._draw = draw
        self._held: bool | None = None

    @property
    def is_shedding(self) -> bool:
        return self._share() < 1.0

    def admits(self) -> bool:
        if self._held is not None:
            return self._held
        share = self._share()
        return share >= 1.0 or self._draw() < share

    def refuse_early(
        self,
        data: bytes,
        refuse: Callable[[ShedRequest], None],
        read_on: Callable[[], bool],
    ) -> bool:
        """For the first-leg REGISTER `data`: when the draw refuses it and it is plain,
        `refuse` its fields (answer 503) and True; otherwise `read_on()` (the usual
        reading, whose registrar gets this same draw from `admits`) and what it says."""
        admitted = self.admits()
        if not admitted:
            request = shed_fields(data)
            if request is not None:
                refuse(request)
                return True
        self._held = admitted
        try:
            return read_on()
        finally:
            self._held = None
