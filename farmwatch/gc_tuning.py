"""The cyclic garbage collector kept off the hot paths of the platform and its media workers.

Both processes hold tens of thousands of long-lived containers (transactions and
registrations; streams, GOP caches, recorder queues) and allocate a few containers per SIP
message or RTP packet. With CPython's defaults a young collection runs every 700
allocations and older ones re-scan everything that survived, which profiles of
registration storms and of recorded streams showed. What start-up allocated (modules,
engine, settings) is frozen out of collection, and young collections run after 50,000
allocations.
"""

from __future__ import annotations

import gc

__all__ = ["tune_garbage_collector"]


def tune_garbage_collector() -> None:
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
