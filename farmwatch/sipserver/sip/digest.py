"""HTTP Digest values and arithmetic (RFC 2617, RFC 7616, RFC 3261 §22; gb28181.md §3.3).

Owns the wire form of `WWW-Authenticate` / `Proxy-Authenticate` (`DigestChallenge`) and
`Authorization` / `Proxy-Authorization` (`DigestCredentials`), `compute_response` for
MD5, SHA-256, SM3 (GB/T 28181-2022 §8.3, when the linked OpenSSL has it) and their `-sess`
variants, and the client side `build_credentials` used by the cascade uplink and the
simulator. Everything here is pure: no clock, no I/O, no nonce policy (see `nonce.py`
and `auth.py`).

Parsing is lenient where devices differ (parameter-name case, odd spacing, quoted or bare
values, empty list elements) and strict where a value cannot be trusted: a malformed header
raises `RemoteProtocolError` with `status_hint=400`, a scheme other than Digest one with
`status_hint=401` (answer with a fresh challenge).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError


class DigestAlgorithm(StrEnum):
    """The `algorithm` values we can compute, spelled as on the wire."""

    MD5 = "MD5"
    MD5_SESS = "MD5-sess"
    SHA256 = "SHA-256"
    SHA256_SESS = "SHA-256-sess"
    SM3 = "SM3"
    SM3_SESS = "SM3-sess"

    @classmethod
    def from_param(cls, text: str | None) -> DigestAlgorithm | None:
        """`None` or `md5` → MD5; an algorithm we cannot compute → None."""
        if text is None:
            return cls.MD5
        return _ALGORITHMS_BY_LOWER_NAME.get(text.strip().lower())

    @property
    def is_session(self) -> bool:
        return self.value.endswith("-sess")


_ALGORITHMS_BY_LOWER_NAME = {
    algorithm.value.lower(): algorithm
    for algorithm in DigestAlgorithm
    if not algorithm.value.startswith("SM3") or "sm3" in hashlib.algorithms_available
}

_HASH_NAMES = {"MD5": "md5", "SHA-256": "sha256", "SM3": "sm3"}

QOP_AUTH = "auth"


def _hasher(algorithm: DigestAlgorithm) -> Callable[[bytes], str]:
    name = _HASH_NAMES[algorithm.value.removesuffix("-sess")]
    if name == "md5":
        return lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest()
    if name == "sha256":
        return lambda data: hashlib.sha256(data).hexdigest()
    return lambda data: hashlib.new(name, data).hexdigest()


_HASHERS = {algorithm: _hasher(algorithm) for algorithm in _ALGORITHMS_BY_LOWER_NAME.values()}


# One `name = value` element of a comma-separated list; value quoted (with escapes) or a
# bare token. `_PARAM_LIST_RE` checks the whole list at once, then `_PARAM_RE.findall`
# takes the pairs (each match consumes a whole value, so none starts inside quotes).
_PARAM = r'([A-Za-z0-9_.\-]+)[ \t]*=[ \t]*("[^"\\]*(?:\\.[^"\\]*)*"|[^",\s]*)'
_PARAM_RE = re.compile(_PARAM, re.DOTALL)
_PARAM_LIST_RE = re.compile(
    r'[ \t,]*(?:[A-Za-z0-9_.\-]+[ \t]*=[ \t]*(?:"[^"\\]*(?:\\.[^"\\]*)*"|[^",\s]*)[ \t]*'
    r"(?:,[ \t,]*|$))*",
    re.DOTALL,
)
_SCHEME_RE = re.compile(r"[ \t]*([^ \t,=]+)(?:[ \t]+(.*)|[ \t]*)$", re.DOTALL)
_UNESCAPE_RE = re.compile(r"\\(.)", re.DOTALL)
_HEX_RE = re.compile(r"[0-9A-Fa-f]{1,8}")


def _malformed(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, 400, can_answer=True)


def _parse_digest_params(text: str) -> dict[str, str]:
    """`Digest a=1, b="x"` → `{"a": "1", "b": "x"}` with lower-case names."""
    match = _SCHEME_RE.match(text)
    scheme, rest = (match.group(1), match.group(2) or "") if match else ("", "")
    if not scheme:
        raise _malformed("empty authentication header")
    if scheme.lower() != "digest":
        raise RemoteProtocolError(
            f"unsupported authentication scheme: {scheme[:40]!r}", 401, can_answer=True
        )
    if _PARAM_LIST_RE.fullmatch(rest) is None:
        raise _malformed(f"malformed digest parameters: {text[:200]!r}")
    params: dict[str, str] = {}
    for raw_name, raw_value in _PARAM_RE.findall(rest):
        name, value = raw_name.lower(), raw_value
        if value.startswith('"'):
            value = value[1:-1]
            if "\\" in value:
                value = _UNESCAPE_RE.sub(r"\1", value)
        if name in params:
            raise _malformed(f"duplicate digest parameter {name!r}")
        params[name] = value
    return params


def _required(params: dict[str, str], name: str) -> str:
    value = params.pop(name, None)
    if value is None:
        raise _malformed(f"digest parameter {name!r} missing")
    return value


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format(params: list[tuple[str, str, bool]]) -> str:
    """Serialise `(name, value, quoted)` triples as `Digest a="x", b=y`."""
    return "Digest " + ", ".join(
        f"{name}={_quote(value) if quoted else value}" for name, value, quoted in params
    )


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """A `WWW-Authenticate: Digest ...` value (RFC 7616 §3.3)."""

    realm: str
    nonce: str
    algorithm: str | None = None
    """As on the wire (`MD5`, `SHA-256`, ...); None when absent, which means MD5."""
    qop: tuple[str, ...] = ()
    """The qop values offered, e.g. `("auth",)`; empty when the challenge has no qop."""
    opaque: str | None = None
    stale: bool = False
    domain: str | None = None
    extra: tuple[tuple[str, str], ...] = ()
    """Parameters we do not interpret (lower-case names), kept in order."""

    @classmethod
    def parse(cls, text: str) -> DigestChallenge:
        params = _parse_digest_params(text)
        realm, nonce = _required(params, "realm"), _required(params, "nonce")
        qop_text = params.pop("qop", None)
        qop = () if qop_text is None else tuple(q.strip() for q in qop_text.split(",") if q.strip())
        stale = params.pop("stale", "false").strip().lower() == "true"
        return cls(
            realm=realm,
            nonce=nonce,
            algorithm=params.pop("algorithm", None),
            qop=qop,
            opaque=params.pop("opaque", None),
            stale=stale,
            domain=params.pop("domain", None),
            extra=tuple(params.items()),
        )

    @property
    def digest_algorithm(self) -> DigestAlgorithm | None:
        """The algorithm to answer with, or None if we cannot compute it."""
        return DigestAlgorithm.from_param(self.algorithm)

    @property
    def offers_auth(self) -> bool:
        return any(q.lower() == QOP_AUTH for q in self.qop)

    def __str__(self) -> str:
        params = [("realm", self.realm, True)]
        if self.domain is not None:
            params.append(("domain", self.domain, True))
        params.append(("nonce", self.nonce, True))
        if self.opaque is not None:
            params.append(("opaque", self.opaque, True))
        if self.stale:
            params.append(("stale", "true", False))
        if self.algorithm is not None:
            params.append(("algorithm", self.algorithm, _needs_quotes(self.algorithm)))
        if self.qop:
            params.append(("qop", ",".join(self.qop), True))
        params.extend((name, value, True) for name, value in self.extra)
        return _format(params)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """An `Authorization: Digest ...` value (RFC 7616 §3.4); every field as sent."""

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    qop: str | None = None
    nc: str | None = None
    """Nonce count exactly as sent (8 hex digits); present iff `qop` is."""
    cnonce: str | None = None
    opaque: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> DigestCredentials:
        params = _parse_digest_params(text)
        username, realm = _required(params, "username"), _required(params, "realm")
        nonce, uri = _required(params, "nonce"), _required(params, "uri")
        response = _required(params, "response")
        qop, nc, cnonce = (
            params.pop("qop", None),
            params.pop("nc", None),
            params.pop("cnonce", None),
        )
        if qop is not None and (nc is None or cnonce is None):
            raise _malformed("digest qop without nc and cnonce")
        if nc is not None and _HEX_RE.fullmatch(nc.strip()) is None:
            raise _malformed(f"malformed digest nc: {nc[:20]!r}")
        return cls(
            username=username,
            realm=realm,
            nonce=nonce,
            uri=uri,
            response=response,
            algorithm=params.pop("algorithm", None),
            qop=qop,
            nc=nc,
            cnonce=cnonce,
            opaque=params.pop("opaque", None),
            extra=tuple(params.items()),
        )

    @property
    def digest_algorithm(self) -> DigestAlgorithm | None:
        return DigestAlgorithm.from_param(self.algorithm)

    @property
    def nonce_count(self) -> int | None:
        """`nc` as a number, for replay checks."""
        return None if self.nc is None else int(self.nc, 16)

    def __str__(self) -> str:
        params = [
            ("username", self.username, True),
            ("realm", self.realm, True),
            ("nonce", self.nonce, True),
            ("uri", self.uri, True),
            ("response", self.response, True),
        ]
        if self.algorithm is not None:
            params.append(("algorithm", self.algorithm, _needs_quotes(self.algorithm)))
        if self.cnonce is not None:
            params.append(("cnonce", self.cnonce, True))
        if self.opaque is not None:
            params.append(("opaque", self.opaque, True))
        if self.qop is not None:
            params.append(("qop", self.qop, _needs_quotes(self.qop)))
        if self.nc is not None:
            params.append(("nc", self.nc, _needs_quotes(self.nc)))
        params.extend((name, value, True) for name, value in self.extra)
        return _format(params)


_TOKEN_RE = re.compile(r"[A-Za-z0-9_.\-!%*+`'~]+")


def _needs_quotes(value: str) -> bool:
    return _TOKEN_RE.fullmatch(value) is None


def compute_ha1(
    algorithm: DigestAlgorithm,
    *,
    username: str,
    realm: str,
    password: str,
    nonce: str = "",
    cnonce: str = "",
) -> str:
    """H(username:realm:password), or for `-sess` H(that:nonce:cnonce) (RFC 7616 §3.4.2)."""
    digest = _HASHERS[algorithm]
    ha1 = digest(f"{username}:{realm}:{password}".encode())
    if algorithm.is_session:
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
    return ha1


def compute_response(
    algorithm: DigestAlgorithm,
    *,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str | None = None,
    cnonce: str | None = None,
) -> str:
    """The `response` value; every string is used exactly as the client sent it.

    Without qop (RFC 2069 form, the GB/T 28181 J.1 example): H(HA1:nonce:HA2);
    with `qop=auth`: H(HA1:nonce:nc:cnonce:qop:HA2), where HA2 = H(method:uri).
    """
    digest = _HASHERS[algorithm]
    ha1 = compute_ha1(
        algorithm,
        username=username,
        realm=realm,
        password=password,
        nonce=nonce,
        cnonce=cnonce or "",
    )
    ha2 = digest(f"{method}:{uri}".encode())
    if qop is None:
        return digest(f"{ha1}:{nonce}:{ha2}".encode())
    return digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())


def build_credentials(
    challenge: DigestChallenge,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    cnonce: str,
    nc: int = 1,
) -> DigestCredentials:
    """Answer `challenge` as a UAC would: qop=auth when offered, else the RFC 2069 form.

    Raises `RemoteProtocolError` when the challenge asks for an algorithm we cannot compute
    or offers only qop values other than `auth`, and `LocalProtocolError` for a bad `nc`.
    """
    algorithm = challenge.digest_algorithm
    if algorithm is None:
        raise RemoteProtocolError(f"unsupported digest algorithm {challenge.algorithm!r}")
    if challenge.qop and not challenge.offers_auth:
        raise RemoteProtocolError(f"unsupported digest qop {','.join(challenge.qop)!r}")
    if not 0 < nc < 2**32:
        raise LocalProtocolError(f"nonce count out of range: {nc}")
    qop, nc_text = (QOP_AUTH, f"{nc:08x}") if challenge.offers_auth else (None, None)
    use_cnonce = qop is not None or algorithm.is_session
    response = compute_response(
        algorithm,
        username=username,
        realm=challenge.realm,
        password=password,
        method=method,
        uri=uri,
        nonce=challenge.nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if use_cnonce else None,
    )
    return DigestCredentials(
        username=username,
        realm=challenge.realm,
        nonce=challenge.nonce,
        uri=uri,
        response=response,
        algorithm=challenge.algorithm,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce if use_cnonce else None,
        opaque=challenge.opaque,
    )
