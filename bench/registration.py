"""Registration benchmark: digest registrations/s, the cost of holding devices, restart.

    PYTHONPATH=. .venv/bin/python bench/registration.py [--devices 10000] [--rates 3000,5000,6000]

1. For each offered rate, sipp registers fresh devices (REGISTER → 401 → REGISTER with
   digest → 200, then one Keepalive MESSAGE) from one UDP socket, then (`--tcp-rates`)
   over one TCP connection, and the script prints calls succeeded and failed, the
   achieved rate and the platform's CPU (% of one core).
2. `--devices` devices registered, then keepalives at devices/60 per second (each device
   every 60 s) for `--hold` seconds: platform CPU and RSS.
3. The platform is restarted on the same data and port; the script prints the seconds
   until it answers again and until every device's keepalive is accepted again.
Loopback only; sipp runs are bounded by call counts and timeouts.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from tests.peers.raw_sip import udp_options
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.sipp import run_sipp, write_devices

PLATFORM = "34020000002000000001"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
QUIET = {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false", "FARMWATCH_LOG_LEVEL": "WARNING"}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure_rates(
    server: RunningServer,
    workdir: Path,
    rates: list[int],
    seconds: float,
    *,
    first: int = 1,
    transport: str = "u1",
) -> int:
    for rate in rates:
        count = int(rate * seconds)
        devices = write_devices(workdir / f"rate-{rate}.csv", count, PLATFORM, first=first)
        first += count
        before = cpu_seconds(server.process.pid)
        result = run_sipp(
            server.sip_port, "register_keepalive_uac.xml", workdir,
            calls=count, rate=rate, extra=("-inf", str(devices)), transport=transport,
        )  # fmt: skip
        cpu = (cpu_seconds(server.process.pid) - before) / max(result.seconds, 1e-3)
        print(
            f"{'UDP' if transport == 'u1' else 'TCP'} offered {rate:>6} reg/s: "
            f"ok {result.successful:>7} failed {result.failed:>5} "
            f"achieved {result.successful / max(result.seconds, 1e-3):>7,.0f} reg/s "
            f"platform CPU {cpu * 100:5.1f}%",
            flush=True,
        )
    return first


def hold(server: RunningServer, workdir: Path, devices: int, seconds: float, first: int) -> Path:
    registered = write_devices(workdir / "held.csv", devices, PLATFORM, first=first)
    result = run_sipp(
        server.sip_port, "register_keepalive_uac.xml", workdir,
        calls=devices, rate=1000, extra=("-inf", str(registered)),
    )  # fmt: skip
    print(f"registered {result.successful} devices for the hold test ({result.failed} failed)")
    # Let the registration burst's transactions run out (timer J, 32 s) before measuring
    # what holding the devices costs.
    time.sleep(35)
    rate = max(1, round(devices / 60))
    before, start = cpu_seconds(server.process.pid), time.monotonic()
    run_sipp(
        server.sip_port, "keepalive_uac.xml", workdir,
        calls=int(rate * seconds), rate=rate, extra=("-inf", str(registered)),
        timeout=seconds * 3 + 60,
    )  # fmt: skip
    elapsed = time.monotonic() - start
    cpu = (cpu_seconds(server.process.pid) - before) / elapsed
    print(
        f"holding {devices} devices, keepalive every 60 s ({rate}/s) for {elapsed:.0f} s: "
        f"platform CPU {cpu * 100:.1f}% of one core, RSS {rss_mb(server.process.pid):.0f} MB"
    )
    return registered


def restart(server: RunningServer, workdir: Path, devices: Path, count: int) -> None:
    stop_server(server)
    start = time.monotonic()
    again = start_server(workdir, QUIET, sip_port=server.sip_port)
    try:
        answering = time.monotonic() - start
        result = run_sipp(
            again.sip_port, "keepalive_uac.xml", workdir,
            calls=count, rate=2000, extra=("-inf", str(devices)),
        )  # fmt: skip
        back = time.monotonic() - start
        assert udp_options(again.sip_port) == 200
        print(
            f"restart: answering after {answering:.1f} s; {result.successful} of {count} "
            f"devices' keepalives accepted again {back:.1f} s after the restart "
            f"({result.failed} refused)"
        )
    finally:
        stop_server(again)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="3000,5000,6000")
    parser.add_argument("--tcp-rates", default="3000,5000", help="the same over one TCP connection")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--hold", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "rates").mkdir()
        (workdir / "hold").mkdir()
        server = start_server(workdir / "rates", QUIET)
        try:
            rates = [int(rate) for rate in args.rates.split(",")]
            first = measure_rates(server, workdir, rates, args.seconds)
            tcp_rates = [int(rate) for rate in args.tcp_rates.split(",") if rate]
            first = measure_rates(
                server, workdir, tcp_rates, args.seconds, first=first, transport="t1"
            )
        finally:
            stop_server(server)
        # A fresh platform holds exactly --devices devices.
        server = start_server(workdir / "hold", QUIET)
        try:
            devices = hold(server, workdir, args.devices, args.hold, first)
        except BaseException:
            stop_server(server)
            raise
        restart(server, workdir / "hold", devices, args.devices)


if __name__ == "__main__":
    main()
