"""RTP receivers: the common contract and the shell around one `RtpIngest` (STYLE B4).

Owns the `Receiver` Protocol every receiver (UDP per-port, shared-port, TCP passive, TCP
active) implements for the `MediaManager`, and `IngestSession`, the thin asyncio shell of one
ingest core: it feeds packets with the loop clock, hands frames and events to the
`ReceiverListener`, sends the RTCP it is asked to, and keeps **one** timer at the core's next
deadline. A receiver is opened (bound, listening) before the INVITE is sent (gb28181.md §10
item 5): `open()` returns the local port for the SDP offer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from farmwatch.media.events import Address, ReceiverEvent, ReceiverListener
from farmwatch.media.frames import EsFrame
from farmwatch.media.ingest import IngestOutput, IngestStats, RtpIngest, SendRtcp
from farmwatch.media.ps_frame import PsFrame
from farmwatch.media.settings import MediaSettings
from farmwatch.media.source_filter import normalize_host

__all__ = ["IngestSession", "OneStreamReceiver", "Receiver", "RtcpSender"]

log = logging.getLogger(__name__)

RtcpSender = Callable[[bytes, Address], None]


class Receiver(Protocol):
    """What the manager needs of any receiver."""

    @property
    def local_port(self) -> int:
        """The RTP port (for the SDP offer); 0 before `open`."""
        ...

    async def open(self) -> int:
        """Bind / listen; return the local port. Call before sending the INVITE."""
        ...

    def expect_ssrc(self, ssrc: int) -> None:
        """Follow the SDP answer's `y=` when it differs from the offer's."""
        ...

    def set_watched(self, watched: bool) -> None:
        """The stream's viewers came or all left: demultiplex, or only keep the GOP."""
        ...

    def set_paused(self, paused: bool) -> None:
        """Playback paused (no start or media timeout runs) or resumed (they count anew)."""
        ...

    def set_relayed(self, relayed: bool) -> None:
        """Relays came or all left: hand each frame's PS bytes over too (`PsFrame`), or not."""
        ...

    def hold(self, held: bool) -> None:
        """Backpressure from a sink that must lose nothing: stop reading until released
        (TCP; a UDP device cannot be held back, and this does nothing)."""
        ...

    def allow_host(self, host: str) -> bool:
        """Take media from `host` too (the SDP answer's `c=`); False when it is no address."""
        ...

    @property
    def stats(self) -> IngestStats: ...

    async def close(self) -> None:
        """Stop receiving and release the socket; idempotent."""
        ...


class IngestSession:
    """Drives one `RtpIngest` from the event loop; see the module docstring."""

    def __init__(
        self,
        core: RtpIngest,
        listener: ReceiverListener,
        *,
        label: str,
        send_rtcp: RtcpSender | None = None,
    ) -> None:
        self.core = core
        self._listener = listener
        self._label = label
        self._send_rtcp = send_rtcp
        self._loop = asyncio.get_running_loop()
        self._time = self._loop.time
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = False
        self._has_warned_of_source = False
        self._arm()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def packet(self, data: bytes, source: Address | None) -> None:
        """One received packet (isolation boundary: a failure drops only this packet)."""
        if self._closed:
            return
        core = self.core
        try:
            outputs = core.receive(data, source, self._time())
            if outputs:
                self._deliver(outputs)
        except Exception:
            log.exception("%s: packet from %s failed; dropped", self._label, source)
        if core.deadlines_changed:  # the slow path ran (or the stream started): rare
            self._after_slow_path(source)

    def _after_slow_path(self, source: Address | None) -> None:
        if self.core.rejected_source_packets and not self._has_warned_of_source:
            self._has_warned_of_source = True  # a flood must not flood the log: counted only
            log.warning("%s: RTP from %s dropped: not the device's address (or port); "
                        "more are counted, not logged", self._label, source)  # fmt: skip
        self._arm()

    def set_watched(self, watched: bool) -> None:
        """The stream's viewers came or all left (see `RtpIngest.set_watched`)."""
        if not self._closed:
            outputs = self.core.set_watched(watched)
            if outputs:
                self._deliver(outputs)

    def set_paused(self, paused: bool) -> None:
        """Playback paused or resumed (see `RtpIngest.set_paused`)."""
        if not self._closed:
            self.core.set_paused(paused, self._time())
            self._arm()

    def set_relayed(self, relayed: bool) -> None:
        """Relays came or all left (see `RtpIngest.set_relayed`)."""
        if not self._closed:
            outputs = self.core.set_relayed(relayed)
            if outputs:
                self._deliver(outputs)

    def report(self, event: ReceiverEvent) -> None:
        """An event the shell itself detected (TCP peer closed, connect failed)."""
        if not self._closed:
            self._deliver([event])

    def close(self) -> None:
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_at = None

    def _deliver(self, outputs: Sequence[IngestOutput]) -> None:
        listener = self._listener
        for output in outputs:
            if isinstance(output, EsFrame):
                listener.receiver_frame(output)
            elif isinstance(output, PsFrame):
                listener.receiver_ps_frame(output)
            elif isinstance(output, SendRtcp):
                if self._send_rtcp is not None:
                    self._send_rtcp(output.data, output.destination)
            else:
                listener.receiver_event(output)
            if self._closed:
                return

    def _arm(self) -> None:
        """Keep one timer no later than the core's next deadline (re-armed only when earlier)."""
        if self._closed:
            return
        self.core.deadlines_changed = False
        deadline = self.core.next_deadline()
        if deadline is None or (self._timer_at is not None and self._timer_at <= deadline):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        if self._closed:
            return
        try:
            self._deliver(self.core.tick(self._loop.time()))
        except Exception:
            log.exception("%s: timer failed", self._label)
        self._arm()


class OneStreamReceiver:
    """What the receivers of one stream on one port (UDP, TCP passive, TCP active) share:
    the SSRC and hosts to accept, kept until their session starts, and the session."""

    def __init__(
        self,
        settings: MediaSettings,
        listener: ReceiverListener,
        *,
        expected_ssrc: int | None,
        allowed_hosts: Iterable[str] | None,
        port: int,
        host: str | None,
        label: str,
    ) -> None:
        self._settings = settings
        self._listener = listener
        self._expected = expected_ssrc
        self._allowed_hosts = None if allowed_hosts is None else list(allowed_hosts)
        self._host = settings.host if host is None else host
        self._port = port
        self.label = label
        self._session: IngestSession | None = None
        self._watched = True
        self._relayed = False
        self._paused = False
        self._held = False  # TCP: a sink holds the source back (`hold`)

    @property
    def local_port(self) -> int:
        return self._port

    def set_watched(self, watched: bool) -> None:
        self._watched = watched
        if self._session is not None:
            self._session.set_watched(watched)

    def set_relayed(self, relayed: bool) -> None:
        self._relayed = relayed
        if self._session is not None:
            self._session.set_relayed(relayed)

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self._apply_pause()

    def hold(self, held: bool) -> None:
        """A UDP device cannot be held back: nothing to do (the TCP receivers can)."""

    def _apply_pause(self) -> None:
        """The timeouts wait while paused, and while we hold the source (its silence is ours)."""
        if self._session is not None:
            self._session.set_paused(self._paused or self._held)

    def expect_ssrc(self, ssrc: int) -> None:
        self._expected = ssrc
        if self._session is not None:
            self._session.core.expect_ssrc(ssrc)

    def allow_host(self, host: str) -> bool:
        if normalize_host(host) is None:
            return False
        if self._allowed_hosts is not None:
            self._allowed_hosts.append(host)
        if self._session is not None:
            self._session.core.allow_host(host)
        return True

    def _start_session(self, *, tcp: bool, send_rtcp: RtcpSender | None = None) -> None:
        core = RtpIngest(
            self._settings,
            expected_ssrc=self._expected,
            now=asyncio.get_running_loop().time(),
            ordered=tcp,  # a TCP stream arrives in order; nothing to wait for
            send_reports=not tcp,
            allowed_hosts=self._allowed_hosts,
        )
        self._session = IngestSession(
            core, self._listener, label=f"{self.label}:{self._port}", send_rtcp=send_rtcp
        )
        if not self._watched:
            self._session.set_watched(False)
        if self._relayed:
            self._session.set_relayed(True)
        if self._paused or self._held:
            self._session.set_paused(True)
