"""A front's estimate of its queue's wait: the kernel's accounting of queued datagrams, and
the wait that follows from it."""

from __future__ import annotations

import socket

import pytest

from farmwatch.sipserver.transport.queue_meter import ServiceClock, queued_bytes, truesize


@pytest.mark.parametrize("length", [100, 500, 640, 700, 900, 1400, 1700, 3500, 4000])
def test_truesize_is_what_the_kernel_accounts_a_queued_datagram_at(length: int) -> None:
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        receiver.bind(("127.0.0.1", 0))
        assert queued_bytes(receiver) == 0
        for _ in range(20):
            sender.sendto(b"x" * length, receiver.getsockname())
        assert queued_bytes(receiver) == 20 * truesize(length)
    finally:
        receiver.close()
        sender.close()


def test_the_wait_is_the_queue_in_datagrams_times_the_time_per_datagram() -> None:
    clock = ServiceClock()
    for _ in range(100):
        clock.add(200e-6, 600)  # 600-byte datagrams, 200 µs each
    queued = 1000 * truesize(600)  # a thousand of them waiting
    assert clock.delay(queued) == pytest.approx(0.2)
    # An interval with too few datagrams to tell keeps the last measurement.
    clock.add(1.0, 600)
    assert clock.delay(queued) == pytest.approx(0.2)
