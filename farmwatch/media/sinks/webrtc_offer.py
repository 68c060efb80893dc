"""Checks a viewer's SDP offer before aiortc negotiates with it (pure: no I/O, no clock).

The offer comes from a browser, i.e. from anyone who can reach the API. aiortc 1.16 trusts
it: on garbage its parser raises whatever the line it choked on gave (`ValueError`,
`KeyError`, `IndexError`, `AttributeError`, `AssertionError`, `StopIteration`), and an
offer that parses but lacks what a WebRTC offer must carry (RFC 8829 §5.8: ICE
credentials, a DTLS fingerprint and setup role, a direction per media section; RFC 8843
unique `mid`s) fails later inside `setRemoteDescription`, `createAnswer`, or a background
DTLS task. `check_offer` refuses all of that up front with `InvalidOffer` and a message
saying what is wrong, so a malformed offer is the viewer's 400, not our 500.
"""

from __future__ import annotations

from aiortc import sdp

from farmwatch.media.errors import InvalidOffer

__all__ = ["check_offer"]

_MEDIA_KINDS = ("audio", "video")
# What aiortc's parser raises on malformed lines (it has no error type of its own).
_PARSER_ERRORS = (
    ValueError,
    KeyError,
    IndexError,
    AttributeError,
    AssertionError,
    StopIteration,
    TypeError,
)


def check_offer(offer_sdp: str) -> None:
    """Raise `InvalidOffer` unless `offer_sdp` is an offer aiortc can answer with video."""
    try:
        description = sdp.SessionDescription.parse(offer_sdp)
    except _PARSER_ERRORS as error:
        raise InvalidOffer(f"cannot parse it ({type(error).__name__}: {error})") from error
    if not any(media.kind == "video" for media in description.media):
        raise InvalidOffer("no video m-line")
    mids: set[str] = set()
    for index, media in enumerate(description.media):
        where = f"m-line {index} ({media.kind})"
        mid = media.rtp.muxId
        if mid is None:  # "a=mid" with no value ("" is aiortc's "no a=mid line")
            raise InvalidOffer(f"{where}: a=mid without a value")
        if mid:
            if mid in mids:
                raise InvalidOffer(f"{where}: mid {mid!r} repeated")
            mids.add(mid)
        if media.kind not in _MEDIA_KINDS:
            continue  # not negotiated: aiortc only answers it (a data channel) or rejects it
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise InvalidOffer(f"{where}: no ICE ufrag/pwd")
        if media.dtls is None or not media.dtls.fingerprints:
            raise InvalidOffer(f"{where}: no DTLS fingerprint and setup attribute")
        if media.direction not in sdp.DIRECTIONS:
            raise InvalidOffer(f"{where}: no direction (sendrecv, recvonly, ...)")
        if not media.rtp.codecs:
            raise InvalidOffer(f"{where}: no rtpmap for its payload types")
