"""Bench only: ICE host candidates on 127.0.0.1 in the platform process the live bench starts.

aioice skips loopback addresses when it gathers host candidates, so a platform on a host
whose only other address is a real interface would offer that address to the WebRTC viewer.
`bench/live.py` puts this folder first on the platform's PYTHONPATH, so Python imports this
module at start-up and every WebRTC byte of the benchmark stays on 127.0.0.1 (the tests do
the same with monkeypatch in tests/integration/media/sinks/test_webrtc.py).
"""

from __future__ import annotations

import aioice.ice


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"]


aioice.ice.get_host_addresses = _loopback_only
