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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["options"])
    parser.add_argument("--target", required=True)
    parser.add_argument("--transport", choices=["udp", "tcp"], default="udp")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=5.0)
    args = parser.parse_args()
    return run_options(args.target, args.transport, args.count, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
