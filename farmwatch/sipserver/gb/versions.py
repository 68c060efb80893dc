"""Which edition of GB/T 28181 to speak to a peer, and how to ask it for a sub-stream.

Owns the `X-GB-Ver` rule of GB/T 28181-2022 Annex I (gb28181.md §3.4, field-notes.md §4.5):
both sides say their version (`1.0`/`1.1` 2011, `2.0` 2016, `3.0` 2022) and the message
forms are chosen by the **lower** of the two, so a 2022 platform talking to a 2016 device
sends it nothing it cannot understand. A peer that sends no `X-GB-Ver` is taken as 2016 (the
header is itself a 2022 addition). Where the editions differ for us:

- SDP stream selection: `a=streamnumber:N` is 2022 (Annex G); a 2016 peer gets it only
  through a vendor dialect configured for it (`StreamDialect`);
- the 2022 commands (PTZPosition, PTZPreciseCtrl, HomePositionQuery, CruiseTrackListQuery,
  CruiseTrackQuery, SDCardStatus, the 2022 DeviceConfig families) are not sent to a 2016
  peer (`Edition.has_2022_commands`);
- the charset of bodies: GB 18030 "shall" in 2022, GB 2312 "should" in 2016 (§4.2).

`stream_attribute` writes main/sub-stream selection in a device's dialect (gb28181.md §6.2:
2022 `streamnumber`, Dahua `streamprofile`, TP-LINK/Mercury `streamMode:MAIN|SUB`, Hikvision
style `stream`). `StreamDialects.effective` says which dialect a device has and where it
comes from: the device's own setting (stored by the platform) before a configured
per-device exception before the configured default. Pure: no I/O.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.sip.sdp import StreamStyle
from farmwatch.sipserver.sip.sdp_build import StreamSelection

__all__ = [
    "OUR_GB_VERSION",
    "DialectSource",
    "Edition",
    "EffectiveDialect",
    "StreamDialect",
    "StreamDialects",
    "StreamNotSelectable",
    "default_charset",
    "edition_of",
    "parse_version",
    "stream_attribute",
]

OUR_GB_VERSION = "3.0"
"""What we answer in `X-GB-Ver`: GB/T 28181-2022."""

_VERSION_RE = re.compile(r"\s*v?([0-9]{1,3})(?:\.([0-9]{1,3}))?\s*", re.IGNORECASE)


class Edition(enum.IntEnum):
    """The edition whose message forms we use with a peer (ordered: lower is older)."""

    V2016 = 2016
    V2022 = 2022

    @property
    def has_2022_commands(self) -> bool:
        return self is Edition.V2022

    @property
    def label(self) -> str:
        return f"GB/T 28181-{self.value}"


def parse_version(text: str | None) -> tuple[int, int] | None:
    """`X-GB-Ver` as (major, minor): `3.0` → (3, 0); None when absent or unreadable."""
    if text is None:
        return None
    match = _VERSION_RE.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2) or 0)


def _edition(version: tuple[int, int] | None) -> Edition:
    return Edition.V2022 if version is not None and version >= (3, 0) else Edition.V2016


def edition_of(peer: str | None, ours: str = OUR_GB_VERSION) -> Edition:
    """The lower of the two editions; a peer without (or with an unreadable) `X-GB-Ver` is
    a 2016 one."""
    return min(_edition(parse_version(peer)), _edition(parse_version(ours)))


def default_charset(edition: Edition) -> ManscdpCharset:
    """GB 18030 for 2022 peers (2022 §6.10 "shall"), GB 2312 for 2016 ones."""
    return ManscdpCharset.GB18030 if edition is Edition.V2022 else ManscdpCharset.GB2312


class StreamDialect(enum.StrEnum):
    """How a device is asked for its main or sub stream in the live offer."""

    AUTO = "auto"
    """`streamnumber` to a 2022 device, nothing to a 2016 one (it has no standard form)."""
    STREAMNUMBER = "streamnumber"
    STREAMPROFILE = "streamprofile"
    STREAM_MODE = "streamMode"
    STREAM = "stream"
    NONE = "none"
    """Never written: the device streams what it streams (only its main stream asked)."""

    @classmethod
    def from_text(cls, text: str) -> StreamDialect:
        lower = text.strip().lower()
        for member in cls:
            if member.value.lower() == lower:
                return member
        raise ValueError(f"expected one of {', '.join(m.value for m in cls)}, got {text.strip()!r}")


_STYLES = {
    StreamDialect.STREAMNUMBER: StreamStyle.STREAMNUMBER,
    StreamDialect.STREAMPROFILE: StreamStyle.STREAMPROFILE,
    StreamDialect.STREAM_MODE: StreamStyle.STREAM_MODE,
    StreamDialect.STREAM: StreamStyle.STREAM,
}


class StreamNotSelectable(ValueError):
    """A sub-stream asked of a device we have no way to ask it of (a 2016 device without a
    vendor dialect, or the dialect `none`)."""


def stream_attribute(
    number: int, dialect: StreamDialect, edition: Edition
) -> StreamSelection | None:
    """The offer's stream selection for stream `number` (0 main, 1 sub...), or None when the
    offer carries none (the main stream of a device we may not write it to).

    `streamMode` knows only MAIN and SUB: stream 2 and above cannot be asked that way.
    """
    if number < 0:
        raise StreamNotSelectable(f"stream {number}: expected 0 (main) or more")
    style = _STYLES.get(dialect)
    if dialect is StreamDialect.AUTO and edition is Edition.V2022:
        style = StreamStyle.STREAMNUMBER
    if style is None:
        if number == 0:
            return None
        why = (
            "its stream dialect is none"
            if dialect is StreamDialect.NONE
            else f"it speaks {edition.label}, which has no stream selection (a vendor "
            "dialect can be set for the device)"
        )
        raise StreamNotSelectable(f"stream {number} cannot be asked of this device: {why}")
    if style is StreamStyle.STREAM_MODE and number > 1:
        raise StreamNotSelectable(f"stream {number}: streamMode knows only MAIN and SUB")
    return StreamSelection(number, style)


class DialectSource(enum.StrEnum):
    """Where a device's stream dialect comes from, first match wins."""

    DEVICE = "device"
    """The device's own setting (an administrator's, stored with the device)."""
    CONFIGURATION = "configuration"
    """A per-device exception of the configuration (`[live] stream_dialects`)."""
    DEFAULT = "default"
    """The configuration's dialect for every device (`[live] stream_dialect`)."""


@dataclass(frozen=True, slots=True)
class EffectiveDialect:
    """The dialect a device is asked in, and why."""

    dialect: StreamDialect
    source: DialectSource


@dataclass(frozen=True, slots=True)
class StreamDialects:
    """The global dialect and per-device exceptions (`[live] stream_dialect(s)`)."""

    default: StreamDialect = StreamDialect.AUTO
    devices: tuple[tuple[str, StreamDialect], ...] = ()

    @classmethod
    def from_settings(cls, default: str, entries: tuple[str, ...]) -> StreamDialects:
        """`entries` are `<device ID>=<dialect>`; `ValueError` names a bad one."""
        devices = []
        for entry in entries:
            device_id, sep, dialect = entry.partition("=")
            if not sep or not device_id.strip():
                raise ValueError(f"expected <device ID>=<dialect>, got {entry!r}")
            devices.append((device_id.strip(), StreamDialect.from_text(dialect)))
        return cls(StreamDialect.from_text(default), tuple(devices))

    def for_device(self, device_id: str) -> StreamDialect:
        return self.effective(device_id).dialect

    def effective(
        self, device_id: str, device_setting: StreamDialect | None = None
    ) -> EffectiveDialect:
        """The device's dialect: its own setting when it has one (set while the platform
        runs, so it must win over a file written before), else the configuration's entry
        for it, else the configuration's default."""
        if device_setting is not None:
            return EffectiveDialect(device_setting, DialectSource.DEVICE)
        configured = next((d for known, d in self.devices if known == device_id), None)
        if configured is not None:
            return EffectiveDialect(configured, DialectSource.CONFIGURATION)
        return EffectiveDialect(self.default, DialectSource.DEFAULT)
