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


class StreamFailed(PlatformError):
    """502: the device refused, never answered, or sent no usable video."""
