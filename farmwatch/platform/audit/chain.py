"""The audit trail's hash chain (art. 22): canonical row bytes, row hashes, verification.

Row N carries `prev_hash` (row N-1's `row_hash`; 64 zeros for row 1) and
`row_hash = SHA-256(prev_hash + "\\n" + canonical(N, content))`. The canonical form is
JSON with sorted keys, no spaces, ASCII only (every other character escaped), times as
`YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, and the row ID inside, so renumbering a row is an
edit. IDs run 1, 2, 3 ... without gaps (the log assigns them under the chain-head lock), and
the chain head row holds the last ID and hash, so a row deleted anywhere, also the last
one, leaves a trace. `ChainVerifier` walks rows in ID order without holding them all and
names the first row where the chain breaks. Pure: no I/O, no clock.

A chain without a secret only shows tampering by someone who did not recompute every later
hash; the head hash printed by `farmwatch audit verify` can be written down elsewhere
(a ticket, a signed report) to anchor the chain up to that row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from farmwatch.platform.audit.records import (
    ActorKind,
    AuditAction,
    AuditActor,
    AuditEntry,
    AuditRecord,
    AuditResult,
    JsonValue,
    RecordedRange,
)

__all__ = [
    "GENESIS_HASH",
    "ChainHead",
    "ChainProblem",
    "ChainVerifier",
    "VerifyResult",
    "canonical_content",
    "entry_from_canonical",
    "row_hash",
    "verify_chain",
]

GENESIS_HASH = "0" * 64
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def _time_text(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} in an audit entry; use aware UTC")
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)


def _document(row_id: int, entry: AuditEntry) -> dict[str, Any]:
    recorded = entry.recorded
    return {
        "id": row_id,
        "at": _time_text(entry.at),
        "actor": {"kind": entry.actor.kind.value, "id": entry.actor.id, "name": entry.actor.name},
        "action": entry.action.value,
        "result": entry.result.value,
        "organisation_id": entry.organisation_id,
        "channel_id": entry.channel_id,
        "recorded_start": None if recorded is None else _time_text(recorded.start),
        "recorded_end": None if recorded is None else _time_text(recorded.end),
        "source": entry.source,
        "detail": dict(entry.detail),
    }


def canonical_content(row_id: int, entry: AuditEntry) -> bytes:
    """The bytes of row `row_id`'s content that its hash covers (see the module doc).

    Raises ValueError for a naive time or a detail value JSON cannot hold exactly (NaN,
    infinity)."""
    text = json.dumps(
        _document(row_id, entry),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=False,
    )
    return text.encode("ascii")


def entry_from_canonical(data: bytes) -> tuple[int, AuditEntry]:
    """The row ID and content `canonical_content` was made from (it loses nothing)."""
    document = json.loads(data)
    actor = document["actor"]
    start, end = document["recorded_start"], document["recorded_end"]
    recorded = None if start is None else RecordedRange(_parse_time(start), _parse_time(end))
    detail: Mapping[str, JsonValue] = document["detail"]
    entry = AuditEntry(
        at=_parse_time(document["at"]),
        actor=AuditActor(ActorKind(actor["kind"]), actor["id"], actor["name"]),
        action=AuditAction(document["action"]),
        result=AuditResult(document["result"]),
        organisation_id=document["organisation_id"],
        channel_id=document["channel_id"],
        recorded=recorded,
        source=document["source"],
        detail=detail,
    )
    return int(document["id"]), entry


def row_hash(prev_hash: str, row_id: int, entry: AuditEntry) -> str:
    """SHA-256 (hex) over the previous row's hash and this row's canonical content."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_content(row_id, entry))
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class ChainHead:
    """What the log last appended: the newest row's ID (0: none yet) and hash."""

    last_id: int
    last_hash: str


class ChainProblem(StrEnum):
    EDITED = "edited"
    """A row's content (or its row_hash) no longer matches the hash written with it."""
    INSERTED = "inserted"
    """A row the log did not append: past the chain head, or linked to another row than the
    one before it (inserted, or the row before it rewritten with a fresh hash)."""
    DELETED = "deleted"
    """A row ID is missing, in the middle or at the end."""


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """The outcome of a verification: the rows that check out and, when the chain is broken,
    the first broken row's ID (or the first missing ID), the kind of break and why."""

    rows: int
    head_hash: str
    problem: ChainProblem | None = None
    row_id: int | None = None
    reason: str = ""

    @property
    def is_intact(self) -> bool:
        return self.problem is None


class ChainVerifier:
    """Checks rows fed in ID order; `feed` returns a broken result at the first break (feed
    no more after it), `finish` compares the end of the table with the chain head."""

    def __init__(self) -> None:
        self._expected_id = 1
        self._prev_hash = GENESIS_HASH

    def _broken(self, problem: ChainProblem, row_id: int, reason: str) -> VerifyResult:
        return VerifyResult(self._expected_id - 1, self._prev_hash, problem, row_id, reason)

    def feed(self, record: AuditRecord, head: ChainHead | None) -> VerifyResult | None:
        expected = self._expected_id
        if record.id > expected:
            missing = f"row {expected}" if record.id == expected + 1 else (
                f"rows {expected} to {record.id - 1}"
            )  # fmt: skip
            return self._broken(
                ChainProblem.DELETED, expected, f"{missing} missing: deleted (row {record.id} "
                f"follows row {expected - 1})",
            )  # fmt: skip
        if record.id < expected:
            raise ValueError(f"rows fed out of order: {record.id} after {expected - 1}")
        if head is not None and record.id > head.last_id:
            return self._broken(
                ChainProblem.INSERTED, record.id, f"row {record.id} is past the last row the log "
                f"appended ({head.last_id}): inserted",
            )  # fmt: skip
        if row_hash(record.prev_hash, record.id, record.entry) != record.row_hash:
            return self._broken(
                ChainProblem.EDITED, record.id, f"row {record.id}'s content does not match its "
                "hash: edited",
            )  # fmt: skip
        if record.prev_hash != self._prev_hash:
            return self._broken(
                ChainProblem.INSERTED, record.id, f"row {record.id}'s prev_hash is not row "
                f"{record.id - 1}'s hash: inserted, or row {record.id - 1} rewritten",
            )  # fmt: skip
        self._prev_hash = record.row_hash
        self._expected_id += 1
        return None

    def finish(self, head: ChainHead | None) -> VerifyResult:
        last = self._expected_id - 1
        if head is None:
            if last == 0:
                return VerifyResult(0, GENESIS_HASH)
            return self._broken(ChainProblem.DELETED, last, "the chain head row is missing")
        if head.last_id > last:
            missing = f"row {last + 1}" if head.last_id == last + 1 else (
                f"rows {last + 1} to {head.last_id}"
            )  # fmt: skip
            return self._broken(
                ChainProblem.DELETED, last + 1, f"{missing} missing at the end: deleted"
            )
        if head.last_hash != self._prev_hash:
            return self._broken(
                ChainProblem.EDITED, last, f"row {last}'s hash differs from the one the chain "
                "head kept: rewritten",
            )  # fmt: skip
        return VerifyResult(last, self._prev_hash)


def verify_chain(records: Iterable[AuditRecord], head: ChainHead | None) -> VerifyResult:
    """Verify a whole chain held in memory (tests, small tables); see `ChainVerifier`."""
    verifier = ChainVerifier()
    for record in sorted(records, key=lambda r: r.id):
        broken = verifier.feed(record, head)
        if broken is not None:
            return broken
    return verifier.finish(head)
