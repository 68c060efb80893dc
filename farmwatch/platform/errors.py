"""Errors of the platform's services; `web/middlewares.py` maps each to one HTTP status."""

from __future__ import annotations


class PlatformError(Exception):
    """Base of the errors a service raises to its callers."""


class NotFound(PlatformError):
    """404: no such device, channel or record."""


class Conflict(PlatformError):
    """409: the request contradicts the current state."""


class DeviceOffline(PlatformError):
    """503: the device is not registered or did not answer."""


class PermissionDenied(PlatformError):
    """403: the user may not do this."""


class InvalidInput(PlatformError):
    """400: the request is malformed; the message says what is wrong."""


class TooLarge(PlatformError):
    """413: an upload is larger than its bound; the message says the bound."""


class StreamFailed(PlatformError):
    """502: the device refused, never answered, or sent no usable video."""


class NotSupported(PlatformError):
    """501: the device does not do this (e.g. a 2016 device asked its PTZ position)."""


class DeviceTimeout(PlatformError):
    """504: the device took the request but never answered it; the message names it."""


class ControlLocked(Conflict):
    """409: another user controls this camera; `holder` is who, `seconds_left` how long."""

    def __init__(self, message: str, *, holder: str, seconds_left: float) -> None:
        super().__init__(message)
        self.holder = holder
        self.seconds_left = seconds_left


class RateLimited(PlatformError):
    """429: too many commands; `retry_after` seconds until the next is taken."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeviceRefused(PlatformError):
    """502: the device answered the request with an error status."""
