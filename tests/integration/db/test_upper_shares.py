"""Shares edited through the API, kept in `upper_shares` (SQLite and PostgreSQL): stored,
replaced, read back, removed; and `UpperShares` on top of it: the database wins over the
configuration, a new instance (a restart) applies what was stored, a reset goes back."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from farmwatch.platform.db import Database
from farmwatch.platform.errors import NotFound
from farmwatch.platform.repositories.upper_share_repository import (
    StoredShare,
    UpperShareRepository,
)
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.upper_shares import ShareSource, UpperShares
from tests.integration.db.conftest import T0

CAMERA = "44010000001310000001"
NVR = "44010000001180000001"
SELECTED = ShareRule(
    share_all=False,
    devices=frozenset({NVR}),
    channels=frozenset({CAMERA}),
    farms=frozenset({"GD-2024-0001"}),
)


class Links:
    """The links' side of `ShareLinks` as `CascadeLinks` keeps it: each upper's rule."""

    def __init__(self, configured: dict[str, ShareRule]) -> None:
        self.configured = configured
        self.rules = dict(configured)

    def configured_rules(self) -> Mapping[str, ShareRule]:
        return self.configured

    def apply_rule(self, upper_name: str, rule: ShareRule) -> None:
        self.rules[upper_name] = rule


async def test_a_share_is_stored_replaced_listed_and_removed(database: Database) -> None:
    shares = UpperShareRepository(database.sessions)
    assert await shares.get("bureau") is None
    first = StoredShare("bureau", False, ("B", "A"), (NVR,), (CAMERA,), T0, "east.admin")
    stored = await shares.put(first)
    assert stored.farms == ("A", "B")
    assert await shares.get("bureau") == stored
    later = T0 + timedelta(minutes=5)
    await shares.put(StoredShare("bureau", True, (), (), (), later, None))
    await shares.put(StoredShare("national", False, (), (), (CAMERA,), later, "top"))
    assert [(s.upper_name, s.share_all, s.channels, s.updated_at, s.updated_by)
            for s in await shares.all()] == [
        ("bureau", True, (), later, None), ("national", False, (CAMERA,), later, "top"),
    ]  # fmt: skip
    assert await shares.delete("bureau") is True
    assert await shares.delete("bureau") is False
    assert [s.upper_name for s in await shares.all()] == ["national"]


async def test_the_database_wins_over_the_configuration_and_outlives_a_restart(
    database: Database,
) -> None:
    configured = {"bureau": ShareRule(), "national": ShareRule(share_all=False)}
    links = Links(configured)
    service = UpperShares(UpperShareRepository(database.sessions), links, clock=lambda: T0)
    assert (await service.get("bureau")).source is ShareSource.CONFIG
    assert (await service.get("bureau")).rule == ShareRule()

    share = await service.set("bureau", SELECTED, by="east.admin")
    assert (share.source, share.rule, share.updated_by) == (
        ShareSource.DATABASE, SELECTED, "east.admin",
    )  # fmt: skip
    assert links.rules["bureau"] == SELECTED  # applied to the running link at once
    read = await service.get("bureau")
    assert (read.rule, read.source, read.updated_at) == (SELECTED, ShareSource.DATABASE, T0)
    every = await service.all()
    assert every["bureau"].source is ShareSource.DATABASE
    assert every["national"].source is ShareSource.CONFIG

    # A restart: fresh links with the configuration's rules, a fresh service; the stored
    # share is applied before the links start.
    restarted = Links(configured)
    again = UpperShares(UpperShareRepository(database.sessions), restarted)
    await again.load()
    assert restarted.rules == {"bureau": SELECTED, "national": ShareRule(share_all=False)}

    reset = await again.reset("bureau", by="east.admin")
    assert (reset.rule, reset.source) == (ShareRule(), ShareSource.CONFIG)
    assert restarted.rules["bureau"] == ShareRule()
    assert (await again.get("bureau")).source is ShareSource.CONFIG


async def test_an_unknown_upper_is_not_found_and_a_stray_row_is_ignored(
    database: Database,
) -> None:
    repository = UpperShareRepository(database.sessions)
    links = Links({"bureau": ShareRule()})
    service = UpperShares(repository, links)
    for call in (
        service.get("gone"),
        service.set("gone", SELECTED, by=None),
        service.reset("gone", by=None),
    ):
        with pytest.raises(NotFound, match="no upper platform named 'gone'"):
            await call
    assert await repository.all() == []
    # An upper removed from the configuration after its share was edited.
    await repository.put(StoredShare("gone", True, (), (), (), T0, None))
    await service.load()
    assert links.rules == {"bureau": ShareRule()}
