"""One controller per camera and a per-camera command rate (issue 12 item 1), in virtual time."""

from __future__ import annotations

import pytest

from farmwatch.platform.errors import ControlLocked, RateLimited
from farmwatch.platform.services.control_floor import ControlFloor, Controller, FloorSettings

ALICE = Controller("user:1", "alice")
BOB = Controller("user:2", "bob")
ADMIN = Controller("user:3", "root", is_administrator=True)
CAMERA = "34020000001310000001"


def test_the_last_sender_holds_the_camera_until_the_hold_runs_out() -> None:
    floor = ControlFloor(FloorSettings(hold=30.0))
    floor.take(CAMERA, ALICE, now=0.0)
    floor.take(CAMERA, ALICE, now=20.0)  # her own commands extend it
    with pytest.raises(ControlLocked) as locked:
        floor.take(CAMERA, BOB, now=49.0)
    assert (locked.value.holder, locked.value.seconds_left) == ("alice", 1.0)
    assert "controlled by alice" in str(locked.value)
    floor.take(CAMERA, BOB, now=50.0)
    assert floor.holder(CAMERA, 50.0) == (BOB, 30.0)
    floor.take("34020000001310000002", ALICE, now=50.0)  # another camera is free


def test_only_an_administrator_takes_over() -> None:
    floor = ControlFloor()
    floor.take(CAMERA, ALICE, now=0.0)
    with pytest.raises(ControlLocked):
        floor.take(CAMERA, BOB, now=1.0, take_over=True)
    with pytest.raises(ControlLocked, match='"take_over": true'):
        floor.take(CAMERA, ADMIN, now=1.0)
    floor.take(CAMERA, ADMIN, now=1.0, take_over=True)
    with pytest.raises(ControlLocked, match="root"):
        floor.take(CAMERA, ALICE, now=2.0)


def test_release_frees_the_camera_for_its_holder_only() -> None:
    floor = ControlFloor()
    floor.take(CAMERA, ALICE, now=0.0)
    floor.release(CAMERA, BOB)
    assert floor.holder(CAMERA, 1.0) is not None
    floor.release(CAMERA, ALICE)
    assert floor.holder(CAMERA, 1.0) is None


def test_commands_beyond_the_rate_are_refused_with_when_to_retry() -> None:
    floor = ControlFloor(FloorSettings(rate=10.0, burst=10))
    for index in range(10):
        floor.take(CAMERA, ALICE, now=index * 0.001)
    with pytest.raises(RateLimited) as limited:
        floor.take(CAMERA, ALICE, now=0.01)
    assert 0.0 < limited.value.retry_after <= 0.1
    floor.take(CAMERA, ALICE, now=0.01 + limited.value.retry_after + 1e-9)
    # A refused command does not count, and a refused caller does not spend the bucket.
    for index in range(100):
        with pytest.raises(ControlLocked):
            floor.take(CAMERA, BOB, now=0.2 + index * 0.001)
    floor.take(CAMERA, ALICE, now=0.3)


def test_forgotten_cameras_do_not_pile_up() -> None:
    floor = ControlFloor(FloorSettings(hold=1.0))
    for index in range(3000):
        floor.take(f"cam{index}", ALICE, now=float(index))
    assert len(floor._holdings) < 1100  # noqa: SLF001 - the bound is the point
