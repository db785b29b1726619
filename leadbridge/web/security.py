"""Security primitives of the web app: secret tokens, password hashes, CSRF tokens, headers.

Rules:
- every secret handed to a browser or a partner system (session cookie, magic link, API key) is a
  random token whose SHA-256 hash alone is stored;
- admin passwords are hashed with scrypt (n=2**14, r=8, p=1) and a random salt, compared in
  constant time;
- a CSRF token is an HMAC of the caller's session (or of an anonymous pre-session cookie) under the
  app's secret key: forms carry it, and a POST without the matching token is refused;
- every response carries a strict set of security headers (no framing, no sniffing, a CSP that
  allows only our own scripts and styles).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def new_token(prefix: str = "") -> str:
    """A fresh random token (256 bits), optionally prefixed so people can tell keys apart."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p))
    return hmac.compare_digest(candidate, base64.b64decode(digest))


def csrf_token(secret_key: str, binding: str) -> str:
    """The CSRF token for a session (or anonymous cookie) ``binding``."""
    return hmac.new(secret_key.encode(), f"csrf:{binding}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, binding: str | None, submitted: str | None) -> bool:
    if not binding or not submitted:
        return False
    # Bytes, not str: compare_digest refuses non-ASCII strings (a 500 for a forged field).
    return hmac.compare_digest(csrf_token(secret_key, binding).encode(), submitted.encode("utf-8", "replace"))


SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "geolocation=(), camera=(), microphone=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` (and HSTS when served over https) to every HTTP response."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
