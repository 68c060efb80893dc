"""Platform recording end to end: plans, segments on disk, kill -9, retention, evidence clips.

One platform records four simulated channels for three minutes in 60 s segments; the test
checks names and paths, recorded time against wall time and the gaps between segments,
then kills the platform mid-segment with SIGKILL and starts it again on the same storage:
recording resumes without any request and the cut segment plays. Platform recordings are
searched, played and clipped; a clip survives retention squeezing the recordings to a tiny
cap, and a clip whose file is altered fails verification.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import sqlite3
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import av

from farmwatch.platform.db import DATABASE_FILE_NAME
from farmwatch.simulator import running_simulator
from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import PLATFORM, SMALL_PICTURE, LiveRig, wait_channel_known
from tests.peers.server_process import RunningServer, start_server, stop_server

SHANGHAI = ZoneInfo("Asia/Shanghai")
GOP = 1.0
SEGMENT = re.compile(r"(\d{6})-(\d{6})(?:_\d+)?\.ps")
ENV = {
    "FARMWATCH_MEDIA_HOST": "127.0.0.1",
    "FARMWATCH_LIVE_INVITE_TIMEOUT": "3",
    "FARMWATCH_RECORDINGS_SEGMENT_MINUTES": "1",
    "FARMWATCH_RECORDINGS_RECONCILE_INTERVAL": "1",
}


def local(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


async def get(http: aiohttp.ClientSession, server: RunningServer, path: str) -> tuple[int, dict]:
    url = f"http://127.0.0.1:{server.web_port}{path}"
    async with http.get(url, headers=server.auth_headers) as response:
        return response.status, await response.json()


async def platform_records(
    http: aiohttp.ClientSession, server: RunningServer, channel: str, since: datetime
) -> list[dict]:
    query = f"start={local(since)}&end={local(datetime.now(SHANGHAI))}&source=platform"
    status, body = await get(http, server, f"/api/channels/{channel}/records?{query}")
    assert status == 200, body
    return body["records"]


def writing_since(storage: Path, channel: str, moment: datetime) -> bool:
    """Whether a segment of the channel is being written (its temporary file grows) now,
    started after `moment`."""
    return any(
        path.stat().st_size > 0 and path.stat().st_mtime > moment.timestamp()
        for path in (storage / "recordings").glob(f"*/{channel}/*/*-open*.ps")
    )


def segment_files(storage: Path, channel: str) -> list[Path]:
    return sorted(
        p for p in (storage / "recordings").glob(f"*/{channel}/*/*.ps") if SEGMENT.fullmatch(p.name)
    )


def decoded(path: Path) -> tuple[int, float]:
    """Frames PyAV decodes from a segment file, and the media time they span (s)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        packets = [p for p in container.demux(stream) if p.size]
        frames = sum(1 for p in packets for _ in p.decode())
        span = float((packets[-1].pts - packets[0].pts) * stream.time_base) + 1 / 25
    return frames, span


def picture(frame: av.VideoFrame) -> bytes:
    return bytes(frame.planes[0])


def recorded_times_of(
    wanted: bytes, storage: Path, segments: list[tuple[datetime, datetime, str]]
) -> list[datetime]:
    """When frames with these luma bytes were recorded (the test picture loops every
    `loop_seconds`, so one picture recurs), from the segments and their indexed starts."""
    times = []
    for start, _, path in segments:
        with av.open(str(storage / path)) as container:
            stream = container.streams.video[0]
            first_pts = None
            for frame in container.decode(stream):
                first_pts = frame.pts if first_pts is None else first_pts
                if picture(frame) == wanted:
                    offset = float((frame.pts - first_pts) * stream.time_base)
                    times.append(start.replace(tzinfo=UTC) + timedelta(seconds=offset))
    return times


def indexed(storage: Path, channel: str) -> list[tuple[datetime, datetime, str]]:
    """The platform's segment index of a channel (start, end, path), from its database."""
    with sqlite3.connect(storage / DATABASE_FILE_NAME) as database:
        rows = database.execute(
            "SELECT start_at, end_at, path FROM recording_segments WHERE channel_id = ? "
            "ORDER BY start_at",
            (channel,),
        ).fetchall()
    return [(datetime.fromisoformat(a), datetime.fromisoformat(b), path) for a, b, path in rows]


async def test_four_channels_recorded_cut_by_kill_9_resumed_searched_played_and_clipped(
    tmp_path: Path,
) -> None:
    storage = tmp_path / "data"
    server = await asyncio.to_thread(start_server, tmp_path, ENV)
    try:
        async with (
            running_simulator(
                server=("127.0.0.1", server.sip_port), server_id=PLATFORM, devices=1,
                channels=4, media=SMALL_PICTURE,
                # No missing device files: the test's few minutes lie in one hour's file,
                # and a 5 % chance of that file missing (fixed per hour) failed it at 19:00.
                records=RecordSettings(missing_fraction=0.0),
            ) as fleet,
            aiohttp.ClientSession() as http,
        ):  # fmt: skip
            rig = LiveRig(server, fleet, http)
            await wait_channel_known(rig)
            channels = [rig.channel(i) for i in range(4)]
            began = datetime.now(SHANGHAI)
            for channel in channels:
                status, plan = await rig.put(f"/api/channels/{channel}/record-plan",
                                             {"mode": "continuous"})  # fmt: skip
                assert status == 200 and plan["recording_due"], plan
            await asyncio.sleep(185)  # three 60 s segments and the start of a fourth
            ended = datetime.now(SHANGHAI)

            # Names and paths: recordings/{civil code}/{channel}/{date}/{HHMMSS}-{HHMMSS}.ps,
            # each with its index beside it (.idx)
            civil_codes = {
                item.device_id: item.civil_code for item in fleet.devices[0].channels.items
            }
            for channel in channels:
                files = segment_files(storage, channel)
                assert len(files) >= 3, files
                for path in files:
                    assert path.with_suffix(".idx").is_file()
                    assert path.parent.name == f"{datetime.now(SHANGHAI):%Y-%m-%d}" or (
                        path.parent.name == f"{began:%Y-%m-%d}"
                    )
                    assert path.parent.parent.name == channel
                    assert path.parent.parent.parent.name == civil_codes[channel]
                records = await platform_records(http, server, channel, began)
                assert len(records) >= 3
                covered = sum(
                    (
                        datetime.fromisoformat(r["end"]) - datetime.fromisoformat(r["start"])
                    ).total_seconds()
                    for r in records
                )
                wall = (ended - began).total_seconds()
                first_start = datetime.fromisoformat(records[0]["start"]).replace(tzinfo=SHANGHAI)
                lead = (first_start - began).total_seconds()  # plan to first key frame
                assert covered >= 0.99 * (wall - lead) - 60, (covered, wall, lead)  # open one
                segments = indexed(storage, channel)
                assert {path for _, _, path in segments} >= {
                    p.relative_to(storage).as_posix() for p in files
                }
                for (_, end, _), (start, _, _) in zip(segments, segments[1:], strict=False):
                    assert 0 <= (start - end).total_seconds() <= GOP, (end, start)  # gap
                for start, end, path in segments[:3]:
                    frames, span = decoded(storage / path)
                    length = (end - start).total_seconds()
                    assert 59 <= length <= 62 and abs(span - length) <= 0.1, (length, span)
                    assert frames >= 0.99 * length * 25  # nothing lost

            # Platform playback from a recorded time: the first frame within a GOP of it (the
            # frame is found by its pixels among the segment's, whose times the index gives).
            segments = indexed(storage, channels[0])
            target = segments[0][0].replace(tzinfo=UTC) + timedelta(seconds=70)
            body = {"start": local(target), "end": local(target + timedelta(seconds=60)),
                    "source": "platform"}  # fmt: skip
            status, session = await rig.post(f"/api/channels/{channels[0]}/playback", body)
            assert status == 201 and session["source"] == "platform", session
            data = await rig.read_fmp4(session["fmp4"], 1.5)
            with av.open(io.BytesIO(data), format="mp4") as container:
                first_picture = next(picture(frame) for frame in container.decode(video=0))
            shown = recorded_times_of(first_picture, storage, segments)
            # The window is shorter than the picture's loop (2 s): one match at most.
            window = (target - timedelta(seconds=GOP + 0.05), target + timedelta(seconds=0.05))
            assert [t for t in shown if window[0] <= t <= window[1]], (target, shown)
            await rig.delete(session["status"])

            # source=all: the device's records and the platform's side by side, never merged.
            # From two hours back: one file a day of each simulated channel ends early, and
            # when that is the hour the test runs in (channel 4 on 2026-12-06 at 12:00, kept
            # to 12:21), the test's own minutes hold no device file; a whole hour before does.
            since = local(began - timedelta(hours=2))
            query = f"start={since}&end={local(datetime.now(SHANGHAI))}&source=all"
            status, both = await get(http, server, f"/api/channels/{channels[0]}/records?{query}")
            assert status == 200 and both["complete"], both
            assert {r["source"] for r in both["records"]} == {"device", "platform"}

            # An evidence clip from platform recordings.
            clip_start = target - timedelta(seconds=30)
            body = {"start": local(clip_start), "end": local(clip_start + timedelta(seconds=20)),
                    "reason": "饲料投放处: 发现未登记的饲料袋"}  # fmt: skip
            status, clip = await rig.post(f"/api/channels/{channels[1]}/clips", body)
            assert status == 201 and clip["source"] == "platform", clip
            async with asyncio.timeout(20):
                while clip["state"] == "pending":
                    await asyncio.sleep(0.2)
                    clip = (await get(http, server, f"/api/clips/{clip['id']}"))[1]
            assert clip["state"] == "ready" and len(clip["sha256"]) == 64, clip
            status, verified = await get(http, server, f"/api/clips/{clip['id']}/verify")
            assert verified["valid"] is True

            # kill -9 mid-segment, start again on the same storage: recording resumes alone.
            await asyncio.sleep(20)
            cut_channel_files = {c: set(segment_files(storage, c)) for c in channels}
            server.process.kill()
            await asyncio.to_thread(server.process.wait, 10)
            killed_at = datetime.now(SHANGHAI)
            server = await asyncio.to_thread(start_server, tmp_path, ENV, sip_port=server.sip_port)
            rig = LiveRig(server, fleet, http)
            for channel in channels:
                before = cut_channel_files[channel]
                recovered = [p for p in segment_files(storage, channel) if p not in before]
                assert recovered, "the segment cut by the kill was not repaired"
                frames, span = decoded(recovered[0])
                assert frames > 0 and span > 1  # the cut segment plays
                assert recovered[0].relative_to(storage).as_posix() in {
                    path for _, _, path in indexed(storage, channel)
                }
            async with asyncio.timeout(30):  # recording again after the restart, unasked
                while not all(writing_since(storage, c, killed_at) for c in channels):
                    await asyncio.sleep(0.5)
            recorded = len(segment_files(storage, channels[1]))
            await asyncio.to_thread(stop_server, server)
            env = {**ENV, "FARMWATCH_RECORDINGS_MAX_GIGABYTES": "0.000001"}
            server = await asyncio.to_thread(start_server, tmp_path, env, sip_port=server.sip_port)
            async with asyncio.timeout(20):  # the first reconcile tick applies the ~1 kB cap
                while len(segment_files(storage, channels[1])) >= recorded:
                    await asyncio.sleep(0.2)

            # Retention with a ~1 kB cap deleted the oldest recordings, never the clip.
            status, verified = await get(http, server, f"/api/clips/{clip['id']}/verify")
            assert verified["valid"] is True
            clip_path = storage / "evidence"
            (clip_file,) = list(clip_path.glob(f"*/*_{clip['id']}.mp4"))
            assert not os.stat(clip_file).st_mode & stat.S_IWUSR  # read-only
            os.chmod(clip_file, stat.S_IRUSR | stat.S_IWUSR)
            with clip_file.open("r+b") as handle:
                handle.seek(2000)
                handle.write(b"\x00\x01\x02\x03")
            status, verified = await get(http, server, f"/api/clips/{clip['id']}/verify")
            assert verified["valid"] is False and verified["computed_sha256"] != clip["sha256"]
    finally:
        await asyncio.to_thread(stop_server, server)
