"""The registration path in one process, without sockets: where the CPU goes.

    PYTHONPATH=. .venv/bin/python bench/registration_path.py [--devices 20000] [--profile]

The whole platform runs (database, recorder, device access) and the UDP transport's
`datagram_received` is fed the exact datagrams a device sends (REGISTER → 401 →
REGISTER with digest → 200, then a Keepalive MESSAGE); the replies are captured in
place of `sendto`. It prints registrations/s of the Python path alone, which bounds
what `bench/registration.py` can reach over loopback.
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
from farmwatch.settings import load_settings
from tests.peers.raw_sip import free_port

PLATFORM = "34020000002000000001"
PASSWORD = "12345678"
REALM = re.compile(rb'realm="([^"]*)"')
NONCE = re.compile(rb'nonce="([^"]*)"')


class CapturingTransport:
    """Stands in for the asyncio datagram transport: keeps the last datagram sent."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def sendto(self, data: bytes, addr: object) -> None:
        self.sent.append(data)

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


async def run(devices: int, profile: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("FARMWATCH_LOG_LEVEL", "WARNING")
        settings = load_settings(
            Path("conf/farmwatch.toml"),
            {
                "FARMWATCH_SIP_HOST": "127.0.0.1",
                "FARMWATCH_SIP_PORT": str(free_port()),
                "FARMWATCH_WEB_HOST": "127.0.0.1",
                "FARMWATCH_WEB_PORT": str(free_port()),
                "FARMWATCH_STORAGE_DIR": tmp,
                "FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false",
            },
        )
        app = Application(settings)
        await app.start()
        tune_garbage_collector()
        udp = app.sip._udp  # noqa: SLF001 - the bench stands in for the socket
        assert udp is not None
        capture = CapturingTransport()
        udp._transport = capture  # type: ignore[assignment]  # noqa: SLF001
        if udp.probe is not None:
            # The script runs the path without yielding for long stretches: the queue probe
            # would read that as overload (and the 503s would stop the run).
            udp.probe.close()
        profiler = cProfile.Profile() if profile else None
        ok = 0
        spent = [0.0, 0.0, 0.0]  # platform time per message: REGISTER, REGISTER+digest, keepalive
        clock = time.perf_counter
        start = clock()
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
            capture.sent.clear()
        # What the recorder still has to write is platform time too: its share of this
        # thread's CPU (the SQLite thread runs beside it, on another core in production).
        begin = time.thread_time()
        await app.recorder.drained()
        spent.append(time.thread_time() - begin)
        elapsed = clock() - start
        if profiler is not None:
            profiler.disable()
        platform = sum(spent)
        print(
            f"{devices} registrations + keepalives: {ok} of {2 * devices} answered 200\n"
            f"  platform time {platform / devices * 1e6:.0f} µs per registration "
            f"({devices / platform:,.0f} reg/s of one core): REGISTER "
            f"{spent[0] / devices * 1e6:.1f} µs, REGISTER with digest "
            f"{spent[1] / devices * 1e6:.1f} µs, keepalive {spent[2] / devices * 1e6:.1f} µs, "
            f"database writes and the rest of the loop {sum(spent[3:]) / devices * 1e6:.1f} µs\n"
            f"  whole run (with this script making the requests) {elapsed:.2f} s"
        )
        await app.close()
        if profiler is not None:
            pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--devices", type=int, default=20_000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    uvloop.run(run(args.devices, args.profile))


if __name__ == "__main__":
    main()
