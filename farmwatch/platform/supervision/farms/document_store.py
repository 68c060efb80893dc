"""The files of the farms' application documents: `<storage dir>/farm-documents/<sha256>`.

A file is named by the SHA-256 of its content and nothing else, so no name a user sends
ever reaches the file system (no path traversal) and the name proves the content. An upload
is written to a temporary file beside the others while it is hashed, bounded by
`max_bytes`, then renamed to its hash: a file under a hash name is always whole. The same
content uploaded twice is one file. Files are never deleted (the documents are a record).
File work runs in a thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from farmwatch.platform.errors import TooLarge

__all__ = ["FOLDER_NAME", "DocumentStore", "StoredFile"]

FOLDER_NAME = "farm-documents"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_READ_CHUNK = 1 << 20


@dataclass(frozen=True, slots=True)
class StoredFile:
    sha256: str
    size: int


class DocumentStore:
    def __init__(self, storage: Path, *, max_bytes: int) -> None:
        self._folder = storage / FOLDER_NAME
        self.max_bytes = max_bytes

    def path(self, sha256: str) -> Path:
        """The file of content `sha256` (ValueError for anything but 64 hex digits)."""
        if not _SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256: {sha256!r}")
        return self._folder / sha256

    async def store(self, chunks: AsyncIterable[bytes]) -> StoredFile:
        """Write `chunks` to the store; `TooLarge` (nothing kept) past `max_bytes`."""
        await asyncio.to_thread(self._folder.mkdir, parents=True, exist_ok=True)
        incoming = self._folder / f".incoming-{secrets.token_hex(8)}"
        digest, size = hashlib.sha256(), 0
        handle = await asyncio.to_thread(incoming.open, "xb")
        try:
            async for chunk in chunks:
                size += len(chunk)
                if size > self.max_bytes:
                    raise TooLarge(
                        f"file: larger than {self.max_bytes} bytes "
                        "([supervision] farm_document_max_megabytes)"
                    )
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
            await asyncio.to_thread(_flush, handle)
        except BaseException:
            await asyncio.to_thread(_discard, handle, incoming)
            raise
        await asyncio.to_thread(handle.close)
        sha256 = digest.hexdigest()
        await asyncio.to_thread(os.replace, incoming, self.path(sha256))
        return StoredFile(sha256, size)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).is_file)

    async def hash_of(self, sha256: str) -> str | None:
        """The SHA-256 of the file stored as `sha256`, computed again; None when it is gone."""
        return await asyncio.to_thread(_hash_file, self.path(sha256))


def _flush(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _discard(handle: BinaryIO, path: Path) -> None:
    handle.close()
    path.unlink(missing_ok=True)


def _hash_file(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_READ_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.hexdigest()
