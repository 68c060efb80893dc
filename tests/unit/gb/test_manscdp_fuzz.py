"""Whatever bytes arrive, parsing either yields a typed message or raises ManscdpError."""

from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.gb import ManscdpError, parse_manscdp

DATA = Path(__file__).parents[2] / "data" / "manscdp"
FIXTURES = sorted(path.read_bytes() for path in DATA.glob("*.xml"))


def _parse_or_manscdp_error(body: bytes, charset_override: str | None = None) -> None:
    try:
        parse_manscdp(body, charset_override=charset_override)
    except ManscdpError as error:
        assert str(error)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([None, "GB2312", "UTF-8", "latin-1", "nope"]))
@example(b"\xff\xfe\x00", None)
@example(b"\xfe\xff<\x00", None)
@example(b"<?xml version='1.0' encoding='utf-16'?><a/>", None)
@example(b"<?xml version='1.0' encoding='base64'?><a/>", None)
@example(b"<a/>", "zlib")
@example(b"<a>\xff</a>", "idna")
@example(b"<a>\xff</a>", "punycode")
@example(b"<Notify><CmdType>Keepalive</CmdType><SN>99999999999999999999</SN></Notify>", None)
def test_arbitrary_bytes(body: bytes, charset_override: str | None) -> None:
    _parse_or_manscdp_error(body, charset_override)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(FIXTURES),
    st.lists(st.tuples(st.integers(0, 2000), st.binary(min_size=0, max_size=3)), max_size=4),
)
def test_mutated_fixtures(body: bytes, edits: list[tuple[int, bytes]]) -> None:
    mutated = bytearray(body)
    for position, replacement in edits:
        at = position % (len(mutated) + 1)
        mutated[at : at + len(replacement)] = replacement
    _parse_or_manscdp_error(bytes(mutated))


_TAGS = st.sampled_from(
    ["Notify", "Response", "Query", "Control", "CmdType", "SN", "DeviceID", "SumNum",
     "DeviceList", "Item", "Info", "Status", "Alarmstatus", "PTZCmd", "Longitude", "Port"]
)  # fmt: skip
_WORDS = st.sampled_from(
    ["Catalog", "Keepalive", "DeviceInfo", "DeviceStatus", "DeviceControl", "MediaStatus",
     "1", "-5", "1e999", "nan", "ON", "&", "<", "名称", "", " "]
)  # fmt: skip
_xml = st.recursive(
    _WORDS,
    lambda children: st.builds(
        lambda tag, parts: f"<{tag}>{''.join(parts)}</{tag}>", _TAGS, st.lists(children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_xml)
def test_structured_nonsense(text: str) -> None:
    _parse_or_manscdp_error(text.encode("gb18030"))
