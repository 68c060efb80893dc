"""RecordPager: a device's RecordInfo answers re-paged for the upper, as they arrive."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from farmwatch.cascade.record_pager import RecordPager
from farmwatch.sipserver.gb.manscdp import RecordInfoResponse, RecordItem
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

CHANNEL = "44010000001310000001"


def _item(n: int) -> RecordItem:
    return RecordItem(
        CHANNEL, f"2026-12-04T{n // 60:02d}:{n % 60:02d}:00", f"2026-12-04T{n // 60:02d}:59:59",
        name="cam", file_path=f"/rec/{n}.ps", record_type="time", file_size=1000 + n,
    )  # fmt: skip


def _read(bodies: list[bytes]) -> list[RecordInfoResponse]:
    messages = [parse_manscdp(body) for body in bodies]
    assert all(isinstance(m, RecordInfoResponse) for m in messages)
    return messages  # type: ignore[return-value]


@given(
    st.lists(st.integers(min_value=0, max_value=12), min_size=0, max_size=30),
    st.integers(min_value=1, max_value=20),
)
def test_every_record_goes_up_once_in_pages_with_the_upper_sn(
    message_sizes: list[int], per_message: int
) -> None:
    total = sum(message_sizes)
    items = [_item(n) for n in range(total)]
    pager = RecordPager(CHANNEL, 77, per_message=per_message, charset=ManscdpCharset.GB2312)
    bodies: list[bytes] = []
    start = 0
    for size in message_sizes:
        chunk = items[start : start + size]
        bodies += pager.add(total, chunk)
        bodies += pager.add(total, chunk[:1])  # a device re-sending part of a message
        start += size
    bodies += pager.finish()
    pages = _read(bodies)
    assert [item for page in pages for item in page.items] == items
    assert all(page.sn == 77 and page.device_id == CHANNEL for page in pages)
    assert all(page.sum_num == total for page in pages)
    assert all(len(page.items) <= per_message for page in pages)
    assert len(pages) == max(1, -(-total // per_message))


def test_full_pages_leave_before_the_device_is_done() -> None:
    pager = RecordPager(CHANNEL, 5, per_message=5, charset=ManscdpCharset.GB2312)
    assert pager.add(12, [_item(n) for n in range(4)]) == []
    first = pager.add(12, [_item(n) for n in range(4, 8)])
    assert [len(p.items) for p in _read(first)] == [5]


def test_no_records_is_one_answer_with_sum_num_zero() -> None:
    pager = RecordPager(CHANNEL, 9, per_message=5, charset=ManscdpCharset.GB2312)
    (page,) = _read(pager.finish())
    assert (page.sum_num, page.items) == (0, ())
