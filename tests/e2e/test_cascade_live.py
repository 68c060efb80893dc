"""Live video through the cascade: a bureau platform plays a farm camera of its branch.

The bureau INVITEs the branch for the camera's channel, the branch starts (or joins) the
camera's stream and relays its PS upward with the bureau's SSRC; what the bureau serves is
decoded with PyAV.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cascade_helpers import cascade
from tests.e2e.live_helpers import decode_fmp4

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("transport", ["udp", "tcp-passive", "tcp-active"])
async def test_the_bureau_plays_a_farm_camera_through_its_branch(
    tmp_path: Path, transport: str
) -> None:
    async with cascade(tmp_path, transport) as rig:
        status, links = await rig.request(rig.bureau, "POST", f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        assert (links["width"], links["height"]) == (320, 180)
        data = await rig.read_fmp4(rig.bureau, links["fmp4"], seconds=3.5)
        sizes = decode_fmp4(data)
        assert len(sizes) >= 50
        assert set(sizes) == {(320, 180)}
        _, uppers = await rig.request(rig.branch, "GET", "/api/uppers")
        assert uppers["uppers"][0]["calls"] == 1
