"""Digest header parsing, serialisation and response arithmetic (farmwatch.sipserver.sip.digest)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from farmwatch.sipserver.sip.digest import (
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    build_credentials,
    compute_ha1,
    compute_response,
)
from farmwatch.sipserver.sip.errors import RemoteProtocolError

# gb28181.md §3.3 test vector (and §11.1 Authorization header).
GB_USER = "34020000001180000001"
GB_REALM = "3402000000"
GB_PASSWORD = "12345678"
GB_NONCE = "9bd055f2e5a14b5a"
GB_URI = "sip:34020000002000000001@3402000000"
GB_AUTHORIZATION = (
    'Digest username="34020000001180000001", realm="3402000000", nonce="9bd055f2e5a14b5a", '
    'uri="sip:34020000002000000001@3402000000", response="346db46ae5c52703a803eda8f8b43f33", '
    "algorithm=MD5"
)


def test_gb_vector_ha1() -> None:
    ha1 = compute_ha1(DigestAlgorithm.MD5, username=GB_USER, realm=GB_REALM, password=GB_PASSWORD)
    assert ha1 == "267d3310dd883612bd0c4e9fb9be4f0d"


def test_gb_vector_without_qop() -> None:
    credentials = DigestCredentials.parse(GB_AUTHORIZATION)
    response = compute_response(
        DigestAlgorithm.MD5,
        username=credentials.username,
        realm=credentials.realm,
        password=GB_PASSWORD,
        method="REGISTER",
        uri=credentials.uri,
        nonce=credentials.nonce,
    )
    assert response == credentials.response == "346db46ae5c52703a803eda8f8b43f33"


def test_gb_vector_with_qop_auth() -> None:
    response = compute_response(
        DigestAlgorithm.MD5,
        username=GB_USER,
        realm=GB_REALM,
        password=GB_PASSWORD,
        method="REGISTER",
        uri=GB_URI,
        nonce=GB_NONCE,
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "8f22b442e4a32243e618bac792b877df"


def test_rfc2617_mufasa_example() -> None:
    header = (
        'Digest username="Mufasa", realm="testrealm@host.com", '
        'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, '
        'nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", '
        'opaque="5ccc069c403ebaf9f0171e9517f40e41"'
    )
    credentials = DigestCredentials.parse(header)
    assert credentials.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert credentials.nonce_count == 1
    response = compute_response(
        DigestAlgorithm.MD5,
        username=credentials.username,
        realm=credentials.realm,
        password="Circle Of Life",
        method="GET",
        uri=credentials.uri,
        nonce=credentials.nonce,
        qop=credentials.qop,
        nc=credentials.nc,
        cnonce=credentials.cnonce,
    )
    assert response == credentials.response


RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        (
            DigestAlgorithm.SHA256,
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ),
        (DigestAlgorithm.MD5, "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_section_3_9_1_examples(algorithm: DigestAlgorithm, expected: str) -> None:
    response = compute_response(
        algorithm,
        username="Mufasa",
        realm="http-auth@example.org",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        nonce=RFC7616_NONCE,
        qop="auth",
        nc="00000001",
        cnonce=RFC7616_CNONCE,
    )
    assert response == expected


def test_session_variant_differs_from_plain_and_uses_cnonce() -> None:
    common = {"username": "u", "realm": "r", "password": "p", "nonce": "n"}
    plain = compute_ha1(DigestAlgorithm.MD5, **common, cnonce="c")
    sess = compute_ha1(DigestAlgorithm.MD5_SESS, **common, cnonce="c")
    other = compute_ha1(DigestAlgorithm.MD5_SESS, **common, cnonce="d")
    assert len({plain, sess, other}) == 3
    assert len(compute_ha1(DigestAlgorithm.SHA256_SESS, **common, cnonce="c")) == 64


def test_sm3_when_available() -> None:
    algorithm = DigestAlgorithm.from_param("sm3")
    if algorithm is None:
        pytest.skip("OpenSSL without SM3")
    ha1 = compute_ha1(algorithm, username="u", realm="r", password="p")
    assert len(ha1) == 64
    assert ha1 != compute_ha1(DigestAlgorithm.SHA256, username="u", realm="r", password="p")


@pytest.mark.parametrize(
    ("text", "algorithm"),
    [
        (None, DigestAlgorithm.MD5),
        ("MD5", DigestAlgorithm.MD5),
        ("md5", DigestAlgorithm.MD5),
        (" SHA-256 ", DigestAlgorithm.SHA256),
        ("sha-256-SESS", DigestAlgorithm.SHA256_SESS),
        ("SHA-512-256", None),
        ("", None),
    ],
)
def test_algorithm_from_param(text: str | None, algorithm: DigestAlgorithm | None) -> None:
    assert DigestAlgorithm.from_param(text) is algorithm


# ---------------------------------------------------------------- header parsing


def test_parse_gb_authorization_fields() -> None:
    credentials = DigestCredentials.parse(GB_AUTHORIZATION)
    assert credentials == DigestCredentials(
        username=GB_USER,
        realm=GB_REALM,
        nonce=GB_NONCE,
        uri=GB_URI,
        response="346db46ae5c52703a803eda8f8b43f33",
        algorithm="MD5",
    )
    assert credentials.qop is None and credentials.nc is None and credentials.nonce_count is None


def test_parse_odd_spacing_casing_quoting_and_empty_elements() -> None:
    text = (
        'DIGEST  UserName = "dev" ,,REALM="3402000000",\tNonce=abc123 , URI="sip:3402000000",'
        'Response="ABCDEF", QOP="auth", NC=0000000A, CNonce="x y", Algorithm="MD5",'
    )
    credentials = DigestCredentials.parse(text)
    assert (credentials.username, credentials.realm, credentials.nonce) == (
        "dev",
        "3402000000",
        "abc123",
    )
    assert (credentials.uri, credentials.response) == ("sip:3402000000", "ABCDEF")
    assert (credentials.qop, credentials.nc, credentials.cnonce) == ("auth", "0000000A", "x y")
    assert credentials.nonce_count == 10
    assert credentials.algorithm == "MD5"


def test_parse_quoted_string_escapes_and_commas() -> None:
    text = (
        r'Digest username="a\"b\\c", realm="r,with,commas", nonce="n", uri="sip:x", '
        r'response="r", foo="bar"'
    )
    credentials = DigestCredentials.parse(text)
    assert credentials.username == 'a"b\\c'
    assert credentials.realm == "r,with,commas"
    assert credentials.extra == (("foo", "bar"),)
    assert DigestCredentials.parse(str(credentials)) == credentials


def test_parse_challenge_with_qop_list_stale_and_unknown_params() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="3402000000", nonce="9bd0", qop="auth,auth-int", stale=TRUE, '
        'algorithm=MD5, opaque="op", charset=UTF-8'
    )
    assert challenge.qop == ("auth", "auth-int")
    assert challenge.stale is True
    assert challenge.offers_auth
    assert challenge.opaque == "op"
    assert challenge.extra == (("charset", "UTF-8"),)
    assert challenge.digest_algorithm is DigestAlgorithm.MD5


def test_serialise_challenge_like_the_standard_example() -> None:
    challenge = DigestChallenge(realm="3402000000", nonce="9bd055f2e5a14b5a", algorithm="MD5")
    assert str(challenge) == 'Digest realm="3402000000", nonce="9bd055f2e5a14b5a", algorithm=MD5'
    offered = DigestChallenge(realm="r", nonce="n", algorithm="MD5", qop=("auth",), stale=True)
    assert str(offered) == 'Digest realm="r", nonce="n", stale=true, algorithm=MD5, qop="auth"'


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Digest",
        'Digest realm="r"',  # nonce missing
        'Digest realm="r", nonce="n", realm="s"',  # duplicate
        'Digest realm="r", nonce="unterminated',
        'Digest realm="r" nonce="n"',  # no comma
        'Digest realm="r", =x, nonce="n"',
        'Digest realm="r", nonce="n", qop=auth"x"',
    ],
)
def test_malformed_challenge_is_a_400(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as raised:
        DigestChallenge.parse(text)
    assert raised.value.status_hint == 400
    assert raised.value.can_answer


def test_other_scheme_is_a_401() -> None:
    with pytest.raises(RemoteProtocolError) as raised:
        DigestCredentials.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert raised.value.status_hint == 401


@pytest.mark.parametrize(
    "text",
    [
        'Digest username="u", realm="r", nonce="n", uri="sip:x"',  # no response
        'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth',
        'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, '
        'nc=xyz, cnonce="c"',
        'Digest username="u", realm="r", nonce="n", uri="sip:x", response="r", qop=auth, '
        'nc=123456789, cnonce="c"',
    ],
)
def test_malformed_credentials_are_a_400(text: str) -> None:
    with pytest.raises(RemoteProtocolError) as raised:
        DigestCredentials.parse(text)
    assert raised.value.status_hint == 400


# ---------------------------------------------------------------- client side


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256", None])
@pytest.mark.parametrize("qop", [("auth",), (), ("auth-int", "auth")])
def test_build_credentials_answers_the_challenge(
    algorithm: str | None, qop: tuple[str, ...]
) -> None:
    challenge = DigestChallenge(
        realm=GB_REALM, nonce=GB_NONCE, algorithm=algorithm, qop=qop, opaque="o"
    )
    credentials = build_credentials(
        challenge,
        method="REGISTER",
        uri=GB_URI,
        username=GB_USER,
        password=GB_PASSWORD,
        cnonce="0a4f113b",
        nc=3,
    )
    expects_qop = bool(qop)
    assert credentials.qop == ("auth" if expects_qop else None)
    assert credentials.nc == ("00000003" if expects_qop else None)
    assert credentials.opaque == "o"
    assert credentials.algorithm == algorithm
    expected = compute_response(
        DigestAlgorithm.from_param(algorithm) or DigestAlgorithm.MD5,
        username=GB_USER,
        realm=GB_REALM,
        password=GB_PASSWORD,
        method="REGISTER",
        uri=GB_URI,
        nonce=GB_NONCE,
        qop=credentials.qop,
        nc=credentials.nc,
        cnonce=credentials.cnonce,
    )
    assert credentials.response == expected
    assert DigestCredentials.parse(str(credentials)) == credentials


def test_build_credentials_reproduces_the_gb_vector() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="3402000000", nonce="9bd055f2e5a14b5a", algorithm=MD5'
    )
    credentials = build_credentials(
        challenge, method="REGISTER", uri=GB_URI, username=GB_USER, password=GB_PASSWORD, cnonce="c"
    )
    assert str(credentials) == GB_AUTHORIZATION
    with_qop = DigestChallenge(realm=GB_REALM, nonce=GB_NONCE, qop=("auth",))
    credentials = build_credentials(
        with_qop,
        method="REGISTER",
        uri=GB_URI,
        username=GB_USER,
        password=GB_PASSWORD,
        cnonce="0a4f113b",
    )
    assert credentials.response == "8f22b442e4a32243e618bac792b877df"


@pytest.mark.parametrize(
    "challenge",
    [
        DigestChallenge(realm="r", nonce="n", algorithm="SHA-512-256"),
        DigestChallenge(realm="r", nonce="n", qop=("auth-int",)),
    ],
)
def test_build_credentials_refuses_what_it_cannot_answer(challenge: DigestChallenge) -> None:
    with pytest.raises(RemoteProtocolError):
        build_credentials(
            challenge, method="REGISTER", uri="sip:x", username="u", password="p", cnonce="c"
        )


# ---------------------------------------------------------------- properties

_TOKEN = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.",
    min_size=1,
    max_size=12,
)
_KNOWN = {"realm", "nonce", "algorithm", "qop", "opaque", "stale", "domain"}
_EXTRA = st.lists(
    st.tuples(_TOKEN.map(str.lower).filter(lambda name: name not in _KNOWN), st.text(max_size=20)),
    max_size=3,
    unique_by=lambda pair: pair[0],
).map(tuple)

_CHALLENGES = st.builds(
    DigestChallenge,
    realm=st.text(max_size=30),
    nonce=st.text(max_size=30),
    algorithm=st.none() | st.text(max_size=12),
    qop=st.lists(_TOKEN, max_size=3).map(tuple),
    opaque=st.none() | st.text(max_size=20),
    stale=st.booleans(),
    domain=st.none() | st.text(max_size=20),
    extra=_EXTRA,
)


@settings(max_examples=300)
@given(_CHALLENGES)
def test_challenge_round_trips(challenge: DigestChallenge) -> None:
    assert DigestChallenge.parse(str(challenge)) == challenge


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_arbitrary_text_only_raises_remote_protocol_error(text: str) -> None:
    for parse in (DigestChallenge.parse, DigestCredentials.parse):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)
        with contextlib.suppress(RemoteProtocolError):
            parse("Digest " + text)


@settings(max_examples=300)
@given(
    st.lists(
        st.sampled_from(
            ["realm", "nonce", "qop", "Digest", "=", ",", '"', "\\", " ", "a", "\t", "x=y"]
        ),
        max_size=25,
    )
)
def test_near_miss_headers_only_raise_remote_protocol_error(pieces: list[str]) -> None:
    text = "Digest " + "".join(pieces)
    for parse in (DigestChallenge.parse, DigestCredentials.parse):
        with contextlib.suppress(RemoteProtocolError):
            parse(text)
