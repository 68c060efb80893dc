"""Recorded device message shapes against `farmwatch serve` (issue 3, tests/data/sip).

The digest answers are computed here with hashlib, independently of farmwatch's own
digest module, the way each device family does it (Hikvision hashes `uri=sip:DOMAIN`
without qop, eXosip answers `qop=auth` with the Request-URI).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import socket
from pathlib import Path

import pytest

from tests.integration.test_device_access import wait_for
from tests.peers.server_process import RunningServer, start_server, stop_server

DATA = Path(__file__).resolve().parents[1] / "data/sip"
PASSWORD = "12345678"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _exchange(sock: socket.socket, port: int, message: bytes) -> bytes:
    sock.sendto(message, ("127.0.0.1", port))
    data, _ = sock.recvfrom(65536)
    return data


def _status(data: bytes) -> int:
    return int(data.split(b" ", 2)[1])


def _header(data: bytes, name: str) -> str | None:
    match = re.search(rb"^" + name.encode() + rb":\s*(.*?)\r$", data, re.MULTILINE | re.I)
    return match.group(1).decode() if match else None


def _fresh_branch(message: bytes) -> bytes:
    """A new transaction: the same branch again would be a retransmission."""
    branch = b"branch=z9hG4bK" + secrets.token_hex(6).encode()
    return re.sub(rb"branch=z9hG4bK\w+", branch, message)


def _without_auth(message: bytes) -> bytes:
    return _fresh_branch(re.sub(rb"Authorization:[^\r\n]*\r?\n", b"", message))


def _with_auth(message: bytes, authorization: str) -> bytes:
    line_end = b"\r\n" if b"\r\n" in message else b"\n"
    message = _fresh_branch(message)
    message = re.sub(rb"CSeq: 1 REGISTER", b"CSeq: 2 REGISTER", message)
    head, _, body = message.partition(line_end + line_end)
    return head + line_end + b"Authorization: " + authorization.encode() + line_end * 2 + body


def _udp_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(3)
    sock.bind(("127.0.0.1", 0))
    return sock


def _authorization(raw: bytes, www: str, *, use_qop: bool, uri: str | None, nc: int = 1) -> str:
    """The recorded device's answer to the challenge `www`, computed as that family does."""
    device = re.search(rb"<sip:(\d{20})@", raw).group(1).decode()  # type: ignore[union-attr]
    realm = re.search(r'realm="([^"]+)"', www).group(1)  # type: ignore[union-attr]
    nonce = re.search(r'nonce="([^"]+)"', www).group(1)  # type: ignore[union-attr]
    digest_uri = uri or raw.split(b" ", 2)[1].decode()
    ha1 = _md5(f"{device}:{realm}:{PASSWORD}")
    ha2 = _md5(f"REGISTER:{digest_uri}")
    parts = f'username="{device}", realm="{realm}", nonce="{nonce}", uri="{digest_uri}"'
    if use_qop:
        cnonce, count = "0a4f113b", f"{nc:08x}"
        response = _md5(f"{ha1}:{nonce}:{count}:{cnonce}:auth:{ha2}")
        parts += f', qop=auth, nc={count}, cnonce="{cnonce}"'
    else:
        response = _md5(f"{ha1}:{nonce}:{ha2}")
    return f'Digest {parts}, response="{response}", algorithm=MD5'


def _register(
    server: RunningServer,
    fixture: str,
    *,
    use_qop: bool,
    uri: str | None,
    sock: socket.socket | None = None,
) -> bytes:
    """Register as the recorded device would, from `sock` (else a socket of its own)."""
    if sock is None:
        with _udp_socket() as own:
            return _register(server, fixture, use_qop=use_qop, uri=uri, sock=own)
    raw = (DATA / fixture).read_bytes()
    challenge = _exchange(sock, server.sip_port, _without_auth(raw))
    assert _status(challenge) == 401
    www = _header(challenge, "WWW-Authenticate") or ""
    authorization = _authorization(raw, www, use_qop=use_qop, uri=uri)
    return _exchange(sock, server.sip_port, _with_auth(_without_auth(raw), authorization))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> RunningServer:
    running = start_server(
        tmp_path_factory.mktemp("shapes"),
        {
            "FARMWATCH_REGISTRAR_CATALOG_ON_REGISTER": "false",
            "FARMWATCH_REGISTRAR_CATALOG_TIMEOUT": "1",
        },
    )
    yield running  # type: ignore[misc]
    stop_server(running)


SHAPES = [
    ("hik_register.txt", False, "sip:3402000000"),
    ("exosip_register.txt", True, None),
    ("dahua_register.txt", False, None),
    ("register_domain_uri.txt", True, None),
]


@pytest.mark.parametrize(("fixture", "use_qop", "uri"), SHAPES)
def test_recorded_register_shapes_register(
    server: RunningServer, fixture: str, use_qop: bool, uri: str | None
) -> None:
    answer = _register(server, fixture, use_qop=use_qop, uri=uri)
    assert _status(answer) == 200, answer.decode(errors="replace")
    assert _header(answer, "Expires") == "3600"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", _header(answer, "Date") or "")
    assert _header(answer, "Contact")
    # RFC 3581: the response says where the packet really came from.
    via = _header(answer, "Via") or _header(answer, "v") or ""
    assert "received=127.0.0.1" in via and re.search(r"rport=\d+", via)


@pytest.mark.parametrize(("fixture", "use_qop", "uri"), SHAPES)
def test_recorded_shapes_refresh_while_their_answers_cannot_be_replayed(
    server: RunningServer, fixture: str, use_qop: bool, uri: str | None
) -> None:
    """Issue 13 item 2: an answer is good once, and only from where it was challenged;
    devices refreshing as their family does (the next nc with qop, the same answer again
    without) keep registering, the latter after one more challenge."""
    raw = (DATA / fixture).read_bytes()
    port = server.sip_port
    with _udp_socket() as sock, _udp_socket() as attacker:
        www = _header(_exchange(sock, port, _without_auth(raw)), "WWW-Authenticate") or ""
        authorised = _with_auth(
            _without_auth(raw), _authorization(raw, www, use_qop=use_qop, uri=uri)
        )
        assert _status(_exchange(sock, port, authorised)) == 200
        assert _status(_exchange(attacker, port, _fresh_branch(authorised))) == 401
        if use_qop:
            refresh = _authorization(raw, www, use_qop=True, uri=uri, nc=2)
            answer = _exchange(sock, port, _with_auth(_without_auth(raw), refresh))
        else:
            stale = _exchange(sock, port, _fresh_branch(authorised))
            assert _status(stale) == 401
            www = _header(stale, "WWW-Authenticate") or ""
            assert "stale=true" in www
            again = _authorization(raw, www, use_qop=False, uri=uri)
            answer = _exchange(sock, port, _with_auth(_without_auth(raw), again))
        assert _status(answer) == 200, answer.decode(errors="replace")


def test_gb2312_catalog_with_chinese_names_reaches_the_api(server: RunningServer) -> None:
    raw = (DATA / "catalog_message_gb2312.txt").read_bytes()
    with _udp_socket() as sock:  # the catalog comes from where the device registered
        registered = _register(
            server, "hik_register.txt", use_qop=False, uri="sip:3402000000", sock=sock
        )
        assert _status(registered) == 200
        assert _status(_exchange(sock, server.sip_port, raw)) == 200

    def channels() -> list[dict[str, object]] | None:
        status, body = server.api("/devices/34020000001180000001/channels")
        return body["channels"] if status == 200 and body["channels"] else None

    # SumNum says 2 but one item came: kept as a partial catalog after the timeout.
    tree = wait_for(channels, "the catalog in the API")
    assert [(c["channel_id"], c["name"], c["address"]) for c in tree] == [
        ("34020000001310000001", "东门入口", "东门")
    ]
    status, progress = server.api("/devices/34020000001180000001/catalog")
    assert status == 200


def test_retransmissions_get_the_same_answer_and_new_transactions_a_new_one(
    server: RunningServer,
) -> None:
    """RFC 3261 §17.2.2: a retransmitted request (same branch) is answered with the same
    final response, byte for byte, while a new transaction is handled afresh."""
    first = _without_auth((DATA / "exosip_register.txt").read_bytes())
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(3)
        sock.bind(("127.0.0.1", 0))
        challenge = _exchange(sock, server.sip_port, first)
        assert _status(challenge) == 401
        assert _exchange(sock, server.sip_port, first) == challenge
        fresh = _exchange(sock, server.sip_port, _fresh_branch(first))
        assert _status(fresh) == 401
        assert _header(fresh, "WWW-Authenticate") != _header(challenge, "WWW-Authenticate")
