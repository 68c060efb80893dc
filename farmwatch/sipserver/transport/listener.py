"""The callbacks a transport reports to, and the wire logger (RFC 3261 §18)."""

from __future__ import annotations

import logging
from typing import Protocol

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import MalformedMessage

wire_log = logging.getLogger("farmwatch.sipserver.wire")


class TransportListener(Protocol):
    """What a transport hands upward; called on the event loop, must not block."""

    def message_received(self, message: SipRequest | SipResponse, source: Address) -> None: ...

    def malformed_received(self, error: MalformedMessage, source: Address) -> None: ...

    def express_received(self, data: bytes, source: Address) -> bool:
        """Offered every datagram before it is parsed; True when it was handled."""
        ...

    def connection_closed(self, remote: Address) -> None:
        """A TCP connection closed (by the peer, an error, idleness or us); `remote` names it.

        Not called while the transport itself shuts down.
        """
        ...


def log_wire(direction: str, address: Address, data: bytes) -> None:
    """Dump a whole message at DEBUG on the wire logger (cheap when disabled)."""
    if wire_log.isEnabledFor(logging.DEBUG):
        wire_log.debug(
            "%s %s (%d bytes)\n%s",
            direction,
            address,
            len(data),
            data.decode("utf-8", errors="replace"),
        )
