"""Abuse benchmark: does the platform keep serving while it is attacked?

    PYTHONPATH=. .venv/bin/python bench/abuse.py [--garbage 50000] [--catalog-seconds 20]
        [--slow-connections 300] [--auth-failures 1000] [--rate 3000] [--seconds 10]

A `farmwatch serve` on 127.0.0.1 with its shipped settings. A prober sends an OPTIONS every
10 ms from 127.0.0.1 and times each answer; the attacks come from other loopback addresses
(127.0.0.2 and up), one at a time:

1. garbage: `--garbage` datagrams of random bytes and of broken SIP (bad Via ports, stray
   bytes, truncated headers), 10,000 per second;
2. unregistered catalog flood: 100 catalog MESSAGEs per second of ~59 KB each, From a device
   ID that never registered, for `--catalog-seconds`;
3. slow TCP: `--slow-connections` connections from one address, each sending one byte every
   5 s (the per-address cap refuses most of them; the rest wait for the message deadline);
4. failed authentications: sipp registering `--rate` fresh devices per second (the real ones,
   from 127.0.0.1) while another sipp sends `--auth-failures` REGISTERs per second with a
   wrong password from 127.0.0.2-127.0.0.9: the legitimate rate reached, against the same
   run without the attack.

For each: OPTIONS latency p50/p99 and unanswered probes during the attack and 2 s after it
(what the platform still had queued), and the worst
event-loop lag the platform measured (its /metrics histogram). Targets (issue 13): OPTIONS
p99 < 50 ms under each flood, loop lag < 50 ms, legitimate registrations >= 80 % of the
undisturbed rate.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import secrets
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.measure import lag_buckets, worst_lag_between
from tests.peers.raw_sip import options_bytes
from tests.peers.server_process import RunningServer, start_server, stop_server
from tests.peers.sipp import SCENARIOS, run_sipp, write_devices

PLATFORM = "34020000002000000001"
BENCH_SCENARIOS = Path(__file__).with_name("sipp")
PROBE_INTERVAL = 0.01
TAIL = 2.0
GARBAGE_RATE = 10_000


@dataclass
class Prober:
    """OPTIONS every 10 ms from 127.0.0.1; round-trip times of the answers."""

    port: int
    times: list[float] = field(default_factory=list)
    sent: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.settimeout(1.0)
            local = sock.getsockname()[1]
            while not self._stop.is_set():
                request = options_bytes(self.port, local_port=local)
                begin = time.monotonic()
                sock.sendto(request, ("127.0.0.1", self.port))
                self.sent += 1
                branch = request.split(b"branch=", 1)[1].split(b"\r\n", 1)[0]
                with contextlib.suppress(TimeoutError):
                    while True:  # skip late answers to earlier probes
                        data = sock.recv(65536)
                        if branch in data:
                            self.times.append(time.monotonic() - begin)
                            break
                self._stop.wait(max(0.0, PROBE_INTERVAL - (time.monotonic() - begin)))

    @contextlib.contextmanager
    def running(self) -> Iterator[Prober]:
        thread = threading.Thread(target=self.run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def summary(self) -> str:
        if not self.times:
            return f"no OPTIONS answered of {self.sent}"
        ordered = sorted(self.times)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"OPTIONS p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms, unanswered {self.sent - len(ordered)} of {self.sent}"
        )


def measured(
    server: RunningServer, label: str, attack: Callable[[], str], lags: list[float]
) -> None:
    base = f"http://127.0.0.1:{server.web_port}"
    before = lag_buckets(base, server.auth_headers)
    with Prober(server.sip_port).running() as prober:
        detail = attack()
        time.sleep(TAIL)  # what the platform still had queued is part of the attack
    lag = worst_lag_between(before, lag_buckets(base, server.auth_headers))
    lags.append(lag)
    print(f"{label}: {detail}\n   {prober.summary()}; worst event-loop lag <= {lag * 1000:.0f} ms",
          flush=True)  # fmt: skip


def garbage(port: int, count: int) -> str:
    rng = random.Random(28181)
    broken = [
        b"REGISTER sip:x SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4:5\xb2060;branch=z9hG4bK1\r\n\r\n",
        b"MESSAGE sip:x SIP/2.0\r\nVia: SIP/2.0/UDP\r\nFrom: <<<>>>\r\nContent-Length: 99999\r\n",
        b"INVITE \x00\x01\x02 SIP/2.0\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
    ]
    begin = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.2", 0))
        for index in range(count):
            if index % 1000 == 0:  # paced: GARBAGE_RATE datagrams per second
                time.sleep(max(0.0, begin + index / GARBAGE_RATE - time.monotonic()))
            if index % 2:
                data = rng.randbytes(rng.randrange(1, 1400))
            else:
                data = broken[index // 2 % len(broken)]
            with contextlib.suppress(OSError):
                sock.sendto(data, ("127.0.0.1", port))
    return f"{count} garbage datagrams in {time.monotonic() - begin:.1f} s"


def catalog_message(port: int, items: int = 168) -> bytes:
    device = "34020000001329999999"  # never registered
    entries = "".join(
        f"<Item><DeviceID>340200000013{index:08d}</DeviceID><Name>Camera {index}</Name>"
        "<Manufacturer>Vendor</Manufacturer><Model>M</Model><Owner>Owner</Owner>"
        "<CivilCode>3402000000</CivilCode><Address>Farm</Address><Parental>0</Parental>"
        f"<ParentID>{device}</ParentID><SafetyWay>0</SafetyWay><RegisterWay>1</RegisterWay>"
        "<Secrecy>0</Secrecy><Status>ON</Status></Item>\r\n"
        for index in range(items)
    )
    body = (
        '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n'
        f"<SN>1</SN>\r\n<DeviceID>{device}</DeviceID>\r\n<SumNum>{items}</SumNum>\r\n"
        f'<DeviceList Num="{items}">\r\n{entries}</DeviceList>\r\n</Response>\r\n'
    ).encode()
    head = (
        f"MESSAGE sip:{PLATFORM}@3402000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.3:5060;rport;branch=z9hG4bK{secrets.token_hex(8)}\r\n"
        f"From: <sip:{device}@3402000000>;tag={secrets.token_hex(4)}\r\n"
        f"To: <sip:{PLATFORM}@3402000000>\r\nCall-ID: {secrets.token_hex(8)}\r\n"
        "CSeq: 1 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def catalog_flood(port: int, seconds: float, per_second: int = 100) -> str:
    size = len(catalog_message(port))
    sent = 0
    begin = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        sock.bind(("127.0.0.3", 0))
        while (elapsed := time.monotonic() - begin) < seconds:
            due = int(elapsed * per_second) + 1
            while sent < due:
                with contextlib.suppress(OSError):
                    sock.sendto(catalog_message(port), ("127.0.0.1", port))
                sent += 1
            time.sleep(1 / per_second)
    return f"{sent} catalog MESSAGEs of {size // 1024} KB from an unregistered ID in {seconds:g} s"


def slow_tcp(port: int, connections: int, seconds: float) -> str:
    opened: list[socket.socket] = []
    refused = 0
    for _ in range(connections):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.4", 0))
        sock.settimeout(2)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            refused += 1
            sock.close()
            continue
        opened.append(sock)
    begin = time.monotonic()
    closed = 0
    while time.monotonic() - begin < seconds:
        for sock in list(opened):
            try:
                sock.send(b"R")
            except OSError:
                closed += 1
                opened.remove(sock)
                sock.close()
        time.sleep(5)
    for sock in opened:
        sock.close()
    return (
        f"{connections} slow connections from one address: {refused} refused at connect, "
        f"{closed} closed by the platform within {seconds:g} s, {len(opened)} still open"
    )


def registrations(
    server: RunningServer, workdir: Path, rate: int, seconds: float, first: int,
    failures_per_second: int,
) -> tuple[float, int]:  # fmt: skip
    count = int(rate * seconds)
    devices = write_devices(workdir / f"legit-{first}.csv", count, PLATFORM, first=first)
    attackers: list[subprocess.Popen[bytes]] = []
    if failures_per_second:
        per_source = max(1, failures_per_second // 8)
        for index in range(8):
            wrong = write_devices(
                workdir / f"wrong-{first}-{index}.csv", int(per_source * (seconds + 5)),
                PLATFORM, first=500_000 + first + index * 50_000, password="wrong-password",
            )  # fmt: skip
            attackers.append(subprocess.Popen(
                ["sipp", f"127.0.0.1:{server.sip_port}", "-sf",
                 str(BENCH_SCENARIOS / "register_wrong_password_uac.xml"),
                 "-i", f"127.0.0.{2 + index}", "-p", "0", "-inf", str(wrong),
                 "-r", str(per_source), "-m", str(int(per_source * (seconds + 5))),
                 "-timeout", f"{int(seconds + 20)}s", "-nostdin"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=workdir,
            ))  # fmt: skip
        time.sleep(1.0)
    try:
        result = run_sipp(
            server.sip_port, "register_keepalive_uac.xml", workdir, calls=count, rate=rate,
            extra=("-inf", str(devices)), scenarios=SCENARIOS,
        )  # fmt: skip
    finally:
        for attacker in attackers:  # in the foreground (no -bg): each is ours to stop
            try:
                attacker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                attacker.kill()
                attacker.wait()
    return result.successful / max(result.seconds, 1e-3), count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--garbage", type=int, default=50_000)
    parser.add_argument("--catalog-seconds", type=float, default=20.0)
    parser.add_argument("--slow-connections", type=int, default=300)
    parser.add_argument("--slow-seconds", type=float, default=30.0)
    parser.add_argument("--auth-failures", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = start_server(workdir, {"FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false"})
        try:
            port = server.sip_port
            lags: list[float] = []
            started_max = server.metric("farmwatch_event_loop_lag_max_seconds")
            measured(server, "0. no attack (baseline)", _quiet, lags)
            measured(server, "1. garbage", lambda: garbage(port, args.garbage), lags)
            measured(server, "2. unregistered catalog flood",
                     lambda: catalog_flood(port, args.catalog_seconds), lags)  # fmt: skip
            measured(server, "3. slow TCP",
                     lambda: slow_tcp(port, args.slow_connections, args.slow_seconds),
                     lags)  # fmt: skip
            alone, _ = registrations(server, workdir, args.rate, args.seconds, 1, 0)
            attacked: list[float] = []
            measured(server, "4. failed authentications",
                     lambda: _attacked(server, workdir, args, attacked), lags)  # fmt: skip
            share = attacked[0] / max(alone, 1e-9) * 100 if attacked else 0.0
            print(
                f"   legitimate registrations: {alone:,.0f}/s alone, "
                f"{attacked[0] if attacked else 0:,.0f}/s under attack ({share:.0f} %)"
            )
            print(f"   platform log: {os.path.getsize(server.log_path) // 1024} KB")
            # The histogram says which bucket each attack reached. The platform's maximum
            # counts from its start, whose own stall may be the largest: said apart.
            worst = server.metric("farmwatch_event_loop_lag_max_seconds")
            print(f"largest event-loop lag over all attacks: <= {max(lags) * 1000:.0f} ms by the "
                  "histogram (target < 50 ms)")  # fmt: skip
            if worst > started_max:
                print(f"   the platform's maximum rose during the attacks to {worst * 1000:.1f} ms")
            else:
                print(f"   the platform's maximum, {worst * 1000:.1f} ms, is its start-up stall: "
                      "no attack held the loop longer")  # fmt: skip
        finally:
            stop_server(server)


def _quiet() -> str:
    time.sleep(10)
    return "10 s of probes only"


def _attacked(
    server: RunningServer, workdir: Path, args: argparse.Namespace, out: list[float]
) -> str:
    first = int(args.rate * args.seconds) + 1
    rate, count = registrations(server, workdir, args.rate, args.seconds, first, args.auth_failures)
    out.append(rate)
    return (
        f"{count} legitimate registrations at {args.rate}/s from 127.0.0.1 while "
        f"{args.auth_failures}/s wrong passwords come from 127.0.0.2-9"
    )


if __name__ == "__main__":
    main()
