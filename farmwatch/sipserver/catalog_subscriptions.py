"""Subscriptions to devices (GB/T 28181-2016 §9.11, Annex P; gb28181.md §5): the catalog,
and where configured alarms and mobile position, one `Subscriptions` per kind.

One subscription of a kind per device: SUBSCRIBE with the kind's `Event` (`Catalog;id=<n>`,
or `presence`) and body (Query/Catalog, Query/Alarm, Query/MobilePosition; the values are
in `subscription_kinds`); the dialog (Call-ID, tags, the device's Contact) is kept; a
refresh is sent inside the dialog at 80 % of the granted expiry. NOTIFYs are answered by
the inbox, which calls `notified` of the kind their CmdType names. Deadlines are driven by
`DeviceAccess`'s single timer.

Never two live subscriptions of a kind per device (the decisions are in
`subscription_policy`):
* the SUBSCRIBE exchanges with one device take turns, so a first contact and a refresh
  never both create a dialog;
* a device going offline keeps its dialog (unrefreshed); when it is back the dialog is
  refreshed in place rather than replaced by a second one;
* a refused or unanswered refresh (481, timeout) is followed at once by a fresh
  subscription, after ending the old dialog (best effort, not awaited) unless the device
  said it no longer has it;
* a NOTIFY in a dialog that is not the current one (left by a platform restart, or a
  SUBSCRIBE whose 200 was lost) is adopted when the device has none, ended otherwise.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from farmwatch.sipserver.device_requests import SubscriptionDialog, build_subscribe, target_uri
from farmwatch.sipserver.errors import SipError, TransactionFailed
from farmwatch.sipserver.sip.deadline_queue import DeadlineQueue
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.request_builder import new_call_id, new_tag
from farmwatch.sipserver.subscription_kinds import CATALOG, SubscriptionKind
from farmwatch.sipserver.subscription_policy import (
    EndedDialogs,
    NotifyVerdict,
    SubscriptionPlan,
    dialog_of_notify,
    judge_notify,
    plan_subscription,
    should_end_after_failed_refresh,
)

if TYPE_CHECKING:
    from farmwatch.sipserver.device_access import DeviceAccess

log = logging.getLogger(__name__)

REFRESH_AT = 0.8
RETRY_AFTER = 60.0
ENDED_REMEMBERED = 4096
"""Ended dialogs remembered so that their late NOTIFYs are ignored, not adopted."""


@dataclass(slots=True)
class _Turn:
    """The SUBSCRIBE exchanges waiting for one device: one runs at a time."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class Subscriptions:
    """One kind of subscription (`kind`) to every device that should hold one."""

    def __init__(self, access: DeviceAccess, kind: SubscriptionKind = CATALOG) -> None:
        self._access = access
        self.kind = kind
        self._dialogs: dict[str, SubscriptionDialog] = {}
        self._due: DeadlineQueue[str] = DeadlineQueue()
        self._turns: dict[str, _Turn] = {}
        self._ended = EndedDialogs(ENDED_REMEMBERED)

    def __contains__(self, device_id: object) -> bool:
        return device_id in self._dialogs

    def dialog(self, device_id: str) -> SubscriptionDialog | None:
        return self._dialogs.get(device_id)

    async def subscribe(self, device_id: str) -> None:
        """Make sure an online device holds our subscription: refresh it, else create it.

        Raises SipError when a new subscription is refused (a retry is scheduled).
        """
        async with self._turn(device_id):
            access = self._access
            if not access.is_online(device_id):
                return  # a dialog we hold waits for the device to be back
            dialog = self._dialogs.get(device_id)
            if dialog is not None:
                if plan_subscription(dialog, access.now()) is SubscriptionPlan.REFRESH:
                    if await self._refresh_in_place(dialog) or device_id in self._dialogs:
                        return  # refreshed, or kept for when the device is back
                else:
                    # Never answered or lapsed on the device: nothing there to end.
                    self._dialogs.pop(device_id, None)
            await self._create(device_id)

    async def unsubscribe(self, device_id: str) -> None:
        async with self._turn(device_id):
            dialog = self._dialogs.pop(device_id, None)
            self._due.cancel(device_id)
            if dialog is None or self._access.table.get(device_id) is None:
                return
            self._ended.add(dialog.call_id)
            try:
                await self._send(replace(dialog, cseq=dialog.cseq + 1), 0)
            except SipError as error:
                log.info("unsubscribe from %s failed: %s", device_id, error)

    def suspend(self, device_id: str) -> None:
        """The device went offline: its dialog is kept, not refreshed meanwhile.

        When the device is back, `subscribe` refreshes that dialog instead of adding a
        second one (the device may well have kept it). A dialog that lapses before that
        is dropped then (`tick`): the device has dropped it too.
        """
        dialog = self._dialogs.get(device_id)
        self._due.schedule(device_id, dialog.expires_at if dialog is not None else None)
        self._access.rearm()

    def resume(self, device_id: str) -> None:
        """The device is back: refresh the dialog kept while it was away, if any, now."""
        if device_id in self._dialogs:
            self._due.schedule(device_id, self._access.now())
            self._access.rearm()

    def forget(self, device_id: str) -> None:
        """The device ended the subscription itself: there is nothing left to end."""
        self._dialogs.pop(device_id, None)
        self._due.cancel(device_id)

    # -- the exchanges (each runs in the device's turn) -------------------------------

    async def _refresh_in_place(self, dialog: SubscriptionDialog) -> bool:
        """SUBSCRIBE inside `dialog`; False when it failed (then it is dropped, and ended
        unless the device said it has no such dialog) or the device went away meanwhile
        (then it is kept)."""
        device_id = dialog.device_id
        refreshed = replace(dialog, cseq=dialog.cseq + 1)
        self._dialogs[device_id] = refreshed
        try:
            granted, response = await self._send(refreshed, self._expires)
        except SipError as error:
            status = error.response.status if isinstance(error, TransactionFailed) else None
            if status != 481 and not self._access.is_online(device_id):
                log.info("%s subscription refresh of %s failed while it went offline: %s",
                         self.kind.name, device_id, error)  # fmt: skip
                return False
            log.info("%s subscription refresh of %s failed (%s): subscribing afresh",
                     self.kind.name, device_id, error)  # fmt: skip
            if self._dialogs.get(device_id) is refreshed:
                del self._dialogs[device_id]
            if should_end_after_failed_refresh(status):
                self._end_later(refreshed)
            return False
        self._confirmed(refreshed, response, granted)
        return True

    async def _create(self, device_id: str) -> None:
        access = self._access
        registration = access.table.get(device_id)
        if registration is None:
            return
        local = access.endpoint.local_host_for(registration.address)
        dialog = SubscriptionDialog(
            device_id=device_id,
            call_id=new_call_id(local),
            local_tag=new_tag(),
            remote_tag=None,
            remote_target=target_uri(device_id, registration.address),
            event=self.kind.event(access.next_sn()),
            cseq=1,
        )
        # Held before sending: a NOTIFY overtaking the 200 is then recognised as ours.
        self._dialogs[device_id] = dialog
        try:
            granted, response = await self._send(dialog, self._expires)
        except SipError:
            if self._dialogs.get(device_id) is dialog:
                del self._dialogs[device_id]
            self._due.schedule(device_id, access.now() + RETRY_AFTER)
            access.rearm()
            raise
        self._confirmed(dialog, response, granted)

    def _confirmed(self, dialog: SubscriptionDialog, response: SipResponse, granted: int) -> None:
        """A 2xx to a SUBSCRIBE in `dialog`: learn the device's tag and target, plan the
        refresh (unless the dialog was ended meanwhile)."""
        access = self._access
        device_id = dialog.device_id
        current = self._dialogs.get(device_id)
        if current is None or current.call_id != dialog.call_id:
            return
        now = access.now()
        contact = response.contact
        self._dialogs[device_id] = replace(
            current,
            remote_tag=response.to.tag or current.remote_tag,
            remote_target=str(contact.uri) if contact is not None else current.remote_target,
            expires_at=now + granted,
        )
        self._due.schedule(device_id, now + max(granted, 30) * REFRESH_AT)
        access.rearm()

    def _end_later(self, dialog: SubscriptionDialog) -> None:
        """End `dialog` (SUBSCRIBE Expires: 0 inside it), best effort, without waiting."""
        self._ended.add(dialog.call_id)
        self._access.spawn(self._end(replace(dialog, cseq=dialog.cseq + 1)))

    async def _end(self, dialog: SubscriptionDialog) -> None:
        try:
            await self._send(dialog, 0)
        except SipError as error:
            log.info("ending an old %s subscription of %s (Call-ID %s) failed: %s",
                     self.kind.name, dialog.device_id, dialog.call_id, error)  # fmt: skip

    @property
    def _expires(self) -> int:
        return self.kind.expires(self._access.settings)

    async def _send(self, dialog: SubscriptionDialog, expires: int) -> tuple[int, SipResponse]:
        """One SUBSCRIBE in `dialog`; the granted expiry and the 2xx, else SipError."""
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
            body=self.kind.body(
                access.next_sn(),
                dialog.device_id,
                access.charset_for(dialog.device_id),
                access.settings,
            ),  # fmt: skip
            local_host=access.endpoint.local_host_for(dest),
            local_port=access.endpoint.port,
        )
        response = await access.endpoint.request(request, dest)
        if not response.is_success:
            raise TransactionFailed(response)
        granted = response.expires
        return (granted if granted is not None else expires), response

    @asynccontextmanager
    async def _turn(self, device_id: str) -> AsyncIterator[None]:
        """One SUBSCRIBE exchange with a device at a time: two overlapping ones could each
        create a dialog, leaving the device with two subscriptions."""
        turn = self._turns.get(device_id)
        if turn is None:
            turn = self._turns[device_id] = _Turn()
        turn.users += 1
        try:
            async with turn.lock:
                yield
        finally:
            turn.users -= 1
            if turn.users == 0:
                del self._turns[device_id]

    # -- NOTIFY and the timer -----------------------------------------------------------

    def notified(self, device_id: str, request: SipRequest) -> None:
        """A NOTIFY arrived (and was answered 200) from a registered device."""
        state = (request.headers.get("Subscription-State") or "").strip().lower()
        is_terminated = state.startswith("terminated")
        verdict = judge_notify(
            self._dialogs.get(device_id),
            request.call_id,
            is_terminated=is_terminated,
            was_ended=request.call_id in self._ended,
        )
        access = self._access
        match verdict:
            case NotifyVerdict.OURS if is_terminated:
                self.forget(device_id)
                self._due.schedule(device_id, access.now() + RETRY_AFTER)
                access.rearm()
            case NotifyVerdict.ADOPT:
                dialog = dialog_of_notify(device_id, request, self.kind.event_package)
                if dialog is None:
                    return
                log.info("device %s: adopting its %s subscription (Call-ID %s) that we "
                         "held no dialog for", device_id, self.kind.name,
                         request.call_id)  # fmt: skip
                self._dialogs[device_id] = dialog
                # Refreshed at once: confirms the dialog and learns its expiry.
                self._due.schedule(device_id, access.now())
                access.rearm()
            case NotifyVerdict.END:
                dialog = dialog_of_notify(device_id, request, self.kind.event_package)
                if dialog is None:
                    return
                log.info("device %s: ending a second %s subscription (Call-ID %s)",
                         device_id, self.kind.name, request.call_id)  # fmt: skip
                self._end_later(dialog)
            case _:
                pass

    def next_deadline(self) -> float | None:
        return self._due.next_deadline()

    def tick(self, now: float) -> None:
        for device_id in self._due.pop_due(now):
            if self._access.is_online(device_id):
                self._access.spawn(self._refresh(device_id))
                continue
            dialog = self._dialogs.get(device_id)
            if dialog is None or dialog.expires_at is None:
                continue  # a retry, or a dialog of unknown expiry kept for the device's return
            if dialog.expires_at <= now:
                log.info("%s subscription of offline device %s lapsed", self.kind.name, device_id)
                del self._dialogs[device_id]
            else:
                self._due.schedule(device_id, dialog.expires_at)

    async def _refresh(self, device_id: str) -> None:
        try:
            await self.subscribe(device_id)
        except SipError as error:
            log.info("%s subscription refresh of %s failed: %s", self.kind.name, device_id, error)
