"""`make demo`: three farmwatch platforms cascaded on one machine, and a simulated farm.

national (127.0.0.11) <- bureau (127.0.0.12) <- branch (127.0.0.13) <- farm (127.0.0.14):
each platform is `farmwatch serve --config conf/three-tiers/<tier>.toml`, the farm is
`farmwatch simulate` registered to the branch. Once the farm's cameras have reached the
national tier the script prints where to look, and runs until Ctrl-C (`--until-ready`:
exits 0 as soon as they have, for the test of the demo).

Each tier gets an administrator `admin` with the demo password printed below (`farmwatch
create-admin`, the way an operator makes the first one); never use it beyond a demo.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "conf/three-tiers"
ADMIN = "admin"
ADMIN_PASSWORD = "Demo-Only-Password-7"
FARM_HOST = "127.0.0.14"


@dataclass(frozen=True)
class Tier:
    name: str
    platform_id: str
    host: str
    lower_id: str | None
    """The platform registered to this one (whose channel tree holds the farm)."""


TIERS = (
    Tier("national", "10000000002000000001", "127.0.0.11", "44000000002000000001"),
    Tier("bureau", "44000000002000000001", "127.0.0.12", "44010000002000000001"),
    Tier("branch", "44010000002000000001", "127.0.0.13", None),
)


class Api:
    """The REST API of one tier, logging in when it asks for it."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}/api"
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> object:
        try:
            return self._get(path)
        except urllib.error.HTTPError as error:
            if error.code != 401:
                raise
        self._login()
        return self._get(path)

    def _get(self, path: str) -> object:
        with self._opener.open(self.base + path, timeout=5) as response:
            return json.loads(response.read())

    def _login(self) -> None:
        body = json.dumps({"username": ADMIN, "password": ADMIN_PASSWORD}).encode()
        request = urllib.request.Request(
            self.base + "/login", data=body, headers={"Content-Type": "application/json"}
        )
        with self._opener.open(request, timeout=5):
            pass


def _env(data: Path, tier: Tier, web_port: int, sip_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "FARMWATCH_STORAGE_DIR": str(data / tier.name),
        "FARMWATCH_WEB_PORT": str(web_port),
        "FARMWATCH_SIP_PORT": str(sip_port),
        "FARMWATCH_UPPER_0_PORT": str(sip_port),
    }


def _create_admin(tier: Tier, env: dict[str, str]) -> None:
    config = CONFIGS / f"{tier.name}.toml"
    result = subprocess.run(
        [sys.executable, "-m", "farmwatch", "create-admin", ADMIN, "--config", str(config)],
        input=ADMIN_PASSWORD + "\n", capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    if result.returncode != 0 and "exists" not in (result.stdout + result.stderr):
        raise SystemExit(f"create-admin for the {tier.name} failed:\n{result.stderr}")


def _wait_farm(apis: dict[str, Api], farm_channels: int, timeout: float) -> None:
    """Until each upper's tree of its lower platform holds the farm's channels."""
    deadline = time.monotonic() + timeout
    for tier in TIERS:
        if tier.lower_id is None:
            continue
        while True:
            try:
                tree = apis[tier.name].get(f"/devices/{tier.lower_id}/channels")
            except (OSError, urllib.error.HTTPError):
                tree = {}
            if str(tree).count("'kind': 'channel'") >= farm_channels:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"the farm did not reach the {tier.name} tier in time")
            time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("demo-data"), help="data folder")
    parser.add_argument("--web-port", type=int, default=8081, help="the national tier's; +1, +2")
    parser.add_argument("--sip-port", type=int, default=5060, help="every tier's SIP port")
    parser.add_argument("--devices", type=int, default=2, help="cameras/NVRs at the farm")
    parser.add_argument("--channels", type=int, default=4, help="channels of each")
    parser.add_argument("--until-ready", action="store_true", help="exit once ready")
    args = parser.parse_args()
    data: Path = args.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    processes: list[subprocess.Popen[bytes]] = []
    apis: dict[str, Api] = {}
    try:
        for index, tier in enumerate(TIERS):
            env = _env(data, tier, args.web_port + index, args.sip_port)
            _create_admin(tier, env)
            log = (data / f"{tier.name}.log").open("ab")
            config = CONFIGS / f"{tier.name}.toml"
            processes.append(subprocess.Popen(
                [sys.executable, "-m", "farmwatch", "serve", "--config", str(config)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            ))  # fmt: skip
            apis[tier.name] = Api(args.web_port + index)
        farm_log = (data / "farm.log").open("ab")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "farmwatch", "simulate",
             "--server", f"127.0.0.13:{args.sip_port}", "--server-id", TIERS[2].platform_id,
             "--password", "farm-demo-1", "--bind", FARM_HOST,
             "--devices", str(args.devices), "--channels", str(args.channels)],
            stdout=farm_log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
        _wait_farm(apis, args.devices * args.channels, timeout=60)
        print("farmwatch three-tier demo is up:")
        for index, tier in enumerate(TIERS):
            print(f"  {tier.name:9} http://127.0.0.1:{args.web_port + index}/  "
                  f"(SIP {tier.host}:{args.sip_port}, log {data / tier.name}.log)")  # fmt: skip
        print(f"  log in as {ADMIN} / {ADMIN_PASSWORD} (demo only)")
        print(f"  the farm: {args.devices} devices x {args.channels} channels at {FARM_HOST}")
        print(f"National platform: http://127.0.0.1:{args.web_port}/")
        if args.until_ready:
            return 0
        # Blocked only now: the children, started above, keep the default handling.
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        for process in reversed(processes):  # the farm first, the national tier last
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    sys.exit(main())
