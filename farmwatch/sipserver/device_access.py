"""Device access: registrar, keepalives, queries and catalog subscriptions in one component.

`DeviceAccess` owns the registration table, the catalog collector, the pending queries
and the subscriptions, drives their deadlines with one `loop.call_at`, and reports
upward through a `DeviceListener`. Incoming MESSAGE/NOTIFY handling lives in
`device_inbox.py`, catalog subscriptions in `catalog_subscriptions.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from farmwatch.sipserver.catalog_subscriptions import Subscriptions
from farmwatch.sipserver.device_events import (
    CatalogReceived,
    DeviceDirectory,
    DeviceEvent,
    DeviceInfoReceived,
    DeviceListener,
)
from farmwatch.sipserver.device_inbox import DeviceInbox
from farmwatch.sipserver.device_requests import Originator, build_manscdp_message
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.errors import SipError, TransactionFailed
from farmwatch.sipserver.first_contacts import FirstContactQueue
from farmwatch.sipserver.gb.catalog_collector import (
    CatalogCollector,
    CatalogResult,
    CollectionProgress,
    CollectionState,
    CollectorSettings,
    QueryKey,
    RecordCollector,
    RecordResult,
)
from farmwatch.sipserver.gb.catalog_item import CatalogItem
from farmwatch.sipserver.gb.manscdp import (
    CmdType,
    DeviceInfoResponse,
    DeviceStatusResponse,
    Keepalive,
    ManscdpMessage,
    RecordInfoResponse,
    ResultCode,
)
from farmwatch.sipserver.gb.manscdp_build import (
    build_catalog_query,
    build_device_info_query,
    build_device_status_query,
    build_record_info_query,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.gb.registrations import (
    DeviceCameOnline,
    DeviceWentOffline,
    PresenceEvent,
    PresenceSettings,
    Registration,
    RegistrationRefreshed,
    RegistrationTable,
    SourceCheck,
)
from farmwatch.sipserver.gb.versions import Edition, edition_of
from farmwatch.sipserver.presence_log import PresenceLog
from farmwatch.sipserver.registrar import Registrar
from farmwatch.sipserver.settings import RegistrarSettings, SipSettings
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.subscription_kinds import event_kinds

log = logging.getLogger(__name__)


class DeviceUnavailable(SipError):
    """The device is not registered (or went offline) so it cannot be asked anything."""

    def __init__(self, device_id: str) -> None:
        super().__init__(f"device {device_id} is not registered")
        self.device_id = device_id


class QueryTimeout(SipError):
    """No answer in time. `was_taken`: the device answered the MESSAGE 2xx and then sent
    nothing (as a device that does not know the CmdType does, §4.14), rather than not
    answering the MESSAGE at all."""

    def __init__(self, device_id: str, cmd_type: CmdType, *, was_taken: bool = False) -> None:
        super().__init__(f"device {device_id} did not answer {cmd_type.value} in time")
        self.device_id = device_id
        self.cmd_type = cmd_type
        self.was_taken = was_taken


@dataclass(slots=True)
class _Waiter:
    device_id: str
    future: asyncio.Future[Any]


class DeviceAccess:
    """Everything between registered devices and the platform, except media."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        sip: SipSettings,
        settings: RegistrarSettings,
        *,
        directory: DeviceDirectory,
        listener: DeviceListener,
        secret: bytes | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._sip = sip
        self.settings = settings
        self._directory = directory
        self._listener = listener
        self.table = RegistrationTable(
            PresenceSettings(
                settings.keepalive_interval,
                settings.keepalive_timeout_count,
                SourceCheck(settings.message_source_check),
            )
        )
        self.collector = CatalogCollector(
            CollectorSettings(inactivity_timeout=settings.catalog_timeout)
        )
        self.records = RecordCollector(
            CollectorSettings(inactivity_timeout=settings.record_info_timeout)
        )
        self.originator = Originator(sip.id, sip.domain, sip.user_agent)
        self.nonce_secret = secret or secrets.token_bytes(32)
        """The key of the registrar's nonces (SIP fronts verify with the same key)."""
        self._presence_observers: list[Callable[[PresenceEvent], None]] = []
        self.registrar = Registrar(
            settings,
            realm=sip.domain,
            table=self.table,
            credentials=directory,
            publish=self.publish_presence,
            clock=self.now,
            wall_clock=lambda: datetime.now(settings.zone),
            secret=self.nonce_secret,
            user_agent=sip.user_agent,
            wake=self.rearm,
            overloaded=lambda: not endpoint.admits_new_work(),
            retry_after=sip.overload_retry_after,
        )
        self._sn = itertools.count(secrets.randbelow(10_000) + 1)
        self._waiters: dict[QueryKey, _Waiter] = {}
        self._record_listeners: dict[QueryKey, Callable[[RecordInfoResponse], None]] = {}
        self._latest_catalog: dict[str, QueryKey] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.subscriptions = Subscriptions(self)
        """The catalog subscriptions."""
        self.event_subscriptions = tuple(Subscriptions(self, k) for k in event_kinds(settings))
        """Alarm and mobile-position subscriptions, as `[registrar]` asks."""
        # Devices known again from storage after a restart that have not spoken since:
        # their subscription dialogs did not survive the restart. Those among them whose
        # catalog never completed (e.g. the old process was killed while collecting it)
        # get a whole first contact instead.
        self.restored_silent: set[str] = set()
        self._catalog_unfinished: set[str] = set()
        self.inbox = DeviceInbox(self)
        self._presence_log = PresenceLog()
        self.first_contacts = FirstContactQueue(
            self._on_first_contact,
            concurrency=settings.first_contact_concurrency,
            spawn=self.spawn,
            held=lambda: endpoint.is_falling_behind,
        )

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._endpoint.add_sync_handler("REGISTER", self.registrar.handle)
        self._endpoint.add_sync_handler("MESSAGE", self.inbox.handle_message)
        self._endpoint.add_sync_handler("NOTIFY", self.inbox.handle_notify)
        # Registration storms and keepalives, when plain, skip the general message model.
        self._endpoint.add_express_handler("REGISTER", self.registrar.handle_express)
        self._endpoint.add_express_handler("MESSAGE", self.inbox.handle_express_message)
        self._endpoint.set_register_shedder(self.registrar.shed_reply)
        self._endpoint.set_connection_closed_handler(self.connection_closed)

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self.first_contacts.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for waiter in self._waiters.values():
            if not waiter.future.done():
                waiter.future.cancel()

    @property
    def endpoint(self) -> SipEndpoint:
        return self._endpoint

    def now(self) -> float:
        assert self._loop is not None, "DeviceAccess not started"
        return self._loop.time()

    # -- state for the platform -------------------------------------------------------

    def registration(self, device_id: str) -> Registration | None:
        return self.table.get(device_id)

    def is_online(self, device_id: str) -> bool:
        return self.table.is_online(device_id)

    def restore(self, registration: Registration, *, catalog_complete: bool = True) -> None:
        """Know again a device registered before a restart (expiry in loop time).

        `catalog_complete` False: its catalog was never received whole, so it is asked
        for DeviceInfo and the catalog again when it next speaks.
        """
        self.table.restore(registration, self.now())
        if self.settings.catalog_on_register:
            self.restored_silent.add(registration.device_id)
            if not catalog_complete:
                self._catalog_unfinished.add(registration.device_id)
        self.rearm()

    def spoke_after_restore(self, device_id: str) -> None:
        """A device restored after a restart sent a keepalive or refreshed its registration.

        It keeps its registration, so no first contact runs; but the catalog subscription
        went with the old process (unless the device NOTIFYed in it and it was adopted).
        Subscribing now, at its first word, spreads these over one keepalive interval. A
        device whose catalog never completed gets the whole first contact instead.
        """
        if device_id in self.restored_silent:
            self.restored_silent.discard(device_id)
            if device_id in self._catalog_unfinished:
                self._catalog_unfinished.discard(device_id)
                log.info(
                    "device %s: catalog incomplete before the restart, asking again", device_id
                )
                self.first_contacts.request(device_id)
            else:
                self.spawn(self._subscribe(device_id))

    @property
    def all_subscriptions(self) -> tuple[Subscriptions, ...]:
        return (self.subscriptions, *self.event_subscriptions)

    def subscriptions_of(self, cmd_type: CmdType) -> Subscriptions | None:
        """The alarm or mobile-position subscriptions (by their NOTIFYs' CmdType), if kept."""
        return next((s for s in self.event_subscriptions if s.kind.cmd_type is cmd_type), None)

    async def _subscribe(self, device_id: str) -> None:
        for subscriptions in self.all_subscriptions:
            try:
                await subscriptions.subscribe(device_id)
            except SipError as error:
                log.info("%s subscription to %s refused: %s", subscriptions.kind.name,
                         device_id, error)  # fmt: skip

    def charset_override(self, device_id: str) -> str | None:
        """The charset to decode this device's bodies with, when detection is not enough."""
        return self._directory.charset_for(device_id)

    def charset_for(self, device_id: str) -> ManscdpCharset:
        """The device's own charset, else GB 18030 (`charset_2022`) for a 2022 device, else
        the configured `charset`."""
        name = self._directory.charset_for(device_id)
        if not name:
            is_2022 = self.edition(device_id) is Edition.V2022
            name = self.settings.charset_2022 if is_2022 else self.settings.charset
        return _charset(name)

    def edition(self, device_id: str) -> Edition:
        """The forms to use with the device: the lower of its X-GB-Ver (last heard, else
        `default_gb_version`) and ours."""
        registration = self.table.get(device_id)
        version = registration.gb_version if registration is not None else None
        return edition_of(version or self.settings.default_gb_version)

    def note_version(self, device_id: str, version: str | None) -> None:
        """A registered device's request carried `X-GB-Ver`: a new value is recorded (a
        firmware upgrade or downgrade shows without a new REGISTER)."""
        if version is not None:
            self.publish_presence(self.table.note_version(device_id, version))

    # -- events -------------------------------------------------------------------------

    def publish(self, event: DeviceEvent) -> None:
        try:
            self._listener.device_event(event)
        except Exception:
            # Isolation boundary: a listener bug must not break signalling.
            log.exception("device listener failed on %s", type(event).__name__)

    def add_presence_observer(self, observer: Callable[[PresenceEvent], None]) -> None:
        """Be told of every presence change (after the listener), e.g. by the SIP fronts."""
        self._presence_observers.append(observer)

    def adopt_registration(self, registration: Registration) -> None:
        """A registration a SIP front granted: into the table of record, as if ours."""
        self.publish_presence(self.table.register(registration, self.now()))

    def adopt_keepalive(
        self, device_id: str, source: Address, status: str | None, gb_version: str | None
    ) -> bool:
        """A keepalive a SIP front answered 200; False when this table does not have the
        device registered from `source` (the front must forget it)."""
        keepalive = Keepalive(device_id, 0, ResultCode(status) if status else None)
        if self.inbox.keepalive(device_id, source, keepalive).status != 200:
            return False
        self.note_version(device_id, gb_version)
        return True

    def publish_presence(self, events: list[PresenceEvent]) -> None:
        for event in events:
            self.publish(event)
            for observer in self._presence_observers:
                try:
                    observer(event)
                except Exception:
                    # Isolation boundary: an observer's bug must not break signalling.
                    log.exception("presence observer failed on %s", type(event).__name__)
            if isinstance(event, RegistrationRefreshed) and self.restored_silent:
                self.spoke_after_restore(event.registration.device_id)
            elif isinstance(event, DeviceCameOnline):
                registration = event.registration
                self.restored_silent.discard(registration.device_id)  # first contact below
                self._catalog_unfinished.discard(registration.device_id)
                self._presence_log.online(
                    registration, registered=event.is_new_registration, now=self.now()
                )
                if self.settings.catalog_on_register:
                    self.first_contacts.request(registration.device_id)
                else:
                    # No first contact will refresh the dialogs kept while it was away.
                    for subscriptions in self.all_subscriptions:
                        subscriptions.resume(registration.device_id)
            elif isinstance(event, DeviceWentOffline):
                self._presence_log.offline(event.device_id, event.reason, self.now())
                # Kept, not forgotten: when the device is back it is refreshed in place
                # (or ended) rather than left beside a second subscription.
                for subscriptions in self.all_subscriptions:
                    subscriptions.suspend(event.device_id)
        self.rearm()

    def connection_closed(self, remote: Address) -> None:
        """A TCP connection closed: whoever registered over exactly it is offline now."""
        events = self.table.connection_closed(remote)
        if events:
            self.publish_presence(events)

    async def _on_first_contact(self, device_id: str) -> None:
        """What wvp does after a registration: DeviceInfo, Catalog, then subscribe.

        The subscription step refreshes a dialog held from before the device went away
        instead of adding a second one (see `Subscriptions.subscribe`).
        """
        try:
            await self.query_device_info(device_id)
        except SipError as error:
            log.warning("DeviceInfo of %s failed: %s", device_id, error)
        try:
            await self.query_catalog(device_id)
        except SipError as error:
            log.warning("catalog of %s failed: %s", device_id, error)
        await self._subscribe(device_id)

    def spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("device task failed", exc_info=task.exception())

    # -- queries ------------------------------------------------------------------------

    def next_sn(self) -> int:
        return next(self._sn) % 2_000_000_000 + 1

    async def send_manscdp(
        self, device_id: str, body: bytes, *, target_id: str | None = None
    ) -> None:
        """MESSAGE to a registered device; raises unless it answers 2xx."""
        registration = self.table.get(device_id)
        if registration is None:
            raise DeviceUnavailable(device_id)
        dest = registration.address
        request = build_manscdp_message(
            self.originator,
            target_id=target_id or device_id,
            dest=dest,
            body=body,
            local_host=self._endpoint.local_host_for(dest),
            local_port=self._endpoint.port,
        )
        response = await self._endpoint.request(request, dest)
        if not response.is_success:
            raise TransactionFailed(response)

    async def query(
        self,
        device_id: str,
        cmd_type: CmdType,
        body_for_sn: Callable[[int, ManscdpCharset], bytes],
        *,
        target_id: str | None = None,
        answer_within: float | None = None,
    ) -> Any:
        """Send a query (or a control that is answered) to `target_id` (default: the
        device) and wait for the answering MESSAGE matched by (device, CmdType, SN), at most
        `answer_within` seconds (default `query_timeout`): `QueryTimeout` past it, saying
        whether the device took the MESSAGE."""
        sn = self.next_sn()
        key = QueryKey(device_id, cmd_type, sn)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Registered before sending: the answer can overtake the 200 OK.
        self._waiters[key] = _Waiter(device_id, future)
        was_taken = False
        try:
            async with asyncio.timeout(answer_within or self.settings.query_timeout):
                body = body_for_sn(sn, self.charset_for(device_id))
                await self.send_manscdp(device_id, body, target_id=target_id)
                was_taken = True
                return await future
        except TimeoutError as exc:
            raise QueryTimeout(device_id, cmd_type, was_taken=was_taken) from exc
        finally:
            self._waiters.pop(key, None)

    def answer_received(self, device_id: str, key: QueryKey, message: ManscdpMessage) -> bool:
        """Complete a pending query; False when nobody waits for it (unsolicited)."""
        waiter = self._waiters.get(key)
        if waiter is None or waiter.device_id != device_id or waiter.future.done():
            return False
        waiter.future.set_result(message)
        return True

    async def query_device_info(self, device_id: str) -> DeviceInfoResponse:
        info: DeviceInfoResponse = await self.query(
            device_id,
            CmdType.DEVICE_INFO,
            lambda sn, charset: build_device_info_query(sn, device_id, charset),
        )
        self.publish(DeviceInfoReceived(device_id, info))
        return info

    async def query_device_status(self, device_id: str) -> DeviceStatusResponse:
        status: DeviceStatusResponse = await self.query(
            device_id,
            CmdType.DEVICE_STATUS,
            lambda sn, charset: build_device_status_query(sn, device_id, charset),
        )
        return status

    async def query_catalog(self, device_id: str) -> CatalogResult:
        """Ask for the catalog and wait until it is complete or stalls (partial result)."""
        return await self.start_catalog_query(device_id)

    def start_catalog_query(self, device_id: str) -> asyncio.Future[CatalogResult]:
        """Begin a catalog query now (its progress is visible at once); await the result.

        The collector's inactivity timeout bounds the wait: a stalled catalog resolves
        as a partial result, a refused or unanswered query raises.
        """
        if self.table.get(device_id) is None:
            raise DeviceUnavailable(device_id)
        sn = self.next_sn()
        key = QueryKey(device_id, CmdType.CATALOG, sn)
        future: asyncio.Future[CatalogResult] = asyncio.get_running_loop().create_future()
        self._waiters[key] = _Waiter(device_id, future)
        future.add_done_callback(lambda _: self._waiters.pop(key, None))
        self.collector.start(key, self.now())
        self._latest_catalog[device_id] = key
        self.rearm()
        body = build_catalog_query(sn, device_id, self.charset_for(device_id))
        self.spawn(self._send_query(device_id, body, future))
        return future

    async def _send_query(
        self,
        device_id: str,
        body: bytes,
        future: asyncio.Future[Any],
        *,
        target_id: str | None = None,
    ) -> None:
        try:
            await self.send_manscdp(device_id, body, target_id=target_id)
        except SipError as error:
            if not future.done():
                future.set_exception(error)

    def query_records(
        self,
        device_id: str,
        channel_id: str,
        start_time: str,
        end_time: str,
        *,
        on_message: Callable[[RecordInfoResponse], None] | None = None,
    ) -> asyncio.Future[RecordResult]:
        """RecordInfo (§4.7) for `channel_id` of `device_id` between two device-local times
        (`YYYY-MM-DDTHH:MM:SS`); await the records.

        The answer may come over many MESSAGEs: it resolves when they are all in, or, when
        they stop for `record_info_timeout` seconds, as a partial result keeping what came.
        A refused or unanswered MESSAGE raises. `on_message` is given each answer MESSAGE
        as it arrives (a cascade passes the records on before the last one is in).
        """
        if self.table.get(device_id) is None:
            raise DeviceUnavailable(device_id)
        sn = self.next_sn()
        key = QueryKey(device_id, CmdType.RECORD_INFO, sn)
        future: asyncio.Future[RecordResult] = asyncio.get_running_loop().create_future()
        self._waiters[key] = _Waiter(device_id, future)
        if on_message is not None:
            self._record_listeners[key] = on_message
        future.add_done_callback(lambda _: self._waiters.pop(key, None))
        future.add_done_callback(lambda _: self._record_listeners.pop(key, None))
        self.records.start(key, self.now())
        self.rearm()
        body = build_record_info_query(
            sn, channel_id, start_time, end_time, self.charset_for(device_id)
        )
        self.spawn(self._send_query(device_id, body, future, target_id=channel_id))
        return future

    def records_received(self, device_id: str, response: RecordInfoResponse) -> None:
        """One RecordInfo answer message from `device_id` (the inbox's dispatch)."""
        listener = self._record_listeners.get(QueryKey(device_id, CmdType.RECORD_INFO, response.sn))
        if listener is not None:
            try:
                listener(response)
            except Exception:
                # Isolation boundary: one listener; the collection goes on.
                log.exception("record listener failed (device %s)", device_id)
        progress = self.records.add(device_id, response, self.now())
        if progress.result is not None:
            self._records_finished(progress.result)
        self.rearm()

    def _records_finished(self, result: RecordResult) -> None:
        waiter = self._waiters.get(result.key)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(result)

    def catalog_progress(self, device_id: str) -> CollectionProgress[CatalogItem] | None:
        key = self._latest_catalog.get(device_id)
        return None if key is None else self.collector.progress(key)

    def catalog_finished(self, device_id: str, progress: CollectionProgress[CatalogItem]) -> None:
        result = progress.result
        if result is None:
            return
        self.publish(CatalogReceived(device_id, result))
        waiter = self._waiters.get(result.key)
        if waiter is not None and not waiter.future.done():
            waiter.future.set_result(result)

    # -- the one timer ---------------------------------------------------------------

    def rearm(self) -> None:
        deadlines = [
            d
            for d in (
                self.table.next_deadline(),
                self.collector.next_deadline(),
                self.records.next_deadline(),
                *(subscriptions.next_deadline() for subscriptions in self.all_subscriptions),
                self.inbox.next_deadline(),
                self.registrar.next_deadline(),
                self._presence_log.next_deadline(),
            )
            if d is not None
        ]
        if not deadlines or self._loop is None:
            return
        deadline = min(deadlines)
        if self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.now()
        self.publish_presence(self.table.tick(now))
        for result in self.collector.tick(now):
            device_id = result.key.device_id
            log.warning(
                "catalog of %s stalled: kept %d of %s items",
                device_id,
                len(result.items),
                result.expected,
            )
            self.catalog_finished(
                device_id,
                CollectionProgress(
                    result.key, len(result.items), result.expected, CollectionState.PARTIAL, result
                ),
            )
        for records in self.records.tick(now):
            log.warning("RecordInfo of %s stalled: kept %d of %s records",
                        records.key.device_id, len(records.items), records.expected)  # fmt: skip
            self._records_finished(records)
        for subscriptions in self.all_subscriptions:
            subscriptions.tick(now)
        self.inbox.tick(now)
        self.registrar.tick(now)
        self._presence_log.tick(now)
        self.rearm()


def _charset(name: str) -> ManscdpCharset:
    try:
        return ManscdpCharset(name.upper())
    except ValueError:
        return ManscdpCharset.GB2312


__all__ = ["Address", "DeviceAccess", "DeviceUnavailable", "QueryTimeout"]
