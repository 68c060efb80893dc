"""What a simulated channel has recorded, and how its playback misbehaves (gb28181.md §4.7, §7).

Owns `RecordSettings`, the `records` part of a simulated device's settings: the record index
every channel keeps (the last `days` days as files of `file_minutes` minutes, aligned to local
midnight in `time_zone`, with about `missing_fraction` of the files missing and one file a day
cut short), how many items each RecordInfo response MESSAGE carries, and `PlaybackQuirks`, the
field-observed misbehaviour of devices in playback and download (field-notes.md §1.3): Scale
acknowledged but ignored, INFO answered 400, no MediaStatus 121 at the end, one playback at a
time per channel (503 to the next), `a=filesize:-1`. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_TIME_ZONE", "PlaybackQuirks", "RecordSettings"]

DEFAULT_TIME_ZONE = "Asia/Shanghai"
"""GB/T 28181 times are Beijing time without an offset (gb28181.md §6.8)."""


@dataclass(frozen=True, slots=True)
class PlaybackQuirks:
    """Misbehaviour of a device's playback and download sessions; all off by default."""

    ignores_scale: bool = False
    """Answer a `Scale` INFO 200 but keep sending at the same speed (Hikvision NVRs, §1.3 #1-5)."""
    refuses_control: bool = False
    """Answer every MANSRTSP INFO `400 Bad Request` (§1.3 #3)."""
    omits_media_status: bool = False
    """Never send MediaStatus 121 at the end of a playback or download (§1.3 #10, WVP#712)."""
    one_playback_per_channel: bool = False
    """Refuse a Playback/Download INVITE with 503 while the channel has one (§1.3 #10)."""
    unknown_file_size: bool = False
    """Answer `a=filesize:-1` (Hikvision NCG, §1.3 #20), in every answer as the NCG does."""


@dataclass(frozen=True, slots=True)
class RecordSettings:
    """One device's recordings (every channel alike, each with its own gaps)."""

    days: int = 7
    """The index covers this many days back from now."""
    file_minutes: int = 60
    """Length of a record file; files start at local midnight + k × this."""
    time_zone: str = DEFAULT_TIME_ZONE
    """The device's zone (IANA name): RecordInfo times are local times in it."""
    missing_fraction: float = 0.05
    """Fraction of files missing (chosen per file from the channel ID and its start)."""
    items_per_message: int = 10
    """Items per Response/RecordInfo MESSAGE."""
    quirks: PlaybackQuirks = field(default_factory=PlaybackQuirks)

    def __post_init__(self) -> None:
        if not 1 <= self.days <= 366:
            raise ValueError(f"records.days: expected 1..366, got {self.days}")
        if not 1 <= self.file_minutes <= 1440:
            raise ValueError(f"records.file_minutes: expected 1..1440, got {self.file_minutes}")
        if not 0.0 <= self.missing_fraction < 1.0:
            raise ValueError(
                f"records.missing_fraction: expected 0 <= fraction < 1, got {self.missing_fraction}"
            )
        if self.items_per_message < 1:
            raise ValueError(
                f"records.items_per_message: expected >= 1, got {self.items_per_message}"
            )
        self.zone  # noqa: B018 - checks the zone name

    @property
    def zone(self) -> ZoneInfo:
        try:
            return ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"records.time_zone: unknown zone {self.time_zone!r}") from None
