"""The web server over HTTPS from `[web] tls_cert` and `tls_key`: the login's cookie is then
Secure, plain HTTP is not answered, and a missing key file stops start-up naming the
settings."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.test_startup_errors import serve, the_line
from tests.peers.server_process import ADMIN, ADMIN_PASSWORD, start_server, stop_server


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "farmwatch test")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_over_https_the_session_cookie_is_secure(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    env = {"FARMWATCH_WEB_TLS_CERT": str(cert), "FARMWATCH_WEB_TLS_KEY": str(key)}
    server = await asyncio.to_thread(start_server, tmp_path, env)
    try:
        assert server.base_url.startswith("https://")
        unchecked = ssl.create_default_context(cafile=str(cert))
        unchecked.check_hostname = False  # the certificate names no host
        async with aiohttp.ClientSession() as http:
            body = {"username": ADMIN, "password": ADMIN_PASSWORD}
            async with http.post(f"{server.base_url}/api/login", json=body, ssl=unchecked) as r:
                assert r.status == 200
                cookie = SimpleCookie(r.headers["Set-Cookie"])["farmwatch_session"]
            assert cookie["secure"] is True and cookie["httponly"] is True
            async with http.get(
                f"{server.base_url}/api/devices", headers=server.auth_headers, ssl=unchecked
            ) as response:
                assert response.status == 200
            plain = f"http://127.0.0.1:{server.web_port}/healthz"
            try:
                async with http.get(plain) as response:
                    assert response.status == 400  # aiohttp answers a TLS port's stranger 400
            except aiohttp.ClientError:
                pass  # or closes the connection
    finally:
        await asyncio.to_thread(stop_server, server)


def test_a_missing_key_file_stops_start_up_naming_the_settings(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    missing = tmp_path / "no-such-key.pem"
    code, stderr = serve(tmp_path, web_tls_cert=str(cert), web_tls_key=str(missing))
    line = the_line(stderr)
    assert code == 1
    assert line == (
        f"farmwatch: cannot load the TLS certificate {cert} and key {missing} "
        "([web] tls_cert, tls_key): no such file or directory"
    ), line


def test_a_certificate_without_a_key_is_a_configuration_error(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path)
    code, stderr = serve(tmp_path, web_tls_cert=str(cert))
    assert code == 2
    assert "web.tls_cert, web.tls_key: give both" in stderr
