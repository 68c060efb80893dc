"""How monitoring records, checklists and the supervision schedule are written for the API:
JSON views, the CSV export (UTF-8 with a BOM, so that Excel reads the Chinese; one row per
checklist point) and the printable page (Chinese, with signature lines; regulation art. 18
"作好相应的工作记录", art. 21 records kept for review).

Times are written as local times of the platform's zone without an offset, as everywhere in
the API.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from farmwatch.platform.access import Farm
from farmwatch.platform.supervision.checklists import CHECKLISTS, Checklist, checklist_of
from farmwatch.platform.supervision.monitoring_records import MonitoringRecord
from farmwatch.platform.supervision.schedule import FarmDue

__all__ = [
    "checklist_view",
    "checklists_view",
    "due_view",
    "records_csv",
    "records_print_page",
    "record_view",
]


def _local(moment: datetime | None, zone: ZoneInfo) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


def checklist_view(checklist: Checklist) -> dict[str, Any]:
    return {
        "key_area": checklist.area.value,
        "key_area_zh": checklist.area.label_zh,
        "key_area_en": checklist.area.label_en,
        "article": checklist.article,
        "points": [
            {"id": p.id, "text_zh": p.text_zh, "text_en": p.text_en} for p in checklist.points
        ],
    }


def checklists_view() -> dict[str, Any]:
    return {"checklists": [checklist_view(checklist) for checklist in CHECKLISTS.values()]}


def record_view(record: MonitoringRecord, zone: ZoneInfo) -> dict[str, Any]:
    checklist = checklist_of(record.key_area)
    signature = record.signature
    sha256 = record.snapshot.sha256
    return {
        "id": record.id,
        "channel_id": record.channel_id,
        "device_id": record.device_id,
        "farm_id": record.farm_id,
        "organisation_id": record.organisation_id,
        "key_area": record.key_area.value,
        "key_area_zh": record.key_area.label_zh,
        "mode": record.mode.value,
        "recorded_at": _local(record.recorded_at, zone),
        "answers": [
            {
                "point": answer.point_id,
                "text_zh": point.text_zh if (point := checklist.point(answer.point_id)) else "",
                "answer": answer.answer.value,
                "remark": answer.remark,
            }
            for answer in record.answers
        ],
        "remark": record.remark,
        "outcome": record.outcome.value,
        "snapshot": None if sha256 is None else {
            "sha256": sha256, "url": f"/api/monitoring-records/{record.id}/snapshot.jpg",
        },
        "snapshot_missing": record.snapshot.missing_reason,
        "signed_by": {
            "user_id": signature.user_id, "username": signature.username,
            "display_name": signature.display_name,
        },
        "signed_at": _local(signature.signed_at, zone),
        "corrects_id": record.corrects_id,
    }  # fmt: skip


def due_view(due: FarmDue, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "farm_id": due.farm.id,
        "farm_name": due.farm.name,
        "filing_number": due.farm.filing_number,
        "organisation_id": due.farm.organisation_id,
        "days": due.days,
        "last_record_at": _local(due.last_record_at, zone),
        "due_at": _local(due.due_at, zone),
        "overdue": due.overdue,
    }


CSV_HEADER = (
    "记录编号", "养殖场", "备案编号", "摄像机编号", "设备编号", "重点区域", "监控方式",
    "监控时间", "检查项编号", "检查项", "检查结果", "检查项备注", "总体结论", "总体备注",
    "截图SHA-256", "截图缺失原因", "监控人员", "账号", "签名时间", "更正记录编号",
)  # fmt: skip
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A remark starting like a formula would run as one in Excel (CSV injection).
    return f"'{text}" if text.startswith(_FORMULA_START) else text


def records_csv(
    records: Iterable[MonitoringRecord], farms: Mapping[int, Farm], zone: ZoneInfo
) -> bytes:
    """One row per checklist point of each record, UTF-8 with a BOM."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for record in records:
        farm = farms.get(record.farm_id)
        checklist = checklist_of(record.key_area)
        for answer in record.answers:
            point = checklist.point(answer.point_id)
            writer.writerow([_cell(value) for value in (
                record.id, farm.name if farm else record.farm_id,
                farm.filing_number if farm else "", record.channel_id, record.device_id,
                record.key_area.label_zh, record.mode.label_zh,
                _local(record.recorded_at, zone), answer.point_id,
                point.text_zh if point else "", answer.answer.label_zh, answer.remark,
                record.outcome.label_zh, record.remark, record.snapshot.sha256,
                record.snapshot.missing_reason, record.signature.display_name,
                record.signature.username, _local(record.signature.signed_at, zone),
                record.corrects_id,
            )])  # fmt: skip
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


_PRINT_STYLE = """
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", sans-serif; margin: 2em; }
h1 { font-size: 1.4em; text-align: center; }
section { page-break-inside: avoid; border-top: 2px solid #333; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin: .5em 0; }
th, td { border: 1px solid #666; padding: .3em .5em; text-align: left; vertical-align: top; }
.meta td { border: none; padding: .15em .5em; }
.sign { margin-top: 1em; display: flex; gap: 3em; }
.sign span { border-bottom: 1px solid #000; display: inline-block; min-width: 10em; }
@media print { body { margin: 0; } .no-print { display: none; } }
"""


def _record_section(record: MonitoringRecord, farm: Farm | None, zone: ZoneInfo) -> str:
    checklist = checklist_of(record.key_area)
    e = escape
    farm_text = f"{farm.name}（备案编号 {farm.filing_number}）" if farm else str(record.farm_id)
    snapshot = (
        f"SHA-256 {record.snapshot.sha256}"
        if record.snapshot.sha256
        else f"无（{record.snapshot.missing_reason or ''}）"
    )
    rows = "".join(
        f"<tr><td>{e(point.text_zh if point else answer.point_id)}</td>"
        f"<td>{e(answer.answer.label_zh)}</td><td>{e(answer.remark)}</td></tr>"
        for answer in record.answers
        for point in (checklist.point(answer.point_id),)
    )
    corrects = f"<tr><td>更正记录</td><td>第 {record.corrects_id} 号</td></tr>" if (
        record.corrects_id is not None
    ) else ""  # fmt: skip
    return f"""<section>
<h2>监控记录 第 {record.id} 号</h2>
<table class="meta">
<tr><td>养殖场</td><td>{e(farm_text)}</td></tr>
<tr><td>重点区域</td><td>{e(record.key_area.label_zh)}（第{checklist.article}条）</td></tr>
<tr><td>摄像机</td><td>{e(record.channel_id)}（设备 {e(record.device_id)}）</td></tr>
<tr><td>监控方式</td><td>{e(record.mode.label_zh)}</td></tr>
<tr><td>监控时间</td><td>{e(_local(record.recorded_at, zone) or "")}</td></tr>
<tr><td>截图</td><td>{e(snapshot)}</td></tr>{corrects}
</table>
<table><tr><th>检查项</th><th>检查结果</th><th>备注</th></tr>{rows}</table>
<p>总体结论：{e(record.outcome.label_zh)}　总体备注：{e(record.remark)}</p>
<p>电子签名：{e(record.signature.display_name)}（{e(record.signature.username)}）
{e(_local(record.signature.signed_at, zone) or "")}</p>
<div class="sign"><div>监控人员签字：<span></span></div><div>审核人签字：<span></span></div>
<div>日期：<span></span></div></div>
</section>"""


def records_print_page(
    records: list[MonitoringRecord], farms: Mapping[int, Farm], zone: ZoneInfo, now: datetime
) -> str:
    sections = "\n".join(_record_section(r, farms.get(r.farm_id), zone) for r in records)
    if not records:
        sections = "<p>没有符合条件的监控记录。</p>"
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>视频监控工作记录</title>
<style>{_PRINT_STYLE}</style></head>
<body><h1>出口畜禽备案养殖场视频监控工作记录</h1>
<p>共 {len(records)} 份记录；打印时间 {escape(_local(now, zone) or "")}</p>
{sections}
</body></html>"""
