"""RecordInfo answers re-paged towards an upper as the device's answers arrive.

A device answers a RecordInfo in messages of its own size; the upper gets the same records
in messages of at most `per_message` items (gb28181.md §9.2; field-notes.md §2.3 item 22:
hundreds of items in one UDP MESSAGE fragment), with its own SN and the device's SumNum.
Duplicates (a device re-sending a message) are passed on once. Pure: `add` and `finish`
return the message bodies to send, in order.
"""

from __future__ import annotations

from collections.abc import Sequence

from farmwatch.sipserver.gb.manscdp import RecordItem
from farmwatch.sipserver.gb.manscdp_build import build_record_info_responses
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

__all__ = ["RecordPager"]


class RecordPager:
    def __init__(
        self, channel_id: str, sn: int, *, per_message: int, charset: ManscdpCharset
    ) -> None:
        self._channel_id = channel_id
        self._sn = sn
        self._per_message = per_message
        self._charset = charset
        self._sum_num: int | None = None
        self._seen: set[RecordItem] = set()
        self._buffer: list[RecordItem] = []
        self.items_sent = 0
        self.messages_sent = 0

    def add(self, sum_num: int | None, items: Sequence[RecordItem]) -> list[bytes]:
        """One answer of the device; the full pages ready to go up."""
        if self._sum_num is None and sum_num is not None:
            self._sum_num = sum_num
        for item in items:
            if item not in self._seen:
                self._seen.add(item)
                self._buffer.append(item)
        pages: list[bytes] = []
        while len(self._buffer) >= self._per_message:
            pages.append(self._page(self._buffer[: self._per_message]))
            del self._buffer[: self._per_message]
        return pages

    def finish(self) -> list[bytes]:
        """The device is done (or gave up): what is left, or one empty answer (SumNum 0 or
        what the device declared) when nothing went up."""
        if self._buffer:
            page = self._page(self._buffer)
            self._buffer = []
            return [page]
        if self.messages_sent == 0:
            return [self._page([])]
        return []

    def _page(self, items: Sequence[RecordItem]) -> bytes:
        total = self._sum_num if self._sum_num is not None else len(self._seen)
        (body,) = build_record_info_responses(
            self._channel_id,
            self._sn,
            items,
            sum_num=max(total, len(self._seen)),
            items_per_message=max(1, len(items)),
            charset=self._charset,
        )
        self.items_sent += len(items)
        self.messages_sent += 1
        return body
