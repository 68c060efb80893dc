"""The transaction layer (RFC 3261 §17): matches messages to transactions, drives timers.

`TransactionLayer` owns every live client and server transaction. The asyncio endpoint
feeds it what the TU sends (`send_request`, `send_response`), what the network
delivered (`receive`) and the clock (`tick`), performs the returned `Send` effects,
hands the rest to the TU, and re-arms one timer at `next_deadline()`. Matching is one
dict lookup on `TransactionKey` (§17.1.3, §17.2.3); timers live in a `DeadlineQueue`,
so a tick touches only the transactions that are due. Terminated transactions are
dropped at once. ACKs to 2xx (no transaction of their own, §17.1.1.3) are matched to
the Accepted INVITE server transaction by Call-ID, From tag and CSeq number, stop its
2xx retransmission and reach the TU as `AckReceived`. Incoming requests get
`received`/`rport` on their top Via (RFC 3581); responses go to the request's source.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.client_transaction import (
    ClientTransaction,
    ClientTxState,
    InviteClientTransaction,
    create_client_transaction,
)
from farmwatch.sipserver.sip.deadline_queue import DeadlineQueue
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.headers import Headers, Via
from farmwatch.sipserver.sip.message import SipRequest, SipResponse
from farmwatch.sipserver.sip.server_transaction import (
    InviteServerTransaction,
    ServerTransaction,
    ServerTxState,
    create_server_transaction,
)
from farmwatch.sipserver.sip.timers import RFC3261_TIMERS, TimerTable
from farmwatch.sipserver.sip.transaction_effects import (
    AckReceived,
    Effect,
    RequestReceived,
    Send,
    StrayResponse,
    TransactionAborted,
    TransactionKey,
    TxOutput,
)


class _Side(Enum):
    CLIENT = "client"
    SERVER = "server"


@dataclass(frozen=True, slots=True)
class _AcceptedInvite:
    """What an ACK to a 2xx shares with its INVITE (it has a new branch)."""

    call_id: str
    from_tag: str
    cseq_number: int

    @classmethod
    def of(cls, request: SipRequest) -> _AcceptedInvite:
        return cls(request.call_id, _from_identity(request), request.cseq.number)


def _from_identity(request: SipRequest) -> str:
    """The From tag; the whole From value when it cannot be parsed (the parser checks only
    its brackets). An ACK repeats its INVITE's From verbatim, so the two still meet."""
    try:
        return request.from_.tag or ""
    except RemoteProtocolError:
        return request.headers.get("From") or ""


def stamp_received(request: SipRequest, source: Address, top_via: Via | None = None) -> SipRequest:
    """Add `received` (RFC 3261 §18.2.1) and fill `rport` (RFC 3581) on the top Via."""
    via = top_via if top_via is not None else request.top_via
    stamped = via
    if via.has_param("rport"):
        stamped = via.with_param("rport", str(source.port)).with_param("received", source.host)
    elif via.host.strip("[]") != source.host:
        stamped = via.with_param("received", source.host)
    if stamped is via:
        return request
    items = list(request.headers.items)
    for index, (name, _) in enumerate(items):
        if name.lower() == "via":
            items[index] = (name, str(stamped))
            break
    return request.with_headers(Headers(tuple(items)))


@dataclass(slots=True)
class TransactionStats:
    """Counters since start (for /metrics)."""

    client_started: int = 0
    server_started: int = 0
    retransmissions_received: int = 0
    """Requests that matched a live server transaction (absorbed; its last answer re-sent)."""
    retransmissions_sent: int = 0
    """Requests and responses sent again by a timer (UDP)."""


class TransactionLayer:
    """All live transactions of one endpoint; pure, the clock comes in as `now`."""

    def __init__(self, timers: TimerTable = RFC3261_TIMERS) -> None:
        self.stats = TransactionStats()
        self._timers = timers
        self._clients: dict[TransactionKey, ClientTransaction] = {}
        self._servers: dict[TransactionKey, ServerTransaction] = {}
        self._accepted: dict[_AcceptedInvite, TransactionKey] = {}
        self._deadlines: DeadlineQueue[tuple[_Side, TransactionKey]] = DeadlineQueue()

    def __len__(self) -> int:
        """The number of live transactions, client and server."""
        return len(self._clients) + len(self._servers)

    def client_state(self, key: TransactionKey) -> ClientTxState | None:
        tx = self._clients.get(key)
        return tx.state if tx is not None else None

    def server_state(self, key: TransactionKey) -> ServerTxState | None:
        tx = self._servers.get(key)
        return tx.state if tx is not None else None

    def send_request(
        self, request: SipRequest, dest: Address, now: float, *, top_via: Via | None = None
    ) -> tuple[TransactionKey, list[Effect]]:
        """Start a client transaction for `request` (its top Via has a fresh branch; pass
        it as `top_via` when it is at hand, to save reading it back).

        An ACK (to a 2xx) has no transaction: it is just sent. A CANCEL also bounds the
        INVITE client transaction it cancels to 64*T1 more (RFC 3261 §9.1).
        Raises `LocalProtocolError` if the branch is already in use.
        """
        key = TransactionKey.of(request, top_via)
        if request.method == "ACK":
            return key, [Send(request, dest)]
        if key in self._clients:
            raise LocalProtocolError(f"a client transaction already uses {key}")
        tx = create_client_transaction(request, dest, now=now, timers=self._timers, key=key)
        self._clients[key] = tx
        self.stats.client_started += 1
        effects: list[Effect] = [*tx.start()]
        self._settle_client(tx)
        if request.method == "CANCEL":
            invite = self._clients.get(key.for_method("INVITE"))
            if isinstance(invite, InviteClientTransaction):
                effects.extend(self._settle_client(invite, invite.cancel_sent(now)))
        return key, effects

    def send_response(self, response: SipResponse, now: float) -> list[Effect]:
        """Send the TU's response through the server transaction it answers.

        Raises `LocalProtocolError` when no live server transaction matches its Via
        and CSeq (the TU answered twice, or too late).
        """
        key = TransactionKey.of(response)
        tx = self._servers.get(key)
        if tx is None:
            raise LocalProtocolError(f"no server transaction for response {key}")
        outputs = tx.respond(response, now)
        if isinstance(tx, InviteServerTransaction) and tx.state is ServerTxState.ACCEPTED:
            self._accepted[_AcceptedInvite.of(tx.request)] = key
        return self._settle_server(tx, outputs)

    def receive(
        self, message: SipRequest | SipResponse, source: Address, now: float
    ) -> list[Effect]:
        """A message from the network. Raises `RemoteProtocolError` (state unchanged)
        when its Via, CSeq or (RFC 2543 peers) From cannot be parsed."""
        if isinstance(message, SipResponse):
            return self._receive_response(message, source, now)
        return self._receive_request(message, source, now)

    def tick(self, now: float) -> list[Effect]:
        """Fire every timer due at `now`, touching only the transactions that are due.

        A transaction that raises is forgotten and reported as `TransactionAborted`; the
        others due at `now` are ticked all the same.
        """
        effects: list[Effect] = []
        for side, key in self._deadlines.pop_due(now):
            try:
                effects.extend(self._tick_one(side, key, now))
            except Exception as error:
                # Isolation boundary: one transaction. The batch is already popped, so an
                # error escaping here would leave the rest of it un-ticked forever.
                effects.append(self._abort(side, key, error))
        return effects

    def _tick_one(self, side: _Side, key: TransactionKey, now: float) -> list[Effect]:
        effects: list[Effect] = []
        if side is _Side.CLIENT:
            client = self._clients.get(key)
            if client is not None:
                effects = self._settle_client(client, client.tick(now))
        else:
            server = self._servers.get(key)
            if server is not None:
                effects = self._settle_server(server, server.tick(now))
        # What a timer sends is always a retransmission (a first send is never timed).
        self.stats.retransmissions_sent += sum(isinstance(e, Send) for e in effects)
        return effects

    def _abort(self, side: _Side, key: TransactionKey, error: Exception) -> TransactionAborted:
        """Forget a transaction that failed, whatever state it was left in."""
        self._deadlines.cancel((side, key))
        call_id: str | None = None
        if side is _Side.CLIENT:
            client = self._clients.pop(key, None)
            call_id = client.request.call_id if client is not None else None
        else:
            server = self._servers.pop(key, None)
            if isinstance(server, InviteServerTransaction):
                call_id = server.request.call_id
            for accepted in [a for a, invite_key in self._accepted.items() if invite_key == key]:
                del self._accepted[accepted]
        return TransactionAborted(key, call_id, error)

    def next_deadline(self) -> float | None:
        """When `tick` must next be called, or None when no timer runs."""
        return self._deadlines.next_deadline()

    def _receive_response(self, response: SipResponse, source: Address, now: float) -> list[Effect]:
        tx = self._clients.get(TransactionKey.of(response))
        if tx is None:
            return [StrayResponse(response, source)]
        return self._settle_client(tx, tx.receive(response, now))

    def _receive_request(self, request: SipRequest, source: Address, now: float) -> list[Effect]:
        via = request.top_via
        key = TransactionKey.of(request, via)
        if request.method == "ACK":
            return self._receive_ack(request, key, source, now)
        existing = self._servers.get(key)
        if existing is not None:  # a retransmission: absorbed, last response re-sent
            self.stats.retransmissions_received += 1
            return self._settle_server(existing, existing.receive(request, now))
        request = stamp_received(request, source, via)
        tx = create_server_transaction(request, source, now=now, timers=self._timers, key=key)
        self._servers[key] = tx
        self.stats.server_started += 1
        self._settle_server(tx)
        cancels = None
        if request.method == "CANCEL" and key.for_method("INVITE") in self._servers:
            cancels = key.for_method("INVITE")
        return [RequestReceived(request, source, key, cancels)]

    def _receive_ack(
        self, ack: SipRequest, key: TransactionKey, source: Address, now: float
    ) -> list[Effect]:
        tx = self._servers.get(key)
        if isinstance(tx, InviteServerTransaction) and tx.state is not ServerTxState.ACCEPTED:
            # The ACK to a non-2xx final response belongs to the transaction: absorbed.
            return self._settle_server(tx, tx.receive(ack, now))
        if tx is None:
            invite_key = self._accepted.get(_AcceptedInvite.of(ack))
            tx = self._servers.get(invite_key) if invite_key is not None else None
        if not isinstance(tx, InviteServerTransaction):
            return [AckReceived(ack, source, None)]
        effects = self._settle_server(tx, tx.receive(ack, now))
        return [AckReceived(ack, source, tx.key), *effects]

    def _settle_client(
        self, tx: ClientTransaction, outputs: list[TxOutput] | None = None
    ) -> list[Effect]:
        """Re-schedule `tx`'s timer, or forget it once terminated."""
        item = (_Side.CLIENT, tx.key)
        if tx.state is ClientTxState.TERMINATED:
            self._clients.pop(tx.key, None)
            self._deadlines.cancel(item)
        else:
            self._deadlines.schedule(item, tx.next_deadline())
        return list(outputs or [])

    def _settle_server(
        self, tx: ServerTransaction, outputs: list[TxOutput] | None = None
    ) -> list[Effect]:
        """Re-schedule `tx`'s timer, or forget it (and its ACK index entry) once terminated."""
        item = (_Side.SERVER, tx.key)
        if tx.state is ServerTxState.TERMINATED:
            self._servers.pop(tx.key, None)
            self._deadlines.cancel(item)
            if isinstance(tx, InviteServerTransaction):
                accepted = _AcceptedInvite.of(tx.request)
                if self._accepted.get(accepted) == tx.key:
                    del self._accepted[accepted]
        else:
            self._deadlines.schedule(item, tx.next_deadline())
        return list(outputs or [])
