"""Security primitives of the web app: secret tokens, password hashes, CSRF tokens, headers.

Rules:
- every secret handed to a browser or a partner system (session cookie, magic link, API key) is a
  random token whose SHA-256 hash alone is stored;
- admin passwords are hashed with scrypt (N=2**14, r=8, p=5 — one of OWASP's equivalent minimum
  settings, at 16 MiB of memory) and a random salt, compared in constant time; a hash made with
  weaker settings is upgraded at the next successful login (``needs_rehash``); checking a password
  for an unknown address costs the same one scrypt run (``DUMMY_HASH``);
- a CSRF token is an HMAC of the caller's session (or of an anonymous pre-session cookie) under the
  app's secret key: forms carry it, and a POST without the matching token is refused;
- every response carries a strict set of security headers (no framing, no sniffing, a CSP that
  allows only our own scripts and styles).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadbridge.ops.redact import redact_path

log = logging.getLogger("leadbridge.web")

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
# A hash of a random password nobody knows, made with the settings above: verifying against it costs
# what verifying a real admin's password costs, so unknown addresses answer just as fast.
DUMMY_HASH = (
    "scrypt$16384$8$5$l9lfqRn62u/j52wT6CRSiQ==$kwIKgjivqHw3UO4yPrhkN7Eulw0L0D6rDVhwBsNYdCKcRvLM6uizNKhTDyMJ0"
    "hhacmpprUvWHeuk46RnzmX80Q=="
)


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


def needs_rehash(stored: str) -> bool:
    """Whether ``stored`` was made with weaker scrypt settings than today's."""
    try:
        _, n, r, p, _, _ = stored.split("$")
        return (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P) or int(n) * int(
            p
        ) < SCRYPT_N * SCRYPT_P
    except ValueError:
        return True


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


INTERNAL_ERROR_HTML = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Error 500</title>"
    b"<h1>Something went wrong</h1><p>The error was logged. Please try again later.</p></html>"
)


class SecurityHeadersMiddleware:
    """Adds ``SECURITY_HEADERS`` (and HSTS when served over https) to every HTTP response.

    It also turns an unhandled exception into the 500 answer itself (JSON on ``/api``, a plain page
    elsewhere) so that page carries the headers too — Starlette's own 500 is produced outside every
    middleware. The exception is logged with its traceback; no traceback reaches the client.
    """

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if https:
            self.headers.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), redact_path(scope.get("path", "")))
            if started:
                raise
            if scope.get("path", "").startswith("/api/"):
                body, kind = b'{"detail":"internal error","error":"internal"}', b"application/json"
            else:
                body, kind = INTERNAL_ERROR_HTML, b"text/html; charset=utf-8"
            headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode())]
            await send_with_headers({"type": "http.response.start", "status": 500, "headers": headers})
            await send_with_headers({"type": "http.response.body", "body": body})
