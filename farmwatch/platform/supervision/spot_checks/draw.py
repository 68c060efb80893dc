"""The random draw of a spot check, pure and reproducible.

Farms first: each farm with cameras in the population gets a random key by the weighted
reservoir method of Efraimidis and Spirakis (`u ** (1 / weight)`, largest first), so that
farms not checked for a long time come up more often; then one camera of each farm in that
order, round after round, until `count` cameras are drawn. A check thus spreads over as many
farms as it can before it looks at a second camera of any.

Everything random comes from one `random.Random(seed)` walked in a fixed order (farms and
cameras sorted by their IDs), so that the stored seed and population give the same draw
again: anyone can verify that the cameras were drawn, not picked.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = [
    "MAX_WEIGHT",
    "Candidate",
    "Drawn",
    "draw",
    "farm_weight",
    "population_digest",
]

MAX_WEIGHT = 8.0
"""A farm never checked, or not for 49 days or more, is this many times as likely to come up
as one checked today."""
_DAYS_PER_STEP = 7.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """A camera the inspector may draw, with the farm it is on and that farm's weight."""

    channel_id: str
    device_id: str
    farm_key: str
    """The farm: `farm:<id>` for a farm of this platform's register, else the ID of the
    catalog's virtual organisation (216) that a lower platform presents the farm as, else
    the device ID (a camera on no known farm)."""
    farm_name: str
    weight: float


@dataclass(frozen=True, slots=True)
class Drawn:
    candidate: Candidate
    position: int
    """1 for the first camera drawn."""


def farm_weight(last_checked: datetime | None, now: datetime) -> float:
    """1 for a farm spot-checked now, one more for each week since, up to `MAX_WEIGHT`."""
    if last_checked is None:
        return MAX_WEIGHT
    days = max(0.0, (now - last_checked).total_seconds() / 86_400)
    return min(MAX_WEIGHT, 1.0 + days / _DAYS_PER_STEP)


def population_digest(candidates: Iterable[Candidate]) -> str:
    """SHA-256 of the population as drawn from (order-free): proves which list the stored
    seed was applied to."""
    lines = sorted(f"{c.channel_id}|{c.device_id}|{c.farm_key}|{c.weight:.6f}" for c in candidates)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def draw(candidates: Sequence[Candidate], count: int, seed: int) -> list[Drawn]:
    """`count` cameras (fewer when the population is smaller), farms weighted, in order."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    rng = random.Random(seed)
    farms: dict[str, list[Candidate]] = {}
    for candidate in sorted(candidates, key=lambda c: (c.farm_key, c.channel_id, c.device_id)):
        if candidate.weight <= 0:
            raise ValueError(f"weight of {candidate.channel_id} must be > 0")
        farms.setdefault(candidate.farm_key, []).append(candidate)
    keyed: list[tuple[float, str]] = []
    for farm_key, cameras in farms.items():
        keyed.append((rng.random() ** (1.0 / cameras[0].weight), farm_key))
        rng.shuffle(cameras)
    order = [farm_key for _, farm_key in sorted(keyed, key=lambda kf: (-kf[0], kf[1]))]
    drawn: list[Drawn] = []
    round_index = 0
    while len(drawn) < count:
        took = False
        for farm_key in order:
            cameras = farms[farm_key]
            if round_index < len(cameras):
                drawn.append(Drawn(cameras[round_index], len(drawn) + 1))
                took = True
                if len(drawn) == count:
                    break
        if not took:
            break
        round_index += 1
    return drawn
