"""Relaying a stream to an upper platform as PS over RTP (DESIGN.md: the cascade's media path).

A relay re-sends a live stream's PS bytes as received (muxing frames only for a stream that
has none: a recording played from files) to the address of an upper platform's INVITE, over
UDP, TCP we connect, or TCP we listen on (gb28181.md §6.5, §9.2 item 3). The platform drives
relays through the node API (`farmwatch.media.node`: `open_relay`, `start_relay`,
`close_relay`, `relay_stats`; `NodeListener.relay_closed`); the values it uses live in
`spec.py` and are re-exported by `farmwatch.media.node`.
"""

from farmwatch.media.relay.spec import (
    RelayEndReason,
    RelayInfo,
    RelaySpec,
    RelayState,
    RelayStats,
    RelayTransport,
)

__all__ = [
    "RelayEndReason",
    "RelayInfo",
    "RelaySpec",
    "RelayState",
    "RelayStats",
    "RelayTransport",
]
