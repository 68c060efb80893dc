"""Errors of the pure SIP core (h11's design: each carries the status to answer).

A `RemoteProtocolError` means the peer sent something we cannot accept; its
`status_hint` is the response to send when the request can still be answered
(400 with the reason phrase), and `can_answer` is false when nothing usable (no
Via, Call-ID or CSeq) survived to build a response from, so the message is dropped.
"""

from __future__ import annotations


class ProtocolError(Exception):
    """A SIP protocol violation, local or remote."""

    def __init__(self, reason: str, status_hint: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status_hint = status_hint


class LocalProtocolError(ProtocolError):
    """We misused the API or tried to send something invalid."""


class RemoteProtocolError(ProtocolError):
    """The peer broke the protocol: a malformed or oversized message."""

    def __init__(self, reason: str, status_hint: int = 400, *, can_answer: bool = False) -> None:
        super().__init__(reason, status_hint)
        self.can_answer = can_answer
