"""The probe reads the queue directly too: a storm cuts the gate at the first tick, before
any probe has come through the queue; only probes open it again."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from farmwatch.sipserver.transport.queue_probe import (
    FILL_LIMIT,
    OverloadGate,
    QueueDelayProbe,
    QueueReading,
)


@pytest.fixture
def unread_socket() -> Iterator[tuple[str, int]]:
    """A SIP socket stand-in that nobody reads: no probe ever comes back from it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()


def started_probe(
    target: tuple[str, int], gate: OverloadGate, reading: QueueReading
) -> QueueDelayProbe:
    loop = asyncio.get_running_loop()
    probe = QueueDelayProbe(target, gate, interval=10.0, clock=loop.time, meter=lambda: reading)
    probe.start()  # its first tick: a probe sent, the queue read
    return probe


@pytest.mark.parametrize(
    "reading",
    [QueueReading(delay=0.35, fill=0.2), QueueReading(delay=0.01, fill=FILL_LIMIT)],
    ids=["waits-over-the-target", "fills-half-the-buffer"],
)
async def test_a_long_or_full_queue_cuts_the_gate_at_once(
    unread_socket: tuple[str, int], reading: QueueReading
) -> None:
    gate = OverloadGate(target=0.2)
    probe = started_probe(unread_socket, gate, reading)
    try:
        assert gate.is_overloaded
        assert probe.delay == reading.delay  # what the endpoint reports as the queue's wait
    finally:
        probe.close()


async def test_a_short_queue_read_directly_changes_nothing(unread_socket: tuple[str, int]) -> None:
    gate = OverloadGate(target=0.2)
    gate.cut(sent_at=0.0, now=0.0)
    share = gate.share
    probe = started_probe(unread_socket, gate, QueueReading(delay=0.05, fill=0.1))
    try:
        assert gate.share == share  # neither cut further nor opened: that is the probes' part
    finally:
        probe.close()
