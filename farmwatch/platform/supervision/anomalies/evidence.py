"""The evidence clip of a reported anomaly: from `before` seconds before the moment seen to
`after` seconds after it (`[supervision] evidence_before`, `evidence_after`; art. 21).

Seen in a playback, the range usually exists already and is cut at once. Seen live, the
"after" part is still to come: the clip is taken once it has been recorded. A camera the
platform records (its plan is due) is cut from the platform's own segments, which are
indexed when they close (`[recordings] segment_minutes`), so the taker waits for them to
cover the range, at most a segment's length and a margin, and meanwhile locks the segments
already there so that retention keeps them. A camera the platform does not record is
fetched from the device's recordings at once (the NVR's). Either way the clip goes through
`ClipService`: separate store, read-only, SHA-256.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from farmwatch.platform.recordings.clip_service import ClipService
from farmwatch.platform.recordings.platform_recording import PlatformRecording

__all__ = ["EvidenceRange", "EvidenceTaker"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
COVER_MARGIN = timedelta(seconds=30)
"""Beyond a segment's length, how long to wait for the platform's segments to close."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class EvidenceRange:
    start: datetime
    end: datetime

    @classmethod
    def around(cls, moment: datetime, before: float, after: float) -> EvidenceRange:
        """[moment - before, moment + after], at least one second long."""
        start = moment - timedelta(seconds=before)
        end = max(moment + timedelta(seconds=after), start + timedelta(seconds=1))
        return cls(start, end)


class EvidenceTaker:
    def __init__(
        self,
        clips: ClipService,
        recording: PlatformRecording,
        *,
        before: float,
        after: float,
        clock: Clock = _utc_now,
        poll: float = 1.0,
    ) -> None:
        self._clips = clips
        self._recording = recording
        self.before = before
        self.after = after
        self._clock = clock
        self._poll = poll

    def range_of(self, moment: datetime) -> EvidenceRange:
        return EvidenceRange.around(moment, self.before, self.after)

    async def wait_for(self, channel_id: str, wanted: EvidenceRange) -> list[int]:
        """Return once [start, end] can be cut: its end has passed and, for a camera the
        platform records, its segments cover it (or waiting longer is pointless). The
        segments it locked meanwhile are returned, for the caller to `ClipService.release`
        once the clip is under way (which locks what it copies itself)."""
        held = await self._clips.hold(channel_id, wanted.start, wanted.end)
        try:
            await self._wait(channel_id, wanted)
            held += await self._clips.hold(channel_id, wanted.start, wanted.end)
        except BaseException:
            await asyncio.shield(self._clips.release(held))
            raise
        return held

    async def _wait(self, channel_id: str, wanted: EvidenceRange) -> None:
        delay = (wanted.end - self._clock()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)  # the video after the moment is being recorded
        if channel_id not in self._recording.due_channels():
            return
        give_up = wanted.end + self._recording.policy.segment_length + COVER_MARGIN
        while not await self._clips.covers(channel_id, wanted.start, wanted.end):
            if self._clock() >= give_up:
                log.warning("evidence of channel %s: the platform's segments still do not "
                            "cover %s-%s, taken from the device", channel_id,
                            wanted.start.isoformat(), wanted.end.isoformat())  # fmt: skip
                return
            # Segments are indexed when a media worker closes them; no event says so.
            await asyncio.sleep(self._poll)
