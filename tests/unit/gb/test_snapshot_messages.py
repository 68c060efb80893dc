"""SnapShotConfig and UploadSnapShotFinished bodies ([2022]; gb28181.md §4.9, §4.14): what
we write is read back the same in every charset (GB18030 and UTF-8 with Chinese-free and
vendor-shaped bodies), a device's variants are tolerated, and values we will not send are
refused when the config is built."""

from __future__ import annotations

import pytest

from farmwatch.sipserver.gb.manscdp import DeviceConfigControl, UploadSnapShotFinished
from farmwatch.sipserver.gb.manscdp_device import build_device_config
from farmwatch.sipserver.gb.manscdp_parse import parse_manscdp
from farmwatch.sipserver.gb.manscdp_snapshot import (
    SnapShotConfig,
    build_upload_snapshot_finished,
)
from farmwatch.sipserver.gb.manscdp_text import ManscdpCharset

CHANNEL = "34020000001320000001"
SESSION = "0123456789abcdef0123456789abcdef"
URL = "http://192.0.2.10:8080/api/device-snapshots/uploads/tok_en-1?x=1&y=2"


@pytest.mark.parametrize("charset", list(ManscdpCharset))
def test_a_snapshot_config_is_read_back_as_written(charset: ManscdpCharset) -> None:
    config = SnapShotConfig(3, 2, URL, SESSION)
    body = build_device_config(CHANNEL, 41, [config.to_element()], charset=charset)
    assert f'encoding="{charset.value}"'.encode() in body
    assert b"&amp;" in body  # the URL's query is escaped, not sent raw
    message = parse_manscdp(body)
    assert isinstance(message, DeviceConfigControl)
    assert (message.device_id, message.sn) == (CHANNEL, 41)
    (block,) = message.blocks
    assert block.name == "SnapShotConfig"
    assert SnapShotConfig.from_element(block) == config


@pytest.mark.parametrize("charset", [ManscdpCharset.GB18030, ManscdpCharset.UTF8])
def test_upload_finished_is_read_back_as_written(charset: ManscdpCharset) -> None:
    ids = [f"{CHANNEL}2026120510000{n}0{n}" for n in (1, 2)]
    body = build_upload_snapshot_finished(CHANNEL, 7, SESSION, ids, charset=charset)
    assert parse_manscdp(body) == UploadSnapShotFinished(CHANNEL, 7, SESSION, tuple(ids))


def test_a_devices_upload_finished_variants_are_tolerated() -> None:
    # GB18030 bytes, lower-case names, padding, file IDs straight under the root, a
    # description in Chinese the reader ignores.
    text = (
        '<?xml version="1.0" encoding="GB18030"?>\r\n<Notify><cmdtype>UploadSnapShotFinished'
        f"</cmdtype><SN> 9 </SN><DeviceID>{CHANNEL}</DeviceID><sessionid> {SESSION} "
        "</sessionid><SnapShotFileID> a1 </SnapShotFileID><SnapShotFileID></SnapShotFileID>"
        "<SnapShotFileID>a2</SnapShotFileID><Note>抓拍完成</Note></Notify>"
    )
    message = parse_manscdp(text.encode("gb18030"))
    assert message == UploadSnapShotFinished(CHANNEL, 9, SESSION, ("a1", "a2"))


def test_upload_finished_without_session_or_list() -> None:
    body = (
        f"<Notify><CmdType>UploadSnapShotFinished</CmdType><SN>1</SN><DeviceID>{CHANNEL}"
        "</DeviceID><SnapShotList/></Notify>"
    ).encode()
    assert parse_manscdp(body) == UploadSnapShotFinished(CHANNEL, 1, None, ())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"snap_num": 0}, "SnapNum"),
        ({"snap_num": 11}, "SnapNum"),
        ({"snap_num": True}, "SnapNum"),
        ({"interval": 0}, "Interval"),
        ({"upload_url": "ftp://192.0.2.1/x"}, "UploadURL"),
        ({"session_id": "short"}, "SessionID"),
        ({"session_id": "x" * 129}, "SessionID"),
    ],
)
def test_values_we_will_not_send_are_refused(fields: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "snap_num": 1, "interval": 1, "upload_url": URL, "session_id": SESSION, **fields,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        SnapShotConfig(**values)  # type: ignore[arg-type]


def test_an_unreadable_config_received_is_none() -> None:
    config = SnapShotConfig(2, 1, URL, SESSION).to_element()
    broken = type(config)(config.name, None, config.children[1:])  # no SnapNum
    assert SnapShotConfig.from_element(broken) is None
