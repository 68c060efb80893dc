"""The catalog shown to an upper: the tree kept, parents first, shares honoured, IDs unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

from farmwatch.platform.catalog_tree import CatalogLink, resolve_tree_parents
from farmwatch.platform.records import ChannelData, ChannelRecord, DeviceRecord, ItemKind
from farmwatch.platform.sharing.catalog_export import SystemItem, export_catalog
from farmwatch.platform.sharing.farm_placements import FarmPlacement
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.sipserver.gb.catalog_item import ChannelStatus

AT = datetime(2026, 1, 1, tzinfo=UTC)
SYSTEM = SystemItem(platform_id="44010000002000000001", name="branch", civil_code="440100")
NVR = "44010000001180000001"
IPC = "44010000001320000009"
GROUP = "44010000002150000001"
ORG = "44010000002160000001"
CAM_A = "44010000001310000001"
CAM_B = "44010000001310000002"
CAM_IPC = "44010000001310000009"


def _device(device_id: str, online: bool = True) -> DeviceRecord:
    return DeviceRecord(
        device_id=device_id, name=f"dev {device_id[-2:]}", manufacturer="Hik", model="NVR",
        firmware=None, transport=None, remote_host=None, remote_port=None, contact_uri=None,
        expires=None, registered_at=None, last_register_at=None, last_keepalive_at=None,
        is_online=online, offline_reason=None, gb_version=None, charset="GB2312",
        password=None, is_enrolled=False, channel_count=None, catalog_sum_num=None,
        catalog_updated_at=None, catalog_received=None, is_catalog_complete=True,
        created_at=AT, updated_at=AT,
    )  # fmt: skip


def _records(device_id: str, items: list[ChannelData], offline: set[str]) -> list[ChannelRecord]:
    parents = resolve_tree_parents(
        device_id, [CatalogLink(i.channel_id, i.parent_id, i.business_group_id) for i in items]
    )
    return [
        ChannelRecord(
            device_id=device_id,
            data=item,
            kind=ItemKind.of(item.channel_id),
            tree_parent_id=parents[item.channel_id],
            is_online=item.channel_id not in offline,
            created_at=AT,
            updated_at=AT,
        )
        for item in items
    ]


def _nvr_records() -> list[ChannelRecord]:
    items = [
        ChannelData(CAM_B, name="pen 2", parent_id=f"{NVR}/{ORG}", ptz_type=1, status="ON"),
        ChannelData(ORG, name="barn 1", business_group_id=GROUP),
        ChannelData(CAM_A, name="pen 1", parent_id=ORG),
        ChannelData(GROUP, name="farm", parent_id=NVR),
    ]
    return _records(NVR, items, offline={CAM_A})


def test_the_tree_arrives_parents_first_with_its_parents_as_sent() -> None:
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate")], offline=set())
    items = export_catalog(
        SYSTEM, [_device(NVR), _device(IPC, online=False)], _nvr_records() + ipc, ShareRule()
    )
    ids = [item.device_id for item in items]
    assert ids[0] == SYSTEM.platform_id
    for item in items[1:]:
        for parent in item.parent_ids:
            assert ids.index(parent) < ids.index(item.device_id), item.device_id
    by_id = {item.device_id: item for item in items}
    assert by_id[NVR].parent_id == SYSTEM.platform_id  # each device under us
    assert by_id[CAM_B].parent_id == f"{NVR}/{ORG}"  # two parents kept as sent
    assert by_id[ORG].parent_id == GROUP and by_id[ORG].business_group_id == GROUP
    assert by_id[CAM_A].parent_id == ORG
    assert by_id[CAM_IPC].parent_id == IPC
    assert by_id[CAM_B].ptz_type == 1  # fields an upper needs for PTZ
    assert len(ids) == len(set(ids)) == 1 + 2 + 4 + 1


def test_status_is_what_the_platform_knows_now() -> None:
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate", status="ON")], offline={CAM_IPC})
    items = export_catalog(
        SYSTEM, [_device(NVR), _device(IPC, online=False)], _nvr_records() + ipc, ShareRule()
    )
    by_id = {item.device_id: item for item in items}
    assert by_id[CAM_A].status is ChannelStatus.OFF
    assert by_id[CAM_B].status is ChannelStatus.ON
    assert by_id[CAM_IPC].status is ChannelStatus.OFF  # not the stale ON of its catalog
    assert by_id[IPC].status is ChannelStatus.OFF
    assert by_id[GROUP].status is None  # groups have no status


def test_a_selected_share_exports_only_its_devices_and_channels() -> None:
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate")], offline=set())
    rule = ShareRule(share_all=False, channels=frozenset({CAM_IPC}))
    items = export_catalog(SYSTEM, [_device(NVR), _device(IPC)], _nvr_records() + ipc, rule)
    assert [item.device_id for item in items] == [SYSTEM.platform_id, IPC, CAM_IPC]
    rule = ShareRule(share_all=False, devices=frozenset({NVR}))
    items = export_catalog(SYSTEM, [_device(NVR), _device(IPC)], _nvr_records() + ipc, rule)
    assert {item.device_id for item in items} == {SYSTEM.platform_id, NVR, GROUP, ORG, CAM_A, CAM_B}


def test_a_lower_platform_listing_itself_is_not_listed_twice() -> None:
    lower = "44010100002000000001"
    cam = "44010100001310000001"
    records = _records(
        lower, [ChannelData(lower, name="farm platform"), ChannelData(cam, parent_id=lower)], set()
    )
    items = export_catalog(SYSTEM, [_device(lower)], records, ShareRule())
    assert [item.device_id for item in items] == [SYSTEM.platform_id, lower, cam]
    assert items[1].parent_id == SYSTEM.platform_id and items[2].parent_id == lower


def test_nothing_shared_is_our_system_item_alone() -> None:
    items = export_catalog(SYSTEM, [_device(NVR)], _nvr_records(), ShareRule(share_all=False))
    assert [item.device_id for item in items] == [SYSTEM.platform_id]


def test_farms_become_virtual_organisations_in_one_business_group() -> None:
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate")], offline=set())
    farms = [
        FarmPlacement(3, "一号猪场", "QZ-003", frozenset({NVR})),
        FarmPlacement(9, "empty farm", "QZ-009", frozenset({"44010000001180000099"})),
    ]
    items = export_catalog(
        SYSTEM, [_device(NVR), _device(IPC)], _nvr_records() + ipc, ShareRule(), farms
    )
    by_id = {item.device_id: item for item in items}
    group, farm = "44010000002159999999", "44010000002169000003"
    assert by_id[group].parent_id == SYSTEM.platform_id
    assert (by_id[farm].name, by_id[farm].parent_id, by_id[farm].business_group_id) == (
        "一号猪场", group, group,
    )  # fmt: skip
    assert by_id[NVR].parent_id == farm  # the device on its farm
    assert by_id[IPC].parent_id == SYSTEM.platform_id  # on no farm: under us
    assert "44010000002169000009" not in by_id  # a farm with nothing shared is not shown
    ids = [item.device_id for item in items]
    assert ids.index(group) < ids.index(farm) < ids.index(NVR) < ids.index(CAM_A)


def test_a_share_of_farms_shares_the_devices_placed_on_them() -> None:
    from farmwatch.platform.sharing.sharing_service import _on_farms

    farms = [FarmPlacement(3, "一号猪场", "QZ-003", frozenset({NVR}))]
    rule = _on_farms(ShareRule(share_all=False, farms=frozenset({"QZ-003"})), farms)
    ipc = _records(IPC, [ChannelData(CAM_IPC, name="gate")], offline=set())
    items = export_catalog(SYSTEM, [_device(NVR), _device(IPC)], _nvr_records() + ipc, rule, farms)
    ids = {item.device_id for item in items}
    assert {NVR, CAM_A, CAM_B} <= ids and not {IPC, CAM_IPC} & ids
    assert _on_farms(ShareRule(share_all=False, farms=frozenset({"other"})), farms).devices == set()
