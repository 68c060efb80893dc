"""When a relay ends by itself, in virtual time: a TCP upper that never connects, ICMP port
unreachable for seconds on end, RTCP that stops (and none, which never times out)."""

from __future__ import annotations

from farmwatch.media.relay.liveness import RelayLiveness
from farmwatch.media.relay.spec import RelayEndReason


def liveness() -> RelayLiveness:
    return RelayLiveness(rtcp_timeout=30.0, unreachable_timeout=5.0, refusal_gap=3.0)


def test_an_upper_that_never_sends_rtcp_is_never_timed_out() -> None:
    core = liveness()
    assert core.next_deadline() is None
    assert core.tick(1_000_000.0) is None


def test_rtcp_seen_then_silent_for_the_timeout_ends_the_relay() -> None:
    core = liveness()
    core.rtcp_received(10.0)
    core.rtcp_received(15.0)
    assert core.next_deadline() == 45.0
    assert core.tick(44.9) is None
    assert core.tick(45.0) is RelayEndReason.RTCP_TIMEOUT
    assert core.next_deadline() is None


def test_refusals_for_the_unreachable_timeout_end_the_relay() -> None:
    core = liveness()
    assert [core.refused(t) for t in (0.0, 1.0, 2.0, 3.0, 4.0)] == [None] * 5
    assert core.refused(5.0) is RelayEndReason.PEER_UNREACHABLE


def test_refusals_far_apart_or_rtcp_between_them_start_the_count_anew() -> None:
    core = liveness()
    assert core.refused(0.0) is None
    assert core.refused(4.0) is None  # more than refusal_gap after the last: a new count
    assert core.refused(8.0) is None
    core.rtcp_received(8.5)  # the upper is alive after all
    assert core.refused(9.0) is None
    assert core.refused(12.0) is None
    assert core.refused(14.0) is RelayEndReason.PEER_UNREACHABLE


def test_a_tcp_upper_must_connect_within_the_timeout() -> None:
    core = liveness()
    core.expect_connection(100.0, 10.0)
    assert core.next_deadline() == 110.0
    assert core.tick(109.0) is None
    assert core.tick(110.0) is RelayEndReason.CONNECT_TIMEOUT
    late = liveness()
    late.expect_connection(100.0, 10.0)
    late.connected()
    assert late.next_deadline() is None and late.tick(200.0) is None
