"""A longer coverage-guided fuzz run of every network parser: executions, coverage, crashes.

    PYTHONPATH=. .venv/bin/python bench/fuzz.py [--minutes 5] [--seed 1] [--corpus DIR]
        [--only sip|sip-stream|express|sdp|digest|manscdp|rtp|rfc4571|ps|nal]

Runs `tests.fuzz.run_atheris` (the harness of the test suite's fuzz smoke: SIP datagrams
and streams, the express scan against the general parser, SDP, digest, MANSCDP and its
keepalive shortcut, RTP/RTCP, RFC 4571 framing, the PS demuxer, NAL/SPS) for the given
time, recording crashes instead of stopping at the first. Prints the executions and
coverage libFuzzer reached and one line per distinct crash (type and place), with the
start of an input that causes it; exits 1 when there was any. Keep `--corpus` between
runs to start where the last one ended.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PROGRESS = re.compile(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+) corp: (\d+)/\S+.*?exec/s: (\d+)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="time budget (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus directory to keep")
    parser.add_argument("--only", default=None, help="fuzz one target alone")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="farmwatch-fuzz-") as scratch:
        report = Path(scratch) / "crashes.txt"
        corpus = args.corpus or Path(scratch) / "corpus"
        command = [
            sys.executable, "-m", "tests.fuzz.run_atheris", "--keep-going",
            "--seconds", str(max(1, round(args.minutes * 60))), "--seed", str(args.seed),
            "--report", str(report), "--corpus", str(corpus),
            *(["--only", args.only] if args.only else []),
        ]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
        last: re.Match[str] | None = None
        with subprocess.Popen(
            command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True, errors="replace"
        ) as child:
            assert child.stderr is not None
            for line in child.stderr:
                progress = _PROGRESS.match(line)
                if progress is not None:
                    last = progress
                    if progress[2] in ("pulse", "INITED", "DONE"):
                        print(line.rstrip(), flush=True)
                elif line.startswith("NEW CRASH"):
                    print(line.rstrip(), flush=True)
        crashes = report.read_text().splitlines() if report.exists() else []

    if last is None:
        print(f"the fuzzer did not run (exit status {child.returncode})")
        return 2
    executions, _, coverage, features, corpus_size, rate = last.groups()
    print(
        f"\n{executions} executions ({rate}/s), coverage {coverage} edges, {features} "
        f"features, corpus {corpus_size} inputs, {len(crashes)} distinct crashes"
    )
    for crash in crashes:
        print(f"  {crash}")
    return 1 if crashes else 0


if __name__ == "__main__":
    raise SystemExit(main())
