"""Pure decisions about a device's catalog subscription dialog (RFC 6665 §4; gb28181.md §5).

A device must never hold two live catalog subscriptions of ours: each would NOTIFY every
change, and a device that caps its subscriptions refuses the next one. These functions
decide, from the dialog we hold and what just happened, without I/O or a clock of their
own; `Subscriptions` carries the decisions out, for the catalog and for the other kinds
(alarms, mobile position) alike.

* `plan_subscription`: a dialog we still hold (kept while the device was offline, or due
  for refresh) is refreshed in place; only without a usable one is a new one created.
* `should_end_after_failed_refresh`: a refused or unanswered refresh is followed by a
  fresh subscription; the old dialog is ended first unless the device said (481) that it
  no longer has it.
* `judge_notify` / `dialog_of_notify`: a NOTIFY in a dialog that is not the device's
  current one reveals a subscription we lost track of (a platform restart, a SUBSCRIBE
  whose 200 was lost): it is adopted when we hold none, ended otherwise.
* `EndedDialogs`: the dialogs we ended lately, so a NOTIFY still in flight in one of them
  is neither ended again nor adopted.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum

from farmwatch.sipserver.device_requests import SubscriptionDialog
from farmwatch.sipserver.sip.errors import RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest

ADOPTED_CSEQ = 2**30
"""Our CSeq in a dialog learnt from a NOTIFY: the number we used before is unknown, and
the device rejects a lower one (RFC 3261 §12.2.2); this one is above any a previous run
could have reached and leaves 2**30 refreshes below the 2**31 limit."""


class SubscriptionPlan(StrEnum):
    REFRESH = "refresh"
    """SUBSCRIBE inside the dialog we hold, which keeps it the only one."""
    CREATE = "create"
    """Initial SUBSCRIBE: we hold no dialog the device could still have."""


def plan_subscription(dialog: SubscriptionDialog | None, now: float) -> SubscriptionPlan:
    """Refresh the dialog we hold, unless there is none the device could still have.

    A dialog whose initial SUBSCRIBE was never answered has no remote tag, so no request
    can be addressed inside it; one whose granted expiry has passed is gone on the device
    already. Either way only a new subscription helps.
    """
    if dialog is None or dialog.remote_tag is None:
        return SubscriptionPlan.CREATE
    if dialog.expires_at is not None and dialog.expires_at <= now:
        return SubscriptionPlan.CREATE
    return SubscriptionPlan.REFRESH


def should_end_after_failed_refresh(status: int | None) -> bool:
    """After a failed refresh (`status` None: no answer), end the old dialog first?

    481 says the device has no such subscription: nothing to end. Any other refusal or a
    timeout leaves it possibly alive on the device, so it is ended (best effort) before
    the fresh subscription takes its place.
    """
    return status != 481


class NotifyVerdict(StrEnum):
    OURS = "ours"
    """In the device's current dialog."""
    IGNORE = "ignore"
    """Ending anyway: terminated by the device, or a dialog we already ended."""
    ADOPT = "adopt"
    """A live subscription we hold no dialog for: keep it as the device's one."""
    END = "end"
    """A second live subscription beside the current one: end it."""


def judge_notify(
    current: SubscriptionDialog | None,
    call_id: str,
    *,
    is_terminated: bool,
    was_ended: bool,
) -> NotifyVerdict:
    """What a NOTIFY in dialog `call_id` means, given the dialog `current` we hold.

    `current` is set before its SUBSCRIBE is sent, so a NOTIFY overtaking the 200 of our
    own new subscription is recognised as ours.
    """
    if current is not None and current.call_id == call_id:
        return NotifyVerdict.OURS
    if is_terminated or was_ended:
        return NotifyVerdict.IGNORE
    if current is None:
        return NotifyVerdict.ADOPT
    return NotifyVerdict.END


def dialog_of_notify(
    device_id: str, request: SipRequest, default_event: str = "Catalog"
) -> SubscriptionDialog | None:
    """The subscription dialog a NOTIFY was sent in, seen from our (subscriber) side.

    Our tag is the NOTIFY's To tag, the device's its From tag, and the target its
    Contact (RFC 6665 §4.1.3). None when a tag is missing or a header unreadable: such
    a dialog cannot be addressed.
    """
    try:
        local_tag = request.to.tag
        remote_tag = request.from_.tag
        contact = request.contact
        remote_target = str(contact.uri) if contact is not None else str(request.from_.uri)
    except RemoteProtocolError:
        return None
    if not local_tag or not remote_tag:
        return None
    return SubscriptionDialog(
        device_id=device_id,
        call_id=request.call_id,
        local_tag=local_tag,
        remote_tag=remote_tag,
        remote_target=remote_target,
        event=(request.headers.get("Event") or default_event).strip(),
        cseq=ADOPTED_CSEQ,
    )


class EndedDialogs:
    """The Call-IDs of the last `capacity` dialogs we ended (oldest forgotten first)."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._order: deque[str] = deque()
        self._members: set[str] = set()

    def __contains__(self, call_id: object) -> bool:
        return call_id in self._members

    def __len__(self) -> int:
        return len(self._members)

    def add(self, call_id: str) -> None:
        if call_id in self._members:
            return
        self._order.append(call_id)
        self._members.add(call_id)
        if len(self._order) > self._capacity:
            self._members.discard(self._order.popleft())


__all__ = [
    "ADOPTED_CSEQ",
    "EndedDialogs",
    "NotifyVerdict",
    "SubscriptionPlan",
    "dialog_of_notify",
    "judge_notify",
    "plan_subscription",
    "should_end_after_failed_refresh",
]
