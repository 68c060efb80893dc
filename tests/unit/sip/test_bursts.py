"""Burst logging: the first event, periodic and final summaries, in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.bursts import BurstLog, BurstReport, BurstStage
from farmwatch.sipserver.sip.errors import LocalProtocolError


def test_first_event_is_reported_then_silence_then_a_summary_when_quiet() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10, report_interval=300)
    assert bursts.record("a", 0) == BurstReport("a", BurstStage.STARTED, 1, 0, 1)
    assert [bursts.record("a", t) for t in range(1, 50)] == [None] * 49
    assert bursts.next_deadline() == 59
    assert bursts.ended(58.9) == []
    assert bursts.ended(59) == [BurstReport("a", BurstStage.ENDED, 49, 0, 50)]
    assert bursts.next_deadline() is None and len(bursts) == 0
    assert bursts.record("a", 60) is not None  # a new burst starts


def test_a_lone_event_needs_no_summary() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10)
    bursts.record("a", 0)
    assert bursts.ended(100) == []


def test_a_long_burst_is_summarised_every_report_interval() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10, report_interval=60)
    reports = [r for t in range(0, 200) if (r := bursts.record("a", t)) is not None]
    assert [(r.stage, r.count, r.since) for r in reports] == [
        (BurstStage.STARTED, 1, 0),
        (BurstStage.ONGOING, 60, 0),
        (BurstStage.ONGOING, 60, 60),
        (BurstStage.ONGOING, 60, 120),
    ]
    assert bursts.ended(209) == [BurstReport("a", BurstStage.ENDED, 19, 180, 200)]


def test_keys_are_independent_and_end_in_order() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10)
    for key, t in (("a", 0), ("b", 1), ("a", 2), ("b", 5)):
        bursts.record(key, t)
    assert bursts.next_deadline() == 12
    assert [r.key for r in bursts.ended(12)] == ["a"]
    assert [r.key for r in bursts.ended(15)] == ["b"]


def test_a_quiet_burst_found_by_record_is_summarised_later() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10)
    bursts.record("a", 0)
    bursts.record("a", 1)
    started = bursts.record("a", 30)  # the timer was late: the old burst ended meanwhile
    assert started is not None and started.stage is BurstStage.STARTED
    assert bursts.next_deadline() == 30
    assert bursts.ended(30) == [BurstReport("a", BurstStage.ENDED, 1, 0, 2)]


def test_the_table_is_bounded_and_evicted_bursts_are_summarised() -> None:
    bursts: BurstLog[int] = BurstLog(quiet_after=100, max_keys=3)
    for key in range(5):
        bursts.record(key, 0)
        bursts.record(key, 1)
    assert len(bursts) == 3
    assert bursts.next_deadline() == 0  # evicted when key 3 came, at 0
    assert [r.key for r in bursts.ended(0)] == [0, 1]


def test_bad_configuration_is_refused() -> None:
    with pytest.raises(LocalProtocolError):
        BurstLog(quiet_after=0)
    with pytest.raises(LocalProtocolError):
        BurstLog(max_keys=0)


def test_past_max_keys_new_keys_share_their_overflow_burst() -> None:
    bursts: BurstLog[str] = BurstLog(quiet_after=10, max_keys=2, overflow=lambda key: "others")
    started = [bursts.record(f"host{n}", 0.0) for n in range(6)]
    # Two hosts of their own, then "others" starts once and takes the rest silently.
    assert [report.key if report else None for report in started] == [
        "host0", "host1", "others", None, None, None,
    ]  # fmt: skip
    ended = bursts.ended(20.0)
    assert [(report.key, report.count) for report in ended] == [("others", 3)]
