"""When each camera is sampled within one round of the diagnosis: evenly spread, so that a
thousand cameras cost a steady trickle of work instead of a burst. Pure."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["spread"]


def spread(channel_ids: Sequence[str], interval: float) -> list[tuple[float, str]]:
    """(seconds from the round's start, channel) for every camera, `interval / N` apart."""
    if interval <= 0:
        raise ValueError(f"interval: expected > 0, got {interval}")
    if not channel_ids:
        return []
    step = interval / len(channel_ids)
    return [(index * step, channel_id) for index, channel_id in enumerate(channel_ids)]
