"""Settings of the media part (`[media]` in farmwatch.toml): RTP ports, buffers and timeouts.

Owns `MediaSettings`, the one documented dataclass the media manager, receivers and streams
read (STYLE B6). Ports follow gb28181.md §6.2/§6.5 and §10 item 3: one RTP port per stream
(even, RTCP on port + 1) from `port_range`, open for UDP and TCP; `advertised_host` is the
address put in the SDP `c=` line when `host` is a wildcard or behind NAT. Times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MediaSettings", "parse_port_range"]


def parse_port_range(text: str) -> tuple[int, int]:
    """`"30000-30499"` → `(30000, 30499)`; raises `ValueError` when malformed."""
    first, separator, last = text.partition("-")
    if not separator or not first.strip().isdigit() or not last.strip().isdigit():
        raise ValueError(f"expected 'start-end', got {text!r}")
    start, end = int(first), int(last)
    if not 1024 <= start < end <= 65535:
        raise ValueError(f"expected 1024 <= start < end <= 65535, got {text!r}")
    return start, end


@dataclass(frozen=True, slots=True)
class MediaSettings:
    """The RTP ingest side of the media part."""

    workers: int = -1
    """Media worker processes: -1 = one per CPU when there are several (else 0), 0 = media
    in the platform process."""
    host: str = "0.0.0.0"
    """Address the RTP receivers bind."""
    advertised_host: str = ""
    """Address for SDP `c=`; empty = `host` (when `host` is a wildcard the platform decides)."""
    port_range: str = "30000-30499"
    """Inclusive range of RTP ports; each stream takes an even port and reserves port + 1."""
    shared_port: int = 0
    """One UDP port shared by all UDP streams, demultiplexed by SSRC; 0 = off."""
    udp_receive_buffer: int = 4 * 1024 * 1024
    """SO_RCVBUF of each RTP socket (a 4 Mbit/s I-frame burst is ~100 datagrams)."""
    reorder_capacity: int = 64
    """Packets the UDP reorder buffer holds before skipping a gap."""
    reorder_delay: float = 0.05
    """How long an out-of-order packet waits for the gap before it (gb28181.md §8.1)."""
    start_timeout: float = 10.0
    """No keyframe this long after the receiver opened → `MediaStartTimedOut`."""
    media_timeout: float = 15.0
    """No packet this long after media started → `MediaStopped`."""
    idle_close: float = 30.0
    """A stream with no sink closes this long after its last sink left."""
    sink_queue_frames: int = 150
    """Bound of a `QueuedSink` queue, in frames."""
    max_frame_size: int = 4 * 1024 * 1024
    """Largest access unit (and RFC 4571 buffer) accepted from a device."""
    rtcp_interval: float = 5.0
    """Receiver reports are sent to the RTP source this often (UDP; RFC 3550 §6.2)."""
    tcp_connect_attempts: int = 3
    """TCP active: connection attempts to the device (GB/T 28181-2022: at least 3)."""
    tcp_connect_interval: float = 1.0
    """TCP active: seconds between attempts (GB/T 28181-2022: at least 1 s)."""
    foreign_ssrc_grace: float = 1.0
    """A per-port receiver adopts an unexpected SSRC only after it alone sent for this long."""
    accept_foreign_ssrc: bool = True
    """Adopt an SSRC other than the one asked for (devices that ignore `y=`, gb28181.md
    §6.3), only ever from the device's own addresses; False = per-port receivers deliver
    only the expected SSRC (ZLMediaKit's ssrc check)."""
    accept_any_source: bool = False
    """True = take the expected SSRC from any address (media relayed from a host neither the
    registration nor the SDP answer names). False = only from the device's SIP address and
    its answer's `c=` address; TCP connections from other hosts are refused."""
    keyframe_request_interval: float = 2.0
    """At most one keyframe request (IFameCmd) per stream in this many seconds."""
    gop_cache_frames: int = 300
    """Frames a stream keeps since the last keyframe to start new sinks at once."""
    gop_cache_bytes: int = 8 * 1024 * 1024
    relay_connect_timeout: float = 10.0
    """A relay we listen for (the upper offered `a=setup:active`) ends when the upper has not
    connected this long after `start_relay`."""
    relay_rtcp_timeout: float = 30.0
    """A UDP relay whose upper sent RTCP and then went silent this long ends (an upper that
    never sends RTCP is not timed out)."""
    relay_unreachable_timeout: float = 5.0
    """A UDP relay ends when ICMP port-unreachable answers its packets for this long."""
    relay_backlog_bytes: int = 1024 * 1024
    """A TCP relay whose unsent bytes exceed this drops frames up to the next key frame."""

    @property
    def port_bounds(self) -> tuple[int, int]:
        """`port_range` parsed: (first, last), inclusive."""
        return parse_port_range(self.port_range)

    def validate(self) -> list[str]:
        errors: list[str] = []
        try:
            start, end = self.port_bounds
            if end - start < 1:
                errors.append("media.port_range: needs at least one even/odd port pair")
        except ValueError as error:
            errors.append(f"media.port_range: {error}")
        if not -1 <= self.workers <= 64:
            errors.append(f"media.workers: expected -1..64, got {self.workers}")
        if not 0 <= self.shared_port < 65536:
            errors.append(f"media.shared_port: expected 0..65535, got {self.shared_port}")
        if self.udp_receive_buffer < 65536:
            errors.append(
                f"media.udp_receive_buffer: expected >= 65536, got {self.udp_receive_buffer}"
            )
        if self.reorder_capacity < 1 or self.reorder_delay < 0:
            errors.append("media.reorder_capacity/reorder_delay: expected >= 1 / >= 0")
        names = (
            "start_timeout", "media_timeout", "idle_close", "rtcp_interval",
            "relay_connect_timeout", "relay_rtcp_timeout", "relay_unreachable_timeout",
        )  # fmt: skip
        for name in names:
            if getattr(self, name) <= 0:
                errors.append(f"media.{name}: expected > 0, got {getattr(self, name)}")
        if self.tcp_connect_attempts < 1 or self.tcp_connect_interval < 0:
            errors.append("media.tcp_connect_attempts/interval: expected >= 1 / >= 0")
        if self.sink_queue_frames < 1 or self.gop_cache_frames < 1:
            errors.append("media.sink_queue_frames/gop_cache_frames: expected >= 1")
        if self.relay_backlog_bytes < 65536:
            errors.append(
                f"media.relay_backlog_bytes: expected >= 65536, got {self.relay_backlog_bytes}"
            )
        if self.max_frame_size < 65536 or self.gop_cache_bytes < self.max_frame_size:
            errors.append("media.max_frame_size: >= 65536 and <= gop_cache_bytes")
        return errors
