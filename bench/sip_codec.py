"""SIP parse + serialise throughput for a typical REGISTER and a 4 KiB catalog MESSAGE.

    .venv/bin/python bench/sip_codec.py [--seconds 2]

Prints messages/s for parse alone, serialise alone and the round trip.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from farmwatch.sipserver.sip.parser import parse_message

REGISTER = (
    b"REGISTER sip:34020000002000000001@3402000000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK1376384914\r\n"
    b"From: <sip:34020000001180000001@3402000000>;tag=1923459203\r\n"
    b"To: <sip:34020000001180000001@3402000000>\r\n"
    b"Call-ID: 1257862309\r\n"
    b"CSeq: 2 REGISTER\r\n"
    b"Contact: <sip:34020000001180000001@192.168.20.64:5060>\r\n"
    b'Authorization: Digest username="34020000001180000001", realm="3402000000", '
    b'nonce="9bd055f2e5a14b5a", uri="sip:34020000002000000001@3402000000", '
    b'response="346db46ae5c52703a803eda8f8b43f33", algorithm=MD5\r\n'
    b"Max-Forwards: 70\r\n"
    b"User-Agent: IP Camera\r\n"
    b"Expires: 3600\r\n"
    b"X-GB-Ver: 2.0\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def _catalog_message() -> bytes:
    item = (
        "<Item>\r\n<DeviceID>34020000001310000001</DeviceID>\r\n<Name>场区入口</Name>\r\n"
        "<Manufacturer>Hikvision</Manufacturer>\r\n<Model>DS-2CD</Model>\r\n<Owner>Owner</Owner>\r\n"
        "<CivilCode>340200</CivilCode>\r\n<Address>Address</Address>\r\n<Parental>0</Parental>\r\n"
        "<ParentID>34020000001180000001</ParentID>\r\n<SafetyWay>0</SafetyWay>\r\n"
        "<RegisterWay>1</RegisterWay>\r\n<Secrecy>0</Secrecy>\r\n<Status>ON</Status>\r\n</Item>\r\n"
    )
    body = (
        '<?xml version="1.0" encoding="GB2312"?>\r\n<Response>\r\n<CmdType>Catalog</CmdType>\r\n'
        "<SN>248</SN>\r\n<DeviceID>34020000001180000001</DeviceID>\r\n<SumNum>80</SumNum>\r\n"
        '<DeviceList Num="8">\r\n'
    )
    while len(body.encode("gb18030")) < 4096 - 40:
        body += item
    body += "</DeviceList>\r\n</Response>\r\n"
    encoded = body.encode("gb18030")
    head = (
        "MESSAGE sip:34020000002000000001@3402000000 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.168.20.64:5060;rport;branch=z9hG4bK826485621\r\n"
        "From: <sip:34020000001180000001@3402000000>;tag=301398755\r\n"
        "To: <sip:34020000002000000001@3402000000>\r\n"
        "Call-ID: 1698347023\r\n"
        "CSeq: 20 MESSAGE\r\n"
        "Content-Type: Application/MANSCDP+xml\r\n"
        "Max-Forwards: 70\r\n"
        "User-Agent: IP Camera\r\n"
        f"Content-Length: {len(encoded)}\r\n\r\n"
    )
    return head.encode() + encoded


def _rate(work: Callable[[], object], seconds: float) -> float:
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for _ in range(200):
            work()
        count += 200
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    for name, data in (("REGISTER", REGISTER), ("catalog MESSAGE 4 KiB", _catalog_message())):
        message = parse_message(data)
        parse = _rate(lambda data=data: parse_message(data), args.seconds)
        serialise = _rate(message.to_bytes, args.seconds)
        both = _rate(lambda data=data: parse_message(data).to_bytes(), args.seconds)
        print(
            f"{name:<24} {len(data):>5} B  parse {parse:>9,.0f}/s  "
            f"serialise {serialise:>9,.0f}/s  parse+serialise {both:>9,.0f}/s"
        )


if __name__ == "__main__":
    main()
