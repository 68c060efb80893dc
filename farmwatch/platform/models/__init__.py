"""SQLAlchemy models of the platform, one module per aggregate; used only by repositories.

The metadata of `Base` is the target of the migrations in `farmwatch.platform.migrations`.
"""

from __future__ import annotations

from farmwatch.platform.models.access import (
    ApiTokenRow,
    FarmDeviceRow,
    FarmRow,
    LoginSessionRow,
    MediaOwnerRow,
    OrganisationRow,
    TokenGrantRow,
    UserGrantRow,
    UserRow,
)
from farmwatch.platform.models.alarm import AlarmRow
from farmwatch.platform.models.audit import AuditChainHeadRow, AuditRow
from farmwatch.platform.models.base import Base, UtcDateTime
from farmwatch.platform.models.channel import ChannelRow
from farmwatch.platform.models.device import DEFAULT_CHARSET, DeviceRow
from farmwatch.platform.models.device_snapshot import DeviceSnapshotRow
from farmwatch.platform.models.placement import CameraPlacementRow, UpperShareRow
from farmwatch.platform.models.position import DevicePositionRow
from farmwatch.platform.models.recording import (
    DownloadTaskRow,
    EvidenceClipRow,
    RecordingSegmentRow,
    RecordPlanRow,
)

__all__ = [
    "DEFAULT_CHARSET",
    "AlarmRow",
    "ApiTokenRow",
    "AuditChainHeadRow",
    "AuditRow",
    "Base",
    "CameraPlacementRow",
    "ChannelRow",
    "DevicePositionRow",
    "DeviceRow",
    "DeviceSnapshotRow",
    "DownloadTaskRow",
    "EvidenceClipRow",
    "FarmDeviceRow",
    "FarmRow",
    "LoginSessionRow",
    "MediaOwnerRow",
    "OrganisationRow",
    "RecordPlanRow",
    "RecordingSegmentRow",
    "TokenGrantRow",
    "UpperShareRow",
    "UserGrantRow",
    "UserRow",
    "UtcDateTime",
]
