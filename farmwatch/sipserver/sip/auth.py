"""Registrar-side digest authentication policy (RFC 3261 §22, gb28181.md §3.3, §10 item 13).

`DigestAuthenticator` is the pure object the registrar drives: `challenge(now)` builds the
`WWW-Authenticate` value of a 401, `verify(credentials, method=..., password=..., now=...)`
judges an `Authorization` header and returns an `AuthResult`. It follows what GB devices
actually do:

* answers with and without `qop` are both accepted, whatever we offered, and so is any
  algorithm we can compute (an MD5 answer to a SHA-256 challenge too: interop first);
* `uri`, `nc` and `cnonce` are hashed exactly as sent, the realm as sent after trimming;
* nonces are stateless (`nonce.NonceIssuer`) and bound to what the caller passes as
  `binding` (the registrar: source address and Call-ID), so an answer replayed from
  elsewhere names an UNKNOWN_NONCE;
* nonces are consumed: an answer with qop must present a strictly increasing `nc`, an
  answer without qop is good once (`nonce.NonceCountTracker`, counting it as nc=1); a
  device that re-sends its last answer on refresh gets REPLAY, and a 401 with a fresh
  nonce (`stale=true`: its password was right) costs it one round trip;
* the response is checked before staleness and replay, so `STALE_NONCE` and `REPLAY`
  (→ 401 `stale=true`) are only reported to a client that knows the password
  (RFC 7616 §3.3).

The wire values and hash arithmetic live in `digest.py`; this module re-exports them.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from enum import Enum

from farmwatch.sipserver.sip.digest import (
    QOP_AUTH,
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    build_credentials,
    compute_ha1,
    compute_response,
)
from farmwatch.sipserver.sip.nonce import (
    DEFAULT_NONCE_LIFETIME,
    NonceCountTracker,
    NonceIssuer,
    NonceState,
)

__all__ = [
    "AuthResult",
    "DigestAlgorithm",
    "DigestAuthenticator",
    "DigestChallenge",
    "DigestCredentials",
    "DigestSettings",
    "NonceCountTracker",
    "NonceIssuer",
    "NonceState",
    "build_credentials",
    "compute_ha1",
    "compute_response",
]


class AuthResult(Enum):
    """The verdict on one `Authorization` header."""

    OK = "ok"
    BAD_RESPONSE = "bad response"
    """Wrong password (or wrong username/uri/method in the hash): answer 403."""
    STALE_NONCE = "stale nonce"
    """Right password, expired nonce: answer 401 with `stale=true`."""
    UNKNOWN_NONCE = "unknown nonce"
    """Not a nonce of this process (forged, or issued before a restart): answer 401."""
    REPLAY = "replay"
    """Right password, but the nonce was used already (`nc` not above the last accepted
    one; an answer without qop a second time): answer 401 with `stale=true`."""
    REALM_MISMATCH = "realm mismatch"
    """The device is configured with another SIP domain: answer 403."""
    UNSUPPORTED_ALGORITHM = "unsupported algorithm"
    UNSUPPORTED_QOP = "unsupported qop"
    """`auth-int` or an unknown qop: answer 401 offering ours."""

    @property
    def is_ok(self) -> bool:
        return self is AuthResult.OK

    @property
    def should_rechallenge(self) -> bool:
        """True when a fresh 401 challenge may succeed; False → 403 (or 200 when OK)."""
        return self not in (AuthResult.OK, AuthResult.BAD_RESPONSE, AuthResult.REALM_MISMATCH)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """How the registrar challenges."""

    realm: str
    """Normally the 10-digit SIP domain, e.g. `3402000000`."""
    nonce_lifetime: float = DEFAULT_NONCE_LIFETIME
    offer_qop: bool = True
    """Offer `qop="auth"`; answers without qop are accepted either way."""
    algorithm: DigestAlgorithm = DigestAlgorithm.MD5
    max_tracked_nonces: int = 65536


class DigestAuthenticator:
    """Challenges and verifies digest credentials for one realm; no clock, no I/O."""

    def __init__(self, settings: DigestSettings, *, secret: bytes) -> None:
        self.settings = settings
        self._realm = settings.realm.strip()
        self._issuer = NonceIssuer(secret, lifetime=settings.nonce_lifetime)
        self._counts = NonceCountTracker(max_entries=settings.max_tracked_nonces)

    def challenge(self, now: float, *, stale: bool = False, binding: str = "") -> DigestChallenge:
        """A challenge whose nonce is good only when answered with the same `binding`."""
        return DigestChallenge(
            realm=self._realm,
            nonce=self._issuer.issue(now, binding),
            algorithm=self.settings.algorithm.value,
            qop=(QOP_AUTH,) if self.settings.offer_qop else (),
            stale=stale,
        )

    def verify(
        self,
        credentials: DigestCredentials,
        *,
        method: str,
        password: str,
        now: float,
        binding: str = "",
    ) -> AuthResult:
        algorithm = credentials.digest_algorithm
        if algorithm is None:
            return AuthResult.UNSUPPORTED_ALGORITHM
        if credentials.qop is not None and credentials.qop.strip().lower() != QOP_AUTH:
            return AuthResult.UNSUPPORTED_QOP
        if credentials.realm.strip() != self._realm:
            return AuthResult.REALM_MISMATCH
        issued_at = self._issuer.issued_at(credentials.nonce, binding)
        state = self._issuer.state(issued_at, now)
        if issued_at is None or state is NonceState.INVALID:
            return AuthResult.UNKNOWN_NONCE
        if not _response_matches(credentials, algorithm, method=method, password=password):
            return AuthResult.BAD_RESPONSE
        if state is NonceState.STALE:
            return AuthResult.STALE_NONCE
        count = credentials.nonce_count
        if not self._counts.accept(
            credentials.nonce,
            1 if count is None else count,
            expires_at=issued_at + self._issuer.lifetime,
            now=now,
        ):
            return AuthResult.REPLAY
        return AuthResult.OK


def _response_matches(
    credentials: DigestCredentials, algorithm: DigestAlgorithm, *, method: str, password: str
) -> bool:
    """Compare in constant time, hashing the realm trimmed and, failing that, as sent."""
    sent = credentials.response.strip().lower().encode()
    realms = [credentials.realm.strip()]
    if credentials.realm != realms[0]:
        realms.append(credentials.realm)
    matched = False
    for realm in realms:
        expected = compute_response(
            algorithm,
            username=credentials.username,
            realm=realm,
            password=password,
            method=method,
            uri=credentials.uri,
            nonce=credentials.nonce,
            qop=credentials.qop,
            nc=credentials.nc,
            cnonce=credentials.cnonce,
        )
        matched |= hmac.compare_digest(sent, expected.encode())
    return matched
