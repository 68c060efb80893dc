"""The registering side of one REGISTER exchange (GB/T 28181-2016 §9.1.2, Annex J.1; ref. §3,
§9.1, §11.1): a device registering to its platform, or this platform to an upper one.

`RegisterClient.register(expires)` sends REGISTER (Request-URI `sip:<server ID>@<domain>`,
or the `register_uri` given, as a lower platform sends `sip:<upper ID>@<upper IP>:<port>`,
From/To `sip:<device ID>@<domain>`, the device's Contact, `Expires`, optionally
`X-GB-Ver`), answers a 401 with digest credentials (qop=auth with an increasing `nc`
when offered, the RFC 2069 form otherwise), follows a re-challenge (a new or stale
nonce), adopts `Min-Expires` after a 423, and checks the final 200 (CSeq, granted
Expires). Refreshes reuse the Call-ID and From tag and answer the last challenge
pre-emptively with the next `nc`. Failures raise `RegisterFailed` with what happened.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from enum import StrEnum

from farmwatch.sipserver.endpoint import SipEndpoint
from farmwatch.sipserver.errors import RemoteProtocolError, TransactionTimeout
from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.auth import DigestChallenge, build_credentials
from farmwatch.sipserver.sip.message import SipResponse
from farmwatch.sipserver.sip.request_builder import build_request, new_call_id, new_tag
from farmwatch.sipserver.sip.uri import contact_uri

MAX_ATTEMPTS = 4
"""REGISTERs in one exchange: the first, answers to two challenges, one 423 retry."""


class FailureKind(StrEnum):
    REFUSED = "refused"  # a final non-2xx answer (403 wrong password, ...)
    TIMEOUT = "timeout"  # no final answer in time
    BAD_CHALLENGE = "bad-challenge"  # a 401 we cannot answer, or the same nonce twice


@dataclass(frozen=True, slots=True)
class RegisterFailure:
    kind: FailureKind
    status: int | None
    reason: str

    def __str__(self) -> str:
        status = "" if self.status is None else f"{self.status} "
        return f"{self.kind.value}: {status}{self.reason}"


class RegisterFailed(Exception):
    def __init__(self, failure: RegisterFailure) -> None:
        super().__init__(str(failure))
        self.failure = failure


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """Who the device is and where its platform is."""

    device_id: str
    domain: str
    server_id: str
    server: Address
    user_agent: str = "farmwatch-simulator"
    register_uri: str = ""
    """The REGISTER Request-URI (and digest `uri`) when not `sip:<server ID>@<domain>`."""

    @property
    def device_uri(self) -> str:
        return f"sip:{self.device_id}@{self.domain}"

    @property
    def server_uri(self) -> str:
        return self.register_uri or f"sip:{self.server_id}@{self.domain}"


class RegisterClient:
    """REGISTER exchanges of one device; one at a time (the session guarantees it)."""

    def __init__(
        self,
        endpoint: SipEndpoint,
        identity: DeviceIdentity,
        *,
        password: str,
        request_timeout: float,
        gb_version: str | None = "3.0",
    ) -> None:
        self._endpoint = endpoint
        self._identity = identity
        self._password = password
        self._request_timeout = request_timeout
        self._gb_version = gb_version
        self._call_id: str | None = None
        self._from_tag = new_tag()
        self._cseq = 0
        self._challenge: DigestChallenge | None = None
        self._nc = 0

    async def register(self, expires: int) -> int:
        """One exchange; returns the granted expiry (0 after an unregister)."""
        authorization = self._next_authorization() if self._challenge is not None else None
        answered_nonce: str | None = None
        for _ in range(MAX_ATTEMPTS):
            response = await self._send(expires, authorization)
            if response.is_success:
                return self._granted(response, expires)
            if response.status in (401, 407):
                challenge = self._parse_challenge(response)
                if challenge.nonce == answered_nonce and not challenge.stale:
                    raise _refused(FailureKind.BAD_CHALLENGE, response, "same nonce again")
                self._challenge, self._nc = challenge, 0
                answered_nonce = challenge.nonce
                authorization = self._next_authorization()
            elif response.status == 423 and _min_expires(response) is not None:
                expires = max(expires, _min_expires(response) or expires)
            else:
                if response.status == 403:
                    self._challenge = None  # a wrong password: start afresh next time
                raise _refused(FailureKind.REFUSED, response, response.reason)
        raise RegisterFailed(
            RegisterFailure(FailureKind.BAD_CHALLENGE, None, "too many challenges")
        )

    def forget(self) -> None:
        """The next exchange is a new registration: new Call-ID, fresh challenge."""
        self._call_id = None
        self._challenge = None
        self._from_tag = new_tag()

    async def _send(self, expires: int, authorization: str | None) -> SipResponse:
        identity = self._identity
        endpoint = self._endpoint
        local_host = endpoint.local_host_for(identity.server)
        if self._call_id is None:
            self._call_id = new_call_id(local_host)
        self._cseq += 1
        extra: list[tuple[str, str]] = [("Expires", str(expires))]
        if self._gb_version is not None:
            extra.append(("X-GB-Ver", self._gb_version))
        if authorization is not None:
            extra.append(("Authorization", authorization))
        request = build_request(
            "REGISTER",
            identity.server_uri,
            from_=f"<{identity.device_uri}>;tag={self._from_tag}",
            to=f"<{identity.device_uri}>",
            call_id=self._call_id,
            cseq=self._cseq,
            contact=contact_uri(identity.device_id, local_host, endpoint.port),
            user_agent=identity.user_agent,
            extra=tuple(extra),
        )
        try:
            async with asyncio.timeout(self._request_timeout):
                return await endpoint.request(request, identity.server)
        except (TimeoutError, TransactionTimeout) as error:
            reason = f"no final answer within {self._request_timeout} s"
            failure = RegisterFailure(FailureKind.TIMEOUT, None, reason)
            raise RegisterFailed(failure) from error

    def _next_authorization(self) -> str:
        assert self._challenge is not None
        self._nc += 1
        credentials = build_credentials(
            self._challenge,
            method="REGISTER",
            uri=self._identity.server_uri,
            username=self._identity.device_id,
            password=self._password,
            cnonce=secrets.token_hex(4),
            nc=self._nc,
        )
        return str(credentials)

    def _parse_challenge(self, response: SipResponse) -> DigestChallenge:
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        value = response.headers.get(name)
        if value is None:
            raise _refused(FailureKind.BAD_CHALLENGE, response, f"{name} missing")
        try:
            challenge = DigestChallenge.parse(value)
        except RemoteProtocolError as error:
            raise _refused(FailureKind.BAD_CHALLENGE, response, error.reason) from error
        if challenge.digest_algorithm is None or (challenge.qop and not challenge.offers_auth):
            raise _refused(FailureKind.BAD_CHALLENGE, response, f"cannot answer {value[:80]!r}")
        return challenge

    def _granted(self, response: SipResponse, requested: int) -> int:
        if response.cseq.number != self._cseq or response.cseq.method != "REGISTER":
            raise _refused(FailureKind.REFUSED, response, f"200 for CSeq {response.cseq}")
        granted = response.expires
        if granted is None and response.contact is not None:
            value = response.contact.param("expires")
            granted = int(value) if value is not None and value.isdigit() else None
        return requested if granted is None else granted


def _min_expires(response: SipResponse) -> int | None:
    value = response.headers.get("Min-Expires")
    return int(value.strip()) if value is not None and value.strip().isdigit() else None


def _refused(kind: FailureKind, response: SipResponse, reason: str) -> RegisterFailed:
    return RegisterFailed(RegisterFailure(kind, response.status, reason))
