"""The video quality sampler: every online camera's picture checked every
`[supervision] diagnosis_interval` seconds (issue 11 item 5).

Each round lists the online cameras (channels of type 131 camera or 132 IPC of online
devices) and samples them spread evenly over the interval (`spread`). A sample is a
snapshot taken the way `GET /api/channels/{id}/snapshot.jpg` takes one
(`LiveService.snapshots`, beside `snapshot`): a camera that is streaming already gives its
latest keyframe from the running stream (no new INVITE); one that is not gets its stream
started like any viewer's (sharing and limits apply) and closed again after `[media]
idle_close` with nobody watching. The keyframe is decoded and scaled to `SAMPLE_WIDTH` where
its stream runs (a media worker, or a thread of this process); the JPEG decode and the
checks run in a pool of `diagnosis_workers` threads, never on the event loop. Threads, not
processes: the checks cost about a millisecond on the small picture, and a process pool
saves about 0.2 ms of a sample's 14 ms (bench/diagnosis.py) while adding children to start
and stop.

A picture that looks like the previous sample's is confirmed on two consecutive keyframes
of the stream before it counts as frozen: a camera that loops a short clip (the simulator
does, every 2-4 s) shows the same keyframe at some sampling intervals while its picture
moves, but never the same one twice in a row; a frozen camera does. A camera that does not
answer, or whose keyframe does not decode, is "unavailable" for that sample and the others
go on; it changes neither the camera's failed state nor its thumbnail. Each sample is
stored with the camera's new state (`picture_states`) and reported to `PictureFaults` when
one is given.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np

from farmwatch.platform.errors import PlatformError
from farmwatch.platform.records import ItemKind
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.supervision.diagnosis.checks import (
    THUMBNAIL_SIZE,
    Diagnosis,
    DiagnosisThresholds,
    PictureFault,
    diagnose,
)
from farmwatch.platform.supervision.diagnosis.faults import PictureFaults
from farmwatch.platform.supervision.diagnosis.picture import PictureUnreadable, decode_jpeg
from farmwatch.platform.supervision.diagnosis.records import (
    CameraPictureState,
    PictureSample,
    SampleOutcome,
)
from farmwatch.platform.supervision.diagnosis.repository import DiagnosisRepository
from farmwatch.platform.supervision.diagnosis.spread import spread
from farmwatch.sipserver.gb.ids import DeviceKind, GbId

__all__ = ["SAMPLE_WIDTH", "START_GRACE", "DiagnosisSampler", "PictureSource", "SamplerSettings"]

START_GRACE = 60.0
"""Seconds after the start before the first round of samples."""

log = logging.getLogger(__name__)

SAMPLE_WIDTH = 320
"""Pixels across the sampled picture: the thresholds are calibrated at this size."""

_CAMERA_KINDS = frozenset({DeviceKind.CAMERA, DeviceKind.IPC})
_SAMPLE_TIMEOUT = 30.0
"""A sample's INVITE, first keyframe and decode together never take longer."""


class PictureSource(Protocol):
    """`LiveService.snapshots`: JPEGs of a camera's latest keyframe and the ones after it."""

    async def snapshots(self, channel_id: str, *, max_width: int, count: int) -> list[bytes]: ...


@dataclass(frozen=True, slots=True)
class SamplerSettings:
    interval: float
    workers: int
    history: int
    thresholds: DiagnosisThresholds
    start_grace: float = START_GRACE
    """Seconds after the start before the first round (capped at one interval)."""

    @property
    def in_flight(self) -> int:
        """Samples running at once (most of a sample's time is waiting for the camera)."""
        return 4 * self.workers


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _thumbnail_bytes(result: Diagnosis) -> bytes:
    return result.thumbnail.astype(np.float32).tobytes()


def _thumbnail_of(state: CameraPictureState | None) -> Any:
    if state is None or state.thumbnail is None:
        return None
    values = np.frombuffer(state.thumbnail, dtype=np.float32)
    if values.size != THUMBNAIL_SIZE[0] * THUMBNAIL_SIZE[1]:
        return None
    return values.reshape(THUMBNAIL_SIZE)


def _diagnose_jpeg(jpeg: bytes, thresholds: DiagnosisThresholds, previous: Any) -> Diagnosis:
    """In a pool thread: decode and check."""
    return diagnose(decode_jpeg(jpeg), thresholds, previous)


def _detail(result: Diagnosis) -> str:
    parts = [
        f"{verdict.kind.value}: {verdict.value:.4g} (threshold {verdict.threshold:g})"
        for verdict in result.verdicts
        if verdict.failed and verdict.value is not None
    ]
    return "; ".join(parts)


class DiagnosisSampler:
    """Samples the online cameras' pictures round after round; `sample_now` on demand."""

    def __init__(
        self,
        pictures: PictureSource,
        channels: ChannelRepository,
        is_device_online: Callable[[str], bool],
        repository: DiagnosisRepository,
        settings: SamplerSettings,
        faults: PictureFaults | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._pictures = pictures
        self._channels = channels
        self._is_device_online = is_device_online
        self._repository = repository
        self._settings = settings
        self._faults = faults
        self._clock = clock
        self._states: dict[str, CameraPictureState] = {}
        self._running: dict[str, asyncio.Task[PictureSample]] = {}
        self._slots = asyncio.Semaphore(settings.in_flight)
        self._pool: ThreadPoolExecutor | None = None
        self._rounds: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def thresholds(self) -> DiagnosisThresholds:
        return self._settings.thresholds

    async def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._settings.workers, thread_name_prefix="diagnosis")
        self._states = {state.channel_id: state for state in await self._repository.states()}
        self._rounds = asyncio.get_running_loop().create_task(self._run_rounds())

    async def close(self) -> None:
        # The samples themselves too: those asked through the API are shielded from their
        # callers, so nobody else would stop them.
        tasks = [task for task in (self._rounds, *self._tasks, *self._running.values())
                 if task is not None]  # fmt: skip
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # -- rounds ----------------------------------------------------------------------------

    async def online_cameras(self) -> list[str]:
        """The channels to sample: cameras and IPCs marked online, of devices online now."""
        cameras = []
        for record in await self._channels.list_all():
            if record.kind is not ItemKind.CHANNEL or not record.is_online:
                continue
            parsed = GbId.try_parse(record.channel_id)
            if parsed is None or parsed.kind not in _CAMERA_KINDS:
                continue
            if self._is_device_online(record.device_id):
                cameras.append(record.channel_id)
        return cameras

    async def _run_rounds(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self._settings.interval
        # After a start, devices re-register and viewers come back first; the pictures can
        # wait a little (a short interval, as in tests, waits no longer than itself).
        await asyncio.sleep(min(interval, self._settings.start_grace))
        while True:
            round_start = loop.time()
            try:
                cameras = await self.online_cameras()
            except Exception:  # the database failing must not end the diagnosis for good
                log.exception("diagnosis: cameras not listed, trying again next round")
                cameras = []
            for offset, channel_id in spread(cameras, interval):
                delay = round_start + offset - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)  # pacing: the next camera's turn
                if channel_id in self._running:
                    continue  # its previous sample is still waiting for the camera
                await self._slots.acquire()
                self._spawn(self._sample_in_slot(channel_id))
            await asyncio.sleep(max(0.0, round_start + interval - loop.time()))

    async def _sample_in_slot(self, channel_id: str) -> None:
        try:
            await self._sample_once(channel_id)
        except Exception:  # one camera's unexpected failure never stops the others
            log.exception("diagnosis of channel %s failed", channel_id)
        finally:
            self._slots.release()

    async def sample_now(self, channel_id: str) -> PictureSample:
        """Sample one camera now (or join its sample under way) and return the result."""
        return await self._sample_once(channel_id)

    async def _sample_once(self, channel_id: str) -> PictureSample:
        running = self._running.get(channel_id)
        if running is None:
            running = asyncio.get_running_loop().create_task(self._sample(channel_id))
            self._running[channel_id] = running
            running.add_done_callback(lambda _: self._running.pop(channel_id, None))
        return await asyncio.shield(running)

    # -- one sample ------------------------------------------------------------------------

    async def _sample(self, channel_id: str) -> PictureSample:
        sampled_at = self._clock()
        previous = self._states.get(channel_id)
        try:
            async with asyncio.timeout(_SAMPLE_TIMEOUT):
                result = await self._judge(channel_id, _thumbnail_of(previous))
        except (PlatformError, PictureUnreadable, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            log.info("diagnosis: channel %s unavailable: %s", channel_id, reason)
            sample = PictureSample(channel_id, sampled_at, SampleOutcome.UNAVAILABLE,
                                   detail=reason[:256])  # fmt: skip
            state = CameraPictureState(
                channel_id=channel_id, sampled_at=sampled_at, outcome=SampleOutcome.UNAVAILABLE,
                is_failed=previous is not None and previous.is_failed,
                failures=() if previous is None else previous.failures,
                detail=sample.detail, thumbnail=None if previous is None else previous.thumbnail,
            )  # fmt: skip
            await self._store(sample, state)
            return sample
        outcome = SampleOutcome.PASSED if result.passed else SampleOutcome.FAILED
        detail = _detail(result) or None
        sample = PictureSample(channel_id, sampled_at, outcome, result.failures, detail,
                               result.measurements)  # fmt: skip
        state = CameraPictureState(
            channel_id=channel_id, sampled_at=sampled_at, outcome=outcome,
            is_failed=not result.passed, failures=result.failures, detail=detail,
            thumbnail=_thumbnail_bytes(result),
        )  # fmt: skip
        if result.passed != (previous is None or not previous.is_failed):
            log.warning("diagnosis: channel %s picture %s%s", channel_id, outcome.value,
                        f" ({detail})" if detail else "")  # fmt: skip
        await self._store(sample, state)
        await self._report(channel_id, result)
        return sample

    async def _judge(self, channel_id: str, previous: Any) -> Diagnosis:
        (jpeg,) = await self._pictures.snapshots(channel_id, max_width=SAMPLE_WIDTH, count=1)
        result = await self._in_pool(jpeg, previous)
        if PictureFault.FROZEN in result.failures:
            # The same picture as last time: frozen only if two consecutive keyframes of the
            # stream are the same picture too (a looping clip's are not, a frozen camera's
            # are). Consecutive, from one probe: a keyframe taken later might be the loop's
            # same picture again.
            first, following = await self._pictures.snapshots(
                channel_id, max_width=SAMPLE_WIDTH, count=2
            )
            earlier = await self._in_pool(first, None)
            result = await self._in_pool(following, earlier.thumbnail)
        return result

    async def _in_pool(self, jpeg: bytes, previous: Any) -> Diagnosis:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._pool, _diagnose_jpeg, jpeg, self._settings.thresholds, previous
        )

    async def _store(self, sample: PictureSample, state: CameraPictureState) -> None:
        self._states[sample.channel_id] = state
        await self._repository.record(sample, state, keep=self._settings.history)

    async def _report(self, channel_id: str, result: Diagnosis) -> None:
        if self._faults is None:
            return
        try:
            if result.passed:
                await self._faults.picture_passed(channel_id)
                return
            for verdict in result.verdicts:
                if verdict.failed:
                    detail = f"{verdict.value:.4g} (threshold {verdict.threshold:g})"
                    await self._faults.picture_failed(channel_id, verdict.kind, detail)
        except Exception:  # the fault tickets failing must not stop the diagnosis
            log.exception("diagnosis: fault tickets not told about channel %s", channel_id)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
