"""The requests a simulated device sends inside a call's dialog (RFC 3261 §12.2.1; ref. §4.12).

Owns building and sending the device's own in-dialog requests: BYE (`hang_up`) and, at the
end of a playback or download, the MediaStatus 121 MESSAGE (gb28181.md §4.12, §11.6). Each
goes to the address the INVITE came from, Request-URI the INVITE's Contact, From our To of
the 200 (the channel's URI with our tag), To the INVITE's From, the call's Call-ID and the
dialog's own CSeq count (`DeviceCall.local_cseq`). The MediaStatus tasks belong to this
object: `close()` cancels them. A request that fails or times out is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from farmwatch.simulator.call import DeviceCall
from farmwatch.sipserver.device_requests import MANSCDP_CONTENT_TYPE
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.errors import SipError
from farmwatch.sipserver.gb.manscdp_build import build_media_status
from farmwatch.sipserver.sip.message import SipResponse
from farmwatch.sipserver.sip.request_builder import build_request

__all__ = ["DialogRequests"]

log = logging.getLogger(__name__)


class DialogRequests:
    """Sends one device's BYEs and MediaStatus MESSAGEs inside its calls' dialogs."""

    def __init__(
        self, endpoint: SipEndpoint, *, request_timeout: float, on_change: Callable[[], None]
    ) -> None:
        self._endpoint = endpoint
        self._request_timeout = request_timeout
        self._on_change = on_change
        self._tasks: set[asyncio.Task[Any]] = set()
        self._media_status_sn = 0

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def send_bye(self, call: DeviceCall) -> None:
        response = await self._request(call, "BYE")
        if response is not None:
            log.info("channel %s: call %s hung up (%d)", call.channel_id, call.key.call_id,
                     response.status)  # fmt: skip

    def send_media_status(self, call: DeviceCall) -> None:
        """MediaStatus 121 in the call's dialog, in a task of ours (counted once answered)."""
        task = asyncio.get_running_loop().create_task(self._media_status(call))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Isolation boundary: one MediaStatus of one call.
            log.error("MediaStatus task failed", exc_info=task.exception())

    async def _media_status(self, call: DeviceCall) -> None:
        self._media_status_sn = self._media_status_sn % 2_000_000_000 + 1
        body = build_media_status(call.channel_id, self._media_status_sn)
        response = await self._request(call, "MESSAGE", body, MANSCDP_CONTENT_TYPE)
        if response is None:
            return
        log.info("channel %s: MediaStatus 121 of call %s answered %d", call.channel_id,
                 call.key.call_id, response.status)  # fmt: skip
        if response.is_success:
            call.media_status_sent += 1
            self._on_change()

    async def _request(
        self, call: DeviceCall, method: str, body: bytes = b"", content_type: str | None = None
    ) -> SipResponse | None:
        """Send a request in the call's dialog; its final response, None if none came."""
        invite = call.invite
        contact = invite.contact
        call.local_cseq += 1
        request = build_request(
            method, str(contact.uri) if contact is not None else str(invite.from_.uri),
            from_=call.local_party, to=invite.headers.get("From") or "",
            call_id=call.key.call_id, cseq=call.local_cseq,
            user_agent=self._endpoint.settings.user_agent, body=body, content_type=content_type,
        )  # fmt: skip
        try:
            async with asyncio.timeout(self._request_timeout):
                return await self._endpoint.request(request, call.source)
        except (SipError, TimeoutError) as error:
            log.warning("channel %s: %s in call %s failed: %r", call.channel_id, method,
                        call.key.call_id, error)  # fmt: skip
            return None
