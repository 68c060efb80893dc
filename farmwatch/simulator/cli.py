"""`farmwatch simulate`: run simulated cameras/NVRs against a platform (DESIGN.md, ref. §3-§5).

    farmwatch simulate --server 127.0.0.1:5060 --server-id 34020000002000000001 \\
        --devices 10 --channels 4 --transport udp --password 12345678 \\
        --codec h264 --width 640 --height 360 --fps 25 --bitrate 1000

Invited channels stream a generated test picture as RTP/PS (UDP or TCP, as offered);
`--loss`, `--reorder` and `--restart-timestamps` make them misbehave; `--picture` makes every
channel show a picture fault (black, frozen, blurred, covered, overexposed, tinted).

Each channel has recorded the last `--record-days` days as `--record-file-minutes` files
(local time in `--record-time-zone`, a few gaps); RecordInfo, Playback and Download are
answered from them. `--ignore-scale`, `--refuse-info`, `--no-media-status`,
`--one-playback` and `--unknown-filesize` switch on the playback misbehaviour seen in the field.

Runs until Ctrl-C / SIGTERM (or `--duration` seconds), logging each device's state
changes, then unregisters every device. `main(argv)` is what `farmwatch.cli` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

import uvloop

from farmwatch.log_config import configure_logging
from farmwatch.simulator.broadcast_receiver import (
    BroadcastMode,
    BroadcastSettings,
    BroadcastTransport,
)
from farmwatch.simulator.fleet import FleetSettings, SimulatorFleet
from farmwatch.simulator.record_settings import DEFAULT_TIME_ZONE, PlaybackQuirks, RecordSettings
from farmwatch.simulator.session import SessionTimers
from farmwatch.simulator.stream_settings import StreamSettings
from farmwatch.simulator.talk_responder import TalkSettings
from farmwatch.simulator.test_pattern import PictureMode, VideoCodec
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.sdp import StreamStyle

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `farmwatch simulate` (also used by `farmwatch.cli`)."""
    add = parser.add_argument
    add("--server", required=True, type=_host_port, help="platform HOST:PORT")
    add("--server-id", required=True, type=_gb_id, help="platform SIP ID (20 digits)")
    add("--domain", default=None, help="SIP domain (default: first 10 digits of --server-id)")
    add("--password", default="12345678", help="registration password (default 12345678)")
    add("--devices", type=_positive_int, default=1, help="number of devices (default 1)")
    add("--channels", type=_positive_int, default=4,
        help="channels per device; 1 makes IPCs, more make NVRs (default 4)")  # fmt: skip
    add("--transport", choices=("udp", "tcp"), default="udp", help="signalling transport")
    add("--keepalive", type=_positive_float, default=60.0, help="keepalive interval, s")
    add("--expires", type=_positive_int, default=3600, help="registration expiry asked, s")
    add("--items-per-message", type=_positive_int, default=20,
        help="catalog items per response MESSAGE (default 20)")  # fmt: skip
    add("--device-id-base", type=int, default=1, help="serial of the first device (default 1)")
    add("--bind", default="0.0.0.0", help="local address the devices bind (default 0.0.0.0)")
    add("--ramp", type=float, default=0.0, help="spread first registrations over N seconds")
    add("--codec", choices=("h264", "h265"), default="h264", help="video codec (default h264)")
    add("--bitrate", type=_positive_int, default=1000, help="video kbit/s (default 1000)")
    add("--width", type=_positive_int, default=640, help="picture width (default 640)")
    add("--height", type=_positive_int, default=360, help="picture height (default 360)")
    add("--fps", type=_positive_int, default=25, help="frames per second (default 25)")
    add("--sub-width", type=_positive_int, default=320, help="sub-stream width (default 320)")
    add("--sub-height", type=_positive_int, default=180,
        help="sub-stream height (default 180)")  # fmt: skip
    add("--stream-style", choices=[style.value for style in StreamStyle], default=None,
        help="understand only this way of asking for a sub stream (streamprofile: a Dahua "
             "NVR); default: any")  # fmt: skip
    add("--picture", choices=[mode.value for mode in PictureMode], default="normal",
        help="what every channel shows: the test pattern (normal) or a picture fault for "
             "the video quality diagnosis (default normal)")  # fmt: skip
    add("--gb2016", action="store_true",
        help="behave as a GB/T 28181-2016 device: no X-GB-Ver header")  # fmt: skip
    add("--loss", type=float, default=0.0, help="fraction of RTP packets dropped (default 0)")
    add("--reorder", type=float, default=0.0,
        help="fraction of RTP packets swapped with the next (default 0)")  # fmt: skip
    add("--restart-timestamps", type=_positive_float, default=None, metavar="SECONDS",
        help="restart the timestamps at 0 every N s, as a device looping a file")  # fmt: skip
    add("--record-days", type=_positive_int, default=7,
        help="days of recordings each channel keeps (default 7)")  # fmt: skip
    add("--record-file-minutes", type=_positive_int, default=60,
        help="length of a record file, minutes (default 60)")  # fmt: skip
    add("--record-time-zone", default=DEFAULT_TIME_ZONE,
        help=f"the devices' local time zone (default {DEFAULT_TIME_ZONE})")  # fmt: skip
    add("--record-items-per-message", type=_positive_int, default=10,
        help="RecordInfo items per response MESSAGE (default 10)")  # fmt: skip
    add("--ignore-scale", action="store_true",
        help="quirk: answer Scale INFOs 200 but keep the speed")  # fmt: skip
    add("--refuse-info", action="store_true", help="quirk: answer every MANSRTSP INFO 400")
    add("--no-media-status", action="store_true",
        help="quirk: never send MediaStatus 121 at the end of a playback")  # fmt: skip
    add("--one-playback", action="store_true",
        help="quirk: one playback/download per channel, 503 to the next")  # fmt: skip
    add("--unknown-filesize", action="store_true", help="quirk: answer a=filesize:-1")
    add(
        "--broadcast-format",
        choices=("pcma", "ps"),
        default="pcma",
        help="voice broadcast: ask for raw PCMA or PS in the audio INVITE (default pcma)",
    )
    add(
        "--broadcast-transport",
        choices=("udp", "tcp-active", "tcp-passive"),
        default="udp",
        help="voice broadcast audio over UDP, or TCP connecting (active) or listening",
    )
    add("--refuse-talk", type=int, choices=(415, 488, 501), default=None, metavar="STATUS",
        help="two-way talk: a camera without s=Talk, answering STATUS")  # fmt: skip
    add("--talk-tone", type=float, default=800.0, metavar="HZ",
        help="two-way talk: the pitch the camera says back (default 800; 0 silent)")  # fmt: skip
    add("--duration", type=_positive_float, default=None, help="stop after N seconds")
    add("--log-level", default="INFO", help="logging level (default INFO)")


def fleet_settings(args: argparse.Namespace) -> FleetSettings:
    host, port = args.server
    return FleetSettings(
        server=Address(host, port, Transport(args.transport.upper())),
        server_id=args.server_id,
        domain=args.domain,
        password=args.password,
        devices=args.devices,
        channels=args.channels,
        first_serial=args.device_id_base,
        items_per_message=args.items_per_message,
        timers=SessionTimers(expires=args.expires, keepalive_interval=args.keepalive),
        host=args.bind,
        ramp=args.ramp,
        gb_version=None if args.gb2016 else "3.0",
        media=StreamSettings(
            codec=VideoCodec(args.codec), bitrate=args.bitrate * 1000, width=args.width,
            height=args.height, fps=args.fps, loss=args.loss, reorder=args.reorder,
            sub_width=args.sub_width, sub_height=args.sub_height,
            stream_style=None if args.stream_style is None else StreamStyle(args.stream_style),
            restart_timestamps=args.restart_timestamps, picture=PictureMode(args.picture),
        ),
        records=RecordSettings(
            days=args.record_days, file_minutes=args.record_file_minutes,
            time_zone=args.record_time_zone, items_per_message=args.record_items_per_message,
            quirks=PlaybackQuirks(
                ignores_scale=args.ignore_scale, refuses_control=args.refuse_info,
                omits_media_status=args.no_media_status,
                one_playback_per_channel=args.one_playback,
                unknown_file_size=args.unknown_filesize,
            ),
        ),
        broadcast=BroadcastSettings(
            mode=BroadcastMode(args.broadcast_format),
            transport=BroadcastTransport(args.broadcast_transport),
        ),
        talk=TalkSettings(
            supported=args.refuse_talk is None, refusal=args.refuse_talk or 488,
            tone=max(0.0, args.talk_tone),
        ),
    )  # fmt: skip


async def run_simulator(args: argparse.Namespace) -> int:
    """Run the fleet until a signal or `--duration`; 0 on a clean stop, 1 if it cannot start."""
    try:
        fleet = SimulatorFleet(fleet_settings(args))  # ValueError: bad IDs or media options
    except ValueError as error:
        print(f"farmwatch simulate: {error}", file=sys.stderr)
        return 2
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):  # before any REGISTER leaves
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stopping.set)
    try:
        await fleet.start()
    except OSError as error:
        print(f"farmwatch simulate: cannot start: {error}", file=sys.stderr)
        return 1
    try:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                await stopping.wait()
    finally:
        log.info("simulator stopping: %d of %d devices registered", fleet.registered_count,
                 len(fleet.devices))  # fmt: skip
        await fleet.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="farmwatch simulate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run(args)


def run(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, json_output=False, wire=False)
    return uvloop.run(run_simulator(args))


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _gb_id(text: str) -> str:
    if len(text) != 20 or not text.isascii() or not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a 20-digit ID, got {text!r}")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value
