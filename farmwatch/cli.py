"""The `farmwatch` command: `serve` runs a platform; `simulate` runs simulated devices."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from farmwatch.log_config import configure_logging
from farmwatch.settings import DEFAULT_CONFIG, SettingsError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farmwatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run one platform")
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML configuration (default: {DEFAULT_CONFIG} when present)",
    )
    # Its options belong to farmwatch.simulator.cli (see `farmwatch simulate --help`).
    commands.add_parser("simulate", help="run simulated cameras/NVRs", add_help=False)
    # Started by `serve` itself ([media] workers); its spec comes on standard input.
    commands.add_parser("media-worker", help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulate":
        from farmwatch.simulator.cli import main as simulate  # the platform never loads it

        return simulate(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        return _serve(args.config)
    if args.command == "media-worker":
        return _media_worker()
    return 2


def _media_worker() -> int:
    from farmwatch.media.worker.server import WorkerSpec, run_worker

    # A terminal's Ctrl-C and systemd's stop signal the whole process group: the platform
    # stops its workers in order, and a worker stops when the platform's pipe closes (also
    # when the platform was killed), so a worker leaves those signals to it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    spec = WorkerSpec.from_json(sys.stdin.readline())
    configure_logging(spec.log_level, json_output=spec.log_json, wire=False)
    uvloop.run(run_worker(spec))
    return 0


def _serve(config: Path | None) -> int:
    # Here, not at the top: a media worker (the same command) needs none of the platform.
    from farmwatch.app import StartupError, serve

    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    try:
        settings = load_settings(config)
    except SettingsError as exc:
        print(f"farmwatch: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log.level, json_output=settings.log.json, wire=settings.log.wire)
    try:
        uvloop.run(serve(settings))
    except StartupError as exc:
        print(f"farmwatch: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"farmwatch: cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
