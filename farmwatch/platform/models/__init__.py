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
from farmwatch.platform.models.anomaly import (
    AnomalyEvidenceRow,
    AnomalyFollowUpRow,
    AnomalyHistoryRow,
    AnomalyRow,
)
from farmwatch.platform.models.audit import AuditChainHeadRow, AuditRow
from farmwatch.platform.models.base import Base, UtcDateTime
from farmwatch.platform.models.channel import ChannelRow
from farmwatch.platform.models.device import DEFAULT_CHARSET, DeviceRow
from farmwatch.platform.models.device_snapshot import DeviceSnapshotRow
from farmwatch.platform.models.diagnosis import PictureSampleRow, PictureStateRow
from farmwatch.platform.models.farm_register import FarmDocumentRow, FarmStateChangeRow
from farmwatch.platform.models.fault import FaultTicketRow, FaultTransitionRow
from farmwatch.platform.models.monitoring import MonitoringRecordRow, OrganisationScheduleRow
from farmwatch.platform.models.placement import CameraPlacementRow, UpperShareRow
from farmwatch.platform.models.position import DevicePositionRow
from farmwatch.platform.models.recording import (
    DownloadTaskRow,
    EvidenceClipRow,
    RecordingSegmentRow,
    RecordPlanRow,
)
from farmwatch.platform.models.spot_check import SpotCheckItemRow, SpotCheckRow

__all__ = [
    "DEFAULT_CHARSET",
    "AlarmRow",
    "AnomalyEvidenceRow",
    "AnomalyFollowUpRow",
    "AnomalyHistoryRow",
    "AnomalyRow",
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
    "FarmDocumentRow",
    "FarmRow",
    "FarmStateChangeRow",
    "FaultTicketRow",
    "FaultTransitionRow",
    "LoginSessionRow",
    "MediaOwnerRow",
    "MonitoringRecordRow",
    "OrganisationRow",
    "OrganisationScheduleRow",
    "PictureSampleRow",
    "PictureStateRow",
    "RecordPlanRow",
    "RecordingSegmentRow",
    "SpotCheckItemRow",
    "SpotCheckRow",
    "TokenGrantRow",
    "UpperShareRow",
    "UserGrantRow",
    "UserRow",
    "UtcDateTime",
]
