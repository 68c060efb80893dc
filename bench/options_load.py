"""OPTIONS transactions/s answered over UDP by `farmwatch serve` under sipp load.

    .venv/bin/python bench/options_load.py [--rates 1000,2000,4000,8000] [--seconds 5]

For each offered rate sipp sends OPTIONS for `--seconds`; the script prints the calls
answered, failed, the achieved rate and the server's CPU (% of one core) and RSS.
Loopback only; every run is bounded by sipp's `-m` count and a timeout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from tests.peers.server_process import ROOT, start_server, stop_server

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _run_sipp(port: int, rate: int, seconds: float, workdir: Path) -> tuple[int, int, float]:
    stat = workdir / f"stat-{rate}.csv"
    count = int(rate * seconds)
    result = subprocess.run(
        [
            "sipp", f"127.0.0.1:{port}",
            "-sf", str(ROOT / "tests/data/sipp/options_uac.xml"),
            "-s", "34020000002000000001", "-i", "127.0.0.1", "-p", "0",
            "-m", str(count), "-r", str(rate), "-l", str(max(rate, 100)),
            "-t", "u1", "-timeout", f"{int(seconds * 4 + 30)}s", "-nostdin",
            "-trace_stat", "-stf", str(stat), "-fd", "1",
        ],
        capture_output=True, text=True, timeout=seconds * 4 + 60, cwd=workdir,
    )  # fmt: skip
    header, *rows = stat.read_text().strip().splitlines()
    columns = dict(zip(header.split(";"), rows[-1].split(";"), strict=False))
    elapsed = columns.get("ElapsedTime(C)", "0:0:1").split(":")
    duration = float(elapsed[0]) * 3600 + float(elapsed[1]) * 60 + float(elapsed[2])
    if result.returncode not in (0, 1):
        print(result.stdout[-500:], result.stderr[-500:])
    return int(columns["SuccessfulCall(C)"]), int(columns["FailedCall(C)"]), duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rates", default="1000,2000,4000,8000")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = start_server(workdir)
        try:
            for rate in (int(r) for r in args.rates.split(",")):
                cpu_before = _cpu_seconds(server.process.pid)
                ok, failed, duration = _run_sipp(server.sip_port, rate, args.seconds, workdir)
                cpu = (_cpu_seconds(server.process.pid) - cpu_before) / max(duration, 1e-3)
                print(
                    f"offered {rate:>6}/s: answered {ok:>7} failed {failed:>5} "
                    f"achieved {ok / max(duration, 1e-3):>8,.0f}/s  server CPU {cpu * 100:5.1f}% "
                    f"RSS {_rss_mb(server.process.pid):6.1f} MB"
                )
        finally:
            stop_server(server)


if __name__ == "__main__":
    main()
