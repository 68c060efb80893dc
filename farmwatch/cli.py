"""The `farmwatch` command: `serve` runs a platform; `simulate` runs simulated devices;
`create-admin` creates an administrator; `audit verify` checks the audit trail's chain."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import uvloop

from farmwatch.log_config import configure_logging

if TYPE_CHECKING:
    from farmwatch.platform.db import Database
    from farmwatch.settings import Settings

# `farmwatch.settings` (with the settings of every part: a second of imports) is loaded only
# by the commands that read a configuration: a media worker reads none.
MEDIA_WORKER = "media-worker"
SIP_FRONT = "sip-front"


def _parser() -> argparse.ArgumentParser:
    from farmwatch.settings import DEFAULT_CONFIG

    parser = argparse.ArgumentParser(prog="farmwatch", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run one platform")
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML configuration (default: {DEFAULT_CONFIG} when present)",
    )
    _add_access_commands(commands)
    # Its options belong to farmwatch.simulator.cli (see `farmwatch simulate --help`).
    commands.add_parser("simulate", help="run simulated cameras/NVRs", add_help=False)
    # Started by `serve` itself ([media] workers); its spec comes on standard input.
    commands.add_parser(MEDIA_WORKER, help=argparse.SUPPRESS)
    commands.add_parser(SIP_FRONT, help=argparse.SUPPRESS)  # started by `serve` ([sip] fronts)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if arguments == [MEDIA_WORKER]:  # started by `serve`, its spec on standard input
        return _media_worker()
    if arguments == [SIP_FRONT]:  # started by `serve`, its spec on standard input
        return _sip_front()
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulate":
        from farmwatch.simulator.cli import main as simulate  # the platform never loads it

        return simulate(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "serve":
        return _serve(args.config)
    if args.command == "create-admin":
        return _create_admin(args)
    if args.command == "audit":
        return _audit_verify(args.config)
    return 2


def _config_option(parser: argparse.ArgumentParser) -> None:
    from farmwatch.settings import DEFAULT_CONFIG

    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"TOML configuration (default: {DEFAULT_CONFIG} when present)",
    )


def _add_access_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    admin = commands.add_parser(
        "create-admin",
        help="create an administrator (password on standard input)",
        description="Create an administrator. The password is read from standard input: "
        "asked twice on a terminal, one line from a pipe. With no organisation yet, the top "
        "organisation is created first.",
    )
    admin.add_argument("name", help="username (2-64 of a-z 0-9 . _ @ -)")
    _config_option(admin)
    admin.add_argument(
        "--org", default=None, help="organisation to join (created when none exists yet)"
    )
    admin.add_argument(
        "--tier",
        choices=["national", "bureau", "branch"],
        default="national",
        help="tier of the top organisation when it is created (default: national)",
    )
    admin.add_argument("--display-name", default=None, help="the person's name as shown")
    audit = commands.add_parser("audit", help="audit trail tools")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check the audit trail's hash chain",
        description="Exit 0 and print the row count when the chain holds; exit 1 naming "
        "the first broken row otherwise.",
    )
    _config_option(verify)


def _media_worker() -> int:
    from farmwatch.media.worker.server import WorkerSpec, run_worker

    spec = WorkerSpec.from_json(_child_spec())
    configure_logging(spec.log_level, json_output=spec.log_json, wire=False)
    uvloop.run(run_worker(spec))
    return 0


def _sip_front() -> int:
    from farmwatch.sipserver.front.front import run_front
    from farmwatch.sipserver.front.spec import FrontSpec

    spec = FrontSpec.from_json(_child_spec())
    configure_logging(spec.log_level, json_output=spec.log_json, wire=False)
    uvloop.run(run_front(spec))
    return 0


def _child_spec() -> str:
    """A child process's spec line (`farmwatch/child_process.py`).

    A terminal's Ctrl-C and systemd's stop signal the whole process group: the platform
    stops its children in order, and a child stops when the platform's pipe closes (also
    when the platform was killed), so a child leaves those signals to it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return sys.stdin.readline()


def _settings(config: Path | None) -> Settings | None:
    """The configuration as `serve` loads it; None (the error printed) when it is invalid."""
    from farmwatch.settings import DEFAULT_CONFIG, SettingsError, load_settings

    if config is None and DEFAULT_CONFIG.exists():
        config = DEFAULT_CONFIG
    try:
        return load_settings(config)
    except SettingsError as exc:
        print(f"farmwatch: configuration error: {exc}", file=sys.stderr)
        return None


def _serve(config: Path | None) -> int:
    # Here, not at the top: a media worker (the same command) needs none of the platform.
    from farmwatch.app import StartupError, serve

    settings = _settings(config)
    if settings is None:
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


def _read_password() -> str | None:
    """The new password from standard input: asked twice on a terminal, else one line."""
    import getpass

    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password again: ") != first:
            print("farmwatch: the two passwords differ", file=sys.stderr)
            return None
        return first
    line = sys.stdin.readline()
    return line.removesuffix("\n").removesuffix("\r")


async def _open_database(settings: Settings) -> Database | None:
    """The platform database, migrated as `serve` does; None (the error printed) if it
    cannot be opened."""
    from farmwatch.platform.db import DatabaseUnavailable, create_database, resolve_database_url

    database = create_database(
        resolve_database_url(settings.database.url, Path(settings.storage.dir))
    )
    try:
        await database.start()
    except DatabaseUnavailable as error:
        await database.close()
        print(f"farmwatch: cannot open the database {error}", file=sys.stderr)
        return None
    return database


def _create_admin(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if settings is None:
        return 2
    password = _read_password()
    if not password:
        print("farmwatch: no password given on standard input", file=sys.stderr)
        return 1
    return uvloop.run(_create_admin_in(settings, args, password))


async def _create_admin_in(settings: Settings, args: argparse.Namespace, password: str) -> int:
    from farmwatch.platform.access import OrgTier, PasswordRejected, create_access_services
    from farmwatch.platform.audit import AuditLog
    from farmwatch.platform.errors import PlatformError

    database = await _open_database(settings)
    if database is None:
        return 1
    try:
        access = create_access_services(
            database.sessions, AuditLog(database.sessions), settings.access
        )
        user, organisation = await access.administration.bootstrap_administrator(
            args.name,
            password,
            display_name=args.display_name,
            organisation_name=args.org,
            tier=OrgTier(args.tier),
        )
    except PasswordRejected as error:
        print("farmwatch: password refused:", file=sys.stderr)
        for issue in error.issues:
            print(f"  - {issue.message}", file=sys.stderr)
        return 1
    except PlatformError as error:
        print(f"farmwatch: {error}", file=sys.stderr)
        return 1
    finally:
        await database.close()
    print(
        f"administrator {user.username} created in {organisation.name} "
        f"({organisation.tier.value}, organisation {organisation.id})"
    )
    return 0


def _audit_verify(config: Path | None) -> int:
    settings = _settings(config)
    if settings is None:
        return 2
    return uvloop.run(_audit_verify_in(settings))


async def _audit_verify_in(settings: Settings) -> int:
    from farmwatch.platform.audit import AuditLog

    database = await _open_database(settings)
    if database is None:
        return 1
    try:
        result = await AuditLog(database.sessions).verify()
    finally:
        await database.close()
    if result.is_intact:
        print(f"audit trail intact: {result.rows} rows, last hash {result.head_hash}")
        return 0
    assert result.problem is not None
    print(
        f"audit trail broken at row {result.row_id} ({result.problem.value}): {result.reason}; "
        f"{result.rows} rows before it check out"
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
