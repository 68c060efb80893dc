"""A platform with a simulated camera and the people of the authorisation tests.

The top administrator (`admin`, created by `start_server`) makes two bureaus under the
national organisation, `east` and `west`; a farm of `east` holds the simulated device (two
cameras, with recordings); `east.admin` administers east, `west.admin` west; `mon.granted`
(east) is granted the first camera, `mon.plain` (east) nothing; `victim` (east) is the
account the administration routes act on. Each person is logged in through the HTTP API
with their own cookies and CSRF token; `anonymous` has none.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp

from farmwatch.simulator.record_settings import RecordSettings
from tests.e2e.live_helpers import LiveRig, live_rig
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD

PASSWORD = "People-Pass-2024"
STATE_CHANGING = ("POST", "PUT", "PATCH", "DELETE")


@dataclass
class Caller:
    """One person's browser (or nobody's): their cookies and CSRF token."""

    name: str
    base: str
    http: aiohttp.ClientSession
    csrf: str = ""
    user_id: int = 0

    async def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """The status and the JSON answer (None for another kind of answer, not read)."""
        sent = dict(headers or {})
        if self.csrf and method in STATE_CHANGING:
            sent.setdefault("X-CSRF-Token", self.csrf)
        async with self.http.request(
            method, self.base + path, json=body, headers=sent, allow_redirects=False
        ) as response:
            if response.content_type != "application/json":
                return response.status, None  # a stream, a picture, a page: not read
            return response.status, await response.json()

    async def log_in(self, username: str, password: str) -> None:
        status, body = await self.request(
            "POST", "/api/login", {"username": username, "password": password}
        )
        assert status == 200, body
        self.csrf = body["csrf_token"]
        self.user_id = body["user"]["user_id"]


@dataclass
class Browsers:
    """Every browser the tests open, closed together."""

    base: str
    sessions: list[aiohttp.ClientSession] = field(default_factory=list)

    def new(self, name: str) -> Caller:
        http = aiohttp.ClientSession(
            cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=aiohttp.ClientTimeout(total=30)
        )
        self.sessions.append(http)
        return Caller(name, self.base, http)

    async def close(self) -> None:
        await asyncio.gather(*(http.close() for http in self.sessions))


@dataclass
class Opened:
    """What `mon.granted` opened on the first camera."""

    live: str
    playback: str
    search: str
    download: str
    clip: str
    anomaly: int
    """An anomaly of the east farm, reported from a playback of the first camera."""
    broadcast: str = ""
    """A voice broadcast to the camera (running: the device takes no second one)."""


@dataclass
class AccessRig:
    rig: LiveRig
    browsers: Browsers
    top: Caller
    people: dict[str, Caller]
    east: int
    west: int
    farm: int
    victim: int
    east_token: int
    opened: Opened | None = None

    @property
    def device(self) -> str:
        return self.rig.fleet.device_ids[0]

    @property
    def granted_camera(self) -> str:
        return self.rig.channel(0)

    @property
    def other_camera(self) -> str:
        return self.rig.channel(1)

    def caller(self, name: str) -> Caller:
        """A new browser, not logged in."""
        return self.browsers.new(name)


def recorded_range(hour: int, minutes: int) -> tuple[str, str]:
    """Yesterday at `hour` for `minutes`, as the API takes local times (the simulator's
    recordings cover it)."""
    day = datetime.now(ZoneInfo("Asia/Shanghai")) - timedelta(days=1)
    start = day.replace(hour=hour, minute=0, second=0, microsecond=0, tzinfo=None)
    return start.isoformat(), (start + timedelta(minutes=minutes)).isoformat()


async def _created(caller: Caller, path: str, body: Any) -> dict[str, Any]:
    status, answer = await caller.request("POST", path, body)
    assert status == 201, (path, answer)
    return dict(answer)


@asynccontextmanager
async def access_rig(tmp_path: Path, env: dict[str, str] | None = None) -> AsyncIterator[AccessRig]:
    """`env`: more settings of the server (FARMWATCH_<SECTION>_<KEY>)."""
    async with AsyncExitStack() as stack:
        settings = {"FARMWATCH_MEDIA_WORKERS": "0", **(env or {})}
        rig = await stack.enter_async_context(
            live_rig(tmp_path, records=RecordSettings(), env=settings)
        )
        browsers = Browsers(rig.base)
        stack.push_async_callback(browsers.close)
        top = browsers.new("top")
        await top.log_in(ADMIN, ADMIN_PASSWORD)
        root = rig.server.organisation_id
        orgs = "/api/organisations"
        east = await _created(top, orgs, {"name": "east", "tier": "bureau", "parent_id": root})
        west = await _created(top, orgs, {"name": "west", "tier": "bureau", "parent_id": root})
        farm = await _created(
            top, "/api/farms",
            {"name": "东一猪场", "filing_number": "EAST-0001", "organisation_id": east["id"]},
        )  # fmt: skip
        status, placed = await top.request(
            "PUT", f"/api/devices/{rig.fleet.device_ids[0]}/farm", {"farm_id": farm["id"]}
        )
        assert status == 200, placed
        users: dict[str, int] = {}
        for name, org, role in (
            ("east.admin", east["id"], "administrator"),
            ("west.admin", west["id"], "administrator"),
            ("mon.granted", east["id"], "monitor"),
            ("mon.plain", east["id"], "monitor"),
            ("victim", east["id"], "monitor"),
        ):
            user = await _created(
                top, "/api/users",
                {"username": name, "organisation_id": org, "role": role, "password": PASSWORD},
            )  # fmt: skip
            users[name] = user["id"]
        status, granted = await top.request(
            "POST", f"/api/users/{users['mon.granted']}/grants",
            {"kind": "channel", "target": rig.channel(0)},
        )  # fmt: skip
        assert status == 201, granted
        token = await _created(
            top, "/api/tokens",
            {"name": "east-reports", "role": "monitor", "organisation_id": east["id"]},
        )  # fmt: skip
        people = {"anonymous": browsers.new("anonymous")}
        for name in ("mon.plain", "west.admin", "east.admin", "mon.granted"):
            people[name] = browsers.new(name)
            await people[name].log_in(name, PASSWORD)
        yield AccessRig(
            rig, browsers, top, people, east["id"], west["id"], farm["id"], users["victim"],
            token["id"],
        )  # fmt: skip


async def open_everything(access: AccessRig) -> Opened:
    """`mon.granted` opens a live session, a playback, a record search, a download, an
    evidence clip and a voice broadcast of the first camera, and reports an anomaly seen in
    its recordings."""
    owner, camera = access.people["mon.granted"], access.granted_camera
    live = await _created(owner, f"/api/channels/{camera}/live", None)
    start, end = recorded_range(8, 30)
    playback = await _created(
        owner, f"/api/channels/{camera}/playback", {"start": start, "end": end}
    )
    query = f"start={start}&end={end}&source=all&wait=false"
    status, search = await owner.request("GET", f"/api/channels/{camera}/records?{query}")
    assert status == 202, search
    start, end = recorded_range(9, 60)
    download = await _created(
        owner, f"/api/channels/{camera}/downloads", {"start": start, "end": end, "speed": 1}
    )
    start, end = recorded_range(11, 60)
    clip = await _created(
        owner, f"/api/channels/{camera}/clips", {"start": start, "end": end, "reason": "测试"}
    )
    anomaly = await _created(
        owner, f"/api/channels/{camera}/anomalies",
        {"description": "测试异常", "mode": "playback", "time": start},
    )  # fmt: skip
    broadcast = await _created(owner, f"/api/channels/{camera}/broadcast", None)
    access.opened = Opened(
        live["session"], playback["session"], search["search"], download["id"], clip["id"],
        anomaly["id"], broadcast["session"],
    )  # fmt: skip
    return access.opened
