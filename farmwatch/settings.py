"""Configuration: one frozen dataclass per section, loaded from TOML and the environment.

`load_settings(path)` reads `conf/farmwatch.toml` (or the file given), then applies
`FARMWATCH_<SECTION>_<KEY>` environment overrides, converts every value to the
field's type and validates it. A wrong key or value raises `SettingsError` naming it
(`sip.port: expected 1..65535, got 0`), so a typo never silently falls back to a
default. Each part declares its own section type; this module only composes them.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from farmwatch.cascade.settings import UpperSettings, validate_uppers
from farmwatch.media.settings import MediaSettings
from farmwatch.platform.settings import AccessSettings, LiveSettings, RecordingsSettings
from farmwatch.platform.supervision.settings import SupervisionSettings
from farmwatch.sipserver.settings import RegistrarSettings, SipSettings

DEFAULT_CONFIG = Path("conf/farmwatch.toml")
ENV_PREFIX = "FARMWATCH_"


class SettingsError(ValueError):
    """A configuration key or value is invalid; the message names the key."""


@dataclass(frozen=True, slots=True)
class WebSettings:
    """`allowed_hosts`: host names the web server answers to besides its own (`host`,
    localhost, loopback and any IP address); "*" answers to any name. `allowed_origins`:
    pages (scheme://host[:port]) besides the server's own that may POST, PUT, PATCH or
    DELETE. `tls_cert`, `tls_key`: PEM files; both given, the server speaks HTTPS only.
    `public_url`: scheme://host[:port] devices reach the web server on (the upload address
    of the pictures they take on request); empty: this server's own `host` and `port`."""

    host: str = "127.0.0.1"
    port: int = 8080
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    tls_cert: str = ""
    tls_key: str = ""
    public_url: str = ""

    @property
    def is_tls(self) -> bool:
        return bool(self.tls_cert)

    @property
    def device_url(self) -> str | None:
        """Where devices reach this server: `public_url`, else `host` and `port` unless
        `host` is a wildcard (no device can be told to use 0.0.0.0): then None."""
        if self.public_url:
            return self.public_url.rstrip("/")
        if self.host in ("", "0.0.0.0", "::", "[::]"):
            return None
        host = f"[{self.host}]" if ":" in self.host and not self.host.startswith("[") else self.host
        return f"{'https' if self.is_tls else 'http'}://{host}:{self.port}"

    def validate(self) -> list[str]:
        errors = []
        if bool(self.tls_cert) != bool(self.tls_key):
            errors.append("web.tls_cert, web.tls_key: give both (HTTPS) or neither (HTTP)")
        if not 0 < self.port < 65536:
            errors.append(f"web.port: expected 1..65535, got {self.port}")
        for name in self.allowed_hosts:
            if name != "*" and _HOST_NAME.fullmatch(name) is None:
                errors.append(
                    f"web.allowed_hosts: expected host names or IP addresses without a port "
                    f'(or "*"), got {name!r}'
                )
        if self.public_url and _ORIGIN.fullmatch(self.public_url.rstrip("/")) is None:
            errors.append(
                f"web.public_url: expected scheme://host[:port] (http or https, no path), "
                f"got {self.public_url!r}"
            )
        for origin in self.allowed_origins:
            if _ORIGIN.fullmatch(origin) is None:
                errors.append(
                    f"web.allowed_origins: expected scheme://host[:port] (http or https, "
                    f"no path), got {origin!r}"
                )
        return errors


# A DNS name (letters, digits, '-', '.', '_'), an IPv4 address, or an IPv6 one in brackets or not.
_HOST_NAME = re.compile(r"[A-Za-z0-9_.-]+|\[?[0-9A-Fa-f:.]+\]?")
_ORIGIN = re.compile(r"https?://([A-Za-z0-9_.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?", re.I)


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """`url` empty means SQLite in the storage directory."""

    url: str = ""

    def validate(self) -> list[str]:
        if not self.url:
            return []
        expected = (
            "database.url: expected sqlite+aiosqlite:///<file> or "
            "postgresql+asyncpg://user@host:port/name (or empty: SQLite in storage.dir)"
        )
        try:
            parsed = make_url(self.url)
        except (ArgumentError, ValueError):
            return [f"{expected}; the value given does not parse"]  # it may hold a password
        if parsed.drivername not in DATABASE_DRIVERS:
            return [f"{expected}, got {parsed.render_as_string(hide_password=True)}"]
        return []


# The async drivers farmwatch ships with.
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


@dataclass(frozen=True, slots=True)
class StorageSettings:
    dir: str = "data"

    def validate(self) -> list[str]:
        return [] if self.dir else ["storage.dir: must not be empty"]


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"
    json: bool = False
    wire: bool = False

    def validate(self) -> list[str]:
        if self.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            return [f"log.level: expected DEBUG, INFO, WARNING or ERROR, got {self.level!r}"]
        return []


@dataclass(frozen=True, slots=True)
class Settings:
    sip: SipSettings = field(default_factory=SipSettings)
    registrar: RegistrarSettings = field(default_factory=RegistrarSettings)
    media: MediaSettings = field(default_factory=MediaSettings)
    live: LiveSettings = field(default_factory=LiveSettings)
    recordings: RecordingsSettings = field(default_factory=RecordingsSettings)
    access: AccessSettings = field(default_factory=AccessSettings)
    supervision: SupervisionSettings = field(default_factory=SupervisionSettings)
    web: WebSettings = field(default_factory=WebSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    log: LogSettings = field(default_factory=LogSettings)
    upper: tuple[UpperSettings, ...] = ()
    """`[[upper]]` tables: the upper platforms this one registers to."""


T = TypeVar("T")
_SECTION_LISTS = ("upper",)


def load_settings(path: Path | None = None, environ: Mapping[str, str] | None = None) -> Settings:
    """Load `path` (or only defaults when None), apply environment overrides, validate."""
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as handle:
                raw = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise SettingsError(f"config file not found: {path}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from exc
    env = os.environ if environ is None else environ
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Settings)
    for section in dataclasses.fields(Settings):
        if section.name in _SECTION_LISTS:
            continue
        section_type = hints[section.name]
        values = raw.pop(section.name, {})
        if not isinstance(values, dict):
            raise SettingsError(f"{section.name}: expected a table")
        values = {**values, **_env_overrides(section.name, section_type, env)}
        sections[section.name] = _build_section(section.name, section_type, values)
    uppers = _build_uppers(raw.pop("upper", []), env)
    if raw:
        raise SettingsError(f"unknown section(s): {', '.join(sorted(raw))}")
    settings = Settings(**sections, upper=uppers)
    errors = [e for name in sections for e in sections[name].validate()]
    errors.extend(validate_uppers(uppers, settings.sip.id))
    if errors:
        raise SettingsError("; ".join(errors))
    return settings


def _build_uppers(values: Any, env: Mapping[str, str]) -> tuple[UpperSettings, ...]:
    """`[[upper]]` tables; `FARMWATCH_UPPER_<N>_<KEY>` overrides a key of the N-th (from 0)."""
    if not isinstance(values, list) or not all(isinstance(item, dict) for item in values):
        raise SettingsError("upper: expected [[upper]] tables")
    uppers = []
    for index, table in enumerate(values):
        section = f"upper[{index}]"
        overrides = _env_overrides(f"upper_{index}", UpperSettings, env)
        uppers.append(_build_section(section, UpperSettings, {**table, **overrides}))
    return tuple(uppers)


def _env_overrides(section: str, section_type: type[Any], env: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in dataclasses.fields(section_type):
        key = f"{ENV_PREFIX}{section.upper()}_{item.name.upper()}"
        if key in env:
            out[item.name] = env[key]
    return out


def _build_section(section: str, section_type: type[T], values: dict[str, Any]) -> T:
    hints = typing.get_type_hints(section_type)
    known = {f.name for f in dataclasses.fields(section_type)}  # type: ignore[arg-type]
    unknown = set(values) - known
    if unknown:
        raise SettingsError(f"{section}: unknown key(s) {', '.join(sorted(unknown))}")
    converted = {
        name: _convert(f"{section}.{name}", hints[name], value) for name, value in values.items()
    }
    return section_type(**converted)


def _convert(key: str, target: Any, value: Any) -> Any:
    origin = typing.get_origin(target)
    if origin in (typing.Union, types.UnionType):
        options = [t for t in typing.get_args(target) if t is not type(None)]
        return _convert(key, options[0], value)
    if origin is tuple:  # tuple[str, ...]: a TOML list, or "a, b" in the environment
        items = [item.strip() for item in value.split(",")] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise SettingsError(f"{key}: expected a list of strings, got {value!r}")
        return tuple(item for item in items if item)
    if target is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
            return True
        if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{key}: expected true or false, got {value!r}")
    if target is int or target is float:
        if isinstance(value, bool):
            raise SettingsError(f"{key}: expected a number, got {value!r}")
        try:
            return target(value)
        except (TypeError, ValueError) as exc:
            raise SettingsError(f"{key}: expected a number, got {value!r}") from exc
    if target is str:
        if isinstance(value, str | int):
            return str(value)
        raise SettingsError(f"{key}: expected a string, got {value!r}")
    raise SettingsError(f"{key}: unsupported setting type {target!r}")
