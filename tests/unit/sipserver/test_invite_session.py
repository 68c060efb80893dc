"""The pure INVITE session (UAC side) and the values of the calls API."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.call_types import (
    EstablishedCall,
    KeyframeLimiter,
    build_live_offer,
    build_subject,
)
from farmwatch.sipserver.device_requests import Originator
from farmwatch.sipserver.dialog import DialogId, build_invite
from farmwatch.sipserver.gb.ssrc import Ssrc
from farmwatch.sipserver.invite_session import (
    CALL_TRANSITIONS,
    CallState,
    InviteSession,
    SendAck,
    SendBye,
    SendCancel,
)
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.errors import LocalProtocolError, RemoteProtocolError
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.sdp import Setup, parse_sdp
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint

PLATFORM = Originator("34020000002000000001", "3402000000", "farmwatch-test")
CHANNEL = "34020000001310000001"


def new_session() -> InviteSession:
    invite = build_invite(
        PLATFORM,
        channel_id=CHANNEL,
        dest=Address("127.0.0.1", 5062),
        body=b"v=0\r\n",
        subject="s",
        local_host="127.0.0.1",
        local_port=5060,
    )
    return InviteSession(invite)


def answer(session: InviteSession, status: int = 200, to_tag: str = "dev1") -> SipResponse:
    extra = (("Contact", f"<sip:{CHANNEL}@127.0.0.1:5062>"),) if status < 300 else ()
    return build_response(session.invite, status, to_tag=to_tag, extra=extra)


def test_a_2xx_confirms_and_is_acked_and_every_retransmission_gets_the_same_ack() -> None:
    session = new_session()
    assert session.provisional_received(answer(session, 100)) == []
    assert session.state is CallState.PROCEEDING
    actions = session.final_received(answer(session))
    assert session.state is CallState.CONFIRMED
    assert len(actions) == 1 and isinstance(actions[0], SendAck)
    ack = actions[0].request
    assert str(ack.cseq) == "1 ACK" and ack.to.tag == "dev1"
    assert session.success_retransmitted(answer(session)) == [SendAck(ack)]
    assert session.final_received(answer(session)) == [SendAck(ack)]  # via the transaction


def test_non_2xx_and_timeouts_terminate_without_anything_to_send() -> None:
    refused = new_session()
    assert refused.final_received(answer(refused, 488)) == []
    assert refused.state is CallState.TERMINATED and refused.response is not None
    silent = new_session()
    assert silent.timed_out() == []
    assert silent.is_terminated


def test_giving_up_cancels_and_a_487_terminates() -> None:
    session = new_session()
    actions = session.give_up()
    assert len(actions) == 1 and isinstance(actions[0], SendCancel)
    assert actions[0].request.top_via.branch == session.invite.top_via.branch
    assert session.state is CallState.TERMINATING
    assert session.give_up() == []  # one CANCEL only
    assert session.final_received(answer(session, 487)) == []
    assert session.is_terminated


def test_a_2xx_after_giving_up_is_acked_then_byed() -> None:
    session = new_session()
    session.give_up()
    actions = session.final_received(answer(session))
    assert [type(a) for a in actions] == [SendAck, SendBye]
    bye = actions[1].request
    assert str(bye.cseq) == "2 BYE" and bye.to.tag == "dev1"
    assert session.state is CallState.TERMINATING
    session.bye_finished()
    assert session.is_terminated
    # A retransmission of that 2xx after everything ended is still ACKed.
    assert session.success_retransmitted(answer(session)) == [actions[0]]


def test_a_2xx_after_the_invite_timed_out_is_acked_and_byed_once() -> None:
    session = new_session()
    session.timed_out()
    first = session.success_retransmitted(answer(session))
    assert [type(a) for a in first] == [SendAck, SendBye]
    assert session.success_retransmitted(answer(session)) == [first[0]]


def test_a_2xx_from_a_second_dialog_is_acked_and_byed() -> None:
    session = new_session()
    session.final_received(answer(session))
    actions = session.success_retransmitted(answer(session, to_tag="dev2"))
    assert [type(a) for a in actions] == [SendAck, SendBye]
    assert all(a.request.to.tag == "dev2" for a in actions)
    assert session.state is CallState.CONFIRMED
    assert session.dialog is not None and session.dialog.id.remote_tag == "dev1"


def test_hang_up_byes_a_confirmed_call_and_cancels_an_unanswered_one() -> None:
    confirmed = new_session()
    confirmed.final_received(answer(confirmed))
    [bye] = confirmed.hang_up()
    assert isinstance(bye, SendBye) and str(bye.request.cseq) == "2 BYE"
    assert confirmed.hang_up() == []
    confirmed.bye_finished()
    assert confirmed.is_terminated and confirmed.hang_up() == []
    unanswered = new_session()
    assert [type(a) for a in unanswered.hang_up()] == [SendCancel]


def test_the_device_bye_ends_a_confirmed_call() -> None:
    session = new_session()
    assert not session.accepts_bye()
    session.final_received(answer(session))
    assert session.accepts_bye()
    assert session.bye_received() is True
    assert session.is_terminated and not session.accepts_bye()


def test_crossing_byes_end_the_call_without_reporting_it() -> None:
    session = new_session()
    session.final_received(answer(session))
    session.hang_up()
    assert session.bye_received() is False
    assert session.is_terminated


def test_in_dialog_requests_need_a_confirmed_dialog_and_advance_cseq() -> None:
    session = new_session()
    with pytest.raises(LocalProtocolError):
        session.next_request("INFO")
    session.final_received(answer(session))
    first = session.next_request("INFO", body=b"x", content_type="Application/MANSRTSP")
    second = session.next_request("INFO", body=b"y", content_type="Application/MANSRTSP")
    assert (first.cseq.number, second.cseq.number) == (2, 3)
    assert session.dialog_lost() is True
    assert session.is_terminated


def test_a_2xx_without_to_tag_ends_the_session() -> None:
    session = new_session()
    response = build_response(session.invite, 200)  # no tag
    with pytest.raises(RemoteProtocolError):
        session.final_received(response)
    assert session.is_terminated


def test_a_session_needs_an_invite_with_its_via() -> None:
    with pytest.raises(LocalProtocolError):
        InviteSession(SipRequest("INVITE", "sip:a@b"))


def test_terminated_is_final_in_the_transition_table() -> None:
    assert not [key for key in CALL_TRANSITIONS if key[0] is CallState.TERMINATED]
    reachable = {target for target in CALL_TRANSITIONS.values()}
    assert reachable == set(CallState) - {CallState.CALLING}


# -- values -------------------------------------------------------------------------------


def offer_and_answer(answer_lines: str) -> EstablishedCall:
    media = MediaEndpoint("10.0.0.6", 30002, Transport.TCP, Setup.PASSIVE)
    offer = build_live_offer(platform_id=PLATFORM.platform_id, media=media, ssrc=Ssrc(200000003))
    body = (
        "v=0\r\no=x 0 0 IN IP4 10.0.0.64\r\ns=Play\r\nc=IN IP4 10.0.0.64\r\nt=0 0\r\n"
        + answer_lines
    )
    return EstablishedCall(
        "d", CHANNEL, DialogId("c", "l", "r"), "s", offer, parse_sdp(body.encode())
    )


def test_established_call_follows_the_answer_ssrc_and_setup() -> None:
    call = offer_and_answer(
        "m=video 15062 TCP/RTP/AVP 96\r\na=sendonly\r\na=setup:active\r\ny=0703001718\r\n"
    )
    assert call.ssrc == Ssrc(703001718) and call.is_ssrc_changed
    assert call.offered_ssrc == Ssrc(200000003)
    assert call.transport is Transport.TCP and call.setup is Setup.ACTIVE
    assert (call.media_host, call.media_port, call.payload_type) == ("10.0.0.64", 15062, 96)
    assert call.call_id == "c"


@pytest.mark.parametrize("y_line", ["", "y=0000000000\r\n", "y=garbage\r\n"])
def test_established_call_keeps_our_ssrc_when_the_answer_has_none(y_line: str) -> None:
    call = offer_and_answer("m=video 15060 RTP/AVP 96\r\n" + y_line)
    assert call.ssrc == Ssrc(200000003) and not call.is_ssrc_changed
    assert call.setup is None and call.transport is Transport.UDP


def test_live_offer_and_subject() -> None:
    media = MediaEndpoint("10.0.0.6", 30000)
    offer = build_live_offer(platform_id=PLATFORM.platform_id, media=media, ssrc=Ssrc(200000001))
    text = offer.serialise().decode()
    assert "s=Play\r\n" in text and "m=video 30000 RTP/AVP 96 97 98\r\n" in text
    assert text.endswith("y=0200000001\r\n") and "a=recvonly" in text
    assert build_subject(CHANNEL, Ssrc(200000001), PLATFORM.platform_id) == (
        f"{CHANNEL}:0200000001,34020000002000000001:0"
    )


def test_keyframe_limiter_allows_one_per_channel_per_interval() -> None:
    limiter = KeyframeLimiter(interval=2.0, max_channels=2)
    assert limiter.allow("d", "c1", now=10.0)
    assert not limiter.allow("d", "c1", now=11.9)
    assert limiter.allow("d", "c2", now=11.9)
    assert limiter.allow("d", "c1", now=12.0)
    # Full table: stale entries are dropped, the bound holds.
    assert limiter.allow("d", "c3", now=20.0)
    assert not limiter.allow("d", "c3", now=21.0)
