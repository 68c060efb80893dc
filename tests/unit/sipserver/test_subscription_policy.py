"""Catalog subscription decisions: refresh or create, NOTIFYs in unknown dialogs (RFC 6665)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from farmwatch.sipserver.device_requests import SubscriptionDialog
from farmwatch.sipserver.sip.message import SipRequest
from farmwatch.sipserver.sip.parser import parse_message
from farmwatch.sipserver.subscription_policy import (
    ADOPTED_CSEQ,
    EndedDialogs,
    NotifyVerdict,
    SubscriptionPlan,
    dialog_of_notify,
    judge_notify,
    plan_subscription,
    should_end_after_failed_refresh,
)

DEVICE = "34020000001180000001"
HELD = SubscriptionDialog(
    device_id=DEVICE,
    call_id="held-call-id",
    local_tag="ours",
    remote_tag="theirs",
    remote_target=f"sip:{DEVICE}@192.168.20.64:5060",
    event="Catalog;id=7",
    cseq=3,
    expires_at=3600.0,
)


def test_a_confirmed_live_dialog_is_refreshed_in_place() -> None:
    assert plan_subscription(HELD, now=100.0) is SubscriptionPlan.REFRESH
    assert plan_subscription(replace(HELD, expires_at=None), now=1e9) is SubscriptionPlan.REFRESH


@pytest.mark.parametrize(
    ("dialog", "why"),
    [
        (None, "none held"),
        (replace(HELD, remote_tag=None), "its SUBSCRIBE was never answered"),
        (replace(HELD, expires_at=100.0), "it lapsed on the device"),
    ],
)
def test_without_a_usable_dialog_a_new_one_is_created(
    dialog: SubscriptionDialog | None, why: str
) -> None:
    assert plan_subscription(dialog, now=100.0) is SubscriptionPlan.CREATE, why


def test_a_failed_refresh_ends_the_old_dialog_unless_the_device_has_none() -> None:
    assert not should_end_after_failed_refresh(481)
    assert should_end_after_failed_refresh(None)  # no answer: it may still be alive there
    assert should_end_after_failed_refresh(500)
    assert should_end_after_failed_refresh(403)


def test_a_notify_in_the_current_dialog_is_ours() -> None:
    assert judge_notify(HELD, HELD.call_id, is_terminated=False, was_ended=False) is (
        NotifyVerdict.OURS
    )
    assert judge_notify(HELD, HELD.call_id, is_terminated=True, was_ended=False) is (
        NotifyVerdict.OURS
    )
    # Our new SUBSCRIBE is held before it is sent: a NOTIFY overtaking its 200 is ours.
    pending = replace(HELD, remote_tag=None, expires_at=None)
    assert judge_notify(pending, HELD.call_id, is_terminated=False, was_ended=False) is (
        NotifyVerdict.OURS
    )


def test_a_notify_in_another_dialog_is_adopted_without_a_current_one_else_ended() -> None:
    other = "left-by-a-restart"
    assert judge_notify(None, other, is_terminated=False, was_ended=False) is NotifyVerdict.ADOPT
    assert judge_notify(HELD, other, is_terminated=False, was_ended=False) is NotifyVerdict.END


def test_a_notify_in_a_dialog_that_is_ending_anyway_is_left_alone() -> None:
    other = "ended-by-us"
    for current in (None, HELD):
        assert judge_notify(current, other, is_terminated=False, was_ended=True) is (
            NotifyVerdict.IGNORE
        )
        assert judge_notify(current, other, is_terminated=True, was_ended=False) is (
            NotifyVerdict.IGNORE
        )


def _notify(*, from_tag: str = ";tag=dev-tag", to_tag: str = ";tag=our-old-tag") -> SipRequest:
    text = (
        "NOTIFY sip:34020000002000000001@192.168.10.5:5060 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK1a2b3c\r\n"
        f"From: <sip:{DEVICE}@3402000000>{from_tag}\r\n"
        f"To: <sip:34020000002000000001@3402000000>{to_tag}\r\n"
        "Call-ID: 8f3c2a@192.168.10.5\r\n"
        "CSeq: 12 NOTIFY\r\n"
        f"Contact: <sip:{DEVICE}@192.168.20.64:5062>\r\n"
        "Event: Catalog;id=41\r\n"
        "Subscription-State: active;expires=1800\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(text)
    assert isinstance(message, SipRequest)
    return message


def test_the_dialog_of_a_notify_is_seen_from_the_subscriber_side() -> None:
    dialog = dialog_of_notify(DEVICE, _notify())
    assert dialog == SubscriptionDialog(
        device_id=DEVICE,
        call_id="8f3c2a@192.168.10.5",
        local_tag="our-old-tag",  # the NOTIFY's To tag is ours
        remote_tag="dev-tag",
        remote_target=f"sip:{DEVICE}@192.168.20.64:5062",  # its Contact, not its From
        event="Catalog;id=41",
        cseq=ADOPTED_CSEQ,
    )
    assert ADOPTED_CSEQ + 1 < 2**31  # still a valid CSeq after the refresh that follows


@pytest.mark.parametrize("missing", ["from", "to"])
def test_a_notify_without_both_tags_names_no_dialog(missing: str) -> None:
    request = _notify(from_tag="") if missing == "from" else _notify(to_tag="")
    assert dialog_of_notify(DEVICE, request) is None


def test_ended_dialogs_are_remembered_up_to_the_capacity() -> None:
    ended = EndedDialogs(capacity=2)
    for call_id in ("a", "b", "b", "c"):
        ended.add(call_id)
    assert "a" not in ended  # the oldest one went first
    assert "b" in ended and "c" in ended
    assert len(ended) == 2
