"""How we address one upper platform: who we are to it, where it is, our SN space.

Every MESSAGE to the upper is outside any dialog (gb28181.md §9.1-9.2): Request-URI and To
`sip:<upper ID>@<upper host>:<port>`, From `sip:<our ID presented upward>@<our domain>`,
a fresh Call-ID and tag, a MANSCDP body in the upper's charset.
"""

from __future__ import annotations

from farmwatch.sipserver.device_requests import Originator, build_manscdp_message
from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.message import SipResponse

__all__ = ["UpperTarget"]

_SN_LIMIT = 2_000_000_000


class UpperTarget:
    def __init__(
        self,
        endpoint: SipEndpoint,
        *,
        upper_id: str,
        upper_domain: str,
        address: Address,
        local_id: str,
        local_domain: str,
        user_agent: str,
        charset: str,
    ) -> None:
        self.endpoint = endpoint
        self.upper_id = upper_id
        self.upper_domain = upper_domain
        self.address = address
        self.local_id = local_id
        self.local_domain = local_domain
        self.originator = Originator(local_id, local_domain, user_agent)
        self.charset = ManscdpCharset.from_label(charset) or ManscdpCharset.GB2312
        self._sn = 0

    def next_sn(self) -> int:
        self._sn = self._sn % _SN_LIMIT + 1
        return self._sn

    async def send_message(self, body: bytes) -> SipResponse:
        """One MESSAGE to the upper; its final response (raises `TransactionTimeout`)."""
        request = build_manscdp_message(
            self.originator,
            target_id=self.upper_id,
            dest=self.address,
            body=body,
            local_host=self.endpoint.local_host_for(self.address),
            local_port=self.endpoint.port,
        )
        return await self.endpoint.request(request, self.address)
