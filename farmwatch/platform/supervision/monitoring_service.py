"""Making and reading monitoring records (监控记录; regulation art. 18; issue 11 item 2).

A record is made from a live or playback view of one camera: the camera's farm comes from
its device's placement (`farm_devices`) and its checklist from its key area
(`camera_placements`); every point must be answered; a snapshot is taken at once (the live
picture, or the caller's playback's) and kept by its SHA-256, or its absence is recorded
with the reason (the record is kept either way); the record is signed with the caller's
name and the server's time. Records are never changed; a correction is a new record that
names the one it corrects. Readers see the records of the farms within their reach
(`AccessGate.visible_farms`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from farmwatch.platform.access import (
    AccessGate,
    DirectoryRepository,
    Farm,
    MediaOwners,
    OwnedKind,
    Principal,
)
from farmwatch.platform.cameras import KeyArea, PlacementRepository
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PlatformError
from farmwatch.platform.supervision.checklists import checklist_of
from farmwatch.platform.supervision.monitoring_records import (
    MonitoringDraft,
    MonitoringFilter,
    MonitoringRecord,
    Signature,
    Snapshot,
    ViewMode,
    outcome_of,
    read_answers,
)
from farmwatch.platform.supervision.monitoring_repository import MonitoringRepository
from farmwatch.platform.supervision.snapshot_store import SnapshotStore, is_jpeg

__all__ = ["MonitoringService", "RecordSources", "ViewSnapshots"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
SNAPSHOT_TIMEOUT = 15.0
"""Seconds a record waits for its picture (a camera to start streaming, a keyframe)."""


class ViewSnapshots(Protocol):
    """Where a record's picture comes from (`LiveService.snapshot`,
    `PlaybackService.snapshot`)."""

    async def live(self, channel_id: str) -> bytes: ...

    async def playback(self, session_id: str) -> bytes: ...


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RecordSources:
    """What a record is made from: who may reach which farm and camera (`gate`), where
    cameras are (`directory`: device → farm; `placements`: key area), who holds which
    playback (`owners`) and the pictures (`snapshots`)."""

    gate: AccessGate
    directory: DirectoryRepository
    placements: PlacementRepository
    owners: MediaOwners
    snapshots: ViewSnapshots


class MonitoringService:
    def __init__(
        self,
        repository: MonitoringRepository,
        sources: RecordSources,
        store: SnapshotStore,
        *,
        zone: ZoneInfo,
        clock: Clock = _utc_now,
        snapshot_timeout: float = SNAPSHOT_TIMEOUT,
    ) -> None:
        self.zone = zone
        """The platform's zone (`[registrar] timezone`): the API's times are local to it."""
        self._repository = repository
        self._sources = sources
        self._store = store
        self._clock = clock
        self._snapshot_timeout = snapshot_timeout

    async def create(
        self, principal: Principal, channel_id: str, draft: MonitoringDraft
    ) -> MonitoringRecord:
        """Check, sign and store a record of camera `channel_id` (the caller may view it:
        the route's rule checked that). `InvalidInput` for a bad draft, `Conflict` for a
        camera without a farm or a key area."""
        device_id, farm_id, organisation_id = await self._farm_of(channel_id)
        area = await self._key_area(channel_id)
        answers = read_answers(checklist_of(area), draft.answers)
        now = self._clock()
        if draft.corrects_id is not None:
            await self._check_corrected(principal, draft.corrects_id, channel_id)
        recorded_at = await self._recorded_at(principal, channel_id, draft, now)
        snapshot = await self._snapshot(principal, channel_id, draft)
        record = MonitoringRecord(
            id=0, channel_id=channel_id, device_id=device_id, farm_id=farm_id,
            organisation_id=organisation_id, key_area=area, mode=draft.mode,
            recorded_at=recorded_at, answers=answers, remark=draft.remark,
            outcome=outcome_of(answers), snapshot=snapshot,
            signature=Signature(principal.user_id, principal.name, principal.display_name, now),
            corrects_id=draft.corrects_id,
        )  # fmt: skip
        stored = await self._repository.add(record)
        log.info(
            "monitoring record %d: farm %d, device %s, channel %s, %s %s, %s by %s%s",
            stored.id, farm_id, device_id, channel_id, area.value, draft.mode.value,
            stored.outcome.value, principal.name,
            "" if snapshot.sha256 else f" (no snapshot: {snapshot.missing_reason})",
        )  # fmt: skip
        return stored

    async def _farm_of(self, channel_id: str) -> tuple[str, int, int]:
        placements = await self._sources.directory.camera_placements(channel_id)
        if not placements:
            raise NotFound(f"no camera {channel_id}")
        for camera in placements:
            if camera.farm_id is not None and camera.organisation_id is not None:
                return camera.device_id, camera.farm_id, camera.organisation_id
        raise Conflict(
            f"camera {channel_id} is on no farm: an administrator puts its device "
            f"{placements[0].device_id} on a farm first (PUT /api/devices/{{id}}/farm)"
        )

    async def _key_area(self, channel_id: str) -> KeyArea:
        place = (await self._sources.placements.places([channel_id])).get(channel_id)
        if place is None or place.key_area is None:
            raise Conflict(
                f"camera {channel_id} has no key area, so it has no checklist: an "
                "administrator sets its key area first (PUT /api/channels/{id}/placement)"
            )
        return place.key_area

    async def _check_corrected(self, principal: Principal, record_id: int, channel_id: str) -> None:
        corrected = await self.get(principal, record_id)
        if corrected.channel_id != channel_id:
            raise InvalidInput(
                f"corrects: record {record_id} is of camera {corrected.channel_id}, "
                f"not {channel_id}"
            )

    async def _recorded_at(
        self, principal: Principal, channel_id: str, draft: MonitoringDraft, now: datetime
    ) -> datetime:
        if draft.mode is ViewMode.LIVE:
            if draft.recorded_at is not None:
                raise InvalidInput("recorded_at: a live record is of now; leave it out")
            return now
        if draft.recorded_at is None:
            raise InvalidInput("recorded_at: a playback record needs the position watched")
        if draft.recorded_at > now:
            raise InvalidInput("recorded_at: the position watched is in the future")
        if draft.playback_session is not None:
            owned = await self._sources.owners.owner(OwnedKind.PLAYBACK, draft.playback_session)
            if owned is None or not owned.is_held_by(principal):
                raise InvalidInput(
                    f"playback_session: {draft.playback_session[:40]} is not a playback you opened"
                )
            if owned.channel_id != channel_id:
                raise InvalidInput(
                    f"playback_session: it plays camera {owned.channel_id}, not {channel_id}"
                )
        return draft.recorded_at

    async def _snapshot(
        self, principal: Principal, channel_id: str, draft: MonitoringDraft
    ) -> Snapshot:
        snapshots = self._sources.snapshots
        if draft.mode is ViewMode.PLAYBACK and draft.playback_session is None:
            return Snapshot(None, "playback without playback_session: no picture to take")
        try:
            async with asyncio.timeout(self._snapshot_timeout):
                if draft.mode is ViewMode.LIVE:
                    jpeg = await snapshots.live(channel_id)
                else:
                    assert draft.playback_session is not None
                    jpeg = await snapshots.playback(draft.playback_session)
        except TimeoutError:
            return Snapshot(None, f"no picture within {self._snapshot_timeout:g} s")
        except PlatformError as error:
            return Snapshot(None, str(error)[:256])
        if not is_jpeg(jpeg):
            return Snapshot(None, "the picture taken was not a whole JPEG")
        try:
            return Snapshot(await self._store.save(jpeg))
        except OSError as error:
            log.error("monitoring snapshot of channel %s not stored: %s", channel_id, error)
            return Snapshot(None, f"the picture could not be stored: {error.strerror}")

    async def get(self, principal: Principal, record_id: int) -> MonitoringRecord:
        """One record of a farm within the caller's reach (`NotFound` otherwise)."""
        record = await self._repository.get(record_id)
        if record is None:
            raise NotFound(f"no monitoring record {record_id}")
        visible = await self._sources.gate.visible_farms(principal)
        if visible is not None and record.farm_id not in visible:
            raise NotFound(f"no monitoring record {record_id}")
        return record

    async def find(
        self, principal: Principal, wanted: MonitoringFilter, *, limit: int, offset: int = 0
    ) -> list[MonitoringRecord]:
        visible = await self._sources.gate.visible_farms(principal)
        return await self._repository.find(wanted, visible, limit=limit, offset=offset)

    async def snapshot(self, principal: Principal, record_id: int) -> bytes:
        record = await self.get(principal, record_id)
        if record.snapshot.sha256 is None:
            raise NotFound(
                f"monitoring record {record_id} has no snapshot: {record.snapshot.missing_reason}"
            )
        jpeg = await self._store.read(record.snapshot.sha256)
        if jpeg is None:
            raise NotFound(f"the snapshot of monitoring record {record_id} is missing or damaged")
        return jpeg

    def now(self) -> datetime:
        return self._clock()

    async def farms(self) -> dict[int, Farm]:
        """Every farm by ID (to name the farms of records already filtered)."""
        return {farm.id: farm for farm in await self._sources.directory.farms()}
