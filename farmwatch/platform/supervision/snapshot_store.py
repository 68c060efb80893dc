"""The pictures of monitoring records: JPEG files under `[storage] dir`/monitoring-snapshots/,
each named by its SHA-256 (`<sha256>.jpg`), so that a record's row proves which picture is
its own and the same picture is stored once. Files are written whole (a temporary name,
then a rename) off the event loop."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from pathlib import Path

__all__ = ["SNAPSHOT_FOLDER", "SnapshotStore", "is_jpeg"]

SNAPSHOT_FOLDER = "monitoring-snapshots"
_SHA256 = re.compile(r"[0-9a-f]{64}")


def is_jpeg(data: bytes) -> bool:
    """Starts with SOI and ends with EOI (a whole JPEG, not a cut one)."""
    return len(data) > 4 and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9"


class SnapshotStore:
    def __init__(self, storage: Path) -> None:
        self._folder = storage / SNAPSHOT_FOLDER

    def path_of(self, sha256: str) -> Path:
        if _SHA256.fullmatch(sha256) is None:
            raise ValueError(f"not a SHA-256: {sha256[:70]!r}")
        return self._folder / f"{sha256}.jpg"

    async def save(self, jpeg: bytes) -> str:
        """Store `jpeg`; its SHA-256."""
        sha256 = hashlib.sha256(jpeg).hexdigest()
        await asyncio.to_thread(self._write, self.path_of(sha256), jpeg)
        return sha256

    async def read(self, sha256: str) -> bytes | None:
        """The picture, or None when its file is gone or no longer matches its name."""
        path = self.path_of(sha256)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            return None
        return data if hashlib.sha256(data).hexdigest() == sha256 else None

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        os.replace(partial, path)
