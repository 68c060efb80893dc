"""Who may call what, on a real `farmwatch serve` with a simulated camera (issue 10 §3).

The matrix is generated from the application's router: every route (and so every media
URL) is called by anonymous, a monitor without the camera, the administrator of another
bureau, the camera's administrator and the monitor granted the camera (who also opened the
sessions, search, download and clip the media routes name), and each must get exactly the
status its rule in `route_rules.py` implies. A route with no probe here fails the test, as
a route with no rule stops the application being built.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from farmwatch.platform.db import DATABASE_FILE_NAME
from farmwatch.web.app import WebAccess, WebServices, create_web_app
from farmwatch.web.authorization import routes_of
from farmwatch.web.route_rules import ROUTE_RULES, RouteKey, Rule, Target, Who
from farmwatch.web.security import HostPolicy
from tests.e2e.access_helpers import (
    AccessRig,
    Opened,
    access_rig,
    open_everything,
    recorded_range,
)
from tests.peers.server_process import CONFIG

OWNER = "mon.granted"
ADMINISTRATOR = "east.admin"
OTHER_ADMINISTRATOR = "west.admin"
# Callers in the order they call each route: the owner last, so that a DELETE of what they
# opened leaves it for the others to be refused first.
CALLERS = ("anonymous", "mon.plain", OTHER_ADMINISTRATOR, ADMINISTRATOR, OWNER)


def application_routes() -> set[RouteKey]:
    """The routes of the web application as `farmwatch serve` builds it."""
    services = {f.name: None for f in dataclasses.fields(WebServices)}
    services["access"] = WebAccess(None, None, None)  # type: ignore[arg-type]
    app = create_web_app(
        WebServices(**services),  # type: ignore[arg-type]
        HostPolicy.build("127.0.0.1", (), ()),
        None,  # type: ignore[arg-type]
    )
    return routes_of(app)


@dataclass(frozen=True)
class Probe:
    """How to call a route, and what a caller its rule lets through gets."""

    path: Callable[[AccessRig, Opened], str]
    allowed: int
    body: Callable[[AccessRig], Any] | None = None
    overrides: dict[str, int] = field(default_factory=dict)
    """Statuses decided past the middleware (the core refuses another bureau's org)."""
    order: int = 0
    """Later probes run later: those that pause, end or log out."""


def _p(template: str) -> Callable[[AccessRig, Opened], str]:
    def path(rig: AccessRig, opened: Opened) -> str:
        return template.format(
            D=rig.device, C=rig.granted_camera, C2=rig.other_camera, LIVE=opened.live,
            PLAY=opened.playback, SEARCH=opened.search, DL=opened.download, CLIP=opened.clip,
            VICTIM=rig.victim, TOKEN=rig.east_token, EAST=rig.east, FARM=rig.farm,
            A=opened.anomaly, BC=opened.broadcast,
        )  # fmt: skip

    return path


def _range(hour: int, minutes: int, **more: Any) -> Callable[[AccessRig], Any]:
    def body(_: AccessRig) -> Any:
        start, end = recorded_range(hour, minutes)
        return {"start": start, "end": end, **more}

    return body


BAD_OFFER = {"sdp": "v=0 not an offer", "type": "offer"}
CORE_REFUSES = {OTHER_ADMINISTRATOR: 403}


START, END = recorded_range(8, 30)

K = RouteKey
PROBES: dict[RouteKey, Probe] = {
    K("POST", "/api/login"): Probe(
        _p("/api/login"), 401, lambda _: {"username": "no.one", "password": "Wrong-Pass-1"}
    ),
    K("GET", "/login"): Probe(_p("/login"), 200),
    K("GET", "/healthz"): Probe(_p("/healthz"), 200),
    K("GET", "/console/{name}"): Probe(_p("/console/main.js"), 200),
    K("GET", "/"): Probe(_p("/"), 200),
    K("GET", "/api/tree"): Probe(_p("/api/tree"), 200),
    K("POST", "/api/devices"): Probe(
        _p("/api/devices"), 201,
        lambda rig: {"device_id": "34020000001320000090", "password": "Enrol-Pass-1",
                     "farm_id": rig.farm},
        CORE_REFUSES,
    ),  # fmt: skip
    K("PUT", "/api/channels/{channel_id}/placement"): Probe(
        _p("/api/channels/{C}/placement"), 200,
        lambda _: {"key_area": "feed_store", "location": "7"},
    ),  # fmt: skip
    K("POST", "/api/logout"): Probe(_p("/api/logout"), 204, order=9),
    K("GET", "/api/me"): Probe(_p("/api/me"), 200),
    K("GET", "/api/openapi.json"): Probe(_p("/api/openapi.json"), 200),
    K("GET", "/api/docs"): Probe(_p("/api/docs"), 200),
    K("GET", "/live"): Probe(_p("/live?channel={C}"), 200),
    K("GET", "/metrics"): Probe(_p("/metrics"), 200),
    K("*", "/api/{tail}"): Probe(_p("/api/no/such/route"), 404),
    K("GET", "/api/devices"): Probe(_p("/api/devices"), 200),
    K("GET", "/api/devices/{device_id}"): Probe(_p("/api/devices/{D}"), 200),
    K("GET", "/api/devices/{device_id}/channels"): Probe(_p("/api/devices/{D}/channels"), 200),
    K("GET", "/api/devices/{device_id}/catalog"): Probe(_p("/api/devices/{D}/catalog"), 200),
    K("GET", "/api/devices/{device_id}/status"): Probe(_p("/api/devices/{D}/status"), 200),
    K("GET", "/api/devices/{device_id}/track"): Probe(_p("/api/devices/{D}/track"), 200),
    K("POST", "/api/devices/{device_id}/catalog"): Probe(_p("/api/devices/{D}/catalog"), 202),
    K("PUT", "/api/devices/{device_id}/farm"): Probe(
        _p("/api/devices/{D}/farm"), 200, lambda rig: {"farm_id": rig.farm}
    ),
    K("GET", "/api/uppers"): Probe(_p("/api/uppers"), 200),
    # This platform has no [[upper]]: past the middleware, an administrator gets 404.
    K("GET", "/api/uppers/{name}/share"): Probe(_p("/api/uppers/bureau/share"), 404),
    K("PUT", "/api/uppers/{name}/share"): Probe(
        _p("/api/uppers/bureau/share"), 404, lambda _: {"share": "all"}
    ),
    K("DELETE", "/api/uppers/{name}/share"): Probe(_p("/api/uppers/bureau/share"), 404),
    K("POST", "/api/channels/{channel_id}/live"): Probe(_p("/api/channels/{C}/live"), 201),
    K("GET", "/api/channels/{channel_id}/snapshot.jpg"): Probe(
        _p("/api/channels/{C}/snapshot.jpg"), 200
    ),
    K("GET", "/api/channels/{channel_id}/records"): Probe(
        _p(f"/api/channels/{{C}}/records?start={START}&end={END}&source=platform"), 200
    ),
    K("POST", "/api/channels/{channel_id}/playback"): Probe(
        _p("/api/channels/{C}/playback"), 201, _range(8, 30)
    ),
    K("POST", "/api/channels/{channel_id}/downloads"): Probe(
        _p("/api/channels/{C}/downloads"), 201, _range(13, 60, speed=1)
    ),
    K("POST", "/api/channels/{channel_id}/clips"): Probe(
        _p("/api/channels/{C}/clips"), 201, _range(14, 60, reason="matrix")
    ),
    K("GET", "/api/channels/{channel_id}/record-plan"): Probe(
        _p("/api/channels/{C}/record-plan"), 200
    ),
    K("PUT", "/api/channels/{channel_id}/record-plan"): Probe(
        _p("/api/channels/{C}/record-plan"), 200, lambda _: {"mode": "off"}
    ),
    # The camera's administrator steered it last: its monitor finds it held (409) for 30 s.
    K("POST", "/api/channels/{channel_id}/ptz"): Probe(
        _p("/api/channels/{C}/ptz"), 202, lambda _: {"action": "stop"}, {OWNER: 409}
    ),
    K("GET", "/api/channels/{channel_id}/ptz"): Probe(_p("/api/channels/{C}/ptz"), 200),
    K("DELETE", "/api/channels/{channel_id}/ptz"): Probe(_p("/api/channels/{C}/ptz"), 204),
    K("GET", "/api/channels/{channel_id}/presets"): Probe(_p("/api/channels/{C}/presets"), 200),
    K("GET", "/api/channels/{channel_id}/home-position"): Probe(
        _p("/api/channels/{C}/home-position"), 200
    ),
    K("GET", "/api/channels/{channel_id}/cruise-tracks"): Probe(
        _p("/api/channels/{C}/cruise-tracks"), 200
    ),
    K("GET", "/api/channels/{channel_id}/cruise-tracks/{number}"): Probe(
        _p("/api/channels/{C}/cruise-tracks/1"), 200
    ),
    K("GET", "/api/devices/{device_id}/sd-cards"): Probe(_p("/api/devices/{D}/sd-cards"), 200),
    K("GET", "/api/channels/{channel_id}/ptz/position"): Probe(
        _p("/api/channels/{C}/ptz/position"), 200
    ),
    K("POST", "/api/channels/{channel_id}/device-snapshots"): Probe(
        _p("/api/channels/{C}/device-snapshots"), 202, lambda _: {"count": 1, "interval": 1}
    ),
    K("GET", "/api/channels/{channel_id}/device-snapshots"): Probe(
        _p("/api/channels/{C}/device-snapshots"), 200
    ),
    # The picture's camera is checked past the middleware: no such picture is a 404 for all.
    K("GET", "/api/device-snapshots/{snapshot_id}.jpg"): Probe(
        _p("/api/device-snapshots/999999.jpg"), 404
    ),
    # A camera's upload needs no login, only a live token: a made-up one is a 404 for all.
    K("POST", "/api/device-snapshots/uploads/{token}"): Probe(
        _p("/api/device-snapshots/uploads/made-up-token"), 404
    ),
    K("PUT", "/api/device-snapshots/uploads/{token}"): Probe(
        _p("/api/device-snapshots/uploads/made-up-token"), 404
    ),
    # The camera's monitor opened a voice broadcast: past the middleware, the device is busy.
    K("POST", "/api/channels/{channel_id}/broadcast"): Probe(
        _p("/api/channels/{C}/broadcast"), 409
    ),
    K("GET", "/api/broadcast/{session}"): Probe(_p("/api/broadcast/{BC}"), 200),
    K("POST", "/api/broadcast/{session}/audio"): Probe(
        _p("/api/broadcast/{BC}/audio"), 202, lambda _: {"frequency": 800, "seconds": 0.1}
    ),
    K("POST", "/api/broadcast/{session}/webrtc"): Probe(
        _p("/api/broadcast/{BC}/webrtc"), 400, lambda _: BAD_OFFER
    ),
    K("DELETE", "/api/broadcast/{session}"): Probe(_p("/api/broadcast/{BC}"), 204, order=8),
    K("POST", "/api/devices/{device_id}/commands"): Probe(
        _p("/api/devices/{D}/commands"), 200, lambda _: {"command": "iframe"}
    ),
    K("GET", "/api/devices/{device_id}/config"): Probe(_p("/api/devices/{D}/config"), 200),
    # "auto" is what the camera follows anyway: the live probes after it play as before.
    K("PUT", "/api/devices/{device_id}/stream-dialect"): Probe(
        _p("/api/devices/{D}/stream-dialect"), 200, lambda _: {"dialect": "auto"}
    ),
    K("PUT", "/api/devices/{device_id}/config"): Probe(
        _p("/api/devices/{D}/config"), 200, lambda _: {"FrameMirror": {"FrameMirrorType": 0}}
    ),
    K("POST", "/api/live/{session}/webrtc"): Probe(
        _p("/api/live/{LIVE}/webrtc"), 400, lambda _: BAD_OFFER
    ),
    K("GET", "/api/live/{session}/stream.mp4"): Probe(_p("/api/live/{LIVE}/stream.mp4"), 200),
    K("GET", "/api/live/{session}/hls/{name}"): Probe(
        _p("/api/live/{LIVE}/hls/index.m3u8"), 200
    ),
    K("DELETE", "/api/live/{session}"): Probe(_p("/api/live/{LIVE}"), 204, order=8),
    K("GET", "/api/playback/{session}"): Probe(_p("/api/playback/{PLAY}"), 200),
    K("POST", "/api/playback/{session}/webrtc"): Probe(
        _p("/api/playback/{PLAY}/webrtc"), 400, lambda _: BAD_OFFER
    ),
    K("GET", "/api/playback/{session}/stream.mp4"): Probe(
        _p("/api/playback/{PLAY}/stream.mp4"), 200
    ),
    K("GET", "/api/playback/{session}/hls/{name}"): Probe(
        _p("/api/playback/{PLAY}/hls/index.m3u8"), 200
    ),
    K("POST", "/api/playback/{session}/control"): Probe(
        _p("/api/playback/{PLAY}/control"), 200, lambda _: {"action": "pause"}, order=5
    ),
    K("DELETE", "/api/playback/{session}"): Probe(_p("/api/playback/{PLAY}"), 204, order=8),
    K("GET", "/api/record-searches/{search_id}"): Probe(
        _p("/api/record-searches/{SEARCH}"), 200
    ),
    K("GET", "/api/downloads/{task_id}"): Probe(_p("/api/downloads/{DL}"), 200),
    K("GET", "/api/downloads/{task_id}/file"): Probe(_p("/api/downloads/{DL}/file"), 409),
    K("DELETE", "/api/downloads/{task_id}"): Probe(_p("/api/downloads/{DL}"), 200, order=8),
    K("GET", "/api/clips/{clip_id}"): Probe(_p("/api/clips/{CLIP}"), 200),
    K("GET", "/api/clips/{clip_id}/verify"): Probe(_p("/api/clips/{CLIP}/verify"), 409),
    K("GET", "/api/clips/{clip_id}/file"): Probe(_p("/api/clips/{CLIP}/file"), 409),
    K("GET", "/api/users"): Probe(_p("/api/users"), 200),
    K("POST", "/api/users"): Probe(
        _p("/api/users"), 201,
        lambda rig: {"username": "made.here", "organisation_id": rig.east, "role": "monitor",
                     "password": "Made-Here-Pass-1"},
        CORE_REFUSES,
    ),  # fmt: skip
    K("GET", "/api/users/{user_id}"): Probe(_p("/api/users/{VICTIM}"), 200),
    K("PUT", "/api/users/{user_id}/role"): Probe(
        _p("/api/users/{VICTIM}/role"), 200, lambda _: {"role": "monitor"}
    ),
    K("PUT", "/api/users/{user_id}/enabled"): Probe(
        _p("/api/users/{VICTIM}/enabled"), 200, lambda _: {"enabled": True}
    ),
    K("POST", "/api/users/{user_id}/unlock"): Probe(_p("/api/users/{VICTIM}/unlock"), 200),
    K("PUT", "/api/users/{user_id}/password"): Probe(
        _p("/api/users/{VICTIM}/password"), 200, lambda _: {"password": "Quite-New-Pass-1"}
    ),
    K("GET", "/api/users/{user_id}/grants"): Probe(_p("/api/users/{VICTIM}/grants"), 200),
    K("POST", "/api/users/{user_id}/grants"): Probe(
        _p("/api/users/{VICTIM}/grants"), 201,
        lambda rig: {"kind": "channel", "target": rig.other_camera},
    ),  # fmt: skip
    K("DELETE", "/api/users/{user_id}/grants/{kind}/{target}"): Probe(
        _p("/api/users/{VICTIM}/grants/channel/{C2}"), 204, order=8
    ),
    K("GET", "/api/organisations"): Probe(_p("/api/organisations"), 200),
    K("POST", "/api/organisations"): Probe(
        _p("/api/organisations"), 201,
        lambda rig: {"name": "east-branch", "tier": "branch", "parent_id": rig.east},
        CORE_REFUSES,
    ),  # fmt: skip
    K("GET", "/api/farms"): Probe(_p("/api/farms"), 200),
    K("POST", "/api/farms"): Probe(
        _p("/api/farms"), 201,
        lambda rig: {"name": "东二", "filing_number": "EAST-0002", "organisation_id": rig.east},
        CORE_REFUSES,
    ),  # fmt: skip
    K("GET", "/api/farms/{farm_id}"): Probe(_p("/api/farms/{FARM}"), 200),
    K("PUT", "/api/farms/{farm_id}"): Probe(
        _p("/api/farms/{FARM}"), 200, lambda _: {"phone": "020-8888 0000"}
    ),
    K("POST", "/api/farms/{farm_id}/state"): Probe(
        _p("/api/farms/{FARM}/state"), 200, lambda _: {"state": "surveyed"}
    ),
    K("GET", "/api/farms/{farm_id}/cameras"): Probe(_p("/api/farms/{FARM}/cameras"), 200),
    K("GET", "/api/farms/{farm_id}/documents"): Probe(_p("/api/farms/{FARM}/documents"), 200),
    # A JSON body where a multipart one is due: whoever may upload is told so (400).
    K("POST", "/api/farms/{farm_id}/documents"): Probe(
        _p("/api/farms/{FARM}/documents"), 400, lambda _: {"file": "not a file"}
    ),
    # No document was uploaded: past the middleware, whoever may look gets 404.
    K("GET", "/api/farms/{farm_id}/documents/{document_id}/file"): Probe(
        _p("/api/farms/{FARM}/documents/999999/file"), 404
    ),
    K("GET", "/api/farms/{farm_id}/documents/{document_id}/verify"): Probe(
        _p("/api/farms/{FARM}/documents/999999/verify"), 404
    ),
    K("GET", "/api/tokens"): Probe(_p("/api/tokens"), 200),
    K("POST", "/api/tokens"): Probe(
        _p("/api/tokens"), 201,
        lambda rig: {"name": "matrix", "role": "monitor", "organisation_id": rig.east},
        CORE_REFUSES,
    ),  # fmt: skip
    K("DELETE", "/api/tokens/{token_id}"): Probe(_p("/api/tokens/{TOKEN}"), 200, order=8),
    K("GET", "/api/audit"): Probe(_p("/api/audit?limit=5"), 200),
    K("GET", "/api/audit/verify"): Probe(_p("/api/audit/verify"), 200),
    K("GET", "/api/alarms"): Probe(_p("/api/alarms?device={D}"), 200),
    K("GET", "/api/alarms/events"): Probe(_p("/api/alarms/events?since_id=0&wait=0"), 200),
    # No alarm was raised: past the middleware, whoever may act gets 404.
    K("POST", "/api/alarms/{alarm_id}/ack"): Probe(
        _p("/api/alarms/999999/ack"), 404, lambda _: {"note": "seen"}
    ),
    K("POST", "/api/alarms/{alarm_id}/reset"): Probe(_p("/api/alarms/999999/reset"), 404),
    K("GET", "/api/alarms/{alarm_id}/clip/verify"): Probe(
        _p("/api/alarms/999999/clip/verify"), 404
    ),
    K("GET", "/api/alarms/{alarm_id}/clip/file"): Probe(_p("/api/alarms/999999/clip/file"), 404),
    K("GET", "/api/checklists"): Probe(_p("/api/checklists"), 200),
    # After the placement probe made the camera a 料库 camera (order 0).
    K("POST", "/api/channels/{channel_id}/monitoring-records"): Probe(
        _p("/api/channels/{C}/monitoring-records"), 201,
        lambda _: {"mode": "live", "answers": {"feed_store.approved_source": "compliant",
                                               "feed_store.labelled": "not_visible"}},
        order=1,
    ),  # fmt: skip
    K("GET", "/api/monitoring-records"): Probe(_p("/api/monitoring-records?limit=5"), 200),
    K("GET", "/api/monitoring-records.csv"): Probe(_p("/api/monitoring-records.csv"), 200),
    K("GET", "/monitoring-records/print"): Probe(_p("/monitoring-records/print"), 200),
    K("GET", "/api/monitoring-records/{record_id}"): Probe(
        _p("/api/monitoring-records/999999"), 404
    ),
    K("GET", "/api/monitoring-records/{record_id}/snapshot.jpg"): Probe(
        _p("/api/monitoring-records/999999/snapshot.jpg"), 404
    ),
    K("GET", "/api/supervision/schedule"): Probe(_p("/api/supervision/schedule"), 200),
    K("PUT", "/api/organisations/{organisation_id}/schedule"): Probe(
        _p("/api/organisations/{EAST}/schedule"), 200, lambda _: {"days": 5}, CORE_REFUSES
    ),
    # Fault tickets: lists are filtered to the farms within reach; opening one by hand needs
    # the camera in view (the core refuses the others); no ticket 999999: 404 past the rule.
    K("GET", "/api/faults"): Probe(_p("/api/faults?open=true"), 200),
    K("GET", "/api/faults/events"): Probe(_p("/api/faults/events?since_id=0&wait=0"), 200),
    K("GET", "/api/faults/statistics"): Probe(_p("/api/faults/statistics"), 200),
    K("GET", "/api/faults/farms"): Probe(_p("/api/faults/farms"), 200),
    K("POST", "/api/faults"): Probe(
        _p("/api/faults"), 201, lambda rig: {"channel_id": rig.granted_camera, "detail": "m"},
        {"mon.plain": 403, OTHER_ADMINISTRATOR: 403},
    ),
    K("GET", "/api/faults/{fault_id}"): Probe(_p("/api/faults/999999"), 404),
    K("POST", "/api/faults/{fault_id}/state"): Probe(
        _p("/api/faults/999999/state"), 404, lambda _: {"state": "fixed"}
    ),
    # Anomalies: the east farm's, reached by its administrator and the granted monitor.
    K("POST", "/api/channels/{channel_id}/anomalies"): Probe(
        _p("/api/channels/{C}/anomalies"), 201,
        lambda _: {"description": "饲料库门未关", "mode": "playback", "time": START},
    ),  # fmt: skip
    K("GET", "/api/anomalies"): Probe(_p("/api/anomalies?state=open"), 200),
    K("GET", "/api/anomalies/events"): Probe(_p("/api/anomalies/events?since_id=0&wait=0"), 200),
    K("GET", "/api/anomalies/{anomaly_id}"): Probe(_p("/api/anomalies/{A}"), 200),
    K("POST", "/api/anomalies/{anomaly_id}/rectification"): Probe(
        _p("/api/anomalies/{A}/rectification"), 200,
        lambda _: {"order": "关闭饲料库门", "deadline": "2099-01-01T18:00:00"},
    ),  # fmt: skip
    # After the order (sorted before it): east.admin records it rectified, then the monitor
    # cannot do so again.
    K("POST", "/api/anomalies/{anomaly_id}/state"): Probe(
        _p("/api/anomalies/{A}/state"), 200, lambda _: {"state": "rectified", "remark": "已关"},
        {OWNER: 409},
    ),  # fmt: skip
    K("GET", "/api/anomalies/{anomaly_id}/evidence"): Probe(_p("/api/anomalies/{A}/evidence"), 200),
    K("POST", "/api/anomalies/{anomaly_id}/evidence"): Probe(
        _p("/api/anomalies/{A}/evidence"), 201, _range(12, 1)
    ),
    K("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/verify"): Probe(
        _p("/api/anomalies/{A}/evidence/0000000000000000/verify"), 404
    ),
    K("GET", "/api/anomalies/{anomaly_id}/evidence/{clip_id}/file"): Probe(
        _p("/api/anomalies/{A}/evidence/0000000000000000/file"), 404
    ),
    K("POST", "/api/anomalies/{anomaly_id}/follow-ups"): Probe(
        _p("/api/anomalies/{A}/follow-ups"), 201, lambda _: {"monitoring_record_id": 42}
    ),
    # Spot checks: drawn among the cameras in reach (none: 409). The callers draw in turn:
    # east.admin's is check 1, mon.granted's check 2 (their one camera). A check is seen in
    # its organisation (east) and above; a result needs the camera in view, and is recorded
    # once (east.admin first: mon.granted then finds it recorded).
    K("POST", "/api/spot-checks"): Probe(
        _p("/api/spot-checks"), 201, lambda _: {"count": 1},
        {"mon.plain": 409, OTHER_ADMINISTRATOR: 409},
    ),
    K("GET", "/api/spot-checks"): Probe(_p("/api/spot-checks"), 200),
    K("GET", "/api/spot-checks/report"): Probe(_p("/api/spot-checks/report"), 200),
    K("GET", "/api/overview"): Probe(_p("/api/overview"), 200),
    K("GET", "/api/spot-checks/{spot_check_id}"): Probe(
        _p("/api/spot-checks/2"), 200, overrides={OTHER_ADMINISTRATOR: 404}, order=1
    ),
    K("GET", "/api/spot-checks/{spot_check_id}/verify"): Probe(
        _p("/api/spot-checks/2/verify"), 200, overrides={OTHER_ADMINISTRATOR: 404}, order=1
    ),
    K("POST", "/api/spot-checks/{spot_check_id}/items/{position}/result"): Probe(
        _p("/api/spot-checks/2/items/1/result"), 200,
        lambda _: {"state": "unplayable", "remark": "无码流"},
        {"mon.plain": 403, OTHER_ADMINISTRATOR: 404, OWNER: 409}, order=1,
    ),
    K("GET", "/api/channels/{channel_id}/diagnosis"): Probe(_p("/api/channels/{C}/diagnosis"), 200),
    K("POST", "/api/channels/{channel_id}/diagnosis"): Probe(
        _p("/api/channels/{C}/diagnosis"), 200
    ),
    K("GET", "/api/diagnosis"): Probe(_p("/api/diagnosis?failed=true"), 200),
}  # fmt: skip


def expected_status(rule: Rule, probe: Probe, caller: str) -> int:
    """What `caller` must get, from the route's rule alone (then the probe's own answer)."""
    if rule.who is Who.ANYONE:
        return probe.allowed
    if caller == "anonymous":
        return 303 if rule.page else 401
    is_administrator = caller in (ADMINISTRATOR, OTHER_ADMINISTRATOR)
    if rule.who is Who.ADMINISTRATOR and not is_administrator:
        return 403
    target = rule.target
    if target in (Target.CHANNEL, Target.DEVICE, Target.ANOMALY):
        # The camera's (its farm's) administrator, its monitor.
        allowed = caller in (ADMINISTRATOR, OWNER)
    elif target in (Target.USER, Target.TOKEN):
        allowed = caller == ADMINISTRATOR  # of the account's bureau
    elif target is Target.FARM:
        allowed = caller in (ADMINISTRATOR, OWNER)  # the farm's administrator, its monitor
    elif target is not None:
        allowed = caller == OWNER  # who opened it, and nobody else
    else:
        allowed = True
    if not allowed:
        return 403
    return probe.overrides.get(caller, probe.allowed)


async def test_every_route_answers_each_caller_as_its_rule_says(tmp_path: Path) -> None:
    routes = application_routes()
    assert routes == set(ROUTE_RULES)
    missing = sorted(str(key) for key in routes - PROBES.keys())
    assert not missing, f"routes without a probe in this test: {missing}"
    # Nothing watches the playback opened here while every route is probed, which on a slow
    # machine takes longer than a stream without viewers is kept (`idle_close`).
    async with access_rig(tmp_path, {"FARMWATCH_MEDIA_IDLE_CLOSE": "600"}) as rig:
        opened = await open_everything(rig)
        wrong: list[str] = []
        for key in sorted(routes, key=lambda k: (PROBES[k].order, str(k))):
            probe, rule = PROBES[key], ROUTE_RULES[key]
            method = "GET" if key.method == "*" else key.method
            path = probe.path(rig, opened)
            for name in CALLERS:
                body = probe.body(rig) if probe.body is not None else None
                status, answer = await rig.people[name].request(method, path, body)
                wanted = expected_status(rule, probe, name)
                if status != wanted:
                    wrong.append(f"{method} {path} as {name}: {status} {answer}, expected {wanted}")
        assert not wrong, "\n".join(wrong)


async def _names_in_tree(caller: Any, device: str) -> set[str]:
    status, body = await caller.request("GET", f"/api/devices/{device}/channels")
    if status != 200:
        return set()
    found, pending = set(), list(body["channels"])
    while pending:
        node = pending.pop()
        if node["kind"] == "channel":
            found.add(node["channel_id"])
        pending.extend(node["children"])
    return found


async def test_lists_and_trees_hold_only_what_each_caller_may_see(tmp_path: Path) -> None:
    async with access_rig(tmp_path) as rig:
        people, device = rig.people, rig.device
        seen = {}
        for name in ("mon.plain", OTHER_ADMINISTRATOR, ADMINISTRATOR, OWNER):
            status, page = await people[name].request("GET", "/api/devices")
            assert status == 200
            seen[name] = ([d["device_id"] for d in page["devices"]], page["total"])
        assert seen == {
            "mon.plain": ([], 0),
            OTHER_ADMINISTRATOR: ([], 0),
            ADMINISTRATOR: ([device], 1),
            OWNER: ([device], 1),
        }
        assert await _names_in_tree(people[OWNER], device) == {rig.granted_camera}
        assert await _names_in_tree(people[ADMINISTRATOR], device) == {
            rig.granted_camera, rig.other_camera,
        }  # fmt: skip
        status, page = await rig.top.request("GET", "/api/users")
        assert status == 200 and len(page["users"]) == 6
        status, page = await people[ADMINISTRATOR].request("GET", "/api/users")
        east = {"east.admin", "mon.granted", "mon.plain", "victim"}
        assert {user["username"] for user in page["users"]} == east
        status, page = await people[OTHER_ADMINISTRATOR].request("GET", "/api/organisations")
        assert [org["name"] for org in page["organisations"]] == ["west"]
        # The monitor's camera plays for them; the other camera of the same device does not.
        owner = people[OWNER]
        assert (await owner.request("POST", f"/api/channels/{rig.other_camera}/live"))[0] == 403
        status, live = await owner.request("POST", f"/api/channels/{rig.granted_camera}/live")
        assert status == 201, live
        # A grant taken away stops the session's outputs at once.
        grant = f"/api/users/{owner.user_id}/grants/channel/{rig.granted_camera}"
        assert (await rig.top.request("DELETE", grant))[0] == 204
        assert (await owner.request("GET", live["hls"]))[0] == 403
        assert (await owner.request("GET", "/api/devices"))[1]["total"] == 0


async def test_a_copied_media_url_plays_only_for_the_login_that_opened_it(
    tmp_path: Path,
) -> None:
    async with access_rig(tmp_path) as rig:
        owner = rig.people[OWNER]
        status, live = await owner.request("POST", f"/api/channels/{rig.granted_camera}/live")
        assert status == 201, live
        assert (await owner.request("GET", live["fmp4"]))[0] == 200
        # The same person in another browser (another login), and the camera's administrator.
        again = rig.caller("mon.granted, second login")
        await again.log_in(OWNER, "People-Pass-2024")
        for other in (again, rig.people[ADMINISTRATOR]):
            status, body = await other.request("GET", live["fmp4"])
            assert status == 403 and "another login" in body["error"], body
            assert (await other.request("GET", live["hls"]))[0] == 403
            assert (await other.request("DELETE", f"/api/live/{live['session']}"))[0] == 403
        # A bearer token of the camera's organisation does no better.
        status, _ = await owner.request("GET", live["fmp4"], headers=rig.rig.server.auth_headers)
        assert status == 403
        # The owner's logout ends the session: its URLs are gone for everyone.
        assert (await owner.request("POST", "/api/logout"))[0] == 204
        assert (await again.request("GET", live["fmp4"]))[0] == 404
        assert (await owner.request("GET", live["fmp4"]))[0] == 401


def _audit_rows(database: Path) -> list[dict[str, Any]]:
    with sqlite3.connect(database) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute("SELECT * FROM audit_log ORDER BY id")]


async def test_media_access_leaves_audit_rows_and_an_edited_row_is_named(
    tmp_path: Path,
) -> None:
    async with access_rig(tmp_path) as rig:
        opened = await open_everything(rig)
        owner, plain, camera = rig.people[OWNER], rig.people["mon.plain"], rig.granted_camera
        assert (await owner.request("GET", f"/api/channels/{camera}/snapshot.jpg"))[0] == 200
        assert (await owner.request("DELETE", f"/api/live/{opened.live}"))[0] == 204
        assert (await plain.request("POST", f"/api/channels/{camera}/live"))[0] == 403
        assert (await plain.request("GET", f"/api/live/{opened.live}/stream.mp4"))[0] == 404
        status, page = await rig.top.request("GET", "/api/audit?limit=40")
        assert status == 200
        rows = [row for row in page["rows"] if row["channel_id"] == camera]
        by_action = {(row["action"], row["actor"]["name"], row["result"]) for row in rows}
        for action in ("live_start", "playback", "record_search", "download", "clip_export",
                       "snapshot", "live_stop"):  # fmt: skip
            assert (action, OWNER, "ok") in by_action, action
        assert ("live_start", "mon.plain", "denied") in by_action
        recorded = {row["action"]: row for row in rows if row["recorded_start"]}
        assert set(recorded) >= {"playback", "record_search", "download", "clip_export"}
        playback = recorded["playback"]
        assert playback["detail"]["id"] == opened.playback
        assert all(row["source"] == "127.0.0.1" for row in rows)
        assert {row["organisation_id"] for row in rows} == {rig.east}

        # Someone edits one row in the database: the chain names it.
        database = rig.rig.server.log_path.parent / "data" / DATABASE_FILE_NAME
        edited = next(r for r in _audit_rows(database) if r["action"] == "live_start")
        with sqlite3.connect(database) as connection:
            connection.execute(
                "UPDATE audit_log SET actor_name = 'someone.else' WHERE id = ?", (edited["id"],)
            )
        status, verified = await rig.top.request("GET", "/api/audit/verify")
        assert status == 200 and not verified["intact"]
        assert verified["row_id"] == edited["id"]
        env = {
            **os.environ,
            "FARMWATCH_STORAGE_DIR": str(database.parent),
        }
        result = subprocess.run(
            [sys.executable, "-m", "farmwatch", "audit", "verify", "--config", str(CONFIG)],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 1, result.stdout + result.stderr
        assert f"audit trail broken at row {edited['id']}" in result.stdout
