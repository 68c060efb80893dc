"""The life of a fault ticket (regulation art. 19), as a pure state machine.

A ticket opens (`open`), the farm is told (`farm_notified`), the farm repairs the camera
(`fixed`) and an administrator of the supervising authority checks the picture
(`verified`). A ticket is also `closed` automatically when the camera comes back by itself
(see `service`), and an administrator may close one by hand (a false report). A fix
that does not hold sends the ticket back to `farm_notified`. Nothing leaves `verified` or
`closed`: a new fault of the same camera is a new ticket.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from farmwatch.platform.errors import Conflict, PermissionDenied

__all__ = [
    "AUTOMATIC_KINDS",
    "PICTURE_KINDS",
    "FaultActor",
    "FaultKind",
    "FaultState",
    "IllegalTransition",
    "Transition",
    "check_transition",
    "picture_kind",
]


class FaultKind(StrEnum):
    OFFLINE = "offline"
    """The camera's device stayed offline longer than `fault_offline_after`."""
    START_FAILURE = "start_failure"
    """Live video would not start (INVITE refused or unanswered, no video in time)."""
    MEDIA_TIMEOUT = "media_timeout"
    """A running stream stopped sending media."""
    BLACK = "black"
    OVEREXPOSED = "overexposed"
    FROZEN = "frozen"
    BLURRED = "blurred"
    LOW_CONTRAST = "low_contrast"
    COLOUR_CAST = "colour_cast"
    OTHER = "other"
    """Opened by hand for anything else (a camera turned away, a dirty lens...)."""


PICTURE_KINDS = frozenset({
    FaultKind.BLACK, FaultKind.OVEREXPOSED, FaultKind.FROZEN, FaultKind.BLURRED,
    FaultKind.LOW_CONTRAST, FaultKind.COLOUR_CAST,
})  # fmt: skip
"""Faults the video quality diagnosis finds in a sampled picture."""
AUTOMATIC_KINDS = PICTURE_KINDS | {
    FaultKind.OFFLINE, FaultKind.START_FAILURE, FaultKind.MEDIA_TIMEOUT
}  # fmt: skip
"""Faults the platform opens (and closes) by itself; `other` is only opened by hand."""

_PICTURE_ALIASES = {
    "colour_cast": FaultKind.COLOUR_CAST,
    "color_cast": FaultKind.COLOUR_CAST,
    "colourcast": FaultKind.COLOUR_CAST,
    "colorcast": FaultKind.COLOUR_CAST,
    "lowcontrast": FaultKind.LOW_CONTRAST,
    "low_contrast": FaultKind.LOW_CONTRAST,
    "overexposure": FaultKind.OVEREXPOSED,
    "overexposed": FaultKind.OVEREXPOSED,
    "blur": FaultKind.BLURRED,
    "blurry": FaultKind.BLURRED,
    "blurred": FaultKind.BLURRED,
    "freeze": FaultKind.FROZEN,
    "frozen": FaultKind.FROZEN,
    "black": FaultKind.BLACK,
    "dark": FaultKind.BLACK,
}


def picture_kind(kind: str) -> FaultKind | None:
    """A picture fault named by the diagnosis (its own enum's value, any case, `-` or `_`);
    None when it names no picture fault."""
    text = str(getattr(kind, "value", kind)).strip().lower().replace("-", "_").replace(" ", "_")
    return _PICTURE_ALIASES.get(text)


class FaultState(StrEnum):
    OPEN = "open"
    FARM_NOTIFIED = "farm_notified"
    FIXED = "fixed"
    VERIFIED = "verified"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        """Not yet verified or closed: the farm still has a fault to deal with."""
        return self not in (FaultState.VERIFIED, FaultState.CLOSED)

    @property
    def awaits_farm(self) -> bool:
        """Not yet fixed: reminders and escalation run."""
        return self in (FaultState.OPEN, FaultState.FARM_NOTIFIED)


class FaultActor(StrEnum):
    """Who moves a ticket: a monitor (or any signed-in user within the farm's reach), an
    administrator, or the platform itself."""

    USER = "user"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Transition:
    source: FaultState
    target: FaultState
    actors: frozenset[FaultActor]


_EVERYONE = frozenset(FaultActor)
_ADMINISTRATORS = frozenset({FaultActor.ADMINISTRATOR, FaultActor.SYSTEM})
_SYSTEM = frozenset({FaultActor.SYSTEM})

TRANSITIONS: tuple[Transition, ...] = (
    Transition(FaultState.OPEN, FaultState.FARM_NOTIFIED, _EVERYONE),
    Transition(FaultState.OPEN, FaultState.FIXED, _EVERYONE),
    Transition(FaultState.FARM_NOTIFIED, FaultState.FIXED, _EVERYONE),
    Transition(FaultState.FIXED, FaultState.VERIFIED, _ADMINISTRATORS),
    Transition(FaultState.FIXED, FaultState.FARM_NOTIFIED, _ADMINISTRATORS),
    Transition(FaultState.OPEN, FaultState.CLOSED, _ADMINISTRATORS),
    Transition(FaultState.FARM_NOTIFIED, FaultState.CLOSED, _ADMINISTRATORS),
    Transition(FaultState.FIXED, FaultState.CLOSED, _ADMINISTRATORS),
)
_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


class IllegalTransition(Conflict):
    """409: the ticket cannot go from its state to the one asked."""


def check_transition(source: FaultState, target: FaultState, actor: FaultActor) -> None:
    """Raise `IllegalTransition` (409) when no such step exists, `PermissionDenied` (403)
    when it exists but not for `actor`."""
    transition = _BY_PAIR.get((source, target))
    if transition is None:
        allowed = sorted(t.target.value for t in TRANSITIONS if t.source is source)
        raise IllegalTransition(
            f"a {source.value} ticket cannot become {target.value}"
            + (f" (it may become: {', '.join(allowed)})" if allowed else " (it is finished)")
        )
    if actor not in transition.actors:
        raise PermissionDenied(f"only an administrator may make a ticket {target.value}")
