"""Charset detection, decoding, sanitising and encoding of MANSCDP bodies (reference §4.2)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree

import pytest

from farmwatch.sipserver.gb import (
    ManscdpCharset,
    ManscdpError,
    decode_manscdp,
    encode_manscdp,
    sanitise_xml,
)
from farmwatch.sipserver.gb.manscdp_text import declared_encoding

NAME = "萳溪猪场东门"  # 萳 is in GBK/GB18030 but not in GB 2312


def _body(name: str, encoding_label: str | None) -> str:
    prolog = "" if encoding_label is None else f'<?xml version="1.0" encoding="{encoding_label}"?>'
    return f"{prolog}\r\n<Notify><Name>{name}</Name></Notify>\r\n"


def _name_of(text: str) -> str | None:
    return ElementTree.fromstring(text).findtext("Name")


@pytest.mark.parametrize(
    ("label", "codec"),
    [
        ("GB2312", "gbk"),
        ("gb2312", "gb18030"),
        ("GBK", "gbk"),
        ("GB18030", "gb18030"),
        (None, "gbk"),
        ("GB2312", "utf-8"),
        (None, "utf-8"),
        ("UTF-8", "utf-8"),
        ("UTF-8", "gbk"),
        ("no-such-charset", "gbk"),
    ],
)
def test_declared_and_actual_charsets_in_any_combination_decode_the_name(
    label: str | None, codec: str
) -> None:
    text = decode_manscdp(_body(NAME, label).encode(codec))

    assert _name_of(text) == NAME
    assert "encoding" not in text


def test_operator_override_wins_over_the_utf8_heuristic() -> None:
    # In GBK 摹陌 is C4 A1 C4 B0, which is also valid UTF-8 ("ġİ"): the rare case the
    # heuristic reads wrongly and the per-device override exists for.
    gbk_bytes = _body("摹陌", "GB2312").encode("gbk")

    assert _name_of(decode_manscdp(gbk_bytes)) == "ġİ"
    assert _name_of(decode_manscdp(gbk_bytes, charset_override="GBK")) == "摹陌"


def test_other_declared_charsets_are_honoured() -> None:
    assert _name_of(decode_manscdp(_body("Café", "ISO-8859-1").encode("latin-1"))) == "Café"


def test_override_utf8_on_gbk_bytes_falls_back_to_gb18030() -> None:
    text = decode_manscdp(_body(NAME, "GB2312").encode("gbk"), charset_override="utf-8")

    assert _name_of(text) == NAME


def test_utf8_bom_is_dropped_and_means_utf8() -> None:
    body = b"\xef\xbb\xbf" + _body(NAME, "GB2312").encode("utf-8")

    text = decode_manscdp(body)

    assert not text.startswith("\ufeff")
    assert _name_of(text) == NAME


def test_utf16_bom_is_decoded_as_utf16() -> None:
    assert _name_of(decode_manscdp(_body(NAME, "UTF-16").encode("utf-16"))) == NAME


def test_nul_bytes_are_removed() -> None:
    body = b"\x00" + _body(NAME, "GB2312").encode("gbk") + b"\x00\x00"

    assert _name_of(decode_manscdp(body)) == NAME


def test_undecodable_bytes_become_replacement_characters_not_an_error() -> None:
    body = b"<Notify><Name>\xff\xff</Name><SN>1</SN></Notify>"

    text = decode_manscdp(body)

    assert ElementTree.fromstring(text).findtext("SN") == "1"


def test_declared_encoding_reads_the_prolog_only() -> None:
    assert declared_encoding(b'<?xml version="1.0" encoding="GB2312"?><a/>') == "gb2312"
    assert declared_encoding(b"<?xml version='1.0' encoding='utf-8' ?><a/>") == "utf-8"
    assert declared_encoding(b'<a encoding="gbk"/>') is None


def test_sanitise_escapes_bare_ampersands_but_keeps_entities() -> None:
    text = "<a>R&D &amp; &lt;x&gt; &#20013; &#x4E2D; &nbsp;</a>"

    assert ElementTree.fromstring(sanitise_xml(text)).text == "R&D & <x> 中 中 &nbsp;"


def test_sanitise_drops_control_characters() -> None:
    assert ElementTree.fromstring(sanitise_xml("<a>x\x01\x1fy\tz</a>")).text == "xy\tz"


def test_second_chance_drops_broken_address_elements_only() -> None:
    text = (
        "<Item>\r\n<DeviceID>1</DeviceID>\r\n<Address>Road <7 @@</Address>\r\n"
        "<Name>a</Name><Address/>\r\n<Address>lost end\r\n<Status>ON</Status>\r\n</Item>"
    )
    with pytest.raises(ElementTree.ParseError):
        ElementTree.fromstring(sanitise_xml(text))

    root = ElementTree.fromstring(sanitise_xml(text, drop_address=True))

    assert [child.tag for child in root] == ["DeviceID", "Name", "Address", "Status"]


@pytest.mark.parametrize(
    ("charset", "codec"),
    [
        (ManscdpCharset.GB2312, "gb18030"),
        (ManscdpCharset.GBK, "gb18030"),
        (ManscdpCharset.GB18030, "gb18030"),
        (ManscdpCharset.UTF8, "utf-8"),
    ],
)
def test_encode_writes_a_matching_prolog_and_encoding(charset: ManscdpCharset, codec: str) -> None:
    body = encode_manscdp("<Notify><Name>萳溪</Name></Notify>\r\n", charset)

    prolog = f'<?xml version="1.0" encoding="{charset.value}"?>\r\n'.encode("ascii")
    assert body.startswith(prolog)
    assert body[len(prolog) :].decode(codec) == "<Notify><Name>萳溪</Name></Notify>\r\n"


def test_gb2312_characters_encode_to_plain_gb2312_bytes() -> None:
    body = encode_manscdp("<a>东门</a>", ManscdpCharset.GB2312)

    assert body.endswith("<a>东门</a>".encode("gb2312"))


def test_encode_replaces_an_existing_prolog() -> None:
    body = encode_manscdp('<?xml version="1.0" encoding="UTF-8"?>\r\n<a/>', ManscdpCharset.GB2312)

    assert body == b'<?xml version="1.0" encoding="GB2312"?>\r\n<a/>'


def test_encode_reports_unencodable_text_as_manscdp_error() -> None:
    with pytest.raises(ManscdpError, match="UTF-8"):
        encode_manscdp("<a>\ud800</a>", ManscdpCharset.UTF8)


@pytest.mark.parametrize(
    ("label", "charset"),
    [
        ("gb2312", ManscdpCharset.GB2312),
        (" GBK ", ManscdpCharset.GBK),
        ("gb18030", ManscdpCharset.GB18030),
        ("utf8", ManscdpCharset.UTF8),
        ("UTF-8", ManscdpCharset.UTF8),
        ("latin-1", None),
    ],
)
def test_charset_labels(label: str, charset: ManscdpCharset | None) -> None:
    assert ManscdpCharset.from_label(label) is charset
