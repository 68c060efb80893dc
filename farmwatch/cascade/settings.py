"""`[[upper]]`: one table per upper platform this platform registers to (gb28181.md §9.1).

Each upper is identified by its ID, transport and port (its source host may change: a
multi-homed upper answers from another address, which is logged and tolerated).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["ShareMode", "UpperSettings", "UpperTransport"]

_GB_ID = re.compile(r"[0-9]{20}")
_DOMAIN = re.compile(r"[0-9]{10}|[A-Za-z0-9_.-]{1,64}")
_CHARSETS = ("GB2312", "GB18030", "GBK", "UTF-8")


class UpperTransport(StrEnum):
    UDP = "udp"
    TCP = "tcp"


class ShareMode(StrEnum):
    ALL = "all"
    """Every channel of every device."""
    SELECTED = "selected"
    """Only `share_farms` (filing numbers: every device placed on them), `share_devices`
    (all their channels) and `share_channels`."""


@dataclass(frozen=True, slots=True)
class UpperSettings:
    """One upper platform link. Keys are the `[[upper]]` keys of the configuration."""

    name: str = ""
    id: str = ""
    """The upper platform's 20-digit ID (type 200)."""
    domain: str = ""
    """The upper's SIP domain (10 digits, its ID's first ten, by convention)."""
    host: str = ""
    port: int = 5060
    transport: str = UpperTransport.UDP.value
    password: str = ""
    local_id: str = ""
    """The ID presented upward; empty: `[sip] id`. Two platforms that are each other's
    upper need distinct ones (field-notes.md §2.3 item 8)."""
    register_expires: int = 3600
    keepalive_interval: float = 60.0
    keepalive_timeout_count: int = 3
    retry_interval: float = 60.0
    """The first wait before registering again after a refusal or a lost link; it doubles
    up to ten times this, with ±20 % jitter (gb28181.md §9.1: ≥ 60 s in the field)."""
    catalog_items_per_message: int = 0
    """Catalog items per Response MESSAGE; 0: 1 over UDP (one item keeps a message under
    the MTU), 20 over TCP."""
    charset: str = "GB2312"
    allow_ptz: bool = True
    share: str = ShareMode.ALL.value
    share_devices: tuple[str, ...] = ()
    share_channels: tuple[str, ...] = ()
    share_farms: tuple[str, ...] = ()
    user_agent: str = "farmwatch"

    @property
    def upper_transport(self) -> UpperTransport:
        return UpperTransport(self.transport.lower())

    @property
    def share_mode(self) -> ShareMode:
        return ShareMode(self.share.lower())

    @property
    def items_per_message(self) -> int:
        if self.catalog_items_per_message > 0:
            return self.catalog_items_per_message
        return 1 if self.upper_transport is UpperTransport.UDP else 20

    def validate(self, key: str) -> list[str]:
        errors: list[str] = []
        if not self.name:
            errors.append(f"{key}.name: must not be empty")
        elif len(self.name) > 64:
            errors.append(f"{key}.name: at most 64 characters (its share is kept by name)")
        if _GB_ID.fullmatch(self.id) is None:
            errors.append(f"{key}.id: expected a 20-digit GB/T 28181 ID, got {self.id!r}")
        if _DOMAIN.fullmatch(self.domain) is None:
            errors.append(f"{key}.domain: expected a SIP domain (10 digits), got {self.domain!r}")
        if not self.host:
            errors.append(f"{key}.host: must not be empty")
        if not 0 < self.port < 65536:
            errors.append(f"{key}.port: expected 1..65535, got {self.port}")
        if self.transport.lower() not in tuple(UpperTransport):
            errors.append(f"{key}.transport: expected udp or tcp, got {self.transport!r}")
        if self.local_id and _GB_ID.fullmatch(self.local_id) is None:
            errors.append(f"{key}.local_id: expected a 20-digit ID, got {self.local_id!r}")
        if not 60 <= self.register_expires <= 86400:
            errors.append(
                f"{key}.register_expires: expected 60..86400 s, got {self.register_expires}"
            )
        if not 1 <= self.keepalive_interval <= 3600:
            errors.append(
                f"{key}.keepalive_interval: expected 1..3600 s, got {self.keepalive_interval}"
            )
        if not 1 <= self.keepalive_timeout_count <= 100:
            errors.append(
                f"{key}.keepalive_timeout_count: expected 1..100, "
                f"got {self.keepalive_timeout_count}"
            )
        if not 0.5 <= self.retry_interval <= 3600:
            errors.append(f"{key}.retry_interval: expected 0.5..3600 s, got {self.retry_interval}")
        if not 0 <= self.catalog_items_per_message <= 100:
            errors.append(
                f"{key}.catalog_items_per_message: expected 0..100 (0: by transport), "
                f"got {self.catalog_items_per_message}"
            )
        if self.charset.upper() not in _CHARSETS:
            errors.append(f"{key}.charset: expected one of {', '.join(_CHARSETS)}")
        if self.share.lower() not in tuple(ShareMode):
            errors.append(f"{key}.share: expected all or selected, got {self.share!r}")
        for farm in self.share_farms:
            if not farm.strip() or len(farm) > 64:
                errors.append(f"{key}.share_farms: expected farm filing numbers, got {farm!r}")
        for item in (*self.share_devices, *self.share_channels):
            if _GB_ID.fullmatch(item) is None:
                errors.append(f"{key}.share_*: expected 20-digit IDs, got {item!r}")
        return errors


def validate_uppers(uppers: tuple[UpperSettings, ...], own_id: str) -> list[str]:
    """Each upper valid, no two with the same name (a share is kept by name) or the same
    ID, transport and port, none presenting the upper's own ID as ours."""
    errors: list[str] = []
    seen: set[tuple[str, str, int]] = set()
    names: set[str] = set()
    for index, upper in enumerate(uppers):
        key = f"upper[{index}]"
        errors.extend(upper.validate(key))
        if upper.name and upper.name in names:
            errors.append(f"{key}.name: a second upper named {upper.name!r}")
        names.add(upper.name)
        identity = (upper.id, upper.transport.lower(), upper.port)
        if identity in seen:
            errors.append(f"{key}: a second upper with ID {upper.id} on {upper.transport} port "
                          f"{upper.port}")  # fmt: skip
        seen.add(identity)
        if upper.id and upper.id == (upper.local_id or own_id):
            errors.append(f"{key}.id: the upper's ID is the ID we present to it")
    return errors
