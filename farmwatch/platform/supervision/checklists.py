"""What a monitor checks on a camera of each key area (regulation art. 12–17; MISSION.md
"Checklists per key area"): one checklist per area, its points worded in the regulation's
own Chinese terms with an English rendering, each with a stable ID (`area.point`) that
monitoring records store, so that a rewording never changes what an old record answered.

Pure data and look-ups: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from farmwatch.platform.cameras.key_areas import KeyArea

__all__ = ["CHECKLISTS", "CheckPoint", "Checklist", "checklist_of"]


@dataclass(frozen=True, slots=True)
class CheckPoint:
    """One thing to check: `id` is `<area>.<point>` and never changes once records use it."""

    id: str
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class Checklist:
    """The points of one key area, in the regulation's order; `article` is where it says so."""

    area: KeyArea
    article: int
    points: tuple[CheckPoint, ...]

    @property
    def point_ids(self) -> tuple[str, ...]:
        return tuple(point.id for point in self.points)

    def point(self, point_id: str) -> CheckPoint | None:
        return next((point for point in self.points if point.id == point_id), None)


def _list(area: KeyArea, article: int, *points: tuple[str, str, str]) -> Checklist:
    return Checklist(
        area, article, tuple(CheckPoint(f"{area.value}.{key}", zh, en) for key, zh, en in points)
    )


_ALL = (
    _list(
        KeyArea.FARM_ENTRANCE, 12,
        ("channels_disinfected", "人流通道、物流通道已消毒",
         "People and goods channels are disinfected"),
        ("feed_from_approved_mill", "入场的饲料来自官方认可的饲料厂",
         "Feed arriving comes from an officially approved feed mill"),
        ("drugs_from_permitted_list", "入场的药品来自公司允许使用的药物名录",
         "Drugs arriving are on the company's permitted drug list"),
        ("no_outside_animals", "无外来畜禽", "No outside animals enter"),
    ),
    _list(
        KeyArea.DRUG_STORE, 13,
        ("permitted_list", "储存的药品来自公司允许使用的药物名录，并符合相关法律法规",
         "Stored drugs are on the company's permitted list and lawful"),
        ("labelled", "药库药品均有标识（品名、批次、成份）",
         "Every drug is labelled with name, batch and ingredients"),
    ),
    _list(
        KeyArea.FEED_STORE, 14,
        ("approved_source", "储存的饲料来自官方认可的饲料厂或公司自配饲料",
         "Stored feed comes from an approved mill or the company's own mix"),
        ("labelled", "饲料储存库均有标识（品名、批次）",
         "Every feed is labelled with name and batch"),
    ),
    _list(
        KeyArea.DRUG_PREPARATION, 15,
        ("permitted_list", "饲养员投放的药品来自公司允许使用的药物名录",
         "Drugs dispensed are on the company's permitted list"),
        ("prepared_per_label", "饲养员按照药品说明书要求配置药品",
         "Drugs are prepared as the label instructs"),
    ),
    _list(
        KeyArea.FEEDING_POINT, 16,
        ("feed_from_approved_mill", "饲养员投放的饲料来自官方认可的饲料厂",
         "Feed given comes from an approved mill"),
        ("no_banned_drugs", "投料过程中未添加任何违禁药物",
         "No banned drug is added while feeding"),
    ),
    _list(
        KeyArea.ANIMAL_HOUSE, 17,
        ("patrolled_dead_removed", "定期巡查畜禽舍，及时清除死亡畜禽并进行无害化处理",
         "Regular patrols; dead animals removed at once and rendered harmless"),
        ("sick_isolated", "异常畜禽已隔离观察", "Sick animals are isolated and observed"),
        ("spray_disinfected", "定期对畜禽舍进行喷雾消毒", "Regular spray disinfection"),
    ),
)  # fmt: skip

CHECKLISTS: Mapping[KeyArea, Checklist] = MappingProxyType({c.area: c for c in _ALL})
"""The checklist of each of the six key areas, in the regulation's order."""


def checklist_of(area: KeyArea) -> Checklist:
    return CHECKLISTS[area]
