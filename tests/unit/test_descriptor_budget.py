"""SIP over TCP stays below the descriptor limit, less what the rest of the process needs."""

from __future__ import annotations

from farmwatch.descriptor_budget import PER_MEDIA_PORT, RESERVE_BASE, plan_descriptors

MEDIA_PORTS = 500  # the shipped media.port_range, 30000-30499
RESERVE = RESERVE_BASE + PER_MEDIA_PORT * MEDIA_PORTS


def test_a_configured_cap_that_fits_is_kept_without_a_warning() -> None:
    budget = plan_descriptors(65536, configured=10000, media_ports=MEDIA_PORTS)
    assert budget.reserve == RESERVE == 2024
    assert budget.tcp_max_connections == 10000
    assert not budget.lowered
    assert budget.warning() is None


def test_a_cap_that_does_not_fit_is_lowered_with_one_warning_naming_key_and_limit() -> None:
    # The incident: the cap equal to the descriptor limit, nothing left for web and database.
    budget = plan_descriptors(20000, configured=20000, media_ports=MEDIA_PORTS)
    assert budget.tcp_max_connections == 20000 - RESERVE
    assert budget.lowered and budget.reserve_fits
    warning = budget.warning()
    assert warning is not None
    assert "sip.tcp_max_connections = 20000" in warning
    assert "RLIMIT_NOFILE = 20000" in warning
    assert str(20000 - RESERVE) in warning


def test_a_limit_below_the_reserve_leaves_sip_half_of_it_and_says_so() -> None:
    budget = plan_descriptors(1024, configured=10000, media_ports=MEDIA_PORTS)
    assert budget.tcp_max_connections == 512
    assert not budget.reserve_fits
    warning = budget.warning()
    assert warning is not None and "RLIMIT_NOFILE = 1024" in warning
    # Even a small configured cap gets the warning when the reserve cannot fit.
    small = plan_descriptors(1024, configured=100, media_ports=MEDIA_PORTS)
    assert small.tcp_max_connections == 100 and not small.lowered
    assert small.warning() is not None
