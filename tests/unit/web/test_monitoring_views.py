"""How monitoring records are written out: the CSV (BOM, one row per point, formulas
defused) and the printable page (every text escaped, signature lines)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from farmwatch.platform.access.records import Farm
from farmwatch.platform.cameras.key_areas import KeyArea
from farmwatch.platform.supervision.monitoring_records import (
    Answer,
    MonitoringRecord,
    Outcome,
    PointAnswer,
    Signature,
    Snapshot,
    ViewMode,
)
from farmwatch.web.monitoring_views import CSV_HEADER, record_view, records_csv, records_print_page

ZONE = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
FARM = Farm(7, "一号<猪>场", "GZ-0001", 3, AT)
RECORD = MonitoringRecord(
    id=41, channel_id="34020000001310000001", device_id="34020000001180000001", farm_id=7,
    organisation_id=3, key_area=KeyArea.FEEDING_POINT, mode=ViewMode.PLAYBACK, recorded_at=AT,
    answers=(
        PointAnswer("feeding_point.feed_from_approved_mill", Answer.COMPLIANT),
        PointAnswer("feeding_point.no_banned_drugs", Answer.NOT_VISIBLE, '=HYPERLINK("x")'),
    ),
    remark="<script>alert(1)</script>", outcome=Outcome.NOT_VISIBLE,
    snapshot=Snapshot(None, "no keyframe"),
    signature=Signature(5, "mon.li", "李<b>监控</b>", AT), corrects_id=40,
)  # fmt: skip


def test_the_csv_has_a_bom_and_a_row_per_point_with_formulas_defused() -> None:
    data = records_csv([RECORD], {7: FARM}, ZONE)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_HEADER and len(rows) == 3
    first, second = rows[1], rows[2]
    assert first[:3] == ["41", "一号<猪>场", "GZ-0001"]
    assert (first[5], first[6], first[7]) == ("饲料投放处", "回放", "2026-03-01T10:30:00")
    assert (first[10], second[10]) == ("符合", "无法看清")
    assert second[11] == '\'=HYPERLINK("x")'
    assert (second[12], second[15], second[19]) == ("无法看清", "no keyframe", "40")


def test_the_print_page_escapes_every_text_and_has_signature_lines() -> None:
    page = records_print_page([RECORD], {7: FARM}, ZONE, AT)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>" not in page and "一号&lt;猪&gt;场" in page
    assert "监控记录 第 41 号" in page and "第16条" in page and "更正记录" in page
    assert "监控人员签字" in page and "审核人签字" in page
    assert "2026-03-01T10:30:00" in page


def test_the_json_view_names_points_and_local_times() -> None:
    view = record_view(RECORD, ZONE)
    assert view["recorded_at"] == "2026-03-01T10:30:00" and view["snapshot"] is None
    assert view["answers"][1]["text_zh"] == "投料过程中未添加任何违禁药物"
    assert view["snapshot_missing"] == "no keyframe" and view["corrects_id"] == 40
