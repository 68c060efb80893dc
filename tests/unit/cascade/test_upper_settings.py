"""`[[upper]]` tables: loaded, overridden per index from the environment, validated."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from farmwatch.cascade.settings import ShareMode, UpperTransport
from farmwatch.settings import SettingsError, load_settings

UPPER = """
[[upper]]
name = "bureau"
id = "44000000002000000001"
domain = "4400000000"
host = "10.0.0.10"
password = "secret"
"""


def test_two_uppers_load_with_their_defaults(tmp_path: Path) -> None:
    text = UPPER + UPPER.replace('"bureau"', '"national"').replace(
        "44000000002000000001", "10000000002000000001"
    ).replace('domain = "4400000000"', 'domain = "1000000000"\ntransport = "TCP"')
    settings = load_settings(_write(tmp_path, text), environ={})
    bureau, national = settings.upper
    assert (bureau.name, bureau.port, bureau.upper_transport) == (
        "bureau",
        5060,
        UpperTransport.UDP,
    )
    assert bureau.items_per_message == 1  # one item per message over UDP
    assert national.upper_transport is UpperTransport.TCP and national.items_per_message == 20
    assert bureau.share_mode is ShareMode.ALL
    assert bureau.register_expires == 3600 and bureau.keepalive_interval == 60


def test_the_environment_overrides_a_key_of_the_nth_upper(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path, UPPER), environ={"FARMWATCH_UPPER_0_PORT": "5070"})
    assert settings.upper[0].port == 5070


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "44000000002000000001"', 'id = "4400"'), "upper[0].id: expected a 20-digit"),
        (('host = "10.0.0.10"', 'host = ""'), "upper[0].host: must not be empty"),
        (("password", 'transport = "sctp"\npassword'), "upper[0].transport: expected udp or tcp"),
        (("password", "share = 'some'\npassword"), "upper[0].share: expected all or selected"),
        (("password", "share_devices = ['x']\npassword"), "upper[0].share_*: expected 20-digit"),
        (("password", "keepalive_interval = 0\npassword"), "upper[0].keepalive_interval"),
        (("password", "prot = 1\npassword"), "upper[0]: unknown key(s) prot"),
        (('id = "44000000002000000001"', 'id = "34020000002000000001"'),
         "upper[0].id: the upper's ID is the ID we present to it"),
    ],
)  # fmt: skip
def test_a_wrong_upper_is_refused_naming_the_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        load_settings(_write(tmp_path, UPPER.replace(*change)), environ={})


def test_the_same_upper_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="a second upper with ID 44000000002000000001"):
        load_settings(_write(tmp_path, UPPER + UPPER), environ={})


def test_two_uppers_of_one_name_are_refused(tmp_path: Path) -> None:
    """A share edited through the API is kept by the upper's name."""
    other = UPPER.replace("44000000002000000001", "10000000002000000001")
    with pytest.raises(SettingsError, match=r"upper\[1\]\.name: a second upper named 'bureau'"):
        load_settings(_write(tmp_path, UPPER + other), environ={})
    long_name = UPPER.replace('"bureau"', '"' + "b" * 65 + '"')
    with pytest.raises(SettingsError, match=r"upper\[0\]\.name: at most 64 characters"):
        load_settings(_write(tmp_path, long_name), environ={})


def _write(tmp_path: Path, text: str) -> Path:
    config = tmp_path / "c.toml"
    config.write_text(text)
    return config
