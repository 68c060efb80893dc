"""Building requests we originate (RFC 3261 §8.1.1) and the random tokens they need."""

from __future__ import annotations

from farmwatch.sipserver.sip.headers import Headers, canonical_name
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.tokens import random_hex

BRANCH_MAGIC_COOKIE = "z9hG4bK"


def new_tag() -> str:
    return random_hex(5)


def new_call_id(host: str) -> str:
    return f"{random_hex(10)}@{host}"


def build_request(
    method: str,
    request_uri: str,
    *,
    from_: str,
    to: str,
    call_id: str,
    cseq: int,
    contact: str | None = None,
    user_agent: str | None = None,
    extra: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> SipRequest:
    """A request without Via: the endpoint adds the top Via for the transport it uses.

    `from_` and `to` are full header values (`<sip:id@domain>;tag=...`).
    """
    pairs: list[tuple[str, str]] = [
        ("From", from_),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        ("Max-Forwards", "70"),
    ]
    if contact is not None:
        pairs.append(("Contact", contact))
    if user_agent:
        pairs.append(("User-Agent", user_agent))
    pairs.extend((canonical_name(name), value) for name, value in extra)
    if body and content_type is not None:
        pairs.append(("Content-Type", content_type))
    # The names above are spelled canonically already: only `extra` needs the lookup.
    return SipRequest(method=method, uri=request_uri, headers=Headers(tuple(pairs)), body=body)
