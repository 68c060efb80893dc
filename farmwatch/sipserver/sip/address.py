"""Where a SIP message comes from or goes to: transport plus host and port."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Transport(StrEnum):
    """The transports GB/T 28181 uses for signalling (and, separately, for media)."""

    UDP = "UDP"
    TCP = "TCP"

    @property
    def is_reliable(self) -> bool:
        return self is Transport.TCP


@dataclass(frozen=True, slots=True)
class Address:
    """A peer's transport address; for TCP it names the connection's remote end."""

    host: str
    port: int
    transport: Transport = Transport.UDP

    @property
    def is_reliable(self) -> bool:
        return self.transport.is_reliable

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.transport.value.lower()}:{host}:{self.port}"
