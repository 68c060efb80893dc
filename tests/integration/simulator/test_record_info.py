"""RecordInfo answered by simulated channels from their record index (ref. §4.7, §11.8, Annex N).

The platform's side is the real `DeviceAccess` on loopback: `query_records` sends the query and
collects the answer MESSAGEs by SN; a spy on its `records_received` (which it still calls
through) keeps each message as the platform took it, to count them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from farmwatch.simulator import RecordSettings, SimulatedDevice, SimulatorFleet, running_simulator
from farmwatch.sipserver.gb.catalog_collector import RecordResult
from farmwatch.sipserver.gb.manscdp import RecordInfoResponse
from farmwatch.sipserver.gb.manscdp_build import build_record_info_query
from tests.integration.simulator.platform import SERVER_ID, Platform, running_platform

WAIT = 10.0
BYTES_PER_SECOND = 1_000_000 // 8  # the default 1 Mbit/s


@dataclass
class Setting:
    platform: Platform
    fleet: SimulatorFleet
    messages: list[RecordInfoResponse] = field(default_factory=list)

    @property
    def device(self) -> SimulatedDevice:
        return self.fleet.devices[0]

    def answers(self, sn: int) -> list[RecordInfoResponse]:
        return [message for message in self.messages if message.sn == sn]


@asynccontextmanager
async def simulated(records: RecordSettings) -> AsyncIterator[Setting]:
    async with (
        running_platform(catalog_on_register=False, record_info_timeout=0.5) as platform,
        running_simulator(
            server=platform.address, server_id=SERVER_ID, channels=2, records=records
        ) as fleet,
    ):  # fmt: skip
        setting = Setting(platform, fleet)
        taken = platform.access.records_received

        def spy(device_id: str, response: RecordInfoResponse) -> None:
            setting.messages.append(response)
            taken(device_id, response)

        platform.access.records_received = spy  # type: ignore[method-assign]
        yield setting


def _yesterday(device: SimulatedDevice) -> tuple[str, str]:
    day = (datetime.now(device.settings.records.zone) - timedelta(days=1)).date()
    return f"{day}T00:00:00", f"{day}T23:59:59"


async def _query(setting: Setting, channel: str, start: str, end: str) -> RecordResult:
    device = setting.device
    async with asyncio.timeout(WAIT):
        return await setting.platform.access.query_records(device.device_id, channel, start, end)


async def test_a_day_comes_back_over_several_messages_and_equals_the_index() -> None:
    async with simulated(RecordSettings(items_per_message=10)) as setting:
        device = setting.device
        catalog = device.channels.items[1]
        channel = catalog.device_id
        start, end = _yesterday(device)
        result = await _query(setting, channel, start, end)
        index = device.record_index(channel)
        expected = index.query(start, end)
        assert 20 <= len(expected) <= 24  # a day of hour files, a few missing
        assert result.is_complete and result.expected == len(expected)
        answers = setting.answers(result.key.sn)
        assert len(answers) == -(-len(expected) // 10) >= 2
        assert {a.sum_num for a in answers} == {len(expected)}
        assert [a.declared_num for a in answers] == [len(a.items) for a in answers]
        items = [item for answer in answers for item in answer.items]
        assert list(result.items) == items
        assert [(i.start_time, i.end_time) for i in items] == [
            (index.local_text(f.start), index.local_text(f.end)) for f in expected
        ]
        assert all(i.start_time and i.start_time.startswith(start[:10]) for i in items)
        assert {(i.device_id, i.name, i.address) for i in items} == {
            (channel, catalog.name, catalog.address)
        }
        assert [i.file_size for i in items] == [f.duration * BYTES_PER_SECOND for f in expected]
        assert {(i.secrecy, i.record_type, i.record_location, i.stream_number) for i in items} == {
            (0, "time", "1", 0)
        }
        assert any(f.duration < 3600 for f in expected)  # the day's short file leaves a gap


async def test_a_lost_message_leaves_a_partial_result_and_the_drop_is_one_shot() -> None:
    async with simulated(RecordSettings(items_per_message=5)) as setting:
        device = setting.device
        channel = device.channels.items[0].device_id
        start, end = _yesterday(device)
        index = device.record_index(channel)
        expected = index.query(start, end)
        device.drop_record_message(1)
        partial = await _query(setting, channel, start, end)
        assert not partial.is_complete and partial.expected == len(expected)
        assert len(setting.answers(partial.key.sn)) == -(-len(expected) // 5) - 1
        received = {i.start_time for i in partial.items}
        lost = {index.local_text(f.start) for f in expected[5:10]}
        assert len(received) == len(expected) - 5 and not received & lost
        complete = await _query(setting, channel, start, end)
        assert complete.is_complete and len(complete.items) == len(expected)


async def test_no_records_is_one_message_with_sum_zero() -> None:
    async with simulated(RecordSettings(days=2)) as setting:
        device = setting.device
        channel = device.channels.items[0].device_id
        far_past = await _query(setting, channel, "2001-01-01T00:00:00", "2001-01-01T23:59:59")
        assert far_past.is_complete and far_past.items == ()
        assert [(a.sum_num, a.items) for a in setting.answers(far_past.key.sn)] == [(0, ())]
        start, end = _yesterday(device)
        alarms = build_record_info_query(9001, channel, start, end, record_type="alarm")
        await setting.platform.access.send_manscdp(device.device_id, alarms, target_id=channel)
        async with asyncio.timeout(WAIT):
            await device.wait_for(lambda d: d.responder.record_answers_sent == 2)
        assert [(a.sum_num, a.items) for a in setting.answers(9001)] == [(0, ())]
