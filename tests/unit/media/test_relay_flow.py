"""A relay that cannot keep up drops frames up to the next key frame, counted, and starts on
a key frame (virtual: the backlog is given)."""

from __future__ import annotations

from farmwatch.media.relay.flow import RelayFlow

LIMIT = 100_000


def test_a_relay_starts_on_a_key_frame_without_counting_the_frames_before_as_drops() -> None:
    flow = RelayFlow(max_backlog=LIMIT)
    assert [flow.admit(key, 0) for key in (False, False, True, False)] == [
        False, False, True, True,
    ]  # fmt: skip
    assert flow.frames_dropped == 0 and flow.has_started and not flow.is_dropping


def test_over_the_backlog_frames_are_dropped_up_to_a_key_frame_found_drained() -> None:
    flow = RelayFlow(max_backlog=LIMIT)
    assert flow.admit(True, 0)
    assert flow.admit(False, LIMIT)  # at the limit: still sent
    assert not flow.admit(False, LIMIT + 1)
    assert flow.is_dropping
    assert not flow.admit(False, 0)  # drained, but no key frame: the GOP is broken
    assert not flow.admit(True, LIMIT // 2 + 1)  # a key frame, but not drained to half
    assert flow.admit(True, LIMIT // 2)
    assert flow.admit(False, 0) and not flow.is_dropping
    assert flow.frames_dropped == 3


def test_a_socket_taking_part_of_a_frame_drops_to_the_next_key_frame() -> None:
    flow = RelayFlow(max_backlog=LIMIT)
    assert flow.admit(True, 0)
    flow.send_failed()
    flow.send_failed()  # the same stall: counted once
    assert flow.is_dropping and flow.frames_dropped == 1
    assert not flow.admit(False, 0)
    assert flow.admit(True, 0)
    assert flow.frames_dropped == 2
