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
from farmwatch.sipserver.gb.manscdp_text import ManscdpError

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


KEEPALIVE = (
    b"<Notify><CmdType>Keepalive</CmdType><SN>7</SN><DeviceID>34020000001320000001</DeviceID>"
    b"<Status>OK</Status></Notify>"
)
LABELS = [
    "GB2312", "gb2312", "GBK", "GB18030", "gb_2312", "hz-gb-2312", "UTF-8", "utf8", "UTF8",
    "utf-16", "UTF-16LE", "utf-16-be", "utf-32", "utf-7", "cp037", "latin-1", "ascii", "big5",
    "shift_jis", "base64", "rot13", "bogus", "idna",
]  # fmt: skip


def _outcome(parse: object, body: bytes, override: str | None) -> object:
    try:
        return parse(body, charset_override=override)  # type: ignore[operator]
    except ManscdpError:
        return ManscdpError


def test_a_declared_utf16_keepalive_is_left_to_the_xml_parser() -> None:
    # ASCII bytes under a utf-16 declaration: the XML path decodes them as UTF-16 (and
    # fails); the shortcut used to read them as ASCII and answer as if nothing were odd.
    body = b'<?xml version="1.0" encoding="utf-16"?>\r\n' + KEEPALIVE + b"\r\n"
    assert plain_keepalive(body) is None
    assert _outcome(parse_manscdp, body, None) == _outcome(parse_manscdp_xml, body, None)


def test_an_override_outside_the_gb_and_utf8_family_is_left_to_the_xml_parser() -> None:
    assert plain_keepalive(KEEPALIVE) is not None
    assert plain_keepalive(KEEPALIVE, charset_override="GBK") is not None
    assert plain_keepalive(KEEPALIVE, charset_override="utf-16") is None
    assert _outcome(parse_manscdp, KEEPALIVE, "utf-16") == _outcome(
        parse_manscdp_xml, KEEPALIVE, "utf-16"
    )


@settings(max_examples=300, deadline=None)
@given(
    declaration=st.sampled_from(
        ["", "<?xml?>", "<?xmlfoo?>", "<?xml-stylesheet?>", "<?xml version='1.0'?>"]
        + ["<?xml version='1.0' note='中文'?>", "<?xml encoding='gb2312' note='中'?>"]
        + [f'<?xml version="1.0" encoding="{label}"?>' for label in LABELS]
        + [f"<?xml version='1.0' encoding = ' {label} ' ?>" for label in LABELS]
    ),
    override=st.none() | st.sampled_from(LABELS),
    gaps=st.lists(
        st.sampled_from(["", " ", "\r\n", "\t", "\x0b", "\x0c", "\x00"]), min_size=3, max_size=3
    ),  # fmt: skip
)
def test_the_shortcut_reads_what_the_xml_parser_reads_or_steps_aside(
    declaration: str, override: str | None, gaps: list[str]
) -> None:
    a, b, c = gaps
    body = f"{a}{declaration}{b}".encode() + KEEPALIVE.replace(b"<SN>7", f"<SN>{c}7".encode())
    fast = _outcome(parse_manscdp, body, override)
    assert fast == _outcome(parse_manscdp_xml, body, override)
