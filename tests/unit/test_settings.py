"""Configuration loading: the TOML file, environment overrides and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from farmwatch.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_config_loads_with_documented_defaults() -> None:
    settings = load_settings(ROOT / "conf/farmwatch.toml", environ={})
    assert settings.sip.port == 5060
    assert settings.sip.domain == "3402000000"
    assert settings.database.url == ""


def test_every_shipped_key_is_commented() -> None:
    lines = (ROOT / "conf/farmwatch.toml").read_text().splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.lstrip().startswith("#"):
            assert lines[index - 1].lstrip().startswith("#"), f"undocumented key: {line}"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[sip]\nport = 5062\n[log]\njson = false\n")
    settings = load_settings(
        config, environ={"FARMWATCH_SIP_PORT": "5070", "FARMWATCH_LOG_JSON": "true"}
    )
    assert settings.sip.port == 5070
    assert settings.log.json is True


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[sip]\nport = 0\n", "sip.port: expected 1..65535, got 0"),
        ("[sip]\nport = 'x'\n", "sip.port: expected a number"),
        ("[sip]\nprot = 5060\n", "sip: unknown key(s) prot"),
        ("[sipp]\nport = 5060\n", "unknown section(s): sipp"),
        ("[sip]\nid = '123'\n", "sip.id: expected 20 digits"),
        ("[log]\njson = 'maybe'\n", "log.json: expected true or false"),
        ("[sip\n", "c.toml"),
        ("[live]\nwebrtc_addresses = 5\n", "live.webrtc_addresses: expected a list"),
        ("[live]\nwebrtc_addresses = [1]\n", "live.webrtc_addresses: expected a list of strings"),
        (
            "[live]\nwebrtc_addresses = ['farm.example']\n",
            "live.webrtc_addresses: 'farm.example' is not an IP address",
        ),
        (
            "[live]\nwebrtc_addresses = ['0.0.0.0']\n",
            "live.webrtc_addresses: '0.0.0.0' is not one interface's address",
        ),
        ("[web]\nallowed_hosts = 5\n", "web.allowed_hosts: expected a list of strings"),
        ("[web]\nallowed_hosts = ['a.example:8080']\n", "web.allowed_hosts: expected host names"),
        ("[web]\nallowed_hosts = ['http://a.example']\n", "web.allowed_hosts: expected host"),
        ("[web]\nallowed_origins = ['a.example']\n", "web.allowed_origins: expected scheme://"),
        ("[web]\nallowed_origins = ['https://a.example/x']\n", "web.allowed_origins: expected"),
        ("[web]\nallowed_origins = ['ftp://a.example']\n", "web.allowed_origins: expected"),
        ("[database]\nurl = 'mysql://u@h/d'\n", "database.url: expected sqlite"),
        ("[database]\nurl = 'postgresql://u:pw@h/d'\n", "got postgresql://u:\\*\\*\\*@h/d"),
        ("[database]\nurl = 'no url'\n", "database.url: .* does not parse"),
        ("[registrar]\nposition_interval = 0\n", "registrar.position_interval: expected 1"),
        (
            "[registrar]\nevent_subscription_expires = 10\n",
            "registrar.event_subscription_expires: expected 30..86400, got 10",
        ),
        ("[registrar]\nsubscribe_alarms = 'maybe'\n", "registrar.subscribe_alarms: expected true"),
    ],
)
def test_invalid_values_name_the_key(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "c.toml"
    config.write_text(text)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(config, environ={})


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="config file not found"):
        load_settings(tmp_path / "absent.toml", environ={})


def test_webrtc_addresses_come_from_a_list_or_a_comma_separated_variable(tmp_path: Path) -> None:
    assert load_settings(None, environ={}).live.webrtc_addresses == ()  # every interface
    config = tmp_path / "c.toml"
    config.write_text("[live]\nwebrtc_addresses = ['192.0.2.7', '2001:db8::7']\n")
    assert load_settings(config, environ={}).live.webrtc_addresses == ("192.0.2.7", "2001:db8::7")
    variable = {"FARMWATCH_LIVE_WEBRTC_ADDRESSES": "127.0.0.1, 192.0.2.7"}
    assert load_settings(config, environ=variable).live.webrtc_addresses == (
        "127.0.0.1",
        "192.0.2.7",
    )
    empty = {"FARMWATCH_LIVE_WEBRTC_ADDRESSES": ""}
    assert load_settings(config, environ=empty).live.webrtc_addresses == ()


def test_web_allowed_hosts_and_origins_from_the_file_and_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        "[web]\nallowed_hosts = ['farm.example.gov', '[::1]', '*']\n"
        "allowed_origins = ['https://farm.example.gov:8443']\n"
    )
    settings = load_settings(config, environ={})
    assert settings.web.allowed_hosts == ("farm.example.gov", "[::1]", "*")
    assert settings.web.allowed_origins == ("https://farm.example.gov:8443",)
    settings = load_settings(
        config,
        environ={
            "FARMWATCH_WEB_ALLOWED_HOSTS": " a.example , 10.0.0.5,",
            "FARMWATCH_WEB_ALLOWED_ORIGINS": "",
        },
    )
    assert settings.web.allowed_hosts == ("a.example", "10.0.0.5")
    assert settings.web.allowed_origins == ()


def test_web_defaults_answer_only_the_servers_own_names() -> None:
    settings = load_settings(ROOT / "conf/farmwatch.toml", environ={})
    assert settings.web.allowed_hosts == () and settings.web.allowed_origins == ()


@pytest.mark.parametrize("url", ["", "sqlite+aiosqlite:///x.db", "postgresql+asyncpg://u@h:5432/d"])
def test_database_urls_of_the_shipped_drivers_are_taken(url: str) -> None:
    settings = load_settings(None, environ={"FARMWATCH_DATABASE_URL": url})
    assert settings.database.url == url


def test_the_address_devices_reach_the_web_server_on() -> None:
    def url(**env: str) -> str | None:
        environ = {f"FARMWATCH_WEB_{key.upper()}": value for key, value in env.items()}
        return load_settings(None, environ=environ).web.device_url

    assert url() == "http://127.0.0.1:8080"
    assert url(host="::1", port="9000") == "http://[::1]:9000"
    assert url(host="0.0.0.0") is None  # no camera can be told to upload to 0.0.0.0
    assert url(host="0.0.0.0", public_url="https://fw.example.gov:8443/") == (
        "https://fw.example.gov:8443"
    )
    with pytest.raises(SettingsError, match="web.public_url"):
        url(public_url="fw.example.gov/uploads")
