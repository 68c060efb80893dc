"""What the platform shows of its upper platform links (`GET /api/uppers`).

The links themselves live in `farmwatch.cascade`, above the platform; the web reads them
through this view, which the composition root hands it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["UpperLinkStatus", "UpperLinksView"]


@dataclass(frozen=True, slots=True)
class UpperLinkStatus:
    name: str
    upper_id: str
    local_id: str
    """The ID we present to this upper."""
    host: str
    port: int
    transport: str
    state: str
    """idle, registering, registered, retry-wait or stopped."""
    registered: bool
    last_registered_at: datetime | None
    last_keepalive_at: datetime | None
    """The last keepalive the upper answered 200."""
    keepalives_sent: int
    keepalives_answered: int
    registrations: int
    failures: int
    """Failed registrations since the last success."""
    last_error: str | None
    catalog_pushes: int
    """Catalog answers sent to this upper."""
    subscribed: bool
    """The upper holds a live catalog subscription."""
    notifies_sent: int
    calls: int
    """Video calls of this upper now (live relays, playbacks, downloads)."""
    alarms_forwarded: int
    """Device alarms sent up and answered 200."""
    controls_forwarded: int = 0
    """The upper's DeviceControl commands passed on to devices."""
    controls_refused: int = 0
    """Its DeviceControl commands refused by a camera's control floor (held, or too fast)."""
    broadcasts: int = 0
    """Voice broadcasts of this upper running now (its audio relayed to a device)."""


class UpperLinksView(Protocol):
    def statuses(self) -> list[UpperLinkStatus]: ...
