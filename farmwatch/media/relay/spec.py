"""What the platform says and hears about a relay: plain values that cross the node API.

Owns the values of relaying a stream to an upper platform as PS over RTP (gb28181.md §9.2
item 3, field-notes §2.4 "transport matrix"): `RelaySpec` (where and how the upper takes the
media: the `c=`/`m=` of its offer, its `a=setup`, its `y=` SSRC), `RelayInfo` (what our
200 OK's SDP needs: the address and port we send from or listen on), `RelayStats`, and the
closed sets: transports, states, and why a relay ended by itself. Pure.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from farmwatch.media.errors import MediaError

__all__ = [
    "RelayEndReason",
    "RelayInfo",
    "RelaySpec",
    "RelayState",
    "RelayStats",
    "RelayTransport",
]


class RelayTransport(enum.StrEnum):
    """How the upper takes the media, from its offer (gb28181.md §6.5: reason from `setup`)."""

    UDP = "udp"
    TCP_CONNECT = "tcp-connect"
    """The upper offered `a=setup:passive` (it listens): we connect to its `c=`:`m=`."""
    TCP_LISTEN = "tcp-listen"
    """The upper offered `a=setup:active` (it connects): we listen on the port of our answer,
    and take its connection from its `c=` host only."""


class RelayState(enum.StrEnum):
    OPEN = "open"
    """Port taken (listening, or connecting for TCP_CONNECT); nothing sent before `start`."""
    WAITING = "waiting"
    """Started, but the TCP connection is not up yet."""
    SENDING = "sending"
    CLOSED = "closed"


class RelayEndReason(enum.StrEnum):
    """Why a relay ended by itself (`NodeListener.relay_closed`)."""

    PEER_CLOSED = "peer-closed"
    """The upper closed or reset the TCP connection (or sent RTCP BYE)."""
    PEER_UNREACHABLE = "peer-unreachable"
    """UDP: ICMP port unreachable answered our packets for `relay_unreachable_timeout`."""
    RTCP_TIMEOUT = "rtcp-timeout"
    """UDP: the upper's RTCP reports stopped for `relay_rtcp_timeout`."""
    STREAM_ENDED = "stream-ended"
    """The relayed stream closed (device BYE, end of the recording, media stopped...)."""
    CONNECT_TIMEOUT = "connect-timeout"
    """TCP_LISTEN: the upper did not connect within `relay_connect_timeout` of the start."""
    CONNECT_FAILED = "connect-failed"
    """TCP_CONNECT: every attempt to connect to the upper failed."""
    NODE_LOST = "node-lost"
    """The media worker holding the relay died."""
    FAILED = "failed"
    """Sending failed in a way the relay cannot go on from (our bug: logged)."""


@dataclass(frozen=True, slots=True)
class RelaySpec:
    """Where to relay a stream: the upper's offer."""

    host: str
    """The upper's media address (`c=`, an IP address); for TCP_LISTEN the only host allowed
    to connect."""
    port: int
    """The upper's media port (`m=`); ignored for TCP_LISTEN."""
    transport: RelayTransport
    ssrc: int
    """The SSRC of every packet we send (the upper's `y=`, or one we chose)."""
    payload_type: int = 96

    def __post_init__(self) -> None:
        if not 0 <= self.ssrc <= 0xFFFFFFFF:
            raise MediaError(f"relay ssrc: expected 0..2**32-1, got {self.ssrc}")
        if not 0 <= self.payload_type <= 127:
            raise MediaError(f"relay payload_type: expected 0..127, got {self.payload_type}")
        if self.transport is not RelayTransport.TCP_LISTEN and not 0 < self.port < 65536:
            raise MediaError(f"relay port: expected 1..65535, got {self.port}")


@dataclass(frozen=True, slots=True)
class RelayInfo:
    """What the 200 OK's SDP needs."""

    relay_id: str
    local_host: str
    """The node's advertised (else media) host, for `c=`."""
    local_port: int
    """The port we send from (UDP, TCP_CONNECT) or listen on (TCP_LISTEN), for `m=`."""


@dataclass(frozen=True, slots=True)
class RelayStats:
    relay_id: str
    packets_sent: int
    """RTP packets handed to the socket."""
    bytes_sent: int
    """Their bytes (RTP headers and payloads; without the RFC 4571 length prefix)."""
    frames_dropped: int
    """Frames not sent because the upper could not keep up (dropped up to a key frame)."""
    state: str
    """A `RelayState` value."""
