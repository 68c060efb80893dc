"""Which alarms get an evidence clip, and around which moment (`supervision.alarm_evidence`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farmwatch.platform.repositories.alarm_repository import StoredAlarm
from farmwatch.platform.supervision.alarm_evidence import alarm_moment, is_camera

T0 = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
CAMERA = "44010000001310000001"
IPC = "44010000001320000001"
ALARM_INPUT = "44010000001340000001"
NVR = "44010000001180000001"


def _alarm(alarm_time: datetime | None) -> StoredAlarm:
    return StoredAlarm(
        id=1, device_id=NVR, source_id=CAMERA, sn=1, priority=1, method=5, alarm_type=2,
        alarm_time=alarm_time, longitude=None, latitude=None, description=None,
        received_at=T0, acknowledged_at=None, acknowledged_by=None, note=None, reset_at=None,
        reset_by=None, reset_result=None,
    )  # fmt: skip


def test_the_device_time_else_the_received_time() -> None:
    assert alarm_moment(_alarm(T0 - timedelta(seconds=4))) == T0 - timedelta(seconds=4)
    assert alarm_moment(_alarm(T0 + timedelta(minutes=14))) == T0 + timedelta(minutes=14)
    assert alarm_moment(_alarm(None)) == T0


def test_a_device_clock_off_by_a_zone_is_not_believed() -> None:
    assert alarm_moment(_alarm(T0 - timedelta(hours=8))) == T0
    assert alarm_moment(_alarm(T0 + timedelta(minutes=16))) == T0


def test_cameras_and_recorded_channels_have_video_alarm_inputs_and_recorders_not() -> None:
    assert is_camera(CAMERA, set())
    assert is_camera(IPC, set())
    assert not is_camera(ALARM_INPUT, set())
    assert not is_camera(NVR, set())
    assert not is_camera("not-an-id", set())
    # A channel the platform records has video whatever its code says.
    assert is_camera(ALARM_INPUT, {ALARM_INPUT})
