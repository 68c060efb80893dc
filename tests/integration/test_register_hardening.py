"""REGISTER under attack, against `farmwatch serve` (issue 13, item 2): replayed answers
and password guessing.

Devices and attackers are raw UDP sockets (`tests/peers/udp_device.py`, digest computed
with hashlib); an attacker uses another port of 127.0.0.1, or 127.0.0.2 as another host.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.peers.raw_sip import status_of
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.udp_device import (
    UdpDevice,
    fresh_branch,
    header_of,
    query_goes_to,
    reason_of,
    registered,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        tmp_path_factory.mktemp("register"), {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
    )
    try:
        yield running
    finally:
        stop_server(running)


def test_an_authorised_register_replayed_from_another_port_is_refused(
    server: RunningServer,
) -> None:
    with (
        UdpDevice(server.sip_port, "34020000001320000102") as device,
        UdpDevice(server.sip_port, "34020000001320000102") as attacker,
    ):
        authorised = registered(server, device, use_qop=False)
        replayed = attacker.request(fresh_branch(authorised))
        assert status_of(replayed) == 401, replayed
        query_goes_to(server, device, attacker)
        # From the device's own port the same answer is spent: a kind 401 (stale), and
        # answering the new challenge registers again.
        again = device.request(fresh_branch(authorised))
        assert status_of(again) == 401
        assert "stale=true" in (header_of(again, "WWW-Authenticate") or "").lower()
        assert status_of(device.request(device.answer(again, use_qop=False))) == 200


def test_password_guessing_is_throttled_and_the_device_still_registers(
    server: RunningServer,
) -> None:
    device_id = "34020000001320000103"
    with (
        UdpDevice(server.sip_port, device_id) as device,
        UdpDevice(server.sip_port, device_id, host="127.0.0.2") as guesser,
    ):
        registered(server, device)
        answers = [guesser.register(f"guess-{n}")[0] for n in range(12)]
        assert all(status_of(a) == 403 for a in answers), answers
        reasons = [reason_of(a) for a in answers]
        assert "wrong password" in reasons[0]
        assert any("too many" in r for r in reasons), reasons
        # The right password from the guesser's address is refused as well, now.
        right, _ = guesser.register()
        assert status_of(right) == 403 and "too many" in reason_of(right)
    with UdpDevice(server.sip_port, device_id) as rebooted:  # the device, from another port
        response, _ = rebooted.register()
        assert status_of(response) == 200, response
    # One line when the burst began (and one for the block), not one per guess.
    lines = [line for line in server.log_text().splitlines() if device_id in line]
    assert len([line for line in lines if "REGISTER refused" in line]) == 1, lines
