"""Each camera's key area and location number (`PlacementRepository`), on SQLite and
PostgreSQL: set, replaced, cleared, read back by channel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from farmwatch.platform.cameras import CameraPlace, KeyArea, PlacementRepository
from farmwatch.platform.cameras.camera_tree import location_of
from farmwatch.platform.db import Database
from farmwatch.platform.errors import InvalidInput

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
CAMERA_1, CAMERA_2 = "34020000001310000001", "34020000001310000002"


async def test_places_are_set_replaced_and_cleared(database: Database) -> None:
    places = PlacementRepository(database.sessions)
    assert await places.places() == {}
    await places.set_place(CameraPlace(CAMERA_1, KeyArea.ANIMAL_HOUSE, "舍-03"), at=AT)
    await places.set_place(CameraPlace(CAMERA_2, None, "7"), at=AT)
    await places.set_place(CameraPlace(CAMERA_1, KeyArea.FEED_STORE, "料-1"), at=AT)
    assert await places.places([CAMERA_1]) == {
        CAMERA_1: CameraPlace(CAMERA_1, KeyArea.FEED_STORE, "料-1")
    }
    assert (await places.places())[CAMERA_2] == CameraPlace(CAMERA_2, None, "7")
    await places.set_place(CameraPlace(CAMERA_2, None, None), at=AT)
    assert set(await places.places()) == {CAMERA_1}


def test_key_areas_carry_the_regulations_terms() -> None:
    assert [area.label_zh for area in KeyArea] == [
        "场区", "药库", "料库", "药品配置间", "饲料投放处", "畜禽舍",
    ]  # fmt: skip
    assert KeyArea("animal_house").label_en == "Animal house"


def test_a_location_number_is_short_printable_text() -> None:
    assert location_of("  A-03 ") == "A-03"
    assert location_of("   ") is None and location_of(None) is None
    for bad in ("x" * 65, "a\nb"):
        with pytest.raises(InvalidInput):
            location_of(bad)
