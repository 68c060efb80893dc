"""The notifier side of subscriptions (GB/T 28181-2016 §9.11, Annex P; ref. §5, §11.10):
the catalog, and where `kinds` allows, alarms and mobile position.

`CatalogNotifier.handle_subscribe` accepts a SUBSCRIBE whose body is a Catalog query (or,
among `kinds`, an Alarm or MobilePosition query; any Event token, dispatched on the body's
CmdType, ref. §5.1): 200 OK with our To tag, `Expires`, the echoed `Event` and the
`<Response>…<Result>OK` body; the dialog is remembered. A SUBSCRIBE inside a known dialog
refreshes it, or with `Expires: 0` ends it; one naming an unknown dialog gets 481; a new
subscription from the same subscriber replaces its older dialog of the same kind (lenient
devices do; with `replaces_older=False` both stay live until ended or expired, as on
stricter devices, so a subscriber that leaks dialogs shows). `notify(items)` sends a
Catalog NOTIFY in every live catalog dialog, `notify_event(cmd_type, body_for_sn)` any
body in every live dialog of that kind (From = our tag, To = the subscriber's tag, the
dialog's Call-ID, our CSeq, `Subscription-State: active;expires=<remaining>`), one at a
time, waiting for each 200. Expired dialogs are dropped when next looked at.

For tests: counters `subscribes_received`, `created`, `refreshed`, `ended` (every kind),
`refreshed_by_kind`; controls `forget_all()` (a reboot: every dialog lost, so refreshes
get 481) and `drop_refreshes(n)` (the next n refreshes go unanswered).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from farmwatch.sipserver.device_requests import MANSCDP_CONTENT_TYPE
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import SipError, TransactionTimeout
from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.manscdp import AlarmQuery, CatalogQuery, CmdType, MobilePositionQuery
from farmwatch.sipserver.gb.manscdp_build import build_catalog_notify, build_control_response
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpError
from farmwatch.sipserver.register_client import DeviceIdentity
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.request_builder import build_request, new_tag
from farmwatch.sipserver.sip.uri import contact_uri

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 16


@dataclass(frozen=True, slots=True)
class DialogKey:
    call_id: str
    local_tag: str


@dataclass(frozen=True, slots=True)
class CatalogSubscription:
    """One subscription dialog, seen from the notifier."""

    key: DialogKey
    subscriber: str
    """The subscriber's ID (From user): a new subscription of the same one replaces this."""
    remote: str
    """The subscriber's From header (with its tag): our NOTIFYs' To."""
    remote_target: str
    event: str
    expires_at: float
    cseq: int = 0
    cmd_type: CmdType = CmdType.CATALOG
    """What it is a subscription to: Catalog, Alarm or MobilePosition."""
    interval: int | None = None
    """A MobilePosition subscription's `Interval` (seconds), as last asked."""


_QUERY_KINDS: dict[type, CmdType] = {
    CatalogQuery: CmdType.CATALOG,
    AlarmQuery: CmdType.ALARM,
    MobilePositionQuery: CmdType.MOBILE_POSITION,
}
CATALOG_ONLY = frozenset({CmdType.CATALOG})


class CatalogNotifier:
    def __init__(
        self,
        endpoint: SipEndpoint,
        identity: DeviceIdentity,
        *,
        clock: Callable[[], float],
        request_timeout: float,
        replaces_older: bool = True,
        kinds: frozenset[CmdType] = CATALOG_ONLY,
        on_subscribed: Callable[[CatalogSubscription], object] | None = None,
    ) -> None:
        """`kinds`: what may be subscribed to (others get 489); `on_subscribed` hears of
        every subscription created or refreshed."""
        self._endpoint = endpoint
        self._identity = identity
        self._clock = clock
        self._request_timeout = request_timeout
        self._replaces_older = replaces_older
        self._kinds = kinds
        self._on_subscribed = on_subscribed
        self._dialogs: dict[DialogKey, CatalogSubscription] = {}
        self._sn = 0
        self._refreshes_to_drop = 0
        self.subscribes_received = 0
        self.created = 0
        self.refreshed = 0
        self.ended = 0
        self.refreshed_by_kind: dict[CmdType, int] = {}

    def live(self, cmd_type: CmdType | None = CmdType.CATALOG) -> list[CatalogSubscription]:
        """The live dialogs of one kind (None: of every kind)."""
        now = self._clock()
        for key in [k for k, d in self._dialogs.items() if d.expires_at <= now]:
            del self._dialogs[key]
        return [d for d in self._dialogs.values() if cmd_type in (None, d.cmd_type)]

    def forget_all(self) -> None:
        """Lose every dialog, as a rebooted device does."""
        self._dialogs.clear()

    def drop_refreshes(self, count: int) -> None:
        """Leave the next `count` in-dialog refreshes (Expires > 0) unanswered."""
        self._refreshes_to_drop = count

    async def handle_subscribe(self, incoming: IncomingRequest) -> SipResponse | None:
        request = incoming.request
        self.subscribes_received += 1
        expires = request.expires
        if expires is None:
            return build_response(request, 400, "Bad Request (missing Expires)", to_tag=new_tag())
        try:
            query = parse_manscdp(request.body)
        except ManscdpError:
            return build_response(request, 400, to_tag=new_tag())
        cmd_type = _QUERY_KINDS.get(type(query))
        if cmd_type is None or cmd_type not in self._kinds:
            return build_response(request, 489, to_tag=new_tag())
        interval = query.interval if isinstance(query, MobilePositionQuery) else None
        to_tag = request.to.tag
        if to_tag is None:
            return self._create(request, expires, query.sn, cmd_type, interval)
        key = DialogKey(request.call_id, to_tag)
        dialog = self._dialogs.get(key)
        if dialog is None:
            return build_response(request, 481)
        if expires == 0:
            del self._dialogs[key]
            self.ended += 1
            log.info("device %s: catalog subscription ended", self._identity.device_id)
        elif self._refreshes_to_drop > 0:
            self._refreshes_to_drop -= 1
            log.info("device %s: leaving a subscription refresh unanswered",
                     self._identity.device_id)  # fmt: skip
            return None
        else:
            dialog = replace(dialog, expires_at=self._clock() + expires,
                             interval=interval or dialog.interval)  # fmt: skip
            self._dialogs[key] = dialog
            self.refreshed += 1
            self.refreshed_by_kind[cmd_type] = self.refreshed_by_kind.get(cmd_type, 0) + 1
            self._subscribed(dialog)
        return self._accept(request, to_tag, dialog.event, expires, query.sn, cmd_type)

    def _subscribed(self, dialog: CatalogSubscription) -> None:
        if self._on_subscribed is not None:
            self._on_subscribed(dialog)

    def _create(
        self, request: SipRequest, expires: int, sn: int, cmd_type: CmdType, interval: int | None
    ) -> SipResponse:
        local_tag = new_tag()
        event = (request.headers.get("Event") or cmd_type.value).strip()
        if expires > 0:
            if len(self.live(None)) >= MAX_SUBSCRIPTIONS:
                return build_response(request, 503, to_tag=local_tag)
            subscriber = request.from_.uri.user or ""
            if self._replaces_older:
                for stale in [
                    k for k, d in self._dialogs.items()
                    if d.subscriber == subscriber and d.cmd_type is cmd_type
                ]:  # fmt: skip
                    del self._dialogs[stale]  # the platform lost its dialog (we were offline)
            contact = request.contact
            key = DialogKey(request.call_id, local_tag)
            self._dialogs[key] = CatalogSubscription(
                key=key,
                subscriber=subscriber,
                remote=request.headers.get("From") or "",
                remote_target=str(contact.uri if contact is not None else request.from_.uri),
                event=event,
                expires_at=self._clock() + expires,
                cmd_type=cmd_type,
                interval=interval,
            )
            self.created += 1
            log.info("device %s: %s subscription for %d s (%s)",
                     self._identity.device_id, cmd_type.value, expires, event)  # fmt: skip
            self._subscribed(self._dialogs[key])
        return self._accept(request, local_tag, event, expires, sn, cmd_type)

    def _accept(
        self,
        request: SipRequest,
        local_tag: str,
        event: str,
        expires: int,
        sn: int,
        cmd_type: CmdType,
    ) -> SipResponse:
        identity = self._identity
        contact = self._contact()
        body = build_control_response(identity.device_id, sn, cmd_type)
        return build_response(
            request,
            200,
            to_tag=local_tag,
            extra=(("Contact", contact), ("Event", event), ("Expires", str(expires))),
            body=body,
            content_type=MANSCDP_CONTENT_TYPE,
        )

    async def notify(self, items: Sequence[CatalogItem]) -> int:
        """NOTIFY `items` (each with its `event`) in every live catalog dialog; returns how
        many got 2xx."""
        device_id = self._identity.device_id
        return await self.notify_event(
            CmdType.CATALOG, lambda sn: build_catalog_notify(device_id, sn, items)
        )

    async def notify_event(self, cmd_type: CmdType, body_for_sn: Callable[[int], bytes]) -> int:
        """NOTIFY `body_for_sn(SN)` in every live dialog of `cmd_type`; how many got 2xx."""
        delivered = 0
        for dialog in self.live(cmd_type):
            if await self._notify_one(dialog, body_for_sn):
                delivered += 1
        return delivered

    async def _notify_one(
        self, dialog: CatalogSubscription, body_for_sn: Callable[[int], bytes]
    ) -> bool:
        identity = self._identity
        current = self._dialogs.get(dialog.key)
        if current is None:
            return False  # ended while an earlier NOTIFY was in flight
        dialog = replace(current, cseq=current.cseq + 1)
        self._dialogs[dialog.key] = dialog
        self._sn += 1
        remaining = max(0, int(dialog.expires_at - self._clock()))
        request = build_request(
            "NOTIFY",
            dialog.remote_target,
            from_=f"<{identity.device_uri}>;tag={dialog.key.local_tag}",
            to=dialog.remote,
            call_id=dialog.key.call_id,
            cseq=dialog.cseq,
            contact=self._contact(),
            user_agent=identity.user_agent,
            extra=(
                ("Event", dialog.event),
                ("Subscription-State", f"active;expires={remaining}"),
            ),
            body=body_for_sn(self._sn),
            content_type=MANSCDP_CONTENT_TYPE,
        )
        try:
            async with asyncio.timeout(self._request_timeout):
                response = await self._endpoint.request(request, identity.server)
        except (TimeoutError, TransactionTimeout, SipError) as error:
            log.warning("device %s: NOTIFY not delivered: %s", identity.device_id, error)
            return False
        if response.status == 481:
            self._dialogs.pop(dialog.key, None)
        return response.is_success

    def _contact(self) -> str:
        identity = self._identity
        host = self._endpoint.local_host_for(identity.server)
        return contact_uri(identity.device_id, host, self._endpoint.port)
