"""MANSCDP body text: charset detection, decoding, sanitising and encoding.

Owns the bytes ⇄ str step around the MANSCDP XML (GB/T 28181-2016 §6.10 "GB 2312",
2022 §6.10 "GB 18030"; reference §4.2 and pitfalls §10 items 7-8). Devices declare GB2312
and send GBK, declare GB2312 and send UTF-8, omit the prolog, prepend BOMs, pad with NULs,
and put bare `&` or binary garbage in `<Address>`. Decoding always yields a `str` without
an encoding declaration, because expat refuses multi-byte encodings in byte input.
Also owns `ManscdpError`, the one error type of the MANSCDP layer.
"""

from __future__ import annotations

import codecs
import enum
import re


class ManscdpError(Exception):
    """A MANSCDP body we cannot use; the message names what was wrong, fit for a log line.

    This is not a SIP error: the MESSAGE itself was fine and is still answered at the SIP
    layer; only its body is rejected.
    """


class ManscdpCharset(enum.StrEnum):
    """Charset used to encode outgoing MANSCDP bodies (configured per peer)."""

    GB2312 = "GB2312"
    GBK = "GBK"
    GB18030 = "GB18030"
    UTF8 = "UTF-8"

    @classmethod
    def from_label(cls, label: str) -> ManscdpCharset | None:
        """Map a charset label such as `gb2312`, `utf8` or `GB18030` to a member, else None."""
        return _CHARSET_LABELS.get(_normalise_label(label))

    @property
    def codec(self) -> str:
        """The Python codec that writes this charset (gb18030 covers GB2312 and GBK)."""
        return "utf-8" if self is ManscdpCharset.UTF8 else "gb18030"


def _normalise_label(label: str) -> str:
    return label.strip().lower().replace("_", "-")


_GB_LABELS = frozenset(
    {"gb2312", "gbk", "gb18030", "gb-2312", "gb2312-80", "gb-2312-80", "x-gbk", "cp936"}
    | {"euc-cn", "ms936", "windows-936", "csgb2312", "chinese", "hz-gb-2312"}
)
_UTF8_LABELS = frozenset({"utf-8", "utf8"})

_CHARSET_LABELS: dict[str, ManscdpCharset] = {
    "gb2312": ManscdpCharset.GB2312,
    "gb-2312": ManscdpCharset.GB2312,
    "gbk": ManscdpCharset.GBK,
    "cp936": ManscdpCharset.GBK,
    "gb18030": ManscdpCharset.GB18030,
    "utf-8": ManscdpCharset.UTF8,
    "utf8": ManscdpCharset.UTF8,
}

_DECLARED_ENCODING = re.compile(
    rb"""^\s*<\?xml[^>]{0,200}?encoding\s*=\s*["']\s*([A-Za-z0-9._:-]{1,40})\s*["']"""
)
_PROLOG = re.compile(r"^\s*<\?xml\b.*?\?>", re.DOTALL)
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# XML 1.0 forbids these characters even as character references; expat rejects them.
_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
# A `&` that starts neither a character reference nor one of the five predefined entities.
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_BARE_AMPERSAND = re.compile(r"&(?!(?:#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|amp|lt|gt|quot|apos);)")
_ADDRESS_START = re.compile(r"<Address(?:\s[^<>]*?)?(?<!/)>", re.IGNORECASE)
_ADDRESS_END = re.compile(r"</Address\s*>", re.IGNORECASE)


def declared_encoding(body: bytes) -> str | None:
    """The `encoding` label of the XML prolog (lower-cased), or None when there is none."""
    match = _DECLARED_ENCODING.match(body.removeprefix(_UTF8_BOM))
    return match.group(1).decode("ascii").lower() if match else None


def reads_ascii_as_ascii(label: str | None) -> bool:
    """True when `decode_manscdp` under this declared or configured charset (None: none)
    decodes ASCII bytes as ASCII: no label, a GB or a UTF-8 one. Other labels, even
    ASCII-compatible ones, are not promised."""
    return label is None or _normalise_label(label) in _GB_LABELS | _UTF8_LABELS


def _is_text_codec(label: str) -> bool:
    """True for a codec that decodes bytes to str (not base64, zlib, rot13, ...)."""
    try:
        "".encode(label).decode(label)
    except (LookupError, ValueError):
        return False
    return True


def _codec_chain(label: str | None, body: bytes, *, trust_label: bool) -> list[str]:
    """Codecs to try, in order, for a body declared (or configured) as `label`."""
    normalised = None if label is None else _normalise_label(label)
    if normalised in _UTF8_LABELS:
        return ["utf-8", "gb18030"]
    if normalised is None or normalised in _GB_LABELS or not _is_text_codec(normalised):
        # gb18030 decodes almost any byte string without error, so UTF-8 sent under a GB
        # label would come out as mojibake instead of failing over. Real GBK text is
        # practically never valid multi-byte UTF-8, so valid UTF-8 is taken as UTF-8 unless
        # the operator configured the charset (`trust_label`).
        if not trust_label and not body.isascii() and _is_utf8(body):
            return ["utf-8"]
        return ["gb18030", "utf-8"]
    return [normalised, "gb18030", "utf-8"]


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _decode_bytes(body: bytes, charset_override: str | None) -> str:
    if body.startswith(_UTF16_BOMS):
        try:
            return body.decode("utf-16")
        except UnicodeDecodeError as error:
            raise ManscdpError(f"body has a UTF-16 BOM but is not UTF-16: {error}") from error
    has_utf8_bom = body.startswith(_UTF8_BOM)
    body = body.removeprefix(_UTF8_BOM)
    if charset_override is not None:
        chain = _codec_chain(charset_override, body, trust_label=True)
    elif has_utf8_bom:
        chain = ["utf-8", "gb18030"]
    else:
        chain = _codec_chain(declared_encoding(body), body, trust_label=False)
    for codec in chain:
        try:
            return body.decode(codec)
        except ValueError:  # UnicodeDecodeError, or UnicodeError from codecs such as idna
            continue
    # Binary garbage (typically inside <Address>): keep the rest of the body readable.
    return body.decode("gb18030", errors="replace")


def decode_manscdp(body: bytes, *, charset_override: str | None = None) -> str:
    """Decode a MANSCDP body to text ElementTree can parse (GB/T 28181 reference §4.2).

    Declared gb2312/gbk/gb18030 or no declaration: gb18030, falling back to UTF-8 (valid
    multi-byte UTF-8 is recognised as such first); declared UTF-8 failing: gb18030. A UTF-8
    BOM means UTF-8, a UTF-16 BOM UTF-16. `charset_override` (a per-device setting) is tried
    first and trusted. NUL bytes are removed and the `<?xml ...?>` prolog is dropped, so the
    result carries no encoding declaration.
    """
    text = _decode_bytes(body, charset_override)
    text = text.replace("\x00", "").removeprefix("\ufeff")
    return _PROLOG.sub("", text, count=1).lstrip()


def _drop_address_elements(text: str) -> str:
    """Remove every `<Address>...</Address>` span (to end of line when the end tag is lost)."""
    pieces: list[str] = []
    position = 0
    while (start := _ADDRESS_START.search(text, position)) is not None:
        pieces.append(text[position : start.start()])
        next_start = _ADDRESS_START.search(text, start.end())
        limit = next_start.start() if next_start else len(text)
        end = _ADDRESS_END.search(text, start.end(), limit)
        if end is not None:
            position = end.end()
        else:
            line_end = text.find("\n", start.end(), limit)
            position = limit if line_end < 0 else line_end
    pieces.append(text[position:])
    return "".join(pieces)


def sanitise_xml(text: str, *, drop_address: bool = False) -> str:
    """Repair what devices commonly break (reference §4.2, pitfalls §10 item 8).

    Removes characters XML 1.0 forbids (control characters, NULs) and escapes bare `&`.
    With `drop_address` (the second chance after a failed parse) it also removes every
    `<Address>` element, where some firmwares put raw `<` or binary garbage.
    """
    text = _INVALID_XML_CHARS.sub("", text)
    text = _BARE_AMPERSAND.sub("&amp;", text)
    return _drop_address_elements(text) if drop_address else text


def escape_text(text: str) -> str:
    """Escape text for an XML element; characters XML 1.0 cannot carry at all are dropped.

    CR is written as `&#13;` so that it survives the parser's line-end normalisation.
    """
    return _INVALID_XML_CHARS.sub("", text).translate(_ESCAPES)


def encode_manscdp(xml_text: str, charset: ManscdpCharset = ManscdpCharset.GB2312) -> bytes:
    """Prefix the `<?xml version="1.0" encoding="..."?>` prolog matching `charset` and encode.

    GB2312, GBK and GB18030 are all written with the gb18030 codec: it produces the same
    bytes for GB2312 characters and can still write rare ones such as 萳. Any prolog already
    in `xml_text` is replaced. Content-Length must be computed on the returned bytes.
    """
    body = _PROLOG.sub("", xml_text, count=1).lstrip()
    prolog = f'<?xml version="1.0" encoding="{charset.value}"?>\r\n'
    try:
        return (prolog + body).encode(charset.codec)
    except UnicodeEncodeError as error:
        raise ManscdpError(f"cannot encode MANSCDP body as {charset.value}: {error}") from error
