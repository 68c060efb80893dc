"""Media in worker processes (issue 14): streams spread over the workers, and a worker that
dies takes only its streams down, which start again on another worker."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.live_helpers import LiveRig, decode_fmp4, live_rig

CHANNELS = 4
NodeStreams = dict[tuple[str, int], int]


async def _node_streams(rig: LiveRig) -> NodeStreams:
    """Streams per media node as `/metrics` says: (node name, pid) → streams."""
    async with rig.http.get(f"{rig.base}/metrics") as response:
        text = await response.text()
    return {
        (sample.labels["node"], int(sample.labels["pid"])): int(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "farmwatch_media_node_streams"
    }


async def _ingested_packets(rig: LiveRig) -> float:
    async with rig.http.get(f"{rig.base}/metrics") as response:
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "farmwatch_media_ingest_packets_total"
    )


async def _wait_for(
    rig: LiveRig, check: Callable[[NodeStreams], bool], seconds: float = 30.0
) -> dict[tuple[str, int], int]:
    async with asyncio.timeout(seconds):
        while True:
            nodes = await _node_streams(rig)
            if check(nodes):
                return nodes
            await asyncio.sleep(0.2)


async def test_streams_spread_over_workers_and_survive_a_worker_dying(tmp_path: Path) -> None:
    env = {"FARMWATCH_MEDIA_WORKERS": "2", "FARMWATCH_MEDIA_IDLE_CLOSE": "30"}
    async with live_rig(tmp_path, channels=CHANNELS, env=env) as rig:
        sessions = []
        for index in range(CHANNELS):
            status, body = await rig.post(f"/api/channels/{rig.channel(index)}/live")
            assert status == 201, body
            sessions.append(body)
        # Placement spreads the streams: two on each worker.
        nodes = await _wait_for(rig, lambda n: sorted(n.values()) == [2, 2])
        assert {name for name, _ in nodes} == {"media-0", "media-1"}
        assert len({pid for _, pid in nodes}) == 2 and os.getpid() not in {p for _, p in nodes}

        # A scrape reads the workers' counters of that instant, not their last report
        # (once a second): scrapes a fraction of a second apart each see packets arrive.
        counts = []
        for _ in range(6):
            counts.append(await _ingested_packets(rig))
            await asyncio.sleep(0.15)
        assert all(b > a for a, b in zip(counts, counts[1:], strict=False)), counts

        # A viewer on every stream, then one worker is killed.
        readers = [
            asyncio.create_task(rig.read_fmp4(session["fmp4"], 12.0)) for session in sessions
        ]
        await asyncio.sleep(2.0)  # the readers are under way
        (victim_name, victim_pid), _ = sorted(nodes.items())[0]
        os.kill(victim_pid, signal.SIGKILL)

        # Its two streams start again on the other worker; the killed one comes back empty.
        after = await _wait_for(
            rig,
            lambda n: sorted(n.values()) == [0, 4] and victim_pid not in {p for _, p in n},
        )
        survivor = next(key for key, count in after.items() if count == 4)
        assert survivor[0] != victim_name
        received = await asyncio.gather(*readers)

        # Streams on the surviving worker never stopped: their viewers got all 12 s.
        # The others' viewers lost their stream with the worker; a new read gets video.
        full = [data for data in received if len(decode_fmp4(data)) >= 25 * 10]
        cut = [data for data in received if len(decode_fmp4(data)) < 25 * 10]
        assert len(full) == 2 and len(cut) == 2, [len(decode_fmp4(d)) for d in received]
        for session in sessions:
            data = await rig.read_fmp4(session["fmp4"], 2.0)
            assert len(decode_fmp4(data)) >= 10
        log = rig.server.log_text()
        assert "media worker lost, starting the stream again" in log
        assert f"pid {victim_pid}" in log
