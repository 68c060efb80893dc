"""[2022] What a camera keeps, over HTTP (gb28181.md §4.14; issue 12 "2022 specifics").

Cameras (signed-in users with the camera's grant): `GET /api/channels/{id}/home-position`
(HomePositionQuery), `GET /api/channels/{id}/cruise-tracks` (CruiseTrackListQuery) and
`GET /api/channels/{id}/cruise-tracks/{number}` (CruiseTrackQuery, `number` 0-255 as the
list gives it). Devices (who may see the device): `GET /api/devices/{id}/sd-cards`
(SDCardStatus). A 2016 device, or one that takes the query and never answers it, is a 501;
one that does not take it in `registrar.control_timeout` a 504; an ERROR answer a 502 with
the device's reason. What the device did not say is null.
"""

from __future__ import annotations

import re

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.services.device_state_queries import MAX_TRACK_NUMBER, SdCard
from farmwatch.web.keys import DEVICE_CONTROL, DEVICE_SERVICE

__all__ = ["routes"]

routes = web.RouteTableDef()

_NUMBER = re.compile(r"[0-9]{1,3}")


@routes.get("/channels/{channel_id}/home-position")
async def home_position(request: web.Request) -> web.Response:
    channel_id = request.match_info["channel_id"]
    found = await request.app[DEVICE_CONTROL].queries.home_position(channel_id)
    home = found.home
    return web.json_response(
        {"channel_id": channel_id,
         "enabled": None if home is None else home.enabled,
         "reset_time": None if home is None else home.reset_time,
         "preset_index": None if home is None else home.preset_index}
    )  # fmt: skip


@routes.get("/channels/{channel_id}/cruise-tracks")
async def cruise_tracks(request: web.Request) -> web.Response:
    channel_id = request.match_info["channel_id"]
    found = await request.app[DEVICE_CONTROL].queries.cruise_tracks(channel_id)
    return web.json_response(
        {"channel_id": channel_id, "sum_num": found.sum_num,
         "tracks": [{"number": track.number, "name": track.name} for track in found.tracks]}
    )  # fmt: skip


def _track_number(text: str) -> int:
    if not _NUMBER.fullmatch(text) or int(text) > MAX_TRACK_NUMBER:
        raise InvalidInput(f"number: expected an integer 0..{MAX_TRACK_NUMBER}")
    return int(text)


@routes.get("/channels/{channel_id}/cruise-tracks/{number}")
async def cruise_track(request: web.Request) -> web.Response:
    channel_id = request.match_info["channel_id"]
    number = _track_number(request.match_info["number"])
    found = await request.app[DEVICE_CONTROL].queries.cruise_track(channel_id, number)
    return web.json_response(
        {"channel_id": channel_id, "number": found.number, "name": found.name,
         "points": [{"preset_index": point.preset_index, "stay_time": point.stay_time,
                     "speed": point.speed} for point in found.points]}
    )  # fmt: skip


def _card(card: SdCard) -> dict[str, object]:
    return {
        "id": card.card_id,
        "name": card.name,
        "status": card.status.value if card.status is not None else card.status_raw,
        "format_progress": card.format_progress,
        "capacity_mb": card.capacity_mb,
        "free_mb": card.free_mb,
    }


@routes.get("/devices/{device_id}/sd-cards")
async def sd_cards(request: web.Request) -> web.Response:
    device_id = request.match_info["device_id"]
    await request.app[DEVICE_SERVICE].get_device(device_id)  # 404 for a device never known
    found = await request.app[DEVICE_CONTROL].queries.sd_cards(device_id)
    return web.json_response(
        {"device_id": device_id, "sum_num": found.sum_num,
         "cards": [_card(card) for card in found.cards]}
    )  # fmt: skip
