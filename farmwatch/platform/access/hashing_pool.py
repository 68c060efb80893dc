"""Runs argon2id work off the event loop, a bounded number at a time.

Each hash takes `memory_kib` of memory and tens of milliseconds of CPU; run on the loop it
would stall SIP and media, and run without a bound a burst of logins could take gigabytes.
`concurrency` hashes run at once in worker threads; the others wait their turn.
"""

from __future__ import annotations

import asyncio

from farmwatch.platform.access.passwords import PasswordHashing

__all__ = ["HashingPool"]


class HashingPool:
    def __init__(self, hashing: PasswordHashing, concurrency: int) -> None:
        self.hashing = hashing
        self._slots = asyncio.Semaphore(concurrency)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hashing.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self.hashing.verify, password_hash, password)

    async def burn(self, password: str) -> None:
        async with self._slots:
            await asyncio.to_thread(self.hashing.burn, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.hashing.needs_rehash(password_hash)
