"""Errors raised by the SIP part to the parts above it."""

from __future__ import annotations

from farmwatch.sipserver.sip.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.message import SipResponse

__all__ = [
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "SipError",
    "TransactionFailed",
    "TransactionTimeout",
]


class SipError(Exception):
    """Base of the errors `SipEndpoint.request` raises."""


class TransactionTimeout(SipError):
    """No final response before timer B/F (or the caller's own timeout)."""

    def __init__(self, method: str, destination: str) -> None:
        super().__init__(f"{method} to {destination} timed out")
        self.method = method
        self.destination = destination


class TransactionFailed(SipError):
    """The peer answered with a final non-2xx response."""

    def __init__(self, response: SipResponse) -> None:
        super().__init__(f"{response.status} {response.reason}")
        self.response = response
