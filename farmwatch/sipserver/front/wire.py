"""What travels between the platform and its SIP fronts (`[sip] fronts`), as bytes.

The channel is a Unix `SOCK_SEQPACKET` socket pair: the kernel keeps each packet whole and
in order, so no framing of ours is needed beyond the records inside a packet. A side
gathers the records of one loop turn into one packet (a registration storm would otherwise
cost a system call per record on each side). A packet is a list of `(tag, *fields)`
tuples in the standard library's `marshal` format: read and written in C, several times
faster than any framing of ours in Python (the platform's side of a storm spent a sixth of
its loop in a hand-written reader). `marshal` is for data a program trusts: both ends are
processes of the same platform, and nothing from the network reaches the channel other
than as a field's value.

Front to platform:
* `Forwarded`: a datagram the front does not decide, with its source; the platform reads
  it as if its own socket had received it (and answers from the same port).
* `Registered`: a REGISTER the front answered 200, for the platform's registration table.
* `KeepaliveSeen`: a keepalive the front answered 200, from the address it registered.
* `FrontCounts`: the front's totals so far, each second.

Platform to front:
* `Forget`: the platform's table no longer has the device registered through this front
  (offline, unregistered, or registered again elsewhere): its keepalives go to the platform.
* `PasswordChanged`: a device's password as enrolled (or no longer enrolled).

The records are named tuples: a storm makes thousands a second on each side, and a frozen
dataclass's `__init__` costs several times a tuple's. Pure: no I/O. `decode` raises
`WireError` on a packet it cannot read whole.
"""

from __future__ import annotations

import marshal
from typing import NamedTuple

__all__ = [
    "Forget",
    "Forwarded",
    "FrontCounts",
    "FrontRecord",
    "KeepaliveSeen",
    "PasswordChanged",
    "PlatformRecord",
    "Registered",
    "WireError",
    "decode",
    "encode",
]

_VERSION = 4  # marshal's format of Python 3.4 and newer


class WireError(ValueError):
    """A packet that does not read as whole records (a bug on the other side)."""


class Forwarded(NamedTuple):
    host: str
    port: int
    data: bytes


class Registered(NamedTuple):
    device_id: str
    host: str
    port: int
    contact: str
    granted: int
    """Seconds the registration was granted for."""
    call_id: str
    gb_version: str | None
    user_agent: str | None


class KeepaliveSeen(NamedTuple):
    device_id: str
    host: str
    port: int
    status: str | None
    """The keepalive's Status (OK, ERROR), None when it had none."""
    gb_version: str | None


class FrontCounts(NamedTuple):
    registered: int
    """REGISTERs answered 200."""
    challenged: int
    shed: int
    """New registrations answered 503 (the front's loop was behind)."""
    keepalives: int
    forwarded: int


class Forget(NamedTuple):
    device_id: str


class PasswordChanged(NamedTuple):
    device_id: str
    enrolled: bool
    password: str | None
    """None: the platform's default password (when enrolled)."""


FrontRecord = Forwarded | Registered | KeepaliveSeen | FrontCounts
PlatformRecord = Forget | PasswordChanged
Record = FrontRecord | PlatformRecord

_TAGS: dict[type[Record], int] = {
    Forwarded: 1, Registered: 2, KeepaliveSeen: 3, FrontCounts: 4, Forget: 5, PasswordChanged: 6,
}  # fmt: skip
_TYPES = {tag: kind for kind, tag in _TAGS.items()}
_ARITY = {tag: len(kind._fields) for kind, tag in _TAGS.items()}


def encode(records: list[Record]) -> bytes:
    """One packet holding `records` in order."""
    return marshal.dumps([(_TAGS[type(record)], *record) for record in records], _VERSION)


def decode(packet: bytes) -> list[Record]:
    """The records of one packet, in order."""
    try:
        items = marshal.loads(packet)
    except (EOFError, ValueError, TypeError) as error:
        raise WireError(f"packet of {len(packet)} bytes does not read: {error}") from error
    if not isinstance(items, list):
        raise WireError(f"packet holds a {type(items).__name__}, not a list of records")
    records: list[Record] = []
    for item in items:
        if not isinstance(item, tuple) or not item:
            raise WireError(f"record {len(records)} is not a tagged tuple")
        tag = item[0]
        kind = _TYPES.get(tag)
        if kind is None or len(item) - 1 != _ARITY[tag]:
            raise WireError(f"record {len(records)}: unknown tag {tag!r} or wrong field count")
        records.append(kind._make(item[1:]))
    return records
