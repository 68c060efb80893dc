"""Fault tickets (regulation art. 19; issue 11 item 4): opened by the platform when a camera
stays offline, its video will not start or stops, or its picture is bad, and by hand; moved
by people through notified, fixed and verified; closed by the platform when the camera is
back. While a farm has an open ticket it is flagged for more on-site inspection
(`open_by_farm`).

Who sees what: the tickets of the farms the caller may supervise (`AccessGate.farm`); a
ticket of a device placed on no farm only an administrator of the top organisation. Anyone
within the farm's reach may mark it notified or fixed; verifying (and closing by hand, and
sending back a fix that did not hold) is for administrators.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from farmwatch.platform.access import AccessGate, Principal, Role
from farmwatch.platform.access.camera_access import CameraAccess
from farmwatch.platform.access.directory import DirectoryRepository
from farmwatch.platform.access.gate import Verdict
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from farmwatch.platform.supervision.faults.feed import FaultEvent, FaultEventKind, FaultFeed
from farmwatch.platform.supervision.faults.figures import (
    OrganisationFaults,
    Period,
    fault_statistics,
)
from farmwatch.platform.supervision.faults.records import (
    AUTO,
    FaultFilter,
    FaultTicket,
    NewFault,
)
from farmwatch.platform.supervision.faults.repository import FaultRepository
from farmwatch.platform.supervision.faults.states import (
    FaultActor,
    FaultKind,
    FaultState,
    check_transition,
)
from farmwatch.platform.supervision.webhook import Webhook

__all__ = ["FaultService", "FaultStatistics", "ticket_json"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_LIST = 500
UTC_ZONE = ZoneInfo("UTC")
_MAX_OFFLINE_INDEXED = 100_000
"""Open `offline` tickets read into the index of devices that have one."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _who(principal: Principal) -> str:
    return principal.name if principal.token_id is None else f"token {principal.name}"


def _actor(principal: Principal) -> FaultActor:
    return FaultActor.ADMINISTRATOR if principal.role is Role.ADMINISTRATOR else FaultActor.USER


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def ticket_json(ticket: FaultTicket) -> dict[str, object]:
    """A ticket as the API, the feed and the webhook show it."""
    return {
        "id": ticket.id, "farm_id": ticket.farm_id, "device_id": ticket.device_id,
        "channel_id": ticket.channel_id, "kind": ticket.kind.value,
        "state": ticket.state.value, "since": ticket.since.isoformat(),
        "opened_at": ticket.opened_at.isoformat(), "opened_by": ticket.opened_by,
        "detail": ticket.detail, "updated_at": ticket.updated_at.isoformat(),
        "fixed_at": _time(ticket.fixed_at), "ended_at": _time(ticket.ended_at),
        "reminders": {
            "sent": ticket.reminders_sent,
            "last": _time(ticket.last_reminded_at),
        },
        "escalated": ticket.is_escalated,
        "escalated_at": _time(ticket.escalated_at),
        "occurrences": ticket.occurrences,
    }  # fmt: skip


@dataclass(frozen=True, slots=True)
class FaultStatistics:
    period: Period
    organisations: list[OrganisationFaults]
    names: dict[int, str]


class FaultService:
    def __init__(
        self,
        faults: FaultRepository,
        gate: AccessGate,
        directory: DirectoryRepository,
        cameras: CameraAccess,
        feed: FaultFeed,
        webhook: Webhook,
        *,
        zone: ZoneInfo = UTC_ZONE,
        clock: Clock = _utc_now,
    ) -> None:
        self._zone = zone
        self._faults = faults
        self._gate = gate
        self._directory = directory
        self._cameras = cameras
        self._feed = feed
        self._webhook = webhook
        self._clock = clock
        self._offline_devices: set[str] = set()
        """Devices with an open `offline` ticket, and perhaps a few whose tickets closed
        since: a device coming back is looked up in the database only when it is here."""
        self._offline_devices_known = False
        self._offline_reports = 0

    @property
    def zone(self) -> ZoneInfo:
        """The zone of times given to the API without an offset (`[registrar] timezone`)."""
        return self._zone

    @property
    def feed(self) -> FaultFeed:
        return self._feed

    def now(self) -> datetime:
        return self._clock()

    # -- what the platform reports ------------------------------------------------------

    async def report(
        self,
        device_id: str,
        channel_id: str,
        kind: FaultKind,
        *,
        since: datetime,
        detail: str | None,
        by: str = AUTO,
    ) -> FaultTicket:
        """Open a ticket for this camera and kind, or count one more occurrence on the one
        open already."""
        if kind is FaultKind.OFFLINE:  # before it is stored: a device coming back finds it
            self._offline_devices.add(device_id)
            self._offline_reports += 1
        farm_id = await self._directory.device_farm(device_id)
        fault = NewFault(farm_id, device_id, channel_id, kind, since, detail, by)
        ticket, is_new = await self._faults.report(fault, self._clock())
        if is_new:
            log.info("fault %d opened: %s of channel %s (device %s, farm %s) by %s", ticket.id,
                     kind.value, channel_id, device_id, farm_id, by)  # fmt: skip
            self._feed.add(FaultEventKind.OPENED, ticket, self._clock())
        return ticket

    async def close_automatically(
        self, channel_id: str, kinds: Collection[FaultKind], remark: str
    ) -> list[FaultTicket]:
        """Close the open tickets of `channel_id` of these kinds (the camera is back): the
        history says `auto` and why."""
        closed: list[FaultTicket] = []
        for kind in kinds:
            for ticket in await self._faults.find(
                FaultFilter(channel_id=channel_id, kind=kind, is_open=True), limit=10
            ):
                moved = await self._faults.transition(
                    ticket.id, ticket.state, FaultState.CLOSED, by=AUTO, at=self._clock(),
                    remark=remark,
                )  # fmt: skip
                if moved is None:
                    continue  # moved by a person meanwhile: that person's step stands
                log.info("fault %d closed automatically: %s of channel %s (%s)", moved.id,
                         kind.value, channel_id, remark)  # fmt: skip
                self._feed.add(FaultEventKind.CLOSED, moved, self._clock())
                closed.append(moved)
        return closed

    async def open_tickets(
        self, *, device_id: str | None = None, farm_id: int | None = None
    ) -> list[FaultTicket]:
        return await self._faults.find(
            FaultFilter(device_id=device_id, farm_id=farm_id, is_open=True), limit=100_000
        )

    # A farm region coming back after a power cut registers thousands of devices a second;
    # without this index each of them cost a database query for tickets it never had.

    async def load_offline_devices(self) -> None:
        """Read which devices have an open `offline` ticket (at start-up); until then
        `may_have_open_offline` says yes for every device."""
        tickets = await self._faults.find(
            FaultFilter(kind=FaultKind.OFFLINE, is_open=True), limit=_MAX_OFFLINE_INDEXED
        )
        self._offline_devices.update(ticket.device_id for ticket in tickets)
        # More than that open at once: some were not read, so every device is looked up.
        self._offline_devices_known = len(tickets) < _MAX_OFFLINE_INDEXED

    def may_have_open_offline(self, device_id: str) -> bool:
        """False only when `device_id` surely has no open `offline` ticket."""
        return not self._offline_devices_known or device_id in self._offline_devices

    @property
    def offline_reports(self) -> int:
        """How many `offline` reports were made so far (for `forget_offline`)."""
        return self._offline_reports

    def forget_offline(self, device_id: str, *, reports_before: int) -> None:
        """`device_id` was found with no open `offline` ticket by a query started when
        `offline_reports` was `reports_before`; forgotten unless one was reported since."""
        if self._offline_reports == reports_before:
            self._offline_devices.discard(device_id)

    async def remind(self, ticket: FaultTicket, at: datetime) -> None:
        await self._faults.record_reminder(ticket.id, at)
        reminded = replace(ticket, reminders_sent=ticket.reminders_sent + 1, last_reminded_at=at)
        log.info("fault %d: farm %s reminded (%d)", ticket.id, ticket.farm_id,
                 reminded.reminders_sent)  # fmt: skip
        self._feed.add(FaultEventKind.REMINDED, reminded, at)

    async def escalate(self, ticket: FaultTicket, at: datetime) -> None:
        if not await self._faults.record_escalation(ticket.id, at):
            return
        escalated = replace(ticket, escalated_at=at)
        log.warning("fault %d escalated: %s of channel %s, farm %s, open since %s", ticket.id,
                    ticket.kind.value, ticket.channel_id, ticket.farm_id,
                    ticket.opened_at.isoformat())  # fmt: skip
        self._feed.add(FaultEventKind.ESCALATED, escalated, at)
        await self._webhook.post(
            {"event": "fault_escalated", "fault": ticket_json(escalated)},
            about=f"fault {escalated.id}",
        )

    # -- what people do -------------------------------------------------------------------

    async def open_by_hand(
        self, principal: Principal, channel_id: str, kind: FaultKind, detail: str | None
    ) -> FaultTicket:
        verdict = await self._gate.channel(principal, channel_id)
        if verdict is Verdict.UNKNOWN:
            raise NotFound(f"no camera {channel_id}")
        if verdict is Verdict.REFUSED:
            raise PermissionDenied(f"channel {channel_id} is not within your reach")
        placements = await self._directory.camera_placements(channel_id)
        if not placements:
            raise NotFound(f"no camera {channel_id}")
        return await self.report(
            placements[0].device_id, channel_id, kind, since=self._clock(), detail=detail,
            by=_who(principal),
        )  # fmt: skip

    async def _reachable(self, principal: Principal) -> frozenset[int] | None:
        return await self._gate.visible_farms(principal)

    async def _visible(self, principal: Principal, fault_id: int) -> FaultTicket:
        ticket = await self._faults.get(fault_id)
        if ticket is None:
            raise NotFound(f"no fault ticket {fault_id}")
        farms = await self._reachable(principal)
        if farms is not None and (ticket.farm_id is None or ticket.farm_id not in farms):
            raise PermissionDenied(f"fault ticket {fault_id} is not within your reach")
        return ticket

    async def get(self, principal: Principal, fault_id: int) -> FaultTicket:
        return await self._visible(principal, fault_id)

    async def find(
        self,
        principal: Principal,
        wanted: FaultFilter,
        *,
        organisation_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[FaultTicket]:
        farms = await self._scope(principal, organisation_id)
        if farms is not None:
            wanted = replace(wanted, farms=farms if wanted.farms is None else wanted.farms & farms)
        return await self._faults.find(wanted, limit=min(limit, MAX_LIST), offset=offset)

    async def _scope(
        self, principal: Principal, organisation_id: int | None
    ) -> frozenset[int] | None:
        """The farms the caller may see, within `organisation_id`'s subtree when given."""
        farms = await self._reachable(principal)
        if organisation_id is None:
            return farms
        orgs = await self._cameras.org_tree()
        if orgs.get(organisation_id) is None:
            raise NotFound(f"no organisation {organisation_id}")
        within = frozenset(f.id for f in await self._directory.farms(orgs.subtree(organisation_id)))
        return within if farms is None else within & farms

    async def change_state(
        self, principal: Principal, fault_id: int, target: FaultState, remark: str | None
    ) -> FaultTicket:
        ticket = await self._visible(principal, fault_id)
        check_transition(ticket.state, target, _actor(principal))
        moved = await self._faults.transition(
            fault_id, ticket.state, target, by=_who(principal), at=self._clock(), remark=remark
        )
        if moved is None:
            raise Conflict(f"fault ticket {fault_id} changed meanwhile: look at it again")
        log.info("fault %d: %s -> %s by %s (farm %s, channel %s)", fault_id,
                 ticket.state.value, target.value, _who(principal), ticket.farm_id,
                 ticket.channel_id)  # fmt: skip
        self._feed.add(FaultEventKind.STATE, moved, self._clock())
        return moved

    async def open_by_farm(self, farm_ids: Collection[int] | None) -> dict[int, int]:
        """Open tickets per farm (farms without one left out): such a farm is flagged for
        more on-site inspection."""
        return await self._faults.open_by_farm(farm_ids)

    async def farm_names(self, farm_ids: Collection[int | None]) -> dict[int, str]:
        """The names of these farms (to show beside their tickets; unknown ones left out)."""
        names: dict[int, str] = {}
        for farm_id in {f for f in farm_ids if f is not None}:
            farm = await self._directory.farm(farm_id)
            if farm is not None:
                names[farm_id] = farm.name
        return names

    async def flagged_farms(self, principal: Principal) -> dict[int, int]:
        """`open_by_farm` of the farms the caller may see."""
        return await self._faults.open_by_farm(await self._reachable(principal))

    async def events(
        self, principal: Principal, cursor: int | None, *, wait: float
    ) -> tuple[list[FaultEvent], int]:
        farms = await self._reachable(principal)

        def seen(event: FaultEvent) -> bool:
            if event.kind is FaultEventKind.ESCALATED and principal.role is not Role.ADMINISTRATOR:
                return False  # escalation is the administrators' business
            farm = event.ticket.farm_id
            return farms is None or (farm is not None and farm in farms)

        return await self._feed.wait(cursor, seen, wait)

    async def statistics(
        self,
        principal: Principal,
        *,
        organisation_id: int | None,
        since: datetime | None,
        until: datetime | None,
    ) -> FaultStatistics:
        now = self._clock()
        end = until or now
        start = since or end - timedelta(days=30)
        if start >= end:
            raise InvalidInput("since: expected a time before until")
        period = Period(start, end)
        farms = await self._scope(principal, organisation_id)
        tickets = await self._faults.for_statistics(farms, start)
        placed = await self._directory.farms(None)
        farm_orgs = {f.id: f.organisation_id for f in placed if farms is None or f.id in farms}
        found = fault_statistics(tickets, farm_orgs, period)
        orgs = await self._cameras.org_tree()
        names = {o.organisation_id: getattr(orgs.get(o.organisation_id), "name", "") for o in found}
        return FaultStatistics(period, found, names)
