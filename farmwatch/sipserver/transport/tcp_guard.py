"""What a SIP TCP peer may hold, and for how long: the pure decisions under `tcp.py`.

Driven by calls with `now` (no clock, no I/O, no logging), so every rule is tested in
virtual time:

* `Admission` counts connections per remote host (`address_key`: IPv4 address or IPv6
  /64) and in total. An inbound connection is refused when its host already holds
  `max_per_address` inbound ones, or when all connections together reach
  `max_connections` less a share kept for outbound ones. An outbound connection (the
  platform reaching a device or an upper platform) is not counted per host, it chose to
  open it, and only needs a free slot under `max_connections`. A flood from many addresses
  therefore fills at most the inbound share and never stops the platform from reaching its
  own peers.
* `ConnectionClock` holds one connection's deadlines. Once the first byte of a message
  is buffered, the whole message must arrive within `message_timeout`; an inbound
  connection must deliver its first complete message within `message_timeout` of being
  accepted. Only complete SIP messages count as activity: CRLF keep-alive pings (RFC 5626
  §3.5.1), which the stream parser skips, never start a message nor reset the idle clock,
  so a connection carrying nothing but pings ends `idle_timeout` after its last message.
* Refusals and closes are logged through a `sip.bursts.BurstLog` keyed by (kind, host):
  the first per burst, then one summary when the burst ends or every interval while it
  lasts; past its key bound, further hosts share one `OTHER_HOSTS` burst per kind.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum


class Refusal(Enum):
    """Why a connection was not admitted (inbound: closed as soon as it was accepted)."""

    PER_ADDRESS = "per_address"
    """Its host already holds `max_per_address` connections."""
    TOTAL_CAP = "total_cap"
    """All connections together reached the inbound share of `max_connections`."""
    OUTBOUND = "outbound"
    """An outbound connection not attempted: `max_connections` reached."""


class CloseReason(Enum):
    """Why the transport closed an open connection on its own."""

    MESSAGE_TIMEOUT = "message_timeout"
    """A message was begun and not complete within `message_timeout`."""
    SILENT = "silent"
    """Inbound and nothing at all arrived within `message_timeout` of the accept."""
    PING_ONLY = "ping_only"
    """Only keep-alive pings since the accept (or the last message), past the deadline."""
    IDLE = "idle"
    """No message for `idle_timeout`, and no pings either."""


@dataclass(frozen=True, slots=True)
class TcpLimits:
    """How many TCP connections, and how long a message or a silence may take (seconds)."""

    max_connections: int = 10000
    max_per_address: int = 64
    message_timeout: float = 20.0
    idle_timeout: float = 3600.0

    @property
    def outbound_reserve(self) -> int:
        """Slots inbound connections cannot take: a tenth of the total, at most 256."""
        if self.max_connections < 2:
            return 0
        return max(1, min(256, self.max_connections // 10))


@dataclass(frozen=True, slots=True)
class TcpStats:
    """Counters of one TCP transport since it started, and its connections now."""

    connections: int
    """Open now (or being opened, outbound), both directions."""
    inbound: int
    outbound: int
    addresses: int
    """Remote hosts with at least one inbound connection open."""
    max_connections: int
    max_per_address: int
    refused_per_address: int
    refused_total_cap: int
    refused_outbound: int
    """Outbound connections not attempted because `max_connections` was reached."""
    accept_errors: int
    """accept() failures (EMFILE and the like); each pauses accepting briefly."""
    message_timeouts: int
    silent_closed: int
    ping_only_closed: int
    idle_closed: int


def address_key(host: str) -> str:
    """What the per-address cap counts by: the IPv4 address, or the IPv6 /64.

    One IPv6 subscriber holds a whole /64 (RFC 6177), so counting single IPv6 addresses
    would let one host take the cap 2^64 times over.
    """
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.partition("%")[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


class Admission:
    """Connections counted per remote host and in total; who may open one more."""

    def __init__(self, limits: TcpLimits) -> None:
        self._limits = limits
        self._per_host: dict[str, int] = {}
        self.inbound = 0
        self.outbound = 0
        self.refused: dict[Refusal, int] = dict.fromkeys(Refusal, 0)

    @property
    def total(self) -> int:
        return self.inbound + self.outbound

    @property
    def addresses(self) -> int:
        return len(self._per_host)

    def held_by(self, host: str) -> int:
        return self._per_host.get(host, 0)

    def admit_inbound(self, host: str) -> Refusal | None:
        """None when admitted (and counted until `release_inbound`), else why not."""
        held = self._per_host.get(host, 0)
        if held >= self._limits.max_per_address:
            refusal: Refusal | None = Refusal.PER_ADDRESS
        elif self.total >= self._limits.max_connections - self._limits.outbound_reserve:
            refusal = Refusal.TOTAL_CAP
        else:
            refusal = None
        if refusal is not None:
            self.refused[refusal] += 1
            return refusal
        self._per_host[host] = held + 1
        self.inbound += 1
        return None

    def release_inbound(self, host: str) -> None:
        held = self._per_host.get(host, 0)
        if held <= 1:
            self._per_host.pop(host, None)
        else:
            self._per_host[host] = held - 1
        self.inbound = max(0, self.inbound - 1)

    def admit_outbound(self) -> bool:
        """True when admitted (and counted until `release_outbound`)."""
        if self.total >= self._limits.max_connections:
            self.refused[Refusal.OUTBOUND] += 1
            return False
        self.outbound += 1
        return True

    def release_outbound(self) -> None:
        self.outbound = max(0, self.outbound - 1)


class ConnectionClock:
    """One connection's message and idle deadlines; see the module docstring."""

    __slots__ = ("_inbound", "_last_message_at", "_message_started_at", "_opened_at", "_pings")

    def __init__(self, now: float, *, inbound: bool) -> None:
        self._inbound = inbound
        self._opened_at = now
        self._last_message_at: float | None = None
        self._message_started_at: float | None = None
        self._pings = False

    def received(self, now: float, *, messages: int, pending: bool) -> None:
        """Bytes arrived: `messages` completed by them, `pending` if a message is begun.

        Bytes that neither completed nor began a message were keep-alive pings.
        """
        if messages:
            self._last_message_at = now
            self._pings = False
            self._message_started_at = now if pending else None
        elif pending:
            if self._message_started_at is None:
                self._message_started_at = now
        else:
            self._pings = True

    def deadline(self, limits: TcpLimits) -> float:
        """The earliest `now` at which `expired` may return a reason."""
        if self._last_message_at is None and self._inbound:
            return self._opened_at + limits.message_timeout
        if self._message_started_at is not None:
            return self._message_started_at + limits.message_timeout
        last = self._opened_at if self._last_message_at is None else self._last_message_at
        return last + limits.idle_timeout

    def expired(self, now: float, limits: TcpLimits) -> CloseReason | None:
        """Why the connection must close at `now`, or None while it may stay."""
        if now < self.deadline(limits):
            return None
        if self._message_started_at is not None:
            return CloseReason.MESSAGE_TIMEOUT
        if self._pings:
            return CloseReason.PING_ONLY
        if self._inbound and self._last_message_at is None:
            return CloseReason.SILENT
        return CloseReason.IDLE


BurstKind = Refusal | CloseReason


OTHER_HOSTS = "other addresses"
"""The host name events are filed under once the burst log holds its most keys."""


def overflow_key(key: tuple[BurstKind, str]) -> tuple[BurstKind, str]:
    """Where the burst log files an event once it tracks as many hosts as it may."""
    return key[0], OTHER_HOSTS
