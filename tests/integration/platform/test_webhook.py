"""`[supervision] webhook_url` against a real HTTP server on 127.0.0.1: the anomaly's JSON is
POSTed; a server that answers 500, one that never answers (the bounded timeout) and a port
where nothing listens are each logged and counted, and `send` never waits for any of them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from farmwatch.platform.supervision.webhook import Webhook
from tests.peers.raw_sip import free_port

PAYLOAD = {"event": "anomaly_reported", "anomaly": {"id": 7, "description": "饲料库门未关"}}


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[Any], asyncio.Event]]:
    received: list[Any] = []
    release = asyncio.Event()

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    async def broken(request: web.Request) -> web.Response:
        return web.json_response({"error": "down"}, status=500)

    async def stuck(request: web.Request) -> web.Response:
        await release.wait()
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_post("/broken", broken)
    app.router.add_post("/stuck", stuck)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}", received, release
    finally:
        release.set()
        await runner.cleanup()


async def test_the_anomaly_is_posted_as_json(
    receiver: tuple[str, list[Any], asyncio.Event],
) -> None:
    base, received, _ = receiver
    webhook = Webhook(f"{base}/hook")
    await webhook.start()
    webhook.send(PAYLOAD, about="anomaly 7")
    await webhook.close()  # waits for the POST under way
    assert received == [PAYLOAD]
    assert (webhook.sent, webhook.failed) == (1, 0)


@pytest.mark.parametrize("path", ["/broken", "/stuck", "unreachable"])
async def test_failures_are_logged_never_waited_for(
    receiver: tuple[str, list[Any], asyncio.Event], path: str, caplog: pytest.LogCaptureFixture
) -> None:
    base, received, _ = receiver
    url = f"http://127.0.0.1:{free_port()}/hook" if path == "unreachable" else base + path
    webhook = Webhook(url, timeout=0.5)
    await webhook.start()
    began = time.monotonic()
    with caplog.at_level(logging.WARNING):
        webhook.send(PAYLOAD, about="anomaly 7")
        assert time.monotonic() - began < 0.05  # the report is answered without waiting
        async with asyncio.timeout(5):
            while webhook.failed == 0:
                await asyncio.sleep(0.05)
    await webhook.close()
    assert (webhook.sent, webhook.failed) == (0, 1) and received == []
    assert any("webhook anomaly 7" in record.getMessage() for record in caplog.records)


async def test_no_url_sends_nothing() -> None:
    webhook = Webhook("")
    await webhook.start()
    webhook.send(PAYLOAD, about="anomaly 7")
    await webhook.close()
    assert (webhook.sent, webhook.failed, webhook.is_enabled) == (0, 0, False)
