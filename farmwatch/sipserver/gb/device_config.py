"""Device configuration values (GB/T 28181-2016 A.2.3 b, A.2.4 f, A.2.6 j; the 2022
families; gb28181.md §4.9): what `Control/DeviceConfig` writes and `ConfigDownload` reads.

A configuration family (`ConfigType`: BasicParam, and the 2022 VideoParamAttribute,
OSDConfig, VideoRecordPlan, VideoAlarmRecord, PictureMask, FrameMirror, AlarmReport,
SnapShotConfig, ...) is kept as a `ConfigElement` tree: its element name, text and children
in order, because vendors and the two editions differ in the nested fields. `BasicParam`
(name, registration expiry, heartbeat interval and count) is also typed and checked.

`config_from_mapping` turns a JSON-like value (`{"FrameMirrorType": 1}`, nested objects,
lists of objects for repeated elements) into a tree, strictly: known families only, XML
names only, scalar leaves. `config_to_mapping` is its inverse for what a device sent.
Pure: values in, values out.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = [
    "BasicParam",
    "ConfigElement",
    "ConfigError",
    "ConfigType",
    "config_from_mapping",
    "config_to_mapping",
]

_XML_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,63}")
_MAX_DEPTH = 6
_MAX_ELEMENTS = 512
_MAX_TEXT = 1024


class ConfigError(ValueError):
    """A configuration value this platform will not send (the message names the field)."""


class ConfigType(enum.StrEnum):
    """`ConfigType` of ConfigDownload and the element names DeviceConfig carries."""

    BASIC_PARAM = "BasicParam"
    VIDEO_PARAM_OPT = "VideoParamOpt"
    SVAC_ENCODE_CONFIG = "SVACEncodeConfig"
    SVAC_DECODE_CONFIG = "SVACDecodeConfig"
    VIDEO_PARAM_ATTRIBUTE = "VideoParamAttribute"
    VIDEO_RECORD_PLAN = "VideoRecordPlan"
    VIDEO_ALARM_RECORD = "VideoAlarmRecord"
    PICTURE_MASK = "PictureMask"
    FRAME_MIRROR = "FrameMirror"
    ALARM_REPORT = "AlarmReport"
    OSD_CONFIG = "OSDConfig"
    SNAPSHOT_CONFIG = "SnapShotConfig"

    @classmethod
    def from_wire(cls, text: str) -> ConfigType | None:
        """Case-insensitive lookup of a stripped name; None when unknown."""
        return _FOLDED.get(text.strip().casefold())


_FOLDED = {member.value.casefold(): member for member in ConfigType}
READ_ONLY = frozenset({ConfigType.VIDEO_PARAM_OPT})
"""Families ConfigDownload reports but DeviceConfig does not write."""


@dataclass(frozen=True, slots=True)
class ConfigElement:
    """One element of a configuration: name, stripped text (None if empty), children."""

    name: str
    text: str | None = None
    children: tuple[ConfigElement, ...] = ()

    def child(self, name: str) -> ConfigElement | None:
        """The first child called `name`, ignoring case."""
        folded = name.casefold()
        return next((c for c in self.children if c.name.casefold() == folded), None)

    def child_text(self, name: str) -> str | None:
        found = self.child(name)
        return None if found is None else found.text


_INTEGER = re.compile(r"[+-]?[0-9]{1,18}")


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    stripped = text.strip()
    return int(stripped) if _INTEGER.fullmatch(stripped) else None


def _float_or_none(text: str | None) -> float | None:
    try:
        value = float(text) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _check(name: str, value: int | None, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"BasicParam.{name}: expected an integer {low}..{high}, got {value!r}")


@dataclass(frozen=True, slots=True)
class BasicParam:
    """`BasicParam` (基本参数配置): device name, registration expiry (s), heartbeat
    interval (s) and how many missed heartbeats mean offline. ConfigDownload adds the
    position capability (0 none, 1 GPS, 2 BeiDou) and the device's position. A field left
    None is not written (the device keeps its value)."""

    name: str | None = None
    expiration: int | None = None
    heartbeat_interval: int | None = None
    heartbeat_count: int | None = None
    position_capability: int | None = None
    longitude: float | None = None
    latitude: float | None = None

    def __post_init__(self) -> None:
        if self.name is not None and (len(self.name) > 64 or not self.name.isprintable()):
            raise ConfigError("BasicParam.Name: at most 64 printable characters")
        _check("Expiration", self.expiration, 1, 2**31 - 1)
        _check("HeartBeatInterval", self.heartbeat_interval, 1, 86400)
        _check("HeartBeatCount", self.heartbeat_count, 1, 255)
        _check("PositionCapability", self.position_capability, 0, 9)

    @classmethod
    def from_element(cls, element: ConfigElement) -> BasicParam:
        """Tolerant: a value that does not read as its type is left None."""
        texts = element.child_text

        def ranged(name: str, low: int, high: int) -> int | None:
            value = _int_or_none(texts(name))
            return value if value is not None and low <= value <= high else None

        name = texts("Name")
        return cls(
            name=name if name is not None and len(name) <= 64 and name.isprintable() else None,
            expiration=ranged("Expiration", 1, 2**31 - 1),
            heartbeat_interval=ranged("HeartBeatInterval", 1, 86400),
            heartbeat_count=ranged("HeartBeatCount", 1, 255),
            position_capability=ranged("PositionCapability", 0, 9),
            longitude=_float_or_none(texts("Longitude")),
            latitude=_float_or_none(texts("Latitude")),
        )

    def to_element(self) -> ConfigElement:
        fields: tuple[tuple[str, object], ...] = (
            ("Name", self.name),
            ("Expiration", self.expiration),
            ("HeartBeatInterval", self.heartbeat_interval),
            ("HeartBeatCount", self.heartbeat_count),
            ("PositionCapability", self.position_capability),
            ("Longitude", self.longitude),
            ("Latitude", self.latitude),
        )
        children = tuple(
            ConfigElement(name, str(value)) for name, value in fields if value is not None
        )
        return ConfigElement(ConfigType.BASIC_PARAM.value, None, children)


# -- JSON-like values <-> trees --------------------------------------------------------------


def _leaf_text(path: str, value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"{path}: not a finite number")
        return repr(value)
    if isinstance(value, str):
        if len(value) > _MAX_TEXT or any(not c.isprintable() for c in value):
            raise ConfigError(f"{path}: at most {_MAX_TEXT} printable characters")
        return value
    raise ConfigError(f"{path}: expected a string, number, boolean, object or list")


class _Budget:
    def __init__(self) -> None:
        self.left = _MAX_ELEMENTS

    def take(self, path: str) -> None:
        self.left -= 1
        if self.left < 0:
            raise ConfigError(f"{path}: more than {_MAX_ELEMENTS} elements")


def _elements(
    name: str, value: object, path: str, depth: int, budget: _Budget
) -> list[ConfigElement]:
    if not _XML_NAME.fullmatch(name):
        raise ConfigError(f"{path}: not an XML element name")
    if depth > _MAX_DEPTH:
        raise ConfigError(f"{path}: nested deeper than {_MAX_DEPTH}")
    if isinstance(value, Mapping):
        budget.take(path)
        children: list[ConfigElement] = []
        for key, child in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{path}: keys must be strings")
            children += _elements(key, child, f"{path}.{key}", depth + 1, budget)
        return [ConfigElement(name, None, tuple(children))]
    if isinstance(value, list | tuple):
        items: list[ConfigElement] = []
        for index, item in enumerate(value):
            if isinstance(item, list | tuple):
                raise ConfigError(f"{path}[{index}]: a list inside a list")
            items += _elements(name, item, f"{path}[{index}]", depth, budget)
        return items
    budget.take(path)
    return [ConfigElement(name, _leaf_text(path, value))]


def config_from_mapping(family: str, value: object) -> ConfigElement:
    """The tree DeviceConfig writes for `{family: value}`; `ConfigError` naming the field.

    BasicParam is checked field by field (`Name`, `Expiration`, `HeartBeatInterval`,
    `HeartBeatCount`); the other families take any object of XML-named fields.
    """
    config_type = ConfigType.from_wire(family)
    if config_type is None:
        known = ", ".join(t.value for t in ConfigType if t not in READ_ONLY)
        raise ConfigError(f"{family[:40]}: not a configuration family ({known})")
    if config_type in READ_ONLY:
        raise ConfigError(f"{config_type.value}: read-only (ConfigDownload only)")
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"{config_type.value}: expected a non-empty object")
    if config_type is ConfigType.BASIC_PARAM:
        return _basic_param(value).to_element()
    (element,) = _elements(config_type.value, value, config_type.value, 0, _Budget())
    return element


_BASIC_FIELDS = {
    "name": "name",
    "expiration": "expiration",
    "heartbeatinterval": "heartbeat_interval",
    "heartbeatcount": "heartbeat_count",
}


def _basic_param(value: Mapping[object, object]) -> BasicParam:
    fields: dict[str, object] = {}
    for key, item in value.items():
        attribute = _BASIC_FIELDS.get(str(key).casefold())
        if attribute is None:
            raise ConfigError(
                f"BasicParam.{str(key)[:40]}: not a field "
                "(Name, Expiration, HeartBeatInterval, HeartBeatCount)"
            )
        if attribute == "name" and not isinstance(item, str):
            raise ConfigError("BasicParam.Name: expected a string")
        fields[attribute] = item
    return BasicParam(**fields)  # type: ignore[arg-type]  # checked by __post_init__


def _value(element: ConfigElement) -> object:
    if not element.children:
        return element.text if element.text is not None else ""
    result: dict[str, object] = {}
    for child in element.children:
        value = _value(child)
        if child.name in result:
            existing = result[child.name]
            if isinstance(existing, list):
                existing.append(value)
            else:
                result[child.name] = [existing, value]
        else:
            result[child.name] = value
    return result


def config_to_mapping(element: ConfigElement) -> object:
    """What a device sent as a JSON-like value: an object of its children (repeated names
    become lists), or its text for a leaf. Numbers stay text, as sent."""
    return _value(element)
