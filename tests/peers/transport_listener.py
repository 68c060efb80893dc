"""A transport's listener for tests that send it well-formed SIP: it counts what reaches it."""

from __future__ import annotations

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import MalformedMessage


class CountingListener:
    """Counts the messages handed to it; a malformed one fails the test (the tests using it
    send only well-formed datagrams), and nothing takes the express path."""

    def __init__(self) -> None:
        self.received = 0

    def message_received(self, message: SipRequest | SipResponse, source: Address) -> None:
        self.received += 1

    def malformed_received(self, error: MalformedMessage, source: Address) -> None:
        raise AssertionError("the datagrams are well-formed")

    def express_received(self, data: bytes, source: Address) -> bool:
        return False

    def connection_closed(self, remote: Address) -> None:
        pass
