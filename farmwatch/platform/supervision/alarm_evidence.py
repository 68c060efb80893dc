"""An evidence clip around each device alarm on a camera (`[supervision] alarm_evidence`;
issue 12 item 3).

`AlarmEvidence.alarms_stored` is an `AlarmService` stored-listener: it never waits. For an
alarm whose source is a camera (a channel the platform records, or one whose GB ID says
camera, which its device can play back) it takes, in the background, the clip from
`evidence_before` before to `evidence_after` after the alarm's moment (the device's alarm
time; when it sent none or its clock is off, when the alarm was received) through the
anomalies' `EvidenceTaker` — which waits for the "after" part to be recorded and holds the
platform's segments meanwhile — and links the clip to the alarm once the clip exists (until
then `is_awaited` says so, and the alarm shows its clip pending; a restart forgets it). The
clip's own state (pending → ready or failed, with the device's refusal or the missing
recording as its error) is the alarm's evidence state; a failure is logged with the device
and channel and never touches the alarm itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any

from farmwatch.media.errors import MediaError
from farmwatch.platform.errors import PlatformError
from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.records import ClipState
from farmwatch.platform.repositories.alarm_repository import AlarmRepository, StoredAlarm
from farmwatch.platform.supervision.anomalies.evidence import EvidenceTaker
from farmwatch.sipserver.gb.ids import DeviceKind, GbId

__all__ = ["AlarmEvidence", "alarm_moment", "is_camera"]

log = logging.getLogger(__name__)

_CAMERA_KINDS = frozenset({DeviceKind.CAMERA, DeviceKind.IPC})
CLOCK_TOLERANCE = timedelta(minutes=15)
"""How far a device's alarm time may be from its receipt and still be believed (less than
any zone offset, more than a slow delivery)."""


def alarm_moment(alarm: StoredAlarm) -> datetime:
    """The moment the clip is cut around: the device's alarm time, else when received —
    also when the device's time is further than `CLOCK_TOLERANCE` from it: its clock or
    zone is off (a camera on UTC read as Beijing time is 8 hours out) and a clip of that
    time would hold something else."""
    device = alarm.alarm_time
    if device is None or abs(device - alarm.received_at) > CLOCK_TOLERANCE:
        return alarm.received_at
    return device


def is_camera(source_id: str, recorded: set[str]) -> bool:
    """Whether an alarm's source has video: a channel the platform records, or a camera by
    its GB ID (an alarm input or the device itself has none)."""
    if source_id in recorded:
        return True
    gb_id = GbId.try_parse(source_id)
    return gb_id is not None and gb_id.kind in _CAMERA_KINDS


class AlarmEvidence:
    def __init__(
        self,
        alarms: AlarmRepository,
        clips: ClipService,
        taker: EvidenceTaker,
        recorded: Callable[[], set[str]],
    ) -> None:
        self._alarms = alarms
        self._clips = clips
        self._taker = taker
        self._recorded = recorded
        """The channels the platform records now (`PlatformRecording.due_channels`)."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._awaited: set[int] = set()
        """The alarms whose clip is being taken and not linked yet."""
        self._closed = False

    def is_awaited(self, alarm_id: int) -> bool:
        """Whether the alarm's clip is being taken and does not exist yet (the `AlarmService`
        shows it pending)."""
        return alarm_id in self._awaited

    def alarms_stored(self, alarms: Sequence[StoredAlarm]) -> None:
        """The `AlarmService` stored-listener: one background clip per camera alarm."""
        if self._closed:  # alarms stored on the way out: the clips have stopped
            return
        recorded = self._recorded()
        for alarm in alarms:
            if is_camera(alarm.source_id, recorded):
                self._awaited.add(alarm.id)
                self._spawn(self._take(alarm))

    async def close(self) -> None:
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _take(self, alarm: StoredAlarm) -> None:
        try:
            await self._take_clip(alarm)
        finally:  # linked by now, or no clip will come
            self._awaited.discard(alarm.id)

    async def _take_clip(self, alarm: StoredAlarm) -> None:
        moment = alarm_moment(alarm)
        if alarm.alarm_time is not None and moment != alarm.alarm_time:
            log.warning("alarm %d (device %s, channel %s): the device's alarm time %s is off "
                        "by more than %s; the clip is cut around its receipt", alarm.id,
                        alarm.device_id, alarm.source_id, alarm.alarm_time.isoformat(),
                        CLOCK_TOLERANCE)  # fmt: skip
        wanted = self._taker.range_of(moment)
        reason = f"告警 {alarm.id}: 设备 {alarm.device_id} 报警"
        if alarm.description:
            reason = f"{reason} ({alarm.description})"
        try:
            held = await self._taker.wait_for(alarm.source_id, wanted)
            try:
                clip = await self._clips.create(alarm.source_id, wanted.start, wanted.end,
                                                reason[:500])  # fmt: skip
            finally:
                await self._clips.release(held)
            await self._alarms.link_clip(alarm.id, clip.id)
            log.info("alarm %d (device %s, channel %s): evidence clip %s (%s)", alarm.id,
                     alarm.device_id, alarm.source_id, clip.id, clip.source)  # fmt: skip
            done = await self._clips.wait(clip.id)
        except (PlatformError, MediaError, OSError) as error:
            log.warning("alarm %d (device %s, channel %s): no evidence clip: %s", alarm.id,
                        alarm.device_id, alarm.source_id, error)  # fmt: skip
            return
        if done.state is ClipState.FAILED:
            log.warning("alarm %d (device %s, channel %s): evidence clip %s failed: %s",
                        alarm.id, alarm.device_id, alarm.source_id, done.id,
                        done.error)  # fmt: skip

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
