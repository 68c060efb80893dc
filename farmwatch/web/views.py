"""Records → JSON-ready dicts for the API (the only place the API's shapes are written)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from farmwatch.platform.records import ChannelNode, ChannelRecord, DeviceRecord
from farmwatch.platform.services.device_service import (
    CatalogProgress,
    DeviceLanguage,
    DeviceStatus,
    DialectSource,
)
from farmwatch.platform.sharing.upper_shares import EffectiveShare
from farmwatch.platform.uppers import UpperLinkStatus


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def device_view(record: DeviceRecord, language: DeviceLanguage) -> dict[str, Any]:
    """A device; `language`: its edition and stream dialect (`DeviceService.language_of`)."""
    dialect = language.stream_dialect
    return {
        "device_id": record.device_id,
        "name": record.name,
        "manufacturer": record.manufacturer,
        "model": record.model,
        "firmware": record.firmware,
        "online": record.is_online,
        "offline_reason": record.offline_reason.value if record.offline_reason else None,
        "transport": record.transport.value if record.transport else None,
        "address": (
            f"{record.remote_host}:{record.remote_port}" if record.remote_host is not None else None
        ),
        "registered_at": _time(record.registered_at),
        "last_register_at": _time(record.last_register_at),
        "last_keepalive_at": _time(record.last_keepalive_at),
        "expires": record.expires,
        "gb_version": record.gb_version,
        "gb_edition": language.edition.value,
        "stream_dialect": {
            "dialect": dialect.dialect.value,
            "source": dialect.source.value,
            "setting": dialect.dialect.value if dialect.source is DialectSource.DEVICE else None,
        },
        "charset": record.charset,
        "enrolled": record.is_enrolled,
        "channel_count": record.channel_count,
        "catalog_sum_num": record.catalog_sum_num,
        "catalog_received": record.catalog_received,
        "catalog_complete": record.is_catalog_complete,
        "catalog_updated_at": _time(record.catalog_updated_at),
    }


def channel_view(record: ChannelRecord) -> dict[str, Any]:
    data = asdict(record.data)
    data.pop("password", None)  # never leaves the platform
    data["extra"] = dict(record.data.extra)
    return {
        **data,
        "device_id": record.device_id,
        "kind": record.kind.value,
        "parent": record.tree_parent_id,
        "online": record.is_online,
    }


def tree_view(nodes: tuple[ChannelNode, ...]) -> list[dict[str, Any]]:
    return [{**channel_view(node.record), "children": tree_view(node.children)} for node in nodes]


def progress_view(progress: CatalogProgress) -> dict[str, Any]:
    return {
        "device_id": progress.device_id,
        "state": progress.state,
        "received": progress.received,
        "expected": progress.expected,
    }


def status_view(status: DeviceStatus) -> dict[str, Any]:
    view = asdict(status)
    view["alarms"] = [
        {"device_id": device_id, "duty_status": duty} for device_id, duty in status.alarms
    ]
    return view


def share_view(share: EffectiveShare) -> dict[str, Any]:
    """What an upper may see, and where that comes from (`config` or `database`)."""
    rule = share.rule
    return {
        "share": "all" if rule.share_all else "selected",
        "farms": sorted(rule.farms),
        "devices": sorted(rule.devices),
        "channels": sorted(rule.channels),
        "source": share.source.value,
        "updated_at": _time(share.updated_at),
        "updated_by": share.updated_by,
    }


def upper_view(status: UpperLinkStatus, share: EffectiveShare | None = None) -> dict[str, Any]:
    return {
        "name": status.name,
        "upper_id": status.upper_id,
        "local_id": status.local_id,
        "address": f"{status.transport}:{status.host}:{status.port}",
        "state": status.state,
        "registered": status.registered,
        "last_registered_at": _time(status.last_registered_at),
        "last_keepalive_at": _time(status.last_keepalive_at),
        "keepalives_sent": status.keepalives_sent,
        "keepalives_answered": status.keepalives_answered,
        "registrations": status.registrations,
        "failures": status.failures,
        "last_error": status.last_error,
        "catalog_pushes": status.catalog_pushes,
        "subscribed": status.subscribed,
        "notifies_sent": status.notifies_sent,
        "calls": status.calls,
        "alarms_forwarded": status.alarms_forwarded,
        "controls_forwarded": status.controls_forwarded,
        "controls_refused": status.controls_refused,
        "broadcasts": status.broadcasts,
        "share": None if share is None else share_view(share),
    }
