"""The keepalive shortcut gives exactly what the XML parser gives, or steps aside."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb.manscdp import Keepalive
from farmwatch.sipserver.gb.manscdp_parse import (
    parse_manscdp,
    parse_manscdp_xml,
    plain_keepalive,
)

PROLOG = '<?xml version="1.0" encoding="GB2312"?>'
SPACE = st.sampled_from(["", "\r\n", "\n", " ", "\t", "\r\n  "])


@settings(max_examples=150, deadline=None)
@given(
    sn=st.integers(min_value=0, max_value=2**31),
    device=st.from_regex(r"[0-9]{20}", fullmatch=True),
    status=st.sampled_from(["OK", "ERROR"]),
    gaps=st.lists(SPACE, min_size=8, max_size=8),
    prolog=st.booleans(),
)
def test_shortcut_equals_the_xml_parser(
    sn: int, device: str, status: str, gaps: list[str], prolog: bool
) -> None:
    a, b, c, d, e, f, g, h = gaps
    body = (
        f"{PROLOG if prolog else ''}{a}<Notify>{b}<CmdType>Keepalive</CmdType>{c}"
        f"<SN>{d}{sn}</SN>{e}<DeviceID>{device}</DeviceID>{f}<Status>{g}{status}</Status>"
        f"{h}</Notify>\r\n"
    ).encode()
    fast = plain_keepalive(body)
    assert fast is not None
    assert fast == parse_manscdp_xml(body)


def test_anything_unusual_takes_the_xml_path() -> None:
    with_info = (
        b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>34020000001320000001"
        b"</DeviceID><Status>OK</Status><Info><DeviceID>34020000001310000001</DeviceID>"
        b"</Info></Notify>"
    )
    assert plain_keepalive(with_info) is None
    parsed = parse_manscdp(with_info)
    assert isinstance(parsed, Keepalive)
    assert parsed.info_device_ids == ("34020000001310000001",)
    entity = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><Notify><CmdType>Keepalive'
        b"</CmdType><SN>1</SN><DeviceID>1</DeviceID><Status>OK</Status></Notify>"
    )
    assert plain_keepalive(entity) is None
    lowercase = b"<Notify><CmdType>Keepalive</CmdType><SN>1</SN><DeviceID>1</DeviceID>" \
        b"<Status>ok</Status></Notify>"  # fmt: skip
    assert plain_keepalive(lowercase) is None
    assert parse_manscdp(lowercase) == parse_manscdp_xml(lowercase)
