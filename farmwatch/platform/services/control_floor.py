"""Who may steer a camera now, and how fast (issue 12 item 1): one controller at a time per
camera and a per-camera command rate.

`ControlFloor.take(camera, controller, now, take_over=...)` gives the camera to whoever sent
the last command for `hold` seconds after it; another controller gets `ControlLocked`
naming the holder, unless an administrator takes it over. Each camera also has a token
bucket (`rate` commands per second, `burst` at once): past it, `RateLimited` says when the
next command is taken. Pure: decided from the arguments and `now`; the service passes its
clock's time.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.platform.errors import ControlLocked, RateLimited

__all__ = ["ControlFloor", "Controller", "FloorSettings"]


@dataclass(frozen=True, slots=True)
class Controller:
    """Who sends a command: `key` identifies them (user or token), `name` is shown to others."""

    key: str
    name: str
    is_administrator: bool = False


@dataclass(frozen=True, slots=True)
class FloorSettings:
    hold: float = 30.0
    """Seconds a camera stays with the user who sent its last command."""
    rate: float = 10.0
    """Commands per second per camera, sustained."""
    burst: int = 10
    """Commands per camera accepted at once before the rate applies."""


@dataclass(slots=True)
class _Holding:
    controller: Controller
    until: float


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class ControlFloor:
    """The per-camera lock and rate limit; forgets cameras nobody steered for a while."""

    def __init__(self, settings: FloorSettings | None = None) -> None:
        self.settings = settings or FloorSettings()
        self._holdings: dict[str, _Holding] = {}
        self._buckets: dict[str, _Bucket] = {}

    def holder(self, camera: str, now: float) -> tuple[Controller, float] | None:
        """Who holds `camera` and for how many more seconds; None when free."""
        holding = self._holdings.get(camera)
        if holding is None or holding.until <= now:
            return None
        return holding.controller, holding.until - now

    def take(
        self, camera: str, controller: Controller, now: float, *, take_over: bool = False
    ) -> None:
        """Count one command of `controller` for `camera`, or raise `ControlLocked` /
        `RateLimited` (the command must then not be sent). `take_over` by an administrator
        takes the camera from another holder."""
        self._forget_expired(now)
        held = self.holder(camera, now)
        if held is not None and held[0].key != controller.key:
            holder, seconds_left = held
            if not (take_over and controller.is_administrator):
                hint = "" if not controller.is_administrator else ' (send "take_over": true)'
                raise ControlLocked(
                    f"camera {camera} is being controlled by {holder.name} "
                    f"for {seconds_left:.0f} s more{hint}",
                    holder=holder.name,
                    seconds_left=seconds_left,
                )
        self._spend(camera, now)
        self._holdings[camera] = _Holding(controller, now + self.settings.hold)

    def release(self, camera: str, controller: Controller) -> None:
        """Give the camera back early (only its holder can)."""
        holding = self._holdings.get(camera)
        if holding is not None and holding.controller.key == controller.key:
            del self._holdings[camera]

    def _spend(self, camera: str, now: float) -> None:
        settings = self.settings
        bucket = self._buckets.get(camera)
        if bucket is None:
            bucket = self._buckets[camera] = _Bucket(float(settings.burst), now)
        elapsed = max(0.0, now - bucket.at)
        bucket.tokens = min(float(settings.burst), bucket.tokens + elapsed * settings.rate)
        bucket.at = now
        if bucket.tokens < 1.0:
            retry_after = (1.0 - bucket.tokens) / settings.rate
            raise RateLimited(
                f"camera {camera}: more than {settings.rate:g} commands per second; "
                f"retry in {retry_after:.2f} s",
                retry_after=retry_after,
            )
        bucket.tokens -= 1.0

    def _forget_expired(self, now: float) -> None:
        if len(self._holdings) + len(self._buckets) < 1024:
            return
        self._holdings = {c: h for c, h in self._holdings.items() if h.until > now}
        full = float(self.settings.burst)
        self._buckets = {
            camera: bucket
            for camera, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self.settings.rate < full
        }
