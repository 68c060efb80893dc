"""Repositories of the platform: async persistence of devices and their catalogs.

Each repository takes the `async_sessionmaker` (from `Database.sessions`) and runs every
method as its own unit of work, returning the frozen records of
`farmwatch.platform.records`; SQLAlchemy rows never leave this package.
"""

from __future__ import annotations

from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.platform.repositories.device_repository import DeviceRepository

__all__ = ["ChannelRepository", "DeviceRepository"]
