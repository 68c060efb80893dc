"""Online/offline lines: one per device when calm, the first and summaries in a storm."""

from __future__ import annotations

import logging

import pytest

from farmwatch.sipserver.gb.registrations import OfflineReason, Registration
from farmwatch.sipserver.presence_log import PresenceLog
from farmwatch.sipserver.sip.address import Address, Transport


def _registration(number: int) -> Registration:
    return Registration(
        device_id=f"340200000013200{number:05d}",
        address=Address("192.0.2.1", 5060 + number, Transport.UDP),
        contact="",
        expires_at=3600.0,
        registered_at=0.0,
    )


def test_calm_changes_get_a_line_each(caplog: pytest.LogCaptureFixture) -> None:
    presence = PresenceLog()
    with caplog.at_level(logging.INFO):
        presence.online(_registration(1), registered=True, now=0.0)
        presence.online(_registration(2), registered=False, now=5.0)
        presence.offline(_registration(1).device_id, OfflineReason.KEEPALIVE_TIMEOUT, 9.0)
        presence.tick(20.0)
    assert [record.getMessage() for record in caplog.records] == [
        "device 34020000001320000001 online (udp:192.0.2.1:5061, registered)",
        "device 34020000001320000002 online (udp:192.0.2.1:5062, keepalive)",
        "device 34020000001320000001 offline (keepalive-timeout)",
    ]


def test_a_storm_is_summarised(caplog: pytest.LogCaptureFixture) -> None:
    presence = PresenceLog()
    with caplog.at_level(logging.INFO):
        for number in range(5000):  # 5,000 devices in 2.5 s
            presence.online(_registration(number), registered=True, now=number * 0.0005)
        assert presence.next_deadline() == pytest.approx(4999 * 0.0005 + 1.0)
        presence.tick(10.0)
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("device 34020000001320000000 online")
    assert lines[1] == "4999 more devices came online in 10 s"
