"""What a SIP front is told when it starts: one JSON line on its standard input. Pure."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from farmwatch.sipserver.settings import RegistrarSettings, SipSettings


@dataclass(frozen=True, slots=True)
class FrontSpec:
    name: str
    host: str
    port: int
    channel_fd: int
    """The front's end of the platform's `SOCK_SEQPACKET` pair (inherited)."""
    secret: bytes
    """The platform's nonce key: a nonce one side issued, the other verifies."""
    sip: SipSettings
    registrar: RegistrarSettings
    default_password: str
    accept_unknown_devices: bool
    enrolled: dict[str, str | None]
    log_level: str = "INFO"
    log_json: bool = False

    def to_json(self) -> str:
        return json.dumps({
            "name": self.name, "host": self.host, "port": self.port,
            "channel_fd": self.channel_fd, "secret": self.secret.hex(),
            "sip": dataclasses.asdict(self.sip), "registrar": dataclasses.asdict(self.registrar),
            "default_password": self.default_password,
            "accept_unknown_devices": self.accept_unknown_devices,
            "enrolled": self.enrolled, "log_level": self.log_level, "log_json": self.log_json,
        })  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> FrontSpec:
        data: dict[str, Any] = json.loads(text)
        return cls(
            name=str(data["name"]),
            host=str(data["host"]),
            port=int(data["port"]),
            channel_fd=int(data["channel_fd"]),
            secret=bytes.fromhex(data["secret"]),
            sip=SipSettings(**data["sip"]),
            registrar=RegistrarSettings(**data["registrar"]),
            default_password=str(data["default_password"]),
            accept_unknown_devices=bool(data["accept_unknown_devices"]),
            enrolled={str(k): (None if v is None else str(v)) for k, v in data["enrolled"].items()},
            log_level=str(data["log_level"]),
            log_json=bool(data["log_json"]),
        )
