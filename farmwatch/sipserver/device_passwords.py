"""Which devices may register, and with which password: the rule in one place.

The platform keeps the enrolled devices' passwords here (loaded from its database, changed
on enrolment); the registrar asks `password_for`, and SIP fronts hold a copy kept current
through the listeners (`add_listener`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

PasswordListener = Callable[[str, bool, str | None], None]
"""Called with (device ID, enrolled, password) after every change."""


class DevicePasswords:
    def __init__(self, default_password: str, accept_unknown_devices: bool) -> None:
        self.default_password = default_password
        self.accept_unknown_devices = accept_unknown_devices
        self._enrolled: dict[str, str | None] = {}
        self._listeners: list[PasswordListener] = []

    def password_for(self, device_id: str) -> str | None:
        """The device's password; None when it may not register (not enrolled, and the
        platform accepts only enrolled devices). An enrolled device without a password of
        its own uses the default."""
        if device_id in self._enrolled:
            return self._enrolled[device_id] or self.default_password
        return self.default_password if self.accept_unknown_devices else None

    @property
    def enrolled(self) -> Mapping[str, str | None]:
        return self._enrolled

    def set(self, device_id: str, password: str | None) -> None:
        """Enrol `device_id` (None: with the default password)."""
        self._enrolled[device_id] = password
        for listener in self._listeners:
            listener(device_id, True, password)

    def load(self, enrolled: Mapping[str, str | None]) -> None:
        """Take the enrolled devices as stored (at start, before anyone listens)."""
        self._enrolled.update(enrolled)

    def remove(self, device_id: str) -> None:
        if self._enrolled.pop(device_id, _ABSENT) is _ABSENT:
            return
        for listener in self._listeners:
            listener(device_id, False, None)

    def add_listener(self, listener: PasswordListener) -> None:
        self._listeners.append(listener)


_ABSENT = object()
