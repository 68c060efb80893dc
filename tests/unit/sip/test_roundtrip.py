"""Properties of the parser: round trips, no untyped errors, chunking independence."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.headers import Headers, canonical_name
from farmwatch.sipserver.sip.message import SipMessage, SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import (
    MalformedMessage,
    ParserLimits,
    StreamParser,
    is_keepalive_ping,
    parse_message,
)

TOKEN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
tokens = st.text(alphabet=TOKEN_CHARS, min_size=1, max_size=12)
words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)
# Header values: any text without controls or surrogates, no SP/HT at either end.
free_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=30).map(
    lambda text: text.strip(" \t")
)
list_entry = free_text.filter(lambda text: text != "" and "," not in text)
uris = st.builds(lambda user, host: f"sip:{user}@{host}", words, words) | st.builds(
    lambda number: f"tel:+86{number}", st.integers(0, 10**11)
)
SPECIAL: set[str] = {"from", "to", "call-id", "cseq", "content-length", "max-forwards"}
SPECIAL |= {"via", "route", "record-route"}


def is_plain_name(name: str) -> bool:
    return canonical_name(name) == name and name.lower() not in SPECIAL


extra_names = st.sampled_from(["Subject", "User-Agent", "X-GB-Ver", "Contact", "Expires"]) | (
    tokens.filter(is_plain_name)
)


@st.composite
def header_blocks(draw: st.DrawFn, method: str, body: bytes) -> Headers:
    via = st.builds(lambda host, branch: f"SIP/2.0/UDP {host};branch=z9hG4bK{branch}", words, words)
    vias = draw(st.lists(via, min_size=1, max_size=3))
    fields = [("Via", via) for via in vias]
    fields.append(("From", f"<sip:{draw(words)}@{draw(words)}>;tag={draw(words)}"))
    fields.append(("To", f'"{draw(words)}" <sip:{draw(words)}@{draw(words)}>'))
    fields.append(("Call-ID", draw(free_text.filter(bool))))
    fields.append(("CSeq", f"{draw(st.integers(0, 2**31 - 1))} {method}"))
    extras = draw(
        st.lists(
            st.tuples(extra_names, free_text)
            | st.tuples(st.sampled_from(["Route", "Record-Route"]), list_entry)
            | st.tuples(st.just("Via"), via),  # any Via may come out on top: all readable
            max_size=8,
        )
    )
    fields.extend(extras)
    draw(st.randoms()).shuffle(fields)
    fields.append(("Content-Length", str(len(body))))
    return Headers(tuple(fields))


@st.composite
def messages(draw: st.DrawFn) -> SipMessage:
    body = draw(st.binary(max_size=200))
    if draw(st.booleans()):
        method = draw(tokens)
        return SipRequest(method, draw(uris), draw(header_blocks(method, body)), body)
    status = draw(st.integers(100, 699))
    reason = draw(free_text)
    return SipResponse(status, reason, draw(header_blocks(draw(tokens), body)), body)


@st.composite
def requests(draw: st.DrawFn) -> SipMessage:
    body = draw(st.binary(max_size=200))
    method = draw(tokens)
    return SipRequest(method, draw(uris), draw(header_blocks(method, body)), body)


@settings(max_examples=100, deadline=None)
@given(messages())
def test_parse_of_serialised_message_is_the_message(message: SipMessage) -> None:
    assert parse_message(message.to_bytes()) == message


SIP_PREFIXES = st.sampled_from([b"", b"REGISTER sip:a@b SIP/2.0\r\n", b"SIP/2.0 200 OK\r\n"])


@settings(max_examples=300, deadline=None)
@given(SIP_PREFIXES, st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_malformed_message(prefix: bytes, tail: bytes) -> None:
    data = prefix + tail
    is_keepalive_ping(data)
    try:
        parse_message(data)
    except MalformedMessage as error:
        assert error.can_answer == (error.partial is not None)
    with contextlib.suppress(RemoteProtocolError):
        StreamParser(ParserLimits(max_message_size=300)).feed(data)


MUTATION_BYTES = st.sampled_from(list(b'\r\n \t:;,<>"\\@%\x00\x7f\xff0SIP/') + [0xE4])


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(requests()).to_bytes())
    for _ in range(draw(st.integers(1, 6))):
        index = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        if action == "delete":
            del data[index]
        elif action == "insert":
            data.insert(index, draw(MUTATION_BYTES))
        else:
            data[index] = draw(MUTATION_BYTES)
    return bytes(data)


@settings(max_examples=120, deadline=None)
@given(mutated())
def test_mutated_messages_parse_or_raise_malformed_message(data: bytes) -> None:
    try:
        message = parse_message(data)
    except MalformedMessage as error:
        if error.partial is not None:
            assert error.can_answer
            # Whatever was salvaged can be serialised for the answer.
            assert error.partial.to_bytes()
        return
    # What parses serialises and parses back to itself (to_bytes always writes the
    # Content-Length of the body, last).
    again = parse_message(message.to_bytes())
    assert again.headers.remove("Content-Length") == message.headers.remove("Content-Length")
    assert (again.body, again.headers.get("Content-Length")) == (
        message.body,
        str(len(message.body)),
    )


def summary(items: list[SipMessage | MalformedMessage]) -> list[object]:
    return [
        (item.reason, item.status_hint, item.partial)
        if isinstance(item, MalformedMessage)
        else item
        for item in items
    ]


@settings(max_examples=30, deadline=None)
@given(
    st.lists(requests(), min_size=1, max_size=4),
    st.lists(st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"\n"]), min_size=4, max_size=4),
    st.lists(st.integers(0, 4000), max_size=8),
)
def test_stream_parsing_is_independent_of_chunking(
    items: list[SipMessage], pings: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(ping + item.to_bytes() for ping, item in zip(pings, items, strict=False))
    whole = StreamParser().feed(stream)
    assert whole == items
    parser = StreamParser()
    pieces: list[SipMessage | MalformedMessage] = []
    bounds = [0, *sorted(cut % (len(stream) + 1) for cut in cuts), len(stream)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        pieces += parser.feed(stream[start:end])
    assert summary(pieces) == summary(whole)
    assert parser.buffered == 0


@settings(max_examples=30, deadline=None)
@given(st.lists(mutated(), min_size=1, max_size=3), st.lists(st.integers(0, 3000), max_size=6))
def test_stream_chunking_independence_with_broken_messages(
    datas: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(datas)

    def run(bounds: list[int]) -> list[object] | str:
        parser = StreamParser()
        out: list[SipMessage | MalformedMessage] = []
        try:
            for start, end in zip(bounds, bounds[1:], strict=False):
                out += parser.feed(stream[start:end])
        except RemoteProtocolError as error:
            return f"closed: {error.reason}"
        return summary(out)

    chunked = run([0, *sorted(cut % (len(stream) + 1) for cut in cuts), len(stream)])
    whole = run([0, len(stream)])
    if isinstance(whole, str):
        # A stream that cannot be framed fails however it is cut, possibly only after
        # the messages before the fault were delivered.
        assert isinstance(chunked, str)
    else:
        assert chunked == whole
