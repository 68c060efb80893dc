"""The batch writer behind alarms and positions: bounded, batched, flushed at close, and
one failing batch does not stop the next."""

from __future__ import annotations

import asyncio

from farmwatch.platform.services.batch_writer import BatchWriter


async def test_items_past_the_bound_are_dropped_and_counted_the_rest_written_at_close() -> None:
    written: list[list[int]] = []

    async def write(batch: list[int]) -> None:
        written.append(batch)

    writer: BatchWriter[int] = BatchWriter(write, max_queued=3, what="numbers")
    assert writer.offer([1, 2]) == 0
    assert writer.offer([3, 4, 5]) == 2  # one fits
    assert (writer.dropped, writer.queued) == (2, 3)
    await writer.start()
    await writer.close()
    assert sum(written, []) == [1, 2, 3] and writer.queued == 0


async def test_a_failing_batch_is_logged_and_the_next_one_is_written() -> None:
    written: list[list[int]] = []
    done = asyncio.Event()

    async def write(batch: list[int]) -> None:
        if batch == [1]:
            raise OSError("database gone for a moment")
        written.append(batch)
        done.set()

    writer: BatchWriter[int] = BatchWriter(write, max_queued=10, what="numbers")
    await writer.start()
    writer.offer([1])
    await asyncio.sleep(0)  # the task takes the first batch
    await asyncio.sleep(0)
    writer.offer([2])
    async with asyncio.timeout(2):
        await done.wait()
    await writer.close()
    assert written == [[2]]
