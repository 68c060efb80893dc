"""Who may register with which password, and who hears of a change."""

from __future__ import annotations

from farmwatch.sipserver.device_passwords import DevicePasswords

DEVICE = "34020000001320000001"


def test_enrolled_devices_use_their_own_password_or_the_default() -> None:
    passwords = DevicePasswords("default-pw", accept_unknown_devices=False)
    passwords.load({DEVICE: "own-pw", "34020000001320000002": None})
    assert passwords.password_for(DEVICE) == "own-pw"
    assert passwords.password_for("34020000001320000002") == "default-pw"
    assert passwords.password_for("34020000001320000003") is None  # not enrolled


def test_unknown_devices_get_the_default_when_the_platform_accepts_them() -> None:
    passwords = DevicePasswords("default-pw", accept_unknown_devices=True)
    assert passwords.password_for(DEVICE) == "default-pw"


def test_listeners_hear_every_enrolment_and_removal_but_not_the_initial_load() -> None:
    passwords = DevicePasswords("default-pw", accept_unknown_devices=False)
    heard: list[tuple[str, bool, str | None]] = []
    passwords.load({"34020000001320000009": "x"})
    passwords.add_listener(lambda *change: heard.append(change))
    passwords.set(DEVICE, "new-pw")
    passwords.remove(DEVICE)
    passwords.remove(DEVICE)  # not enrolled any more: nothing to tell
    assert heard == [(DEVICE, True, "new-pw"), (DEVICE, False, None)]
    assert passwords.password_for(DEVICE) is None
