"""Safe XML parsing and lenient element access for MANSCDP bodies.

Owns the step from sanitised text to an ElementTree root (no DTD, no entity declarations,
no external references; GB/T 28181 reference §4.1-4.2: text with any markup declaration goes
through defusedxml, which refuses them; text without one, nearly every body, through the plain
parser, where there is nothing to refuse) and the forgiving
readers the message parsers share: exact element name first with a case-insensitive
fallback, every text node stripped, numbers that do not parse read as None. `Element`s never
leave the `gb` package: parsers turn them into typed messages.
"""

from __future__ import annotations

import math
import re
from xml.etree.ElementTree import Element, ParseError
from xml.etree.ElementTree import fromstring as plain_fromstring

import defusedxml
import defusedxml.ElementTree as defused_tree

from farmwatch.sipserver.gb.manscdp_text import ManscdpError, sanitise_xml

_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?")


def _fromstring(text: str) -> Element:
    if "<!" not in text:
        # No markup declaration at all: no DTD, hence no entity and no external reference
        # for defusedxml to refuse. The plain C parser reads such text alike at two thirds
        # of the cost (a DeviceInfo or Catalog answer per device of a registration storm).
        return plain_fromstring(text)
    try:
        root: Element = defused_tree.fromstring(
            text, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except defusedxml.DTDForbidden as error:
        raise ManscdpError(f"XML DTD refused (entity expansion guard): {error}") from error
    except defusedxml.EntitiesForbidden as error:
        raise ManscdpError(f"XML entity declaration refused: {error}") from error
    except defusedxml.ExternalReferenceForbidden as error:
        raise ManscdpError(f"XML external reference refused: {error}") from error
    return root


def parse_xml(text: str) -> Element:
    """Parse decoded MANSCDP text; on failure retry once without `<Address>` elements."""
    try:
        return _fromstring(sanitise_xml(text))
    except ParseError as first_error:
        try:
            return _fromstring(sanitise_xml(text, drop_address=True))
        except ParseError:
            raise ManscdpError(f"malformed XML: {first_error}") from first_error


def local_name(element: Element) -> str:
    """The tag without any `{namespace}` prefix."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def find_child(parent: Element, name: str) -> Element | None:
    """The first child called `name`, else the first whose name matches ignoring case."""
    folded = name.casefold()
    fallback: Element | None = None
    for child in parent:
        child_name = local_name(child)
        if child_name == name:
            return child
        if fallback is None and child_name.casefold() == folded:
            fallback = child
    return fallback


def find_children(parent: Element, name: str) -> list[Element]:
    """All children called `name`, ignoring case."""
    folded = name.casefold()
    return [child for child in parent if local_name(child).casefold() == folded]


def element_text(element: Element | None) -> str | None:
    """The stripped text of an element; None when missing or empty."""
    if element is None or element.text is None:
        return None
    return element.text.strip() or None


def child_text(parent: Element, name: str) -> str | None:
    """The stripped text of child `name`; None when missing or empty."""
    return element_text(find_child(parent, name))


def to_int_or_none(text: str | None) -> int | None:
    """A decimal integer, or None for anything else (never raises)."""
    if text is None:
        return None
    text = text.strip()
    return int(text) if _INTEGER.fullmatch(text) else None


def to_float_or_none(text: str | None) -> float | None:
    """A finite decimal number, or None for anything else (never raises)."""
    if text is None:
        return None
    text = text.strip()
    if not _DECIMAL.fullmatch(text):
        return None
    value = float(text)
    return value if math.isfinite(value) else None


def to_flag_or_none(text: str | None, *, true: str = "1", false: str = "0") -> bool | None:
    """True/False for the two given words (case-insensitive), None otherwise."""
    if text is None:
        return None
    word = text.strip().upper()
    if word == true.upper():
        return True
    if word == false.upper():
        return False
    return None
