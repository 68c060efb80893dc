"""MESSAGEs a simulated device sends its platform (GB/T 28181-2016 Annex A.1; ref. §4.1, §11.2).

Every keepalive, query answer and notification is a new MESSAGE outside any dialog:
Request-URI and To `sip:<platform ID>@<domain>` (To uses the ID that was in the query's
From), From `sip:<device ID>@<domain>` with a fresh tag, a new Call-ID, the device's
CSeq counter and a MANSCDP body. It goes to the platform's address over the device's
transport; over TCP that is the connection the device opened.
"""

from __future__ import annotations

import asyncio

from farmwatch.sipserver.device_requests import MANSCDP_CONTENT_TYPE
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.errors import TransactionTimeout
from farmwatch.sipserver.register_client import DeviceIdentity
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag


class Outbox:
    """Builds and sends the device's MESSAGEs; each call waits for the final response."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        identity: DeviceIdentity,
        *,
        request_timeout: float,
        gb_version: str | None = None,
    ) -> None:
        self._endpoint = endpoint
        self._identity = identity
        self._request_timeout = request_timeout
        self._cseq = 0
        self.gb_version = gb_version
        """The `X-GB-Ver` of its MESSAGEs (None: none, a 2016 device); tests may change it."""

    def build(self, body: bytes, *, to_id: str | None = None) -> SipRequest:
        identity = self._identity
        self._cseq = self._cseq % 2_000_000_000 + 1
        target = f"sip:{to_id or identity.server_id}@{identity.domain}"
        return build_request(
            "MESSAGE",
            target,
            from_=f"<{identity.device_uri}>;tag={new_tag()}",
            to=f"<{target}>",
            call_id=new_call_id(self._endpoint.local_host_for(identity.server)),
            cseq=self._cseq,
            user_agent=identity.user_agent,
            extra=(("X-GB-Ver", self.gb_version),) if self.gb_version else (),
            body=body,
            content_type=MANSCDP_CONTENT_TYPE,
        )

    async def send(self, body: bytes, *, to_id: str | None = None) -> SipResponse:
        """Send one MESSAGE; raises `TransactionTimeout` when no final answer comes in time."""
        request = self.build(body, to_id=to_id)
        try:
            async with asyncio.timeout(self._request_timeout):
                return await self._endpoint.request(request, self._identity.server)
        except TimeoutError as error:
            raise TransactionTimeout("MESSAGE", str(self._identity.server)) from error
