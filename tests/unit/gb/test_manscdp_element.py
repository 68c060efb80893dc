"""`parse_xml` reads text without markup declarations with the plain parser: it must read
every such body exactly as the defused parser does, and leave every declaration to it."""

from __future__ import annotations

from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as defused_tree
import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.gb.manscdp_element import parse_xml
from farmwatch.sipserver.gb.manscdp_text import ManscdpError, decode_manscdp, sanitise_xml

DATA = Path(__file__).parents[2] / "data" / "manscdp"


def _shape(element: Element) -> tuple[object, ...]:
    return (element.tag, element.text, element.tail, sorted(element.attrib.items()),
            [_shape(child) for child in element])  # fmt: skip


def _defused(text: str) -> Element:
    """What `parse_xml` did before it had a plain way: defusedxml, retried without
    `<Address>` elements."""
    options = {"forbid_dtd": True, "forbid_entities": True, "forbid_external": True}
    root: Element
    try:
        root = defused_tree.fromstring(sanitise_xml(text), **options)
    except ParseError:
        root = defused_tree.fromstring(sanitise_xml(text, drop_address=True), **options)
    return root


@pytest.mark.parametrize("path", sorted(DATA.glob("*.xml")), ids=lambda path: path.name)
def test_every_sample_body_reads_as_the_defused_parser_reads_it(path: Path) -> None:
    text = decode_manscdp(path.read_bytes())
    try:
        expected = _shape(_defused(text))
    except (ParseError, ValueError):  # defusedxml's refusals are ValueErrors
        with pytest.raises(ManscdpError):
            parse_xml(text)
        return
    assert _shape(parse_xml(text)) == expected


_NAMES = st.sampled_from(["Notify", "CmdType", "SN", "Item", "a", "x:y"])
_TEXT = st.text(alphabet=st.sampled_from(list("ab1 <>&;#x!-[]'\"\n\t中")), max_size=12)


@st.composite
def _bodies(draw: st.DrawFn) -> str:
    """Well-formed and broken bodies, with and without declarations, comments, CDATA."""
    parts = [draw(st.sampled_from(["", '<?xml version="1.0"?>', "<!DOCTYPE a>",
                                   '<!DOCTYPE a [<!ENTITY e "x">]>', "<!-- c -->"]))]  # fmt: skip
    name = draw(_NAMES)
    parts.append(f"<{name}>")
    for _ in range(draw(st.integers(0, 3))):
        child = draw(_NAMES)
        inner = draw(st.one_of(_TEXT, st.just("&amp;"), st.just("&e;"), st.just("<![CDATA[x]]>")))
        parts.append(f"<{child}>{inner}</{child}>")
    parts.append(f"</{name}>")
    return "".join(parts)


@given(_bodies())
def test_plain_and_defused_parsers_agree_on_any_body(text: str) -> None:
    try:
        expected: tuple[object, ...] | None = _shape(_defused(text))
    except (ParseError, ValueError):
        expected = None
    try:
        got: tuple[object, ...] | None = _shape(parse_xml(text))
    except ManscdpError:
        got = None
    assert got == expected
