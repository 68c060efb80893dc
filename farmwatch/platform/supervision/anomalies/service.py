"""Anomalies as the API uses them: report (with its evidence clip), list, rectify, escalate,
close, attach evidence and follow-ups, notify (regulation art. 20–21; issue 11 item 3).

Who reaches an anomaly is decided by its farm (`AccessGate.farm`, checked by the web's
middleware through `farm_of`); the service checks the decisions only an administrator
takes (`states.transition`). A report is stored and answered at once; its evidence clip is
taken in the background (`EvidenceTaker`) and the anomaly's evidence state goes pending →
saved or failed with the reason. Each new anomaly wakes the console's feed (`events`, the
administrators of the farm's organisation and those above) and is POSTed to the webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.media.errors import MediaError
from farmwatch.platform.access import AccessGate, DirectoryRepository, Farm, Principal, Verdict
from farmwatch.platform.errors import Conflict, InvalidInput, NotFound, PlatformError
from farmwatch.platform.recordings.clip_service import ClipService, ClipVerification
from farmwatch.platform.recordings.records import ClipState, EvidenceClip
from farmwatch.platform.supervision.anomalies.evidence import EvidenceRange, EvidenceTaker
from farmwatch.platform.supervision.anomalies.records import (
    MAX_CATEGORY,
    MAX_DESCRIPTION,
    Anomaly,
    AnomalyFilter,
    EvidenceLink,
    FollowUp,
    HistoryEntry,
    NewAnomaly,
    ViewMode,
)
from farmwatch.platform.supervision.anomalies.repository import AnomalyRepository
from farmwatch.platform.supervision.anomalies.states import (
    AnomalyState,
    EvidenceState,
    Step,
    transition,
)
from farmwatch.platform.supervision.webhook import Webhook

__all__ = ["AnomalyDetail", "AnomalyService", "who"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
MAX_WAIT = 30.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def who(principal: Principal) -> str:
    return principal.name if principal.token_id is None else f"token {principal.name}"


@dataclass(frozen=True, slots=True)
class AnomalyDetail:
    anomaly: Anomaly
    farm: Farm | None
    evidence: list[tuple[EvidenceLink, EvidenceClip | None]]
    history: list[HistoryEntry]
    follow_ups: list[FollowUp]


class AnomalyService:
    def __init__(
        self,
        repository: AnomalyRepository,
        clips: ClipService,
        evidence: EvidenceTaker,
        gate: AccessGate,
        directory: DirectoryRepository,
        webhook: Webhook,
        *,
        zone: ZoneInfo,
        clock: Clock = _utc_now,
    ) -> None:
        self._anomalies = repository
        self._clips = clips
        self._evidence = evidence
        self._gate = gate
        self._directory = directory
        self._webhook = webhook
        self.zone = zone
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._reported = asyncio.Event()
        """Set (and replaced) at each new anomaly: the feed's waiters wake."""
        self._releasing = False

    # -- life ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Evidence a restart interrupted is taken again (its range is in the past now)."""
        await self._webhook.start()
        for anomaly in await self._anomalies.pending_evidence():
            self._spawn(self._take_evidence(anomaly, resumed=True))

    def release_waiters(self) -> None:
        self._releasing = True
        reported, self._reported = self._reported, asyncio.Event()
        reported.set()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._webhook.close()

    # -- reading -------------------------------------------------------------------------

    async def farm_of(self, anomaly_id: int) -> int | None:
        """The anomaly's farm (what decides who reaches it); None: no such anomaly."""
        return await self._anomalies.farm_of(anomaly_id)

    async def open_by_farm(self, farm_ids: Collection[int]) -> dict[int, int]:
        """Anomalies not closed, per farm: such a farm is due more on-site inspection."""
        return await self._anomalies.open_by_farm(farm_ids)

    async def open_of_farm(self, farm_id: int) -> list[Anomaly]:
        """The farm's anomalies not closed yet, oldest first."""
        found = await self._anomalies.not_closed([farm_id])
        return sorted(found, key=lambda a: a.reported_at)

    async def find(
        self,
        principal: Principal,
        *,
        state: AnomalyState | None = None,
        farm_id: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Anomaly]:
        farms = await self._gate.visible_farms(principal)
        wanted = AnomalyFilter(farms=farms, state=state, farm_id=farm_id)
        return await self._anomalies.find(wanted, now=self._clock(), limit=limit, offset=offset)

    async def get(self, anomaly_id: int) -> Anomaly:
        anomaly = await self._anomalies.get(anomaly_id)
        if anomaly is None:
            raise NotFound(f"no anomaly {anomaly_id}")
        return anomaly

    def evidence_range(self, anomaly: Anomaly) -> tuple[datetime, datetime]:
        """The recorded range the anomaly's evidence clip covers."""
        wanted = self._evidence.range_of(anomaly.seen_at)
        return wanted.start, wanted.end

    async def farm(self, farm_id: int) -> Farm | None:
        return await self._directory.farm(farm_id)

    async def detail(self, anomaly_id: int) -> AnomalyDetail:
        anomaly = await self.get(anomaly_id)
        links = await self._anomalies.evidence(anomaly_id)
        evidence: list[tuple[EvidenceLink, EvidenceClip | None]] = []
        for link in links:
            try:
                evidence.append((link, await self._clips.get(link.clip_id)))
            except NotFound:
                evidence.append((link, None))
        return AnomalyDetail(
            anomaly, await self._directory.farm(anomaly.farm_id), evidence,
            await self._anomalies.history(anomaly_id), await self._anomalies.follow_ups(anomaly_id),
        )  # fmt: skip

    async def events(
        self, principal: Principal, since_id: int | None, *, wait: float, limit: int
    ) -> tuple[list[Anomaly], int]:
        """Anomalies reported after `since_id` on the farms `principal` reaches (oldest
        first), waiting up to `wait` s for one; and the ID to ask from next."""
        cursor = await self._anomalies.latest_id() if since_id is None else since_id
        wanted = AnomalyFilter(farms=await self._gate.visible_farms(principal), after_id=cursor)
        reported = self._reported  # taken before the query: a report in between wakes it
        found = await self._anomalies.after(wanted, limit=limit)
        if not found and wait > 0 and not self._releasing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, MAX_WAIT)):
                    while not found and not self._releasing:
                        await reported.wait()
                        reported = self._reported
                        found = await self._anomalies.after(wanted, limit=limit)
        return found, found[-1].id if found else cursor

    # -- reporting -----------------------------------------------------------------------

    async def report(
        self,
        principal: Principal,
        channel_id: str,
        *,
        description: str,
        mode: ViewMode,
        seen_at: datetime | None,
        category: str | None,
    ) -> Anomaly:
        """Open an anomaly of `channel_id`'s farm and start taking its evidence."""
        description = description.strip()
        if not description or len(description) > MAX_DESCRIPTION:
            raise InvalidInput(f"description: required, at most {MAX_DESCRIPTION} characters")
        category = (category or "").strip() or None
        if category is not None and len(category) > MAX_CATEGORY:
            raise InvalidInput(f"category: at most {MAX_CATEGORY} characters")
        now = self._clock()
        if mode is ViewMode.LIVE:
            seen_at = now
        elif seen_at is None:
            raise InvalidInput("time: the recorded time seen is required for a playback")
        elif seen_at > now:
            raise InvalidInput("time: a recorded time cannot be in the future")
        farm_id = await self._farm_of_camera(channel_id)
        anomaly = await self._anomalies.add(
            NewAnomaly(farm_id, channel_id, who(principal), principal.user_id, now, seen_at,
                       mode, category, description),
            evidence=EvidenceState.PENDING,
        )  # fmt: skip
        log.info("anomaly %d reported by %s: farm %d, channel %s, %s at %s", anomaly.id,
                 who(principal), farm_id, channel_id, mode.value,
                 seen_at.astimezone(self.zone).isoformat())  # fmt: skip
        self._spawn(self._take_evidence(anomaly))
        reported, self._reported = self._reported, asyncio.Event()
        reported.set()
        self._webhook.send(await self._payload(anomaly), about=f"anomaly {anomaly.id}")
        return anomaly

    async def _farm_of_camera(self, channel_id: str) -> int:
        placements = await self._directory.camera_placements(channel_id)
        if not placements:
            raise NotFound(f"no channel {channel_id}")
        farms = sorted({p.farm_id for p in placements if p.farm_id is not None})
        if not farms:
            raise Conflict(f"channel {channel_id} is on no farm: place its device on a farm first")
        return farms[0]

    async def _payload(self, anomaly: Anomaly) -> dict[str, Any]:
        farm = await self._directory.farm(anomaly.farm_id)
        local = self.zone
        return {
            "event": "anomaly_reported",
            "anomaly": {
                "id": anomaly.id, "farm_id": anomaly.farm_id,
                "farm": None if farm is None else farm.name,
                "filing_number": None if farm is None else farm.filing_number,
                "channel_id": anomaly.channel_id, "reporter": anomaly.reporter,
                "reported_at": anomaly.reported_at.astimezone(local).isoformat(),
                "time": anomaly.seen_at.astimezone(local).isoformat(),
                "mode": anomaly.mode.value, "category": anomaly.category,
                "description": anomaly.description, "state": anomaly.state.value,
            },
        }  # fmt: skip

    async def _take_evidence(self, anomaly: Anomaly, *, resumed: bool = False) -> None:
        reason = f"异常 {anomaly.id}: {anomaly.description}"[:500]
        wanted = self._evidence.range_of(anomaly.seen_at)
        try:
            clip = await self._first_clip(anomaly) if resumed else None
            if clip is None:
                clip = await self._cut(anomaly, wanted, reason)
            clip = await self._clips.wait(clip.id)
        except (PlatformError, MediaError, OSError) as error:
            await self._evidence_done(anomaly, EvidenceState.FAILED, str(error) or "failed")
            return
        if clip.state is ClipState.READY:
            await self._evidence_done(anomaly, EvidenceState.SAVED, None)
        elif clip.state is ClipState.FAILED:
            await self._evidence_done(anomaly, EvidenceState.FAILED, clip.error or "failed")
        else:  # a clip a restart cut short stays pending for ever
            await self._evidence_done(anomaly, EvidenceState.FAILED,
                                      "the platform stopped while the clip was cut")  # fmt: skip

    async def _first_clip(self, anomaly: Anomaly) -> EvidenceClip | None:
        links = await self._anomalies.evidence(anomaly.id)
        return None if not links else await self._clips.get(links[0].clip_id)

    async def _cut(self, anomaly: Anomaly, wanted: EvidenceRange, reason: str) -> EvidenceClip:
        held = await self._evidence.wait_for(anomaly.channel_id, wanted)
        try:
            clip = await self._clips.create(anomaly.channel_id, wanted.start, wanted.end, reason)
        finally:
            await self._clips.release(held)
        await self._anomalies.attach(anomaly.id, clip.id, by=anomaly.reporter, at=self._clock())
        log.info("anomaly %d: evidence clip %s of channel %s (%s)", anomaly.id, clip.id,
                 anomaly.channel_id, clip.source)  # fmt: skip
        return clip

    async def _evidence_done(
        self, anomaly: Anomaly, state: EvidenceState, error: str | None
    ) -> None:
        await self._anomalies.set_evidence(anomaly.id, state, error, at=self._clock())
        if state is EvidenceState.FAILED:
            log.warning("anomaly %d (farm %d, channel %s): evidence failed: %s", anomaly.id,
                        anomaly.farm_id, anomaly.channel_id, error)  # fmt: skip
        else:
            log.info("anomaly %d: evidence saved", anomaly.id)

    # -- acting --------------------------------------------------------------------------

    async def order_rectification(
        self, principal: Principal, anomaly_id: int, order: str, deadline: datetime
    ) -> Anomaly:
        step = Step(AnomalyState.RECTIFICATION_ORDERED, principal.is_administrator,
                    order=order, deadline=deadline)  # fmt: skip
        return await self._step(principal, anomaly_id, step)

    async def change_state(
        self,
        principal: Principal,
        anomaly_id: int,
        wanted: AnomalyState,
        remark: str,
        case_number: str | None,
    ) -> Anomaly:
        if wanted is AnomalyState.RECTIFICATION_ORDERED:
            raise InvalidInput(
                "state: a rectification is ordered with POST /api/anomalies/{id}/rectification"
            )
        step = Step(wanted, principal.is_administrator, remark, case_number=case_number)
        return await self._step(principal, anomaly_id, step)

    async def _step(self, principal: Principal, anomaly_id: int, step: Step) -> Anomaly:
        anomaly = await self.get(anomaly_id)
        checked = transition(anomaly.state, step, self._clock())
        changed = await self._anomalies.apply(anomaly_id, anomaly.state, checked,
                                              by=who(principal), at=self._clock())  # fmt: skip
        log.info("anomaly %d (farm %d): %s -> %s by %s", anomaly_id, anomaly.farm_id,
                 anomaly.state.value, changed.state.value, who(principal))  # fmt: skip
        return changed

    async def attach_clip(
        self, principal: Principal, anomaly_id: int, clip_id: str
    ) -> EvidenceClip:
        """Link an existing evidence clip of a camera the caller may view."""
        await self.get(anomaly_id)
        clip = await self._clips.get(clip_id)
        if await self._gate.channel(principal, clip.channel_id) is not Verdict.ALLOWED:
            raise NotFound(f"no evidence clip {clip_id}")  # another's camera: as if none
        await self._anomalies.attach(anomaly_id, clip_id, by=who(principal), at=self._clock())
        return clip

    async def cut_clip(
        self, principal: Principal, anomaly_id: int, start: datetime, end: datetime
    ) -> EvidenceClip:
        """A further clip of the anomaly's camera, [start, end], linked at once."""
        anomaly = await self.get(anomaly_id)
        clip = await self._clips.create(
            anomaly.channel_id, start, end, f"异常 {anomaly.id}: {anomaly.description}"[:500]
        )
        await self._anomalies.attach(anomaly_id, clip.id, by=who(principal), at=self._clock())
        return clip

    async def evidence_clip(self, anomaly_id: int, clip_id: str) -> EvidenceClip:
        """One of the anomaly's clips (NotFound for a clip not linked to it)."""
        links = await self._anomalies.evidence(anomaly_id)
        if clip_id not in {link.clip_id for link in links}:
            raise NotFound(f"anomaly {anomaly_id} has no evidence clip {clip_id}")
        return await self._clips.get(clip_id)

    async def verify(self, anomaly_id: int, clip_id: str) -> ClipVerification:
        await self.evidence_clip(anomaly_id, clip_id)
        return await self._clips.verify(clip_id)

    async def clip_file(self, anomaly_id: int, clip_id: str) -> Path:
        await self.evidence_clip(anomaly_id, clip_id)
        return await self._clips.file(clip_id)

    async def link_follow_up(
        self, principal: Principal, anomaly_id: int, record_id: int
    ) -> list[FollowUp]:
        await self.get(anomaly_id)
        await self._anomalies.link_follow_up(anomaly_id, record_id, by=who(principal),
                                             at=self._clock())  # fmt: skip
        return await self._anomalies.follow_ups(anomaly_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("anomaly task failed", exc_info=task.exception())
