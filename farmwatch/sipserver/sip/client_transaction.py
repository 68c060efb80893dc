"""Client transactions: RFC 3261 §17.1.1 (INVITE, with RFC 6026 Accepted) and §17.1.2.

Each class is a pure state machine. `start()` returns the first transmission;
`receive(response, now)` and `tick(now)` return the resulting `TxOutput`s. Which input
is accepted in which state, and where it leads, is data (`INVITE_CLIENT_TRANSITIONS`,
`NON_INVITE_CLIENT_TRANSITIONS`); inputs missing from a table are ignored. Over UDP
the request is retransmitted (timer A / E); over TCP it is not, and the wait timers
D and K are zero. A non-2xx final response to INVITE is ACKed here (§17.1.1.3); a 2xx
goes to the TU, which ACKs it and every retransmission of it delivered during Accepted.
"""

from __future__ import annotations

from abc import abstractmethod
from enum import Enum, IntEnum, auto

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.headers import Headers
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.timers import RFC3261_TIMERS, TimedMachine, TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    ResponseReceived,
    Send,
    TransactionKey,
    TransactionTerminated,
    TransactionTimedOut,
    TxOutput,
)


class ClientTxState(Enum):
    """States of RFC 3261 Figures 5 and 6, plus RFC 6026 Accepted."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"
    COMPLETED = "Completed"
    TERMINATED = "Terminated"


class ClientTxInput(IntEnum):
    """Inputs; timer expiries are inputs too. Timeouts precede retransmissions."""

    TIMER_B = auto()
    TIMER_F = auto()
    TIMER_D = auto()
    TIMER_K = auto()
    TIMER_M = auto()
    TIMER_A = auto()
    TIMER_E = auto()
    PROVISIONAL = auto()
    SUCCESS = auto()
    FAILURE = auto()
    CANCEL_SENT = auto()


_S = ClientTxState
_In = ClientTxInput

INVITE_CLIENT_TRANSITIONS: dict[tuple[ClientTxState, ClientTxInput], ClientTxState] = {
    (_S.CALLING, _In.TIMER_A): _S.CALLING,
    (_S.CALLING, _In.TIMER_B): _S.TERMINATED,
    (_S.CALLING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.CALLING, _In.SUCCESS): _S.ACCEPTED,
    (_S.CALLING, _In.FAILURE): _S.COMPLETED,
    (_S.CALLING, _In.CANCEL_SENT): _S.CALLING,
    (_S.PROCEEDING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _In.SUCCESS): _S.ACCEPTED,
    (_S.PROCEEDING, _In.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _In.CANCEL_SENT): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TIMER_B): _S.TERMINATED,  # armed only by CANCEL (§9.1)
    (_S.ACCEPTED, _In.SUCCESS): _S.ACCEPTED,
    (_S.ACCEPTED, _In.TIMER_M): _S.TERMINATED,
    (_S.COMPLETED, _In.FAILURE): _S.COMPLETED,
    (_S.COMPLETED, _In.TIMER_D): _S.TERMINATED,
}
"""RFC 3261 Figure 5 as amended by RFC 6026 Figure 3."""

NON_INVITE_CLIENT_TRANSITIONS: dict[tuple[ClientTxState, ClientTxInput], ClientTxState] = {
    (_S.TRYING, _In.TIMER_E): _S.TRYING,
    (_S.TRYING, _In.TIMER_F): _S.TERMINATED,
    (_S.TRYING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.TRYING, _In.SUCCESS): _S.COMPLETED,
    (_S.TRYING, _In.FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _In.TIMER_E): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TIMER_F): _S.TERMINATED,
    (_S.PROCEEDING, _In.PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _In.SUCCESS): _S.COMPLETED,
    (_S.PROCEEDING, _In.FAILURE): _S.COMPLETED,
    (_S.COMPLETED, _In.TIMER_K): _S.TERMINATED,
}
"""RFC 3261 Figure 6. Retransmitted finals in Completed are absorbed (no entry)."""


def classify_response(response: SipResponse) -> ClientTxInput:
    if response.is_provisional:
        return _In.PROVISIONAL
    return _In.SUCCESS if response.is_success else _In.FAILURE


def build_ack(invite: SipRequest, response: SipResponse) -> SipRequest:
    """The ACK for a non-2xx final response (RFC 3261 §17.1.1.3).

    Same Request-URI, top Via (so the same branch), Call-ID, From and CSeq number as
    the INVITE, the To of the response, the INVITE's Route set, CSeq method ACK.
    """
    pairs: list[tuple[str, str]] = []
    top_via = invite.headers.get("Via")
    if top_via is not None:
        pairs.append(("Via", top_via))
    max_forwards = invite.headers.get("Max-Forwards") or "70"
    pairs.append(("Max-Forwards", max_forwards))
    pairs.extend(("Route", route) for route in invite.headers.get_all("Route"))
    for name in ("From", "To", "Call-ID"):
        source = response if name == "To" else invite
        value = source.headers.get(name)
        if value is not None:
            pairs.append((name, value))
    pairs.append(("CSeq", f"{invite.cseq.number} ACK"))
    return SipRequest(method="ACK", uri=invite.uri, headers=Headers(tuple(pairs)))


class _ClientTransaction(TimedMachine[ClientTxInput, TxOutput]):
    """What both client transactions share: request, destination, key, state."""

    _transitions: dict[tuple[ClientTxState, ClientTxInput], ClientTxState]

    def __init__(
        self,
        request: SipRequest,
        dest: Address,
        initial: ClientTxState,
        *,
        timers: TimerTable,
        key: TransactionKey | None,
    ) -> None:
        super().__init__()
        self.request = request
        self.dest = dest
        self.key = key if key is not None else TransactionKey.of(request)
        self._state = initial
        self._timers = timers
        self._started = False

    @property
    def state(self) -> ClientTxState:
        return self._state

    @property
    def is_reliable(self) -> bool:
        return self.dest.is_reliable

    def start(self) -> list[TxOutput]:
        """The first transmission of the request (call exactly once)."""
        if self._started:
            raise LocalProtocolError("client transaction already started")
        self._started = True
        return [Send(self.request, self.dest)]

    def receive(self, response: SipResponse, now: float) -> list[TxOutput]:
        """A response matched to this transaction."""
        outputs = self._input(classify_response(response), now, response)
        return outputs + self.tick(now)

    def _fire(self, timer: ClientTxInput, now: float) -> list[TxOutput]:
        return self._input(timer, now, None)

    def _input(
        self, kind: ClientTxInput, now: float, response: SipResponse | None
    ) -> list[TxOutput]:
        target = self._transitions.get((self._state, kind))
        if target is None:
            return []
        previous, self._state = self._state, target
        outputs = self._act(kind, previous, now, response)
        if target is _S.TERMINATED:
            self._disarm_all()
            outputs.append(TransactionTerminated(self.key))
        return outputs

    @abstractmethod
    def _act(
        self,
        kind: ClientTxInput,
        previous: ClientTxState,
        now: float,
        response: SipResponse | None,
    ) -> list[TxOutput]:
        """The actions of the transition `previous` --kind--> `self.state`."""

    def _wait_timer(self, value: float) -> float:
        """D and K: their value over UDP, zero over TCP."""
        return 0.0 if self.is_reliable else value


class InviteClientTransaction(_ClientTransaction):
    """RFC 3261 §17.1.1 INVITE client transaction with RFC 6026 Accepted (timer M)."""

    _transitions = INVITE_CLIENT_TRANSITIONS

    def __init__(
        self,
        request: SipRequest,
        dest: Address,
        *,
        now: float,
        timers: TimerTable = RFC3261_TIMERS,
        key: TransactionKey | None = None,
    ) -> None:
        super().__init__(request, dest, _S.CALLING, timers=timers, key=key)
        self._timer_a_interval = timers.a
        self._ack: SipRequest | None = None
        self._success_to_tags: set[str] = set()
        if not self.is_reliable:
            self._arm(_In.TIMER_A, now + self._timer_a_interval)
        self._arm(_In.TIMER_B, now + timers.b)

    @property
    def ack(self) -> SipRequest | None:
        """The ACK this transaction sent for a non-2xx final response, if any."""
        return self._ack

    def cancel_sent(self, now: float) -> list[TxOutput]:
        """The TU sent a CANCEL: give up 64*T1 later if no final response (§9.1)."""
        outputs = self._input(_In.CANCEL_SENT, now, None)
        return outputs + self.tick(now)

    def _act(
        self,
        kind: ClientTxInput,
        previous: ClientTxState,
        now: float,
        response: SipResponse | None,
    ) -> list[TxOutput]:
        if kind is _In.TIMER_A:
            self._timer_a_interval *= 2  # no cap for INVITE (§17.1.1.2)
            self._arm(_In.TIMER_A, now + self._timer_a_interval)
            return [Send(self.request, self.dest)]
        if kind is _In.TIMER_B:
            return [TransactionTimedOut(self.key, self.request)]
        if kind is _In.CANCEL_SENT:
            if not self.is_armed(_In.TIMER_B):
                self._arm(_In.TIMER_B, now + self._timers.b)
            return []
        if kind in (_In.TIMER_D, _In.TIMER_M):
            return []
        assert response is not None
        if kind is _In.PROVISIONAL:
            if previous is _S.CALLING:  # Proceeding has no timer until a CANCEL
                self._disarm(_In.TIMER_A, _In.TIMER_B)
            return [ResponseReceived(response, self.key)]
        if kind is _In.SUCCESS:
            return self._on_success(response, now)
        return self._on_failure(response, previous, now)

    def _on_success(self, response: SipResponse, now: float) -> list[TxOutput]:
        if not self._success_to_tags:
            self._disarm(_In.TIMER_A, _In.TIMER_B)
            self._arm(_In.TIMER_M, now + self._timers.m)
        to_tag = response.to.tag or ""
        seen = to_tag in self._success_to_tags
        self._success_to_tags.add(to_tag)
        return [ResponseReceived(response, self.key, is_retransmission=seen)]

    def _on_failure(
        self, response: SipResponse, previous: ClientTxState, now: float
    ) -> list[TxOutput]:
        if previous is _S.COMPLETED:
            # A retransmitted final response: re-send the ACK, tell the TU nothing.
            return [Send(self._ack, self.dest)] if self._ack is not None else []
        self._disarm(_In.TIMER_A, _In.TIMER_B)
        self._arm(_In.TIMER_D, now + self._wait_timer(self._timers.d))
        self._ack = build_ack(self.request, response)
        return [Send(self._ack, self.dest), ResponseReceived(response, self.key)]


class NonInviteClientTransaction(_ClientTransaction):
    """RFC 3261 §17.1.2 non-INVITE client transaction (timers E, F, K)."""

    _transitions = NON_INVITE_CLIENT_TRANSITIONS

    def __init__(
        self,
        request: SipRequest,
        dest: Address,
        *,
        now: float,
        timers: TimerTable = RFC3261_TIMERS,
        key: TransactionKey | None = None,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise LocalProtocolError(f"{request.method} needs no non-INVITE transaction")
        super().__init__(request, dest, _S.TRYING, timers=timers, key=key)
        self._timer_e_interval = timers.e
        if not self.is_reliable:
            self._arm(_In.TIMER_E, now + self._timer_e_interval)
        self._arm(_In.TIMER_F, now + timers.f)

    def _act(
        self,
        kind: ClientTxInput,
        previous: ClientTxState,
        now: float,
        response: SipResponse | None,
    ) -> list[TxOutput]:
        if kind is _In.TIMER_E:
            if self._state is _S.PROCEEDING:  # after a provisional: every T2 (Figure 6)
                self._timer_e_interval = self._timers.t2
            else:
                self._timer_e_interval = self._timers.next_interval(self._timer_e_interval)
            self._arm(_In.TIMER_E, now + self._timer_e_interval)
            return [Send(self.request, self.dest)]
        if kind is _In.TIMER_F:
            return [TransactionTimedOut(self.key, self.request)]
        if kind is _In.TIMER_K:
            return []
        assert response is not None
        if kind is _In.PROVISIONAL:
            return [ResponseReceived(response, self.key)]
        self._disarm(_In.TIMER_E, _In.TIMER_F)
        self._arm(_In.TIMER_K, now + self._wait_timer(self._timers.k))
        return [ResponseReceived(response, self.key)]


ClientTransaction = InviteClientTransaction | NonInviteClientTransaction


def create_client_transaction(
    request: SipRequest,
    dest: Address,
    *,
    now: float,
    timers: TimerTable = RFC3261_TIMERS,
    key: TransactionKey | None = None,
) -> ClientTransaction:
    """The right client transaction for `request`'s method."""
    if request.method == "INVITE":
        return InviteClientTransaction(request, dest, now=now, timers=timers, key=key)
    return NonInviteClientTransaction(request, dest, now=now, timers=timers, key=key)
