"""Which hosts may send a stream's media (issue 13 item 5; gb28181.md §6.2, §6.6, §10 items 1-3).

Owns the address check of media ingest: a stream's RTP is taken only from the hosts the
platform knows the device by — the address its SIP comes from (known before the INVITE) and
the `c=` address of its SDP answer (added once the answer arrives). Hosts are compared as IP
addresses (an IPv4-mapped IPv6 source matches its IPv4 form); the source port is the
device's own choice and not checked here. A name or a wildcard in `c=` is no address and is
not added. `SourceFilter(None)` admits every host (the caller knows no device address).
Pure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["SourceFilter", "normalize_host"]


def normalize_host(text: str) -> str | None:
    """The canonical text of an IP address (`::ffff:10.0.0.2` → `10.0.0.2`), or None when
    `text` is no address (a host name) or a wildcard (`0.0.0.0`, `::`)."""
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return None if address.is_unspecified else str(address)


class SourceFilter:
    """The allowed hosts of one stream; see the module docstring."""

    __slots__ = ("_hosts",)

    def __init__(self, hosts: Iterable[str] | None) -> None:
        self._hosts: set[str] | None = None
        if hosts is not None:
            self._hosts = set()
            for host in hosts:
                self.allow(host)

    @property
    def hosts(self) -> frozenset[str] | None:
        """The allowed hosts, None when every host is admitted."""
        return None if self._hosts is None else frozenset(self._hosts)

    def allow(self, host: str) -> bool:
        """Admit `host` from now on; False (nothing added) when it is no IP address."""
        normalized = normalize_host(host)
        if normalized is None:
            return False
        if self._hosts is not None:
            self._hosts.add(normalized)
        return True

    def admits(self, host: str) -> bool:
        hosts = self._hosts
        if hosts is None or host in hosts:  # sockets report canonical text: one set lookup
            return True
        return normalize_host(host) in hosts
