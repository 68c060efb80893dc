"""An independent SIP user agent (pjsua2) run as a child process by the tests.

    python -m tests.peers.pjsua_peer options --target sip:ID@127.0.0.1:5060 --transport tcp

prints one JSON object per line with what pjsua2 observed (e.g. the status code it
received) and exits non-zero when it saw nothing within its deadline. Running it as
a separate process keeps pjsip's global state and threads out of pytest.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import pjsua2 as pj


class _Account(pj.Account):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.results: list[int] = []
        self.reg_codes: list[int] = []

    def onSendRequest(self, prm: pj.OnSendRequestParam) -> None:  # noqa: N802 - pjsua2 API
        self.results.append(int(prm.e.body.tsxState.tsx.statusCode))

    def onRegState(self, prm: pj.OnRegStateParam) -> None:  # noqa: N802 - pjsua2 API
        self.reg_codes.append(int(prm.code))

    def onInstantMessageStatus(self, prm: pj.OnInstantMessageStatusParam) -> None:  # noqa: N802
        self.results.append(int(prm.code))


def _start(transport: str) -> tuple[pj.Endpoint, int]:
    endpoint = pj.Endpoint()
    endpoint.libCreate()
    config = pj.EpConfig()
    config.uaConfig.threadCnt = 0
    config.uaConfig.mainThreadOnly = True
    config.logConfig.level = 1
    config.logConfig.consoleLevel = 1
    config.medConfig.noVad = True
    endpoint.libInit(config)
    endpoint.audDevManager().setNullDev()
    tconfig = pj.TransportConfig()
    tconfig.port = 0
    kind = pj.PJSIP_TRANSPORT_TCP if transport == "tcp" else pj.PJSIP_TRANSPORT_UDP
    transport_id = endpoint.transportCreate(kind, tconfig)
    endpoint.libStart()
    return endpoint, transport_id


def _poll_until(endpoint: pj.Endpoint, done: object, deadline: float) -> None:
    while time.monotonic() < deadline and not done():  # type: ignore[operator]
        endpoint.libHandleEvents(20)


def run_options(target: str, transport: str, count: int, timeout: float) -> int:
    endpoint, transport_id = _start(transport)
    account = _Account()
    config = pj.AccountConfig()
    config.idUri = "sip:34020000001320000099@127.0.0.1"
    config.sipConfig.transportId = transport_id
    account.create(config)
    suffix = ";transport=tcp" if transport == "tcp" else ""
    for _ in range(count):
        param = pj.SendRequestParam()
        param.method = "OPTIONS"
        param.txOption.targetUri = target + suffix
        account.sendRequest(param)
        expected = len(account.results) + 1
        _poll_until(
            endpoint,
            lambda expected=expected: len(account.results) >= expected,
            time.monotonic() + timeout,
        )
    print(json.dumps({"action": "options", "statuses": account.results}), flush=True)
    ok = len(account.results) == count
    account.shutdown()
    endpoint.libDestroy()
    return 0 if ok else 1


KEEPALIVE = (
    '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify>\r\n<CmdType>Keepalive</CmdType>\r\n'
    "<SN>{sn}</SN>\r\n<DeviceID>{device}</DeviceID>\r\n<Status>OK</Status>\r\n</Notify>\r\n"
)


def run_register(args: argparse.Namespace) -> int:
    """Register with digest, send keepalive MESSAGEs, unregister only if asked."""
    endpoint, transport_id = _start(args.transport)
    account = _Account()
    config = pj.AccountConfig()
    config.idUri = f"sip:{args.device}@{args.domain}"
    suffix = ";transport=tcp" if args.transport == "tcp" else ""
    config.regConfig.registrarUri = f"sip:{args.server_id}@{args.server}{suffix}"
    config.regConfig.timeoutSec = 3600
    config.regConfig.retryIntervalSec = 0
    config.sipConfig.transportId = transport_id
    config.sipConfig.authCreds.append(pj.AuthCredInfo("digest", "*", args.device, 0, args.password))
    account.create(config)
    _poll_until(endpoint, lambda: bool(account.reg_codes), time.monotonic() + args.timeout)
    registered = account.reg_codes[-1] if account.reg_codes else 0
    keepalive_codes: list[int] = []
    if registered == 200:
        buddy = pj.Buddy()
        buddy_config = pj.BuddyConfig()
        buddy_config.uri = f"sip:{args.server_id}@{args.server}{suffix}"
        buddy_config.subscribe = False
        buddy.create(account, buddy_config)
        for sn in range(1, args.keepalives + 1):
            param = pj.SendInstantMessageParam()
            param.contentType = "Application/MANSCDP+xml"
            param.content = KEEPALIVE.format(sn=sn, device=args.device)
            before = len(account.results)
            buddy.sendInstantMessage(param)
            _poll_until(
                endpoint,
                lambda before=before: len(account.results) > before,
                time.monotonic() + args.timeout,
            )
        keepalive_codes = list(account.results)
    print(
        json.dumps({"action": "register", "register": registered, "keepalives": keepalive_codes}),
        flush=True,
    )
    if args.hold:
        _poll_until(endpoint, lambda: False, time.monotonic() + args.hold)
    if not args.keep_registered:
        account.shutdown()
        _poll_until(endpoint, lambda: False, time.monotonic() + 0.5)
    endpoint.libDestroy()
    return 0 if registered == 200 else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["options", "register"])
    parser.add_argument("--target", default="")
    parser.add_argument("--server", default="127.0.0.1:5060", help="registrar host:port")
    parser.add_argument("--server-id", default="34020000002000000001")
    parser.add_argument("--domain", default="3402000000")
    parser.add_argument("--device", default="34020000001320000001")
    parser.add_argument("--password", default="12345678")
    parser.add_argument("--keepalives", type=int, default=2)
    parser.add_argument("--hold", type=float, default=0.0, help="stay registered this long")
    parser.add_argument("--keep-registered", action="store_true", help="exit without unregistering")
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    if args.action == "register":
        return run_register(args)
    return run_options(args.target, args.transport, args.count, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
