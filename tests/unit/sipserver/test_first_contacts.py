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


async def test_no_new_first_contact_starts_while_held_and_the_queue_resumes_by_itself() -> None:
    started: list[str] = []
    resumed = asyncio.Event()
    tasks: set[asyncio.Task[None]] = set()
    behind = True

    async def contact(device_id: str) -> None:
        started.append(device_id)
        if not behind:
            resumed.set()

    def spawn(coroutine: object) -> None:
        tasks.add(asyncio.get_running_loop().create_task(coroutine))  # type: ignore[arg-type]

    queue = FirstContactQueue(
        contact, concurrency=4, spawn=spawn, held=lambda: behind, recheck=0.01
    )
    for device in ("a", "b", "c"):
        queue.request(device)
    await asyncio.sleep(0.05)  # five rechecks, all still held
    assert started == []
    assert (queue.stats.queued, queue.stats.running, queue.stats.held) == (3, 0, 1)
    behind = False
    async with asyncio.timeout(5):
        await resumed.wait()
        await asyncio.gather(*tasks)
    assert started == ["a", "b", "c"]
    assert queue.stats == type(queue.stats)(queued=0, running=0, done=3, held=1)
    queue.close()


async def test_a_held_queue_closes_without_starting_anything() -> None:
    started: list[str] = []

    async def contact(device_id: str) -> None:
        started.append(device_id)

    def spawn(coroutine: object) -> None:
        asyncio.get_running_loop().create_task(coroutine)  # type: ignore[arg-type]

    behind = True
    queue = FirstContactQueue(
        contact, concurrency=1, spawn=spawn, held=lambda: behind, recheck=0.01
    )
    queue.request("a")
    queue.close()
    behind = False  # a recheck left armed would start "a" now
    await asyncio.sleep(0.05)
    assert started == []
    assert queue.stats.queued == 1
