"""Settings of the SIP part (`[sip]` in farmwatch.toml); see conf/farmwatch.toml for each key."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from farmwatch.sipserver.gb.versions import parse_version


@dataclass(frozen=True, slots=True)
class SipSettings:
    """The SIP endpoint and registrar; times in seconds."""

    host: str = "0.0.0.0"
    port: int = 5060
    advertised_host: str = ""
    id: str = "34020000002000000001"
    domain: str = "3402000000"
    password: str = "12345678"
    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    max_message_size: int = 65536
    max_headers: int = 100
    tcp_idle_timeout: float = 3600.0
    tcp_message_timeout: float = 20.0
    tcp_max_connections: int = 10000
    tcp_max_connections_per_address: int = 64
    udp_receive_buffer: int = 8 * 1024 * 1024
    overload_queue_delay: float = 0.2
    overload_retry_after: int = 20
    user_agent: str = "farmwatch"
    fronts: int = 0
    """SIP front processes sharing the UDP port (`sipserver/front/`); 0: none."""

    def validate(self) -> list[str]:
        errors: list[str] = []
        if not 0 < self.port < 65536:
            errors.append(f"sip.port: expected 1..65535, got {self.port}")
        if len(self.id) != 20 or not self.id.isdigit():
            errors.append(f"sip.id: expected 20 digits, got {self.id!r}")
        if not self.domain:
            errors.append("sip.domain: must not be empty")
        if not 0 < self.t1 <= self.t2:
            errors.append(f"sip.t1/t2: expected 0 < t1 <= t2, got {self.t1}/{self.t2}")
        if not 0 < self.overload_queue_delay < self.t1:
            errors.append(
                "sip.overload_queue_delay: expected > 0 and below sip.t1, "
                f"got {self.overload_queue_delay}"
            )
        if not 0 <= self.fronts <= 32:
            errors.append(f"sip.fronts: expected 0..32, got {self.fronts}")
        if not 1 <= self.overload_retry_after <= 3600:
            errors.append(
                f"sip.overload_retry_after: expected 1..3600, got {self.overload_retry_after}"
            )
        if self.t4 <= 0:
            errors.append(f"sip.t4: expected > 0, got {self.t4}")
        if not 1024 <= self.max_message_size <= 1 << 20:
            errors.append(
                f"sip.max_message_size: expected 1024..1048576, got {self.max_message_size}"
            )
        errors += self._validate_tcp()
        return errors

    def _validate_tcp(self) -> list[str]:
        errors: list[str] = []
        if not 1 <= self.tcp_max_connections <= 1_000_000:
            errors.append(
                f"sip.tcp_max_connections: expected 1..1000000, got {self.tcp_max_connections}"
            )
        if not 1 <= self.tcp_max_connections_per_address <= max(1, self.tcp_max_connections):
            errors.append(
                "sip.tcp_max_connections_per_address: expected 1..sip.tcp_max_connections "
                f"({self.tcp_max_connections}), got {self.tcp_max_connections_per_address}"
            )
        if self.tcp_idle_timeout <= 0:
            errors.append(f"sip.tcp_idle_timeout: expected > 0, got {self.tcp_idle_timeout}")
        if not 0 < self.tcp_message_timeout <= self.tcp_idle_timeout:
            errors.append(
                "sip.tcp_message_timeout: expected > 0 and <= sip.tcp_idle_timeout, "
                f"got {self.tcp_message_timeout}"
            )
        return errors


@dataclass(frozen=True, slots=True)
class RegistrarSettings:
    """Device registration, keepalive and query policy (`[registrar]`)."""

    accept_unknown_devices: bool = True
    strict_device_ids: bool = False
    min_expires: int = 60
    max_expires: int = 86400
    date_header: str = "milliseconds"
    offer_qop: bool = True
    nonce_lifetime: float = 300.0
    keepalive_interval: float = 60.0
    keepalive_timeout_count: int = 3
    catalog_on_register: bool = True
    first_contact_concurrency: int = 64
    catalog_timeout: float = 10.0
    query_timeout: float = 10.0
    catalog_subscription_expires: int = 3600
    subscribe_alarms: bool = False
    """SUBSCRIBE to each device's alarms (Query/Alarm, every priority and method) when it
    registers, and keep the subscription refreshed; off: devices send alarms unasked."""
    subscribe_positions: bool = False
    """SUBSCRIBE to each device's mobile position (Query/MobilePosition) when it registers."""
    position_interval: int = 5
    """Seconds between the positions a position subscription asks for (`Interval`)."""
    event_subscription_expires: int = 3600
    """Expiry asked for alarm and position subscriptions, in seconds (refreshed at 80 %)."""
    charset: str = "GB2312"
    charset_2022: str = "GB18030"
    """The charset of bodies to devices that speak GB/T 28181-2022 (`charset` is for the
    others); a device's own charset wins over both."""
    default_gb_version: str = "2.0"
    """The X-GB-Ver taken for a device that sends none (2.0: 2016 forms; 3.0 for 2022
    devices that omit the header)."""
    message_source_check: str = "address"
    nonce_binding: str = "address"
    auth_failures_per_device: int = 5
    auth_failures_per_host: int = 20
    auth_failure_window: float = 60.0
    auth_block: float = 60.0
    auth_max_block: float = 900.0
    timezone: str = "Asia/Shanghai"
    """The one zone of every device time (Date header, RecordInfo, playback t=, plans)."""
    record_info_timeout: float = 10.0
    """A RecordInfo slice ends, keeping what arrived, after this long without a message."""
    control_timeout: float = 5.0
    """Seconds a device has to take a control (PTZ, TeleBoot, ...) and to send the Result
    of one that is answered (RecordCmd, GuardCmd, DeviceConfig, ConfigDownload, ...)."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def validate(self) -> list[str]:
        errors: list[str] = []
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                f"registrar.timezone: expected an IANA zone such as Asia/Shanghai, "
                f"got {self.timezone!r}"
            )
        if self.record_info_timeout <= 0:
            errors.append("registrar.record_info_timeout: must be positive")
        if self.control_timeout <= 0:
            errors.append("registrar.control_timeout: must be positive")
        if self.date_header not in ("milliseconds", "seconds", "off"):
            errors.append(
                "registrar.date_header: expected milliseconds, seconds or off, "
                f"got {self.date_header!r}"
            )
        if not 1 <= self.min_expires <= self.max_expires:
            errors.append("registrar.min_expires/max_expires: expected 1 <= min <= max")
        if self.keepalive_interval <= 0 or self.keepalive_timeout_count < 1:
            errors.append("registrar.keepalive_interval/keepalive_timeout_count: must be positive")
        for name, charset in (("charset", self.charset), ("charset_2022", self.charset_2022)):
            if charset.upper() not in ("GB2312", "GBK", "GB18030", "UTF-8"):
                errors.append(
                    f"registrar.{name}: expected GB2312, GB18030 or UTF-8, got {charset!r}"
                )
        if parse_version(self.default_gb_version) is None:
            errors.append(
                "registrar.default_gb_version: expected a version such as 2.0 or 3.0, "
                f"got {self.default_gb_version!r}"
            )
        if self.message_source_check not in ("address", "host"):
            errors.append(
                "registrar.message_source_check: expected address or host, "
                f"got {self.message_source_check!r}"
            )
        if self.nonce_binding not in ("address", "host"):
            errors.append(
                f"registrar.nonce_binding: expected address or host, got {self.nonce_binding!r}"
            )
        if self.auth_failures_per_device < 1 or self.auth_failures_per_host < 1:
            errors.append(
                "registrar.auth_failures_per_device/auth_failures_per_host: expected >= 1"
            )
        if not 0 < self.auth_block <= self.auth_max_block or self.auth_failure_window <= 0:
            errors.append(
                "registrar.auth_block/auth_max_block/auth_failure_window: expected "
                f"0 < auth_block <= auth_max_block and auth_failure_window > 0, got "
                f"{self.auth_block}/{self.auth_max_block}/{self.auth_failure_window}"
            )
        if not 1 <= self.first_contact_concurrency <= 10_000:
            errors.append(
                "registrar.first_contact_concurrency: expected 1..10000, "
                f"got {self.first_contact_concurrency}"
            )
        if not 1 <= self.position_interval <= 3600:
            errors.append(
                f"registrar.position_interval: expected 1..3600, got {self.position_interval}"
            )
        if not 30 <= self.event_subscription_expires <= 86400:
            errors.append(
                "registrar.event_subscription_expires: expected 30..86400, "
                f"got {self.event_subscription_expires}"
            )
        if self.nonce_lifetime <= 0 or self.catalog_timeout <= 0 or self.query_timeout <= 0:
            errors.append("registrar: timeouts must be positive")
        return errors
