"""Which pending broadcast a device's audio INVITE answers (`broadcast_match`)."""

from __future__ import annotations

from farmwatch.sipserver.broadcast_match import PendingBroadcast, match_broadcast

CAMERA = PendingBroadcast("a", "34020000001320000001", "34020000001320000001", "192.168.1.64")
NVR_1 = PendingBroadcast("b", "34020000001110000001", "34020000001310000001", "192.168.1.70")
NVR_2 = PendingBroadcast("c", "34020000001110000001", "34020000001310000002", "192.168.1.70")


def test_the_from_user_names_the_device_or_the_target() -> None:
    pending = [CAMERA, NVR_1, NVR_2]
    assert (
        match_broadcast(pending, from_user=CAMERA.device_id, source_host="192.168.1.64") is CAMERA
    )
    assert match_broadcast(pending, from_user=NVR_2.target_id, source_host="192.168.1.70") is NVR_2
    # The NVR's own ID: its oldest pending broadcast.
    assert match_broadcast(pending, from_user=NVR_1.device_id, source_host="192.168.1.70") is NVR_1


def test_an_unknown_from_matches_the_only_broadcast_of_its_host() -> None:
    pending = [CAMERA, NVR_1, NVR_2]
    assert match_broadcast(pending, from_user="x", source_host="192.168.1.64") is CAMERA
    assert match_broadcast(pending, from_user="x", source_host="192.168.1.70") is None


def test_another_host_matches_nothing_whatever_it_claims() -> None:
    assert match_broadcast([CAMERA], from_user=CAMERA.device_id, source_host="10.9.9.9") is None
    assert match_broadcast([], from_user=CAMERA.device_id, source_host="192.168.1.64") is None


def test_hosts_compare_without_brackets_case_or_the_v4_mapped_prefix() -> None:
    pending = [PendingBroadcast("v6", "d", "t", "[FE80::1]"), CAMERA]
    assert match_broadcast(pending, from_user="d", source_host="fe80::1") is pending[0]
    assert match_broadcast(pending, from_user="x", source_host="::ffff:192.168.1.64") is CAMERA
