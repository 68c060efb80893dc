"""What a simulated camera does with a SnapShotConfig ([2022] item 4; gb28181.md §4.9,
§4.14): it takes `SnapNum` pictures `Interval` seconds apart (its test pattern as it is at
that moment, as a JPEG), uploads each by HTTP POST to `UploadURL`, then sends
Notify/UploadSnapShotFinished with the `SessionID` and the file IDs (channel ID, time,
sequence number). Each run is remembered in `SnapshotRun` for tests.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from farmwatch.simulator.test_pattern import TestPatternSpec, pattern_jpeg
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp_snapshot import SnapShotConfig, build_upload_snapshot_finished

__all__ = ["SnapshotRun", "SnapshotUploader"]

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT = 10.0

SendNotify = Callable[[bytes], Coroutine[Any, Any, int]]
"""Sends one MESSAGE to the platform; its status."""


@dataclass(slots=True)
class SnapshotRun:
    """One SnapShotConfig carried out: the HTTP status of each upload, the file IDs, and the
    platform's status for UploadSnapShotFinished (None until sent)."""

    channel_id: str
    config: SnapShotConfig
    statuses: list[int] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    finished_status: int | None = None


class SnapshotUploader:
    def __init__(
        self,
        spec_for: Callable[[str], TestPatternSpec],
        send_notify: SendNotify,
        next_sn: Callable[[], int],
        clock: Callable[[], float],
        on_change: Callable[[], object] = lambda: None,
    ) -> None:
        self._spec_for = spec_for
        self._send_notify = send_notify
        self._next_sn = next_sn
        self._clock = clock
        self._on_change = on_change
        self.runs: list[SnapshotRun] = []

    async def run(self, channel_id: str, config: SnapShotConfig) -> SnapshotRun:
        run = SnapshotRun(channel_id, config)
        self.runs.append(run)
        spec = self._spec_for(channel_id)
        timeout = aiohttp.ClientTimeout(total=UPLOAD_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for sequence in range(1, config.snap_num + 1):
                if sequence > 1:
                    await asyncio.sleep(config.interval)  # the camera's own pace
                index = int(self._clock() * spec.fps)
                jpeg = await asyncio.to_thread(pattern_jpeg, spec, index)
                file_id = f"{channel_id}{time.strftime('%Y%m%d%H%M%S')}{sequence:02d}"
                status = await self._upload(http, config.upload_url, jpeg, channel_id)
                run.statuses.append(status)
                if 200 <= status < 300:
                    run.file_ids.append(file_id)
                self._on_change()  # tests wait on each upload, not just on the end
        body = build_upload_snapshot_finished(
            channel_id, self._next_sn(), config.session_id, run.file_ids
        )
        try:
            run.finished_status = await self._send_notify(body)
        except SipError as error:
            log.warning("channel %s: UploadSnapShotFinished not delivered: %s", channel_id, error)
        log.info("channel %s: %d snapshot(s) uploaded, statuses %s", channel_id,
                 len(run.file_ids), run.statuses)  # fmt: skip
        return run

    @staticmethod
    async def _upload(http: aiohttp.ClientSession, url: str, jpeg: bytes, channel: str) -> int:
        try:
            async with http.post(url, data=jpeg, headers={"Content-Type": "image/jpeg"}) as answer:
                await answer.read()
                return answer.status
        except (aiohttp.ClientError, TimeoutError) as error:
            log.warning("channel %s: snapshot upload to %s failed: %s", channel, url[:60], error)
            return 0
