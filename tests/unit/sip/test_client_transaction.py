"""RFC 3261 §17.1 client transactions, in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.client_transaction import (
    ClientTxState,
    InviteClientTransaction,
    NonInviteClientTransaction,
    create_client_transaction,
)
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.timers import TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    ResponseReceived,
    Send,
    TransactionTerminated,
    TransactionTimedOut,
    TxOutput,
)
from tests.unit.sip.transaction_messages import make_request, make_response

UDP_DEVICE = Address("10.0.0.2", 5060, Transport.UDP)
TCP_DEVICE = Address("10.0.0.2", 5060, Transport.TCP)


def run_timers(
    tx: InviteClientTransaction | NonInviteClientTransaction, until: float
) -> list[tuple[float, TxOutput]]:
    """Step `now` from deadline to deadline up to `until`, recording each output."""
    log: list[tuple[float, TxOutput]] = []
    while (deadline := tx.next_deadline()) is not None and deadline <= until:
        log.extend((deadline, output) for output in tx.tick(deadline))
    return log


def send_times(log: list[tuple[float, TxOutput]]) -> list[float]:
    return [at for at, output in log if isinstance(output, Send)]


def test_invite_client_retransmits_on_timer_a_then_times_out_on_timer_b() -> None:
    invite = make_request("INVITE")
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    assert tx.start() == [Send(invite, UDP_DEVICE)]
    assert tx.next_deadline() == 0.5

    log = run_timers(tx, until=100.0)

    # Timer A doubles without a cap: 0.5, 1, 2, 4, 8, 16 s after each send.
    assert send_times(log) == [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    assert all(o == Send(invite, UDP_DEVICE) for _, o in log if isinstance(o, Send))
    assert log[-2:] == [
        (32.0, TransactionTimedOut(tx.key, invite)),
        (32.0, TransactionTerminated(tx.key)),
    ]
    assert tx.state is ClientTxState.TERMINATED
    assert tx.next_deadline() is None


def test_invite_client_over_tcp_never_retransmits() -> None:
    tx = InviteClientTransaction(make_request("INVITE", transport="TCP"), TCP_DEVICE, now=0.0)
    tx.start()
    log = run_timers(tx, until=100.0)
    assert send_times(log) == []
    assert [at for at, o in log if isinstance(o, TransactionTimedOut)] == [32.0]


def test_timer_b_follows_the_timer_table() -> None:
    tx = InviteClientTransaction(
        make_request("INVITE"), UDP_DEVICE, now=10.0, timers=TimerTable(t1=0.1)
    )
    log = run_timers(tx, until=100.0)
    assert send_times(log) == pytest.approx([10.1, 10.3, 10.7, 11.5, 13.1, 16.3])
    assert [at for at, o in log if isinstance(o, TransactionTimedOut)] == pytest.approx([16.4])


def test_provisional_stops_timer_a_and_reaches_the_tu() -> None:
    invite = make_request("INVITE")
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    tx.start()
    trying = make_response(invite, 100)
    assert tx.receive(trying, 0.2) == [ResponseReceived(trying, tx.key)]
    assert tx.state is ClientTxState.PROCEEDING
    assert run_timers(tx, until=1000.0) == []  # Proceeding waits for the TU (or a CANCEL)


def test_non_2xx_final_is_acked_by_the_transaction() -> None:
    invite = make_request(
        "INVITE", cseq=7, routes=("<sip:proxy1;lr>", "<sip:proxy2;lr>"), from_tag="ft"
    )
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    tx.start()
    busy = make_response(invite, 486, to_tag="device-tag")

    outputs = tx.receive(busy, 0.3)

    assert tx.state is ClientTxState.COMPLETED
    assert len(outputs) == 2 and isinstance(outputs[0], Send)
    assert outputs[1] == ResponseReceived(busy, tx.key)
    ack = outputs[0].message
    assert isinstance(ack, SipRequest) and outputs[0].dest == UDP_DEVICE
    assert ack.method == "ACK" and ack.uri == invite.uri
    assert ack.headers.get_all("Via") == [invite.headers.get("Via")]
    assert ack.top_via.branch == invite.top_via.branch
    assert ack.headers.get("From") == invite.headers.get("From")
    assert ack.call_id == invite.call_id
    assert ack.to.tag == "device-tag"
    assert str(ack.cseq) == "7 ACK"
    assert ack.headers.get_all("Route") == ["<sip:proxy1;lr>", "<sip:proxy2;lr>"]
    assert ack.body == b""


def test_retransmitted_final_re_sends_the_ack_until_timer_d() -> None:
    invite = make_request("INVITE")
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    tx.start()
    busy = make_response(invite, 486)
    first = tx.receive(busy, 1.0)
    ack = first[0]

    assert tx.receive(busy, 1.6) == [ack]  # not delivered to the TU again
    assert tx.next_deadline() == 33.0
    assert tx.tick(33.0) == [TransactionTerminated(tx.key)]


def test_timer_d_is_zero_over_tcp() -> None:
    invite = make_request("INVITE", transport="TCP")
    tx = InviteClientTransaction(invite, TCP_DEVICE, now=0.0)
    tx.start()
    outputs = tx.receive(make_response(invite, 404), 1.0)
    assert outputs[-1] == TransactionTerminated(tx.key)
    assert tx.state is ClientTxState.TERMINATED


def test_2xx_moves_to_accepted_and_every_2xx_reaches_the_tu_until_timer_m() -> None:
    invite = make_request("INVITE")
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    tx.start()
    ok = make_response(invite, 200, to_tag="a")
    forked = make_response(invite, 200, to_tag="b")

    assert tx.receive(ok, 0.1) == [ResponseReceived(ok, tx.key)]
    assert tx.state is ClientTxState.ACCEPTED
    assert tx.receive(ok, 0.6) == [ResponseReceived(ok, tx.key, is_retransmission=True)]
    assert tx.receive(forked, 0.7) == [ResponseReceived(forked, tx.key)]
    assert tx.receive(make_response(invite, 486), 0.8) == []
    assert tx.ack is None  # the TU ACKs 2xx, not the transaction
    log = run_timers(tx, until=100.0)
    assert log == [(32.1, TransactionTerminated(tx.key))]


def test_cancel_bounds_a_proceeding_invite_to_64_t1() -> None:
    invite = make_request("INVITE")
    tx = InviteClientTransaction(invite, UDP_DEVICE, now=0.0)
    tx.start()
    tx.receive(make_response(invite, 180), 0.2)
    assert tx.next_deadline() is None
    assert tx.cancel_sent(10.0) == []
    tx.receive(make_response(invite, 183), 11.0)  # a later provisional keeps the bound
    log = run_timers(tx, until=100.0)
    assert log == [
        (42.0, TransactionTimedOut(tx.key, invite)),
        (42.0, TransactionTerminated(tx.key)),
    ]


def test_non_invite_retransmits_on_timer_e_capped_at_t2_until_timer_f() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteClientTransaction(message, UDP_DEVICE, now=0.0)
    assert tx.start() == [Send(message, UDP_DEVICE)]

    log = run_timers(tx, until=100.0)

    # 0.5, 1, 2, 4, then T2 = 4 s each time.
    assert send_times(log) == [0.5, 1.5, 3.5, 7.5, 11.5, 15.5, 19.5, 23.5, 27.5, 31.5]
    assert log[-2:] == [
        (32.0, TransactionTimedOut(tx.key, message)),
        (32.0, TransactionTerminated(tx.key)),
    ]


def test_non_invite_retransmits_every_t2_after_a_provisional() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteClientTransaction(message, UDP_DEVICE, now=0.0)
    tx.start()
    tx.tick(0.5)  # first retransmission; timer E now at 1.5
    tx.receive(make_response(message, 100), 0.7)
    assert tx.state is ClientTxState.PROCEEDING

    log = run_timers(tx, until=100.0)

    assert send_times(log) == [1.5, 5.5, 9.5, 13.5, 17.5, 21.5, 25.5, 29.5]
    assert [at for at, o in log if isinstance(o, TransactionTimedOut)] == [32.0]


def test_non_invite_final_absorbs_retransmissions_until_timer_k() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteClientTransaction(message, UDP_DEVICE, now=0.0)
    tx.start()
    ok = make_response(message, 200)
    assert tx.receive(ok, 0.7) == [ResponseReceived(ok, tx.key)]
    assert tx.state is ClientTxState.COMPLETED
    assert tx.receive(ok, 1.0) == []
    assert run_timers(tx, until=100.0) == [(5.7, TransactionTerminated(tx.key))]


def test_non_invite_over_tcp_neither_retransmits_nor_waits() -> None:
    message = make_request("REGISTER", transport="TCP")
    tx = NonInviteClientTransaction(message, TCP_DEVICE, now=0.0)
    tx.start()
    assert tx.next_deadline() == 32.0  # only timer F
    ok = make_response(message, 200)
    assert tx.receive(ok, 2.0) == [ResponseReceived(ok, tx.key), TransactionTerminated(tx.key)]


def test_factory_and_misuse() -> None:
    assert isinstance(
        create_client_transaction(make_request("INVITE"), UDP_DEVICE, now=0.0),
        InviteClientTransaction,
    )
    tx = create_client_transaction(make_request("BYE"), UDP_DEVICE, now=0.0)
    assert isinstance(tx, NonInviteClientTransaction)
    tx.start()
    with pytest.raises(LocalProtocolError):
        tx.start()
    with pytest.raises(LocalProtocolError):
        NonInviteClientTransaction(make_request("ACK"), UDP_DEVICE, now=0.0)
