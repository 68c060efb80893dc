"""Pictures taken by the camera itself and uploaded to the platform ([2022] SnapShotConfig,
gb28181.md §4.9, §4.14; issue 12 item 4).

`request(channel_id, count, interval)` opens an upload session (`UploadSessions`: a
one-time URL under `upload_base`), writes `SnapShotConfig{SnapNum, Interval, UploadURL,
SessionID}` to the camera in a DeviceConfig and returns once the device answered OK (an
ERROR closes the session again: a 502 with its reason). An upload is `admit`ted by its
token before its body is read (a stranger's body costs nothing: 404 unknown, 403 expired,
used up or finished), then `store` keeps the picture if it is a JPEG, as
`<storage>/device-snapshots/<sha256>.jpg`, listed in `device_snapshots`.
`device_event` is a `DeviceRecorder` listener: UploadSnapShotFinished closes its session.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from farmwatch.platform.errors import (
    DeviceRefused,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    RateLimited,
)
from farmwatch.platform.repositories.device_snapshot_repository import (
    DeviceSnapshotRepository,
    NewDeviceSnapshot,
    StoredDeviceSnapshot,
)
from farmwatch.platform.services.device_command_service import DeviceTalk
from farmwatch.platform.services.snapshot_uploads import (
    TooManySessions,
    UploadRefusal,
    UploadSession,
    UploadSessions,
    is_jpeg,
)
from farmwatch.sipserver.device_events import DeviceEvent, DeviceNotified
from farmwatch.sipserver.gb.manscdp import CmdType, ControlResponse, UploadSnapShotFinished
from farmwatch.sipserver.gb.manscdp_device import build_device_config
from farmwatch.sipserver.gb.manscdp_snapshot import MAX_SNAP_NUM, SnapShotConfig

__all__ = [
    "MAX_IMAGE_BYTES",
    "MAX_INTERVAL",
    "MAX_SNAP_NUM",
    "UPLOAD_PATH",
    "DeviceSnapshotService",
    "StoredDeviceSnapshot",
    "UploadSession",
]

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/device-snapshots/uploads/"
"""Where the upload URLs live on the web server (the token follows)."""
MAX_IMAGE_BYTES = 8 * 1024 * 1024
"""The largest picture taken: a 4K camera's JPEG is 1-3 MB."""
MAX_INTERVAL = 60
"""Seconds between pictures at most (the session stays open count × interval + grace)."""
FOLDER = "device-snapshots"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _write_once(path: Path, data: bytes) -> None:
    """Write `path` whole or not at all; a picture already stored (same hash) is kept."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{secrets.token_hex(4)}.part")
    partial.write_bytes(data)
    os.replace(partial, path)


class DeviceSnapshotService:
    def __init__(
        self,
        snapshots: DeviceSnapshotRepository,
        talk: DeviceTalk,
        *,
        storage: Path,
        upload_base: str | None,
        clock: Callable[[], datetime] = _utc_now,
        sessions: UploadSessions | None = None,
    ) -> None:
        """`upload_base`: scheme://host[:port] the devices reach the web server on (None:
        not known, requests are refused naming `[web] public_url`)."""
        self._snapshots = snapshots
        self._talk = talk
        self._folder = storage / FOLDER
        self._upload_base = None if upload_base is None else upload_base.rstrip("/")
        self._clock = clock
        self.sessions = sessions or UploadSessions()

    def path_of(self, snapshot: StoredDeviceSnapshot) -> Path:
        return self._folder / f"{snapshot.sha256}.jpg"

    async def request(self, channel_id: str, count: int, interval: int) -> UploadSession:
        """Ask the camera for `count` pictures `interval` seconds apart."""
        for name, value, high in (("count", count, MAX_SNAP_NUM), ("interval", interval,
                                                                    MAX_INTERVAL)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise InvalidInput(f"{name}: expected an integer 1..{high}, got {value!r}")
        if self._upload_base is None:
            raise NotSupported(
                "the platform does not know the address devices reach it on: set "
                "[web] public_url (e.g. http://192.0.2.10:8080)"
            )
        talk = self._talk
        device_id = await talk.device_of(channel_id)
        talk.require_2022(device_id, "SnapShotConfig")
        token = secrets.token_urlsafe(32)
        try:
            session = self.sessions.open(
                token=token, session_id=secrets.token_hex(16), channel_id=channel_id,
                device_id=device_id, count=count, interval=interval, now=self._clock(),
            )  # fmt: skip
        except TooManySessions as error:
            raise RateLimited(f"{error}: try again later", retry_after=30) from error
        config = SnapShotConfig(count, interval, self._upload_base + UPLOAD_PATH + token,
                                session.session_id)  # fmt: skip
        what = "DeviceConfig (SnapShotConfig)"
        try:
            answer: ControlResponse = await talk.ask(
                device_id, channel_id, CmdType.DEVICE_CONFIG,
                lambda sn, charset: build_device_config(
                    channel_id, sn, [config.to_element()], charset=charset
                ),
                what,
            )  # fmt: skip
        except BaseException:
            self.sessions.close(token)
            raise
        if answer.result is None or answer.result.value != "OK":
            self.sessions.close(token)
            reason = answer.reason or ("no Result in the answer" if answer.result is None else "")
            raise DeviceRefused(
                f"device {device_id} refused {what} for {channel_id}: ERROR {reason}".rstrip()
            )
        log.info("device %s: %d snapshot(s) of channel %s asked every %d s (session %s)",
                 device_id, count, channel_id, interval, session.session_id)  # fmt: skip
        return session

    def admit(self, token: str) -> UploadSession:
        """The open session an upload to `token` belongs to (the attempt takes one of its
        places), checked before the body is read: `NotFound` for an unknown address,
        `PermissionDenied` for one expired, used up or finished."""
        admitted = self.sessions.admit(token, self._clock())
        if admitted is UploadRefusal.UNKNOWN:
            log.warning("snapshot upload to an unknown address refused")
            raise NotFound(admitted.value)
        if isinstance(admitted, UploadRefusal):
            log.warning("snapshot upload refused: %s", admitted.value)
            raise PermissionDenied(admitted.value)
        return admitted

    async def store(self, session: UploadSession, data: bytes) -> StoredDeviceSnapshot:
        """Store one picture uploaded in `session`: `InvalidInput` for anything but a JPEG."""
        now = self._clock()
        if not is_jpeg(data):
            log.warning("device %s: snapshot upload for channel %s is not a JPEG (%d bytes)",
                        session.device_id, session.channel_id, len(data))  # fmt: skip
            raise InvalidInput("expected a JPEG picture (FFD8 ... FFD9)")
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(_write_once, self._folder / f"{digest}.jpg", data)
        stored = await self._snapshots.add(
            NewDeviceSnapshot(
                channel_id=session.channel_id, device_id=session.device_id,
                session_id=session.session_id, received_at=now, size=len(data), sha256=digest,
            )
        )  # fmt: skip
        session.stored += 1
        log.info("device %s: snapshot %d of channel %s stored (%d bytes, session %s)",
                 session.device_id, stored.id, session.channel_id, len(data),
                 session.session_id)  # fmt: skip
        return stored

    async def of_channel(self, channel_id: str, *, limit: int) -> list[StoredDeviceSnapshot]:
        return await self._snapshots.of_channel(channel_id, limit=limit)

    async def picture(self, snapshot_id: int) -> tuple[StoredDeviceSnapshot, Path]:
        snapshot = await self._snapshots.get(snapshot_id)
        if snapshot is None:
            raise NotFound(f"no device snapshot {snapshot_id}")
        path = self.path_of(snapshot)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound(f"device snapshot {snapshot_id}: its file is gone")
        return snapshot, path

    def device_event(self, event: DeviceEvent) -> None:
        if not (
            isinstance(event, DeviceNotified) and isinstance(event.message, UploadSnapShotFinished)
        ):
            return
        notify = event.message
        if notify.session_id is None:
            log.info("device %s: UploadSnapShotFinished without a SessionID", event.device_id)
            return
        session = self.sessions.finish(
            event.device_id, notify.session_id, notify.file_ids, self._clock()
        )
        if session is None:
            log.info("device %s: UploadSnapShotFinished for no session of ours (%s)",
                     event.device_id, notify.session_id[:40])  # fmt: skip
            return
        log.info("device %s: snapshot session %s of channel %s finished: %d of %d stored",
                 event.device_id, session.session_id, session.channel_id, session.stored,
                 session.count)  # fmt: skip
