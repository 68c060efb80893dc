"""`[supervision]` in farmwatch.toml: the times and bounds of the supervision work."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

__all__ = ["SupervisionSettings"]


@dataclass(frozen=True, slots=True)
class SupervisionSettings:
    fault_offline_after: float = 600.0
    """Seconds a camera may stay offline before a fault ticket opens (art. 19)."""
    fault_remind_after: float = 86_400.0
    """Seconds after which an unfixed fault ticket reminds the farm again."""
    fault_escalate_after: float = 259_200.0
    """Seconds after which an unfixed fault ticket is escalated to the administrators."""
    diagnosis_interval: float = 600.0
    """Seconds between two video quality samples of one online camera."""
    diagnosis_workers: int = 2
    """Decoders running at once for the video quality diagnosis (off the event loop)."""
    evidence_before: float = 30.0
    """Seconds of video before "report anomaly" that its evidence clip holds."""
    evidence_after: float = 30.0
    """Seconds of video after "report anomaly" that its evidence clip holds."""
    schedule_days: int = 7
    """Default supervision schedule: every farm monitored at least once in this many days
    (an organisation may set its own through the API)."""
    webhook_url: str = ""
    """Where anomalies and escalated faults are also POSTed as JSON; empty: nowhere."""
    farm_document_max_megabytes: float = 20.0
    """The largest application document a farm's record takes (MB, 10^6 bytes)."""

    @property
    def farm_document_max_bytes(self) -> int:
        return int(self.farm_document_max_megabytes * 1_000_000)

    def validate(self) -> list[str]:
        errors: list[str] = []
        for name in (
            "fault_offline_after", "fault_remind_after", "fault_escalate_after",
            "diagnosis_interval",
        ):  # fmt: skip
            value = getattr(self, name)
            if value <= 0:
                errors.append(f"supervision.{name}: expected > 0, got {value}")
        for name in ("evidence_before", "evidence_after"):
            value = getattr(self, name)
            if not 0 <= value <= 600:
                errors.append(f"supervision.{name}: expected 0 to 600 seconds, got {value}")
        if not 1 <= self.diagnosis_workers <= 64:
            errors.append(
                f"supervision.diagnosis_workers: expected 1 to 64, got {self.diagnosis_workers}"
            )
        if not 1 <= self.schedule_days <= 366:
            errors.append(f"supervision.schedule_days: expected 1 to 366, got {self.schedule_days}")
        if not 0 < self.farm_document_max_megabytes <= 1024:
            errors.append(
                "supervision.farm_document_max_megabytes: expected more than 0 and at most "
                f"1024, got {self.farm_document_max_megabytes}"
            )
        if self.webhook_url:
            parts = urlsplit(self.webhook_url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                errors.append(
                    f"supervision.webhook_url: expected an http(s) URL, got {self.webhook_url!r}"
                )
        return errors
