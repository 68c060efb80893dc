"""Sans-I/O RTP ingest of one stream: SSRC/source lock, reorder, PS demux, timeouts, RTCP RR.

Owns what happens to the RTP packets of one GB/T 28181 media session between the socket and the
`Stream` (gb28181.md §6.3, §8.1, §10 items 4-5), the way aioquic's `QuicConnection` owns a
connection: the shell calls `receive(data, source, now)` and `tick(now)`, and re-arms one timer
at `next_deadline()`; outputs are `EsFrame`s, receiver events and `SendRtcp` effects.

SSRC and source policy — "a stream never shows another camera's video" (issue 13 item 5):

* Only the **device's hosts** send: `allowed_hosts` (the address its SIP comes from) plus
  `allow_host` (its SDP answer's `c=`), compared as IP addresses (`SourceFilter`); RTP from
  any other host is dropped and counted (`rejected_source`) before anything else, unless
  `accept_any_source`. `allowed_hosts=None` admits every host (no device address known).
* A packet carrying the **expected SSRC** (the offer's `y=`, or the answer's after
  `expect_ssrc`) locks the ingest onto that SSRC and its source address at once. From then on
  packets with any other SSRC, or from any other source, are dropped and counted.
* With no expected SSRC, the first packet locks.
* A **foreign SSRC** (devices that ignore `y=`, §6.3) is adopted only on a per-stream port
  (`accept_foreign_ssrc`), only from a device's host (even with `accept_any_source`), only
  when it is the one and only foreign (SSRC, source) seen, and only after it alone has been
  sending for `foreign_ssrc_grace` seconds; nothing of it is delivered before. Two foreign
  senders are ambiguous: neither is ever adopted.
* The expected SSRC always wins: if its packets arrive while an adopted foreign SSRC is locked,
  the ingest re-locks onto the expected one (demuxer and reorder state restart). The shared
  port never adopts (`accept_foreign_ssrc=False`): only registered SSRCs are delivered.

Loss: reorder gaps (UDP) and sequence jumps (TCP, `ordered=True`) call `PsDemuxer.mark_loss`,
which passes the frame that lost packets on marked damaged (decoders conceal; the frames after
it follow as usual); once media has started each loss is reported as `VideoInterrupted`, so
that the stream can ask the camera for a keyframe to end the artefacts. Timeouts: no
video keyframe within `start_timeout` → `MediaStartTimedOut`; no packet for
`media_timeout` after start → `MediaStopped` (once per silence). While a playback is paused
(`set_paused`: a device sends nothing after MANSRTSP PAUSE) neither timeout runs; resuming
re-arms both from then (field-notes §1.3 pitfall 8). While relays re-send the stream
(`set_relayed`), the PS bytes of each frame come out too (`PsFrame`, see `frame_batch.py`),
without demultiplexing a stream nobody watches. Receiver reports
(RFC 3550 §6.4.2, A.3, A.8) go every `rtcp_interval` to the locked source address from the
RTP port (what devices accept; RTCP is optional in GB/T 28181-2022).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from farmwatch.media.errors import RtpParseError
from farmwatch.media.events import (
    Address,
    MediaStarted,
    MediaStartTimedOut,
    MediaStopped,
    ReceiverEvent,
    VideoInterrupted,
)
from farmwatch.media.frame_batch import BatchOutput, FrameBatch
from farmwatch.media.frames import Codec, EsFrame, MediaKind
from farmwatch.media.nal import video_size
from farmwatch.media.ps_demux import PsDemuxer
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.reception import ReceptionStatistics
from farmwatch.media.reorder import PacketsLost, ReorderBuffer, ReorderOutput
from farmwatch.media.rtp import (
    RTCP_PACKET_TYPES,
    RtcpSenderReport,
    RtpPacket,
    build_receiver_report,
    is_rtcp,
)
from farmwatch.media.rtp import parse_rtcp as parse_rtcp_packets
from farmwatch.media.settings import MediaSettings
from farmwatch.media.source_filter import SourceFilter

__all__ = ["IngestOutput", "IngestStats", "RtpIngest", "SendRtcp"]

_MAX_CANDIDATES = 8
_DEMUX_UNITS_PER_PACKET = 256
"""Work one RTP packet may cost the demuxer (PS headers + NAL units + `FRAME_COST` per frame):
a real packet needs a few dozen, two frames with their sound at most ~100; 256 keeps the
worst packet near a millisecond on a slow core, and a call (up to `_MAX_BATCH` packets) under
ten (issue 13 item 6: 1,024 let a flood of empty PES packets hold the loop 35 ms a call)."""
_MAX_BATCH = 8
"""Payloads demultiplexed in one call at most (a frame is normally one call)."""
_AFTER_V = struct.Struct("!BHII")  # second byte, sequence, timestamp, SSRC
_NOTHING: tuple[IngestOutput, ...] = ()


@dataclass(frozen=True, slots=True)
class SendRtcp:
    """Effect: send this compound RTCP packet to `destination` from the RTP socket."""

    data: bytes
    destination: Address


IngestOutput = EsFrame | PsFrame | ReceiverEvent | SendRtcp


@dataclass(frozen=True, slots=True)
class IngestStats:
    """Counters of one ingest since it was created."""

    packets: int
    """RTP packets accepted."""
    bytes: int
    malformed: int
    rtcp: int
    rejected_ssrc: int
    """Packets dropped because their SSRC is not (or not yet) the locked one."""
    rejected_source: int
    """Packets from a host that is not the device's, or with the locked SSRC from another
    source address (host and port)."""
    lost: int
    late: int
    duplicates: int
    frames: int
    locked_ssrc: int | None
    source: Address | None
    rejected_connections: int = 0
    """TCP passive: connections refused because they came from a host that is not the
    device's."""
    refused_connections: int = 0
    """TCP passive: connections closed at once because one was already current."""


class RtpIngest:
    """One media session's packets in, frames and events out. Pure; see the module docstring."""

    def __init__(
        self,
        settings: MediaSettings,
        *,
        expected_ssrc: int | None,
        now: float,
        ordered: bool = False,
        accept_foreign_ssrc: bool | None = None,
        allowed_hosts: Iterable[str] | None = None,
        send_reports: bool = True,
        cname: str = "farmwatch",
    ) -> None:
        self._settings = settings
        self._device_hosts = SourceFilter(allowed_hosts)
        self._any_source = settings.accept_any_source
        self._expected = expected_ssrc
        self._ordered = ordered
        self._accept_foreign = (
            settings.accept_foreign_ssrc if accept_foreign_ssrc is None else accept_foreign_ssrc
        )
        self._send_reports = send_reports
        self._cname = cname
        self._locked: int | None = None
        self._adopted = False  # the lock is on a foreign SSRC
        self._source: Address | None = None
        self._candidates: dict[tuple[int, Address | None], float] = {}
        self._start_deadline: float | None = now + settings.start_timeout
        self._last_packet_at: float | None = None
        self._is_paused = False
        self._resumed_at = now
        self._is_silent = False
        self._started = False
        self._next_report: float | None = None
        self._packets = self._bytes = self._malformed = self._rtcp = self._frames = 0
        self._next_sequence: int | None = None
        self._fast_next: int | None = None  # in order: the next sequence the fast path takes
        self._watched = True  # the stream tells when nobody watches (`set_watched`)
        self._relayed = False  # the stream tells when relays re-send it (`set_relayed`)
        self._codec: Codec | None = None  # of the first key frame: what the GOP is kept by
        self.deadlines_changed = True
        """Set when `next_deadline` may have moved earlier; the shell clears it once it
        re-armed its timer (the fast path moves none earlier, but for the start)."""
        self._rejected_ssrc = self._rejected_source = 0
        self._lost = self._late = self._duplicates = 0
        self._begin_lock_state()

    # ---- inputs ----

    def expect_ssrc(self, ssrc: int) -> None:
        """Follow an SDP answer's `y=`; a lock on any other SSRC becomes a foreign one.

        A lock on `ssrc` itself is released too: a new answer is a new dialog (a playback
        started again from another time), whose media may come from another port of the
        device. The next packet of `ssrc` from an allowed host takes the lock (with a fresh
        demuxer and reorder buffer); until then the old source is still taken.
        """
        self._expected = ssrc
        if self._locked is not None:
            self._adopted = True
        self._candidates.clear()

    def set_watched(self, watched: bool) -> list[IngestOutput]:
        """Viewers came (True) or all left (False). Unwatched and started, frames are only
        kept from the last key frame on, not demultiplexed; watched again, the kept GOP's
        frames are returned (what a new viewer starts from) and demultiplexing goes on."""
        self._watched = watched
        if watched:
            return self._frames_out(self._batch.wake(), [])
        self._batch.sleep()  # does nothing before the start (the codec is unknown)
        return []

    def set_relayed(self, relayed: bool) -> list[IngestOutput]:
        """Relays came (True) or all left. While relayed, each frame's PS bytes come out as a
        `PsFrame` (watched or not: nothing is demultiplexed for a relay); coming, the kept
        GOP's are returned, the start a new relay gets."""
        self._relayed = relayed
        return list(self._batch.set_relayed(relayed))

    def allow_host(self, host: str) -> bool:
        """Take media from `host` too (the SDP answer's `c=`); False when it is no address."""
        return self._device_hosts.allow(host)

    def set_paused(self, paused: bool, now: float) -> None:
        """Playback paused: the start and media timeouts wait; resumed: they count from `now`."""
        if paused == self._is_paused:
            return
        self._is_paused = paused
        self.deadlines_changed = True
        if not paused:
            self._resumed_at = now
            if self._start_deadline is not None:
                self._start_deadline = now + self._settings.start_timeout

    def admits_host(self, host: str) -> bool:
        """Whether media from `host` is taken (TCP passive asks it of each connection)."""
        return self._any_source or self._device_hosts.admits(host)

    def receive(self, data: bytes, source: Address | None, now: float) -> Sequence[IngestOutput]:
        """One RTP (or muxed RTCP) packet from `source` (None: the TCP connection)."""
        # The fast path: nearly every packet is the locked SSRC's next one, from the locked
        # source, with a plain 12-byte header. No packet object, no reorder buffer.
        if source == self._source and self._fast_next is not None and data[:1] == b"\x80":
            second, sequence, timestamp, ssrc = _AFTER_V.unpack_from(data, 1)
            if (
                sequence == self._fast_next
                and ssrc == self._locked
                and second not in RTCP_PACKET_TYPES
                and len(data) > 12
            ):
                self._fast_next = (sequence + 1) & 0xFFFF
                self._packets += 1
                self._bytes += len(data)
                self._last_packet_at = now
                self._reception.received(sequence, timestamp, now)
                frames = self._batch.take(memoryview(data)[12:], timestamp, second > 0x7F)
                return self._frames_out(frames, []) if frames else _NOTHING
        self.deadlines_changed = True  # a lock or a reorder wait may bring one forward
        out = self._receive_slowly(data, source, now)
        self._fast_next = self._next_sequence if self._ordered else self._reorder.next_in_order
        return out

    def _receive_slowly(
        self, data: bytes, source: Address | None, now: float
    ) -> Sequence[IngestOutput]:
        if source is not None and not self.admits_host(source[0]):
            self._rejected_source += 1
            return []
        if is_rtcp(data):
            self._on_rtcp(data, source, now)
            return []
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            self._malformed += 1
            return []
        if not self._admit(packet.ssrc, source, now):
            return []
        self._packets += 1
        self._bytes += len(data)
        self._last_packet_at = now
        self._is_silent = False
        self._reception.received(packet.sequence_number, packet.timestamp, now)
        if self._ordered:
            if self._fast_next is not None:
                self._next_sequence = self._fast_next  # what the fast path took
            return self._release(self._in_order(packet), now)
        if self._fast_next is not None:
            self._reorder.skipped_to(self._fast_next)  # it missed what the fast path took
            self._fast_next = None
        return self._release(self._reorder.push(packet, now), now)

    def tick(self, now: float) -> list[IngestOutput]:
        """Run what is due: reorder gaps, timeouts, receiver reports."""
        out: list[IngestOutput] = []
        if not self._ordered and self._fast_next is None:
            # Packets wait in the reorder buffer (the fast path is off while they do).
            out = self._release(self._reorder.tick(now), now)
            self._fast_next = self._reorder.next_in_order
        start_at = None if self._is_paused else self._start_deadline
        if start_at is not None and now >= start_at:
            self._start_deadline = None
            rejected = self._rejected_ssrc + self._rejected_source
            timeout = self._settings.start_timeout
            out.append(MediaStartTimedOut(timeout, self._packets, rejected))
        since = self._silent_since()
        timeout = self._settings.media_timeout
        if since is not None and now >= since + timeout:
            self._is_silent = True
            # (since + timeout) - since may round below the timeout
            out.append(MediaStopped(max(now - since, timeout)))
        if self._next_report is not None and now >= self._next_report:
            self._next_report = now + self._settings.rtcp_interval
            if self._source is not None and self._locked is not None:
                out.append(SendRtcp(self._report(now), self._source))
        return out

    def next_deadline(self) -> float | None:
        deadlines = [
            None if self._is_paused else self._start_deadline,
            self._silence_deadline(),
            self._next_report,
            None if self._ordered else self._reorder.next_deadline(),
        ]
        present = [deadline for deadline in deadlines if deadline is not None]
        return min(present) if present else None

    # ---- state ----

    @property
    def expected_ssrc(self) -> int | None:
        return self._expected

    @property
    def locked_ssrc(self) -> int | None:
        return self._locked

    @property
    def has_started(self) -> bool:
        return self._started

    @property
    def is_paused(self) -> bool:
        return self._is_paused

    @property
    def rejected_source_packets(self) -> int:
        """`stats.rejected_source`, cheaply (the shell checks it after each packet)."""
        return self._rejected_source

    @property
    def stats(self) -> IngestStats:
        return IngestStats(
            packets=self._packets,
            bytes=self._bytes,
            malformed=self._malformed,
            rtcp=self._rtcp,
            rejected_ssrc=self._rejected_ssrc,
            rejected_source=self._rejected_source,
            lost=self._lost + self._reorder.lost,
            late=self._late + self._reorder.late,
            duplicates=self._duplicates + self._reorder.duplicates,
            frames=self._frames,
            locked_ssrc=self._locked,
            source=self._source,
        )

    # ---- internals ----

    def _begin_lock_state(self) -> None:
        """Fresh demuxer, reorder buffer and statistics (at creation and on every re-lock)."""
        capacity, delay = self._settings.reorder_capacity, self._settings.reorder_delay
        max_frame_size = self._settings.max_frame_size
        self._batch = FrameBatch(
            lambda: PsDemuxer(
                max_frame_size=max_frame_size, max_units_per_feed=_DEMUX_UNITS_PER_PACKET
            ),
            max_parts=_MAX_BATCH,
            units_per_part=_DEMUX_UNITS_PER_PACKET,
            max_frames=self._settings.gop_cache_frames,
            max_bytes=self._settings.gop_cache_bytes,
        )
        if self._relayed:
            self._batch.set_relayed(True)  # nothing kept yet: the next key frame starts it
        self._reorder = ReorderBuffer(capacity=capacity, max_delay=delay)
        self._reception = ReceptionStatistics()
        self._next_sequence = None
        self._fast_next = None
        self._last_sr: tuple[int, float] | None = None

    def _restart_lock_state(self) -> None:
        self._lost += self._reorder.lost
        self._late += self._reorder.late
        self._duplicates += self._reorder.duplicates
        self._begin_lock_state()

    def _admit(self, ssrc: int, source: Address | None, now: float) -> bool:
        locked = self._locked
        if locked is not None and ssrc == locked:
            if source == self._source:
                return True
            if not (self._adopted and ssrc == self._expected):
                self._rejected_source += 1
                return False
        if ssrc == self._expected and (locked is None or self._adopted):
            self._lock(ssrc, source, now, adopted=False)
            return True
        if locked is None and self._expected is None:
            self._lock(ssrc, source, now, adopted=False)
            return True
        if (
            locked is None
            and self._accept_foreign
            and (source is None or self._device_hosts.admits(source[0]))
            and self._should_adopt(ssrc, source, now)
        ):
            self._lock(ssrc, source, now, adopted=True)
            return True
        self._rejected_ssrc += 1
        return False

    def _should_adopt(self, ssrc: int, source: Address | None, now: float) -> bool:
        key = (ssrc, source)
        if key not in self._candidates and len(self._candidates) < _MAX_CANDIDATES:
            self._candidates[key] = now
        first_seen = self._candidates.get(key)
        grace = self._settings.foreign_ssrc_grace
        return len(self._candidates) == 1 and first_seen is not None and now - first_seen >= grace

    def _lock(self, ssrc: int, source: Address | None, now: float, *, adopted: bool) -> None:
        if self._locked is not None:
            self._restart_lock_state()  # the expected SSRC took over from an adopted one
            self._started = False
        self._locked, self._source, self._adopted = ssrc, source, adopted
        self._candidates.clear()
        if self._send_reports and source is not None:
            self._next_report = now + self._settings.rtcp_interval

    def _silent_since(self) -> float | None:
        """Since when the media timeout counts: the last packet, or the last resume after it."""
        last = self._last_packet_at
        if not self._started or self._is_silent or self._is_paused or last is None:
            return None
        return max(last, self._resumed_at)

    def _silence_deadline(self) -> float | None:
        since = self._silent_since()
        return None if since is None else since + self._settings.media_timeout

    def _in_order(self, packet: RtpPacket) -> list[ReorderOutput]:
        """TCP: packets arrive in order; a sequence jump is loss upstream of the connection."""
        expected, self._next_sequence = self._next_sequence, (packet.sequence_number + 1) & 0xFFFF
        if expected is None or packet.sequence_number == expected:
            return [packet]
        gap = (packet.sequence_number - expected) & 0xFFFF
        if gap >= 0x8000:
            self._late += 1
            return []
        self._lost += gap
        return [PacketsLost(expected, gap), packet]

    def _release(self, items: list[ReorderOutput], now: float) -> list[IngestOutput]:
        out: list[IngestOutput] = []
        batch = self._batch
        for item in items:
            if isinstance(item, PacketsLost):
                # Only loss after the start interrupts video (not a damaged first frame).
                interrupts = self._started
                self._frames_out(batch.loss(), out)
                if interrupts:
                    out.append(VideoInterrupted(item.count))
            else:
                frames = batch.take(item.payload, item.timestamp, item.marker)
                if frames:
                    self._frames_out(frames, out)
        return out

    def _frames_out(
        self, frames: Sequence[BatchOutput], out: list[IngestOutput]
    ) -> list[IngestOutput]:
        """Append `frames` to `out`, preceded by `MediaStarted` at the first key frame."""
        for frame in frames:
            if isinstance(frame, PsFrame):
                out.append(frame)
                continue
            self._frames += 1
            if not self._started and frame.is_keyframe and frame.kind is MediaKind.VIDEO:
                self._started = True
                self._start_deadline = None
                self.deadlines_changed = True  # the silence deadline begins
                out.append(self._started_event(frame))
                self._codec = frame.codec
                relayed = self._batch.set_codec(frame.codec)
                if not self._watched:
                    self._batch.sleep()  # nobody watches yet: keep, don't demux
                out.append(frame)
                out.extend(relayed)  # the key frame's PS bytes, when relayed already
                continue
            out.append(frame)
        return out

    def _started_event(self, frame: EsFrame) -> MediaStarted:
        assert self._locked is not None
        return MediaStarted(frame.codec, video_size(frame.codec, frame.data), self._locked,
                            self._source)  # fmt: skip

    def _on_rtcp(self, data: bytes, source: Address | None, now: float) -> None:
        self._rtcp += 1
        if self._locked is None or source != self._source:
            return
        try:
            packets = parse_rtcp_packets(data)
        except RtpParseError:
            self._malformed += 1
            return
        for packet in packets:
            if isinstance(packet, RtcpSenderReport) and packet.ssrc == self._locked:
                self._last_sr = ((packet.ntp_timestamp >> 16) & 0xFFFFFFFF, now)

    def _report(self, now: float) -> bytes:
        assert self._locked is not None
        block = self._reception.report_block(self._locked, self._last_sr, now)
        own_ssrc = (self._locked ^ 0x5A5A5A5A) or 1
        return build_receiver_report(own_ssrc, (block,), self._cname)
