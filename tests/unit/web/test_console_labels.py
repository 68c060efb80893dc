"""The console names every audit action in Chinese (the regulation's terms): a new action
without a label would show its raw value in the audit trail page."""

from __future__ import annotations

import re
from importlib import resources

from farmwatch.platform.audit import AuditAction


def test_every_audit_action_has_a_chinese_label() -> None:
    script = (resources.files("farmwatch.web") / "static/console/i18n.js").read_text("utf-8")
    chinese = script.split("\n  en: {", 1)[0]
    labelled = set(re.findall(r'"action\.([a-z_]+)":', chinese))
    assert {action.value for action in AuditAction} <= labelled
