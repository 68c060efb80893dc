"""What a relay's socket shell tells the relay, and what the relay asks of it.

Owns the two Protocols between `RelayOutput` and its transport (STYLE B3: reporting upward by
an injected listener): a `RelaySender` (UDP, TCP connecting, TCP listening) opens its socket
on the relay's port, sends packets, says how much is still unsent, and reports to its
`SenderListener`: the connection is up, the upper refused a datagram (ICMP port
unreachable), RTCP came from the upper, the connection ended.
"""

from __future__ import annotations

from typing import Protocol

from farmwatch.media.relay.spec import RelayEndReason

__all__ = ["RelaySender", "SenderListener"]


class SenderListener(Protocol):
    """The relay; called on the event loop."""

    def sender_connected(self) -> None:
        """The path to the upper is up (UDP: at once; TCP: connected or accepted)."""
        ...

    def sender_refused(self) -> None:
        """ICMP port unreachable for a datagram we sent (UDP)."""
        ...

    def sender_rtcp(self, data: bytes) -> None:
        """An RTCP packet from the upper (UDP)."""
        ...

    def sender_ended(self, reason: RelayEndReason) -> None:
        """The transport ended by itself (closed by the upper, never connected...)."""
        ...


class RelaySender(Protocol):
    @property
    def local_port(self) -> int: ...

    @property
    def backlog(self) -> int:
        """Bytes handed over and not yet given to the kernel (TCP; 0 for UDP)."""
        ...

    async def open(self) -> None:
        """Bind (and listen, or start connecting); raises `OSError` when the port is taken."""
        ...

    def send_packets(self, packets: list[bytes]) -> int:
        """Send datagrams in order; how many the socket took (fewer: it was full)."""
        ...

    def write(self, data: bytes) -> None:
        """Send a stream of framed packets (TCP)."""
        ...

    async def close(self) -> None:
        """Close the socket; idempotent."""
        ...
