"""Admission, deadlines and log bursts of SIP TCP connections, in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.bursts import BurstLog, BurstStage
from farmwatch.sipserver.transport.tcp_guard import (
    OTHER_HOSTS,
    Admission,
    BurstKind,
    CloseReason,
    ConnectionClock,
    Refusal,
    TcpLimits,
    address_key,
    overflow_key,
)

LIMITS = TcpLimits(max_connections=100, max_per_address=3, message_timeout=10.0, idle_timeout=600.0)


def _first_closing_time(
    clock: ConnectionClock, until: float = 10_000.0
) -> tuple[float, CloseReason]:
    """Step virtual time by 0.5 s until the clock says close; (when, why)."""
    now = 0.0
    while now <= until:
        reason = clock.expired(now, LIMITS)
        if reason is not None:
            return now, reason
        now += 0.5
    raise AssertionError("never expired")


# -- ConnectionClock --------------------------------------------------------------------


def test_an_inbound_connection_that_sends_nothing_closes_at_the_message_timeout() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    assert clock.deadline(LIMITS) == 10.0
    assert _first_closing_time(clock) == (10.0, CloseReason.SILENT)


def test_a_message_dripped_byte_by_byte_closes_at_the_deadline_from_the_accept() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    for second in range(1, 10):  # one byte a second, never a whole message
        clock.received(float(second), messages=0, pending=True)
    assert clock.expired(9.5, LIMITS) is None
    assert clock.expired(10.0, LIMITS) is CloseReason.MESSAGE_TIMEOUT


def test_only_pings_before_the_first_message_close_as_ping_only() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    for second in range(1, 20):
        if clock.expired(float(second), LIMITS) is not None:
            break
        clock.received(float(second), messages=0, pending=False)
    assert _first_closing_time(clock) == (10.0, CloseReason.PING_ONLY)


def test_after_the_first_message_each_message_has_its_own_deadline() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    clock.received(1.0, messages=1, pending=False)
    clock.received(300.0, messages=0, pending=True)  # a message begins
    assert clock.deadline(LIMITS) == 310.0
    assert clock.expired(309.9, LIMITS) is None
    clock.received(305.0, messages=1, pending=False)  # and completes in time
    assert clock.deadline(LIMITS) == 905.0
    clock.received(400.0, messages=0, pending=True)
    assert clock.expired(410.0, LIMITS) is CloseReason.MESSAGE_TIMEOUT


def test_a_message_completed_with_the_next_one_begun_starts_the_next_deadline_then() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    clock.received(1.0, messages=0, pending=True)
    clock.received(5.0, messages=2, pending=True)
    assert clock.deadline(LIMITS) == 15.0


def test_pings_do_not_keep_a_connection_from_idling_out() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    clock.received(2.0, messages=1, pending=False)
    for second in range(30, 600, 30):
        clock.received(float(second), messages=0, pending=False)  # RFC 5626 CRLF CRLF
    assert clock.deadline(LIMITS) == 602.0
    assert clock.expired(601.9, LIMITS) is None
    assert clock.expired(602.0, LIMITS) is CloseReason.PING_ONLY


def test_messages_keep_a_connection_and_silence_ends_it_as_idle() -> None:
    clock = ConnectionClock(0.0, inbound=True)
    for second in range(5, 3000, 60):  # a GB/T 28181 keepalive a minute
        clock.received(float(second), messages=1, pending=False)
        assert clock.expired(float(second) + 59.0, LIMITS) is None
    assert clock.expired(2945.0 + 600.0, LIMITS) is CloseReason.IDLE


def test_an_outbound_connection_has_no_first_message_deadline() -> None:
    clock = ConnectionClock(0.0, inbound=False)
    assert clock.deadline(LIMITS) == 600.0
    assert _first_closing_time(clock) == (600.0, CloseReason.IDLE)


# -- Admission --------------------------------------------------------------------------


def test_an_address_is_refused_beyond_its_cap_and_admitted_again_after_a_close() -> None:
    admission = Admission(LIMITS)
    assert [admission.admit_inbound("10.0.0.9") for _ in range(5)] == [
        None, None, None, Refusal.PER_ADDRESS, Refusal.PER_ADDRESS
    ]  # fmt: skip
    assert admission.admit_inbound("10.0.0.8") is None  # another address is not affected
    admission.release_inbound("10.0.0.9")
    assert admission.admit_inbound("10.0.0.9") is None
    assert admission.refused[Refusal.PER_ADDRESS] == 2
    assert (admission.inbound, admission.addresses, admission.held_by("10.0.0.9")) == (4, 2, 3)


def test_inbound_connections_leave_a_share_for_outbound_ones() -> None:
    limits = TcpLimits(max_connections=20, max_per_address=1)
    admission = Admission(limits)
    assert limits.outbound_reserve == 2
    admitted = [admission.admit_inbound(f"10.0.0.{n}") for n in range(20)]
    assert admitted.count(None) == 18
    assert admitted[18:] == [Refusal.TOTAL_CAP, Refusal.TOTAL_CAP]
    # The platform still reaches its devices, up to the total.
    assert admission.admit_outbound() and admission.admit_outbound()
    assert not admission.admit_outbound()
    assert admission.refused[Refusal.OUTBOUND] == 1
    admission.release_outbound()
    assert admission.admit_outbound()
    assert admission.total == 20


def test_outbound_connections_count_against_the_inbound_share() -> None:
    admission = Admission(TcpLimits(max_connections=20, max_per_address=20))
    for _ in range(10):
        assert admission.admit_outbound()
    admitted = [admission.admit_inbound("10.0.0.1") for _ in range(10)]
    assert admitted.count(None) == 8


@pytest.mark.parametrize(
    ("total", "reserve"), [(1, 0), (2, 1), (15, 1), (100, 10), (2560, 256), (20000, 256)]
)
def test_the_outbound_share(total: int, reserve: int) -> None:
    assert TcpLimits(max_connections=total).outbound_reserve == reserve


def test_ipv6_peers_are_counted_by_their_64() -> None:
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::2")
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("192.0.2.7") == "192.0.2.7"


# -- bursts of refusals (sip.bursts.BurstLog as the transport configures it) ------------


def _tcp_bursts() -> BurstLog[tuple[BurstKind, str]]:
    return BurstLog(quiet_after=5.0, report_interval=60.0, max_keys=4, overflow=overflow_key)


def test_a_burst_logs_its_first_event_then_one_summary_when_quiet() -> None:
    bursts = _tcp_bursts()
    first = bursts.record((Refusal.PER_ADDRESS, "10.0.0.9"), 0.0)
    assert first is not None and first.stage is BurstStage.STARTED
    assert not any(bursts.record((Refusal.PER_ADDRESS, "10.0.0.9"), 0.1 * n) for n in range(1, 200))
    other = bursts.record((Refusal.PER_ADDRESS, "10.0.0.8"), 1.0)  # its own burst
    assert other is not None and other.stage is BurstStage.STARTED
    # 10.0.0.8's burst had one event, already logged: it ends without a summary.
    ended = bursts.ended(25.0)
    assert [(r.key, r.stage, r.count, r.since) for r in ended] == [
        ((Refusal.PER_ADDRESS, "10.0.0.9"), BurstStage.ENDED, 199, 0.0)
    ]
    assert bursts.next_deadline() is None


def test_bursts_from_too_many_addresses_are_filed_together() -> None:
    bursts = _tcp_bursts()
    reports = [bursts.record((Refusal.PER_ADDRESS, f"10.0.0.{n}"), 0.0) for n in range(10)]
    # Four addresses of their own, then one line for all the others.
    assert [report is not None for report in reports] == [True] * 5 + [False] * 5
    assert reports[4] is not None and reports[4].key == (Refusal.PER_ADDRESS, OTHER_HOSTS)
    ended = bursts.ended(10.0)
    assert [(r.key, r.count) for r in ended] == [((Refusal.PER_ADDRESS, OTHER_HOSTS), 5)]


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tcp_max_connections": 0}, "sip.tcp_max_connections: expected 1..1000000"),
        (
            {"tcp_max_connections": 100, "tcp_max_connections_per_address": 101},
            "sip.tcp_max_connections_per_address: expected 1..sip.tcp_max_connections",
        ),
        ({"tcp_max_connections_per_address": 0}, "sip.tcp_max_connections_per_address"),
        ({"tcp_message_timeout": 0.0}, "sip.tcp_message_timeout: expected > 0"),
        (
            {"tcp_message_timeout": 100.0, "tcp_idle_timeout": 50.0},
            "sip.tcp_message_timeout: expected > 0 and <= sip.tcp_idle_timeout",
        ),
        ({"tcp_idle_timeout": -1.0}, "sip.tcp_idle_timeout: expected > 0"),
    ],
)
def test_tcp_settings_are_validated_naming_the_key(changes: dict[str, float], message: str) -> None:
    errors = SipSettings(**changes).validate()  # type: ignore[arg-type]
    assert any(error.startswith(message) for error in errors), errors


def test_the_default_tcp_settings_are_valid() -> None:
    assert SipSettings().validate() == []
