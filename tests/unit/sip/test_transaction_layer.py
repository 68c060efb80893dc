"""The transaction layer: matching, timers, and UAC/UAS pairs over a lossy in-memory wire."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.client_transaction import ClientTxState
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.headers import Headers
from farmwatch.sipserver.sip.message import SipMessage, SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.server_transaction import ServerTxState
from farmwatch.sipserver.sip.transaction_effects import (
    AckReceived,
    AckTimedOut,
    Effect,
    RequestReceived,
    ResponseReceived,
    Send,
    StrayResponse,
    TransactionKey,
    TransactionTerminated,
    TransactionTimedOut,
)
from farmwatch.sipserver.sip.transaction_layer import TransactionLayer
from tests.unit.sip.transaction_messages import make_ack_for_2xx, make_request, make_response

EffectT = TypeVar("EffectT")

UAC_ADDRESS = Address("10.0.0.1", 5060)
UAS_ADDRESS = Address("10.0.0.2", 5060)


def kind_of(message: SipMessage) -> str:
    """`MESSAGE`, `ACK`, `200 INVITE`: what a wire entry is, for drop rules and asserts."""
    if isinstance(message, SipRequest):
        return message.method
    return f"{message.status} {message.cseq.method}"


@dataclass
class Peer:
    """One side: its layer plus a log of everything its TU was handed."""

    address: Address
    layer: TransactionLayer = field(default_factory=TransactionLayer)
    events: list[Effect] = field(default_factory=list)
    requests: dict[TransactionKey, SipRequest] = field(default_factory=dict)

    def seen(self, effect_type: type[EffectT]) -> list[EffectT]:
        return [e for e in self.events if isinstance(e, effect_type)]


@dataclass
class WireEntry:
    sender: Address
    message: SipMessage
    is_dropped: bool


DropRule = Callable[[int, SipMessage], bool]


def drop_first(**counts: int) -> DropRule:
    """Drop the first N messages of each kind: `drop_first(MESSAGE=2, OK_INVITE=1)`."""
    remaining = Counter(
        {name.replace("OK_", "200 ").replace("_", " "): n for name, n in counts.items()}
    )

    def rule(index: int, message: SipMessage) -> bool:
        kind = kind_of(message)
        if remaining[kind] > 0:
            remaining[kind] -= 1
            return True
        return False

    return rule


class TransactionPair:
    """A UAC and a UAS layer joined by an in-memory wire that drops what `drop` says.

    Each peer's TU reacts like a GB device / platform would: the UAS answers requests
    (`invite_status` for INVITE, 200 otherwise, 200 + 487 for a matched CANCEL), the
    UAC ACKs every 2xx to INVITE it is handed (delivered or stray).
    """

    def __init__(
        self,
        drop: DropRule | None = None,
        transport: Transport = Transport.UDP,
        invite_status: int = 200,
    ) -> None:
        self.uac = Peer(Address(UAC_ADDRESS.host, UAC_ADDRESS.port, transport))
        self.uas = Peer(Address(UAS_ADDRESS.host, UAS_ADDRESS.port, transport))
        self.drop: DropRule = drop or (lambda index, message: False)
        self.invite_status = invite_status
        self.now = 0.0
        self.wire: list[WireEntry] = []

    def send_request(self, request: SipRequest) -> TransactionKey:
        key, effects = self.uac.layer.send_request(request, self.uas.address, self.now)
        self.uac.requests[key] = request
        self.perform(self.uac, effects)
        return key

    def perform(self, peer: Peer, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Send):
                self.transmit(peer, effect)
            else:
                peer.events.append(effect)
                self.react(peer, effect)

    def transmit(self, sender: Peer, send: Send) -> None:
        is_dropped = self.drop(len(self.wire), send.message)
        self.wire.append(WireEntry(sender.address, send.message, is_dropped))
        if is_dropped:
            return
        target = self.uas if sender is self.uac else self.uac
        assert send.dest == target.address
        self.perform(target, target.layer.receive(send.message, sender.address, self.now))

    def react(self, peer: Peer, effect: Effect) -> None:
        if isinstance(effect, RequestReceived) and peer is self.uas:
            self.answer(effect)
        elif isinstance(effect, ResponseReceived | StrayResponse) and peer is self.uac:
            response = effect.response
            if response.is_success and response.cseq.method == "INVITE":
                invite = next(r for r in self.uac.requests.values() if r.method == "INVITE")
                ack = make_ack_for_2xx(invite, response)
                _, effects = self.uac.layer.send_request(ack, self.uas.address, self.now)
                self.perform(self.uac, effects)

    def answer(self, received: RequestReceived) -> None:
        request = received.request
        self.uas.requests[received.key] = request
        if request.method == "CANCEL" and received.cancels is not None:
            self.respond(build_response(request, 200, to_tag="uas-tag"))
            invite = self.uas.requests[received.cancels]
            self.respond(build_response(invite, 487, to_tag="uas-tag"))
        elif request.method == "INVITE":
            self.respond(build_response(request, self.invite_status, to_tag="uas-tag"))
        else:
            self.respond(build_response(request, 200, to_tag="uas-tag"))

    def respond(self, response: SipResponse) -> None:
        self.perform(self.uas, self.uas.layer.send_response(response, self.now))

    def run(self, until: float) -> None:
        """Advance virtual time from deadline to deadline, ticking both layers."""
        while True:
            deadlines = [
                d for p in (self.uac, self.uas) if (d := p.layer.next_deadline()) is not None
            ]
            if not deadlines or min(deadlines) > until:
                break
            self.now = min(deadlines)
            for peer in (self.uac, self.uas):
                self.perform(peer, peer.layer.tick(self.now))
        self.now = until

    def wire_kinds(self, *, delivered_only: bool = False) -> list[str]:
        return [kind_of(e.message) for e in self.wire if not (delivered_only and e.is_dropped)]

    def assert_all_transactions_gone(self) -> None:
        for peer in (self.uac, self.uas):
            assert len(peer.layer) == 0
            assert peer.layer.next_deadline() is None


def statuses(events: list[Effect]) -> list[int]:
    return [e.response.status for e in events if isinstance(e, ResponseReceived)]


# --- pairs over a lossy wire ------------------------------------------------------


def test_message_over_lossy_udp_completes_exactly_once_at_the_uas() -> None:
    pair = TransactionPair(drop=drop_first(MESSAGE=2, OK_MESSAGE=1))
    key = pair.send_request(make_request("MESSAGE"))

    pair.run(until=100.0)

    assert pair.wire_kinds() == [
        "MESSAGE",
        "MESSAGE",
        "MESSAGE",
        "200 MESSAGE",
        "MESSAGE",
        "200 MESSAGE",
    ]
    received = pair.uas.seen(RequestReceived)
    assert len(received) == 1 and isinstance(received[0], RequestReceived)
    assert received[0].request.method == "MESSAGE"
    last = pair.wire[-1].message
    assert isinstance(last, SipResponse)
    assert pair.uac.seen(ResponseReceived) == [ResponseReceived(last, key)]
    assert pair.uac.seen(TransactionTimedOut) == []
    pair.assert_all_transactions_gone()
    # What /metrics counts: one transaction each side, three timed resends, one absorbed.
    uac, uas = pair.uac.layer.stats, pair.uas.layer.stats
    assert (uac.client_started, uac.server_started, uac.retransmissions_sent) == (1, 0, 3)
    assert (uas.server_started, uas.retransmissions_received, uas.retransmissions_sent) == (1, 1, 0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32), loss=st.sampled_from([0.2, 0.5, 0.8]))
def test_message_under_random_loss_is_processed_at_most_once(seed: int, loss: float) -> None:
    chance = random.Random(seed)
    pair = TransactionPair(drop=lambda index, message: chance.random() < loss)
    pair.send_request(make_request("MESSAGE"))

    pair.run(until=200.0)

    assert len(pair.uas.seen(RequestReceived)) <= 1
    finals = pair.uac.seen(ResponseReceived)
    timeouts = pair.uac.seen(TransactionTimedOut)
    assert len(finals) + len(timeouts) == 1  # the UAC TU learns the outcome once
    if finals:
        assert len(pair.uas.seen(RequestReceived)) == 1
    pair.assert_all_transactions_gone()


def test_message_over_tcp_is_sent_once_and_forgotten_at_once() -> None:
    pair = TransactionPair(transport=Transport.TCP)
    pair.send_request(make_request("MESSAGE", transport="TCP"))
    assert pair.wire_kinds() == ["MESSAGE", "200 MESSAGE"]
    pair.assert_all_transactions_gone()


def test_invite_2xx_is_retransmitted_until_acked_and_every_copy_is_acked() -> None:
    pair = TransactionPair(drop=drop_first(OK_INVITE=1, ACK=1))
    invite_key = pair.send_request(make_request("INVITE"))

    pair.run(until=100.0)

    uas_key = pair.uas.seen(RequestReceived)[0].key
    acks = pair.uas.seen(AckReceived)
    assert acks and all(a.invite_key == uas_key for a in acks)
    # Nothing is retransmitted by the UAS once an ACK got through.
    first_ack = next(
        i for i, e in enumerate(pair.wire) if kind_of(e.message) == "ACK" and not e.is_dropped
    )
    later = [kind_of(e.message) for e in pair.wire[first_ack + 1 :]]
    assert "200 INVITE" not in later
    delivered = pair.uac.seen(ResponseReceived)
    assert [e.is_retransmission for e in delivered] == [False] + [True] * (len(delivered) - 1)
    assert len(delivered) >= 2
    assert pair.wire_kinds().count("ACK") == len(delivered)  # one ACK per 2xx copy
    assert all(e.key == invite_key for e in delivered)
    assert pair.uas.seen(AckTimedOut) == []
    pair.assert_all_transactions_gone()


def test_unacked_2xx_reports_ack_timeout_to_the_uas_tu() -> None:
    pair = TransactionPair(drop=lambda index, message: kind_of(message) == "ACK")
    pair.send_request(make_request("INVITE"))
    pair.run(until=100.0)
    assert len(pair.uas.seen(AckTimedOut)) == 1
    assert pair.uas.seen(AckReceived) == []
    pair.assert_all_transactions_gone()


def test_rejected_invite_is_acked_by_the_uac_transaction_not_the_tu() -> None:
    pair = TransactionPair(drop=drop_first(**{"486_INVITE": 1}), invite_status=486)
    invite = make_request("INVITE")
    pair.send_request(invite)

    pair.run(until=100.0)

    assert statuses(pair.uac.events) == [486]
    acks = [e.message for e in pair.wire if kind_of(e.message) == "ACK"]
    assert acks and all(a.top_via.branch == invite.top_via.branch for a in acks)
    assert pair.uas.seen(AckReceived) == []  # absorbed by the INVITE server transaction
    assert pair.uas.seen(TransactionTimedOut) == []
    pair.assert_all_transactions_gone()


def test_cancel_matches_the_invite_server_transaction() -> None:
    pair = TransactionPair(invite_status=180)
    invite = make_request("INVITE")
    pair.send_request(invite)
    pair.now = 2.0
    cancel = SipRequest(
        "CANCEL",
        invite.uri,
        Headers(
            tuple(
                (n, f"{invite.cseq.number} CANCEL" if n == "CSeq" else v)
                for n, v in invite.headers.items
            )
        ),
    )
    pair.send_request(cancel)

    pair.run(until=100.0)

    cancels = [e for e in pair.uas.seen(RequestReceived) if e.request.method == "CANCEL"]
    invite_received = pair.uas.seen(RequestReceived)[0]
    assert len(cancels) == 1 and cancels[0].cancels == invite_received.key
    assert sorted(statuses(pair.uac.events)) == [180, 200, 487]
    assert "ACK" in pair.wire_kinds()  # the 487 was ACKed hop-by-hop
    pair.assert_all_transactions_gone()


# --- single layer -----------------------------------------------------------------


def test_a_request_nobody_answers_does_not_keep_its_transaction() -> None:
    layer = TransactionLayer()
    message = make_request("MESSAGE")
    [received] = layer.receive(message, UAC_ADDRESS, 0.0)
    assert isinstance(received, RequestReceived)
    assert layer.next_deadline() == 32.0
    assert layer.tick(32.0) == [TransactionTerminated(received.key)]
    assert len(layer) == 0
    with pytest.raises(LocalProtocolError):
        layer.send_response(build_response(received.request, 200, to_tag="t"), 40.0)


def test_retransmitted_request_is_absorbed_and_the_last_response_re_sent() -> None:
    layer = TransactionLayer()
    message = make_request("MESSAGE")
    [received] = layer.receive(message, UAC_ADDRESS, 0.0)
    assert isinstance(received, RequestReceived)
    assert layer.receive(message, UAC_ADDRESS, 0.4) == []
    ok = build_response(received.request, 200, to_tag="t")
    assert layer.send_response(ok, 0.5) == [Send(ok, UAC_ADDRESS)]
    assert layer.receive(message, UAC_ADDRESS, 1.0) == [Send(ok, UAC_ADDRESS)]
    assert layer.server_state(received.key) is ServerTxState.COMPLETED
    assert layer.tick(32.4) == []
    assert layer.tick(32.5) == [TransactionTerminated(received.key)]
    assert len(layer) == 0
    with pytest.raises(LocalProtocolError):
        layer.send_response(ok, 33.0)  # the transaction is gone


def test_responses_go_to_the_packet_source_with_rport_filled() -> None:
    layer = TransactionLayer()
    nat_source = Address("203.0.113.9", 61000)
    [received] = layer.receive(make_request("REGISTER", rport=True), nat_source, 0.0)
    assert isinstance(received, RequestReceived)
    via = received.request.top_via
    assert via.param("rport") == "61000" and via.param("received") == "203.0.113.9"
    [sent] = layer.send_response(build_response(received.request, 401, to_tag="t"), 0.1)
    assert isinstance(sent, Send) and sent.dest == nat_source
    assert sent.message.top_via.param("rport") == "61000"


def test_cancel_without_an_invite_has_no_target() -> None:
    layer = TransactionLayer()
    [received] = layer.receive(make_request("CANCEL"), UAC_ADDRESS, 0.0)
    assert isinstance(received, RequestReceived) and received.cancels is None


def test_stray_2xx_after_timer_m_reaches_the_tu() -> None:
    layer = TransactionLayer()
    invite = make_request("INVITE")
    key, _ = layer.send_request(invite, UAS_ADDRESS, 0.0)
    ok = make_response(invite, 200)
    assert layer.receive(ok, UAS_ADDRESS, 0.1) == [ResponseReceived(ok, key)]
    assert layer.client_state(key) is ClientTxState.ACCEPTED
    assert layer.tick(40.0) == [TransactionTerminated(key)]
    assert layer.receive(ok, UAS_ADDRESS, 41.0) == [StrayResponse(ok, UAS_ADDRESS)]


def test_ack_to_an_unknown_2xx_still_reaches_the_tu() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK", to_tag="x")
    assert layer.receive(ack, UAC_ADDRESS, 0.0) == [AckReceived(ack, UAC_ADDRESS, None)]


def test_ack_and_duplicate_branch_need_no_new_transaction() -> None:
    layer = TransactionLayer()
    ack = make_request("ACK", to_tag="x")
    _, effects = layer.send_request(ack, UAS_ADDRESS, 0.0)
    assert effects == [Send(ack, UAS_ADDRESS)] and len(layer) == 0
    message = make_request("MESSAGE")
    layer.send_request(message, UAS_ADDRESS, 0.0)
    with pytest.raises(LocalProtocolError):
        layer.send_request(message, UAS_ADDRESS, 0.0)


def test_rfc2543_peers_are_matched_on_call_id_from_tag_cseq_and_via() -> None:
    layer = TransactionLayer()
    first = make_request("MESSAGE", branch="oldstyle", cseq=1)
    second = make_request("MESSAGE", branch="oldstyle", cseq=2)
    [a] = layer.receive(first, UAC_ADDRESS, 0.0)
    [b] = layer.receive(second, UAC_ADDRESS, 0.0)
    assert isinstance(a, RequestReceived) and isinstance(b, RequestReceived)
    assert a.key != b.key and not a.key.is_rfc3261
    ok = build_response(a.request, 200, to_tag="t")
    layer.send_response(ok, 0.1)
    assert layer.receive(first, UAC_ADDRESS, 0.5) == [Send(ok, UAC_ADDRESS)]

    invite = make_request("INVITE", branch="old-invite", cseq=5)
    [c] = layer.receive(invite, UAC_ADDRESS, 1.0)
    assert isinstance(c, RequestReceived)
    layer.send_response(build_response(c.request, 486, to_tag="t"), 1.1)
    ack = make_request("ACK", branch="old-invite", cseq=5, to_tag="t")
    assert layer.receive(ack, UAC_ADDRESS, 1.2) == []  # the non-2xx ACK is absorbed
    assert layer.server_state(c.key) is ServerTxState.CONFIRMED


def test_ten_thousand_transactions_are_matched_timed_and_freed() -> None:
    layer = TransactionLayer()
    keys = []
    for index in range(10_000):
        request = make_request("MESSAGE", call_id=f"c{index}", branch=f"z9hG4bK{index}")
        [received] = layer.receive(request, UAC_ADDRESS, index * 0.001)
        assert isinstance(received, RequestReceived)
        layer.send_response(build_response(received.request, 200, to_tag="t"), index * 0.001)
        keys.append(received.key)
    assert len(layer) == 10_000
    assert layer.next_deadline() == pytest.approx(32.0)
    assert layer.tick(31.9) == []
    terminated = layer.tick(50.0)
    assert [e.key for e in terminated if isinstance(e, TransactionTerminated)] == keys
    assert len(layer) == 0 and layer.next_deadline() is None
