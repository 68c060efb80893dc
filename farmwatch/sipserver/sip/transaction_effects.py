"""Transaction keys and the effects the transaction layer returns (RFC 3261 §17).

`TransactionKey` is the typed matching key of RFC 3261 §17.1.3 (client) and §17.2.3
(server): the top Via branch, the CSeq method (ACK folded into INVITE) and the Via
sent-by. For RFC 2543 peers, whose branch lacks the `z9hG4bK` magic cookie (some old
GB/T 28181 devices), the key also carries Call-ID, From tag and CSeq number.
Effects are frozen dataclasses the caller performs (`Send`) or hands to the TU; the
cores never do I/O themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from farmwatch.sipserver.sip.address import Address
from farmwatch.sipserver.sip.headers import Via
from farmwatch.sipserver.sip.message import SipMessage, SipRequest, SipResponse
from farmwatch.sipserver.sip.tokens import random_hex

MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    """A fresh RFC 3261 branch: the magic cookie plus 96 random bits."""
    return MAGIC_COOKIE + random_hex(12)


@dataclass(frozen=True, slots=True)
class TransactionKey:
    """Which transaction a message belongs to.

    RFC 3261 peers are matched on (branch, method, sent_by) alone and the other fields
    stay empty. For RFC 2543 branches they also hold Call-ID, From tag and CSeq number.
    """

    branch: str
    """The top Via branch parameter ("" when the peer sent none)."""
    method: str
    """The CSeq method; ACK is stored as INVITE so that it finds its INVITE transaction."""
    sent_by: tuple[str, int]
    """The top Via sent-by (host, port), with the transport's default port filled in."""
    call_id: str = ""
    from_tag: str = ""
    cseq_number: int = 0

    @property
    def is_rfc3261(self) -> bool:
        return self.branch.startswith(MAGIC_COOKIE)

    def for_method(self, method: str) -> TransactionKey:
        """The same key for another method (CANCEL → the INVITE it cancels)."""
        return TransactionKey(
            self.branch, method, self.sent_by, self.call_id, self.from_tag, self.cseq_number
        )

    @classmethod
    def of(cls, message: SipMessage, top_via: Via | None = None) -> TransactionKey:
        """The key of a request or response; raises `RemoteProtocolError` if unparsable.

        Pass `top_via` when it is already parsed, to save parsing it again.
        """
        via = top_via if top_via is not None else message.top_via
        cseq = message.cseq
        method = "INVITE" if cseq.method == "ACK" else cseq.method
        branch = via.branch or ""
        host, port = via.sent_by
        sent_by = (host.lower(), port)
        if branch.startswith(MAGIC_COOKIE):
            return cls(branch, method, sent_by)
        return cls(branch, method, sent_by, message.call_id, message.from_.tag or "", cseq.number)


@dataclass(frozen=True, slots=True)
class Send:
    """Command: transmit `message` to `dest` (over `dest.transport`)."""

    message: SipMessage
    dest: Address


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """A response for the TU of client transaction `key`.

    For INVITE, every 2xx reaches the TU (which ACKs each one); `is_retransmission` is
    true when a 2xx with the same To tag was already delivered, so the TU does not build
    a second dialog.
    """

    response: SipResponse
    key: TransactionKey
    is_retransmission: bool = False


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """A new request for the TU; it answers through `TransactionLayer.send_response`.

    `request`'s top Via already carries `received`/`rport` (RFC 3581), so a response
    built from it with `build_response` is correct. For a CANCEL, `cancels` names the
    live INVITE server transaction it targets, or is None (the TU answers 481).
    """

    request: SipRequest
    source: Address
    key: TransactionKey
    cancels: TransactionKey | None = None


@dataclass(frozen=True, slots=True)
class AckReceived:
    """An ACK to a 2xx (an end-to-end request with no transaction of its own).

    `invite_key` is the INVITE server transaction whose 2xx it acknowledges (that
    transaction stops retransmitting the 2xx), or None when none is known any more.
    """

    request: SipRequest
    source: Address
    invite_key: TransactionKey | None = None


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response matching no client transaction (e.g. a 2xx retransmitted after timer M).

    The TU ACKs a stray 2xx to INVITE that belongs to one of its dialogs.
    """

    response: SipResponse
    source: Address


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """The transaction failed: no final response (timers B, F) or no ACK (timer H)."""

    key: TransactionKey
    request: SipRequest


@dataclass(frozen=True, slots=True)
class AckTimedOut:
    """A 2xx to INVITE was never ACKed before timer L (RFC 3261 §13.3.1.4): send BYE."""

    key: TransactionKey
    response: SipResponse


@dataclass(frozen=True, slots=True)
class TransactionTerminated:
    """The transaction reached Terminated and has been forgotten."""

    key: TransactionKey


@dataclass(frozen=True, slots=True)
class TransactionAborted:
    """A transaction raised while its timers fired, and has been forgotten.

    Our bug, not the peer's: the shell logs `error` once; the other transactions due in
    the same tick were still ticked. `call_id` is None where the transaction keeps no
    request (non-INVITE server transactions).
    """

    key: TransactionKey
    call_id: str | None
    error: Exception


TxOutput = Send | ResponseReceived | TransactionTimedOut | AckTimedOut | TransactionTerminated
"""What a single transaction state machine returns."""

Effect = TxOutput | RequestReceived | AckReceived | StrayResponse | TransactionAborted
"""What the transaction layer returns."""
