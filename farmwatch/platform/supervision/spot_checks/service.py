"""Drawing, recording and reporting random spot checks (抽查; regulation art. 4; issue 11
item 6).

The population of a draw is every camera the caller may view at this tier (the access
gate's visibility), each with its farm (`population.py`) weighted by how long ago that farm
last had a spot-check result recorded. The seed comes from `secrets` and is stored with the
whole population, so that `verify` runs the draw again and shows the cameras were drawn,
not picked. A check belongs to the caller's organisation and is seen by the users of that
organisation and those above it; a result may be recorded by anyone who sees the check and
may view the camera, on the key area's checklist validated exactly like a monitoring record.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from farmwatch.platform.access import AccessGate, CameraAccess, DirectoryRepository, Principal
from farmwatch.platform.cameras import KeyArea, PlacementRepository
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.supervision.checklists import checklist_of
from farmwatch.platform.supervision.monitoring_records import (
    MAX_REMARK,
    ViewMode,
    outcome_of,
    read_answers,
)
from farmwatch.platform.supervision.spot_checks.draw import Candidate, draw, population_digest
from farmwatch.platform.supervision.spot_checks.population import candidates
from farmwatch.platform.supervision.spot_checks.records import (
    MAX_COUNT,
    MAX_PERIOD,
    ItemResult,
    ItemState,
    SpotCheck,
    SpotCheckItem,
    SpotCheckReport,
    Verification,
)
from farmwatch.platform.supervision.spot_checks.report import report_of
from farmwatch.platform.supervision.spot_checks.repository import SpotCheckRepository

__all__ = ["ResultDraft", "SpotCheckService", "SpotCheckSources"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SeedSource = Callable[[], int]
MAX_REPORTED = 10_000
"""Spot checks one report sums up."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _random_seed() -> int:
    return secrets.randbits(64)


@dataclass(frozen=True, slots=True)
class SpotCheckSources:
    """Who may see what (`gate`, `cameras`), where devices are (`directory`), every catalog
    item (`channels`) and the cameras' local key areas (`placements`)."""

    gate: AccessGate
    cameras: CameraAccess
    directory: DirectoryRepository
    channels: ChannelRepository
    placements: PlacementRepository


@dataclass(frozen=True, slots=True)
class ResultDraft:
    """What the inspector submitted for one drawn camera."""

    state: ItemState
    mode: ViewMode | None = None
    key_area: KeyArea | None = None
    """Picked on the form when the camera has no key area at this tier."""
    answers: Mapping[str, object] | None = None
    remark: str = ""
    """For an unplayable camera: why (required)."""


class SpotCheckService:
    def __init__(
        self,
        repository: SpotCheckRepository,
        sources: SpotCheckSources,
        *,
        clock: Clock = _utc_now,
        seeds: SeedSource = _random_seed,
    ) -> None:
        self._repository = repository
        self._sources = sources
        self._clock = clock
        self._seeds = seeds

    async def draw(self, principal: Principal, count: int, period: str | None = None) -> SpotCheck:
        """Draw `count` cameras among those `principal` may view and store the check."""
        if not 1 <= count <= MAX_COUNT:
            raise InvalidInput(f"count: expected 1 to {MAX_COUNT}, got {count}")
        if period is not None and (len(period) > MAX_PERIOD or not period.isprintable()):
            raise InvalidInput(f"period: at most {MAX_PERIOD} printable characters")
        now = self._clock()
        population = await self._population(principal, now)
        if not population:
            raise Conflict("no camera within your reach to draw from")
        seed = self._seeds() & (2**64 - 1)
        drawn = draw(population, count, seed)
        places = await self._sources.placements.places([d.candidate.channel_id for d in drawn])
        items = tuple(
            SpotCheckItem(
                position=d.position,
                channel_id=d.candidate.channel_id,
                device_id=d.candidate.device_id,
                farm_key=d.candidate.farm_key,
                farm_name=d.candidate.farm_name,
                weight=d.candidate.weight,
                state=ItemState.PENDING,
                key_area=place.key_area if (place := places.get(d.candidate.channel_id)) else None,
            )  # fmt: skip
            for d in drawn
        )
        check = await self._repository.add(
            SpotCheck(
                id=0,
                organisation_id=principal.organisation_id,
                drawn_by=principal.name,
                drawn_by_user_id=principal.user_id,
                drawn_at=now,
                requested=count,
                seed=f"{seed:016x}",
                population_digest=population_digest(population),
                period=period or None,
                items=items,
                population=tuple(population),
            )  # fmt: skip
        )
        log.info(
            "spot check %d drawn by %s: %d of %d cameras on %d farms (seed %s): %s",
            check.id, principal.name, len(items), len(population),
            len({c.farm_key for c in population}), check.seed,
            ", ".join(f"{i.farm_name}/{i.channel_id}" for i in items)[:500],
        )  # fmt: skip
        return check

    async def _population(self, principal: Principal, now: datetime) -> list[Candidate]:
        sources = self._sources
        visible = await sources.gate.visibility(principal)
        farm_names = {farm.id: farm.name for farm in await sources.directory.farms()}
        return candidates(
            await sources.channels.list_all(),
            visible.cameras,
            await sources.directory.device_farms(),
            farm_names,
            await self._repository.last_checked(),
            now,
        )

    async def get(
        self, principal: Principal, check_id: int, *, with_population: bool = False
    ) -> SpotCheck:
        """A check of the caller's organisation or one below it (`NotFound` otherwise)."""
        check = await self._repository.get(check_id, with_population=with_population)
        if check is None or not await self._sees(principal, check.organisation_id):
            raise NotFound(f"no spot check {check_id}")
        return check

    async def _sees(self, principal: Principal, organisation_id: int) -> bool:
        orgs = await self._sources.cameras.org_tree()
        return orgs.is_within(organisation_id, principal.organisation_id)

    async def _organisations(self, principal: Principal) -> frozenset[int]:
        orgs = await self._sources.cameras.org_tree()
        return orgs.subtree(principal.organisation_id)

    async def find(self, principal: Principal, *, limit: int, offset: int = 0) -> list[SpotCheck]:
        return await self._repository.find(
            await self._organisations(principal), limit=limit, offset=offset
        )

    async def verify(self, principal: Principal, check_id: int) -> Verification:
        """Run the stored draw again from its stored population and seed."""
        check = await self.get(principal, check_id, with_population=True)
        expected = draw(check.population, check.requested, check.seed_value)
        stored = [(item.channel_id, item.device_id) for item in check.items]
        again = [(d.candidate.channel_id, d.candidate.device_id) for d in expected]
        return Verification(
            digest_matches=population_digest(check.population) == check.population_digest,
            draw_matches=stored == again,
            population=len(check.population),
            expected=tuple(channel for channel, _ in again),
        )

    async def record(
        self, principal: Principal, check_id: int, position: int, result: ResultDraft
    ) -> SpotCheckItem:
        """Record what the inspector found on the check's camera at `position`."""
        check = await self.get(principal, check_id)
        item = next((i for i in check.items if i.position == position), None)
        if item is None:
            raise NotFound(f"spot check {check_id} has no camera {position}")
        if not await self._sources.cameras.can_view(principal, item.channel_id):
            raise PermissionDenied(f"camera {item.channel_id} is not within your reach")
        if item.state is ItemState.RECORDED:
            raise Conflict(
                f"camera {position} of spot check {check_id} was recorded already by "
                f"{item.recorded_by}"
            )
        now = self._clock()
        if result.state is ItemState.RECORDED:
            area = result.key_area or item.key_area
            if area is None:
                raise InvalidInput(
                    "key_area: the camera has no key area at this platform; pick the area it shows"
                )
            answers = read_answers(checklist_of(area), result.answers or {})
            stored = ItemResult(
                ItemState.RECORDED, area, answers, result.remark, outcome_of(answers),
                result.mode or ViewMode.LIVE, principal.name, principal.user_id, now,
            )  # fmt: skip
            allowed = {ItemState.PENDING, ItemState.UNPLAYABLE}
        elif result.state is ItemState.UNPLAYABLE:
            if not result.remark:
                raise InvalidInput("remark: say why the camera would not play")
            if item.state is ItemState.UNPLAYABLE:
                raise Conflict(f"camera {position} of spot check {check_id} is unplayable already")
            stored = ItemResult(
                ItemState.UNPLAYABLE, item.key_area, (), result.remark[:MAX_REMARK], None,
                result.mode, principal.name, principal.user_id, now,
            )  # fmt: skip
            allowed = {ItemState.PENDING}
        else:
            raise InvalidInput("state: expected recorded or unplayable")
        if not await self._repository.record(check_id, position, stored, allowed_from=allowed):
            raise Conflict(f"camera {position} of spot check {check_id} was recorded meanwhile")
        log.info(
            "spot check %d camera %d (farm %s, device %s, channel %s): %s by %s%s",
            check_id, position, item.farm_name, item.device_id, item.channel_id,
            stored.state.value, principal.name,
            f", {stored.outcome.value}" if stored.outcome else f": {stored.remark[:80]}",
        )  # fmt: skip
        updated = await self.get(principal, check_id)
        return next(i for i in updated.items if i.position == position)

    async def report(
        self, principal: Principal, since: datetime | None, until: datetime | None
    ) -> SpotCheckReport:
        """The checks the caller sees drawn in [since, until), summed up."""
        if since is not None and until is not None and until <= since:
            raise InvalidInput("to: must be after from")
        checks = await self._repository.find(
            await self._organisations(principal), since=since, until=until,
            limit=MAX_REPORTED + 1,
        )  # fmt: skip
        if len(checks) > MAX_REPORTED:
            raise InvalidInput(f"more than {MAX_REPORTED} spot checks in the period: narrow it")
        return report_of(checks, since, until)
