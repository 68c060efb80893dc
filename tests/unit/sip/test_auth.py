"""Registrar digest policy and nonces (farmwatch.sipserver.sip.auth, .nonce), in virtual time."""

from __future__ import annotations

from dataclasses import replace

import pytest

from farmwatch.sipserver.sip.auth import (
    AuthResult,
    DigestAlgorithm,
    DigestAuthenticator,
    DigestChallenge,
    DigestCredentials,
    DigestSettings,
    NonceCountTracker,
    NonceIssuer,
    NonceState,
    build_credentials,
)
from farmwatch.sipserver.sip.errors import LocalProtocolError

SECRET = b"0123456789abcdef-test-secret"
REALM = "3402000000"
USER = "34020000001180000001"
PASSWORD = "12345678"
URI = "sip:34020000002000000001@3402000000"


def make_authenticator(**overrides: object) -> DigestAuthenticator:
    settings = replace(DigestSettings(realm=REALM), **overrides)
    return DigestAuthenticator(settings, secret=SECRET)


def answer(
    challenge: DigestChallenge,
    *,
    password: str = PASSWORD,
    nc: int = 1,
    uri: str = URI,
) -> DigestCredentials:
    """What a device sends back, round-tripped through the wire form."""
    credentials = build_credentials(
        challenge,
        method="REGISTER",
        uri=uri,
        username=USER,
        password=password,
        cnonce="0a4f113b",
        nc=nc,
    )
    return DigestCredentials.parse(str(credentials))


# ---------------------------------------------------------------- nonces


def test_nonce_is_valid_then_stale_after_lifetime() -> None:
    issuer = NonceIssuer(SECRET, lifetime=300.0)
    nonce = issuer.issue(1000.0)
    assert issuer.check(nonce, 1000.0) is NonceState.VALID
    assert issuer.check(nonce, 1300.0) is NonceState.VALID
    assert issuer.check(nonce, 1300.5) is NonceState.STALE
    assert issuer.issued_at(nonce) == 1000.0


def test_nonces_are_unique_hex_and_compact() -> None:
    issuer = NonceIssuer(SECRET)
    nonces = {issuer.issue(5.0) for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(len(n) == 40 and all(c in "0123456789abcdef" for c in n) for n in nonces)


def test_tampered_or_foreign_nonces_are_invalid() -> None:
    issuer = NonceIssuer(SECRET)
    nonce = issuer.issue(1000.0)
    later = f"{int(2000.0 * 1000):012x}" + nonce[12:]  # move the issue time forward
    flipped = nonce[:-1] + ("0" if nonce[-1] != "0" else "1")
    other_process = NonceIssuer(b"another-secret-of-16+bytes").issue(1000.0)
    for bad in (later, flipped, other_process, "9bd055f2e5a14b5a", "", nonce.upper(), nonce + "0"):
        assert issuer.check(bad, 2000.0) is NonceState.INVALID, bad


def test_nonce_from_the_future_is_invalid() -> None:
    issuer = NonceIssuer(SECRET)
    assert issuer.check(issuer.issue(100.0), 50.0) is NonceState.INVALID


def test_issuer_rejects_bad_configuration() -> None:
    with pytest.raises(LocalProtocolError):
        NonceIssuer(b"short")
    with pytest.raises(LocalProtocolError):
        NonceIssuer(SECRET, lifetime=0)
    with pytest.raises(LocalProtocolError):
        NonceIssuer(SECRET).issue(-1.0)


def test_count_tracker_requires_strictly_increasing_counts() -> None:
    tracker = NonceCountTracker()
    assert tracker.accept("n", 1, expires_at=100.0, now=0.0)
    assert not tracker.accept("n", 1, expires_at=100.0, now=1.0)
    assert tracker.accept("n", 3, expires_at=100.0, now=2.0)
    assert not tracker.accept("n", 2, expires_at=100.0, now=3.0)
    assert tracker.accept("m", 1, expires_at=100.0, now=3.0)


def test_count_tracker_forgets_expired_nonces() -> None:
    tracker = NonceCountTracker()
    tracker.accept("a", 1, expires_at=10.0, now=0.0)
    tracker.accept("b", 1, expires_at=20.0, now=0.0)
    tracker.accept("c", 1, expires_at=30.0, now=15.0)
    assert len(tracker) == 2  # "a" expired at 10


def test_count_tracker_is_bounded_and_fails_closed_after_eviction() -> None:
    tracker = NonceCountTracker(max_entries=3)
    for index in range(5):
        assert tracker.accept(f"n{index}", 1, expires_at=100.0 + index, now=0.0)
    assert len(tracker) == 3
    # n0 was evicted while still valid: replaying it must not look like a first use.
    assert not tracker.accept("n0", 1, expires_at=100.0, now=1.0)
    assert tracker.accept("n9", 1, expires_at=200.0, now=1.0)


# ---------------------------------------------------------------- authenticator


def test_challenge_offers_qop_auth_by_default() -> None:
    challenge = make_authenticator().challenge(0.0)
    assert (challenge.realm, challenge.algorithm, challenge.qop) == (REALM, "MD5", ("auth",))
    assert not challenge.stale
    assert str(challenge).startswith(f'Digest realm="{REALM}", nonce="{challenge.nonce}"')


def test_challenge_without_qop_when_configured() -> None:
    challenge = make_authenticator(offer_qop=False).challenge(0.0, stale=True)
    assert challenge.qop == ()
    assert challenge.stale
    assert "qop" not in str(challenge)


@pytest.mark.parametrize("algorithm", [DigestAlgorithm.MD5, DigestAlgorithm.SHA256])
@pytest.mark.parametrize("offer_qop", [True, False])
def test_round_trip_client_to_server(algorithm: DigestAlgorithm, offer_qop: bool) -> None:
    authenticator = make_authenticator(algorithm=algorithm, offer_qop=offer_qop)
    challenge = DigestChallenge.parse(str(authenticator.challenge(10.0)))
    credentials = answer(challenge)
    assert (credentials.qop is not None) is offer_qop
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=12.0)
    assert result is AuthResult.OK


def test_wrong_password_is_refused() -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0), password="87654321")
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0)
    assert result is AuthResult.BAD_RESPONSE
    assert not result.should_rechallenge


def test_wrong_method_or_uri_in_hash_is_refused() -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0))
    assert (
        authenticator.verify(credentials, method="INVITE", password=PASSWORD, now=1.0)
        is AuthResult.BAD_RESPONSE
    )
    tampered = replace(credentials, uri="sip:3402000000")
    assert (
        authenticator.verify(tampered, method="REGISTER", password=PASSWORD, now=1.0)
        is AuthResult.BAD_RESPONSE
    )


@pytest.mark.parametrize("uri", ["sip:3402000000", f"{URI}", "sip:192.168.10.5:5060"])
def test_uri_is_hashed_exactly_as_the_device_sent_it(uri: str) -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0), uri=uri)
    assert authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0).is_ok


def test_uppercase_response_hex_is_accepted() -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0))
    shouted = replace(credentials, response=credentials.response.upper())
    assert authenticator.verify(shouted, method="REGISTER", password=PASSWORD, now=1.0).is_ok


def test_expired_nonce_with_right_password_is_stale() -> None:
    authenticator = make_authenticator(nonce_lifetime=300.0)
    credentials = answer(authenticator.challenge(0.0))
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=301.0)
    assert result is AuthResult.STALE_NONCE
    assert result.should_rechallenge


def test_expired_nonce_with_wrong_password_is_not_reported_stale() -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0), password="nope")
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1000.0)
    assert result is AuthResult.BAD_RESPONSE


def test_forged_nonce_is_unknown() -> None:
    authenticator = make_authenticator()
    forged = DigestChallenge(realm=REALM, nonce="9bd055f2e5a14b5a", algorithm="MD5")
    credentials = answer(forged)
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0)
    assert result is AuthResult.UNKNOWN_NONCE


def test_nonce_from_before_a_restart_is_unknown() -> None:
    before = make_authenticator()
    after = DigestAuthenticator(DigestSettings(realm=REALM), secret=b"a-new-process-secret")
    credentials = answer(before.challenge(0.0))
    result = after.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0)
    assert result is AuthResult.UNKNOWN_NONCE


def test_nc_replay_is_refused_and_higher_nc_accepted() -> None:
    authenticator = make_authenticator()
    challenge = authenticator.challenge(0.0)
    first = answer(challenge, nc=1)
    assert authenticator.verify(first, method="REGISTER", password=PASSWORD, now=1.0).is_ok
    replay = authenticator.verify(first, method="REGISTER", password=PASSWORD, now=2.0)
    assert replay is AuthResult.REPLAY
    second = answer(challenge, nc=2)
    assert authenticator.verify(second, method="REGISTER", password=PASSWORD, now=3.0).is_ok
    assert (
        authenticator.verify(first, method="REGISTER", password=PASSWORD, now=4.0)
        is AuthResult.REPLAY
    )


def test_an_answer_without_qop_is_good_once() -> None:
    """Issue 13 item 2: it used to be good for the nonce's whole lifetime."""
    authenticator = make_authenticator(offer_qop=False, nonce_lifetime=300.0)
    credentials = answer(authenticator.challenge(0.0))
    assert credentials.qop is None
    assert authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0).is_ok
    for now in (1.0, 60.0, 299.0):
        result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=now)
        assert result is AuthResult.REPLAY and result.should_rechallenge
    result = authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=301.0)
    assert result is AuthResult.STALE_NONCE


def test_a_replay_with_a_wrong_password_is_a_bad_response_not_a_replay() -> None:
    authenticator = make_authenticator(offer_qop=False)
    challenge = authenticator.challenge(0.0)
    assert authenticator.verify(answer(challenge), method="REGISTER", password=PASSWORD, now=1.0)
    guessed = answer(challenge, password="guess")
    result = authenticator.verify(guessed, method="REGISTER", password=PASSWORD, now=2.0)
    assert result is AuthResult.BAD_RESPONSE


def test_a_nonce_is_good_only_with_the_binding_it_was_issued_for() -> None:
    authenticator = make_authenticator()
    here = "UDP 10.1.2.3 5060 call-1"
    challenge = authenticator.challenge(0.0, binding=here)
    credentials = answer(challenge)
    for elsewhere in ("UDP 10.1.2.3 5061 call-1", "UDP 10.9.9.9 5060 call-1",
                      "TCP 10.1.2.3 5060 call-1", "UDP 10.1.2.3 5060 call-2", ""):  # fmt: skip
        result = authenticator.verify(
            credentials, method="REGISTER", password=PASSWORD, now=1.0, binding=elsewhere
        )
        assert result is AuthResult.UNKNOWN_NONCE, elsewhere
    result = authenticator.verify(
        credentials, method="REGISTER", password=PASSWORD, now=1.0, binding=here
    )
    assert result is AuthResult.OK


def test_nonce_binding_is_part_of_the_mac() -> None:
    issuer = NonceIssuer(SECRET)
    nonce = issuer.issue(10.0, "a")
    assert issuer.check(nonce, 10.0, "a") is NonceState.VALID
    assert issuer.check(nonce, 10.0, "b") is NonceState.INVALID
    assert issuer.check(nonce, 10.0) is NonceState.INVALID
    assert issuer.issue(10.0, "a") != nonce  # the sequence still makes each one unique


def test_answer_without_qop_accepted_even_when_qop_was_offered() -> None:
    authenticator = make_authenticator(offer_qop=True)
    challenge = authenticator.challenge(0.0)
    credentials = answer(replace(challenge, qop=()))  # device ignored the qop offer
    assert credentials.qop is None
    assert authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=1.0).is_ok


def test_realm_is_trimmed_and_compared() -> None:
    authenticator = make_authenticator()
    challenge = authenticator.challenge(0.0)
    padded = answer(replace(challenge, realm=f" {REALM} "))  # device hashed the padded realm
    assert authenticator.verify(padded, method="REGISTER", password=PASSWORD, now=1.0).is_ok
    trimmed_hash = replace(answer(challenge, nc=2), realm=f"{REALM} ")  # hashed trimmed
    assert authenticator.verify(trimmed_hash, method="REGISTER", password=PASSWORD, now=1.0).is_ok
    other = answer(replace(challenge, realm="3402000001"))
    result = authenticator.verify(other, method="REGISTER", password=PASSWORD, now=1.0)
    assert result is AuthResult.REALM_MISMATCH


def test_unsupported_algorithm_and_qop() -> None:
    authenticator = make_authenticator()
    credentials = answer(authenticator.challenge(0.0))
    sha512 = replace(credentials, algorithm="SHA-512-256")
    assert (
        authenticator.verify(sha512, method="REGISTER", password=PASSWORD, now=1.0)
        is AuthResult.UNSUPPORTED_ALGORITHM
    )
    auth_int = replace(credentials, qop="auth-int")
    assert (
        authenticator.verify(auth_int, method="REGISTER", password=PASSWORD, now=1.0)
        is AuthResult.UNSUPPORTED_QOP
    )


def test_the_gb_document_exchange_verifies_against_our_own_nonce() -> None:
    """§11.1 with our nonce in place of the example one, hashed by an independent formula."""
    import hashlib

    authenticator = make_authenticator(offer_qop=False)
    nonce = authenticator.challenge(0.0).nonce

    def md5(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    response = md5(f"{md5(f'{USER}:{REALM}:{PASSWORD}')}:{nonce}:{md5(f'REGISTER:{URI}')}")
    header = (
        f'Digest username="{USER}", realm="{REALM}", nonce="{nonce}", uri="{URI}", '
        f'response="{response}", algorithm=MD5'
    )
    credentials = DigestCredentials.parse(header)
    assert authenticator.verify(credentials, method="REGISTER", password=PASSWORD, now=5.0).is_ok
