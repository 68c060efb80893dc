"""RFC 3261 §17.2 server transactions (with RFC 6026 Accepted), in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.message import SipResponse
from farmwatch.sipserver.sip.server_transaction import (
    InviteServerTransaction,
    NonInviteServerTransaction,
    ServerTxState,
    create_server_transaction,
)
from farmwatch.sipserver.sip.transaction_effects import (
    AckTimedOut,
    Send,
    TransactionTerminated,
    TransactionTimedOut,
    TxOutput,
)
from tests.unit.sip.transaction_messages import make_ack_for_2xx, make_request, make_response

UDP_DEVICE = Address("192.168.1.64", 40000, Transport.UDP)
TCP_DEVICE = Address("192.168.1.64", 40000, Transport.TCP)


def run_timers(
    tx: InviteServerTransaction | NonInviteServerTransaction, until: float
) -> list[tuple[float, TxOutput]]:
    log: list[tuple[float, TxOutput]] = []
    while (deadline := tx.next_deadline()) is not None and deadline <= until:
        log.extend((deadline, output) for output in tx.tick(deadline))
    return log


def sent(outputs: list[TxOutput]) -> list[int]:
    """Status codes of the responses sent; each must go back to the request's source."""
    statuses = []
    for output in outputs:
        assert isinstance(output, Send) and isinstance(output.message, SipResponse)
        assert output.dest in (UDP_DEVICE, TCP_DEVICE)
        statuses.append(output.message.status)
    return statuses


# --- non-INVITE ------------------------------------------------------------------


def test_non_invite_absorbs_retransmissions_and_re_sends_the_last_response() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteServerTransaction(message, UDP_DEVICE, now=0.0)
    assert tx.state.value == "Trying"
    assert tx.receive(message, 0.5) == []  # nothing to re-send yet, not re-delivered

    ok = make_response(message, 200)
    assert tx.respond(ok, 0.6) == [Send(ok, UDP_DEVICE)]
    assert tx.state is ServerTxState.COMPLETED
    assert tx.receive(message, 1.5) == [Send(ok, UDP_DEVICE)]
    assert tx.receive(message, 5.5) == [Send(ok, UDP_DEVICE)]
    assert tx.respond(make_response(message, 500), 6.0) == []  # discarded in Completed

    assert run_timers(tx, until=100.0) == [(32.6, TransactionTerminated(tx.key))]


def test_non_invite_re_sends_the_last_provisional_in_proceeding() -> None:
    message = make_request("SUBSCRIBE")
    tx = NonInviteServerTransaction(message, UDP_DEVICE, now=0.0)
    trying = make_response(message, 100)
    assert tx.respond(trying, 0.1) == [Send(trying, UDP_DEVICE)]
    assert tx.state is ServerTxState.PROCEEDING
    assert tx.receive(message, 0.5) == [Send(trying, UDP_DEVICE)]
    assert tx.next_deadline() == 32.0  # waits for the TU, but not forever


def test_a_request_the_tu_never_answers_is_dropped_when_the_client_has_given_up() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteServerTransaction(message, UDP_DEVICE, now=10.0)
    assert tx.receive(message, 12.0) == []  # nothing to re-send yet
    assert run_timers(tx, until=41.9) == []
    assert run_timers(tx, until=100.0) == [(42.0, TransactionTerminated(tx.key))]
    assert tx.state is ServerTxState.TERMINATED
    assert tx.respond(make_response(message, 200), 50.0) == []  # too late: nothing is sent


def test_answering_in_time_cancels_the_abandon_timer() -> None:
    message = make_request("MESSAGE")
    tx = NonInviteServerTransaction(message, UDP_DEVICE, now=0.0)
    ok = make_response(message, 200)
    assert tx.respond(ok, 31.0) == [Send(ok, UDP_DEVICE)]
    # Now timer J (32 s from the answer) is the only timer left.
    assert run_timers(tx, until=200.0) == [(63.0, TransactionTerminated(tx.key))]


def test_non_invite_over_tcp_terminates_on_the_final_response() -> None:
    message = make_request("MESSAGE", transport="TCP")
    tx = NonInviteServerTransaction(message, TCP_DEVICE, now=0.0)
    ok = make_response(message, 200)
    assert tx.respond(ok, 1.0) == [Send(ok, TCP_DEVICE), TransactionTerminated(tx.key)]


# --- INVITE: 100 Trying and retransmitted INVITEs ----------------------------------


def test_invite_sends_100_trying_after_200_ms_and_re_sends_it() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    assert tx.receive(invite, 0.1) == []  # nothing sent yet
    assert tx.next_deadline() == pytest.approx(0.2)

    outputs = tx.tick(0.2)

    assert sent(outputs) == [100]
    trying = outputs[0]
    assert isinstance(trying, Send) and trying.message.to.tag is None
    assert tx.receive(invite, 0.5) == [trying]


def test_invite_answered_quickly_sends_no_100() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    ringing = make_response(invite, 180)
    assert tx.respond(ringing, 0.05) == [Send(ringing, UDP_DEVICE)]
    assert tx.tick(0.3) == []
    assert tx.receive(invite, 0.5) == [Send(ringing, UDP_DEVICE)]


# --- INVITE: non-2xx final, timers G, H, I ----------------------------------------


def test_invite_non_2xx_retransmits_on_timer_g_until_timer_h() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    busy = make_response(invite, 486)
    tx.respond(busy, 0.1)
    assert tx.state is ServerTxState.COMPLETED

    log = run_timers(tx, until=100.0)

    resent = [round(at, 6) for at, o in log if o == Send(busy, UDP_DEVICE)]
    assert resent == [0.6, 1.6, 3.6, 7.6, 11.6, 15.6, 19.6, 23.6, 27.6, 31.6]
    assert [output for _, output in log[-2:]] == [
        TransactionTimedOut(tx.key, invite),
        TransactionTerminated(tx.key),
    ]
    assert [at for at, _ in log[-2:]] == pytest.approx([32.1, 32.1])


def test_invite_non_2xx_ack_confirms_and_timer_i_terminates() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    busy = make_response(invite, 486)
    tx.respond(busy, 0.1)
    assert tx.receive(invite, 0.3) == [Send(busy, UDP_DEVICE)]
    ack = make_request("ACK", branch=invite.top_via.branch, to_tag="uas-tag")

    assert tx.receive(ack, 0.7) == []
    assert tx.state is ServerTxState.CONFIRMED
    assert tx.receive(ack, 1.0) == []  # ACK retransmissions absorbed
    assert run_timers(tx, until=100.0) == [(5.7, TransactionTerminated(tx.key))]


def test_invite_over_tcp_neither_retransmits_nor_lingers() -> None:
    invite = make_request("INVITE", transport="TCP")
    tx = InviteServerTransaction(invite, TCP_DEVICE, now=0.0)
    tx.respond(make_response(invite, 404), 0.1)
    assert tx.next_deadline() == pytest.approx(32.1)  # only timer H
    ack = make_request("ACK", branch=invite.top_via.branch, transport="TCP")
    assert tx.receive(ack, 0.5) == [TransactionTerminated(tx.key)]


# --- INVITE: 2xx in Accepted, retransmitted until the ACK ---------------------------


def test_2xx_is_retransmitted_until_the_ack_arrives() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    ok = make_response(invite, 200)
    assert tx.respond(ok, 0.0) == [Send(ok, UDP_DEVICE)]
    assert tx.state is ServerTxState.ACCEPTED

    log = run_timers(tx, until=4.0)
    assert send_times_of(log, ok) == [0.5, 1.5, 3.5]
    assert tx.receive(invite, 4.0) == [Send(ok, UDP_DEVICE)]  # INVITE resent: 2xx again

    assert tx.receive(make_ack_for_2xx(invite, ok), 4.2) == []
    assert tx.is_acked
    assert tx.receive(invite, 4.5) == []  # absorbed once ACKed
    log = run_timers(tx, until=100.0)
    assert log == [(32.0, TransactionTerminated(tx.key))]  # timer L, no AckTimedOut


def test_unacked_2xx_gives_up_on_timer_l_with_ack_timed_out() -> None:
    invite = make_request("INVITE")
    tx = InviteServerTransaction(invite, UDP_DEVICE, now=0.0)
    ok = make_response(invite, 200)
    tx.respond(ok, 1.0)

    log = run_timers(tx, until=100.0)

    assert send_times_of(log, ok) == [1.5, 2.5, 4.5, 8.5, 12.5, 16.5, 20.5, 24.5, 28.5, 32.5]
    assert log[-2:] == [(33.0, AckTimedOut(tx.key, ok)), (33.0, TransactionTerminated(tx.key))]


def test_2xx_over_tcp_is_sent_once_and_still_waits_for_the_ack() -> None:
    invite = make_request("INVITE", transport="TCP")
    tx = InviteServerTransaction(invite, TCP_DEVICE, now=0.0)
    ok = make_response(invite, 200)
    tx.respond(ok, 0.0)
    log = run_timers(tx, until=100.0)
    assert log == [(32.0, AckTimedOut(tx.key, ok)), (32.0, TransactionTerminated(tx.key))]


def send_times_of(log: list[tuple[float, TxOutput]], response: object) -> list[float]:
    return [at for at, output in log if isinstance(output, Send) and output.message == response]


def test_factory_and_misuse() -> None:
    invite = make_request("INVITE")
    assert isinstance(
        create_server_transaction(invite, UDP_DEVICE, now=0.0), InviteServerTransaction
    )
    assert isinstance(
        create_server_transaction(make_request("NOTIFY"), UDP_DEVICE, now=0.0),
        NonInviteServerTransaction,
    )
    with pytest.raises(LocalProtocolError):
        InviteServerTransaction(make_request("MESSAGE"), UDP_DEVICE, now=0.0)
    with pytest.raises(LocalProtocolError):
        NonInviteServerTransaction(invite, UDP_DEVICE, now=0.0)
