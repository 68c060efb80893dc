"""Peers answering the platform's INVITEs on loopback, for the calls tests.

`device_uas()` is farmwatch's own `SipEndpoint` playing the device (for error cases the
test scripts: hold the INVITE, refuse it, answer after a CANCEL...). `sipp_uas()` runs
sipp with one of the UAS scenarios in tests/data/sipp/ as an independent device.
"""

from __future__ import annotations

import asyncio
import errno
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.settings import SipSettings
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import new_tag
from tests.peers.sipp import SCENARIOS

DEVICE_ID = "34020000001320000001"
CHANNEL_ID = "34020000001310000001"

InviteAnswer = Callable[[SipRequest], SipResponse | None]
"""What the device answers to an INVITE; None holds it unanswered."""


@dataclass
class DeviceUas:
    """Records every request the device received; answers as the test tells it."""

    endpoint: SipEndpoint
    answer: InviteAnswer = lambda request: None  # noqa: E731 - a default policy
    answer_after_cancel: int = 487
    received: list[SipRequest] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def port(self) -> int:
        return self.endpoint.port

    def of(self, method: str) -> list[SipRequest]:
        return [r for r in self.received if r.method == method]

    async def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> SipRequest:
        """The `count`-th request of `method`, waiting at most `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while len(self.of(method)) < count:
                self._changed.clear()
                await self._changed.wait()
        return self.of(method)[count - 1]

    def ok(self, invite: SipRequest, body: bytes, *, to_tag: str = "dev-tag-1") -> SipResponse:
        """200 OK with the device's Contact and an SDP answer."""
        return build_response(
            invite,
            200,
            to_tag=to_tag,
            extra=(("Contact", f"<sip:{CHANNEL_ID}@127.0.0.1:{self.port}>"),),
            body=body,
            content_type="application/sdp",
        )

    def _record(self, request: SipRequest) -> None:
        self.received.append(request)
        self._changed.set()

    async def on_invite(self, incoming: IncomingRequest) -> SipResponse | None:
        self._record(incoming.request)
        return self.answer(incoming.request)

    async def on_cancel(self, incoming: IncomingRequest) -> SipResponse | None:
        self._record(incoming.request)
        invite = self.of("INVITE")[-1]
        self.endpoint.respond(build_response(incoming.request, 200, to_tag=new_tag()))
        if self.answer_after_cancel == 200:  # the 200 crossed the CANCEL
            response = self.ok(invite, answer_sdp(invite))
        else:
            response = build_response(invite, self.answer_after_cancel, to_tag=new_tag())
        self.endpoint.respond(response)
        return None

    async def on_other(self, incoming: IncomingRequest) -> SipResponse | None:
        self._record(incoming.request)
        return build_response(incoming.request, 200, to_tag=new_tag())

    def on_ack(self, request: SipRequest, source: Address) -> None:
        self._record(request)


def answer_sdp(invite: SipRequest, *, ssrc_line: str = "y=0200000001", extra: str = "") -> bytes:
    """A device's answer written by hand (not by farmwatch's SDP builder)."""
    transport = "TCP/RTP/AVP" if b"TCP/RTP/AVP" in invite.body else "RTP/AVP"
    lines = [
        "v=0",
        f"o={CHANNEL_ID} 0 0 IN IP4 127.0.0.2",
        "s=Play",
        "c=IN IP4 127.0.0.2",
        "t=0 0",
        f"m=video 15060 {transport} 96",
        "a=sendonly",
        "a=rtpmap:96 PS/90000",
    ]
    lines += [line for line in extra.split("\n") if line]
    if ssrc_line:
        lines.append(ssrc_line)
    return ("\r\n".join(lines) + "\r\n").encode()


@asynccontextmanager
async def device_uas() -> AsyncIterator[DeviceUas]:
    settings = SipSettings(host="127.0.0.1", port=0, id=DEVICE_ID, domain="3402000000")
    endpoint = SipEndpoint(settings)
    for attempt in range(8):  # the TCP twin of an ephemeral UDP port may be taken
        try:
            await endpoint.start()
            break
        except OSError as error:
            if error.errno != errno.EADDRINUSE or attempt == 7:
                raise
            endpoint = SipEndpoint(settings)
    device = DeviceUas(endpoint)
    endpoint.add_handler("INVITE", device.on_invite)
    endpoint.add_handler("CANCEL", device.on_cancel)
    for method in ("BYE", "INFO", "MESSAGE"):
        endpoint.add_handler(method, device.on_other)
    endpoint.set_ack_handler(device.on_ack)
    try:
        yield device
    finally:
        await endpoint.close()


@dataclass
class SippUas:
    process: asyncio.subprocess.Process
    port: int

    async def result(self, timeout: float = 15.0) -> tuple[int, str]:
        """sipp's exit code (0: the one call went exactly as scripted) and its output."""
        async with asyncio.timeout(timeout):
            output, _ = await self.process.communicate()
        return self.process.returncode or 0, output.decode(errors="replace")[-3000:]


@asynccontextmanager
async def sipp_uas(
    scenario: str, port: int, workdir: Path, *, tcp: bool = False
) -> AsyncIterator[SippUas]:
    """sipp answering one call on 127.0.0.1:`port` (UDP, or TCP with `tcp`)."""
    process = await asyncio.create_subprocess_exec(
        "sipp", "-sf", str(SCENARIOS / scenario), "-i", "127.0.0.1", "-p", str(port),
        "-m", "1", "-t", "t1" if tcp else "u1", "-timeout", "20s", "-nostdin",
        "-trace_err", "-error_file", str(workdir / f"{scenario}.errors"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=workdir,
    )  # fmt: skip
    try:
        if tcp:
            await _wait_listening(port)
        yield SippUas(process, port)
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


async def _wait_listening(port: int, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)  # polling a child process's readiness
                continue
            writer.close()
            await writer.wait_closed()
            return
