"""Running sipp (Debian sip-tester) against a server on loopback, and reading its stats."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests/data/sipp"


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    seconds: float
    output: str


def write_devices(
    path: Path, count: int, platform_id: str, *, first: int = 1, password: str = "12345678"
) -> Path:
    """An injection file: `device ID;platform ID;[authentication ...]` per device.

    sipp does not expand a field inside its `[authentication]` keyword, so the whole
    keyword comes from the file (sipp's documented way for per-user credentials).
    """
    rows = []
    for index in range(count):
        device = f"34020000001320{first + index:06d}"
        auth = f"[authentication username={device} password={password}]"
        rows.append(f"{device};{platform_id};{auth}")
    path.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
    return path


def run_sipp(
    port: int,
    scenario: str,
    workdir: Path,
    *,
    calls: int,
    rate: int,
    extra: tuple[str, ...] = (),
    timeout: float = 120,
    transport: str = "u1",
    local_port: int = 0,
) -> SippResult:
    """Run `scenario` for `calls` calls at `rate`/s from one socket (`u1` UDP, `t1` one TCP
    connection) on `local_port` (0: any); bounded in time."""
    stat = workdir / f"{scenario}-{rate}.csv"
    stat.unlink(missing_ok=True)
    result = subprocess.run(
        [
            "sipp", f"127.0.0.1:{port}",
            "-sf", str(SCENARIOS / scenario),
            "-s", "34020000002000000001", "-i", "127.0.0.1", "-p", str(local_port),
            "-m", str(calls), "-r", str(rate), "-l", str(max(rate, 100)),
            "-t", transport, "-timeout", f"{int(timeout)}s", "-nostdin",
            "-buff_size", "8388608",
            "-trace_stat", "-stf", str(stat), "-fd", "1",
            *extra,
        ],
        capture_output=True, text=True, timeout=timeout + 30, cwd=workdir,
    )  # fmt: skip
    header, *rows = stat.read_text().strip().splitlines()
    columns = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
    hours, minutes, seconds = columns.get("ElapsedTime(C)", "0:0:0").split(":")[:3]
    elapsed = float(hours) * 3600 + float(minutes) * 60 + float(seconds)
    return SippResult(
        result.returncode,
        int(columns["SuccessfulCall(C)"]),
        int(columns["FailedCall(C)"]),
        elapsed,
        result.stdout[-3000:] + result.stderr[-3000:],
    )
