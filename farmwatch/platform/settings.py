"""Settings of the platform's services (`[live]`, `[recordings]` in farmwatch.toml)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LIVE_TRANSPORTS = ("udp", "tcp-passive", "tcp-active")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How live streams are asked of devices, and how they reach viewers."""

    transport: str = "udp"
    invite_timeout: float = 10.0
    session_idle: float = 60.0
    webrtc_addresses: tuple[str, ...] = ()
    """Local addresses WebRTC offers viewers ICE host candidates on; empty: every interface."""

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
        errors += [_address_error(text) for text in self.webrtc_addresses if _address_error(text)]
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
    """How devices send playback and download media (a request may choose another)."""

    def validate(self) -> list[str]:
        errors: list[str] = []
        if self.transport not in LIVE_TRANSPORTS:
            errors.append(
                f"recordings.transport: expected one of {', '.join(LIVE_TRANSPORTS)}, "
                f"got {self.transport!r}"
            )
        if not 0.25 <= self.search_slice_hours <= 24:
            errors.append(
                f"recordings.search_slice_hours: expected 0.25..24, got {self.search_slice_hours}"
            )
        return errors
