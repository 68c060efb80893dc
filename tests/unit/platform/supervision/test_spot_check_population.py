"""Whose farm a camera is on, as a spot check's population sees it, and the period report's
sums: pure, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from farmwatch.platform.records import ChannelData, ChannelRecord, ItemKind
from farmwatch.platform.supervision.monitoring_records import Answer, Outcome, PointAnswer
from farmwatch.platform.supervision.spot_checks.draw import MAX_WEIGHT
from farmwatch.platform.supervision.spot_checks.population import candidates, is_camera
from farmwatch.platform.supervision.spot_checks.records import ItemState, SpotCheck, SpotCheckItem
from farmwatch.platform.supervision.spot_checks.report import report_of

NOW = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
BUREAU = "44000000002000000001"
VO = "44000000002169000001"
NVR = "44000000001180000001"
CAM = "44000000001310000001"
ALARM = "44000000001340000001"
LOCAL_NVR, LOCAL_CAM = "34020000001180000001", "34020000001310000001"
LOOSE_IPC = "34020000001320000009"


def _item(device: str, item_id: str, parent: str, name: str | None = None) -> ChannelRecord:
    return ChannelRecord(
        device_id=device, data=ChannelData(item_id, name=name), kind=ItemKind.of(item_id),
        tree_parent_id=parent, is_online=True, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


RECORDS = [
    _item(BUREAU, "44000000002159000001", BUREAU, "出口养殖场"),
    _item(BUREAU, VO, "44000000002159000001", "江门一号猪场"),
    _item(BUREAU, NVR, VO, "NVR"),
    _item(BUREAU, CAM, NVR, "cam"),
    _item(BUREAU, ALARM, NVR, "door"),
    _item(LOCAL_NVR, LOCAL_CAM, LOCAL_NVR),
    _item(LOOSE_IPC, LOOSE_IPC, LOOSE_IPC),
]


def test_a_cameras_farm_is_the_local_register_else_the_lower_farm_else_its_device() -> None:
    found = candidates(RECORDS, None, {LOCAL_NVR: 7}, {7: "一号猪场"}, {}, NOW)
    farms = {c.channel_id: (c.farm_key, c.farm_name) for c in found}
    assert farms == {
        CAM: (VO, "江门一号猪场"),
        LOCAL_CAM: ("farm:7", "一号猪场"),
        LOOSE_IPC: (LOOSE_IPC, LOOSE_IPC),
    }
    assert all(c.weight == MAX_WEIGHT for c in found)


def test_visible_cameras_with_a_picture_weighted_by_their_farms_last_check() -> None:
    assert not is_camera(RECORDS[1]) and not is_camera(RECORDS[4]) and is_camera(RECORDS[3])
    last = {VO: NOW - timedelta(days=14)}
    found = candidates(RECORDS, frozenset({CAM, ALARM}), {}, {}, last, NOW)
    assert [(c.channel_id, c.weight) for c in found] == [(CAM, 3.0)]


def test_the_report_sums_per_farm_and_in_total() -> None:
    def item(position: int, farm: str, state: ItemState, *answers: Answer) -> SpotCheckItem:
        points = tuple(PointAnswer(f"p.{i}", a) for i, a in enumerate(answers))
        outcome = None
        if state is ItemState.RECORDED:
            bad = Answer.NOT_COMPLIANT in answers
            outcome = Outcome.NOT_COMPLIANT if bad else Outcome.COMPLIANT
        return SpotCheckItem(position, CAM, BUREAU, farm, f"name {farm}", 1.0, state, None,
                             points, "", outcome)  # fmt: skip

    check = SpotCheck(1, 1, "chief", None, NOW, 4, "0" * 16, "", None, (
        item(1, "a", ItemState.RECORDED, Answer.NOT_COMPLIANT, Answer.NOT_COMPLIANT),
        item(2, "b", ItemState.RECORDED, Answer.COMPLIANT),
        item(3, "a", ItemState.UNPLAYABLE),
        item(4, "b", ItemState.PENDING),
    ))  # fmt: skip
    report = report_of([check, check], None, None)
    assert report.checks == 2
    total = report.total
    assert (total.drawn, total.recorded, total.unplayable, total.pending) == (8, 4, 2, 2)
    assert (total.not_compliant, total.not_compliant_points) == (2, 4)
    a, b = report.farms
    assert (a.farm_key, a.drawn, a.unplayable, a.not_compliant_points) == ("a", 4, 2, 4)
    assert (b.farm_key, b.recorded, b.pending, b.not_compliant) == ("b", 2, 2, 0)
