"""Registration table: online/offline transitions in virtual time."""

from __future__ import annotations

from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    OfflineReason,
    PresenceSettings,
    Registration,
    RegistrationRefreshed,
    RegistrationTable,
    SenderStatus,
    SourceCheck,
)
from farmwatch.sipserver.sip.address import Address, Transport

DEVICE = "34020000001180000001"
HOME = Address("127.0.0.1", 5061, Transport.UDP)


def _registration(now: float, expires: float = 3600, address: Address = HOME) -> Registration:
    return Registration(
        device_id=DEVICE,
        address=address,
        contact=f"<sip:{DEVICE}@127.0.0.1:5061>",
        expires_at=now + expires,
        registered_at=now,
    )


def _table() -> RegistrationTable:
    return RegistrationTable(PresenceSettings(keepalive_interval=60, keepalive_timeout_count=3))


def test_register_brings_the_device_online() -> None:
    table = _table()
    events = table.register(_registration(0), now=0)
    assert events == [DeviceCameOnline(_registration(0), is_new_registration=True)]
    assert table.is_online(DEVICE)


def test_missed_keepalives_take_it_offline_after_the_window_only() -> None:
    table = _table()
    table.register(_registration(0), now=0)
    assert table.next_deadline() == 180
    assert table.tick(179.9) == []
    assert table.tick(180) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]
    assert not table.is_online(DEVICE)


def test_keepalives_keep_it_online_and_resume_brings_it_back() -> None:
    table = _table()
    table.register(_registration(0), now=0)
    for t in range(60, 600, 60):
        outcome, events = table.keepalive(DEVICE, HOME, now=t)
        assert (outcome, events) == (SenderStatus.REGISTERED, [])
        assert table.tick(t) == []
    assert table.tick(540 + 179) == []
    assert table.tick(540 + 180) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]
    outcome, events = table.keepalive(DEVICE, HOME, now=800)
    assert outcome is SenderStatus.REGISTERED
    assert len(events) == 1 and isinstance(events[0], DeviceCameOnline)
    assert events[0].is_new_registration is False
    assert table.is_online(DEVICE)
    assert table.tick(800 + 179) == []
    assert table.tick(800 + 180) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]


def test_registration_expiry_comes_first_when_shorter() -> None:
    table = _table()
    table.register(_registration(0, expires=100), now=0)
    assert table.tick(100) == [DeviceWentOffline(DEVICE, OfflineReason.REGISTRATION_EXPIRED)]
    outcome, _ = table.keepalive(DEVICE, HOME, now=101)
    assert outcome is SenderStatus.NOT_REGISTERED


def test_keepalive_from_an_unknown_device_is_not_registered() -> None:
    outcome, events = _table().keepalive(DEVICE, HOME, now=5)
    assert outcome is SenderStatus.NOT_REGISTERED and events == []


def test_unregister_reports_offline_once() -> None:
    table = _table()
    table.register(_registration(0), now=0)
    assert table.unregister(DEVICE) == [DeviceWentOffline(DEVICE, OfflineReason.UNREGISTERED)]
    assert table.unregister(DEVICE) == []
    assert table.tick(10_000) == []


def test_keepalive_from_another_address_neither_moves_the_device_nor_keeps_it_online() -> None:
    """Issue 13 item 1: only an authenticated REGISTER moves a device."""
    table = _table()
    table.register(_registration(0), now=0)
    for elsewhere in (
        Address("127.0.0.1", 40000, Transport.UDP),
        Address("127.0.0.2", 5061, Transport.UDP),
        Address("127.0.0.1", 5061, Transport.TCP),
    ):
        for t in (60, 120, 170):
            assert table.keepalive(DEVICE, elsewhere, now=t) == (SenderStatus.ELSEWHERE, [])
        registration = table.get(DEVICE)
        assert registration is not None and registration.address == HOME
    assert table.tick(180) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]
    impostor = Address("127.0.0.1", 40000, Transport.UDP)
    assert table.keepalive(DEVICE, impostor, now=200) == (SenderStatus.ELSEWHERE, [])
    assert not table.is_online(DEVICE)
    outcome, events = table.keepalive(DEVICE, HOME, now=210)  # the device itself is back
    assert outcome is SenderStatus.REGISTERED and len(events) == 1


def test_host_source_check_accepts_another_port_of_the_same_host_without_moving() -> None:
    table = RegistrationTable(PresenceSettings(source_check=SourceCheck.HOST))
    table.register(_registration(0), now=0)
    other_port = Address("127.0.0.1", 40000, Transport.TCP)
    assert table.keepalive(DEVICE, other_port, now=60) == (SenderStatus.REGISTERED, [])
    assert table.sender(DEVICE, Address("127.0.0.2", 5061), now=60) is SenderStatus.ELSEWHERE
    registration = table.get(DEVICE)
    assert registration is not None and registration.address == HOME
    assert table.tick(179) == []  # the keepalive at 60 counted


def test_sender_of_an_expired_registration_is_not_registered() -> None:
    table = _table()
    table.register(_registration(0, expires=100), now=0)
    assert table.sender(DEVICE, HOME, now=99) is SenderStatus.REGISTERED
    assert table.sender(DEVICE, HOME, now=100) is SenderStatus.NOT_REGISTERED


def test_restored_registration_gets_one_window_to_prove_alive() -> None:
    table = _table()
    table.restore(_registration(-1000), now=0)
    assert table.is_online(DEVICE)
    table.keepalive(DEVICE, HOME, now=100)
    assert table.tick(250) == []
    assert table.tick(280) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]
    expired = _table()
    expired.restore(_registration(-5000), now=0)
    assert len(expired) == 0


def test_reregistration_moves_the_deadline() -> None:
    table = _table()
    table.register(_registration(0), now=0)
    assert table.register(_registration(100), now=100) == [
        RegistrationRefreshed(_registration(100))
    ]
    assert table.tick(180) == []
    assert table.tick(280) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]


def test_ten_thousand_devices_one_heap_entry_each() -> None:
    table = _table()
    for index in range(10_000):
        device = f"340200000013200{index:05d}"
        table.register(Registration(device, HOME, "", expires_at=3600, registered_at=0), now=0)
    for t in (60, 120, 170):
        for index in range(0, 10_000, 2):
            table.keepalive(f"340200000013200{index:05d}", HOME, now=t)
    offline = table.tick(180)
    assert len(offline) == 5_000
    assert table.online_count == 5_000
    assert len(table._heap) <= 10_000


# -- a TCP connection closing (GB/T 28181-2022 §9.1.1 f) ---------------------------------

OVER_TCP = Address("127.0.0.1", 40001, Transport.TCP)
OTHER_DEVICE = "34020000001180000002"


def test_closing_the_connection_a_device_registered_over_takes_it_offline() -> None:
    table = _table()
    table.register(_registration(0, address=OVER_TCP), now=0)
    assert table.connection_closed(OVER_TCP) == [
        DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)
    ]
    assert not table.is_online(DEVICE)
    # The binding is gone: the device must register again, a keepalive does not revive it.
    assert table.get(DEVICE) is None
    assert table.keepalive(DEVICE, OVER_TCP, now=10) == (SenderStatus.NOT_REGISTERED, [])
    assert table.connection_closed(OVER_TCP) == []
    assert table.tick(10_000) == []


def test_a_udp_registration_from_the_same_host_and_port_is_not_that_connection() -> None:
    table = _table()
    same_port_udp = Address(OVER_TCP.host, OVER_TCP.port, Transport.UDP)
    table.register(_registration(0, address=same_port_udp), now=0)
    assert table.connection_closed(OVER_TCP) == []
    assert table.connection_closed(same_port_udp) == []  # UDP has no connection to lose
    assert table.is_online(DEVICE)


def test_a_device_registered_again_over_a_newer_connection_stays_online() -> None:
    table = _table()
    newer = Address(OVER_TCP.host, OVER_TCP.port + 1, Transport.TCP)
    table.register(_registration(0, address=OVER_TCP), now=0)
    table.register(_registration(5, address=newer), now=5)
    assert table.connection_closed(OVER_TCP) == []
    assert table.is_online(DEVICE)
    assert table.connection_closed(newer) == [
        DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)
    ]


def test_a_keepalive_over_another_connection_leaves_the_device_on_its_own() -> None:
    table = _table()
    table.register(_registration(0, address=OVER_TCP), now=0)
    newer = Address(OVER_TCP.host, OVER_TCP.port + 1, Transport.TCP)
    assert table.keepalive(DEVICE, newer, now=30) == (SenderStatus.ELSEWHERE, [])
    assert table.connection_closed(newer) == []
    assert table.connection_closed(OVER_TCP) == [
        DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)
    ]


def test_only_the_devices_of_the_closed_connection_go_offline() -> None:
    table = _table()
    table.register(_registration(0, address=OVER_TCP), now=0)
    elsewhere = Address("127.0.0.1", 40002, Transport.TCP)
    other = Registration(OTHER_DEVICE, elsewhere, "", expires_at=3600, registered_at=0)
    table.register(other, now=0)
    assert table.connection_closed(OVER_TCP) == [
        DeviceWentOffline(DEVICE, OfflineReason.CONNECTION_LOST)
    ]
    assert table.is_online(OTHER_DEVICE)
    assert table.tick(180) == [DeviceWentOffline(OTHER_DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]


def test_a_device_already_offline_is_not_reported_again_when_its_connection_closes() -> None:
    table = _table()
    table.register(_registration(0, address=OVER_TCP), now=0)
    assert table.tick(180) == [DeviceWentOffline(DEVICE, OfflineReason.KEEPALIVE_TIMEOUT)]
    assert table.connection_closed(OVER_TCP) == []
    assert table.get(DEVICE) is None


def test_unregistered_and_expired_devices_leave_no_trace_for_their_connection() -> None:
    table = _table()
    table.register(_registration(0, address=OVER_TCP), now=0)
    table.unregister(DEVICE)
    table.register(_registration(0, expires=100, address=OVER_TCP), now=0)
    assert table.tick(100) == [DeviceWentOffline(DEVICE, OfflineReason.REGISTRATION_EXPIRED)]
    assert table.connection_closed(OVER_TCP) == []
    assert table._by_connection == {}
