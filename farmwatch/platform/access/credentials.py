"""Secrets handed to clients — session IDs, CSRF tokens, API tokens — and how they are kept.

Each secret is 256 random bits from the OS (`secrets`), URL-safe base64. The database keeps
only SHA-256 of session IDs and API tokens: unsalted is enough for 256-bit random values (no
dictionary to try), and it lets a lookup be one indexed equality. API tokens start with
`fwt_` so a leaked one is easy to recognise and to search for in logs and repositories.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

__all__ = ["API_TOKEN_PREFIX", "new_api_token", "new_secret", "same_secret", "secret_digest"]

SECRET_BYTES = 32
API_TOKEN_PREFIX = "fwt_"


def new_secret() -> str:
    """256 random bits, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(SECRET_BYTES)


def new_api_token() -> str:
    return API_TOKEN_PREFIX + new_secret()


def secret_digest(secret: str) -> str:
    """What the database keeps of a session ID or an API token (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (CSRF tokens)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))
