"""One transaction that cannot be ticked never stops the others (issue 13 item 7).

The timer batch is popped before it is ticked: a transaction raising used to take every
later transaction of its batch with it, left un-ticked forever.
"""

from __future__ import annotations

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, build_response
from farmwatch.sipserver.sip.server_transaction import ServerTxState
from farmwatch.sipserver.sip.timers import TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    AckReceived,
    RequestReceived,
    Send,
    TransactionAborted,
    TransactionKey,
    TransactionTerminated,
)
from farmwatch.sipserver.sip.transaction_layer import TransactionLayer
from tests.unit.sip.transaction_messages import make_request

PEER = Address("10.0.0.1", 5060)
# Passes the parser (brackets balanced) but not `NameAddress.parse` (port out of range).
UNREADABLE_FROM = "<sip:34020000002000000001@3402000000:99999>;tag=bad"


def unreadable_from(request: SipRequest) -> SipRequest:
    return request.with_headers(request.headers.set("From", UNREADABLE_FROM))


def receive(layer: TransactionLayer, request: SipRequest, now: float) -> RequestReceived:
    [received] = layer.receive(request, PEER, now)
    assert isinstance(received, RequestReceived)
    return received


def test_an_invite_whose_from_cannot_be_read_ends_with_its_batch() -> None:
    layer = TransactionLayer()
    invites = [unreadable_from(make_request("INVITE", call_id="bad"))]
    invites += [make_request("INVITE", call_id=f"good-{index}") for index in range(3)]
    keys: list[TransactionKey] = []
    for invite in invites:
        received = receive(layer, invite, 0.0)
        layer.send_response(build_response(received.request, 486, to_tag="t"), 0.0)
        keys.append(received.key)
    # Timer H (64*T1) of all four is due in one tick; the first used to raise.
    effects = layer.tick(40.0)
    assert [e for e in effects if isinstance(e, TransactionTerminated)] == [
        TransactionTerminated(key) for key in keys
    ]
    assert len(layer) == 0 and layer.next_deadline() is None


def test_a_2xx_to_an_invite_whose_from_cannot_be_read_is_sent_and_its_ack_matched() -> None:
    layer = TransactionLayer()
    invite = unreadable_from(make_request("INVITE"))
    received = receive(layer, invite, 0.0)
    ok = build_response(received.request, 200, to_tag="t")
    assert layer.send_response(ok, 0.1) == [Send(ok, PEER)]
    ack = unreadable_from(make_request("ACK", call_id=invite.call_id, to_tag="t"))
    assert layer.receive(ack, PEER, 0.2) == [AckReceived(ack, PEER, received.key)]
    assert [type(e) for e in layer.tick(40.0)] == [TransactionTerminated]
    assert len(layer) == 0


class FailingOnce(TimerTable):
    """RFC 3261 timers whose first retransmission interval fails: a fault inside one tick."""

    def next_interval(self, interval: float) -> float:
        if not getattr(self, "failed", False):
            object.__setattr__(self, "failed", True)
            raise ArithmeticError("a bug in one transaction")
        return super().next_interval(interval)


def test_a_transaction_raising_in_tick_is_aborted_alone() -> None:
    layer = TransactionLayer(timers=FailingOnce())
    received = [receive(layer, make_request("INVITE", call_id=f"c{i}"), 0.0) for i in range(3)]
    for item in received:
        layer.send_response(build_response(item.request, 486, to_tag="t"), 0.0)
    first, *others = (item.key for item in received)

    effects = layer.tick(0.5)  # timer G of all three: the first raises
    [aborted] = [e for e in effects if isinstance(e, TransactionAborted)]
    assert (aborted.key, aborted.call_id) == (first, "c0")
    assert isinstance(aborted.error, ArithmeticError)
    resent = [e.message.call_id for e in effects if isinstance(e, Send)]
    assert resent == ["c1", "c2"]
    assert layer.server_state(first) is None
    assert all(layer.server_state(key) is ServerTxState.COMPLETED for key in others)

    # Later timers still fire for the others: G again, then H ends them.
    assert layer.next_deadline() == 1.5
    assert [e.message.call_id for e in layer.tick(1.5) if isinstance(e, Send)] == ["c1", "c2"]
    ended = [e for e in layer.tick(40.0) if isinstance(e, TransactionTerminated)]
    assert ended == [TransactionTerminated(key) for key in others]
    assert len(layer) == 0
