"""What travels between the platform and its SIP fronts (`[sip] fronts`), as bytes.

The channel is a Unix `SOCK_SEQPACKET` socket pair: the kernel keeps each packet whole and
in order, so no framing of ours is needed beyond the records inside a packet. A side
gathers the records of one loop turn into one packet (a registration storm would otherwise
cost a system call per record on each side). A record is a tag byte and its fields; a
field is a big-endian length (`H`, or `I` for a datagram) and that many bytes, 0xFFFF
standing for None. Strings are UTF-8.

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
`WireError` on bytes it cannot read whole.
"""

from __future__ import annotations

import struct
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

_SHORT = struct.Struct("!H")
_LONG = struct.Struct("!I")
_NONE = 0xFFFF
MAX_TEXT = 0xFFFE


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


def encode(records: list[Record]) -> bytes:
    """One packet holding `records` in order."""
    out = bytearray()
    for record in records:
        match record:
            case Forwarded(host=host, port=port, data=data):
                out += b"D"
                _text(out, host)
                out += _SHORT.pack(port) + _LONG.pack(len(data)) + data
            case Registered():
                out += b"R"
                _text(out, record.device_id)
                _text(out, record.host)
                out += _SHORT.pack(record.port)
                _text(out, record.contact)
                out += _LONG.pack(record.granted)
                _text(out, record.call_id)
                _text(out, record.gb_version)
                _text(out, record.user_agent)
            case KeepaliveSeen():
                out += b"K"
                _text(out, record.device_id)
                _text(out, record.host)
                out += _SHORT.pack(record.port)
                _text(out, record.status)
                _text(out, record.gb_version)
            case FrontCounts():
                out += b"C" + struct.pack(
                    "!5Q", record.registered, record.challenged, record.shed,
                    record.keepalives, record.forwarded,
                )  # fmt: skip
            case Forget(device_id=device_id):
                out += b"F"
                _text(out, device_id)
            case PasswordChanged(device_id=device_id, enrolled=enrolled, password=password):
                out += b"P"
                _text(out, device_id)
                out += b"\x01" if enrolled else b"\x00"
                _text(out, password)
    return bytes(out)


def _text(out: bytearray, value: str | None) -> None:
    if value is None:
        out += _SHORT.pack(_NONE)
        return
    raw = value.encode("utf-8", "surrogateescape")
    if len(raw) > MAX_TEXT:
        raise ValueError(f"text field of {len(raw)} bytes (at most {MAX_TEXT})")
    out += _SHORT.pack(len(raw)) + raw


class _Reader:
    __slots__ = ("data", "at")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, size: int) -> bytes:
        end = self.at + size
        if end > len(self.data):
            raise WireError(f"record cut short at byte {self.at} (needs {size} more)")
        chunk = self.data[self.at : end]
        self.at = end
        return chunk

    def short(self) -> int:
        return int(_SHORT.unpack(self.take(2))[0])

    def long(self) -> int:
        return int(_LONG.unpack(self.take(4))[0])

    def text(self) -> str | None:
        size = self.short()
        if size == _NONE:
            return None
        return self.take(size).decode("utf-8", "surrogateescape")

    def required(self) -> str:
        value = self.text()
        if value is None:
            raise WireError(f"a required text field is missing at byte {self.at}")
        return value


def decode(packet: bytes) -> list[Record]:
    """The records of one packet, in order."""
    reader = _Reader(packet)
    records: list[Record] = []
    while reader.at < len(packet):
        tag = reader.take(1)
        if tag == b"D":
            host = reader.required()
            port = reader.short()
            records.append(Forwarded(host, port, reader.take(reader.long())))
        elif tag == b"R":
            records.append(Registered(
                device_id=reader.required(), host=reader.required(), port=reader.short(),
                contact=reader.required(), granted=reader.long(), call_id=reader.required(),
                gb_version=reader.text(), user_agent=reader.text(),
            ))  # fmt: skip
        elif tag == b"K":
            records.append(KeepaliveSeen(
                device_id=reader.required(), host=reader.required(), port=reader.short(),
                status=reader.text(), gb_version=reader.text(),
            ))  # fmt: skip
        elif tag == b"C":
            records.append(FrontCounts(*struct.unpack("!5Q", reader.take(40))))
        elif tag == b"F":
            records.append(Forget(reader.required()))
        elif tag == b"P":
            device_id = reader.required()
            flag = reader.take(1)
            if flag not in (b"\x00", b"\x01"):
                raise WireError(f"enrolled flag {flag!r} is neither 0 nor 1")
            records.append(PasswordChanged(device_id, flag == b"\x01", reader.text()))
        else:
            raise WireError(f"unknown record tag {tag!r} at byte {reader.at - 1}")
    return records
