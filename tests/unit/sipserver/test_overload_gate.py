"""OverloadGate: overloaded above `high`, clear again only below `low` (hysteresis)."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.transport.queue_probe import OverloadGate


def test_the_gate_opens_above_high_and_closes_below_low() -> None:
    gate = OverloadGate(high=0.2, low=0.1)
    assert not gate.update(0.05) and not gate.is_overloaded
    assert not gate.update(0.2)  # at the threshold: not over it
    assert gate.update(0.25) and gate.is_overloaded
    assert not gate.update(0.15) and gate.is_overloaded  # between: stays overloaded
    assert gate.update(0.05) and not gate.is_overloaded
    assert gate.transitions == 2


def test_thresholds_are_checked() -> None:
    with pytest.raises(ValueError):
        OverloadGate(high=0.1, low=0.2)
