"""Which pending voice broadcast a device's INVITE answers (gb28181.md §4.13, §10).

After Notify/Broadcast the device INVITEs the platform. What it puts in the INVITE varies:
the standard's From is the device's audio output (the broadcast's TargetID), many devices
send their device ID, some a channel, and an NVR may answer for a camera behind it. The
INVITE's source address is what every device gets right. So an INVITE matches the pending
broadcast (oldest first) whose device sent it from its registered host and whose device or
target ID is the From user; failing that, the only pending broadcast of that host. An
INVITE from a host no pending broadcast expects matches nothing (refused 403 or left to
whoever else takes INVITEs). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["PendingBroadcast", "match_broadcast"]


@dataclass(frozen=True, slots=True)
class PendingBroadcast:
    """A Broadcast notify sent and answered, whose device has not INVITEd yet."""

    key: str
    device_id: str
    target_id: str
    device_host: str
    """The host the device registered from (its INVITE comes from there)."""


def match_broadcast(
    pending: Iterable[PendingBroadcast], *, from_user: str, source_host: str
) -> PendingBroadcast | None:
    """The broadcast this INVITE answers, or None; `pending` in the order they were sent."""
    same_host = [p for p in pending if _same_host(p.device_host, source_host)]
    for candidate in same_host:
        if from_user in (candidate.device_id, candidate.target_id):
            return candidate
    return same_host[0] if len(same_host) == 1 else None


def _same_host(left: str, right: str) -> bool:
    return _normal(left) == _normal(right)


def _normal(host: str) -> str:
    host = host.strip().strip("[]").lower()
    return host[7:] if host.startswith("::ffff:") else host
