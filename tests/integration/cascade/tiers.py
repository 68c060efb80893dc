"""Platforms cascaded on loopback for the cascade tests: each tier binds its own address.

Every hop crosses different addresses (127.0.0.11 national, .12 bureau, .13 branch, .14 the
simulated farm), so an SDP, Via or Contact carrying the wrong one fails the test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.peers.server_process import CONFIG, RunningServer, start_server


@dataclass(frozen=True)
class Tier:
    name: str
    platform_id: str
    domain: str
    host: str


NATIONAL = Tier("national", "10000000002000000001", "1000000000", "127.0.0.11")
BUREAU = Tier("bureau", "44000000002000000001", "4400000000", "127.0.0.12")
BRANCH = Tier("branch", "44010000002000000001", "4401000000", "127.0.0.13")
FARM_HOST = "127.0.0.14"
PASSWORD = "cascade-secret-1"


@dataclass(frozen=True)
class UpperLinkConfig:
    """One `[[upper]]` table pointing at a running tier."""

    tier: Tier
    port: int
    """The tier's SIP port (`RunningServer.sip_port`, or the one it is started with)."""
    transport: str = "udp"
    keepalive_interval: float = 2.0
    keepalive_timeout_count: int = 2
    retry_interval: float = 1.0
    extra: str = ""

    def toml(self) -> str:
        return (
            "\n[[upper]]\n"
            f'name = "{self.tier.name}"\n'
            f'id = "{self.tier.platform_id}"\n'
            f'domain = "{self.tier.domain}"\n'
            f'host = "{self.tier.host}"\n'
            f"port = {self.port}\n"
            f'transport = "{self.transport}"\n'
            f'password = "{PASSWORD}"\n'
            "register_expires = 120\n"
            f"keepalive_interval = {self.keepalive_interval}\n"
            f"keepalive_timeout_count = {self.keepalive_timeout_count}\n"
            f"retry_interval = {self.retry_interval}\n" + self.extra
        )


def start_tier(
    tmp_path: Path,
    tier: Tier,
    uppers: tuple[UpperLinkConfig, ...] = (),
    *,
    sip_port: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> RunningServer:
    """`farmwatch serve` as `tier`, registering to `uppers`; devices and lower platforms
    register to it with `PASSWORD`."""
    folder = tmp_path / tier.name
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "farmwatch.toml"
    config.write_text(CONFIG.read_text("utf-8") + "".join(u.toml() for u in uppers), "utf-8")
    env = {
        "FARMWATCH_SIP_ID": tier.platform_id,
        "FARMWATCH_SIP_DOMAIN": tier.domain,
        "FARMWATCH_SIP_PASSWORD": PASSWORD,
        "FARMWATCH_MEDIA_WORKERS": "0",
        **(extra_env or {}),
    }
    return start_server(folder, env, host=tier.host, config=config, sip_port=sip_port)
