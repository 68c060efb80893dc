"""One INVITE session towards a device, as a pure state machine (gb28181.md §2 items 6-7, §6).

`InviteSession` follows our INVITE from sending to the end of its dialog. The shell
feeds it what happened (a provisional or final response, a retransmitted 2xx, the
INVITE transaction timing out, the caller giving up or hanging up, a BYE from the
device, our BYE finishing) and performs the `Action`s it returns: `SendAck`,
`SendCancel`, `SendBye`. Which input is accepted in which state is data
(`CALL_TRANSITIONS`); inputs missing from the table change nothing.

    CALLING --1xx--> PROCEEDING --2xx (ACK)--> CONFIRMED --hang up (BYE)--> TERMINATING
       |  \\_____________ non-2xx, timeout _________________> TERMINATED <---- BYE done
       \\-- give up (CANCEL) --> TERMINATING --487--> TERMINATED          <---- BYE received

RFC 3261 rules kept here: every 2xx is ACKed, retransmissions with the very same ACK
(§13.2.2.4); a 2xx that arrives after we gave up is ACKed and then BYEd (§15); a 2xx
from another To tag (a second dialog) is ACKed and BYEd too. The non-2xx ACK belongs to
the transaction layer. Also pure values the shell hands out: `EstablishedCall`, the
`Subject` builder (§6.7), the live offer builder (§6.2) and the IFameCmd rate limiter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum, auto

from farmwatch.sipserver.dialog import Dialog, build_cancel
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse


class CallState(Enum):
    CALLING = "Calling"
    PROCEEDING = "Proceeding"
    CONFIRMED = "Confirmed"
    TERMINATING = "Terminating"
    TERMINATED = "Terminated"


class CallInput(Enum):
    PROVISIONAL = auto()
    SUCCESS = auto()
    FAILURE = auto()
    TIMEOUT = auto()
    """The INVITE transaction ended without a final response (timer B)."""
    GIVE_UP = auto()
    """The caller stopped waiting for an answer: CANCEL."""
    HANG_UP = auto()
    BYE_RECEIVED = auto()
    BYE_DONE = auto()
    """Our BYE got its final response, or timed out."""
    DIALOG_LOST = auto()
    """A request inside the dialog got 481/408: the device no longer knows it."""


_S = CallState
_In = CallInput

CALL_TRANSITIONS: dict[tuple[CallState, CallInput], CallState] = {
    (_S.CALLING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.CALLING, _In.SUCCESS): _S.CONFIRMED,
    (_S.CALLING, _In.FAILURE): _S.TERMINATED,
    (_S.CALLING, _In.TIMEOUT): _S.TERMINATED,
    (_S.CALLING, _In.GIVE_UP): _S.TERMINATING,
    (_S.PROCEEDING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _In.SUCCESS): _S.CONFIRMED,
    (_S.PROCEEDING, _In.FAILURE): _S.TERMINATED,
    (_S.PROCEEDING, _In.TIMEOUT): _S.TERMINATED,
    (_S.PROCEEDING, _In.GIVE_UP): _S.TERMINATING,
    (_S.CONFIRMED, _In.HANG_UP): _S.TERMINATING,
    (_S.CONFIRMED, _In.BYE_RECEIVED): _S.TERMINATED,
    (_S.CONFIRMED, _In.DIALOG_LOST): _S.TERMINATED,
    (_S.TERMINATING, _In.SUCCESS): _S.TERMINATING,  # late 2xx after CANCEL: ACK, then BYE
    (_S.TERMINATING, _In.FAILURE): _S.TERMINATED,  # 487 after CANCEL
    (_S.TERMINATING, _In.TIMEOUT): _S.TERMINATED,
    (_S.TERMINATING, _In.BYE_RECEIVED): _S.TERMINATED,
    (_S.TERMINATING, _In.BYE_DONE): _S.TERMINATED,
}
"""The INVITE session from the UAC side; missing pairs are ignored."""


@dataclass(frozen=True, slots=True)
class SendAck:
    """Send this ACK (to a 2xx) outside any transaction, to the device's address."""

    request: SipRequest


@dataclass(frozen=True, slots=True)
class SendCancel:
    """Send this CANCEL in a new client transaction."""

    request: SipRequest


@dataclass(frozen=True, slots=True)
class SendBye:
    """Send this BYE in a new client transaction, then report `bye_finished`."""

    request: SipRequest


Action = SendAck | SendCancel | SendBye


class InviteSession:
    """The state of one INVITE we sent and of the dialog its 2xx created."""

    def __init__(self, invite: SipRequest) -> None:
        if invite.method != "INVITE" or invite.headers.get("Via") is None:
            raise LocalProtocolError("an InviteSession starts from an INVITE with its Via")
        self.invite = invite
        self._state = CallState.CALLING
        self.dialog: Dialog | None = None
        self.response: SipResponse | None = None
        """The final response to the INVITE, once it came."""
        self._ack: SipRequest | None = None
        self._others: dict[str, SipRequest] = {}  # ACKs of 2xx from other To tags

    @property
    def state(self) -> CallState:
        return self._state

    @property
    def call_id(self) -> str:
        return self.invite.call_id

    @property
    def is_terminated(self) -> bool:
        return self._state is CallState.TERMINATED

    def provisional_received(self, response: SipResponse) -> list[Action]:
        self._input(_In.PROVISIONAL)
        return []

    def final_received(self, response: SipResponse) -> list[Action]:
        """The INVITE's final response. Raises `RemoteProtocolError` for a 2xx without
        a To tag (the session is then over: nothing can be ACKed inside a dialog)."""
        if not response.is_success:
            if self._input(_In.FAILURE) is not None:
                self.response = response
            return []
        previous = self._state
        if self._input(_In.SUCCESS) is None:
            return self.success_retransmitted(response)
        try:
            self.dialog = Dialog.from_success(self.invite, response)
        except RemoteProtocolError:
            self._state = CallState.TERMINATED
            raise
        self.response = response
        self._ack = self.dialog.build_ack()
        actions: list[Action] = [SendAck(self._ack)]
        if previous is _S.TERMINATING:  # we gave up meanwhile: end the dialog at once
            actions.extend(self._bye())
        return actions

    def success_retransmitted(self, response: SipResponse) -> list[Action]:
        """A 2xx seen again, or one that no transaction awaits any more: ACK it.

        A 2xx of a dialog we do not hold (another To tag, or after the INVITE timed
        out) is ACKed and BYEd once, and only ACKed when it is retransmitted.
        Raises `RemoteProtocolError` for a 2xx without a To tag.
        """
        if self._state in (_S.CALLING, _S.PROCEEDING) or (
            self._state is _S.TERMINATING and self.dialog is None
        ):
            return self.final_received(response)
        remote_tag = response.to.tag or ""
        dialog, own_ack = self.dialog, self._ack
        if dialog is not None and own_ack is not None and remote_tag == dialog.id.remote_tag:
            return [SendAck(own_ack)]
        ack = self._others.get(remote_tag)
        if ack is not None:
            return [SendAck(ack)]
        other = Dialog.from_success(self.invite, response)
        self._others[remote_tag] = other.build_ack()
        _, bye = other.build_bye()
        return [SendAck(self._others[remote_tag]), SendBye(bye)]

    def timed_out(self) -> list[Action]:
        self._input(_In.TIMEOUT)
        return []

    def give_up(self) -> list[Action]:
        """Stop waiting for the answer: CANCEL while unanswered, BYE once confirmed."""
        if self._state is _S.CONFIRMED:
            return self.hang_up()
        if self._input(_In.GIVE_UP) is None:
            return []
        return [SendCancel(build_cancel(self.invite))]

    def hang_up(self) -> list[Action]:
        """End the session: BYE when confirmed, CANCEL while unanswered, else nothing."""
        if self._state in (_S.CALLING, _S.PROCEEDING):
            return self.give_up()
        if self._input(_In.HANG_UP) is None:
            return []
        return self._bye()

    def bye_received(self) -> bool:
        """The device ended the dialog; True when it was confirmed (not already ending)."""
        return self._input(_In.BYE_RECEIVED) is _S.CONFIRMED

    def accepts_bye(self) -> bool:
        """A BYE from the device is answered 200 (and not 481) in this state."""
        return (self._state, _In.BYE_RECEIVED) in CALL_TRANSITIONS

    def bye_finished(self) -> None:
        self._input(_In.BYE_DONE)

    def dialog_lost(self) -> bool:
        """The device answered 481/408 inside the dialog; True when this ended the call."""
        return self._input(_In.DIALOG_LOST) is not None

    def next_request(
        self, method: str, *, body: bytes = b"", content_type: str | None = None
    ) -> SipRequest:
        """A request inside the confirmed dialog (INFO...), with the next CSeq number."""
        if self._state is not _S.CONFIRMED or self.dialog is None:
            raise LocalProtocolError(f"no confirmed dialog for {method} ({self._state.value})")
        self.dialog, request = self.dialog.next_request(
            method, body=body, content_type=content_type
        )
        return request

    def _bye(self) -> list[Action]:
        assert self.dialog is not None
        self.dialog, bye = self.dialog.build_bye()
        return [SendBye(bye)]

    def _input(self, kind: CallInput) -> CallState | None:
        """Apply `kind`; the previous state, or None when the table ignores it here."""
        target = CALL_TRANSITIONS.get((self._state, kind))
        if target is None:
            return None
        previous, self._state = self._state, target
        return previous
