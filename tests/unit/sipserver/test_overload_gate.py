"""OverloadGate: the share of new registrations admitted follows the queue delay (AIMD)."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.transport.queue_probe import OverloadGate


def test_the_share_is_cut_while_the_queue_is_long_and_grows_back_after() -> None:
    gate = OverloadGate(target=0.2, decrease=0.5, increase=0.25)
    assert not gate.update(0.1, sent_at=0.0, now=0.1) and gate.share == 1.0
    assert not gate.update(0.2, sent_at=0.1, now=0.3)  # at the target: not over it
    assert gate.update(0.3, sent_at=0.2, now=0.5) and gate.share == 0.5 and gate.is_overloaded
    assert not gate.update(0.4, sent_at=0.6, now=1.0) and gate.share == 0.25
    assert not gate.update(0.1, sent_at=1.0, now=1.1) and gate.share == 0.5
    assert not gate.update(0.1, sent_at=1.1, now=1.2) and gate.share == 0.75
    assert gate.update(0.1, sent_at=1.2, now=1.3) and gate.share == 1.0
    assert not gate.is_overloaded and gate.transitions == 2


def test_probes_sent_before_the_last_cut_do_not_cut_again() -> None:
    gate = OverloadGate(target=0.2, decrease=0.5)
    # A second of backlog: probes sent every 0.1 s come out one after the other, all late.
    for index in range(10):
        gate.update(1.0, sent_at=index * 0.1, now=1.0 + index * 0.01)
    assert gate.share == 0.5  # one cut for the whole backlog
    gate.update(0.9, sent_at=1.05, now=2.0)  # sent after the cut, still late: cut again
    assert gate.share == 0.25


def test_the_share_never_falls_below_its_minimum() -> None:
    gate = OverloadGate(target=0.2, minimum=0.05)
    for second in range(100):
        gate.update(5.0, sent_at=second, now=second + 0.5)
    assert gate.share == 0.05


def test_parameters_are_checked() -> None:
    with pytest.raises(ValueError):
        OverloadGate(target=0.0)
    with pytest.raises(ValueError):
        OverloadGate(target=0.2, decrease=1.0)


def test_a_cut_without_a_delay_follows_the_same_once_per_queue_rule() -> None:
    gate = OverloadGate(target=0.2, decrease=0.5)
    assert gate.cut(sent_at=0.9, now=1.0) and gate.share == 0.5
    # What waits now arrived before that cut: no second cut for it.
    assert not gate.cut(sent_at=0.95, now=1.1) and gate.share == 0.5
    assert not gate.cut(sent_at=1.05, now=1.2) and gate.share == 0.25
    # Only a delay at or under the target opens the gate again.
    gate.update(0.1, sent_at=1.3, now=1.4)
    assert gate.share == 0.3
    assert gate.target == 0.2
