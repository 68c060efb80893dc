"""The device's side of playback and download dialogs (gb28181.md §6.8, §6.9, §7, §11.6, §11.7).

Owns what a simulated device decides about a Playback or Download INVITE and the MANSRTSP
INFOs inside its dialog, apart from sockets and timers: whether to take the INVITE (`t=` must
be 0 < start < end, else 400; with the `one_playback_per_channel` quirk a channel already
playing back answers 503), the speed (`a=downloadspeed:N` → N×, playback 1×), the answer's
`a=filesize` (bytes recorded in the range for a download; `-1` in every answer with the
`unknown_file_size` quirk), and the answer to an INFO: `PAUSE` pauses, `PLAY` plays — after
applying its `Scale` (unless the `ignores_scale` quirk acknowledges and ignores it) and then
its `Range: npt=<x>-` seek — `TEARDOWN` stops; 200 with `RTSP/1.0 200 OK`, the request's
CSeq and an `RTP-Info` (`seq` of the next RTP packet, `rtptime` of the next frame) for PLAY.
An unreadable body or an unusable Scale gets 400, a body that is not MANSRTSP 415, an INFO in
a live call 400; with the `refuses_control` quirk every INFO gets 400. `PlaybackInfo` is the
snapshot tests read. Pure: `now` is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from farmwatch.simulator.record_index import RecordFile
from farmwatch.simulator.record_player import MAX_SCALE, MIN_SCALE, PlayerState, RecordPlayer
from farmwatch.simulator.record_settings import PlaybackQuirks
from farmwatch.sipserver.gb.mansrtsp import (
    MansrtspError,
    MansrtspMethod,
    MansrtspRequest,
    build_mansrtsp_response,
    parse_mansrtsp_request,
)
from farmwatch.sipserver.sip.message import SipRequest, SipResponse, build_response
from farmwatch.sipserver.sip.sdp import Attribute, SessionDescription, SessionName

__all__ = [
    "MANSRTSP_CONTENT_TYPE",
    "PlaybackInfo",
    "answer_control",
    "file_size_attribute",
    "playback_refusal",
    "playback_speed",
]

MANSRTSP_CONTENT_TYPE = "Application/MANSRTSP"
UNKNOWN_FILE_SIZE = -1


@dataclass(frozen=True, slots=True)
class PlaybackInfo:
    """A snapshot of one playback or download session, for tests and logs."""

    state: PlayerState
    scale: float
    recorded_ms: int | None
    """Recorded time (Unix ms) of the last frame sent; None before the first."""
    position_ms: int | None
    """Recorded time of the next frame to send; None at the end."""
    frames_sent: int
    start: int
    end: int
    """The `t=` range, Unix seconds."""
    download_speed: int | None
    media_status_sent: int
    """MediaStatus 121 MESSAGEs sent in the dialog (and answered)."""

    @property
    def is_paused(self) -> bool:
        return self.state is PlayerState.PAUSED

    @classmethod
    def of(
        cls,
        player: RecordPlayer,
        start: int,
        end: int,
        download_speed: int | None,
        media_status_sent: int,
    ) -> PlaybackInfo:
        return cls(player.state, player.scale, player.last_recorded_ms, player.position_ms,
                   player.frames_sent, start, end, download_speed,
                   media_status_sent)  # fmt: skip


def playback_refusal(
    offer: SessionDescription, *, channel_is_playing_back: bool, quirks: PlaybackQuirks
) -> tuple[int, str] | None:
    """Status and reason to refuse a Playback/Download INVITE with, or None to take it."""
    if not 0 < offer.start_time < offer.stop_time:
        return 400, "Bad t= range"
    if quirks.one_playback_per_channel and channel_is_playing_back:
        return 503, "Channel Busy"
    return None


def playback_speed(offer: SessionDescription) -> int | None:
    """The download speed asked for (None for a playback, which starts at 1×)."""
    if offer.session_kind is not SessionName.DOWNLOAD:
        return None
    speed = offer.download_speed
    return 1 if speed is None or speed < 1 else min(speed, int(MAX_SCALE))


def file_size_attribute(
    offer: SessionDescription,
    files: Sequence[RecordFile],
    *,
    bytes_per_second: int,
    quirks: PlaybackQuirks,
) -> Attribute | None:
    """The answer's `a=filesize`: a download's recorded bytes in its range; -1 (quirk)."""
    if quirks.unknown_file_size:
        return Attribute("filesize", str(UNKNOWN_FILE_SIZE))
    if offer.session_kind is not SessionName.DOWNLOAD:
        return None
    start, end = offer.start_time, offer.stop_time
    seconds = sum(max(0, min(f.end, end) - max(f.start, start)) for f in files)
    return Attribute("filesize", str(seconds * bytes_per_second))


def answer_control(
    request: SipRequest,
    player: RecordPlayer | None,
    quirks: PlaybackQuirks,
    *,
    now: float,
    next_sequence: int,
) -> SipResponse:
    """Apply an INFO's MANSRTSP request to `player` (None: a live call) and answer it."""
    if player is None:
        return build_response(request, 400, "Not A Playback Dialog")
    if quirks.refuses_control:
        return build_response(request, 400)
    if request.content_type != MANSRTSP_CONTENT_TYPE.lower():
        return build_response(request, 415, extra=(("Accept", MANSRTSP_CONTENT_TYPE),))
    try:
        control = parse_mansrtsp_request(request.body)
    except MansrtspError as error:
        return build_response(request, 400, _reason(str(error)))
    if control.scale is not None and not _is_usable_scale(control.scale):
        return build_response(request, 400, "Unsupported Scale")
    _apply(control, player, quirks, now)
    rtp_info = None
    if control.method is MansrtspMethod.PLAY and player.next_pts is not None:
        rtp_info = f"seq={next_sequence};rtptime={player.next_pts & 0xFFFFFFFF}"
    body = build_mansrtsp_response(control.cseq, rtp_info=rtp_info)
    return build_response(request, 200, body=body, content_type=MANSRTSP_CONTENT_TYPE)


def _apply(
    control: MansrtspRequest, player: RecordPlayer, quirks: PlaybackQuirks, now: float
) -> None:
    match control.method:
        case MansrtspMethod.PAUSE:
            player.pause(now)
        case MansrtspMethod.TEARDOWN:
            player.stop()
        case MansrtspMethod.PLAY:
            if control.scale is not None and not quirks.ignores_scale:
                player.set_scale(control.scale, now)
            if control.range_start is not None:
                player.seek(control.range_start, now)
            player.resume(now)


def _is_usable_scale(scale: float) -> bool:
    return MIN_SCALE <= abs(scale) <= MAX_SCALE


def _reason(text: str) -> str:
    printable = "".join(c if c.isprintable() else "?" for c in text)[:80]
    return f"Bad Request ({printable})"
