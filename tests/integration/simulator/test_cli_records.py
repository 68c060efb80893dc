"""`farmwatch simulate`'s recording options: the index the devices answer with, and the quirks."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import datetime, timedelta

import pytest

from farmwatch.simulator import PlaybackQuirks, RecordIndex, RecordSettings
from farmwatch.simulator.channels import channel_id
from farmwatch.simulator.cli import build_parser, fleet_settings, run_simulator
from farmwatch.sipserver.device_events import DeviceCameOnline
from tests.conftest import ROOT
from tests.integration.simulator.platform import SERVER_ID, running_platform

DEVICE_ID = "34020000001320000051"
BASE = ["--server", "127.0.0.1:5060", "--server-id", SERVER_ID]


def test_record_options_map_to_record_settings() -> None:
    args = build_parser().parse_args(
        [*BASE, "--record-days", "3", "--record-file-minutes", "15", "--record-time-zone",
         "Asia/Urumqi", "--record-items-per-message", "4", "--ignore-scale", "--refuse-info",
         "--no-media-status", "--one-playback", "--unknown-filesize"]
    )  # fmt: skip
    records = fleet_settings(args).device_settings()[0].records
    assert (records.days, records.file_minutes, records.time_zone) == (3, 15, "Asia/Urumqi")
    assert records.items_per_message == 4
    assert records.quirks == PlaybackQuirks(True, True, True, True, True)


def test_the_defaults_are_a_week_of_hours_in_beijing_time_without_quirks() -> None:
    records = fleet_settings(build_parser().parse_args(BASE)).records
    assert records == RecordSettings()
    assert (records.days, records.file_minutes, records.time_zone) == (7, 60, "Asia/Shanghai")


async def test_an_unknown_zone_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = build_parser().parse_args([*BASE, "--record-time-zone", "Mars/Olympus_Mons"])
    assert await run_simulator(args) == 2
    assert "records.time_zone" in capsys.readouterr().err


async def test_a_simulate_process_answers_record_info_from_its_options() -> None:
    async with running_platform(catalog_on_register=False, record_info_timeout=2.0) as platform:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "farmwatch", "simulate",
            "--server", f"127.0.0.1:{platform.endpoint.port}", "--server-id", SERVER_ID,
            "--channels", "1", "--bind", "127.0.0.1", "--device-id-base", "51",
            "--record-days", "1", "--record-file-minutes", "20", "--record-items-per-message", "4",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            async with asyncio.timeout(20):
                await platform.listener.wait_for(
                    lambda e: (
                        isinstance(e, DeviceCameOnline) and e.registration.device_id == DEVICE_ID
                    )
                )
            channel = channel_id(DEVICE_ID, 0, 1)
            index = RecordIndex(channel, RecordSettings(days=1, file_minutes=20), time.time())
            hours_ago = datetime.now(index.zone) - timedelta(hours=5)
            start = hours_ago.strftime("%Y-%m-%dT%H:00:00")
            end = (hours_ago + timedelta(hours=2)).strftime("%Y-%m-%dT%H:00:00")
            async with asyncio.timeout(10):
                result = await platform.access.query_records(DEVICE_ID, channel, start, end)
            expected = index.query(start, end)
            assert len(expected) >= 5 and result.is_complete
            assert [(i.start_time, i.end_time) for i in result.items] == [
                (index.local_text(f.start), index.local_text(f.end)) for f in expected
            ]
            process.send_signal(signal.SIGINT)
            async with asyncio.timeout(20):
                _, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        assert process.returncode == 0, stderr.decode(errors="replace")
