"""RtpIngest SSRC/source policy and timers, in virtual time (no sockets)."""

from __future__ import annotations

from dataclasses import replace

from farmwatch.media.events import MediaStarted, MediaStartTimedOut, VideoInterrupted
from farmwatch.media.frames import Codec, EsFrame
from farmwatch.media.ingest import RtpIngest
from farmwatch.media.nal import is_keyframe
from farmwatch.media.ps_mux import PsMuxer, PsMuxerConfig
from farmwatch.media.rtp import RtpPacket
from farmwatch.media.rtp_packetizer import RtpPacketizer
from farmwatch.media.settings import MediaSettings
from tests.unit.media.ps_samples import encoded_access_units

CAMERA = ("10.0.0.2", 15060)
OTHER = ("10.0.0.3", 15060)
SETTINGS = MediaSettings(foreign_ssrc_grace=1.0, start_timeout=10.0)


def rtp(ssrc: int, sequence: int) -> bytes:
    return RtpPacket(96, sequence, 0, ssrc, payload=b"\x00" * 20).serialize()


def test_expected_ssrc_locks_at_once_and_others_are_dropped() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    ingest.receive(rtp(7, 1), CAMERA, 0.1)
    ingest.receive(rtp(8, 1), CAMERA, 0.2)
    ingest.receive(rtp(7, 2), OTHER, 0.3)
    stats = ingest.stats
    assert (stats.locked_ssrc, stats.source, stats.packets) == (7, CAMERA, 1)
    assert stats.rejected_ssrc == 1 and stats.rejected_source == 1


STRANGER = ("10.9.9.9", 15060)


def test_media_is_taken_only_from_the_devices_hosts() -> None:
    """Before: the expected SSRC (a guessable number) from anywhere locked the stream."""
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, allowed_hosts=[CAMERA[0]])
    ingest.receive(rtp(7, 1), STRANGER, 0.1)
    assert ingest.locked_ssrc is None
    ingest.receive(rtp(7, 2), CAMERA, 0.2)
    ingest.receive(rtp(7, 3), STRANGER, 0.3)
    stats = ingest.stats
    assert (stats.locked_ssrc, stats.source, stats.packets) == (7, CAMERA, 1)
    assert stats.rejected_source == 2


def test_the_answers_address_can_be_added_and_is_compared_as_an_ip_address() -> None:
    media_server = ("10.0.0.5", 6000)  # a cascaded platform's media server (§6.6 `c=`)
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, allowed_hosts=[CAMERA[0]])
    ingest.receive(rtp(7, 1), media_server, 0.1)
    assert ingest.locked_ssrc is None
    assert ingest.allow_host("10.0.0.5")
    assert not ingest.allow_host("camera.example") and not ingest.allow_host("0.0.0.0")
    ingest.receive(rtp(7, 2), ("::ffff:10.0.0.5", 6000), 0.2)  # a dual-stack socket's view
    assert ingest.locked_ssrc == 7


def test_a_foreign_ssrc_is_adopted_only_from_a_devices_host() -> None:
    """Before: a stranger's SSRC, alone for a second, became the farm's picture."""
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, allowed_hosts=[CAMERA[0]])
    for second in range(5):
        ingest.receive(rtp(9, second), STRANGER, float(second))
    assert ingest.locked_ssrc is None
    ingest.receive(rtp(11, 1), CAMERA, 5.0)  # a camera ignoring `y=` (§6.3)
    ingest.receive(rtp(11, 2), CAMERA, 6.0)
    assert ingest.locked_ssrc == 11  # the stranger was no second candidate either


def test_accepting_any_source_still_adopts_only_from_a_devices_host() -> None:
    settings = replace(SETTINGS, accept_any_source=True)
    ingest = RtpIngest(settings, expected_ssrc=7, now=0.0, allowed_hosts=[CAMERA[0]])
    for second in range(5):
        ingest.receive(rtp(9, second), STRANGER, float(second))
    assert ingest.locked_ssrc is None
    ingest.receive(rtp(7, 1), STRANGER, 5.0)  # the expected SSRC from anywhere: taken
    assert ingest.stats.source == STRANGER


def test_a_lone_foreign_ssrc_is_adopted_only_after_the_grace() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    ingest.receive(rtp(9, 1), CAMERA, 0.0)
    ingest.receive(rtp(9, 2), CAMERA, 0.9)
    assert ingest.locked_ssrc is None and ingest.stats.packets == 0
    ingest.receive(rtp(9, 3), CAMERA, 1.0)
    assert ingest.locked_ssrc == 9


def test_two_foreign_senders_are_never_adopted() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    for second in range(5):
        ingest.receive(rtp(9, second), CAMERA, float(second))
        ingest.receive(rtp(10, second), OTHER, float(second))
    assert ingest.locked_ssrc is None and ingest.stats.rejected_ssrc == 10


def test_the_expected_ssrc_takes_over_from_an_adopted_one() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    ingest.receive(rtp(9, 1), OTHER, 0.0)
    ingest.receive(rtp(9, 2), OTHER, 1.5)
    assert ingest.locked_ssrc == 9
    ingest.receive(rtp(7, 1), CAMERA, 2.0)
    ingest.receive(rtp(9, 3), OTHER, 2.1)
    assert (ingest.locked_ssrc, ingest.stats.source) == (7, CAMERA)
    assert ingest.stats.rejected_ssrc >= 2


def test_expect_ssrc_follows_the_answer() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    ingest.expect_ssrc(703001718)
    ingest.receive(rtp(703001718, 1), CAMERA, 0.1)
    assert ingest.locked_ssrc == 703001718


def test_shared_port_mode_never_adopts() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, accept_foreign_ssrc=False)
    ingest.receive(rtp(9, 1), CAMERA, 0.0)
    ingest.receive(rtp(9, 2), CAMERA, 5.0)
    assert ingest.locked_ssrc is None


def test_start_timeout_reports_rejected_packets() -> None:
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, accept_foreign_ssrc=False)
    ingest.receive(rtp(9, 1), CAMERA, 1.0)
    assert ingest.next_deadline() == 10.0
    assert ingest.tick(9.9) == []
    assert ingest.tick(10.0) == [MediaStartTimedOut(10.0, 0, 1)]
    assert ingest.next_deadline() is None


def _ps_rtp_packets(ssrc: int) -> list[bytes]:
    """The sample H.264 clip as GB/T 28181 PS over RTP: every frame, in order."""
    units = encoded_access_units("libx264")
    muxer = PsMuxer(PsMuxerConfig())  # H.264
    packetizer = RtpPacketizer(ssrc)
    packets: list[bytes] = []
    for index, unit in enumerate(units):
        pts = index * 3600
        ps = muxer.mux_video(unit, pts, is_keyframe=is_keyframe(Codec.H264, unit))
        packets += packetizer.packetize(ps.data, pts)
    return packets


def test_loss_after_the_start_is_reported_so_a_keyframe_can_be_asked_for() -> None:
    packets = _ps_rtp_packets(ssrc=7)
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, ordered=True)
    outputs: list[object] = []
    for packet in packets[:-3]:
        outputs += ingest.receive(packet, None, 0.1)
    assert any(isinstance(o, MediaStarted) for o in outputs)
    assert not any(isinstance(o, VideoInterrupted) for o in outputs)
    after = ingest.receive(packets[-1], None, 0.2)  # two packets never came
    assert VideoInterrupted(packets_lost=2) in after


def test_a_frame_hit_by_loss_goes_on_damaged_and_the_next_frames_follow() -> None:
    units = encoded_access_units("libx264")
    muxer, packetizer = PsMuxer(PsMuxerConfig()), RtpPacketizer(7)
    frames = [
        packetizer.packetize(muxer.mux_video(u, i * 3600, is_keyframe=i % 10 == 0).data, i * 3600)
        for i, u in enumerate(units)
    ]
    assert len(frames[3]) > 2
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, ordered=True)
    outputs: list[object] = []
    for number, packets in enumerate(frames):
        for index, packet in enumerate(packets):
            if (number, index) != (3, 1):  # frame 3 loses its second packet
                outputs += ingest.receive(packet, None, 0.1)
    delivered = [o for o in outputs if isinstance(o, EsFrame)]
    # Before: frames 3-9 were dropped until the next keyframe.
    assert [f.pts // 3600 for f in delivered] == list(range(len(units)))
    assert [f.is_damaged for f in delivered] == [n == 3 for n in range(len(units))]
    assert VideoInterrupted(packets_lost=1) in outputs


def test_loss_before_the_start_is_not_an_interruption() -> None:
    packets = _ps_rtp_packets(ssrc=7)
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0, ordered=True)
    outputs = ingest.receive(packets[0], None, 0.1) + ingest.receive(packets[2], None, 0.1)
    assert not any(isinstance(o, VideoInterrupted) for o in outputs)


def test_timer_ticks_between_in_order_packets_lose_nothing() -> None:
    """The fast path takes in-order packets past the reorder buffer: a tick meanwhile
    must not put the buffer's stale position back (it counted everything as lost)."""
    packets = _ps_rtp_packets(ssrc=7)
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    for index, packet in enumerate(packets):
        ingest.receive(packet, ("192.0.2.1", 5000), index * 0.01)
        ingest.tick(index * 0.01 + 0.005)
    stats = ingest.stats
    assert stats.packets == len(packets)
    assert (stats.lost, stats.late, stats.duplicates) == (0, 0, 0)


def test_a_packet_out_of_order_after_the_fast_path_is_put_back_in_order() -> None:
    packets = _ps_rtp_packets(ssrc=7)
    swapped = [*packets[:5], packets[6], packets[5], *packets[7:]]
    ingest = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    frames = [
        output
        for index, packet in enumerate(swapped)
        for output in ingest.receive(packet, ("192.0.2.1", 5000), index * 0.001)
        if isinstance(output, EsFrame)
    ]
    in_order = RtpIngest(SETTINGS, expected_ssrc=7, now=0.0)
    expected = [
        output
        for index, packet in enumerate(packets)
        for output in in_order.receive(packet, ("192.0.2.1", 5000), index * 0.001)
        if isinstance(output, EsFrame)
    ]
    assert [frame.data for frame in frames] == [frame.data for frame in expected]
    assert ingest.stats.lost == 0
