"""FirstContactQueue: at most N devices asked at a time, oldest first, each once."""

from __future__ import annotations

import asyncio

from farmwatch.sipserver.first_contacts import FirstContactQueue


async def test_at_most_concurrency_devices_are_asked_at_once_in_arrival_order() -> None:
    started: list[str] = []
    release = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()

    async def contact(device_id: str) -> None:
        started.append(device_id)
        await release.wait()

    def spawn(coroutine: object) -> None:
        tasks.add(asyncio.get_running_loop().create_task(coroutine))  # type: ignore[arg-type]

    queue = FirstContactQueue(contact, concurrency=2, spawn=spawn)
    for device in ("a", "b", "c", "a", "d"):
        queue.request(device)
    await asyncio.sleep(0)
    assert started == ["a", "b"]
    assert (queue.stats.running, queue.stats.queued) == (2, 2)  # "a" again while running
    queue.request("c")  # already waiting: not twice
    assert queue.stats.queued == 2
    release.set()
    async with asyncio.timeout(5):
        while queue.stats.done < 5:
            await asyncio.gather(*tasks)
    # "a" came back while it was asked: it is asked once more afterwards.
    assert started == ["a", "b", "c", "d", "a"]
    assert queue.stats == type(queue.stats)(queued=0, running=0, done=5)
