"""Settings of the platform's services (`[live]` in farmwatch.toml)."""

from __future__ import annotations

from dataclasses import dataclass

LIVE_TRANSPORTS = ("udp", "tcp-passive", "tcp-active")


@dataclass(frozen=True, slots=True)
class LiveSettings:
    """How live streams are asked of devices."""

    transport: str = "udp"
    invite_timeout: float = 10.0
    session_idle: float = 60.0

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
        return errors
