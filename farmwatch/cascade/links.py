"""All upper links of this platform, and the peer router that hands them their requests.

`CascadeLinks` is the endpoint's `PeerRouter`: a request whose From is an upper's ID, over
that upper's transport (and from its port over UDP), goes to that link and never to the
device handlers; one from a device that happens to share the ID does not (an ID collision
between peers is handled by how the peer talks to us, gb28181.md §9.4).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from farmwatch.cascade.settings import UpperSettings
from farmwatch.cascade.upper_link import UpperLink
from farmwatch.cascade.upper_requests import share_rule
from farmwatch.platform.catalog_changes import CatalogChange
from farmwatch.platform.recordings.playback_service import PlaybackService
from farmwatch.platform.services.broadcast_service import BroadcastService
from farmwatch.platform.services.live_service import LiveService
from farmwatch.platform.sharing.forwarding import UpperForwarding
from farmwatch.platform.sharing.share_rule import ShareRule
from farmwatch.platform.sharing.sharing_service import SharingService
from farmwatch.platform.uppers import UpperLinkStatus
from farmwatch.sipserver.device_events import DeviceEvent, DeviceNotified
from farmwatch.sipserver.endpoint import IncomingRequest, SipEndpoint
from farmwatch.sipserver.gb.manscdp import AlarmNotify
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipRequest

__all__ = ["CascadeLinks"]

log = logging.getLogger(__name__)

_UPPER_METHODS = frozenset(
    {"MESSAGE", "INVITE", "ACK", "BYE", "CANCEL", "INFO", "SUBSCRIBE", "NOTIFY", "OPTIONS"}
)


class CascadeLinks:
    def __init__(
        self,
        endpoint: SipEndpoint,
        uppers: tuple[UpperSettings, ...],
        *,
        platform_id: str,
        domain: str,
        system_name: str,
        sharing: SharingService,
        forwarding: UpperForwarding,
        live: LiveService,
        playback: PlaybackService,
        broadcasts: BroadcastService,
    ) -> None:
        self._endpoint = endpoint
        self.links = [
            UpperLink(
                endpoint,
                upper,
                local_id=upper.local_id or platform_id,
                local_domain=domain,
                sharing=sharing,
                forwarding=forwarding,
                live=live,
                playback=playback,
                broadcasts=broadcasts,
                system_name=system_name,
            )
            for upper in uppers
        ]
        playback.ended_listeners.append(self.playback_ended)
        self._by_id: dict[str, list[UpperLink]] = {}
        for link in self.links:
            self._by_id.setdefault(link.settings.id, []).append(link)

    def start(self) -> None:
        if not self.links:
            return
        self._endpoint.set_peer_router(self)
        for link in self.links:
            link.start()

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links), return_exceptions=True)

    def device_event(self, event: DeviceEvent) -> None:
        """A `DeviceRecorder` listener: alarms go up to every upper sharing their source."""
        if isinstance(event, DeviceNotified) and isinstance(event.message, AlarmNotify):
            for link in self.links:
                link.requests.forward_alarm(event.message)

    def catalog_changed(self, change: CatalogChange) -> None:
        """A `DeviceRecorder` change listener: every link NOTIFYs what it shares."""
        for link in self.links:
            link.catalog_changed(change)

    def statuses(self) -> list[UpperLinkStatus]:
        return [link.status() for link in self.links]

    # -- ShareLinks (what `UpperShares` edits) ----------------------------------------------

    def configured_rules(self) -> Mapping[str, ShareRule]:
        return {link.name: share_rule(link.settings) for link in self.links}

    def apply_rule(self, upper_name: str, rule: ShareRule) -> None:
        for link in self.links:
            if link.name == upper_name:  # names are unique (`validate_uppers`)
                link.change_rule(rule)

    # -- PeerRouter ----------------------------------------------------------------------------

    def claims(self, method: str, from_user: str, call_id: str, source: Address) -> bool:
        if method not in _UPPER_METHODS:
            return False
        return (
            self._link_for(from_user, source) is not None
            or self._broadcast_link(call_id, source) is not None
        )

    def handle(self, incoming: IncomingRequest) -> None:
        request = incoming.request
        link = self._link_for(request.from_.uri.user or "", incoming.source)
        if link is None:
            # An upper's BYE to our audio INVITE: its From is the broadcast's SourceID,
            # which need not be the upper's own ID.
            link = self._broadcast_link(request.call_id, incoming.source)
        if link is None:  # claimed a moment ago: cannot happen, but never drop a request
            log.warning("request from upper %s lost its link", request.from_.uri.user)
            return
        link.handle(incoming)

    def handle_ack(self, request: SipRequest, source: Address) -> None:
        link = self._link_for(request.from_.uri.user or "", source)
        if link is not None:
            link.handle_ack(request)

    # -- what media tells (the composition root forwards it) ------------------------------

    def owns_relay(self, relay_id: str) -> bool:
        return any(link.calls.owns_relay(relay_id) for link in self.links)

    def relay_closed(self, relay_id: str, reason: str) -> None:
        for link in self.links:
            link.calls.relay_closed(relay_id, reason)

    def playback_ended(self, session_id: str, complete: bool) -> None:
        for link in self.links:
            link.calls.playback_ended(session_id, complete)

    def stream_closed(self, stream_key: str) -> None:
        """A live stream closed (device BYE, media stopped, worker lost): its uppers' calls
        end (the relays are gone with it)."""
        for link in self.links:
            link.calls.stream_closed(stream_key)

    def _broadcast_link(self, call_id: str, source: Address) -> UpperLink | None:
        for link in self.links:
            if link.broadcasts.owns(call_id) and link.accepts(source):
                return link
        return None

    def _link_for(self, from_user: str, source: Address) -> UpperLink | None:
        candidates = self._by_id.get(from_user)
        if not candidates:
            return None
        for link in candidates:
            if link.accepts(source):
                return link
        return None
