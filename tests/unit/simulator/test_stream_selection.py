"""What stream a simulated device hears an offer ask for: any of the four ways, or only the
one it is set to understand (`StreamSettings.stream_style`), as a Dahua NVR knows only
`streamprofile` and streams its main picture to an offer asking another way."""

from __future__ import annotations

import pytest

from farmwatch.simulator.call_handler import _stream_asked
from farmwatch.sipserver.gb.versions import Edition, StreamDialect, stream_attribute
from farmwatch.sipserver.sip.sdp import SessionDescription, StreamStyle, parse_sdp
from farmwatch.sipserver.sip.sdp_build import MediaEndpoint, build_play_offer


def offer(number: int, dialect: StreamDialect) -> SessionDescription:
    built = build_play_offer(
        sender_id="34020000001320000001",
        endpoint=MediaEndpoint("192.0.2.1", 30000),
        ssrc="0200000001",
        stream=stream_attribute(number, dialect, Edition.V2022),
    )
    return parse_sdp(built.serialise().decode())


@pytest.mark.parametrize(
    ("dialect", "line"),
    [
        (StreamDialect.STREAMNUMBER, "streamnumber:1"),
        (StreamDialect.STREAMPROFILE, "streamprofile:1"),
        (StreamDialect.STREAM_MODE, "streamMode:SUB"),
        (StreamDialect.STREAM, "stream:1"),
    ],
)
def test_a_device_understanding_any_way_hears_each(dialect: StreamDialect, line: str) -> None:
    number, asked = _stream_asked(offer(1, dialect))
    assert (number, str(asked)) == (1, line)


def test_a_device_understanding_one_way_ignores_the_others() -> None:
    style = StreamStyle.STREAMPROFILE
    for dialect in (StreamDialect.STREAMNUMBER, StreamDialect.STREAM_MODE, StreamDialect.STREAM):
        assert _stream_asked(offer(1, dialect), style) == (0, None)
    number, asked = _stream_asked(offer(1, StreamDialect.STREAMPROFILE), style)
    assert (number, str(asked)) == (1, "streamprofile:1")
    number, asked = _stream_asked(offer(1, StreamDialect.STREAM_MODE), StreamStyle.STREAM_MODE)
    assert (number, str(asked)) == (1, "streamMode:SUB")
    number, asked = _stream_asked(offer(0, StreamDialect.STREAM_MODE), StreamStyle.STREAM_MODE)
    assert (number, str(asked)) == (0, "streamMode:MAIN")
