"""[2022] What a camera keeps, asked of its device (GB/T 28181-2022 A.2.4 HomePositionQuery,
CruiseTrackListQuery, CruiseTrackQuery, SDCardStatus; gb28181.md §4.14; issue 12 "2022
specifics").

`DeviceStateQueries` asks a channel's guard position (看守位), its cruise tracks (巡航轨迹)
and the points of one, and a device's storage cards (存储卡), through `DeviceTalk.ask_2022`:
a 2016 device is a `NotSupported` (501) at once with nothing sent, a device that takes the
query and never answers it a `NotSupported` after `control_timeout` (then remembered for a
minute), one that does not take it a `DeviceTimeout` (504), an unknown channel a
`NotFound`, an offline device `DeviceOffline`. An answer with `Result` ERROR is a
`DeviceRefused` (502) with the device's reason. What the device did not say stays None.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from farmwatch.platform.errors import DeviceRefused
from farmwatch.platform.services.device_command_service import DeviceTalk
from farmwatch.sipserver.gb.device_state import (
    CruisePoint,
    CruiseTrackEntry,
    HomePosition,
    SdCard,
    SdCardState,
)
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    CruiseTrackListResponse,
    CruiseTrackResponse,
    HomePositionResponse,
    ResultCode,
    SdCardStatusResponse,
)
from farmwatch.sipserver.gb.manscdp_device_state import (
    MAX_TRACK_NUMBER,
    build_cruise_track_list_query,
    build_cruise_track_query,
    build_home_position_query,
    build_sd_card_status_query,
)

__all__ = [
    "MAX_TRACK_NUMBER",
    "CruisePoint",
    "CruiseTrack",
    "CruiseTrackEntry",
    "CruiseTracks",
    "DeviceStateQueries",
    "GuardPosition",
    "SdCard",
    "SdCardState",
    "SdCards",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class GuardPosition:
    """A channel's guard position (看守位); `home` None: the device said nothing of one."""

    channel_id: str
    home: HomePosition | None


@dataclass(frozen=True, slots=True)
class CruiseTracks:
    """A channel's cruise tracks; `sum_num` is how many the device says it has."""

    channel_id: str
    sum_num: int | None
    tracks: tuple[CruiseTrackEntry, ...]


@dataclass(frozen=True, slots=True)
class CruiseTrack:
    """One cruise track of a channel: the presets it passes, in order."""

    channel_id: str
    number: int
    name: str | None
    points: tuple[CruisePoint, ...]


@dataclass(frozen=True, slots=True)
class SdCards:
    """A device's storage cards."""

    device_id: str
    sum_num: int | None
    cards: tuple[SdCard, ...]


def _check(
    answer: HomePositionResponse
    | CruiseTrackListResponse
    | CruiseTrackResponse
    | SdCardStatusResponse,
    device_id: str,
    target_id: str,
    cmd_type: CmdType,
) -> None:
    if answer.result is ResultCode.ERROR:
        reason = f": {answer.reason}" if answer.reason else ""
        raise DeviceRefused(
            f"device {device_id} answered {cmd_type.value} for {target_id} with ERROR{reason}"
        )


class DeviceStateQueries:
    """The [2022] queries of what a camera keeps, one bounded question each."""

    def __init__(self, talk: DeviceTalk) -> None:
        self._talk = talk

    async def home_position(self, channel_id: str) -> GuardPosition:
        """HomePositionQuery: the guard position the channel keeps."""
        device_id = await self._talk.device_of(channel_id)
        answer: HomePositionResponse = await self._talk.ask_2022(
            device_id, channel_id, CmdType.HOME_POSITION_QUERY,
            lambda sn, charset: build_home_position_query(sn, channel_id, charset),
            "its guard position",
        )  # fmt: skip
        _check(answer, device_id, channel_id, CmdType.HOME_POSITION_QUERY)
        return GuardPosition(channel_id, answer.home)

    async def cruise_tracks(self, channel_id: str) -> CruiseTracks:
        """CruiseTrackListQuery: the channel's tracks (number and name), by number."""
        device_id = await self._talk.device_of(channel_id)
        answer: CruiseTrackListResponse = await self._talk.ask_2022(
            device_id, channel_id, CmdType.CRUISE_TRACK_LIST_QUERY,
            lambda sn, charset: build_cruise_track_list_query(sn, channel_id, charset),
            "its cruise tracks",
        )  # fmt: skip
        _check(answer, device_id, channel_id, CmdType.CRUISE_TRACK_LIST_QUERY)
        tracks = tuple(sorted(answer.tracks, key=lambda track: track.number))
        return CruiseTracks(channel_id, answer.sum_num, tracks)

    async def cruise_track(self, channel_id: str, number: int) -> CruiseTrack:
        """CruiseTrackQuery: the points of track `number` (as the track list numbers it).
        A device that answers about another track than asked is refused (502)."""
        device_id = await self._talk.device_of(channel_id)
        answer: CruiseTrackResponse = await self._talk.ask_2022(
            device_id, channel_id, CmdType.CRUISE_TRACK_QUERY,
            lambda sn, charset: build_cruise_track_query(sn, channel_id, number, charset),
            f"cruise track {number}",
        )  # fmt: skip
        _check(answer, device_id, channel_id, CmdType.CRUISE_TRACK_QUERY)
        if answer.number is not None and answer.number != number:
            raise DeviceRefused(
                f"device {device_id} answered CruiseTrackQuery for {channel_id} about track "
                f"{answer.number}, not the track {number} asked"
            )
        return CruiseTrack(channel_id, number, answer.name, answer.points)

    async def sd_cards(self, device_id: str) -> SdCards:
        """SDCardStatus: the device's storage cards (the caller knows the device exists)."""
        talk = self._talk
        talk.require_online(device_id)
        answer: SdCardStatusResponse = await talk.ask_2022(
            device_id, device_id, CmdType.SD_CARD_STATUS,
            lambda sn, charset: build_sd_card_status_query(sn, device_id, charset),
            "its storage cards",
        )  # fmt: skip
        _check(answer, device_id, device_id, CmdType.SD_CARD_STATUS)
        cards = tuple(sorted(answer.cards, key=lambda card: card.card_id))
        log.info("device %s reports %d storage cards", device_id, len(cards),
                 extra={"device_id": device_id})  # fmt: skip
        return SdCards(device_id, answer.sum_num, cards)
