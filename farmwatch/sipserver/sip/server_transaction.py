"""Server transactions: RFC 3261 §17.2.1 (INVITE, with RFC 6026 Accepted) and §17.2.2.

Each class is a pure state machine created for a new request (which the layer hands to
the TU). `respond(response, now)` takes the TU's responses, `receive(request, now)`
the retransmitted requests and ACKs, `tick(now)` the timers. Responses go back to
`source`, the address the request came from (RFC 3581). Retransmitted requests are
absorbed and the last response re-sent. The INVITE server transaction retransmits a
non-2xx final until the ACK (timers G, H) and, in Accepted, the 2xx too (§13.3.1.4,
T1 doubling to T2) until the ACK or timer L; an unACKed 2xx yields `AckTimedOut`.
The transition tables (`*_SERVER_TRANSITIONS`) say which input leads where.
"""

from __future__ import annotations

from abc import abstractmethod
from enum import Enum, IntEnum, auto

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.errors import LocalProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.timers import RFC3261_TIMERS, TimedMachine, TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    AckTimedOut,
    Send,
    TransactionKey,
    TransactionTerminated,
    TransactionTimedOut,
    TxOutput,
)


class ServerTxState(Enum):
    """States of RFC 3261 Figures 7 and 8, plus RFC 6026 Accepted."""

    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    ACCEPTED = "Accepted"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    TERMINATED = "Terminated"


class ServerTxInput(IntEnum):
    """Inputs; timer expiries are inputs too. Timeouts precede retransmissions."""

    TIMER_H = auto()
    TIMER_L = auto()
    TIMER_I = auto()
    TIMER_J = auto()
    TIMER_ABANDON = auto()
    """Non-INVITE: the TU never answered; after 64·T1 (the client's timer F) no one waits."""
    TIMER_G = auto()
    TIMER_2XX = auto()
    """2xx retransmission in Accepted (RFC 3261 §13.3.1.4), T1 doubling to T2."""
    TIMER_TRYING = auto()
    """Send 100 Trying if the TU has not answered within 200 ms (§17.2.1)."""
    REQUEST = auto()
    """A retransmission of the request."""
    ACK = auto()
    TU_PROVISIONAL = auto()
    TU_SUCCESS = auto()
    TU_FAILURE = auto()


_S = ServerTxState
_In = ServerTxInput

INVITE_SERVER_TRANSITIONS: dict[tuple[ServerTxState, ServerTxInput], ServerTxState] = {
    (_S.PROCEEDING, _In.TIMER_TRYING): _S.PROCEEDING,
    (_S.PROCEEDING, _In.REQUEST): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TU_PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TU_SUCCESS): _S.ACCEPTED,
    (_S.PROCEEDING, _In.TU_FAILURE): _S.COMPLETED,
    (_S.ACCEPTED, _In.REQUEST): _S.ACCEPTED,
    (_S.ACCEPTED, _In.ACK): _S.ACCEPTED,
    (_S.ACCEPTED, _In.TU_SUCCESS): _S.ACCEPTED,
    (_S.ACCEPTED, _In.TIMER_2XX): _S.ACCEPTED,
    (_S.ACCEPTED, _In.TIMER_L): _S.TERMINATED,
    (_S.COMPLETED, _In.REQUEST): _S.COMPLETED,
    (_S.COMPLETED, _In.TIMER_G): _S.COMPLETED,
    (_S.COMPLETED, _In.ACK): _S.CONFIRMED,
    (_S.COMPLETED, _In.TIMER_H): _S.TERMINATED,
    (_S.CONFIRMED, _In.ACK): _S.CONFIRMED,
    (_S.CONFIRMED, _In.TIMER_I): _S.TERMINATED,
}
"""RFC 3261 Figure 7 as amended by RFC 6026 Figure 5."""

NON_INVITE_SERVER_TRANSITIONS: dict[tuple[ServerTxState, ServerTxInput], ServerTxState] = {
    (_S.TRYING, _In.REQUEST): _S.TRYING,
    (_S.TRYING, _In.TIMER_ABANDON): _S.TERMINATED,
    (_S.PROCEEDING, _In.TIMER_ABANDON): _S.TERMINATED,
    (_S.TRYING, _In.TU_PROVISIONAL): _S.PROCEEDING,
    (_S.TRYING, _In.TU_SUCCESS): _S.COMPLETED,
    (_S.TRYING, _In.TU_FAILURE): _S.COMPLETED,
    (_S.PROCEEDING, _In.REQUEST): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TU_PROVISIONAL): _S.PROCEEDING,
    (_S.PROCEEDING, _In.TU_SUCCESS): _S.COMPLETED,
    (_S.PROCEEDING, _In.TU_FAILURE): _S.COMPLETED,
    (_S.COMPLETED, _In.REQUEST): _S.COMPLETED,
    (_S.COMPLETED, _In.TIMER_J): _S.TERMINATED,
}
"""RFC 3261 Figure 8. Responses from the TU in Completed are discarded (no entry).

Plus one guard RFC 3261 leaves to the implementation: a request the TU never answers
would keep its transaction forever, so it is dropped when the client has given up."""


def classify_tu_response(response: SipResponse) -> ServerTxInput:
    if response.is_provisional:
        return _In.TU_PROVISIONAL
    return _In.TU_SUCCESS if response.is_success else _In.TU_FAILURE


class _ServerTransaction(TimedMachine[ServerTxInput, TxOutput]):
    """What both server transactions share: source, key, last response.

    Only the INVITE transaction keeps its request (for its 100 Trying and timeouts): a
    non-INVITE one lives 32 s after its final response over UDP, and during a
    registration storm those requests would be most of the platform's memory.
    """

    _transitions: dict[tuple[ServerTxState, ServerTxInput], ServerTxState]

    def __init__(
        self,
        request: SipRequest,
        source: Address,
        initial: ServerTxState,
        timers: TimerTable,
        key: TransactionKey | None,
    ) -> None:
        super().__init__()
        self.source = source
        self.key = key if key is not None else TransactionKey.of(request)
        self._state = initial
        self._timers = timers
        self._last_response: SipResponse | None = None

    @property
    def state(self) -> ServerTxState:
        return self._state

    @property
    def is_reliable(self) -> bool:
        return self.source.is_reliable

    @property
    def last_response(self) -> SipResponse | None:
        return self._last_response

    def respond(self, response: SipResponse, now: float) -> list[TxOutput]:
        """The TU's response; sent to the request's source. Ignored when out of place."""
        return self._input(classify_tu_response(response), now, response) + self.tick(now)

    def receive(self, request: SipRequest, now: float) -> list[TxOutput]:
        """A retransmission of the request, or (INVITE) an ACK matched to it."""
        kind = _In.ACK if request.method == "ACK" else _In.REQUEST
        return self._input(kind, now, None) + self.tick(now)

    def _fire(self, timer: ServerTxInput, now: float) -> list[TxOutput]:
        return self._input(timer, now, None)

    def _input(
        self, kind: ServerTxInput, now: float, response: SipResponse | None
    ) -> list[TxOutput]:
        target = self._transitions.get((self._state, kind))
        if target is None:
            return []
        previous, self._state = self._state, target
        if response is not None:
            self._last_response = response
        outputs = self._act(kind, previous, now)
        if target is _S.TERMINATED:
            self._disarm_all()
            outputs.append(TransactionTerminated(self.key))
        return outputs

    @abstractmethod
    def _act(self, kind: ServerTxInput, previous: ServerTxState, now: float) -> list[TxOutput]:
        """The actions of the transition `previous` --kind--> `self.state`."""

    def _resend_last(self) -> list[TxOutput]:
        if self._last_response is None:
            return []
        return [Send(self._last_response, self.source)]

    def _wait_timer(self, value: float) -> float:
        """I and J: their value over UDP, zero over TCP."""
        return 0.0 if self.is_reliable else value


class InviteServerTransaction(_ServerTransaction):
    """RFC 3261 §17.2.1 INVITE server transaction with RFC 6026 Accepted (timer L)."""

    _transitions = INVITE_SERVER_TRANSITIONS

    def __init__(
        self,
        request: SipRequest,
        source: Address,
        *,
        now: float,
        timers: TimerTable = RFC3261_TIMERS,
        key: TransactionKey | None = None,
    ) -> None:
        if request.method != "INVITE":
            raise LocalProtocolError(f"{request.method} is not an INVITE")
        super().__init__(request, source, _S.PROCEEDING, timers, key)
        self.request = request
        self._retransmit_interval = timers.t1
        self._is_acked = False
        self._arm(_In.TIMER_TRYING, now + timers.trying_delay)

    @property
    def is_acked(self) -> bool:
        """Whether an ACK to the 2xx arrived (Accepted state)."""
        return self._is_acked

    def _act(self, kind: ServerTxInput, previous: ServerTxState, now: float) -> list[TxOutput]:
        match kind:
            case _In.TIMER_TRYING:
                self._last_response = build_response(self.request, 100)
                return self._resend_last()
            case _In.REQUEST:
                return [] if self._is_acked else self._resend_last()
            case _In.TU_PROVISIONAL:
                self._disarm(_In.TIMER_TRYING)
                return self._resend_last()
            case _In.TU_SUCCESS:
                if previous is _S.PROCEEDING:
                    self._enter_accepted(now)
                return self._resend_last()
            case _In.TU_FAILURE:
                self._enter_completed(now)
                return self._resend_last()
            case _In.TIMER_G | _In.TIMER_2XX:
                self._retransmit_interval = self._timers.next_interval(self._retransmit_interval)
                self._arm(kind, now + self._retransmit_interval)
                return self._resend_last()
            case _In.ACK:
                return self._on_ack(previous, now)
            case _In.TIMER_H:
                return [TransactionTimedOut(self.key, self.request)]
            case _In.TIMER_L:
                if self._is_acked or self._last_response is None:
                    return []
                return [AckTimedOut(self.key, self._last_response)]
        return []

    def _enter_accepted(self, now: float) -> None:
        self._disarm(_In.TIMER_TRYING)
        self._arm(_In.TIMER_L, now + self._timers.l)
        if not self.is_reliable:
            self._retransmit_interval = self._timers.t1
            self._arm(_In.TIMER_2XX, now + self._retransmit_interval)

    def _enter_completed(self, now: float) -> None:
        self._disarm(_In.TIMER_TRYING)
        self._arm(_In.TIMER_H, now + self._timers.h)
        if not self.is_reliable:
            self._retransmit_interval = self._timers.g
            self._arm(_In.TIMER_G, now + self._retransmit_interval)

    def _on_ack(self, previous: ServerTxState, now: float) -> list[TxOutput]:
        if previous is _S.ACCEPTED:
            self._is_acked = True
            self._disarm(_In.TIMER_2XX)
        elif previous is _S.COMPLETED:
            self._disarm(_In.TIMER_G, _In.TIMER_H)
            self._arm(_In.TIMER_I, now + self._wait_timer(self._timers.i))
        return []


class NonInviteServerTransaction(_ServerTransaction):
    """RFC 3261 §17.2.2 non-INVITE server transaction (timer J)."""

    _transitions = NON_INVITE_SERVER_TRANSITIONS

    def __init__(
        self,
        request: SipRequest,
        source: Address,
        *,
        now: float,
        timers: TimerTable = RFC3261_TIMERS,
        key: TransactionKey | None = None,
    ) -> None:
        if request.method in ("INVITE", "ACK"):
            raise LocalProtocolError(f"{request.method} needs no non-INVITE transaction")
        super().__init__(request, source, _S.TRYING, timers, key)
        self._arm(_In.TIMER_ABANDON, now + timers.f)

    def _act(self, kind: ServerTxInput, previous: ServerTxState, now: float) -> list[TxOutput]:
        if kind in (_In.TU_SUCCESS, _In.TU_FAILURE):
            self._disarm(_In.TIMER_ABANDON)
            self._arm(_In.TIMER_J, now + self._wait_timer(self._timers.j))
        if kind in (_In.TIMER_J, _In.TIMER_ABANDON):
            return []
        # TU responses are sent; retransmitted requests get the last response again.
        return self._resend_last()


ServerTransaction = InviteServerTransaction | NonInviteServerTransaction


def create_server_transaction(
    request: SipRequest,
    source: Address,
    *,
    now: float,
    timers: TimerTable = RFC3261_TIMERS,
    key: TransactionKey | None = None,
) -> ServerTransaction:
    """The right server transaction for a new `request` (not for ACK)."""
    if request.method == "INVITE":
        return InviteServerTransaction(request, source, now=now, timers=timers, key=key)
    return NonInviteServerTransaction(request, source, now=now, timers=timers, key=key)
