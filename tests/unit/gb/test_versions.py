"""X-GB-Ver: the lower of the two editions; main/sub-stream selection in each dialect."""

from __future__ import annotations

import pytest

from farmwatch.platform.settings import LiveSettings
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset
from farmwatch.sipserver.gb.registrations import (
    Registration,
    RegistrationRefreshed,
    RegistrationTable,
)
from farmwatch.sipserver.gb.versions import (
    OUR_GB_VERSION,
    DialectSource,
    Edition,
    EffectiveDialect,
    StreamDialect,
    StreamDialects,
    StreamNotSelectable,
    default_charset,
    edition_of,
    parse_version,
    stream_attribute,
)
from farmwatch.sipserver.settings import RegistrarSettings
from farmwatch.sipserver.sip.address import Address, Transport
from farmwatch.sipserver.sip.sdp import parse_sdp
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_play_offer

DEVICE = "34020000001320000001"


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("3.0", (3, 0)),
        (" 2.0 ", (2, 0)),
        ("1.1", (1, 1)),
        ("3", (3, 0)),
        ("V3.0", (3, 0)),
        (None, None),
        ("", None),
        ("three", None),
        ("3.0.1", None),
    ],
)
def test_x_gb_ver_is_read_leniently(text: str | None, parsed: tuple[int, int] | None) -> None:
    assert parse_version(text) == parsed


@pytest.mark.parametrize(
    ("peer", "ours", "edition"),
    [
        ("3.0", "3.0", Edition.V2022),
        ("2.0", "3.0", Edition.V2016),  # the lower of the two
        ("3.0", "2.0", Edition.V2016),
        ("1.1", "3.0", Edition.V2016),  # 2011 devices get 2016 forms, the oldest we write
        (None, "3.0", Edition.V2016),  # no header: the header is itself 2022
        ("garbage", "3.0", Edition.V2016),
        ("4.0", "3.0", Edition.V2022),  # a newer peer gets what we know
    ],
)
def test_forms_follow_the_lower_version(peer: str | None, ours: str, edition: Edition) -> None:
    assert edition_of(peer, ours) is edition


def test_defaults() -> None:
    assert OUR_GB_VERSION == "3.0"
    assert edition_of("3.0") is Edition.V2022
    assert default_charset(Edition.V2022) is ManscdpCharset.GB18030
    assert default_charset(Edition.V2016) is ManscdpCharset.GB2312
    assert Edition.V2022.has_2022_commands and not Edition.V2016.has_2022_commands


_OFFER_LINE = {
    StreamDialect.STREAMNUMBER: ("a=streamnumber:0", "a=streamnumber:1"),
    StreamDialect.STREAMPROFILE: ("a=streamprofile:0", "a=streamprofile:1"),
    StreamDialect.STREAM_MODE: ("a=streamMode:MAIN", "a=streamMode:SUB"),
    StreamDialect.STREAM: ("a=stream:0", "a=stream:1"),
}


@pytest.mark.parametrize("dialect", list(_OFFER_LINE))
@pytest.mark.parametrize("edition", list(Edition))
def test_each_dialect_is_written_and_read_back(dialect: StreamDialect, edition: Edition) -> None:
    """A configured dialect is written whatever the edition (a vendor's own line); the
    tolerant reader finds the number again in the offer the device gets."""
    for number, line in enumerate(_OFFER_LINE[dialect]):
        selection = stream_attribute(number, dialect, edition)
        assert selection is not None
        offer = build_play_offer(
            sender_id=DEVICE,
            endpoint=MediaEndpoint("192.0.2.1", 30000),
            ssrc="0200000001",
            stream=selection,
        )
        text = offer.serialise().decode()
        assert f"\r\n{line}\r\n" in text
        assert text.index(line) < text.index("y=0200000001")  # a= lines before y=, f=
        assert parse_sdp(text).stream_number == number


def test_auto_writes_streamnumber_to_2022_devices_only() -> None:
    main = stream_attribute(0, StreamDialect.AUTO, Edition.V2022)
    sub = stream_attribute(2, StreamDialect.AUTO, Edition.V2022)
    assert main is not None and str(main.attribute) == "streamnumber:0"
    assert sub is not None and str(sub.attribute) == "streamnumber:2"
    # A 2016 device is not sent the 2022 form: its main stream is asked with nothing...
    assert stream_attribute(0, StreamDialect.AUTO, Edition.V2016) is None
    # ... and a sub stream cannot be asked of it at all: a clear error, not silence.
    with pytest.raises(StreamNotSelectable, match="GB/T 28181-2016"):
        stream_attribute(1, StreamDialect.AUTO, Edition.V2016)


def test_none_and_stream_mode_limits() -> None:
    assert stream_attribute(0, StreamDialect.NONE, Edition.V2022) is None
    with pytest.raises(StreamNotSelectable, match="none"):
        stream_attribute(1, StreamDialect.NONE, Edition.V2022)
    with pytest.raises(StreamNotSelectable, match="MAIN and SUB"):
        stream_attribute(2, StreamDialect.STREAM_MODE, Edition.V2022)
    with pytest.raises(StreamNotSelectable):
        stream_attribute(-1, StreamDialect.STREAMNUMBER, Edition.V2022)


@pytest.mark.parametrize(
    ("attribute", "number"),
    [
        ("a=streamnumber:1", 1),
        ("a=STREAMNUMBER: 2 ", 2),
        ("a=streamprofile:1", 1),
        ("a=streamMode:sub", 1),
        ("a=streammode:Main", 0),
        ("a=stream:1", 1),
        ("a=streamMode:THIRD", None),
        ("a=streamnumber:x", None),
        ("", None),
    ],
)
def test_answers_are_read_tolerantly(attribute: str, number: int | None) -> None:
    body = (
        "v=0\r\no=x 0 0 IN IP4 192.0.2.9\r\ns=Play\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n"
        f"m=video 15060 RTP/AVP 96\r\na=sendonly\r\n{attribute}\r\ny=0200000001\r\n"
    )
    assert parse_sdp(body).stream_number == number


def test_dialects_from_settings() -> None:
    dialects = StreamDialects.from_settings(
        "auto", (f"{DEVICE}=streamprofile", "34020000001320000002 = STREAMMODE")
    )
    assert dialects.for_device(DEVICE) is StreamDialect.STREAMPROFILE
    assert dialects.for_device("34020000001320000002") is StreamDialect.STREAM_MODE
    assert dialects.for_device("34020000001320000003") is StreamDialect.AUTO
    with pytest.raises(ValueError, match="expected one of"):
        StreamDialects.from_settings("dahua", ())
    with pytest.raises(ValueError, match="<device ID>=<dialect>"):
        StreamDialects.from_settings("auto", ("streamprofile",))


def test_a_device_setting_wins_over_the_configuration_which_wins_over_the_default() -> None:
    other = "34020000001320000003"
    dialects = StreamDialects.from_settings("streamMode", (f"{DEVICE}=stream",))
    assert dialects.effective(DEVICE) == EffectiveDialect(
        StreamDialect.STREAM, DialectSource.CONFIGURATION
    )
    assert dialects.effective(other) == EffectiveDialect(
        StreamDialect.STREAM_MODE, DialectSource.DEFAULT
    )
    for device_id in (DEVICE, other):
        # A stored setting wins, even one equal to the default (it is the device's own).
        for setting in (StreamDialect.STREAMPROFILE, StreamDialect.AUTO):
            assert dialects.effective(device_id, setting) == EffectiveDialect(
                setting, DialectSource.DEVICE
            )
    assert dialects.for_device(DEVICE) is StreamDialect.STREAM


def test_a_later_x_gb_ver_replaces_the_registered_one() -> None:
    table = RegistrationTable()
    address = Address("192.0.2.9", 5060, Transport.UDP)
    table.register(Registration(DEVICE, address, f"<sip:{DEVICE}@192.0.2.9>", 3600.0, 0.0), 0.0)
    assert table.note_version("34020000001320000099", "3.0") == []  # not registered
    assert table.note_version(DEVICE, "  ") == []
    (event,) = table.note_version(DEVICE, " 3.0 ")
    assert isinstance(event, RegistrationRefreshed) and event.registration.gb_version == "3.0"
    registration = table.get(DEVICE)
    assert registration is not None and registration.gb_version == "3.0"
    assert table.note_version(DEVICE, "3.0") == []  # unchanged: nothing to store


def test_version_settings_are_checked() -> None:
    assert RegistrarSettings().validate() == []
    errors = RegistrarSettings(default_gb_version="new", charset_2022="latin-1").validate()
    assert any("registrar.default_gb_version" in e for e in errors)
    assert any("registrar.charset_2022" in e for e in errors)
    assert LiveSettings().validate() == []
    assert any("live.stream_dialect" in e for e in LiveSettings(stream_dialect="dahua").validate())
    assert any("live.stream_dialect" in e for e in LiveSettings(stream_dialects=("x",)).validate())
