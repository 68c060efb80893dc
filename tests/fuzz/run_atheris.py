"""Coverage-guided fuzzing of every network parser with atheris (libFuzzer), in one process.

    python -m tests.fuzz.run_atheris [--runs N | --seconds S] [--seed 1] [--keep-going]
        [--report FILE] [--corpus DIR] [--only TARGET]

All targets of `tests.fuzz.targets` share one libFuzzer run: an input's first byte picks
its target, so coverage found in one parser steers mutations there (`--only` fuzzes one
target alone). The parsers are instrumented for coverage (the seeds and checks are not).
The corpus starts as the seeds from tests/data (written to `--corpus`, a temporary
directory by default). libFuzzer prints its progress (`#N ... cov: ... exec/s: ...`) on stderr and
exits when the budget is spent: with status 0, or on the first crash (an exception a
parser does not document) with its traceback and a non-zero status. With `--keep-going`
crashes are recorded instead, one line per distinct place, in `--report`, and the run
goes on (bench/fuzz.py uses this).

libFuzzer ends the process itself, so this module is run as a child process.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import traceback
from pathlib import Path

import atheris

# Coverage of the parsers steers the mutations; instrumenting the rest of what they import
# (the media package pulls in PyAV, for one) would only slow the start.
_PARSERS = [
    "farmwatch.sipserver.sip",
    "farmwatch.sipserver.gb",
    "farmwatch.media.rtp",
    "farmwatch.media.rfc4571",
    "farmwatch.media.ps_demux",
    "farmwatch.media.psm",
    "farmwatch.media.access_unit",
    "farmwatch.media.nal",
]
with atheris.instrument_imports(include=_PARSERS):
    from tests.fuzz.targets import MAX_INPUT, TARGETS, corpus, run_one, seeds_of


def _signature(error: BaseException) -> str:
    """Where an error was raised, as `Type at file:line`: one line per distinct crash."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if "/farmwatch/" in frame.filename] or frames
    last = ours[-1] if ours else None
    where = f"{Path(last.filename).name}:{last.lineno}" if last is not None else "?"
    return f"{type(error).__name__} at {where}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="inputs to run, then stop")
    parser.add_argument("--seconds", type=int, default=None, help="time budget, then stop")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed")
    parser.add_argument("--corpus", type=Path, default=None, help="corpus directory (kept)")
    parser.add_argument("--keep-going", action="store_true", help="record crashes, go on")
    parser.add_argument("--report", type=Path, default=None, help="crash lines (--keep-going)")
    names = [target.name for target in TARGETS]
    parser.add_argument("--only", choices=names, default=None, help="fuzz this target alone")
    args = parser.parse_args()

    only = TARGETS[names.index(args.only)] if args.only is not None else None
    run = only.run if only is not None else run_one
    corpus_dir = args.corpus or Path(tempfile.mkdtemp(prefix="farmwatch-fuzz-"))
    corpus_dir.mkdir(parents=True, exist_ok=True)
    for seed in seeds_of(only) if only is not None else corpus():
        (corpus_dir / hashlib.sha1(seed).hexdigest()).write_bytes(seed[:MAX_INPUT])
    libfuzzer = [
        sys.argv[0],
        f"-seed={args.seed}",
        f"-max_len={MAX_INPUT}",
        "-timeout=10",  # seconds for one input: a hang is a crash
        "-rss_limit_mb=2048",
        f"-artifact_prefix={corpus_dir}/crash-",
        "-print_final_stats=1",
        "-reload=0",  # no time-driven corpus reloads: the same seed makes the same run
    ]
    if args.runs is not None:
        libfuzzer.append(f"-runs={args.runs}")
    if args.seconds is not None:
        libfuzzer.append(f"-max_total_time={args.seconds}")
    libfuzzer.append(str(corpus_dir))

    seen: set[str] = set()

    def test_one_input(data: bytes) -> None:
        if not args.keep_going:
            run(data)
            return
        try:
            run(data)
        except Exception as error:  # the point of --keep-going: note it, carry on
            signature = _signature(error)
            if signature not in seen:
                seen.add(signature)
                if only is not None:
                    target = only.name
                else:
                    target = TARGETS[data[0] % len(TARGETS)].name if data else "?"
                line = f"{target}: {signature}: {error!r:.200} input={data[:120]!r}"
                print(f"NEW CRASH {line}", file=sys.stderr, flush=True)
                if args.report is not None:
                    with args.report.open("a") as report:
                        report.write(line + "\n")

    atheris.Setup(libfuzzer, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
