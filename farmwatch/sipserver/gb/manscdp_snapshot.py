"""Snapshots taken by the device ([2022] item 4; gb28181.md §4.9, §4.14): the
`SnapShotConfig` family of Control/DeviceConfig and the Notify/UploadSnapShotFinished that
ends it.

The platform writes `SnapShotConfig{SnapNum, Interval, UploadURL, SessionID}` into a
DeviceConfig for the camera; the device takes `SnapNum` pictures `Interval` seconds apart,
uploads each by HTTP to `UploadURL`, then sends `UploadSnapShotFinished` with the same
`SessionID` and the `SnapShotList/SnapShotFileID` of each picture. `SnapShotConfig` checks
its values when built (strict, for what we send) and `from_element` reads one leniently
(for the simulator); the notify is built and read here. Pure: values in, values out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from xml.etree.ElementTree import Element

from farmwatch.sipserver.gb.device_config import ConfigElement, ConfigType
from farmwatch.sipserver.gb.manscdp import CmdType, RootKind, UploadSnapShotFinished
from farmwatch.sipserver.gb.manscdp_build import BodyWriter
from farmwatch.sipserver.gb.manscdp_element import (
    child_text,
    element_text,
    find_child,
    find_children,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = [
    "MAX_SNAP_NUM",
    "SnapShotConfig",
    "build_upload_snapshot_finished",
    "read_upload_snapshot_finished",
]

MAX_SNAP_NUM = 10
"""SnapNum is 1..10 (2022 A.2.3 b)."""
MAX_INTERVAL = 3600
MAX_FILE_IDS = 64
"""SnapShotFileIDs read from one notify (a device sends at most SnapNum of them)."""
_SESSION_LENGTHS = range(32, 129)
_MAX_URL = 1024


@dataclass(frozen=True, slots=True)
class SnapShotConfig:
    """What the device is asked: `snap_num` pictures, `interval` seconds apart, each
    uploaded to `upload_url`, all under `session_id` (32..128 characters)."""

    snap_num: int
    interval: int
    upload_url: str
    session_id: str

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("SnapNum", self.snap_num, 1, MAX_SNAP_NUM),
            ("Interval", self.interval, 1, MAX_INTERVAL),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name}: expected an integer {low}..{high}, got {value!r}")
        if (
            not self.upload_url.startswith(("http://", "https://"))
            or len(self.upload_url) > _MAX_URL
        ):
            raise ValueError(f"UploadURL: expected an http(s) URL, got {self.upload_url[:80]!r}")
        if len(self.session_id) not in _SESSION_LENGTHS or not self.session_id.isprintable():
            raise ValueError("SessionID: expected 32..128 printable characters")

    def to_element(self) -> ConfigElement:
        return ConfigElement(
            ConfigType.SNAPSHOT_CONFIG.value,
            None,
            (
                ConfigElement("SnapNum", str(self.snap_num)),
                ConfigElement("Interval", str(self.interval)),
                ConfigElement("UploadURL", self.upload_url),
                ConfigElement("SessionID", self.session_id),
            ),
        )

    @classmethod
    def from_element(cls, element: ConfigElement) -> SnapShotConfig | None:
        """The request a device received; None when a field is missing or out of range."""
        texts = element.child_text
        try:
            return cls(
                snap_num=int((texts("SnapNum") or "").strip()),
                interval=int((texts("Interval") or "").strip()),
                upload_url=(texts("UploadURL") or "").strip(),
                session_id=(texts("SessionID") or "").strip(),
            )
        except ValueError:
            return None


def build_upload_snapshot_finished(
    device_id: str,
    sn: int,
    session_id: str,
    file_ids: Sequence[str],
    *,
    charset: ManscdpCharset = ManscdpCharset.GB2312,
) -> bytes:
    writer = BodyWriter(RootKind.NOTIFY, CmdType.UPLOAD_SNAPSHOT_FINISHED, sn, device_id)
    writer.element("SessionID", session_id)
    writer.raw("<SnapShotList>")
    for file_id in file_ids:
        writer.element("SnapShotFileID", file_id)
    writer.raw("</SnapShotList>")
    return writer.finish(charset)


def read_upload_snapshot_finished(root: Element, device_id: str, sn: int) -> UploadSnapShotFinished:
    """Lenient: the file IDs under `SnapShotList` (or, as some devices send them, directly
    under the root); a missing SessionID is None."""
    holder = find_child(root, "SnapShotList")
    items = find_children(holder if holder is not None else root, "SnapShotFileID")
    ids = (text for text in map(element_text, items[:MAX_FILE_IDS]) if text)
    session = child_text(root, "SessionID")
    return UploadSnapShotFinished(device_id, sn, session or None, tuple(ids))
