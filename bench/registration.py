"""Registration benchmark: digest registrations/s, their CPU cost, holding devices, restart.

    PYTHONPATH=. .venv/bin/python bench/registration.py [--runs 3]
        [--rates 1000,2000,3000,5000,6000] [--default-rates 500,1000,2000]
        [--tcp-rates 3000,5000] [--devices 10000]

Every step registers fresh devices (sipp, one socket, REGISTER -> 401 -> REGISTER with MD5
digest -> 200 -> Keepalive MESSAGE -> 200) against a `farmwatch serve` with its shipped
logging (INFO). Each line says what sipp saw (calls succeeded and failed, the rate achieved,
the requests it had to retransmit) and what the kernel saw (datagrams dropped at the
platform's SIP socket, and host-wide), with the CPU of the platform's process tree in % of
one core and per successful registration. A device answered 503 (the overload gate) counts
as failed; sipp's default BYE for a call it aborts is off, as no camera sends one after a
refused REGISTER (with it, every 503 brought a BYE that cost as much as the REGISTER).

1. Clean registration (`--rates`, `--tcp-rates`), with `[registrar] catalog_on_register =
   false` as the outside harness of issue 14 ran it, in two message shapes:
   `farmwatch` (tests/data/sipp/register_keepalive_uac.xml: Request-URI sip:ID@domain, a
   separate Call-ID... as the project's tests send) and `camera` (bench/sipp/
   register_keepalive_camera_uac.xml: Request-URI sip:ID@IP:PORT, User-Agent, the keepalive
   on the registration's Call-ID with CSeq 20, as many cameras send).
2. Default settings (`--default-rates`): DeviceInfo, Catalog and a catalog SUBSCRIBE sent on
   every registration, and the sipp devices answering them as cameras do
   (bench/sipp/device_answers_ooc.xml: 200, then the Response MESSAGE with one channel) —
   a farm region coming back after a power or network cut.
3. `--devices` devices registered, then keepalives at devices/60 per second (each device
   every 60 s) for `--hold` seconds: platform CPU and RSS; then a restart on the same data
   and port: seconds until it answers, and until every device's keepalive is accepted.

`--fronts N` runs the platform with N SIP fronts (`[sip] fronts`); `--device-sockets` gives
each sipp device a socket (a source port) of its own (`sipp -t un`), as real devices have:
without it every device comes from sipp's one socket, which the kernel keeps on one socket
of the platform's port, so only one front would see them. The default-query step keeps one
sipp socket (sipp answers requests out of calls only there). The CPU is that of the
platform's whole process tree, fronts included.

`--runs` repeats 1 and 2 on a fresh platform and prints the median and the spread.
Loopback only; sipp runs are bounded by call counts and timeouts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from bench.measure import (
    host_udp_drops,
    socket_drops,
    spread,
    tree_cpu_seconds,
    tree_rss_mb,
)
from tests.peers.raw_sip import udp_options
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.sipp import SCENARIOS, run_sipp, write_devices

PLATFORM = "34020000002000000001"
BENCH_SCENARIOS = Path(__file__).with_name("sipp")
ANSWER_SECONDS = 15.0
DEVICE_PORT = 25060  # the held devices' one address, for their registration and keepalives
CATALOG_OFF = {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"}
SHAPES = {
    "farmwatch": (SCENARIOS, "register_keepalive_uac.xml"),
    "camera": (BENCH_SCENARIOS, "register_keepalive_camera_uac.xml"),
}
TARGETS = (
    "targets: >= 5,000/s clean for both shapes at <= 250 us each; >= 2,000/s with the default "
    "on-registration queries; >= 90 % of capacity's goodput when offered 2x capacity. "
    "Kamailio in issue 14's runs: 4,930/s at 5,000/s offered, 140-190 us per registration"
)


@dataclass(frozen=True)
class Step:
    label: str
    offered: int
    successful: int
    failed: int
    achieved: float
    retransmissions: int
    socket_drops: int
    host_drops: int
    cpu_seconds: float
    """Platform CPU spent from the step's start until its last answers were in."""
    sipp_seconds: float
    wall_seconds: float
    """The whole sipp run, the devices' answering time included: what `cpu_seconds` spans."""
    catalogs: int | None = None
    """Devices of the step with their channel stored (default-settings steps only)."""

    @property
    def cpu_percent(self) -> float:
        return self.cpu_seconds / max(self.wall_seconds, 1e-3) * 100

    @property
    def cpu_per_registration_us(self) -> float:
        return self.cpu_seconds / max(self.successful, 1) * 1e6

    @property
    def is_clean(self) -> bool:
        return self.failed == 0 and self.retransmissions == 0 and self.socket_drops == 0


def measure_step(
    server: RunningServer, workdir: Path, label: str, shape: str, rate: int, seconds: float,
    first: int, *, transport: str = "u1", answer_queries: bool = False,
) -> Step:  # fmt: skip
    scenarios, scenario = SHAPES[shape]
    count = int(rate * seconds)
    devices = write_devices(workdir / f"devices-{first}.csv", count, PLATFORM, first=first)
    # A camera answered 503 tries again later; sipp would send a BYE for every call it
    # aborts, a request no device sends after a refused REGISTER.
    extra: tuple[str, ...] = ("-inf", str(devices), "-default_behaviors", "all,-bye")
    if transport == "un":
        extra += ("-max_socket", "15000")  # below the descriptor limit sipp checks
    limit = None
    if answer_queries:
        # Each device stays ANSWER_SECONDS after its keepalive to answer the platform.
        extra += ("-oocsf", str(BENCH_SCENARIOS / "device_answers_ooc.xml"),
                  "-d", str(int(ANSWER_SECONDS * 1000)))  # fmt: skip
        limit = int(rate * (ANSWER_SECONDS + 2))
    pid = server.process.pid
    cpu_before, sock_before, host_before = (
        tree_cpu_seconds(pid),
        socket_drops([server.sip_port]),
        host_udp_drops(),
    )
    result = run_sipp(
        server.sip_port, scenario, workdir, calls=count, rate=rate, extra=extra,
        transport=transport, scenarios=scenarios, limit=limit,
    )  # fmt: skip
    # Taken before the API listing below, whose cost is not the registrations'.
    cpu_seconds = tree_cpu_seconds(pid) - cpu_before
    # A device stays ANSWER_SECONDS after its last message: not part of the rate.
    sending_seconds = result.seconds - (ANSWER_SECONDS if answer_queries else 0)
    catalogs = None
    if answer_queries:
        catalogs = devices_with_channels(server, first, count)
    step = Step(
        label=label,
        offered=rate,
        successful=result.successful,
        failed=result.failed,
        achieved=result.successful / max(sending_seconds, 1e-3),
        retransmissions=result.retransmissions,
        socket_drops=socket_drops([server.sip_port]) - sock_before,
        host_drops=host_udp_drops() - host_before,
        cpu_seconds=cpu_seconds,
        sipp_seconds=sending_seconds,
        wall_seconds=result.seconds,
        catalogs=catalogs,
    )
    print(f"   {label:<22} offered {rate:>5}/s: ok {step.successful:>6} failed {step.failed:>5} "
          f"achieved {step.achieved:>6,.0f}/s, retransmitted {step.retransmissions:>6}, kernel "
          f"drops {step.socket_drops} at the platform ({step.host_drops} host-wide), platform "
          f"CPU {step.cpu_percent:5.1f}% = {step.cpu_per_registration_us:.0f} us per "
          f"registration", flush=True)  # fmt: skip
    if catalogs is not None:
        print(f"   {'':<22} catalogs stored for {catalogs} of the {count} devices", flush=True)
    return step


def devices_with_channels(server: RunningServer, first: int, count: int) -> int:
    """How many of the step's devices (IDs `first`...) have their one channel stored."""
    wanted = {f"34020000001320{first + index:06d}" for index in range(count)}
    found, offset = 0, 0
    while True:
        status, body = server.api(f"/devices?offset={offset}&limit=1000")
        if status != 200 or not body["devices"]:
            return found
        found += sum(
            1
            for d in body["devices"]
            if d["device_id"] in wanted and (d["channel_count"] or 0) >= 1
        )
        offset += len(body["devices"])


def one_run(workdir: Path, args: argparse.Namespace, first: int) -> tuple[list[Step], int]:
    steps: list[Step] = []
    seconds = args.seconds
    fronts = {"FARMWATCH_SIP_FRONTS": str(args.fronts)}
    # `un`: a socket (a source port) per device, as real devices are; `u1`: all devices on
    # one sipp socket, which the kernel keeps on one socket of the platform's group.
    udp = "un" if args.device_sockets else "u1"
    server = start_server(workdir / "clean", {**CATALOG_OFF, **fronts})
    try:
        for shape in SHAPES:
            for rate in _rates(args.rates):
                steps.append(measure_step(
                    server, workdir, f"UDP {shape}", shape, rate, seconds, first, transport=udp
                ))  # fmt: skip
                first += int(rate * seconds)
        for rate in _rates(args.tcp_rates):
            steps.append(measure_step(
                server, workdir, "TCP camera", "camera", rate, seconds, first, transport="t1"
            ))  # fmt: skip
            first += int(rate * seconds)
    finally:
        stop_server(server)
    if _rates(args.default_rates):
        server = start_server(workdir / "default", fronts)
        try:
            for rate in _rates(args.default_rates):
                steps.append(measure_step(
                    server, workdir, "UDP camera, queries", "camera", rate, seconds, first,
                    answer_queries=True,
                ))  # fmt: skip
                first += int(rate * seconds)
        finally:
            stop_server(server)
    return steps, first


def _rates(text: str) -> list[int]:
    return [int(rate) for rate in text.split(",") if rate]


def summarize(runs: list[list[Step]]) -> None:
    print(f"\nsummary over {len(runs)} run(s): median (min-max)")
    grouped: dict[tuple[str, int], list[Step]] = defaultdict(list)
    for run in runs:
        for step in run:
            grouped[(step.label, step.offered)].append(step)
    for (label, offered), steps in grouped.items():
        clean = sum(1 for step in steps if step.is_clean)
        print(f"   {label:<22} offered {offered:>5}/s: achieved "
              f"{spread([s.achieved for s in steps])}/s, "
              f"{spread([s.cpu_per_registration_us for s in steps])} us CPU per registration, "
              f"retransmitted {spread([float(s.retransmissions) for s in steps])}, "
              f"clean in {clean} of {len(steps)}")  # fmt: skip
    print(f"   {TARGETS}")


def hold(server: RunningServer, workdir: Path, devices: int, seconds: float, first: int) -> Path:
    registered = write_devices(workdir / "held.csv", devices, PLATFORM, first=first)
    # The devices keep their address: keepalives from another one are refused (403).
    result = run_sipp(
        server.sip_port, "register_keepalive_uac.xml", workdir,
        calls=devices, rate=1000, extra=("-inf", str(registered)), local_port=DEVICE_PORT,
    )  # fmt: skip
    print(f"   registered {result.successful} devices for the hold test ({result.failed} failed)")
    # Let the registration burst's transactions run out (timer J, 32 s) before measuring
    # what holding the devices costs.
    time.sleep(35)
    rate = max(1, round(devices / 60))
    before, start = tree_cpu_seconds(server.process.pid), time.monotonic()
    run_sipp(
        server.sip_port, "keepalive_uac.xml", workdir,
        calls=int(rate * seconds), rate=rate, extra=("-inf", str(registered)),
        timeout=seconds * 3 + 60, local_port=DEVICE_PORT,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    cpu = (tree_cpu_seconds(server.process.pid) - before) / elapsed
    print(
        f"   holding {devices} devices, keepalive every 60 s ({rate}/s) for {elapsed:.0f} s: "
        f"platform CPU {cpu * 100:.1f}% of one core, RSS {tree_rss_mb(server.process.pid):.0f} MB"
    )
    return registered


def restart(server: RunningServer, workdir: Path, devices: Path, count: int) -> None:
    stop_server(server)
    start = time.monotonic()
    again = start_server(workdir, CATALOG_OFF, sip_port=server.sip_port)
    try:
        answering = time.monotonic() - start
        result = run_sipp(
            again.sip_port, "keepalive_uac.xml", workdir,
            calls=count, rate=2000, extra=("-inf", str(devices)), local_port=DEVICE_PORT,
        )  # fmt: skip
        back = time.monotonic() - start
        assert udp_options(again.sip_port) == 200
        print(
            f"   restart: answering after {answering:.1f} s; {result.successful} of {count} "
            f"devices' keepalives accepted again {back:.1f} s after the restart "
            f"({result.failed} refused)"
        )
    finally:
        stop_server(again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rates", default="1000,2000,3000,5000,6000")
    parser.add_argument("--tcp-rates", default="3000,5000")
    parser.add_argument("--default-rates", default="500,1000,2000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=60.0)
    parser.add_argument("--fronts", type=int, default=0, help="[sip] fronts of the platform")
    parser.add_argument(
        "--device-sockets", action="store_true",
        help="each sipp device on a socket of its own (sipp -t un), as real devices are",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        runs, first = [], 1
        for index in range(args.runs):
            print(f"run {index + 1}", flush=True)
            run_dir = workdir / f"run{index}"
            (run_dir / "clean").mkdir(parents=True)
            (run_dir / "default").mkdir()
            steps, first = one_run(run_dir, args, first)
            runs.append(steps)
        summarize(runs)
        if args.devices:
            print("\nholding devices and restarting", flush=True)
            (workdir / "hold").mkdir()
            server = start_server(workdir / "hold", CATALOG_OFF)
            try:
                devices = hold(server, workdir, args.devices, args.hold, first)
            except BaseException:
                stop_server(server)
                raise
            restart(server, workdir / "hold", devices, args.devices)


if __name__ == "__main__":
    main()
