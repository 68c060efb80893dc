"""Settings of the platform's services (`[live]`, `[recordings]` in farmwatch.toml)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from farmwatch.sipserver.gb.versions import StreamDialects

LIVE_TRANSPORTS = ("udp", "tcp-passive", "tcp-active")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How live streams are asked of devices, and how they reach viewers."""

    transport: str = "udp"
    invite_timeout: float = 10.0
    session_idle: float = 60.0
    webrtc_addresses: tuple[str, ...] = ()
    """Local addresses WebRTC offers viewers ICE host candidates on; empty: every interface."""
    stream_dialect: str = "auto"
    """How live offers ask for the main or sub stream: auto (2022 `a=streamnumber` to 2022
    devices, nothing to 2016 ones), streamnumber, streamprofile (Dahua), streamMode
    (TP-LINK/Mercury: MAIN|SUB), stream (Hikvision style) or none."""
    stream_dialects: tuple[str, ...] = ()
    """Per-device exceptions to `stream_dialect`: `<device ID>=<dialect>` entries."""
    ptz_hold: float = 30.0
    """Seconds a camera stays with whoever sent its last PTZ command (a user, an API token,
    an upper platform); the control floor."""
    ptz_rate: float = 10.0
    """PTZ commands per second per camera, sustained (all controllers together)."""
    ptz_burst: int = 10
    """PTZ commands per camera taken at once before `ptz_rate` applies."""

    @property
    def dialects(self) -> StreamDialects:
        return StreamDialects.from_settings(self.stream_dialect, self.stream_dialects)

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.transport not in LIVE_TRANSPORTS:
            errors.append(
                f"live.transport: expected one of {', '.join(LIVE_TRANSPORTS)}, "
                f"got {self.transport!r}"
            )
        if self.session_idle <= 0:
            errors.append(f"live.session_idle: expected > 0, got {self.session_idle}")
        if self.invite_timeout <= 0:
            errors.append(f"live.invite_timeout: expected > 0, got {self.invite_timeout}")
        if self.ptz_hold <= 0:
            errors.append(f"live.ptz_hold: expected > 0, got {self.ptz_hold}")
        if self.ptz_rate <= 0:
            errors.append(f"live.ptz_rate: expected > 0, got {self.ptz_rate}")
        if self.ptz_burst < 1:
            errors.append(f"live.ptz_burst: expected >= 1, got {self.ptz_burst}")
        errors += [_address_error(text) for text in self.webrtc_addresses if _address_error(text)]
        try:
            self.dialects  # noqa: B018 - parsed to be checked
        except ValueError as error:
            errors.append(f"live.stream_dialect(s): {error}")
        return errors


def _address_error(text: str) -> str:
    """Why `text` cannot be a `webrtc_addresses` entry ('' when it can)."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return f"live.webrtc_addresses: {text!r} is not an IP address"
    if address.is_unspecified or address.is_multicast:
        return f"live.webrtc_addresses: {text!r} is not one interface's address"
    return ""


@dataclass(frozen=True, slots=True)
class RecordingsSettings:
    """Record search, playback, downloads and platform recording (`[recordings]`)."""

    search_slice_hours: float = 6.0
    """A record search asks the device this many hours at a time, in order."""
    transport: str = "udp"
    """How devices send playback media (a request may choose another)."""
    download_transport: str = "tcp-passive"
    """How devices send downloads: TCP, so that a fast download is held back, not dropped."""
    segment_minutes: float = 10.0
    """Platform recording segments are cut at the first key frame after this long."""
    reconcile_interval: float = 5.0
    """Seconds between two comparisons of the record plans with what really records."""
    retention_days: float = 30.0
    """Platform recordings older than this are deleted (locked ones never)."""
    disk_high_watermark: float = 0.9
    """Above this share of the storage disk in use, the oldest recordings are deleted."""
    max_gigabytes: float = 0.0
    """A bound of the recordings' own size (0: only the disk watermark bounds them)."""

    def validate(self) -> list[str]:
        errors: list[str] = []
        for name in ("transport", "download_transport"):
            if getattr(self, name) not in LIVE_TRANSPORTS:
                errors.append(
                    f"recordings.{name}: expected one of {', '.join(LIVE_TRANSPORTS)}, "
                    f"got {getattr(self, name)!r}"
                )
        if not 0.1 <= self.segment_minutes <= 120:
            errors.append(
                f"recordings.segment_minutes: expected 0.1..120, got {self.segment_minutes}"
            )
        if self.reconcile_interval <= 0 or self.retention_days <= 0:
            errors.append("recordings.reconcile_interval/retention_days: must be positive")
        if not 0.1 <= self.disk_high_watermark <= 0.99:
            errors.append(
                "recordings.disk_high_watermark: expected 0.1..0.99, "
                f"got {self.disk_high_watermark}"
            )
        if self.max_gigabytes < 0:
            errors.append("recordings.max_gigabytes: expected >= 0")
        if not 0.25 <= self.search_slice_hours <= 24:
            errors.append(
                f"recordings.search_slice_hours: expected 0.25..24, got {self.search_slice_hours}"
            )
        return errors


@dataclass(frozen=True, slots=True)
class AccessSettings:
    """Console logins, sessions and passwords (`[access]`; issue 10)."""

    session_idle: float = 1800.0
    """A console session unused for this many seconds ends (idle expiry)."""
    session_lifetime: float = 43200.0
    """A console session ends this many seconds after login however busy (absolute expiry)."""
    lockout_failures: int = 5
    """Wrong passwords in a row after which an account locks."""
    lockout_seconds: float = 900.0
    """How long a locked account stays locked (an administrator can unlock it sooner)."""
    throttle_window: float = 300.0
    """Seconds over which failed logins per username and per address are counted."""
    throttle_per_account: int = 10
    """Failed logins for one username within the window after which it must wait."""
    throttle_per_source: int = 30
    """Failed logins from one address within the window after which it must wait."""
    password_min_length: int = 10
    """Shortest password accepted (at least 3 of 4 kinds of character are asked too)."""
    argon2_time_cost: int = 3
    """argon2id passes over memory (RFC 9106)."""
    argon2_memory_kib: int = 65536
    """argon2id memory per hash, KiB."""
    argon2_parallelism: int = 4
    """argon2id lanes."""
    hash_concurrency: int = 2
    """Password hashes computed at once (each takes argon2_memory_kib); others wait."""

    def validate(self) -> list[str]:
        errors: list[str] = []
        positive = ("session_idle", "session_lifetime", "lockout_seconds", "throttle_window")
        errors += [f"access.{name}: expected > 0" for name in positive if getattr(self, name) <= 0]
        counts = (
            "lockout_failures", "throttle_per_account", "throttle_per_source",
            "argon2_time_cost", "argon2_parallelism", "hash_concurrency",
        )  # fmt: skip
        errors += [f"access.{name}: expected >= 1" for name in counts if getattr(self, name) < 1]
        if self.session_idle > self.session_lifetime:
            errors.append("access.session_idle: expected at most access.session_lifetime")
        if not 8 <= self.password_min_length <= 128:
            errors.append(
                f"access.password_min_length: expected 8..128, got {self.password_min_length}"
            )
        if self.argon2_memory_kib < 8 * self.argon2_parallelism:
            errors.append("access.argon2_memory_kib: expected at least 8 x argon2_parallelism")
        return errors
