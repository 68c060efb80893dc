"""One upper platform link: registration, keepalive, and the requests the upper sends us.

The asyncio shell of `LinkCore` (STYLE B4): one task waits for the core's next deadline (or
a wake-up), carries out what `tick` returns (REGISTER through `RegisterClient`, keepalive
MESSAGEs) and reports the outcome back. Requests from the upper arrive through
`CascadeLinks` (the endpoint's peer router) and go to `UpperRequests`. Nothing here
blocks another link: each link has its own task, registration client and SN space.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from farmwatch.cascade.link_state import LinkCore, LinkState, Register, SendKeepalive
from farmwatch.cascade.settings import UpperSettings, UpperTransport
from farmwatch.cascade.upper_broadcasts import UpperBroadcasts
from farmwatch.cascade.upper_calls import UpperCalls
from farmwatch.cascade.upper_requests import UpperRequests
from farmwatch.cascade.upper_target import UpperTarget
from farmwatch.platform.catalog_changes import CatalogChange
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.sharing.catalog_export import SystemItem
from farmwatch.platform.sharing.forwarding import UpperForwarding
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.platform.uppers import UpperLinkStatus
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.errors import TransactionTimeout
from farmwatch.sipserver.gb.manscdp_build import build_keepalive
from farmwatch.sipserver.register_client import (
    DeviceIdentity,
    RegisterClient,
    RegisterFailed,
)
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.uri import uri_host

log = logging.getLogger(__name__)

_CALL_METHODS = frozenset({"INVITE", "BYE", "CANCEL", "INFO"})
REGISTER_TIMEOUT = 10.0
"""The longest a REGISTER waits for its final answer (a link with a shorter keepalive
interval waits that long: the same bound on noticing an upper that is gone)."""
KEEPALIVE_TIMEOUT = 10.0
UNREGISTER_TIMEOUT = 2.0


@dataclass(slots=True)
class _Counters:
    registrations: int = 0
    keepalives_sent: int = 0
    keepalives_answered: int = 0
    last_keepalive_at: datetime | None = None
    last_registered_at: datetime | None = None


class UpperLink:
    def __init__(
        self,
        endpoint: SipEndpoint,
        settings: UpperSettings,
        *,
        local_id: str,
        local_domain: str,
        sharing: SharingService,
        forwarding: UpperForwarding,
        live: LiveService,
        playback: PlaybackService,
        broadcasts: BroadcastService,
        system_name: str,
    ) -> None:
        self.settings = settings
        self._endpoint = endpoint
        transport = (
            Transport.TCP if settings.upper_transport is UpperTransport.TCP else Transport.UDP
        )
        self.address = Address(settings.host, settings.port, transport)
        self.target = UpperTarget(
            endpoint,
            upper_id=settings.id,
            upper_domain=settings.domain,
            address=self.address,
            local_id=local_id,
            local_domain=local_domain,
            user_agent=settings.user_agent,
            charset=settings.charset,
        )
        identity = DeviceIdentity(
            device_id=local_id,
            domain=local_domain,
            server_id=settings.id,
            server=self.address,
            user_agent=settings.user_agent,
            register_uri=f"sip:{settings.id}@{uri_host(settings.host)}:{settings.port}",
        )
        self._register = RegisterClient(
            endpoint,
            identity,
            password=settings.password,
            request_timeout=min(REGISTER_TIMEOUT, max(1.0, settings.keepalive_interval)),
        )
        self.core = LinkCore(
            expires=settings.register_expires,
            keepalive_interval=settings.keepalive_interval,
            keepalive_timeout_count=settings.keepalive_timeout_count,
            retry_interval=settings.retry_interval,
        )
        self.requests = UpperRequests(
            self.target,
            settings,
            sharing,
            forwarding,
            SystemItem(platform_id=local_id, name=system_name, civil_code=local_id[:6]),
            identity,
        )
        self.calls = UpperCalls(
            self.target,
            name=settings.name,
            sharing=sharing,
            rule=self.requests.rule,
            live=live,
            playback=playback,
        )
        self.broadcasts = UpperBroadcasts(
            self.target, settings, sharing, lambda: self.requests.rule, broadcasts
        )
        self.requests.broadcast_handler = self.broadcasts.notified
        self._counters = _Counters()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._keepalive_tasks: set[asyncio.Task[None]] = set()
        self._source_hosts_seen: set[str] = {settings.host}

    @property
    def name(self) -> str:
        return self.settings.name

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._perform(self.core.start(loop.time()))
        self._task = loop.create_task(self._run(), name=f"upper-link-{self.name}")

    async def close(self) -> None:
        """Stop; unregister (Expires 0) when registered, bounded (§9.1)."""
        owed = self.core.stop()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._keepalive_tasks):
            task.cancel()
        await self.broadcasts.close()
        await self.calls.close()
        await self.requests.close()
        if owed:
            try:
                async with asyncio.timeout(UNREGISTER_TIMEOUT):
                    await self._register.register(0)
            except (TimeoutError, RegisterFailed) as error:
                log.info("upper %s: unregister not confirmed: %s", self.name, error)

    # -- requests from the upper ------------------------------------------------------------

    def accepts(self, source: Address) -> bool:
        """Whether a request claiming this upper's ID comes the way the upper talks to us:
        same transport, and over UDP the upper's port (its host may change, logged)."""
        if source.transport is not self.address.transport:
            return False
        if source.transport is Transport.UDP and source.port != self.address.port:
            return False
        if source.host not in self._source_hosts_seen:
            self._source_hosts_seen.add(source.host)
            log.warning("upper %s (%s) now talks from %s (configured %s)",
                        self.name, self.settings.id, source.host, self.settings.host)  # fmt: skip
        return True

    def handle(self, incoming: IncomingRequest) -> None:
        if self.broadcasts.owns(incoming.request.call_id):
            self.broadcasts.handle(incoming)  # in our audio INVITE's dialog (a broadcast)
        elif incoming.request.method in _CALL_METHODS:
            self.calls.handle(incoming)
        else:
            self.requests.handle(incoming)

    def handle_ack(self, request: SipRequest) -> None:
        self.calls.handle_ack(request)

    def catalog_changed(self, change: CatalogChange) -> None:
        self.requests.catalog_changed(change)

    def change_rule(self, rule: ShareRule) -> None:
        """What the upper may see is `rule` from now on (`UpperShares`): queries answer it,
        a subscribed upper is NOTIFYed of the difference, calls no longer shared end."""
        if rule == self.requests.rule:
            return
        log.info("upper %s: share changed (%s)", self.name,
                 "all" if rule.share_all else "selected")  # fmt: skip
        self.requests.change_rule(rule)
        self.calls.change_rule(rule)

    # -- status --------------------------------------------------------------------------

    def status(self) -> UpperLinkStatus:
        core = self.core
        return UpperLinkStatus(
            name=self.name,
            upper_id=self.settings.id,
            local_id=self.target.local_id,
            host=self.settings.host,
            port=self.settings.port,
            transport=self.settings.upper_transport.value,
            state=core.state.value,
            registered=core.state is LinkState.REGISTERED,
            last_registered_at=self._counters.last_registered_at,
            last_keepalive_at=self._counters.last_keepalive_at,
            keepalives_sent=self._counters.keepalives_sent,
            keepalives_answered=self._counters.keepalives_answered,
            registrations=self._counters.registrations,
            failures=core.failures,
            last_error=core.last_error,
            catalog_pushes=self.requests.catalog_pushes,
            subscribed=bool(self.requests.notifier.live()),
            notifies_sent=self.requests.notifies_sent,
            calls=self.calls.active,
            alarms_forwarded=self.requests.alarms_forwarded,
            controls_forwarded=self.requests.controls_forwarded,
            controls_refused=self.requests.controls_refused,
            broadcasts=self.broadcasts.active,
        )

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            deadline = self.core.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self._perform(self.core.tick(loop.time()))

    def _perform(self, actions: list[Register | SendKeepalive]) -> None:
        for action in actions:
            if isinstance(action, Register):
                self._spawn(self._do_register(action.is_refresh))
            else:
                self._spawn(self._do_keepalive())

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._keepalive_tasks.add(task)
        task.add_done_callback(self._keepalive_tasks.discard)

    async def _do_register(self, is_refresh: bool) -> None:
        loop = asyncio.get_running_loop()
        if not is_refresh:
            self._register.forget()
        try:
            granted = await self._register.register(self.settings.register_expires)
        except RegisterFailed as error:
            log.warning("upper %s (%s): registration failed: %s",
                        self.name, self.settings.id, error)  # fmt: skip
            self._perform(self.core.register_failed(str(error), loop.time()))
        else:
            if self.core.state is not LinkState.REGISTERED:
                log.info("upper %s (%s): registered for %d s",
                         self.name, self.settings.id, granted)  # fmt: skip
            self._counters.registrations += 1
            self._counters.last_registered_at = datetime.now(UTC)
            self._perform(self.core.registered(granted, loop.time()))
        self._wake.set()

    async def _do_keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        body = build_keepalive(
            self.target.local_id, self.target.next_sn(), charset=self.target.charset
        )
        self.core.keepalive_sent(loop.time())
        self._counters.keepalives_sent += 1
        try:
            async with asyncio.timeout(KEEPALIVE_TIMEOUT):
                response = await self.target.send_message(body)
        except (TimeoutError, TransactionTimeout, OSError):
            ok = False
        else:
            ok = response.status == 200
        if ok:
            self._counters.keepalives_answered += 1
            self._counters.last_keepalive_at = datetime.now(UTC)
        self._perform(self.core.keepalive_answered(ok, loop.time()))
        self._wake.set()
