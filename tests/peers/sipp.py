"""Running sipp (Debian sip-tester) against a server on loopback, and reading its stats."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.peers.raw_sip import free_port

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "tests/data/sipp"


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    seconds: float
    output: str
    retransmissions: int = 0
    """Requests sipp had to send again (its `Retransmissions(C)` counter)."""


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
    scenarios: Path = SCENARIOS,
    limit: int | None = None,
    local_port: int = 0,
) -> SippResult:
    """Run `scenario` (a file of `scenarios`) for `calls` calls at `rate`/s from one socket
    (`u1` UDP, `t1` one TCP connection) on `local_port` (0: a free one); bounded in time.

    Never sipp's own choice: it takes 5060 when it can, with SO_REUSEADDR, so two sipp
    processes at once (tests side by side) would share 5060 and steal each other's answers.
    """
    local_port = local_port or free_port()
    stat = workdir / f"{scenario}-{rate}.csv"
    stat.unlink(missing_ok=True)
    result = subprocess.run(
        [
            "sipp", f"127.0.0.1:{port}",
            "-sf", str(scenarios / scenario),
            "-s", "34020000002000000001", "-i", "127.0.0.1", "-p", str(local_port),
            "-m", str(calls), "-r", str(rate), "-l", str(limit or max(rate, 100)),
            "-t", transport, "-timeout", f"{int(timeout)}s", "-nostdin",
            "-buff_size", "8388608",
            "-trace_stat", "-stf", str(stat), "-fd", "1",
            *extra,
        ],
        capture_output=True, text=True, timeout=timeout + 30, cwd=workdir,
    )  # fmt: skip
    header, *rows = stat.read_text().strip().splitlines()
    columns = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
    # ElapsedTime(C) has whole seconds only; StartTime and CurrentTime end in epoch seconds
    # with microseconds ("2026-12-04\t18:24:19.729711\t1796408659.729711").
    elapsed = float(columns["CurrentTime"].split()[-1]) - float(columns["StartTime"].split()[-1])
    return SippResult(
        result.returncode,
        int(columns["SuccessfulCall(C)"]),
        int(columns["FailedCall(C)"]),
        elapsed,
        result.stdout[-3000:] + result.stderr[-3000:],
        int(columns.get("Retransmissions(C)", "0") or 0),
    )
