"""Video quality diagnosis over HTTP (issue 11 item 5).

`GET /api/channels/{channel_id}/diagnosis?limit=`: the camera's state (failing now or not,
what failed) and its newest samples (the first is the latest result; default 20, at most
500). `GET /api/diagnosis?failed=true|false`: the state of every sampled camera the caller
may see (`failed=true`: only those failing now). `POST /api/channels/{channel_id}/diagnosis`
(administrator): sample the camera now; answers the sample.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from farmwatch.platform.errors import InvalidInput
from farmwatch.platform.supervision.diagnosis import CameraPictureState, PictureSample
from farmwatch.web.authorization import principal_of
from farmwatch.web.keys import DIAGNOSIS
from farmwatch.web.routes.devices import int_param

__all__ = ["routes", "sample_view", "state_view"]

routes = web.RouteTableDef()

DEFAULT_HISTORY = 20
MAX_HISTORY = 500


def sample_view(sample: PictureSample) -> dict[str, Any]:
    m = sample.measurements
    return {
        "sampled_at": sample.sampled_at.isoformat(),
        "outcome": sample.outcome.value,
        "failures": [fault.value for fault in sample.failures],
        "detail": sample.detail,
        "measurements": None if m is None else {
            "mean_luma": round(m.mean_luma, 3), "luma_std": round(m.luma_std, 3),
            "sharpness": round(m.sharpness, 5), "chroma_offset": round(m.chroma_offset, 3),
            "difference": None if m.difference is None else round(m.difference, 4),
        },
    }  # fmt: skip


def state_view(state: CameraPictureState) -> dict[str, Any]:
    return {
        "channel_id": state.channel_id,
        "failed": state.is_failed,
        "failures": [fault.value for fault in state.failures],
        "last_sampled_at": state.sampled_at.isoformat(),
        "last_outcome": state.outcome.value,
        "detail": state.detail,
    }


def _failed_param(request: web.Request) -> bool:
    text = request.query.get("failed", "false").lower()
    if text not in ("true", "false"):
        raise InvalidInput(f"failed: expected true or false, got {text[:20]!r}")
    return text == "true"


@routes.get("/channels/{channel_id}/diagnosis")
async def camera_diagnosis(request: web.Request) -> web.Response:
    limit = max(int_param(request, "limit", DEFAULT_HISTORY, MAX_HISTORY), 1)
    found = await request.app[DIAGNOSIS].camera(request.match_info["channel_id"], limit=limit)
    return web.json_response(
        {
            "channel_id": found.channel_id,
            "state": None if found.state is None else state_view(found.state),
            "latest": sample_view(found.history[0]) if found.history else None,
            "history": [sample_view(sample) for sample in found.history],
        }
    )


@routes.post("/channels/{channel_id}/diagnosis")
async def sample_camera(request: web.Request) -> web.Response:
    sample = await request.app[DIAGNOSIS].sample_now(request.match_info["channel_id"])
    return web.json_response({"channel_id": sample.channel_id, **sample_view(sample)})


@routes.get("/diagnosis")
async def list_diagnosis(request: web.Request) -> web.Response:
    service = request.app[DIAGNOSIS]
    states = await service.cameras(principal_of(request), failed_only=_failed_param(request))
    return web.json_response({"cameras": [state_view(state) for state in states]})
