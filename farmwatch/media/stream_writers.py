"""The files a node writes from its streams: platform recording and downloads, by stream key.

Owns the segment recorders (`sinks.segment_recorder.SegmentRecorder`) and download files
(`sinks.mp4_download.Mp4FileSink`) attached to a node's streams (DESIGN.md "Growing the house":
a segment recorder and an MP4 downloader beside the viewers' sinks), for `LocalMediaNode`.

* A recorder is a PS sink (`Stream.attach_ps`): it counts like a viewer, so its stream does
  not idle-close, but it gets each frame's PS bytes as received and the stream is not
  demultiplexed for it (a recorded stream nobody watches costs receiving and writing). A
  live device is never held back for a disk; the recorder's own minute of queue absorbs a
  slow one. Each closed segment
  goes to `on_segment` with the stream key. Recording ends with the stream (the open segment
  is closed and reported), on `stop_recording`, or when the recorder fails (disk full:
  logged by the recorder); `recording_keys` names only recorders that are still recording
  a running stream, which is what the platform's reconciler repairs against.
* A download is attached with backpressure (a lossless file: a TCP source is held while the
  writer is behind). It outlives its stream: after a device's MediaStatus 121 the stream
  ends, and `finish_download` still returns the finished file.

The writers' modules load with the first recording or download, not at start-up (PyAV only
with a download: recording writes the PS as received).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from farmwatch.media.errors import MediaError
from farmwatch.media.node import DownloadResult, RecordingSpec
from farmwatch.media.stream import PsSubscription, Stream, Subscription

if TYPE_CHECKING:
    from farmwatch.media.sinks.mp4_download import Mp4FileSink
    from farmwatch.media.sinks.segment_recorder import RecordedSegment, SegmentRecorder

__all__ = ["StreamWriters"]

log = logging.getLogger(__name__)

FINISH_TIMEOUT = 20.0
"""Seconds a download's file may take to be written out and closed."""


@dataclass(slots=True)
class _Recording:
    stream: Stream
    subscription: PsSubscription
    recorder: SegmentRecorder

    def detach(self) -> None:
        self.stream.detach_ps(self.subscription)

    @property
    def is_recording(self) -> bool:
        return not self.recorder.is_closed and self.stream.close_reason is None


@dataclass(slots=True)
class _Download:
    stream: Stream
    subscription: Subscription
    sink: Mp4FileSink

    def detach(self) -> None:
        self.stream.detach(self.subscription)


class StreamWriters:
    """Recorders and downloads of one node's streams; see the module docstring."""

    def __init__(self, on_segment: Callable[[str, RecordedSegment], None]) -> None:
        self._on_segment = on_segment
        self._recordings: dict[str, _Recording] = {}
        self._downloads: dict[str, _Download] = {}
        # One writer thread for every file of the node: each recorder hands it a GOP at a
        # time, and one thread cost clearly less CPU than a pool (bench/segment_writer.py).
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="file-writer")

    # ---- recording ----

    async def start_recording(self, stream: Stream, spec: RecordingSpec) -> None:
        """Attach a recorder to `stream` unless one records it already."""
        from farmwatch.media.sinks.segment_recorder import SegmentRecorder

        key = stream.key
        current = self._recordings.get(key)
        if current is not None:
            if current.is_recording and current.stream is stream:
                return
            await self.stop_recording(key)  # ended or failed: a new one takes over
        zone, length = _zone(spec.zone), _segment_length(spec.segment_seconds)
        recorder = SegmentRecorder(
            Path(spec.directory),
            zone=zone,
            on_segment=lambda segment: self._on_segment(key, segment),
            segment_length=length,
            executor=self._executor,
            name=f"recorder:{key}",
        )
        await recorder.start()
        try:
            recording = _Recording(stream, stream.attach_ps(recorder), recorder)
        except BaseException:
            await recorder.close()
            raise
        self._recordings[key] = recording
        log.info("stream %s: recording into %s (%s, %g s segments)", key, spec.directory,
                 spec.zone, spec.segment_seconds)  # fmt: skip

    async def stop_recording(self, stream_key: str) -> None:
        """Close the stream's recorder (its open segment is closed and reported)."""
        recording = self._recordings.pop(stream_key, None)
        if recording is None:
            return
        recording.detach()
        await recording.recorder.close()
        log.info("stream %s: recording stopped (%d segments)", stream_key,
                 recording.recorder.segments_recorded)  # fmt: skip

    def recording_keys(self) -> set[str]:
        return {key for key, recording in self._recordings.items() if recording.is_recording}

    @property
    def has_ended_recordings(self) -> bool:
        """A recorder ended by itself and waits for `sweep`."""
        return any(recording.recorder.is_closed for recording in self._recordings.values())

    async def sweep(self) -> None:
        """Release the recorders that ended by themselves (stream gone, write failure)."""
        for key, recording in list(self._recordings.items()):
            if recording.recorder.is_closed and self._recordings.get(key) is recording:
                del self._recordings[key]
                await recording.recorder.close()

    # ---- downloads ----

    async def start_download(self, stream: Stream, path: str) -> None:
        from farmwatch.media.sinks.mp4_download import Mp4FileSink

        key = stream.key
        if key in self._downloads:
            raise MediaError(f"stream {key} is being downloaded already")
        sink = Mp4FileSink(Path(path), executor=self._executor, name=f"download:{key}")
        await sink.start()
        try:
            subscription = stream.attach(sink, backpressure=True)
        except BaseException:
            await sink.close()
            raise
        self._downloads[key] = _Download(stream, subscription, sink)

    async def finish_download(self, stream_key: str) -> DownloadResult | None:
        download = self._downloads.pop(stream_key, None)
        if download is None:
            raise MediaError(f"stream {stream_key} has no download")
        download.detach()
        sink = download.sink
        try:
            async with asyncio.timeout(FINISH_TIMEOUT):
                info = await sink.finish()
        except TimeoutError as error:
            raise MediaError(
                f"download of {stream_key} not written in {FINISH_TIMEOUT:g} s"
            ) from error
        except MediaError:
            if sink.failure is not None:
                raise
            return None  # no frame came: no file
        finally:
            await sink.close()
        return DownloadResult(
            path=str(info.path),
            duration_seconds=info.duration.total_seconds(),
            frame_count=info.frame_count,
            byte_count=info.byte_count,
            width=info.width,
            height=info.height,
        )

    async def abort_download(self, stream_key: str) -> None:
        download = self._downloads.pop(stream_key, None)
        if download is not None:
            download.detach()
            await download.sink.close()

    @property
    def download_count(self) -> int:
        return len(self._downloads)

    async def close(self) -> None:
        """Stop every recording (segments closed and reported) and abandon every download."""
        for key in list(self._recordings):
            await self.stop_recording(key)
        for key in list(self._downloads):
            await self.abort_download(key)
        self._executor.shutdown(wait=False)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise MediaError(f"recording zone {name!r} is no IANA zone") from error


def _segment_length(seconds: float) -> timedelta:
    if not seconds > 0:
        raise MediaError(f"segment length must be > 0 s, got {seconds}")
    return timedelta(seconds=seconds)
