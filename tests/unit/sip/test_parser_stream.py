"""`StreamParser`: TCP framing by blank line + Content-Length (RFC 3261 §18.3)."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.parser import MalformedMessage, ParserLimits, StreamParser

Item = SipRequest | SipResponse | MalformedMessage


def message(call_id: str, body: bytes = b"", *, cseq: str = "1 MESSAGE") -> bytes:
    head = (
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
        "Via: SIP/2.0/TCP 192.168.20.64:5060;branch=z9hG4bK" + call_id + "\r\n"
        "From: <sip:34020000001180000001@3402000000>;tag=1\r\n"
        "To: <sip:34020000002000000001@3402000000>\r\n"
        f"Call-ID: {call_id}\r\nCSeq: {cseq}\r\n"
        "Content-Type: Application/MANSCDP+xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def summary(items: list[Item]) -> list[tuple[str, str, bytes]]:
    out = []
    for item in items:
        if isinstance(item, MalformedMessage):
            partial = item.partial.call_id if item.partial is not None else ""
            out.append(("malformed", f"{item.status_hint} {item.reason} {partial}", b""))
        else:
            out.append((type(item).__name__, item.call_id, item.body))
    return out


STREAM = (
    b"\r\n\r\n"
    + message("a", b"<Notify>\r\n\r\n</Notify>\r\n")
    + b"\r\n\r\n"  # RFC 5626 ping between messages
    + message("b", cseq="x MESSAGE")
    + message("c", "东门".encode("gb18030"))
    + b"\n"
)
EXPECTED = [
    ("SipRequest", "a", b"<Notify>\r\n\r\n</Notify>\r\n"),
    ("malformed", "400 malformed CSeq b", b""),
    ("SipRequest", "c", "东门".encode("gb18030")),
]


def test_messages_pings_and_a_malformed_one_in_one_chunk() -> None:
    parser = StreamParser()
    assert summary(parser.feed(STREAM)) == EXPECTED
    assert parser.buffered == 0


def test_split_at_every_byte_boundary() -> None:
    for split in range(len(STREAM) + 1):
        parser = StreamParser()
        items = parser.feed(STREAM[:split]) + parser.feed(STREAM[split:])
        assert summary(items) == EXPECTED, split


def test_one_byte_at_a_time() -> None:
    parser = StreamParser()
    items: list[Item] = []
    for index in range(len(STREAM)):
        items += parser.feed(STREAM[index : index + 1])
    assert summary(items) == EXPECTED


def test_missing_content_length_means_no_body() -> None:
    data = message("a").replace(b"Content-Length: 0\r\n", b"") + message("b")
    assert [item[1] for item in summary(StreamParser().feed(data))] == ["a", "b"]


def test_compact_and_folded_content_length() -> None:
    data = message("a", b"12345").replace(b"Content-Length: 5", b"l:\r\n 5") + message("b")
    assert summary(StreamParser().feed(data))[0] == ("SipRequest", "a", b"12345")


def test_incomplete_message_waits_for_its_body() -> None:
    parser = StreamParser()
    data = message("a", b"0123456789")
    assert parser.feed(data[:-3]) == []
    assert parser.buffered == len(data) - 3
    assert summary(parser.feed(data[-3:])) == [("SipRequest", "a", b"0123456789")]


def test_endless_header_block_closes_the_stream() -> None:
    parser = StreamParser(ParserLimits(max_message_size=1000))
    parser.feed(b"MESSAGE sip:a@b SIP/2.0\r\n")
    with pytest.raises(RemoteProtocolError) as caught:
        for _ in range(100):
            parser.feed(b"X-Filler: " + b"y" * 40 + b"\r\n")
            assert parser.buffered <= 1000
    assert caught.value.status_hint == 413
    with pytest.raises(RemoteProtocolError):
        parser.feed(message("a"))


@pytest.mark.parametrize(
    ("content_length", "reason"),
    [
        (b"Content-Length: -1", "unparsable Content-Length"),
        (b"Content-Length: 1e3", "unparsable Content-Length"),
        (b"Content-Length: 99999999999", "unparsable Content-Length"),
        (b"Content-Length: 70000", "body too large"),
        (b"Content-Length: 10\r\nl: 12", "conflicting Content-Length"),
    ],
)
def test_unframeable_content_length_raises(content_length: bytes, reason: str) -> None:
    data = message("a").replace(b"Content-Length: 0", content_length)
    with pytest.raises(RemoteProtocolError) as caught:
        StreamParser().feed(data)
    assert caught.value.reason == reason


def test_message_larger_than_the_limit_raises() -> None:
    parser = StreamParser(ParserLimits(max_message_size=400, max_body=1000))
    with pytest.raises(RemoteProtocolError, match="message too large"):
        parser.feed(message("a", b"x" * 300)[:350])


def test_equal_duplicate_content_length_frames_then_is_malformed() -> None:
    data = message("a", b"xy").replace(b"Content-Length: 2", b"Content-Length: 2\r\nl: 2")
    items = StreamParser().feed(data + message("b"))
    assert summary(items) == [
        ("malformed", "400 duplicate Content-Length a", b""),
        ("SipRequest", "b", b""),
    ]


def test_responses_are_framed_too() -> None:
    response = (
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n"
        b"To: <sip:a@b>;tag=2\r\nCall-ID: r\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n"
    )
    assert summary(StreamParser().feed(response + message("a"))) == [
        ("SipResponse", "r", b""),
        ("SipRequest", "a", b""),
    ]


@pytest.mark.parametrize("chunk", [1, 7, 64, 10_000])
def test_frames_are_the_exact_bytes_of_each_message(chunk: int) -> None:
    first, second = message("f1", b"<Notify>1</Notify>"), message("f2")
    stream = b"\r\n" + first + b"\r\n\r\n" + second  # keep-alive CRLFs between messages
    parser = StreamParser()
    frames: list[bytes] = []
    for start in range(0, len(stream), chunk):
        frames.extend(parser.feed_frames(stream[start : start + chunk]))
    assert frames == [first, second]
    assert parser.buffered == 0
