"""Which devices and channels one upper platform may see (`[[upper]] share`, issue 9)."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ShareRule"]


@dataclass(frozen=True, slots=True)
class ShareRule:
    """Everything (`share_all`), or the listed farms (by filing number: every device placed
    on them), devices (with all their items) and channels. `SharingService` turns farms into
    their devices (`with_devices`) before asking the rule about a device."""

    share_all: bool = True
    devices: frozenset[str] = field(default_factory=frozenset)
    channels: frozenset[str] = field(default_factory=frozenset)
    farms: frozenset[str] = field(default_factory=frozenset)

    def with_devices(self, devices: frozenset[str]) -> ShareRule:
        """This rule also sharing `devices` (those of its farms)."""
        return ShareRule(self.share_all, self.devices | devices, self.channels, frozenset())

    def shares_device(self, device_id: str) -> bool:
        """Whether any item of the device may be shared (its own item is exported then)."""
        return self.share_all or device_id in self.devices

    def shares_item(self, device_id: str, item_id: str) -> bool:
        return self.share_all or device_id in self.devices or item_id in self.channels
