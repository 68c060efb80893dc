"""The registration path in one process, without sockets: where the CPU goes.

    PYTHONPATH=. .venv/bin/python bench/registration_path.py [--devices 20000] [--profile]
        [--queries]

The whole platform runs (database, recorder, device access) and the UDP transport's
`datagram_received` is fed the exact datagrams a device sends (REGISTER → 401 →
REGISTER with digest → 200, then a Keepalive MESSAGE); the replies are captured in
place of `sendto`. It prints registrations/s of the Python path alone, which bounds
what `bench/registration.py` can reach over loopback.

`--queries` keeps the shipped on-registration queries on and answers them as a camera
does (bench/sipp/device_answers_ooc.xml): 200 to the SUBSCRIBE and to each MESSAGE, and
the DeviceInfo and Catalog (one channel) Response MESSAGEs. Devices register in batches
of `first_contact_concurrency`; the loop's own time (sending the queries, completing
them, the database) is counted with what each answer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import os
import pstats
import re
import tempfile
import time
from pathlib import Path

import uvloop

from farmwatch.app import Application
from farmwatch.gc_tuning import tune_garbage_collector
from farmwatch.platform.repositories.channel_repository import ChannelRepository
from farmwatch.settings import load_settings
from tests.peers.raw_sip import free_port

PLATFORM = "34020000002000000001"
PASSWORD = "12345678"
REALM = re.compile(rb'realm="([^"]*)"')
NONCE = re.compile(rb'nonce="([^"]*)"')


class CapturingTransport:
    """Stands in for the asyncio datagram transport: keeps the last datagram sent."""

    def __init__(self, sockname: tuple[str, int]) -> None:
        self.sockname = sockname
        self.sent: list[bytes] = []

    def clear(self) -> None:
        self.sent.clear()

    def sendto(self, data: bytes, addr: object) -> None:
        self.sent.append(data)

    def get_extra_info(self, name: str, default: object = None) -> object:
        return self.sockname if name == "sockname" else default

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass


def register(device: str, port: int, cseq: int, branch: str, authorization: str = "") -> bytes:
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"REGISTER sip:{PLATFORM}@3402000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:{port};rport;branch=z9hG4bK{branch}\r\n"
        f"From: <sip:{device}@3402000000>;tag={port}T\r\n"
        f"To: <sip:{device}@3402000000>\r\n"
        f"Call-ID: {device}-{port}@127.0.0.2\r\n"
        f"CSeq: {cseq} REGISTER\r\n"
        f"Contact: <sip:{device}@127.0.0.2:{port}>\r\n"
        f"{auth}Max-Forwards: 70\r\nUser-Agent: bench device\r\nExpires: 3600\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()


def keepalive(device: str, port: int, branch: str) -> bytes:
    body = (
        '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
        f"<SN>1</SN>\r\n<DeviceID>{device}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
    ).encode()
    head = (
        f"MESSAGE sip:{PLATFORM}@3402000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:{port};rport;branch=z9hG4bK{branch}\r\n"
        f"From: <sip:{device}@3402000000>;tag={port}K\r\n"
        f"To: <sip:{PLATFORM}@3402000000>\r\n"
        f"Call-ID: {device}-{port}@127.0.0.2\r\nCSeq: 3 MESSAGE\r\n"
        f"Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


def digest_header(device: str, challenge: bytes) -> str:
    """Computed here with hashlib, independently of farmwatch's digest code."""
    realm = REALM.search(challenge)
    nonce = NONCE.search(challenge)
    assert realm is not None and nonce is not None, challenge
    uri = f"sip:{PLATFORM}@3402000000"
    ha1 = hashlib.md5(f"{device}:{realm[1].decode()}:{PASSWORD}".encode()).hexdigest()
    ha2 = hashlib.md5(f"REGISTER:{uri}".encode()).hexdigest()
    response = hashlib.md5(f"{ha1}:{nonce[1].decode()}:{ha2}".encode()).hexdigest()
    return (
        f'Digest username="{device}", realm="{realm[1].decode()}", nonce="{nonce[1].decode()}", '
        f'uri="{uri}", response="{response}", algorithm=MD5'
    )


async def start_platform(tmp: str, *, queries: bool) -> tuple[Application, CapturingTransport]:
    """The shipped platform, its UDP transport sending into a `CapturingTransport`."""
    os.environ.setdefault("FARMWATCH_LOG_LEVEL", "WARNING")
    settings = load_settings(
        Path("conf/farmwatch.toml"),
        {
            "FARMWATCH_SIP_HOST": "127.0.0.1",
            "FARMWATCH_SIP_PORT": str(free_port()),
            "FARMWATCH_WEB_HOST": "127.0.0.1",
            "FARMWATCH_WEB_PORT": str(free_port()),
            "FARMWATCH_STORAGE_DIR": tmp,
            "FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "true" if queries else "false",
        },
    )
    app = Application(settings)
    await app.start()
    tune_garbage_collector()
    udp = app.sip._udp  # noqa: SLF001 - the bench stands in for the socket
    assert udp is not None
    capture = CapturingTransport(udp.local_address)
    udp._transport = capture  # type: ignore[assignment]  # noqa: SLF001
    if udp.probe is not None:
        # The script runs the path without yielding for long stretches: the queue probe
        # would read that as overload (and the 503s would stop the run).
        udp.probe.close()
    return app, capture


async def run(devices: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app, capture = await start_platform(tmp, queries=False)
        udp = app.sip._udp  # noqa: SLF001
        assert udp is not None
        profiler = cProfile.Profile() if profile else None
        ok = 0
        spent = [0.0, 0.0, 0.0]  # platform time per message: REGISTER, REGISTER+digest, keepalive
        clock = time.perf_counter
        start = clock()
        threads_before = time.process_time() - time.thread_time()
        if profiler is not None:
            profiler.enable()
        for index in range(devices):
            device = f"34020000001320{index + 1:06d}"
            port = 10000 + index % 50000
            source = ("127.0.0.2", port)
            first = register(device, port, 1, f"a{index}")
            begin = clock()
            udp.datagram_received(first, source)
            spent[0] += clock() - begin
            challenge = capture.sent[-1]
            second = register(device, port, 2, f"b{index}", digest_header(device, challenge))
            begin = clock()
            udp.datagram_received(second, source)
            spent[1] += clock() - begin
            ok += capture.sent[-1].startswith(b"SIP/2.0 200")
            beat = keepalive(device, port, f"c{index}")
            begin = clock()
            udp.datagram_received(beat, source)
            spent[2] += clock() - begin
            ok += capture.sent[-1].startswith(b"SIP/2.0 200")
            if index % 200 == 0:
                begin = time.thread_time()
                await asyncio.sleep(0)  # let the recorder's batches run, as the loop would
                spent.append(time.thread_time() - begin)
            capture.clear()
        # What the recorder still has to write is platform time too: its share of this
        # thread's CPU (the SQLite thread runs beside it, on another core in production).
        begin = time.thread_time()
        await app.recorder.drained()
        spent.append(time.thread_time() - begin)
        elapsed = clock() - start
        # The database's threads and the loop watchdog run beside the loop (on another
        # core when there is one): their CPU is the platform's too.
        others = time.process_time() - time.thread_time() - threads_before
        if profiler is not None:
            profiler.disable()
        platform = sum(spent)
        print(
            f"{devices} registrations + keepalives: {ok} of {2 * devices} answered 200\n"
            f"  platform time {platform / devices * 1e6:.0f} µs per registration "
            f"({devices / platform:,.0f} reg/s of one core): REGISTER "
            f"{spent[0] / devices * 1e6:.1f} µs, REGISTER with digest "
            f"{spent[1] / devices * 1e6:.1f} µs, keepalive {spent[2] / devices * 1e6:.1f} µs, "
            f"database writes and the rest of the loop {sum(spent[3:]) / devices * 1e6:.1f} µs; "
            f"besides, the platform's other threads (database, watchdog) "
            f"{others / devices * 1e6:.1f} µs\n"
            f"  whole run (with this script making the requests) {elapsed:.2f} s"
        )
        await app.close()
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


SN = re.compile(rb"<SN>(\d+)</SN>")
CMD_TYPE = re.compile(rb"<CmdType>(\w+)</CmdType>")
ANSWERED_HEADERS = {"via", "from", "call-id", "cseq", "expires"}


def ok_response(request: bytes, tag: str, contact: str | None) -> bytes:
    """The 200 a camera answers a request with (its Vias, From, To with a tag, Call-ID,
    CSeq, and for a SUBSCRIBE the Expires and a Contact)."""
    lines = request.split(b"\r\n\r\n", 1)[0].decode().split("\r\n")[1:]
    kept = []
    for line in lines:
        name = line.split(":", 1)[0].strip().lower()
        if name in ANSWERED_HEADERS:
            kept.append(line)
        elif name == "to":
            kept.append(f"{line};tag={tag}")
    if contact is not None:
        kept.append(f"Contact: <{contact}>")
    head = "\r\n".join(["SIP/2.0 200 OK", *kept, "User-Agent: IP Camera", "Content-Length: 0"])
    return (head + "\r\n\r\n").encode()


def answer_message(device: str, port: int, cmd_type: str, sn: str) -> bytes:
    """The Response MESSAGE a camera sends to a DeviceInfo or Catalog query (one channel)."""
    if cmd_type == "DeviceInfo":
        fields = (
            "<Result>OK</Result>\r\n<DeviceName>IP Camera</DeviceName>\r\n"
            "<Manufacturer>bench</Manufacturer>\r\n<Model>bench</Model>\r\n"
            "<Firmware>V1.0</Firmware>\r\n<Channel>1</Channel>\r\n"
        )
    else:
        fields = (
            '<SumNum>1</SumNum>\r\n<DeviceList Num="1">\r\n<Item>\r\n'
            "<DeviceID>34020000001310000001</DeviceID>\r\n<Name>Camera 1</Name>\r\n"
            "<Manufacturer>bench</Manufacturer>\r\n<Model>bench</Model>\r\n"
            "<Owner>Owner</Owner>\r\n<CivilCode>3402000000</CivilCode>\r\n"
            f"<Address>Farm</Address>\r\n<Parental>0</Parental>\r\n<ParentID>{device}</ParentID>"
            "\r\n<SafetyWay>0</SafetyWay>\r\n<RegisterWay>1</RegisterWay>\r\n"
            "<Secrecy>0</Secrecy>\r\n<Status>ON</Status>\r\n</Item>\r\n</DeviceList>\r\n"
        )
    body = (
        '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n'
        f"<CmdType>{cmd_type}</CmdType>\r\n<SN>{sn}</SN>\r\n<DeviceID>{device}</DeviceID>\r\n"
        f"{fields}</Response>\r\n"
    ).encode()
    head = (
        f"MESSAGE sip:{PLATFORM}@3402000000 SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP 127.0.0.2:{port};rport;branch=z9hG4bK-{cmd_type}-{sn}\r\n"
        f"From: <sip:{device}@3402000000>;tag={port}{cmd_type[0]}{sn}\r\n"
        f"To: <sip:{PLATFORM}@3402000000>\r\n"
        f"Call-ID: {cmd_type}-{sn}@127.0.0.2\r\nCSeq: 1 MESSAGE\r\n"
        f"Content-Type: Application/MANSCDP+xml\r\nMax-Forwards: 70\r\n"
        f"User-Agent: IP Camera\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


async def run_queries(devices: int, profile: bool) -> None:
    """Registration with the shipped on-registration queries, answered as a camera does."""
    with tempfile.TemporaryDirectory() as tmp:
        app, capture = await start_platform(tmp, queries=True)
        udp = app.sip._udp  # noqa: SLF001
        assert udp is not None
        queue = app.access.first_contacts
        batch = app.access.settings.first_contact_concurrency
        spent: dict[str, float] = {}
        counted: dict[str, int] = {}
        clock = time.thread_time

        def feed(kind: str, data: bytes, source: tuple[str, int]) -> None:
            begin = clock()
            udp.datagram_received(data, source)
            spent[kind] = spent.get(kind, 0.0) + clock() - begin
            counted[kind] = counted.get(kind, 0) + 1

        async def loop_turn(pause: float) -> None:
            begin = clock()
            await asyncio.sleep(pause)
            spent["loop"] = spent.get("loop", 0.0) + clock() - begin

        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        ports: dict[str, int] = {}
        for first in range(0, devices, batch):
            for index in range(first, min(first + batch, devices)):
                device = f"34020000001320{index + 1:06d}"
                port = 10000 + index % 50000
                ports[device] = port
                source = ("127.0.0.2", port)
                feed("REGISTER", register(device, port, 1, f"a{index}"), source)
                challenge = capture.sent[-1]
                digest = digest_header(device, challenge)
                feed("REGISTER with digest", register(device, port, 2, f"b{index}", digest), source)
                feed("keepalive", keepalive(device, port, f"c{index}"), source)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                stats = queue.stats
                requests = [d for d in capture.sent if not d.startswith(b"SIP/2.0")]
                capture.clear()
                if not requests:
                    if stats.running == 0 and stats.queued == 0:
                        break
                    # Waiting for something of the platform's own (a timer, the database).
                    await loop_turn(0 if stats.running else 0.001)
                    continue
                for request in requests:
                    device = request.split(b" ", 2)[1].split(b":", 1)[1].split(b"@")[0].decode()
                    port = ports[device]
                    source = ("127.0.0.2", port)
                    if request.startswith(b"SUBSCRIBE"):
                        contact = f"sip:{device}@127.0.0.2:{port}"
                        feed("200 to SUBSCRIBE", ok_response(request, f"{port}S", contact), source)
                        continue
                    feed("200 to MESSAGE", ok_response(request, f"{port}M", None), source)
                    sn, cmd_type = SN.search(request), CMD_TYPE.search(request)
                    assert sn is not None and cmd_type is not None, request
                    kind = cmd_type[1].decode()
                    answer = answer_message(device, port, kind, sn[1].decode())
                    feed(f"{kind} Response", answer, source)
            else:
                raise RuntimeError(f"first contacts did not finish: {queue.stats}")
        begin = clock()
        await app.recorder.drained()
        spent["loop"] = spent.get("loop", 0.0) + clock() - begin
        elapsed = time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        registered = sum(1 for device in ports if app.access.table.get(device) is not None)
        channels = await ChannelRepository(
            app.database.sessions, app.database.read_sessions
        ).count()
        total = sum(spent.values())
        print(f"{devices} registrations with their queries answered ({registered} registered, "
              f"{queue.stats.done} first contacts done, {channels} channels stored)\n"
              f"  platform time {total / devices * 1e6:.0f} µs per device "
              f"({devices / total:,.0f} devices/s of one core), of which:")  # fmt: skip
        for kind, seconds in sorted(spent.items(), key=lambda item: -item[1]):
            share = f"{seconds / counted[kind] * 1e6:.1f} µs each" if kind in counted else ""
            print(f"    {kind:<22} {seconds / devices * 1e6:7.1f} µs per device  {share}")
        print(f"  whole run (with this script making the requests) {elapsed:.2f} s")
        await app.close()
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--queries", action="store_true",
        help="the shipped on-registration queries, answered as a camera does",
    )  # fmt: skip
    args = parser.parse_args()
    uvloop.run((run_queries if args.queries else run)(args.devices, args.profile))


if __name__ == "__main__":
    main()
