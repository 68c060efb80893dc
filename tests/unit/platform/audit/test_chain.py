"""The audit hash chain without a database: canonical bytes, hashes, and where it breaks."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from farmwatch.platform.audit import (
    GENESIS_HASH,
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditRecord,
    AuditResult,
    ChainHead,
    ChainProblem,
    RecordedRange,
    canonical_content,
    row_hash,
    verify_chain,
)
from farmwatch.platform.audit.chain import entry_from_canonical

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ADMIN = AuditActor.user(1, "admin")


def entry(minute: int = 0, **changes: object) -> AuditEntry:
    base = AuditEntry(
        T0 + timedelta(minutes=minute), ADMIN, AuditAction.PLAYBACK, AuditResult.OK, 3,
        "34020000001320000001", RecordedRange(T0 - timedelta(hours=2), T0 - timedelta(hours=1)),
        "192.0.2.7", {"speed": 4, "source": "device"},
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def chain(entries: list[AuditEntry]) -> tuple[list[AuditRecord], ChainHead]:
    records, prev = [], GENESIS_HASH
    for row_id, item in enumerate(entries, start=1):
        own = row_hash(prev, row_id, item)
        records.append(AuditRecord(row_id, item, prev, own))
        prev = own
    return records, ChainHead(len(records), prev)


def test_the_canonical_form_is_sorted_compact_ascii_json_with_utc_microseconds() -> None:
    data = canonical_content(7, entry(actor=AuditActor.user(2, "张三")))
    document = json.loads(data)
    assert data == json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    assert b"\\u5f20\\u4e09" in data  # non-ASCII escaped: one byte form only
    assert document["id"] == 7
    assert document["at"] == "2026-03-01T08:00:00.000000Z"
    assert document["recorded_start"] == "2026-03-01T06:00:00.000000Z"


def test_a_time_in_another_zone_hashes_as_the_same_instant() -> None:
    shanghai = entry().at.astimezone(ZoneInfo("Asia/Shanghai"))
    assert canonical_content(1, entry(at=shanghai)) == canonical_content(1, entry())


def test_naive_times_and_nan_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        canonical_content(1, entry(at=datetime(2026, 3, 1)))
    with pytest.raises(ValueError):
        canonical_content(1, entry(detail={"x": float("nan")}))


def test_the_row_hash_is_sha256_of_the_previous_hash_and_the_content() -> None:
    expected = hashlib.sha256(
        GENESIS_HASH.encode() + b"\n" + canonical_content(1, entry())
    ).hexdigest()
    assert row_hash(GENESIS_HASH, 1, entry()) == expected
    assert row_hash("1" * 64, 1, entry()) != expected
    assert row_hash(GENESIS_HASH, 2, entry()) != expected  # renumbering is an edit


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip
aware_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
entries = st.builds(
    AuditEntry,
    at=aware_times,
    actor=st.builds(
        AuditActor, st.sampled_from(ActorKind), st.none() | st.integers(1, 2**62), st.text()
    ),
    action=st.sampled_from(AuditAction),
    result=st.sampled_from(AuditResult),
    organisation_id=st.none() | st.integers(1, 2**62),
    channel_id=st.none() | st.text(max_size=20),
    recorded=st.none() | st.builds(RecordedRange, aware_times, aware_times),
    source=st.none() | st.text(max_size=64),
    detail=st.dictionaries(st.text(), json_values, max_size=4),
)


@given(st.integers(1, 2**62), entries)
def test_canonical_content_loses_nothing(row_id: int, item: AuditEntry) -> None:
    """Injective: two different rows never share canonical bytes (so never share a hash
    but by a SHA-256 collision)."""
    assert entry_from_canonical(canonical_content(row_id, item)) == (row_id, item)


@given(entries, st.data())
def test_detail_key_order_does_not_change_the_hash(item: AuditEntry, data: st.DataObject) -> None:
    keys = data.draw(st.permutations(list(item.detail)))
    shuffled = replace(item, detail={key: item.detail[key] for key in keys})
    assert row_hash(GENESIS_HASH, 1, shuffled) == row_hash(GENESIS_HASH, 1, item)


@given(entries, entries)
def test_different_content_gives_a_different_hash(first: AuditEntry, second: AuditEntry) -> None:
    if canonical_content(1, first) != canonical_content(1, second):
        assert row_hash(GENESIS_HASH, 1, first) != row_hash(GENESIS_HASH, 1, second)


def test_an_intact_chain_verifies_with_its_row_count_and_head_hash() -> None:
    records, head = chain([entry(m) for m in range(5)])
    result = verify_chain(records, head)
    assert result.is_intact
    assert (result.rows, result.head_hash) == (5, head.last_hash)
    assert verify_chain([], ChainHead(0, GENESIS_HASH)).is_intact


def test_an_edited_row_is_named() -> None:
    records, head = chain([entry(m) for m in range(5)])
    records[2] = replace(records[2], entry=replace(records[2].entry, result=AuditResult.DENIED))
    result = verify_chain(records, head)
    assert (result.problem, result.row_id, result.rows) == (ChainProblem.EDITED, 3, 2)
    assert "row 3" in result.reason


def test_an_edited_row_with_a_recomputed_hash_breaks_the_next_link() -> None:
    records, head = chain([entry(m) for m in range(5)])
    edited = replace(records[1].entry, channel_id="34020000001320000009")
    records[1] = replace(
        records[1], entry=edited, row_hash=row_hash(records[1].prev_hash, 2, edited)
    )
    result = verify_chain(records, head)
    assert (result.problem, result.row_id) == (ChainProblem.INSERTED, 3)
    assert "row 2 rewritten" in result.reason


def test_a_deleted_row_is_named_by_its_missing_id() -> None:
    records, head = chain([entry(m) for m in range(5)])
    result = verify_chain(records[:1] + records[3:], head)
    assert (result.problem, result.row_id) == (ChainProblem.DELETED, 2)
    assert "rows 2 to 3 missing" in result.reason


def test_deleting_the_last_rows_is_seen_through_the_chain_head() -> None:
    records, head = chain([entry(m) for m in range(5)])
    result = verify_chain(records[:4], head)
    assert (result.problem, result.row_id) == (ChainProblem.DELETED, 5)


def test_a_row_appended_behind_the_logs_back_is_inserted() -> None:
    records, head = chain([entry(m) for m in range(5)])
    forged, _ = chain([entry(m) for m in range(6)])
    result = verify_chain(forged, head)
    assert (result.problem, result.row_id) == (ChainProblem.INSERTED, 6)


def test_a_rewritten_last_row_is_seen_through_the_chain_head() -> None:
    records, head = chain([entry(m) for m in range(3)])
    edited = replace(records[2].entry, result=AuditResult.FAILED)
    records[2] = replace(
        records[2], entry=edited, row_hash=row_hash(records[2].prev_hash, 3, edited)
    )
    result = verify_chain(records, head)
    assert (result.problem, result.row_id) == (ChainProblem.EDITED, 3)


def test_a_missing_chain_head_is_a_break_when_there_are_rows() -> None:
    records, _ = chain([entry()])
    assert verify_chain(records, None).problem is ChainProblem.DELETED
    assert verify_chain([], None).is_intact
