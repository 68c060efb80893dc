"""What each kind of subscription to a device asks (GB/T 28181-2016 §9.11; gb28181.md §5.1):
the catalog (Query/Catalog, `Event: Catalog;id=<n>`), alarms (Query/Alarm, every priority
and method, `Event: presence`) and mobile position (Query/MobilePosition with `Interval`,
`Event: presence`), each with its expiry from `[registrar]`. `Subscriptions` (in
`catalog_subscriptions`) keeps one dialog of a kind per device; these values are all that
differs between the kinds. Pure values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from farmwatch.sipserver.gb.manscdp import AlarmQuery, CmdType, MobilePositionQuery
from farmwatch.sipserver.gb.manscdp_build import build_catalog_query
from farmwatch.sipserver.gb.manscdp_event_query import (
    ALL_METHODS,
    build_alarm_query,
    build_mobile_position_query,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.settings import RegistrarSettings

__all__ = ["ALARMS", "CATALOG", "POSITIONS", "SubscriptionKind", "event_kinds"]

BodyBuilder = Callable[[int, str, ManscdpCharset, RegistrarSettings], bytes]
"""(SN, device ID, charset, settings) → the SUBSCRIBE's body."""


@dataclass(frozen=True, slots=True)
class SubscriptionKind:
    name: str
    """For logs: "catalog", "alarm", "mobile position"."""
    cmd_type: CmdType
    """The CmdType of the NOTIFYs that belong to it."""
    event_package: str
    numbered: bool
    """`Event: <package>;id=<n>` (catalog, Annex P) rather than the bare package."""
    expires: Callable[[RegistrarSettings], int]
    body: BodyBuilder

    def event(self, sn: int) -> str:
        return f"{self.event_package};id={sn}" if self.numbered else self.event_package


def _catalog_body(sn: int, device_id: str, charset: ManscdpCharset, _: RegistrarSettings) -> bytes:
    return build_catalog_query(sn, device_id, charset)


def _alarm_body(sn: int, device_id: str, charset: ManscdpCharset, _: RegistrarSettings) -> bytes:
    # Every alarm: priorities 1 (level-1, most severe) to 4, every method, no time window.
    query = AlarmQuery(device_id, sn, start_priority=1, end_priority=4, method=ALL_METHODS)
    return build_alarm_query(query, charset=charset)


def _position_body(
    sn: int, device_id: str, charset: ManscdpCharset, settings: RegistrarSettings
) -> bytes:
    query = MobilePositionQuery(device_id, sn, interval=settings.position_interval)
    return build_mobile_position_query(query, charset=charset)


CATALOG = SubscriptionKind(
    "catalog", CmdType.CATALOG, "Catalog", True,
    lambda settings: settings.catalog_subscription_expires, _catalog_body,
)  # fmt: skip
ALARMS = SubscriptionKind(
    "alarm", CmdType.ALARM, "presence", False,
    lambda settings: settings.event_subscription_expires, _alarm_body,
)  # fmt: skip
POSITIONS = SubscriptionKind(
    "mobile position", CmdType.MOBILE_POSITION, "presence", False,
    lambda settings: settings.event_subscription_expires, _position_body,
)  # fmt: skip


def event_kinds(settings: RegistrarSettings) -> tuple[SubscriptionKind, ...]:
    """The subscriptions besides the catalog one that `settings` ask for."""
    return tuple(
        kind
        for kind, wanted in (
            (ALARMS, settings.subscribe_alarms),
            (POSITIONS, settings.subscribe_positions),
        )  # fmt: skip
        if wanted
    )
