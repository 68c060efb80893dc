"""The platform–front channel's records survive the trip whole, and cut packets are refused."""

from __future__ import annotations

import marshal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.sipserver.front.wire import (
    Forget,
    Forwarded,
    FrontCounts,
    KeepaliveSeen,
    PasswordChanged,
    Registered,
    WireError,
    decode,
    encode,
)

text = st.text(max_size=80)
maybe = st.none() | text
port = st.integers(0, 65535)
count = st.integers(0, 2**63)
records = st.one_of(
    st.builds(Forwarded, text, port, st.binary(max_size=2000)),
    st.builds(Registered, text, text, port, text, st.integers(0, 2**32 - 1), text, maybe, maybe),
    st.builds(KeepaliveSeen, text, text, port, maybe, maybe),
    st.builds(FrontCounts, count, count, count, count, count),
    st.builds(Forget, text),
    st.builds(PasswordChanged, text, st.booleans(), maybe),
)


@given(st.lists(records, max_size=20))
def test_records_come_out_as_they_went_in(sent: list[object]) -> None:
    packet = encode(sent)  # type: ignore[arg-type]
    assert decode(packet) == sent
    assert [type(record) for record in decode(packet)] == [type(record) for record in sent]


@given(st.lists(records, min_size=1, max_size=5), st.data())
def test_a_packet_cut_short_is_refused_not_misread(sent: list[object], data: st.DataObject) -> None:
    packet = encode(sent)  # type: ignore[arg-type]
    cut = data.draw(st.integers(1, len(packet) - 1))
    try:
        decoded = decode(packet[:cut])
    except WireError:
        return
    raise AssertionError(f"a packet cut at {cut} of {len(packet)} bytes read as {decoded!r}")


def test_what_is_not_a_list_of_known_records_is_refused() -> None:
    with pytest.raises(WireError, match="does not read"):
        decode(b"Z")
    with pytest.raises(WireError, match="not a list"):
        decode(marshal.dumps({"tag": 1}))
    with pytest.raises(WireError, match="unknown tag"):
        decode(marshal.dumps([(99, "34020000001320000001")]))
    with pytest.raises(WireError, match="wrong field count"):
        decode(marshal.dumps([(5,)]))  # a Forget without its device
    with pytest.raises(WireError, match="not a tagged tuple"):
        decode(marshal.dumps([[]]))
