"""Malformed WebRTC offers to a real live session: a 400 naming the fault, never a 500."""

from __future__ import annotations

from pathlib import Path

from aiortc import RTCConfiguration, RTCPeerConnection

from tests.e2e.live_helpers import live_rig


async def _offer() -> str:
    client = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    client.addTransceiver("video", direction="recvonly")
    await client.setLocalDescription(await client.createOffer())
    offer = client.localDescription.sdp
    await client.close()
    return offer


async def test_malformed_offers_are_a_400_and_the_session_still_answers_a_good_one(
    tmp_path: Path,
) -> None:
    good = await _offer()
    malformed = [
        "garbage",
        "v=0\r\nm=video\r\n",
        good.replace("a=setup:actpass", "a=setup:bogus"),
        "".join(line for line in good.splitlines(True) if not line.startswith("a=fingerprint")),
        "".join(line for line in good.splitlines(True) if line.strip() != "a=recvonly"),
    ]
    async with live_rig(tmp_path, channels=1) as rig:
        status, links = await rig.post(f"/api/channels/{rig.channel()}/live")
        assert status == 201, links
        for sdp in malformed:
            status, body = await rig.post(links["webrtc"], {"sdp": sdp, "type": "offer"})
            assert status == 400, (sdp[:60], body)
            assert body["error"].startswith("invalid SDP offer: "), body
        status, body = await rig.post(links["webrtc"], {"sdp": good, "type": "offer"})
        assert status == 200, body
        assert body["type"] == "answer" and "m=video" in body["sdp"]
