"""What each upper platform may see, edited through the API and kept in the database.

An upper's effective share is its `upper_shares` row when it has one, else its `[[upper]]`
table's `share` keys. Setting or resetting it stores it and applies it at once to the
running link through `ShareLinks`, which the cascade implements (the platform knows
nothing of links): the link NOTIFYs a subscribed upper of what it gained and lost and ends
its calls to channels no longer shared. `load` applies the stored shares before the links
start, so an edited share outlives a restart.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from farmwatch.platform.errors import InvalidInput, NotFound
from farmwatch.platform.repositories.upper_share_repository import (
    StoredShare,
    UpperShareRepository,
)
from farmwatch.platform.sharing.share_rule import ShareRule

__all__ = ["EffectiveShare", "ShareLinks", "ShareSource", "UpperShares", "parse_share"]

log = logging.getLogger(__name__)

_GB_ID = re.compile(r"[0-9]{20}")
MAX_FARM_LENGTH = 64
MAX_LISTED = 10_000
"""Items per list of a share (a bound on the body, not a policy)."""


class ShareSource(StrEnum):
    CONFIG = "config"
    """The `[[upper]]` table's `share` keys."""
    DATABASE = "database"
    """Set through the API (`upper_shares`)."""


@dataclass(frozen=True, slots=True)
class EffectiveShare:
    upper_name: str
    rule: ShareRule
    source: ShareSource
    updated_at: datetime | None = None
    updated_by: str | None = None


class ShareLinks(Protocol):
    """The upper links, as the platform may use them (implemented by the cascade)."""

    def configured_rules(self) -> Mapping[str, ShareRule]:
        """Each upper's name → the share its `[[upper]]` table gives it."""
        ...

    def apply_rule(self, upper_name: str, rule: ShareRule) -> None:
        """Make `rule` what the named upper sees from now on."""
        ...


def parse_share(body: Mapping[str, Any]) -> ShareRule:
    """`{"share": "all"|"selected", "farms": [...], "devices": [...], "channels": [...]}`
    as a rule; `InvalidInput` saying what is wrong."""
    unknown = sorted(set(body) - {"share", "farms", "devices", "channels"})
    if unknown:
        raise InvalidInput(f"unknown keys {', '.join(unknown)[:200]}: expected share, farms, "
                           "devices, channels")  # fmt: skip
    share = body.get("share")
    if share not in ("all", "selected"):
        raise InvalidInput(f'share: expected "all" or "selected", got {str(share)[:40]!r}')
    farms = _strings(body, "farms")
    devices = _strings(body, "devices")
    channels = _strings(body, "channels")
    if share == "all":
        if farms or devices or channels:
            raise InvalidInput('share "all" takes no farms, devices or channels')
        return ShareRule()
    for farm in farms:
        if not farm.strip() or len(farm) > MAX_FARM_LENGTH:
            raise InvalidInput(f"farms: expected farm filing numbers, got {farm[:80]!r}")
    for key, ids in (("devices", devices), ("channels", channels)):
        for item in ids:
            if _GB_ID.fullmatch(item) is None:
                raise InvalidInput(f"{key}: expected 20-digit GB/T 28181 IDs, got {item[:40]!r}")
    return ShareRule(
        share_all=False,
        devices=frozenset(devices),
        channels=frozenset(channels),
        farms=frozenset(farms),
    )


def _strings(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidInput(f"{key}: expected a list of strings")
    if len(value) > MAX_LISTED:
        raise InvalidInput(f"{key}: at most {MAX_LISTED} items")
    return value


def _rule_of(stored: StoredShare) -> ShareRule:
    return ShareRule(
        share_all=stored.share_all,
        devices=frozenset(stored.devices),
        channels=frozenset(stored.channels),
        farms=frozenset(stored.farms),
    )


def _effective(stored: StoredShare) -> EffectiveShare:
    return EffectiveShare(
        stored.upper_name, _rule_of(stored), ShareSource.DATABASE, stored.updated_at,
        stored.updated_by,
    )  # fmt: skip


class UpperShares:
    def __init__(
        self,
        repository: UpperShareRepository,
        links: ShareLinks,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repository = repository
        self._links = links
        self._clock = clock

    async def load(self) -> None:
        """Apply every stored share to its link (at startup, before the links start); a
        row naming no configured upper is left alone, and logged."""
        configured = self._links.configured_rules()
        for stored in await self._repository.all():
            if stored.upper_name not in configured:
                log.warning("stored share of upper %r: no such [[upper]] in the configuration; "
                            "ignored", stored.upper_name)  # fmt: skip
                continue
            self._links.apply_rule(stored.upper_name, _rule_of(stored))
            log.info("upper %s: share from the database (set %s by %s)", stored.upper_name,
                     stored.updated_at.isoformat(), stored.updated_by)  # fmt: skip

    async def all(self) -> dict[str, EffectiveShare]:
        """Every configured upper's name → its effective share."""
        stored = {s.upper_name: s for s in await self._repository.all()}
        return {
            name: _effective(stored[name])
            if name in stored
            else EffectiveShare(name, rule, ShareSource.CONFIG)
            for name, rule in self._links.configured_rules().items()
        }

    async def get(self, upper_name: str) -> EffectiveShare:
        configured = self._configured(upper_name)
        stored = await self._repository.get(upper_name)
        if stored is None:
            return EffectiveShare(upper_name, configured, ShareSource.CONFIG)
        return _effective(stored)

    async def set(self, upper_name: str, rule: ShareRule, *, by: str | None) -> EffectiveShare:
        """Store `rule` as what the upper sees, and apply it to its link."""
        self._configured(upper_name)
        stored = await self._repository.put(
            StoredShare(
                upper_name,
                rule.share_all,
                tuple(rule.farms),
                tuple(rule.devices),
                tuple(rule.channels),
                self._clock(),
                by,
            )  # fmt: skip
        )
        self._links.apply_rule(upper_name, rule)
        log.info("upper %s: share set by %s: %s", upper_name, by, _describe(rule))
        return _effective(stored)

    async def reset(self, upper_name: str, *, by: str | None) -> EffectiveShare:
        """Back to the configuration's share: the row removed, the link told."""
        configured = self._configured(upper_name)
        if await self._repository.delete(upper_name):
            self._links.apply_rule(upper_name, configured)
            log.info("upper %s: share reset to the configuration by %s: %s", upper_name, by,
                     _describe(configured))  # fmt: skip
        return EffectiveShare(upper_name, configured, ShareSource.CONFIG)

    def _configured(self, upper_name: str) -> ShareRule:
        rule = self._links.configured_rules().get(upper_name)
        if rule is None:
            raise NotFound(f"no upper platform named {upper_name[:64]!r}")
        return rule


def _describe(rule: ShareRule) -> str:
    if rule.share_all:
        return "all"
    return (f"selected ({len(rule.farms)} farms, {len(rule.devices)} devices, "
            f"{len(rule.channels)} channels)")  # fmt: skip
