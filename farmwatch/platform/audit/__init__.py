"""The audit trail (regulation art. 22; issue 10 §4): append-only, hash-chained rows of
who did what, on which camera and recorded range, from where, with what result."""

from farmwatch.platform.audit.chain import (
    GENESIS_HASH,
    ChainHead,
    ChainProblem,
    ChainVerifier,
    VerifyResult,
    canonical_content,
    row_hash,
    verify_chain,
)
from farmwatch.platform.audit.log import AuditLog
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
    "ActorKind",
    "AuditAction",
    "AuditActor",
    "AuditEntry",
    "AuditLog",
    "AuditRecord",
    "AuditResult",
    "ChainHead",
    "ChainProblem",
    "ChainVerifier",
    "JsonValue",
    "RecordedRange",
    "VerifyResult",
    "canonical_content",
    "row_hash",
    "verify_chain",
]
