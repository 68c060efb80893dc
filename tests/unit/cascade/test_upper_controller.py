"""An upper platform steers our cameras as one controller of the floor (issue 12): named
after it, never an administrator, counted in the camera's rate. Pure, in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.cascade.settings import UpperSettings
from farmwatch.cascade.upper_requests import upper_controller
from farmwatch.platform.errors import ControlLocked, RateLimited
from farmwatch.platform.services.control_floor import ControlFloor, Controller, FloorSettings

BUREAU = UpperSettings(name="bureau", id="44000000002000000001")
NATIONAL = UpperSettings(name="national", id="10000000002000000001")
ALICE = Controller("user:1", "alice")
ADMIN = Controller("user:3", "root", is_administrator=True)
CAMERA = "34020000001310000001"


def test_the_upper_is_named_and_no_administrator() -> None:
    upper = upper_controller(BUREAU)
    assert upper.name == "upper platform bureau (44000000002000000001)"
    assert not upper.is_administrator
    assert upper == upper_controller(BUREAU)  # the same controller for every command
    assert upper.key != upper_controller(NATIONAL).key


def test_an_upper_cannot_take_a_camera_a_local_user_holds() -> None:
    floor = ControlFloor(FloorSettings(hold=30.0))
    floor.take(CAMERA, ALICE, now=0.0)
    upper = upper_controller(BUREAU)
    for take_over in (False, True):  # asking to take over changes nothing for an upper
        with pytest.raises(ControlLocked) as locked:
            floor.take(CAMERA, upper, now=10.0, take_over=take_over)
        assert locked.value.holder == "alice"
        assert "take_over" not in str(locked.value)  # no hint: it cannot
    floor.take(CAMERA, upper, now=30.0)  # once the hold ran out
    assert floor.holder(CAMERA, 30.0) == (upper, 30.0)


def test_the_upper_holds_the_camera_against_users_and_other_uppers() -> None:
    floor = ControlFloor(FloorSettings(hold=30.0))
    upper = upper_controller(BUREAU)
    floor.take(CAMERA, upper, now=0.0)
    floor.take(CAMERA, upper, now=5.0)  # its own commands extend its hold
    with pytest.raises(ControlLocked, match=r"upper platform bureau \(44000000002000000001\)"):
        floor.take(CAMERA, ALICE, now=10.0)
    with pytest.raises(ControlLocked):
        floor.take(CAMERA, upper_controller(NATIONAL), now=10.0)


def test_a_local_administrator_takes_the_camera_from_the_upper() -> None:
    floor = ControlFloor()
    upper = upper_controller(BUREAU)
    floor.take(CAMERA, upper, now=0.0)
    with pytest.raises(ControlLocked, match='"take_over": true'):
        floor.take(CAMERA, ADMIN, now=1.0)
    floor.take(CAMERA, ADMIN, now=1.0, take_over=True)
    with pytest.raises(ControlLocked, match="root"):
        floor.take(CAMERA, upper, now=2.0)


def test_an_upper_flooding_a_camera_is_rate_limited() -> None:
    floor = ControlFloor(FloorSettings(rate=2.0, burst=3))
    upper = upper_controller(BUREAU)
    for _ in range(3):
        floor.take(CAMERA, upper, now=0.0)
    with pytest.raises(RateLimited) as limited:
        floor.take(CAMERA, upper, now=0.0)
    assert limited.value.retry_after == pytest.approx(0.5)
    floor.take(CAMERA, upper, now=0.5)  # one token back after 1/rate


def test_the_rate_is_the_cameras_whoever_sends() -> None:
    floor = ControlFloor(FloorSettings(rate=0.5, burst=2, hold=1.0))
    upper = upper_controller(BUREAU)
    floor.take(CAMERA, ALICE, now=0.0)
    floor.take(CAMERA, ALICE, now=0.0)
    with pytest.raises(RateLimited):  # the hold ran out, the camera's bucket did not fill
        floor.take(CAMERA, upper, now=1.0)
    floor.take(CAMERA, upper, now=2.0)
