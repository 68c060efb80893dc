"""How many file descriptors SIP over TCP may take: the process limit less a reserve.

Every TCP connection is a descriptor, and so is everything else the process holds; when
they run out, the web server and the database fail with SIP. So `sip.tcp_max_connections`
must stay below the process's limit (RLIMIT_NOFILE, read at start-up after raising the
soft limit to the hard one) less a reserve for the rest:

* `RESERVE_BASE` (1024): the web server's connections, the database's pool and files,
  recordings, logs, and the descriptors of Python and its libraries;
* `PER_MEDIA_PORT` (2) per port of `media.port_range`: an RTP port holds its socket and
  either its RTCP socket or an accepted TCP connection.

A configured value that does not fit is lowered, with one warning naming the setting and
the limit; start-up goes on (the limit is often the environment's, not the operator's,
to change at once, and a platform taking fewer TCP devices beats none). Pure: the caller
reads the limit and logs.
"""

from __future__ import annotations

from dataclasses import dataclass

RESERVE_BASE = 1024
PER_MEDIA_PORT = 2


@dataclass(frozen=True, slots=True)
class DescriptorBudget:
    """The descriptor limit, the reserve kept from it, and the TCP cap that fits."""

    limit: int
    """RLIMIT_NOFILE (soft) the process runs with."""
    reserve: int
    configured: int
    """`sip.tcp_max_connections` as configured."""
    tcp_max_connections: int
    """What the SIP TCP transport may hold: `configured`, or less when that did not fit."""

    @property
    def lowered(self) -> bool:
        return self.tcp_max_connections < self.configured

    @property
    def reserve_fits(self) -> bool:
        return self.limit - self.reserve >= self.tcp_max_connections

    def warning(self) -> str | None:
        """The one start-up warning, or None when everything fits."""
        if not self.lowered and self.reserve_fits:
            return None
        remedy = (
            "raise the limit (LimitNOFILE= in the systemd unit, ulimit -n, "
            "docker --ulimit nofile=) or lower sip.tcp_max_connections"
        )
        if self.reserve_fits:
            return (
                f"sip.tcp_max_connections = {self.configured} does not fit the descriptor "
                f"limit RLIMIT_NOFILE = {self.limit} less {self.reserve} kept for media "
                f"ports, the web server and the database: SIP over TCP takes at most "
                f"{self.tcp_max_connections} connections; {remedy}"
            )
        taken = (
            f"lowered to {self.tcp_max_connections}"
            if self.lowered
            else f"kept at {self.tcp_max_connections}"
        )
        return (
            f"the descriptor limit RLIMIT_NOFILE = {self.limit} cannot hold both the "
            f"{self.reserve} descriptors kept for media ports, the web server and the "
            f"database and sip.tcp_max_connections = {self.configured}, {taken} "
            f"(at most half the limit); {remedy}"
        )


def plan_descriptors(limit: int, *, configured: int, media_ports: int) -> DescriptorBudget:
    """The budget for a process limited to `limit` descriptors."""
    reserve = RESERVE_BASE + PER_MEDIA_PORT * media_ports
    room = limit - reserve
    if room < limit // 2:
        # Not even the reserve fits: share what there is rather than refuse SIP over TCP.
        room = limit // 2
    return DescriptorBudget(
        limit=limit,
        reserve=reserve,
        configured=configured,
        tcp_max_connections=max(1, min(configured, room)),
    )
