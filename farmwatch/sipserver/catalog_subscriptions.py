"""Catalog subscriptions to devices (GB/T 28181-2016 §9.11, Annex P; gb28181.md §5).

One subscription per device: SUBSCRIBE with `Event: Catalog;id=<n>` and a Query/Catalog
body; the dialog (Call-ID, tags, the device's Contact) is kept; a refresh is sent inside
the dialog at 80 % of the granted expiry, and a refused refresh (481, timeout) starts
a fresh subscription. NOTIFYs are answered by the inbox, which calls `notified`.
Deadlines are driven by `DeviceAccess`'s single timer.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from farmwatch.sipserver.device_requests import SubscriptionDialog, build_subscribe, target_uri
from farmwatch.sipserver.errors import SipError, TransactionFailed
from farmwatch.sipserver.gb.manscdp_build import build_catalog_query
from farmwatch.sipserver.sip.deadline_queue import DeadlineQueue
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.request_builder import new_call_id, new_tag

if TYPE_CHECKING:
    from farmwatch.sipserver.device_access import DeviceAccess

log = logging.getLogger(__name__)

REFRESH_AT = 0.8
RETRY_AFTER = 60.0


class CatalogSubscriptions:
    def __init__(self, access: DeviceAccess) -> None:
        self._access = access
        self._dialogs: dict[str, SubscriptionDialog] = {}
        self._due: DeadlineQueue[str] = DeadlineQueue()

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._dialogs

    def dialog(self, device_id: str) -> SubscriptionDialog | None:
        return self._dialogs.get(device_id)

    async def subscribe(self, device_id: str) -> None:
        """Create (or refresh) the device's catalog subscription; raises SipError if refused."""
        access = self._access
        registration = access.table.get(device_id)
        if registration is None:
            return
        dialog = self._dialogs.get(device_id)
        if dialog is None:
            local = access.endpoint.local_host_for(registration.address)
            dialog = SubscriptionDialog(
                device_id=device_id,
                call_id=new_call_id(local),
                local_tag=new_tag(),
                remote_tag=None,
                remote_target=target_uri(device_id, registration.address),
                event=f"Catalog;id={access.next_sn()}",
                cseq=1,
            )
        else:
            dialog = replace(dialog, cseq=dialog.cseq + 1)
        self._dialogs[device_id] = dialog
        expires = access.settings.catalog_subscription_expires
        try:
            granted = await self._send(dialog, expires)
        except SipError:
            self._dialogs.pop(device_id, None)
            self._due.schedule(device_id, access.now() + RETRY_AFTER)
            access.rearm()
            raise
        self._due.schedule(device_id, access.now() + max(granted, 30) * REFRESH_AT)
        access.rearm()

    async def unsubscribe(self, device_id: str) -> None:
        dialog = self._dialogs.pop(device_id, None)
        self._due.cancel(device_id)
        if dialog is None or self._access.table.get(device_id) is None:
            return
        try:
            await self._send(replace(dialog, cseq=dialog.cseq + 1), 0)
        except SipError as error:
            log.info("unsubscribe from %s failed: %s", device_id, error)

    def forget(self, device_id: str) -> None:
        """The device went offline: its dialog is gone with it."""
        self._dialogs.pop(device_id, None)
        self._due.cancel(device_id)

    async def _send(self, dialog: SubscriptionDialog, expires: int) -> int:
        access = self._access
        registration = access.table.get(dialog.device_id)
        if registration is None:
            raise SipError(f"device {dialog.device_id} is not registered")
        dest = registration.address
        request = build_subscribe(
            access.originator,
            dialog,
            dest=dest,
            expires=expires,
            body=build_catalog_query(
                access.next_sn(), dialog.device_id, access.charset_for(dialog.device_id)
            ),
            local_host=access.endpoint.local_host_for(dest),
            local_port=access.endpoint.port,
        )
        response = await access.endpoint.request(request, dest)
        if not response.is_success:
            if response.status == 481:
                self._dialogs.pop(dialog.device_id, None)
            raise TransactionFailed(response)
        contact = response.contact
        current = self._dialogs.get(dialog.device_id)
        if current is not None and current.call_id == dialog.call_id:
            self._dialogs[dialog.device_id] = replace(
                current,
                remote_tag=response.to.tag or current.remote_tag,
                remote_target=str(contact.uri) if contact is not None else current.remote_target,
            )
        granted = response.expires
        return granted if granted is not None else expires

    def notified(self, device_id: str, request: SipRequest) -> None:
        """A NOTIFY arrived; `Subscription-State: terminated` ends the dialog."""
        state = (request.headers.get("Subscription-State") or "").strip().lower()
        if state.startswith("terminated"):
            dialog = self._dialogs.get(device_id)
            if dialog is not None and dialog.call_id == request.call_id:
                self.forget(device_id)
                self._due.schedule(device_id, self._access.now() + RETRY_AFTER)
                self._access.rearm()

    def next_deadline(self) -> float | None:
        return self._due.next_deadline()

    def tick(self, now: float) -> None:
        for device_id in self._due.pop_due(now):
            if self._access.is_online(device_id):
                self._access.spawn(self._refresh(device_id))

    async def _refresh(self, device_id: str) -> None:
        try:
            await self.subscribe(device_id)
        except SipError as error:
            log.info("catalog subscription refresh of %s failed: %s", device_id, error)
